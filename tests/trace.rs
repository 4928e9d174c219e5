//! Seeing what happens: `-v` traces each request as sent and `-vv` each
//! response too, on stderr whatever the output format, credentials masked
//! and file contents never shown; network errors name the host and the URL.

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::harness::specs::{ITEMS_TOKEN, Spec, items_api};
use crate::harness::{Server, Workspace, json_reply};

/// A POST with a body, then a GET with a query, against the items API.
const STEPS: &str = "steps:
  - id: create
    action: CREATE
    params: {name: widget}
  - id: list
    action: LIST
";

/// `text` with what changes from run to run made fixed: the server's
/// port, the version in the user agent, and the `date` the server sent.
fn stable(text: &str, server: &Server) -> String {
    text.replace(&server.port().to_string(), "PORT")
        .replace(env!("CARGO_PKG_VERSION"), "VERSION")
        .lines()
        .filter(|l| !l.starts_with("< date: "))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn items_server() -> Server {
    Server::build()
        .reply(
            "POST /items",
            json_reply(201, json!({"id": 7, "name": "widget"}))
                .insert_header("x-request-id", "r-1"),
        )
        .reply("GET /items", json_reply(200, json!([{"id": 7}])))
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn vv_traces_requests_and_responses_with_the_token_masked() {
    let server = items_server().await;
    let ws = Workspace::main(&items_api(&server.uri(), STEPS));
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "-vv"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .sends(&server, 2)
        .await
        .stderr_lacks(ITEMS_TOKEN);
    insta::assert_snapshot!(stable(&out.stderr, &server));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_the_api_echoes_is_masked_in_the_traced_response() {
    let server = Server::answering(
        "GET /items",
        json_reply(200, json!({"seen": format!("Bearer {ITEMS_TOKEN}")}))
            .insert_header("x-echo", ITEMS_TOKEN),
    )
    .await;
    let ws = Workspace::main(&items_api(&server.uri(), "steps:\n  - action: LIST\n"));
    ws.runner(["apply", "main.yaml", "--no-journal", "-vv"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .sends(&server, 1)
        .await
        .stderr_has_all(&["< x-echo: ***", r#"< {"seen":"Bearer ***"}"#])
        .stderr_lacks(ITEMS_TOKEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn v_traces_requests_only_and_without_it_nothing_is_traced() {
    let server = items_server().await;
    let ws = Workspace::main(&items_api(&server.uri(), STEPS));
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "-v"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .sends(&server, 2)
        .await
        .stderr_has_all(&["> POST http://127.0.0.1:", "> {\"name\":\"widget\"}"])
        .stderr_lacks("< 201");
    assert_eq!(
        out.stderr.matches("\n> authorization: Bearer ***").count(),
        2,
        "{out:?}"
    );
    ws.runner(["apply", "main.yaml", "--no-journal"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .await
        .code(0)
        .stderr_lacks("> POST");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_json_output_the_trace_goes_to_stderr() {
    let server = items_server().await;
    let ws = Workspace::main(&items_api(&server.uri(), STEPS));
    let out = ws
        .runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "-vv",
            "--output",
            "json",
        ])
        .env("API_TOKEN", ITEMS_TOKEN)
        .sends(&server, 2)
        .await
        .stderr_has_all(&[
            "> POST",
            "< 201 Created",
            "< {\"id\":7,\"name\":\"widget\"}",
        ]);
    // Stdout is still one JSON document.
    assert_eq!(out.json()["ok"], json!(true), "{out:?}");
    assert!(!out.stdout.contains("> POST"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multipart_upload_is_traced_without_its_content() {
    let server = Server::answering("POST /upload", ResponseTemplate::new(200)).await;
    let spec = Spec::app("api", &server.uri())
        .no_retry()
        .actions(include_str!("fixtures/catalogs/uploads.yaml"))
        .steps("  - id: up\n    action: UPLOAD\n    params: {title: notes, file: notes.txt}\n")
        .build();
    let ws = Workspace::main(&spec).file("notes.txt", "the-file-content-never-shown\n");
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "-vv"])
        .sends(&server, 1)
        .await
        .stderr_has_all(&[
            "> content-type: multipart/form-data; boundary=",
            "> title: notes",
            "> file: @notes.txt (text/plain, 29 bytes)",
        ])
        .stderr_lacks("the-file-content-never-shown");
    // The server did receive the content.
    let body = String::from_utf8_lossy(&server.received().await[0].body).into_owned();
    assert!(body.contains("the-file-content-never-shown"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raw_file_body_is_traced_as_the_file() {
    let server = Server::answering("PUT /raw", ResponseTemplate::new(200)).await;
    let spec = Spec::app("api", &server.uri())
        .no_retry()
        .actions(include_str!("fixtures/catalogs/uploads.yaml"))
        .steps("  - id: put\n    action: PUT_FILE\n    params: {f: data.txt}\n")
        .build();
    let ws = Workspace::main(&spec).file("data.txt", "raw-content-never-shown");
    ws.runner(["apply", "main.yaml", "--no-journal", "-v"])
        .sends(&server, 1)
        .await
        .stderr_has("> @data.txt (text/plain, 23 bytes)")
        .stderr_lacks("raw-content-never-shown");
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_and_loop_items_are_traced_each_marked() {
    let server = Server::build()
        .reply_in_turn(
            "GET /items",
            vec![ResponseTemplate::new(503), json_reply(200, json!([]))],
        )
        .reply("POST /items", json_reply(201, json!({"id": 1})))
        .start()
        .await;
    let spec = Spec::app("api", &server.uri())
        .retry("{attempts: 2, backoff: 1ms}")
        .actions(include_str!("fixtures/catalogs/items.yaml"))
        .steps(
            "  - id: list\n    action: LIST\n  - id: each\n    for_each: [a, b]\n    action: CREATE\n    params: {name: \"{{ item }}\"}\n",
        )
        .build();
    let ws = Workspace::main(&spec);
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "-vv"])
        .sends(&server, 4)
        .await
        .stderr_has_all(&[
            "* steps[0] (list), try 1 of 2\n> GET",
            "< 503 Service Unavailable",
            "* steps[0] (list), try 2 of 2\n> GET",
            "< 200 OK",
            "> {\"name\":\"a\"}",
            "> {\"name\":\"b\"}",
        ]);
    for item in ["* steps[1] (each)[0]", "* steps[1] (each)[1]"] {
        assert!(out.stderr.contains(item), "no `{item}` in {out:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_redirect_followed_is_traced() {
    let server = Server::build()
        .reply(
            "GET /items",
            ResponseTemplate::new(302).insert_header("location", "/v2/items"),
        )
        .reply("GET /v2/items", json_reply(200, json!([])))
        .start()
        .await;
    let ws = Workspace::main(&items_api(&server.uri(), "steps:\n  - action: LIST\n"));
    ws.runner(["apply", "main.yaml", "--no-journal", "-vv"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .sends(&server, 2)
        .await
        .stderr_has_all(&[
            "* steps[0]\n> GET http://127.0.0.1:",
            "* steps[0]\n< 302 Found\n< location: /v2/items",
            "< (a redirect: its body is not read)",
            "* steps[0], redirect 1\n> GET http://127.0.0.1:",
            "/v2/items\n",
            "* steps[0], redirect 1\n< 200 OK",
        ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn response_bodies_are_cut_at_64_kib_saying_so() {
    let big = "x".repeat(70 * 1024);
    let server = Server::answering(
        "GET /items",
        ResponseTemplate::new(200).set_body_string(big.clone()),
    )
    .await;
    let ws = Workspace::main(&items_api(&server.uri(), "steps:\n  - action: LIST\n"));
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "-vv"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .sends(&server, 1)
        .await
        .stderr_has(&format!(
            "< (cut at 64 KiB; the body is {} bytes)",
            big.len()
        ));
    assert!(!out.stderr.contains(&big), "{out:?}");
    assert!(out.stderr.contains(&"x".repeat(64 * 1024)), "{out:?}");
}

// ---------------------------------------------------------- network errors

/// A port on 127.0.0.1 nothing listens on.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn a_connect_failure_names_the_host_and_the_url_with_its_token_masked() {
    let port = dead_port();
    let spec = Spec::app("api", &format!("http://127.0.0.1:{port}/v1"))
        .no_retry()
        .actions(include_str!("fixtures/catalogs/items.yaml"))
        .auth(
            "api",
            "      - {name: key, in: query, value: \"{{ env.API_TOKEN }}\"}\n",
        )
        .steps("  - action: LIST\n")
        .build();
    let ws = Workspace::main(&spec);
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .run()
        .code(1)
        .stderr_lacks(ITEMS_TOKEN);
    let e = out.step_error(0);
    assert!(
        e.starts_with(&format!("cannot connect to `127.0.0.1:{port}`: ")),
        "{e}"
    );
    assert!(
        e.ends_with(&format!(
            ", sending GET http://127.0.0.1:{port}/v1/items?key=***"
        )),
        "{e}"
    );
    assert!(!out.stdout.contains(ITEMS_TOKEN), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_next_page_that_cannot_be_reached_is_named() {
    let port = dead_port();
    let next = format!("http://127.0.0.1:{port}/items?page=2");
    let server = Server::answering(
        "GET /items",
        json_reply(200, json!([{"id": 1}]))
            .insert_header("link", format!("<{next}>; rel=\"next\"").as_str()),
    )
    .await;
    let spec = Spec::app("api", &server.uri())
        .no_retry()
        .actions(include_str!("fixtures/catalogs/items.yaml"))
        .steps("  - action: LIST\n    paginate: {next: link}\n")
        .build();
    let out = Workspace::main(&spec)
        .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
        .await
        .code(1);
    let e = out.step_error(0);
    assert!(
        e.contains(&format!("cannot connect to `127.0.0.1:{port}`"))
            && e.contains(&format!("sending GET {next}")),
        "{out:?}"
    );
}

// ------------------------------------------------------------------- plan

/// A release, then an asset uploaded to a URL built from vars, inputs and
/// the release's answer.
const RELEASE: &str = r#"version: 1
apps:
  gh:
    base_url: https://api.example.com
    actions:
      CREATE_RELEASE:
        method: POST
        path: /repos/{owner}/{repo}/releases
        params:
          owner: {type: string, in: path}
          repo: {type: string, in: path}
          tag_name: {type: string}
      UPLOAD_ASSET:
        method: POST
        path: /unused
        params:
          name: {type: string, in: query}
          label: {type: string}
auth:
  gh:
    parameters:
      - {name: Authorization, in: header, value: "Bearer {{ env.GITHUB_TOKEN }}"}
vars:
  uploads_base: https://uploads.example.com
inputs:
  owner: {type: string, default: octo}
steps:
  - id: create
    action: CREATE_RELEASE
    params: {owner: "{{ inputs.owner }}", repo: hello, tag_name: v1}
  - id: upload
    action: UPLOAD_ASSET
    url: "{{ vars.uploads_base }}/repos/{{ inputs.owner }}/hello/releases/{{ steps.create.response.id }}/assets"
    params:
      name: "{{ inputs.owner | upper }}-{{ steps.create.response.tag_name }}.zip"
      label: "{{ env.GITHUB_TOKEN }} {% if inputs.owner %}for {{ inputs.owner }}{% endif %} {{ steps.create.response.id }}"
"#;

#[test]
fn plan_fills_in_what_is_known_inside_a_partly_deferred_template() {
    let token = "ghp_planTokenNeverShown01";
    let ws = Workspace::main(RELEASE);
    let out = ws
        .runner([
            "plan",
            "main.yaml",
            "--var",
            "uploads_base=https://uploads.stand-in.example",
            "--input",
            "owner=mona",
        ])
        .env("GITHUB_TOKEN", token)
        .run()
        .code(0)
        .stdout_has(
            "POST https://uploads.stand-in.example/repos/mona/hello/releases/{{ steps.create.response.id }}/assets?name=MONA-{{ steps.create.response.tag_name }}.zip",
        );
    // A template with a block is shown as written; an env value is shown
    // by name, never by value (nor masked in place of a name).
    let label = "{{ env.GITHUB_TOKEN }} {% if inputs.owner %}for {{ inputs.owner }}{% endif %} {{ steps.create.response.id }}";
    assert!(out.stdout.contains(label), "{out:?}");
    assert!(!out.all().contains(token), "{out:?}");
    // JSON output shows the same URL.
    let json = ws
        .runner([
            "plan",
            "main.yaml",
            "--output",
            "json",
            "--input",
            "owner=mona",
        ])
        .env("GITHUB_TOKEN", token)
        .run()
        .code(0)
        .json();
    let url = json["steps"][1]["url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        url,
        "https://uploads.example.com/repos/mona/hello/releases/{{ steps.create.response.id }}/assets?name=MONA-{{ steps.create.response.tag_name }}.zip",
        "{json}"
    );
}

#[test]
fn plan_keeps_a_secret_inside_a_deferred_template_as_its_reference() {
    let token = "ghp_planTokenNeverShown01";
    let ws = Workspace::main(&RELEASE.replace(
        "label: \"{{ env.GITHUB_TOKEN }} {% if inputs.owner %}for {{ inputs.owner }}{% endif %} {{ steps.create.response.id }}\"",
        "label: \"{{ env.GITHUB_TOKEN | b64encode }}/{{ inputs.owner }}/{{ steps.create.response.id }}\"",
    ));
    let out = ws
        .runner(["plan", "main.yaml"])
        .env("GITHUB_TOKEN", token)
        .run()
        .code(0)
        .stdout_has("\"{{ env.GITHUB_TOKEN | b64encode }}/octo/{{ steps.create.response.id }}\"");
    assert!(!out.all().contains(token), "{out:?}");
}

#[test]
fn plan_fills_in_each_loop_item_of_a_known_list() {
    let spec = r#"version: 1
apps:
  api:
    base_url: https://api.example.com
    actions:
      CREATE: {method: POST, path: /items, params: {name: {type: string}}}
      TAG: {method: POST, path: "/items/{id}/tags", params: {id: {type: string, in: path}, tag: {type: string}}}
steps:
  - id: c
    action: CREATE
    params: {name: x}
  - id: t
    for_each: [red, blue]
    action: TAG
    params: {id: "{{ steps.c.response.id }}", tag: "{{ item | upper }}-{{ steps.c.response.name }}"}
"#;
    Workspace::main(spec)
        .runner(["plan", "main.yaml"])
        .run()
        .code(0)
        .stdout_has("POST https://api.example.com/items/{{ steps.c.response.id }}/tags")
        .stdout_has(r#""tag": "RED-{{ steps.c.response.name }}""#)
        .stdout_has(r#""tag": "BLUE-{{ steps.c.response.name }}""#);
}
