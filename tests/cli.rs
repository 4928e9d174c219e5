//! `plan` and `validate`: what they print, that they send nothing and need
//! no secret, and the exit codes of the command line.

use serde_json::json;

use crate::harness::{Server, Workspace};

/// An issue and a comment on it, GitHub at `BASE`.
const SPEC: &str = include_str!("fixtures/specs/issue-and-comment.yaml");

#[tokio::test(flavor = "multi_thread")]
async fn plan_prints_requests_sends_nothing_and_needs_no_secret() {
    let server = Server::start().await;
    let ws = Workspace::new().file("s.yaml", &SPEC.replace("BASE", &server.uri()));
    let out = ws.runner(["plan", "s.yaml"]).await.code(0);
    let base = server.uri();
    let expected = format!(
        "steps[0] (issue)  CREATE
  POST {base}/repos/octo/issues
  User-Agent: runner/{v}
  Accept: application/vnd.github+json
  Authorization: Bearer ***
  Content-Type: application/json
  | {{
  |   \"title\": \"T\",
  |   \"count\": 3
  | }}

steps[1]  COMMENT
  POST {base}/issues/{{{{ steps.issue.response.number }}}}/comments
  User-Agent: runner/{v}
  Accept: application/vnd.github+json
  Authorization: Bearer ***
  Content-Type: application/json
  | {{
  |   \"body\": \"see #{{{{ steps.issue.response.number }}}}\"
  | }}
  (known after earlier steps run: `number`, `body`)

2 request(s) planned, none sent
",
        v = env!("CARGO_PKG_VERSION")
    );
    assert_eq!(out.stdout, expected);
    assert!(
        out.stderr
            .contains("warning: env `GITHUB_TOKEN` is not set; `apply` will need it")
    );
    assert!(server.received().await.is_empty());

    let out = ws
        .runner(["plan", "s.yaml", "--output", "json", "--var", "owner=other"])
        .env("GITHUB_TOKEN", "real-token-value")
        .await
        .code(0);
    let doc = out.json();
    assert_eq!(
        doc["steps"][0]["url"],
        json!(format!("{base}/repos/other/issues"))
    );
    assert_eq!(
        doc["steps"][0]["headers"]["Authorization"],
        json!("Bearer ***")
    );
    assert_eq!(doc["steps"][0]["body"], json!({"title": "T", "count": 3}));
    assert_eq!(doc["steps"][1]["deferred"], json!(["number", "body"]));
    assert!(!out.all().contains("real-token-value"));
    assert!(server.received().await.is_empty());
}

#[test]
fn validate_reads_no_environment_and_takes_many_files() {
    let ws = Workspace::new()
        .file("a.yaml", &SPEC.replace("BASE", "https://api.example.com"))
        .file("b.yaml", "version: 1\nsteps:\n  - action: NOPE\n");
    let out = ws.runner(["validate", "a.yaml"]).run().code(0);
    assert_eq!(out.stdout, "ok  a.yaml  (1 apps, 2 actions, 2 steps)\n");

    let out = ws
        .runner(["validate", "a.yaml", "b.yaml"])
        .run()
        .code(2)
        .stderr_has("error: unknown action `NOPE`\n  --> b.yaml:3:13: steps[0].action");
    assert!(out.stdout.contains("ok  a.yaml"));
}

#[test]
fn usage_errors_exit_2() {
    let ws = Workspace::new();
    for args in [
        vec!["apply"],
        vec!["frobnicate"],
        vec!["apply", "missing.yaml"],
        vec!["plan", "x.yaml", "--resolve", "nonsense"],
        vec!["apply", "x.yaml", "--var", "novalue"],
    ] {
        ws.runner(&args).run().code_for(2, format_args!("{args:?}"));
    }
    let out = ws
        .runner(["apply", "missing.yaml", "--output", "json"])
        .run();
    assert_eq!(out.json()["ok"], json!(false));
    assert_eq!(
        out.stderr,
        "error: cannot read spec `missing.yaml`: not found\n"
    );
}

#[test]
fn runaway_templates_are_stopped() {
    // Fuel cannot meter these; the value-size check and the watchdog do.
    let ws = Workspace::new()
        .file(
            "big.yaml",
            "version: 1\nvars:\n  a: \"x{{ [0] * 100000000 }}\"\n",
        )
        .file(
            "slow.yaml",
            "version: 1\nvars:\n  a: \"{{ 1 in [0] * 100000000 }}\"\n",
        );
    ws.runner(["plan", "big.yaml"])
        .run()
        .code(2)
        .stderr_has("value too large");

    // `validate` parses templates and compiles none, so it cannot be held
    // up by one; `plan` compiles and renders it, and is stopped.
    ws.runner(["validate", "slow.yaml"]).run().code(0);
    ws.runner(["plan", "slow.yaml"])
        .run()
        .code(2)
        .stderr_has("a template took longer than 2 s to compile or render");
}
