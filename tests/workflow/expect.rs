//! Success criteria: status, JSONPath tests on the body (RFC 9535: `exists`
//! needs a node or none; `equals`, `matches`, `length` need a node and hold
//! for every node), headers, `that`, JSON Schema; and the defaults an app or
//! an action declares, which a step's own criteria replace (status) or add
//! to (the rest).

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::{apply_json, apply_text, assert_failed, step, workspace};
use crate::harness::{Server, Workspace, json_reply};

const ISSUE_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["number"],
  "properties": {
    "number": {"type": "integer"},
    "labels": {"type": "array", "items": {"type": "string"}}
  }
}"#;

/// A 201 with `body` and an `X-Request-Id` header.
fn created(body: Value, request_id: &str) -> ResponseTemplate {
    json_reply(201, body).insert_header("X-Request-Id", request_id)
}

fn one_step(expect: &str) -> String {
    format!(
        r#"steps:
  - id: create
    action: CREATE_ITEM
    params: {{name: x}}
    expect:
{expect}
  - id: after
    action: GET_ITEM
    params: {{id: "1"}}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_criterion_holds_on_a_matching_response() {
    let body = json!({
        "number": 7,
        "state": "open",
        "title": "Weekly triage",
        "labels": [],
        "tags": [{"state": "open"}, {"state": "open"}],
        "meta": {"a": 1, "b": 2},
    });
    let server = Server::build()
        .reply("POST /items", created(body.clone(), "req-1"))
        .reply("GET /items/1", json_reply(200, json!({})))
        .start()
        .await;
    let expect = r#"      status: [201]
      body:
        - {path: "$.number", exists: true}
        - {path: "$.errors", exists: false}
        - {path: "$.state", equals: open}
        - {path: "$.tags[*].state", equals: open}
        - {path: "$.title", matches: "^Weekly"}
        - {path: "$.labels", length: 0}
        - {path: "$.title", length: 13}
        - {path: "$.meta", length: 2}
        - {path: "$.number", equals: 7.0}
      headers:
        Content-Type: {matches: json}
        X-Request-Id: {equals: req-1}
        X-Missing: {exists: false}
      that:
        - "{{ response.number > 0 }}"
        - "{{ status == 201 }}"
        - "{{ headers['x-request-id'] == 'req-1' }}"
      schema: schemas/issue.json"#;
    let ws = workspace(&server.uri(), &one_step(expect)).file("schemas/issue.json", ISSUE_SCHEMA);
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(step(&out, "create")["status"], json!("ok"));
    assert_eq!(step(&out, "create")["response"], body);
    assert_eq!(step(&out, "after")["status"], json!("ok"));
}

/// One way a response can fail its criteria.
struct Case {
    expect: &'static str,
    status: u16,
    body: Value,
    request_id: &'static str,
    kind: &'static str,
    error: &'static str,
}

#[tokio::test(flavor = "multi_thread")]
async fn each_criterion_fails_the_step_saying_what_it_expected_and_found() {
    let issue = json!({"number": 7, "title": "Monthly triage", "labels": ["a"],
                       "tags": [{"state": "open"}, {"state": "closed"}],
                       "errors": [{"message": "boom"}]});
    let cases = [
        Case {
            expect: r#"body: [{path: "$.missing", exists: true}]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: "expect.body: `$.missing` exists: expected at least one node, found none",
        },
        Case {
            expect: r#"body: [{path: "$.errors", exists: false}]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: r#"expect.body: `$.errors` must not exist, found [{"message":"boom"}]"#,
        },
        Case {
            // One node of two differs: `equals` holds for every node or fails.
            expect: r#"body: [{path: "$.tags[*].state", equals: open}]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: r#"expect.body: `$.tags[*].state` equals "open": found "closed""#,
        },
        Case {
            expect: r#"body: [{path: "$.title", matches: "^Weekly"}]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: r#"expect.body: `$.title` matches `^Weekly`: found "Monthly triage""#,
        },
        Case {
            expect: r#"body: [{path: "$.number", matches: "7"}]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: "expect.body: `$.number` matches `7`: found 7",
        },
        Case {
            expect: r#"body: [{path: "$.labels", length: 0}]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: "expect.body: `$.labels` has length 0: found length 1",
        },
        Case {
            // `equals`, `matches` and `length` need at least one node.
            expect: r#"body: [{path: "$.nothing[*]", length: 0}]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: "expect.body: `$.nothing[*]` selects nothing in the response",
        },
        Case {
            expect: "headers: {X-Request-Id: {equals: req-1}}",
            status: 201,
            body: issue.clone(),
            request_id: "req-2",
            kind: "assertion",
            error: r#"expect.headers: header `x-request-id` equals "req-1": found "req-2""#,
        },
        Case {
            expect: "headers: {X-Other: {matches: x}}",
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: "expect.headers: header `x-other`: it is missing",
        },
        Case {
            expect: "headers: {X-Request-Id: {exists: false}}",
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: r#"expect.headers: header `x-request-id` must be missing, found "req-1""#,
        },
        Case {
            expect: r#"that: ["{{ response.number > 100 }}"]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "assertion",
            error: "expect.that: `{{ response.number > 100 }}` is false",
        },
        Case {
            expect: r#"that: ["{{ response.number }}"]"#,
            status: 201,
            body: issue.clone(),
            request_id: "req-1",
            kind: "render",
            error: "expect.that: `{{ response.number }}` must render to true or false, found an integer `7`",
        },
        Case {
            expect: "status: [200, 202]",
            status: 201,
            body: json!({"message": "made"}),
            request_id: "req-1",
            kind: "status",
            error: "expected 200 or 202, got 201 Created: made",
        },
    ];
    for case in cases {
        let server = Server::answering(
            "POST /items",
            json_reply(case.status, case.body.clone())
                .insert_header("X-Request-Id", case.request_id),
        )
        .await;
        let expect = format!("      {}", case.expect);
        let ws = workspace(&server.uri(), &one_step(&expect));
        let out = apply_json(&ws, &[]).await.code_for(1, case.expect);
        let create = step(&out, "create");
        assert_eq!(
            create["status"],
            json!("failed"),
            "{}: {out:?}",
            case.expect
        );
        assert_eq!(
            create["error_kind"],
            json!(case.kind),
            "{}: {out:?}",
            case.expect
        );
        assert_eq!(
            create["error"],
            json!(case.error),
            "{}: {out:?}",
            case.expect
        );
        // The response that failed is in the report.
        assert_eq!(create["http_status"], json!(case.status));
        assert_eq!(create["response"], case.body);
        let after = step(&out, "after");
        assert_eq!(after["status"], json!("skipped"));
        assert_eq!(after["skip_reason"], json!("earlier_failure"));
        assert_eq!(server.received().await.len(), 1, "{}", case.expect);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_violation_is_reported_with_its_instance_path() {
    let server = Server::answering(
        "POST /items",
        created(json!({"number": 7, "labels": ["a", 3]}), "r"),
    )
    .await;
    let ws = workspace(&server.uri(), &one_step("      schema: schemas/issue.json"))
        .file("schemas/issue.json", ISSUE_SCHEMA);
    let out = apply_text(&ws, &[])
        .await
        .code(1)
        .stdout_has("error: expect.schema: the body does not satisfy `schemas/issue.json` at `/labels/1`: 3 is not of type \"string\"");
    // Pointing at the criterion in the spec.
    let line = super::line_of(&ws.read("main.yaml"), "schema: schemas/issue.json");
    assert!(
        out.stdout.contains(&format!("--> main.yaml:{line}:")),
        "{out:?}"
    );

    let out = apply_json(&ws, &[]).await;
    assert_eq!(
        step(&out, "create")["error_kind"],
        json!("assertion"),
        "{out:?}"
    );
}

/// A Slack-like app whose every action must answer `ok: true`, and a
/// GraphQL-like app whose GraphQL action must answer no `errors`.
const CATALOGS: &str = r#"version: 1
apps:
  slack:
    base_url: BASE
    retry: {attempts: 1}
    expect:
      body:
        - {path: "$.ok", equals: true}
    actions:
      SLACK_POST_MESSAGE:
        method: POST
        path: /api/chat.postMessage
        params:
          channel: {type: string, required: true}
          text: {type: string, required: true}
  gh:
    base_url: BASE
    retry: {attempts: 1}
    actions:
      GH_GRAPHQL:
        method: POST
        path: /graphql
        params:
          query: {type: string, required: true}
        expect:
          body:
            - {path: "$.errors", exists: false}
      GH_REST:
        method: GET
        path: /rest
"#;

fn catalog_workspace(base: &str, steps: &str) -> Workspace {
    Workspace::new()
        .file("apps/catalogs.yaml", &CATALOGS.replace("BASE", base))
        .file(
            "main.yaml",
            &format!("version: 1\ninclude: [apps/catalogs.yaml]\nsteps:\n{steps}"),
        )
}

async fn run_json(ws: &Workspace) -> crate::harness::Run {
    ws.runner(["apply", "main.yaml", "--output", "json"]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_ok_false_fails_through_the_app_level_default() {
    let server = Server::answering(
        "POST /api/chat.postMessage",
        json_reply(200, json!({"ok": false, "error": "channel_not_found"})),
    )
    .await;
    let steps = r#"  - id: post
    action: SLACK_POST_MESSAGE
    params: {channel: C123, text: hello}
"#;
    let ws = catalog_workspace(&server.uri(), steps);
    let out = run_json(&ws).await.code(1);
    let post = step(&out, "post");
    assert_eq!(post["status"], json!("failed"));
    assert_eq!(post["http_status"], json!(200));
    assert_eq!(post["error_kind"], json!("assertion"));
    assert_eq!(
        post["error"],
        json!(
            "expect.body: `$.ok` equals true: found false (the response says \"channel_not_found\")"
        )
    );

    server.reset().await;
    server
        .reply(
            "POST /api/chat.postMessage",
            json_reply(200, json!({"ok": true, "ts": "1.2"})),
        )
        .await;
    run_json(&ws).await.code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_errors_fail_through_the_action_level_default() {
    let errors =
        json!({"data": null, "errors": [{"message": "Could not resolve to a Repository"}]});
    let server = Server::build()
        .reply("POST /graphql", json_reply(200, errors.clone()))
        .reply("GET /rest", json_reply(200, errors.clone()))
        .start()
        .await;
    // Only the GraphQL action carries the default: the REST one passes
    // with the same body.
    let steps = r#"  - id: rest
    action: GH_REST
  - id: query
    action: GH_GRAPHQL
    params: {query: "{ repository { id } }"}
"#;
    let ws = catalog_workspace(&server.uri(), steps);
    let out = run_json(&ws).await.code(1);
    assert_eq!(step(&out, "rest")["status"], json!("ok"), "{out:?}");
    let error = r#"expect.body: `$.errors` must not exist, found [{"message":"Could not resolve to a Repository"}]"#;
    assert_failed(&out, "query", "assertion", error);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_status_replaces_the_default_and_its_body_criteria_add_to_it() {
    let server = Server::start().await;
    let catalog = CATALOGS.replace(
        "    expect:\n      body:\n        - {path: \"$.ok\", equals: true}\n",
        "    expect:\n      status: [200]\n      body:\n        - {path: \"$.ok\", equals: true}\n",
    );
    assert_ne!(catalog, CATALOGS);
    let steps = r#"  - id: post
    action: SLACK_POST_MESSAGE
    params: {channel: C123, text: hello}
    expect:
      status: [201]
      body:
        - {path: "$.ts", exists: true}
"#;
    let ws = Workspace::new()
        .file(
            "apps/catalogs.yaml",
            &catalog.replace("BASE", &server.uri()),
        )
        .file(
            "main.yaml",
            &format!("version: 1\ninclude: [apps/catalogs.yaml]\nsteps:\n{steps}"),
        );
    let cases = [
        // The step's status replaced the app's, and every body criterion holds.
        (201, json!({"ok": true, "ts": "1"}), None),
        (
            200,
            json!({"ok": true, "ts": "1"}),
            Some(("status", "expected 201, got 200 OK")),
        ),
        // The app's body criterion still applies...
        (
            201,
            json!({"ok": false, "ts": "1"}),
            Some(("assertion", "expect.body: `$.ok` equals true: found false")),
        ),
        // ...and the step's adds to it.
        (
            201,
            json!({"ok": true}),
            Some((
                "assertion",
                "expect.body: `$.ts` exists: expected at least one node, found none",
            )),
        ),
    ];
    for (status, body, failure) in cases {
        server.reset().await;
        server
            .reply(
                "POST /api/chat.postMessage",
                json_reply(status, body.clone()),
            )
            .await;
        let code = if failure.is_none() { 0 } else { 1 };
        let out = run_json(&ws)
            .await
            .code_for(code, format_args!("{status} {body}"));
        let post = step(&out, "post");
        match failure {
            None => {
                assert_eq!(post["status"], json!("ok"));
            }
            Some((kind, error)) => {
                assert_eq!(post["error_kind"], json!(kind), "{status} {body}: {out:?}");
                assert!(
                    post["error"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with(error),
                    "{status} {body}: {out:?}"
                );
            }
        }
    }
}
