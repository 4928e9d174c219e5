//! Catalogs at the scale of real APIs: `runner import openapi` (the command
//! around the importer, whose rules `src/import` tests), `runner actions`
//! and `runner describe`, and steps whose `url:` comes from a response,
//! with the app's auth sent only to the app's own origin.

use serde_json::{Value, json};

use crate::harness::specs::Spec;
use crate::harness::{RequestExt, Server, Workspace, json_reply};

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/openapi/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn import_writes_a_catalog_that_validates_and_is_the_same_every_time() {
    let ws = Workspace::new();
    for source in [
        "names.yaml",
        "bodies.yaml",
        "refs.json",
        "security.yaml",
        "openapi-3.1.yaml",
    ] {
        ws.runner([
            "import",
            "openapi",
            &fixture(source),
            "--app",
            "demo",
            "-o",
            "demo.yaml",
        ])
        .run()
        .code_for(0, format_args!("{source}"));
        let first = ws.read("demo.yaml");
        ws.runner(["validate", "demo.yaml"])
            .run()
            .code_for(0, format_args!("{source} does not validate:\n{first}\n"));
        // To stdout too, byte for byte the same.
        let again = ws
            .runner(["import", "openapi", &fixture(source), "--app", "demo"])
            .run()
            .code(0);
        assert_eq!(again.stdout, first, "{source}");
    }
}

#[test]
fn import_filters_by_tag_and_operation_and_refuses_swagger_2() {
    let ws = Workspace::new();
    let github = fixture("github-subset.json");
    let import = |operations: &[&str]| {
        let picked = operations.iter().flat_map(|o| ["--operation", o]);
        ws.runner(["import", "openapi", &github, "--app", "github"])
            .args(picked)
            .run()
    };
    let out = import(&["issues/create", "repos/get-content"])
        .code(0)
        .stdout_has("GITHUB_ISSUES_CREATE:");
    assert!(
        out.stdout
            .contains("/repos/{owner}/{repo}/contents/{+path}")
    );
    assert_eq!(out.stdout.matches("method:").count(), 2);
    import(&["issues/craete"])
        .code(2)
        .stderr_has("issues/create");
    let out = ws
        .runner([
            "import",
            "openapi",
            &fixture("swagger2.json"),
            "--app",
            "old",
        ])
        .run()
        .code(2)
        .stderr_has("Swagger 2.0");
    assert!(out.stdout.is_empty());
}

#[test]
fn import_takes_aliases_and_keywords_from_another_catalog_and_writes_docs() {
    let ws = Workspace::new();
    let curated = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/apps/github.yaml");
    let out = ws
        .runner(["import", "openapi", &fixture("github-subset.json")])
        .args(["--app", "github", "--aliases-from", curated])
        .args([
            "--operation",
            "issues/create-comment",
            "--operation",
            "meta/root",
        ])
        .run()
        .code(0)
        .stdout_has(
            "      GITHUB_ISSUES_CREATE_COMMENT:
        description: Create an issue comment
        aliases: [GITHUB_CREATE_ISSUE_COMMENT]
        keywords: [pull request]
        docs: https://docs.github.com/rest/issues/comments#create-an-issue-comment
        method: POST
",
        );
    // What the curated catalog does not have keeps its docs alone.
    let root = &out.stdout[out.stdout.find("GITHUB_META_ROOT:").expect("meta/root")..];
    assert!(
        root.starts_with("GITHUB_META_ROOT:\n        description: GitHub API Root\n        docs: https://docs.github.com/rest/meta/meta#github-api-root\n        method: GET\n"),
        "{root}"
    );
    ws.runner(["import", "openapi", &fixture("github-subset.json")])
        .args(["--app", "github", "--aliases-from", "nowhere.yaml"])
        .run()
        .code(2)
        .stderr_has("nowhere.yaml");
}

/// A catalog of two apps, and a workflow that gives one of them auth.
fn workspace() -> Workspace {
    Workspace::new()
        .file(
            "specs/apps/pets.yaml",
            r#"version: 1
apps:
  pets:
    base_url: https://pets.example
    actions:
      PETS_LIST:
        description: List the pets
        method: GET
        path: /pets
        params:
          limit: {type: integer, default: 20, description: how many}
          kind: {type: string, enum: [cat, dog]}
      PETS_ADOPT:
        description: |-
          Adopt a pet
          (a second line that lists do not show)
        method: POST
        path: /pets/{id}/adoptions
        params:
          id: {type: integer, required: true}
          note: {type: string}
  shop:
    base_url: https://shop.example
    actions:
      SHOP_ORDER: {method: POST, path: /orders, description: Place an order}
"#,
        )
        .file(
            "specs/adopt.yaml",
            r#"version: 1
include: [apps/pets.yaml]
auth:
  pets:
    parameters:
      - {name: X-Api-Key, in: header, value: "{{ env.PETS_KEY }}"}
steps:
  - {id: adopt, action: PETS_ADOPT, params: {id: 1}}
"#,
        )
}

#[test]
fn actions_lists_filters_and_speaks_json() {
    let ws = workspace();
    let out =
        ws.runner(["actions"]).run().code(0).stdout_has(
            "PETS_ADOPT  POST /pets/{id}/adoptions  specs/apps/pets.yaml  Adopt a pet\n",
        );
    assert!(!out.stdout.contains("second line"));
    assert!(out.stdout.ends_with("3 actions\n"), "{out:?}");
    let out = ws
        .runner(["actions", "--app", "pets", "--query", "LIST the"])
        .run()
        .code(0);
    assert!(out.stdout.starts_with("PETS_LIST"), "{out:?}");
    let out = ws
        .runner(["actions", "--app", "pets", "--query", "adopted pets"])
        .run()
        .code(0);
    assert!(out.stdout.ends_with("1 action\n"), "{out:?}");
    let out = ws
        .runner([
            "actions",
            "specs/apps/pets.yaml",
            "--query",
            "order",
            "--output",
            "json",
        ])
        .run();
    assert_eq!(
        out.json(),
        json!([{
            "name": "SHOP_ORDER",
            "aliases": [],
            "app": "shop",
            "method": "POST",
            "path": "/orders",
            "description": "Place an order",
            "docs": null,
            "specs": ["specs/apps/pets.yaml"]
        }])
    );
    ws.runner(["actions", "--app", "pet"])
        .run()
        .code(2)
        .stderr_has("did you mean `pets`?");
}

#[test]
fn describe_gives_params_auth_and_a_tool_definition() {
    let ws = workspace();
    let out = ws.runner(["describe", "PETS_LIST"]).run().code(0);
    let text = crate::harness::squash(&out.stdout);
    assert!(
        text.contains("limit integer optional in query default 20; how many"),
        "{text}"
    );
    assert!(
        text.contains("kind string optional in query one of \"cat\", \"dog\""),
        "{text}"
    );
    assert!(text.contains("X-Api-Key in header"), "{text}");
    let out = ws
        .runner(["describe", "PETS_ADOPT", "--output", "json"])
        .run();
    let doc = out.json();
    assert_eq!(doc["name"], json!("PETS_ADOPT"));
    assert_eq!(doc["method"], json!("POST"));
    assert_eq!(
        doc["parameters"],
        json!({
            "type": "object",
            "properties": {"id": {"type": "integer"}, "note": {"type": "string"}},
            "required": ["id"]
        })
    );
    let enums = ws
        .runner(["describe", "PETS_LIST", "--output", "json"])
        .run()
        .json();
    assert_eq!(
        enums["parameters"]["properties"]["kind"]["enum"],
        json!(["cat", "dog"])
    );
    assert_eq!(enums["parameters"]["required"], json!([]));
    ws.runner(["describe", "PETS_LSIT"])
        .run()
        .code(2)
        .stderr_has("did you mean `PETS_LIST`?");
}

/// Ask for an upload URL, then upload to it.
const UPLOAD_STEPS: &str = r#"  - id: start
    action: START
  - id: put
    action: UPLOAD
    url: "{{ steps.start.response.upload_url }}"
    params: {name: report.csv}
"#;

/// Asking for an upload URL, and uploading to it.
const UPLOAD_ACTIONS: &str = include_str!("fixtures/catalogs/upload-url.yaml");

/// A step that uploads to the URL an earlier response gave.
fn upload_spec(api: &str, explicit_auth: bool) -> String {
    let auth = if explicit_auth {
        "    auth:\n      parameters:\n        - {name: Authorization, in: header, value: \"Bearer {{ env.UPLOAD_TOKEN }}\"}\n"
    } else {
        ""
    };
    Spec::app("files", api)
        .actions(UPLOAD_ACTIONS)
        .bearer("files", "API_TOKEN")
        .steps(UPLOAD_STEPS)
        .then(auth)
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_from_a_response_gets_the_apps_auth_only_on_its_origin() {
    let uploads = Server::answering("POST /u/42", json_reply(200, json!({"ok": true}))).await;
    for (same_origin, explicit) in [(true, false), (false, false), (false, true)] {
        let api = Server::start().await;
        let upload_url = if same_origin {
            format!("{}/u/42?sig=abc", api.uri())
        } else {
            format!("{}/u/42?sig=abc", uploads.uri())
        };
        api.reply(
            "POST /files.getUploadURL",
            json_reply(200, json!({"upload_url": upload_url})),
        )
        .await;
        api.reply("POST /u/42", json_reply(200, json!({"ok": true})))
            .await;
        uploads.reset().await;
        uploads
            .reply("POST /u/42", json_reply(200, json!({"ok": true})))
            .await;
        let ws = Workspace::main(&upload_spec(&api.uri(), explicit));
        ws.runner(["apply", "main.yaml", "--no-journal"])
            .env("API_TOKEN", "api-token-0001")
            .env("UPLOAD_TOKEN", "upload-token-02")
            .await
            .code(0);
        let target = if same_origin { &api } else { &uploads };
        let got = target.received().await;
        let put = got
            .iter()
            .find(|r| r.url.path() == "/u/42")
            .expect("the upload");
        assert_eq!(put.url.query(), Some("sig=abc"));
        assert_eq!(put.json(), json!({"name": "report.csv"}));
        let auth = put.header("authorization");
        match (same_origin, explicit) {
            (true, _) => assert_eq!(auth, Some("Bearer api-token-0001")),
            (false, false) => assert_eq!(auth, None, "the app's token left its origin"),
            (false, true) => assert_eq!(auth, Some("Bearer upload-token-02")),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_that_is_not_absolute_http_fails_its_step_and_plan_shows_the_template() {
    let api = Server::answering(
        "POST /files.getUploadURL",
        json_reply(200, json!({"upload_url": "ftp://elsewhere/x"})),
    )
    .await;
    let ws = Workspace::main(&upload_spec(&api.uri(), false));
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
        .env("API_TOKEN", "api-token-0001")
        .await
        .code(1);
    assert_eq!(out.step(1)["error_kind"], json!("render"));
    assert!(
        out.step_error(1)
            .contains("`url` must be an absolute http or https URL, found `ftp://elsewhere/x`"),
        "{out:?}"
    );
    assert_eq!(api.received().await.len(), 1);
    ws.runner(["plan", "main.yaml"])
        .env("API_TOKEN", "api-token-0001")
        .await
        .code(0)
        .stdout_has("POST {{ steps.start.response.upload_url }}");
    // A literal that is no URL is refused by `validate`.
    let ws = Workspace::main(&upload_spec(&api.uri(), false).replace(
        "\"{{ steps.start.response.upload_url }}\"",
        "/relative/path",
    ));
    ws.runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has("`url` must be an absolute http or https URL");
    let _: Value = json!(null);
}
