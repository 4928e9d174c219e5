//! A known secret goes through every command and failure mode; it must not
//! appear in any output, in any form the runner could have produced.

use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::harness::specs::Spec;
use crate::harness::{Cmd, Run, Server, Workspace};

const SECRET: &str = "s3cr3t-Token_Value/with+chars=";
const USER: &str = "api-user-name";
const PASS: &str = "pa55word-Value";

/// Echoes the request back (headers and URL), as some APIs do on errors.
struct Echo(u16);

impl Respond for Echo {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let headers: serde_json::Map<String, serde_json::Value> = r
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        ResponseTemplate::new(self.0).set_body_json(json!({
            "message": format!("you sent {} with {:?}", r.url, headers),
            "url": r.url.to_string(),
            "headers": headers,
        }))
    }
}

/// One GET.
/// The secrets, placed in a header, in a Basic header and in the query.
const AUTH: &str = r#"      - {name: Authorization, in: header, value: "Bearer {{ env.API_TOKEN }}"}
      - {name: X-Basic, in: header, value: "Basic {{ (env.API_USER ~ ':' ~ env.API_PASS) | b64encode }}"}
      - {name: token, in: query, value: "{{ env.API_TOKEN }}"}
"#;

const ACTIONS: &str = include_str!("fixtures/catalogs/secrets.yaml");

fn spec(base: &str, steps: &str) -> String {
    Spec::app("api", base)
        .actions(ACTIONS)
        .auth("api", AUTH)
        .then(steps)
        .build()
}

fn assert_clean(out: &Run) {
    use base64::Engine as _;
    let all = out.all();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
    let encoded = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect::<String>();
    for needle in [
        SECRET,
        PASS,
        basic.as_str(),
        encoded.as_str(),
        "s3cr3t-Token",
    ] {
        assert!(!all.contains(needle), "`{needle}` leaked:\n{out:?}");
    }
    assert!(!all.contains("panicked"), "{out:?}");
}

/// `cmd` with the secrets in its environment.
fn with_secrets(cmd: Cmd) -> Cmd {
    cmd.env("API_TOKEN", SECRET)
        .env("API_USER", USER)
        .env("API_PASS", PASS)
}

/// `GET /things/1` echoed back with `status`.
async fn server(status: u16) -> Server {
    Server::answering("GET /things/1", Echo(status)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_success_and_failure_in_text_and_json() {
    for status in [200, 403] {
        let srv = server(status).await;
        let ws = Workspace::new().file(
            "s.yaml",
            &spec(
                &srv.uri(),
                "steps:\n  - {id: one, action: GET_THING, params: {id: '1'}}\n",
            ),
        );
        for output in ["text", "json"] {
            let out = with_secrets(ws.runner(["apply", "s.yaml", "--output", output]))
                .await
                .code(if status == 200 { 0 } else { 1 });
            // The echoed request shows in the JSON response and in the error text.
            if output == "json" || status != 200 {
                assert!(out.all().contains("***"), "{out:?}");
            }
            assert_clean(&out);
        }
        // The server really did get the secret: the masking is in the output only.
        let reqs = srv.received().await;
        assert!(
            reqs[0]
                .url
                .query()
                .unwrap_or_default()
                .contains("s3cr3t-Token")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_validate() {
    let ws = Workspace::new().file(
        "s.yaml",
        &spec(
            "https://api.example.com",
            "steps:\n  - {action: GET_THING, params: {id: '1'}}\n",
        ),
    );
    for args in [
        vec!["plan", "s.yaml"],
        vec!["plan", "s.yaml", "--output", "json"],
        vec!["validate", "s.yaml"],
    ] {
        let out = with_secrets(ws.runner(&args)).run().code(0);
        assert_clean(&out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transport_errors_and_spec_errors() {
    // Nothing listens on this port (the server is dropped): connection refused.
    let dead = {
        let s = Server::start().await;
        s.uri()
    };
    let ws = Workspace::new()
        .file(
            "s.yaml",
            &spec(
                &dead,
                "steps:\n  - {action: GET_THING, params: {id: '1'}}\n",
            ),
        )
        .file(
            "bad.yaml",
            &spec(
                &dead,
                "steps:\n  - {action: GET_THING, params: {id: '{{ env.API_TOKEN }}', nope: 1}}\n",
            ),
        )
        .file(
            "crlf.yaml",
            &spec(
                &dead,
                "steps:\n  - {action: GET_THING, params: {id: '1'}}\n",
            )
            .replace(
                "Bearer {{ env.API_TOKEN }}",
                "Bearer {{ env.API_TOKEN }}\\r\\nX: 1",
            ),
        );
    for (args, code) in [
        (vec!["apply", "s.yaml"], 1),
        (vec!["apply", "s.yaml", "--output", "json"], 1),
        (vec!["apply", "bad.yaml"], 2),
        (vec!["apply", "crlf.yaml"], 2),
        (vec!["apply", "crlf.yaml", "--output", "json"], 2),
    ] {
        let out = with_secrets(ws.runner(&args))
            .await
            .code_for(code, format_args!("{args:?}"));
        assert_clean(&out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_from_env_files_and_step_outputs() {
    let srv = server(200).await;
    let steps = "steps:\n  - {id: one, action: GET_THING, params: {id: '1'}}\n  - {action: GET_THING, params: {id: '{{ steps.one.response.url }}'}}\n";
    let ws = Workspace::new()
        .env_file(
            ".env",
            &[
                ("API_TOKEN", SECRET),
                ("API_USER", USER),
                ("API_PASS", PASS),
            ],
        )
        .file("s.yaml", &spec(&srv.uri(), steps));
    let out = ws
        .runner(["apply", "s.yaml", "--output", "json"])
        .await
        .code(1);
    assert_clean(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn short_and_multiline_secrets() {
    let srv = Server::answering("GET", Echo(200)).await;
    let ws = Workspace::new().file(
        "s.yaml",
        &format!(
            r#"version: 1
apps:
  api:
    base_url: {}
    actions:
      GET_THING: {{method: GET, path: /things}}
auth:
  api:
    parameters:
      - {{name: X-Short, in: header, value: "{{{{ env.SHORT }}}}"}}
      - {{name: X-Cert, in: query, value: "{{{{ env.CERT }}}}"}}
steps:
  - action: GET_THING
"#,
            srv.uri()
        ),
    );
    let out = ws
        .runner(["apply", "s.yaml", "--output", "json", "--no-journal"])
        .env("SHORT", "ab")
        .env("CERT", "first-line-SECRET\nsecond-line-SECRET")
        .await
        .code(0)
        .stderr_has("a secret value is shorter than 4 characters and cannot be masked");
    for needle in [
        "first-line-SECRET",
        "second-line-SECRET",
        "first-line-SECRET%0Asecond",
    ] {
        assert!(!out.all().contains(needle), "`{needle}` leaked:\n{out:?}");
    }
}
