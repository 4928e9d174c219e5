//! Imported catalogs say what the API description says, and nothing it does
//! not: OpenAPI defaults are the server's (shown, never sent), bounds and
//! nested fields are checked before anything is sent, an operation served
//! from its own host goes there with the app's auth, and an answer can be
//! checked against the description's own schema.

use serde_json::{Value, json};

use crate::harness::{RequestExt, Server, Workspace, json_reply};

/// A workspace with `shelf.yaml`, imported from the fixture, and `main.yaml`:
/// that catalog, a bearer token from `SHELF_TOKEN`, and `steps`.
fn shelf(steps: &str) -> Workspace {
    let ws = Workspace::new();
    let source = format!(
        "{}/tests/fixtures/openapi/fidelity.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    ws.runner([
        "import",
        "openapi",
        &source,
        "--app",
        "shelf",
        "-o",
        "shelf.yaml",
    ])
    .run()
    .code(0);
    ws.write(
        "main.yaml",
        &format!(
            "version: 1\ninclude: [shelf.yaml]\nauth:\n  shelf:\n    parameters:\n      - {{name: Authorization, in: header, value: \"Bearer {{{{ env.SHELF_TOKEN }}}}\"}}\nsteps:\n{steps}"
        ),
    );
    ws
}

const TOKEN: &str = "shelf-token-0001";

#[test]
fn the_catalog_keeps_defaults_bounds_fields_servers_and_responses() {
    let ws = shelf("  []\n");
    let catalog = ws.read("shelf.yaml");
    for line in [
        "limit: {type: integer, in: query, server_default: 30, minimum: 1, maximum: 100}",
        "make_latest: {type: string, in: body, enum: [\"true\", \"false\", legacy], server_default: \"true\"}",
        "url: {type: string, required: true, description: The delivery URL.}",
        "port: {type: integer, minimum: 1, maximum: 65535}",
        "base_url: https://uploads.shelf.example",
        "response: {\"$ref\": \"#/schemas/Item\"}",
        "closed_at: {type: [string, \"null\"]}",
    ] {
        assert!(catalog.contains(line), "{line} not in:\n{catalog}");
    }
    assert!(
        !catalog.contains(", default:") && !catalog.contains(" default:"),
        "a default the runner would send:\n{catalog}"
    );
    let text = ws
        .runner(["describe", "SHELF_UPDATE_ITEM", "shelf.yaml"])
        .run()
        .code(0)
        .stdout;
    for needle in [
        "server default \"true\"",
        "config.url",
        "required           The delivery URL.",
        "config.port",
        "1 to 65535",
        "1 to 20 characters, matching `^[a-z0-9-]+$`",
        "tags[]",
        "at most 3 items",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
    let tool: Value = serde_json::from_str(
        &ws.runner([
            "describe",
            "SHELF_UPDATE_ITEM",
            "shelf.yaml",
            "--output",
            "json",
        ])
        .run()
        .code(0)
        .stdout,
    )
    .unwrap();
    let config = &tool["parameters"]["properties"]["config"];
    assert_eq!(config["required"], json!(["url"]));
    assert_eq!(config["properties"]["port"]["maximum"], json!(65535));
    assert_eq!(
        tool["parameters"]["properties"]["tags"],
        json!({"type": "array", "maxItems": 3, "items": {"type": "string", "minLength": 1}})
    );
    assert_eq!(
        tool["parameters"]["properties"]["make_latest"]["default"],
        json!("true")
    );
    let list = ws
        .runner(["describe", "SHELF_UPLOAD_ASSET", "shelf.yaml"])
        .run()
        .code(0);
    assert!(
        list.stdout
            .contains("POST https://uploads.shelf.example/items/{id}/assets"),
        "{}",
        list.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_defaults_are_never_sent() {
    let api = Server::build()
        .reply("GET /items", json_reply(200, json!([])))
        .reply(
            "PATCH /items/7",
            json_reply(200, json!({"id": 7, "name": "x"})),
        )
        .start()
        .await;
    let ws = shelf(
        "  - {id: list, action: SHELF_LIST_ITEMS}\n  - {id: rename, action: SHELF_UPDATE_ITEM, params: {id: 7, name: x}}\n",
    );
    ws.runner(["apply", "main.yaml", "--no-journal", "--base-url"])
        .arg(format!("shelf={}", api.uri()))
        .env("SHELF_TOKEN", TOKEN)
        .await
        .code(0);
    let got = api.received().await;
    assert_eq!(
        got[0].url.query(),
        None,
        "GET sent defaults: {:?}",
        got[0].url
    );
    assert_eq!(got[1].json(), json!({"name": "x"}), "PATCH sent defaults");
}

#[tokio::test(flavor = "multi_thread")]
async fn bounds_and_fields_are_checked_before_anything_is_sent() {
    let api = Server::start().await;
    // Literals: `validate` refuses them, and `apply` sends nothing.
    for (params, message) in [
        ("{limit: 150}", "expected at most 100, found 150"),
        ("{limit: 0}", "expected at least 1, found 0"),
        (
            "{state: all}",
            "expected one of `open`, `closed`, found a string `\"all\"`",
        ),
    ] {
        let ws = shelf(&format!(
            "  - {{action: SHELF_LIST_ITEMS, params: {params}}}\n"
        ));
        ws.runner(["validate", "main.yaml"])
            .run()
            .code(2)
            .stderr_has(message);
    }
    for (params, message) in [
        (
            "{id: 1, config: {content_type: json}}",
            "param `config`: missing required field `url`",
        ),
        (
            "{id: 1, config: {url: u, port: 70000}}",
            "param `config`: field `port`: expected at most 65535, found 70000",
        ),
        (
            "{id: 1, config: {url: u, content_type: xml}}",
            "field `content_type`: expected one of `json`, `form`",
        ),
        (
            "{id: 1, tags: [a, b, c, d]}",
            "param `tags`: expected at most 3 items, found 4 items",
        ),
        (
            "{id: 1, tags: [a, \"\"]}",
            "param `tags`: item 1: expected at least 1 character",
        ),
        (
            "{id: 1, name: Big}",
            "expected a string matching `^[a-z0-9-]+$`, found a string `\"Big\"`",
        ),
    ] {
        let ws = shelf(&format!(
            "  - {{id: u, action: SHELF_UPDATE_ITEM, params: {params}}}\n"
        ));
        ws.runner(["validate", "main.yaml"])
            .run()
            .code(2)
            .stderr_has(message);
        ws.runner(["apply", "main.yaml", "--no-journal", "--base-url"])
            .arg(format!("shelf={}", api.uri()))
            .env("SHELF_TOKEN", TOKEN)
            .await
            .code(2);
    }
    // A value known only at run time is checked when rendered: the step
    // fails and nothing is sent.
    let ws = shelf(
        "  - {id: u, action: SHELF_UPDATE_ITEM, params: {id: 1, config: {url: u, port: \"{{ inputs.port }}\"}}}\ninputs:\n  port: {type: integer}\n",
    );
    let out = ws
        .runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "--input",
            "port=0",
            "--base-url",
        ])
        .arg(format!("shelf={}", api.uri()))
        .env("SHELF_TOKEN", TOKEN)
        .await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.all()
            .contains("field `port`: expected at least 1, found 0"),
        "{out:?}"
    );
    assert!(api.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operations_own_server_gets_the_apps_auth_and_its_own_override() {
    let api = Server::start().await;
    let uploads = Server::answering("POST /items/7/assets", json_reply(201, json!({}))).await;
    let ws = shelf("  - {id: up, action: SHELF_UPLOAD_ASSET, params: {id: 7, label: a}}\n");
    // `--base-url shelf=…` moves the app, not an action's own server.
    ws.runner(["plan", "main.yaml", "--base-url"])
        .arg(format!("shelf={}", api.uri()))
        .env("SHELF_TOKEN", TOKEN)
        .await
        .code(0)
        .stdout_has("POST https://uploads.shelf.example/items/7/assets");
    ws.runner(["apply", "main.yaml", "--no-journal", "--base-url"])
        .arg(format!("https://uploads.shelf.example={}", uploads.uri()))
        .env("SHELF_TOKEN", TOKEN)
        .await
        .code(0);
    let got = uploads.received().await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("authorization"),
        Some("Bearer shelf-token-0001")
    );
    assert_eq!(got[0].json(), json!({"label": "a"}));
    assert!(api.received().await.is_empty());
    // An origin the spec does not have is a usage error, naming those it has.
    ws.runner([
        "plan",
        "main.yaml",
        "--base-url",
        "https://elsewhere.example=http://127.0.0.1:9",
    ])
    .env("SHELF_TOKEN", TOKEN)
    .await
    .code(2)
    .stderr_has("`https://api.shelf.example`, `https://uploads.shelf.example`");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_is_checked_against_the_descriptions_own_schema() {
    let api = Server::build()
        .reply(
            "PATCH /items/1",
            json_reply(
                200,
                json!({"id": 1, "name": "a", "owner": {"login": "o"}, "closed_at": null}),
            ),
        )
        .reply(
            "PATCH /items/2",
            json_reply(200, json!({"id": "2", "name": "b"})),
        )
        .reply(
            "PATCH /items/3",
            json_reply(200, json!({"id": 3, "name": "c", "owner": {}})),
        )
        .start()
        .await;
    let step = |id: u32| {
        format!(
            "  - {{id: s{id}, action: SHELF_UPDATE_ITEM, params: {{id: {id}}}, expect: {{schema: response}}}}\n"
        )
    };
    let apply = |ws: &Workspace| {
        ws.runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "--output",
            "json",
            "--base-url",
        ])
        .arg(format!("shelf={}", api.uri()))
        .env("SHELF_TOKEN", TOKEN)
    };
    apply(&shelf(&step(1))).await.code(0);
    for (id, why) in [
        (2, "\"2\" is not of type \"integer\""),
        (3, "\"login\" is a required property"),
    ] {
        let out = apply(&shelf(&step(id))).await.code(1);
        assert_eq!(out.step(0)["error_kind"], json!("assertion"), "{out:?}");
        assert!(out.step_error(0).contains(why), "{out:?}");
    }
    // An action without a response schema says so.
    shelf(
        "  - {id: up, action: SHELF_UPLOAD_ASSET, params: {id: 7}, expect: {schema: response}}\n",
    )
    .runner(["validate", "main.yaml"])
    .run()
    .code(2)
    .stderr_has("action `SHELF_UPLOAD_ASSET` has no `response` schema");
}
