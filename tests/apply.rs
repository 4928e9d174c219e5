//! `runner apply` against a mock API on 127.0.0.1: what reaches the server
//! (placements, headers, bodies, order) and what the user sees.

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::harness::specs::Spec;
use crate::harness::{Cmd, RequestExt, Server, Workspace, json_reply, squash};

const TOKEN: &str = "ghp_TestToken0123456789abcdef";

/// GitHub's issues, comments and GraphQL.
const ACTIONS: &str = include_str!("fixtures/catalogs/github.yaml");

/// The GitHub stand-in, and `workflow` as `main.yaml` with the catalog
/// pointed at it.
async fn github(workflow: &str) -> (Server, Workspace) {
    let server = github_server().await;
    let ws = workspace(&server, workflow);
    (server, ws)
}

/// A workflow including the catalog, then `rest` as written.
fn including(rest: &str) -> String {
    format!("version: 1\ninclude: [apps/github.yaml]\n{rest}")
}

/// `runner apply main.yaml ARGS` with the token set.
fn apply(ws: &Workspace, args: &[&str]) -> Cmd {
    ws.runner(["apply", "main.yaml"])
        .args(args)
        .env("GITHUB_TOKEN", TOKEN)
}

/// The catalog used by most tests, pointed at `base`.
fn catalog(base: &str) -> String {
    Spec::app("github", &format!("{base}/api/v3"))
        .headers(&[("Accept", "application/vnd.github+json")])
        .actions(ACTIONS)
        .build()
}

const WORKFLOW: &str = r#"version: 1
include: [apps/github.yaml]
vars:
  owner: octo
  repo: hello
auth:
  github:
    parameters:
      - name: Authorization
        in: header
        value: "Bearer {{ env.GITHUB_TOKEN }}"
steps:
  - id: issue
    action: GITHUB_CREATE_ISSUE
    params:
      owner: "{{ vars.owner }}"
      repo: "{{ vars.repo }}"
      title: Issue Created with Custom Token
      body: This issue uses an externally provided auth token.
      milestone: "7"
  - id: comment
    action: GITHUB_CREATE_ISSUE_COMMENT
    params:
      owner: "{{ vars.owner }}"
      repo: "{{ vars.repo }}"
      issue_number: "{{ steps.issue.response.number }}"
      body: "Follow-up on #{{ steps.issue.response.number }}"
"#;

/// GitHub creating issue 42 and its comment.
async fn github_server() -> Server {
    Server::build()
        .reply(
            "POST /api/v3/repos/octo/hello/issues",
            json_reply(201, json!({"number": 42, "title": "x"})),
        )
        .reply(
            "POST /api/v3/repos/octo/hello/issues/42/comments",
            json_reply(201, json!({"id": 1})),
        )
        .start()
        .await
}

/// The catalog pointed at `server`, and `workflow` as `main.yaml`.
fn workspace(server: &Server, workflow: &str) -> Workspace {
    Workspace::new()
        .file("apps/github.yaml", &catalog(&server.uri()))
        .file("main.yaml", workflow)
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_steps_in_order_with_earlier_responses() {
    let (server, ws) = github(WORKFLOW).await;
    let out = apply(&ws, &[]).await.code(0);

    let reqs = server.received().await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].url.path(), "/api/v3/repos/octo/hello/issues");
    assert_eq!(
        reqs[1].url.path(),
        "/api/v3/repos/octo/hello/issues/42/comments"
    );
    for r in &reqs {
        assert_eq!(r.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
        assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(
            r.header("user-agent"),
            Some(&*format!("runner/{}", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(
        reqs[0].json(),
        json!({"title": "Issue Created with Custom Token",
               "body": "This issue uses an externally provided auth token.",
               "milestone": 7})
    );
    assert_eq!(reqs[1].json(), json!({"body": "Follow-up on #42"}));

    let stdout = squash(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("ok issue GITHUB_CREATE_ISSUE 201 Created"),
        "{out:?}"
    );
    assert!(
        lines[1].starts_with("ok comment GITHUB_CREATE_ISSUE_COMMENT 201 Created"),
        "{out:?}"
    );
    assert!(lines[2].starts_with("2 ok in "), "{out:?}");
    assert!(!out.all().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_is_one_document() {
    let (_, ws) = github(WORKFLOW).await;
    let out = apply(&ws, &["--output", "json"]).await.code(0);
    let doc = out.json();
    assert_eq!(doc["ok"], json!(true));
    let steps = doc["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["id"], json!("issue"));
    assert_eq!(steps[0]["action"], json!("GITHUB_CREATE_ISSUE"));
    assert_eq!(steps[0]["status"], json!("ok"));
    assert_eq!(steps[0]["http_status"], json!(201));
    assert_eq!(steps[0]["response"], json!({"number": 42, "title": "x"}));
    assert_eq!(steps[0]["error"], json!(null));
    assert!(steps[0]["duration_ms"].is_u64());
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_step_skips_the_rest_and_exits_1() {
    let server = Server::answering(
        "POST",
        json_reply(
            404,
            json!({"message": "Not Found", "documentation_url": "x"}),
        ),
    )
    .await;
    let ws = workspace(&server, WORKFLOW);
    let out = apply(&ws, &["--output", "json"]).await.code(1);
    assert_eq!(server.received().await.len(), 1);
    let doc = out.json();
    assert_eq!(doc["ok"], json!(false));
    assert_eq!(doc["steps"][0]["status"], json!("failed"));
    assert_eq!(doc["steps"][0]["http_status"], json!(404));
    assert_eq!(
        doc["steps"][0]["error"],
        json!("expected a 2xx status, got 404 Not Found: Not Found")
    );
    assert_eq!(doc["steps"][1]["status"], json!("skipped"));
}

#[tokio::test(flavor = "multi_thread")]
async fn continue_on_error_and_expect_status() {
    let server = Server::build()
        .reply("GET", ResponseTemplate::new(500).set_body_string("boom"))
        .reply("POST", json_reply(200, json!({"number": 1})))
        .start()
        .await;
    let ws = workspace(
        &server,
        &including(
            r#"steps:
  - id: list
    action: GITHUB_LIST_ISSUES
    params: {owner: o, repo: r}
    continue_on_error: true
  - id: create
    action: GITHUB_CREATE_ISSUE
    params: {owner: o, repo: r, title: t}
    expect: {status: 201}
  - action: GITHUB_CREATE_ISSUE
    params: {owner: o, repo: r, title: never}
"#,
        ),
    );
    let out = ws.runner(["apply", "main.yaml"]).await.code(1);
    let stdout = squash(&out.stdout);
    for said in [
        "failed list GITHUB_LIST_ISSUES 500 Internal Server Error",
        "error: expected a 2xx status, got 500 Internal Server Error: boom (continuing",
        "failed create GITHUB_CREATE_ISSUE 200 OK",
        "error: expected 201, got 200 OK",
        "skipped #3 GITHUB_CREATE_ISSUE",
    ] {
        assert!(stdout.contains(said), "`{said}` missing: {out:?}");
    }
    assert_eq!(server.received().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_params_defaults_arrays_and_header_params() {
    let server = Server::answering("GET", json_reply(200, json!([]))).await;
    let ws = workspace(
        &server,
        &including(
            r#"vars:
  labels: [bug, "help wanted"]
auth:
  github:
    parameters:
      - {name: api_key, in: query, value: "{{ env.KEY }}"}
steps:
  - action: GITHUB_LIST_ISSUES
    params:
      owner: "a/b"
      repo: r
      labels: "{{ vars.labels }}"
      X-Trace: t-1
"#,
        ),
    );
    let out = ws
        .runner(["apply", "main.yaml"])
        .env("KEY", "k&y=secret value")
        .await
        .code(0);
    let reqs = server.received().await;
    let r = &reqs[0];
    // A slash in a path value stays inside its segment.
    assert_eq!(r.url.path(), "/api/v3/repos/a%2Fb/r/issues");
    let pairs: Vec<(String, String)> = r
        .url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("labels".into(), "bug".into()),
            ("labels".into(), "help wanted".into()),
            ("per_page".into(), "30".into()),
            ("api_key".into(), "k&y=secret value".into()),
        ]
    );
    assert_eq!(r.header("x-trace"), Some("t-1"));
    assert!(r.body.is_empty());
    assert!(!out.all().contains("secret value"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn path_and_subdomain_placements_with_auth_base_url_and_body() {
    let server = Server::answering("POST", json_reply(200, json!({"ok": true}))).await;
    let port = server.port();
    let ws = Workspace::main(&format!(
        r#"version: 1
apps:
  chat:
    base_url: http://{{workspace}}.chat.test:{port}/api
    actions:
      POST_MESSAGE:
        method: POST
        path: /hooks/{{hook_token}}/{{channel}}
        body_format: form
        params:
          channel: {{type: string, required: true}}
          text: {{type: string, required: true}}
          tags: {{type: array}}
auth:
  chat:
    parameters:
      - {{name: workspace, in: subdomain, value: "{{{{ env.WS }}}}"}}
      - {{name: hook_token, in: path, value: "{{{{ env.HOOK }}}}"}}
    body:
      team: "{{{{ vars.team }}}}"
vars:
  team: core
steps:
  - action: POST_MESSAGE
    params: {{channel: general, text: "hi there", tags: [a, b]}}
"#
    ));
    let out = ws
        .runner([
            "apply",
            "main.yaml",
            "--allow-http",
            "--resolve",
            &format!("acme.chat.test:{port}:127.0.0.1"),
        ])
        .env("WS", "acme")
        .env("HOOK", "hook-SECRET-77")
        .await
        .code(0);
    let reqs = server.received().await;
    let r = &reqs[0];
    assert_eq!(r.header("host"), Some(&*format!("acme.chat.test:{port}")));
    assert_eq!(r.url.path(), "/api/hooks/hook-SECRET-77/general");
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "text=hi+there&tags=a&tags=b&team=core"
    );
    assert!(!out.all().contains("hook-SECRET-77"));
}

#[tokio::test(flavor = "multi_thread")]
async fn step_auth_replaces_app_auth_and_graphql_default() {
    let server = Server::answering(
        "POST",
        json_reply(200, json!({"data": {"viewer": {"login": "octo"}}})),
    )
    .await;
    let ws = workspace(
        &server,
        &including(
            r#"auth:
  github:
    parameters: [{name: Authorization, in: header, value: "Bearer {{ env.GITHUB_TOKEN }}"}]
steps:
  - id: me
    action: GITHUB_GRAPHQL
  - action: GITHUB_GRAPHQL
    auth:
      parameters: [{name: X-Api-Key, in: header, value: "{{ env.OTHER }}-{{ steps.me.response.data.viewer.login }}"}]
"#,
        ),
    );
    apply(&ws, &[]).env("OTHER", "other-key-123").await.code(0);
    let reqs = server.received().await;
    assert_eq!(
        reqs[0].json(),
        json!({"query": "query { viewer { login } }"})
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(reqs[1].header("authorization"), None);
    assert_eq!(reqs[1].header("x-api-key"), Some("other-key-123-octo"));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_environment_sends_nothing() {
    let (server, ws) = github(WORKFLOW).await;
    let why = "error: environment variable `GITHUB_TOKEN` is not set (used at main.yaml:11:16: auth.github.parameters[0].value)";
    ws.runner(["apply", "main.yaml"])
        .refused(&server, why)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_that_cannot_be_typed_fails_before_anything_is_sent() {
    let (server, ws) =
        github(&WORKFLOW.replace("milestone: \"7\"", "milestone: \"{{ vars.owner }}\"")).await;
    let why = "param `milestone`: expected an integer, found a string `\"octo\"`";
    apply(&ws, &[]).refused(&server, why).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_type_error_fails_the_step() {
    let created = json_reply(201, json!({"number": "not-a-number"}));
    let server = Server::answering("POST /api/v3/repos/octo/hello/issues", created).await;
    let ws = workspace(&server, WORKFLOW);
    apply(&ws, &[]).await.code(1).stdout_has(
        "error: param `issue_number`: expected an integer, found a string `\"not-a-number\"`",
    );
    assert_eq!(server.received().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn vars_env_file_and_real_env_precedence() {
    let (server, ws) = github(&WORKFLOW.replace("owner: octo", "owner: someone-else")).await;
    let ws = ws
        .env_file(".env", &[("GITHUB_TOKEN", "from-dotenv-file-1")])
        .env_file("other.env", &[("GITHUB_TOKEN", "from-other-file-2")]);

    ws.runner(["apply", "main.yaml", "--var", "owner=octo"])
        .await
        .code(0);

    ws.runner(["apply", "main.yaml", "--var", "owner=octo"])
        .args(["--env-file", "other.env"])
        .await
        .code(0);

    ws.runner(["apply", "main.yaml", "--var", "owner=octo"])
        .env("GITHUB_TOKEN", "from-real-env-3")
        .await
        .code(0);

    let auths: Vec<String> = server
        .received()
        .await
        .iter()
        .step_by(2)
        .map(|r| r.header("authorization").unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        auths,
        [
            "Bearer from-dotenv-file-1",
            "Bearer from-other-file-2",
            "Bearer from-real-env-3"
        ]
    );

    ws.runner(["apply", "main.yaml", "--var", "ownr=octo"])
        .await
        .code(2)
        .stderr_has("`--var ownr=...` names no var of the spec (did you mean `owner`?)");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_go_over_plain_http_to_other_hosts() {
    let server = github_server().await;
    let port = server.port();
    let ws = Workspace::new()
        .file(
            "apps/github.yaml",
            &catalog(&format!("http://api.github.test:{port}")),
        )
        .file("main.yaml", WORKFLOW);
    let resolve = format!("api.github.test:{port}:127.0.0.1");
    apply(&ws, &["--resolve", &resolve])
        .refused(
            &server,
            "refusing to send credentials over plain http to `api.github.test`",
        )
        .await;

    let allowed = ["--resolve", &resolve, "--allow-http"];
    apply(&ws, &allowed).sends(&server, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn base_url_override_sends_an_app_elsewhere() {
    let server = github_server().await;
    let ws = Workspace::new()
        .file("apps/github.yaml", &catalog("https://api.github.com"))
        .file("main.yaml", WORKFLOW);
    apply(
        &ws,
        &["--base-url", &format!("github={}/api/v3", server.uri())],
    )
    .sends(&server, 2)
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_values_cannot_change_the_request() {
    let dots = r#"version: 1
include: [apps/github.yaml]
steps:
  - action: GITHUB_LIST_ISSUES
    params: {owner: "..", repo: r}
"#;
    let (server, ws) = github(dots).await;
    ws.runner(["apply", "main.yaml"])
        .await
        .code(2)
        .stderr_has("path value `..` for `{owner}` would change the path");

    ws.write(
        "main.yaml",
        r#"version: 1
include: [apps/github.yaml]
steps:
  - action: GITHUB_LIST_ISSUES
    params: {owner: o, repo: r, X-Trace: "{{ env.EVIL }}"}
"#,
    );
    ws.runner(["apply", "main.yaml"])
        .env("EVIL", "a\r\nX-Injected: 1")
        .refused(
            &server,
            "header param `X-Trace` contains a line break or NUL",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subdomain_value_must_be_a_dns_label() {
    let server = Server::start().await;
    let ws = Workspace::main(
        r#"version: 1
env:
  WS: {allow_empty: true}
apps:
  chat:
    base_url: https://{workspace}.chat.test
    actions:
      PING: {method: GET, path: /ping}
auth:
  chat:
    parameters:
      - {name: workspace, in: subdomain, value: "{{ env.WS }}"}
steps:
  - action: PING
"#,
    );
    for bad in ["evil.com/x?", "a.b", "-lead", ""] {
        ws.runner(["apply", "main.yaml"])
            .env("WS", bad)
            .await
            .code_for(2, format_args!("{bad}"))
            .stderr_has("is `in: subdomain` but its value is not a DNS label");
    }
    assert!(server.received().await.is_empty());
}
