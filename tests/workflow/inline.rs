//! A loop's own `steps:` (an inline `uses`): several requests per item
//! with the item in scope, inner ids in a scope of their own, outputs
//! through the loop step, items `concurrency` at a time, each item
//! journalled so `--resume` after a failure mid-item sends only what did
//! not complete, and `validate` pointing at the inner step's line.

use std::future::IntoFuture;
use std::os::unix::process::ExitStatusExt;

use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Request, Respond, ResponseTemplate};

use super::gate::Gate;
use super::{TOKEN, apply_json, item_field, line_of, step, workspace};
use crate::harness::hold::{HoldFirst, signal_when_held};
use crate::harness::{RequestExt, Run, Server, Workspace, json_reply};

/// Creates an item whose id is its name with `-id`.
struct Create;

impl Respond for Create {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let name = request.json()["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        json_reply(201, json!({"id": format!("{name}-id")}))
    }
}

/// For each name, create an item and rename it; an outer step `create`
/// shares its id with an inner one.
const TWO_PER_ITEM: &str = r#"vars:
  suffix: v
steps:
  - id: create
    action: CREATE_ITEM
    params: {name: outer}
  - id: each
    for_each: [a, b]
    as: name
    with: {outer: "{{ steps.create.response.id }}", suffix: "{{ vars.suffix }}"}
    steps:
      - id: create
        action: CREATE_ITEM
        params: {name: "{{ name }}"}
      - id: rename
        action: UPDATE_ITEM
        params:
          id: "{{ steps.create.response.id }}"
          name: "{{ name }}-{{ index }}-{{ inputs.suffix }}-{{ inputs.outer }}"
    outputs:
      id: "{{ steps.create.response.id }}"
      renamed: "{{ steps.rename.status }}"
outputs:
  ids: "{{ steps.each.items | map(attribute='outputs.id') | list }}"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn two_requests_per_item_with_the_item_in_scope_and_outputs_through_the_loop() {
    let server = Server::build()
        .reply("POST /items", Create)
        .mock(
            Server::given("PUT")
                .and(path_regex("^/items/[^/]+$"))
                .respond_with(json_reply(200, json!({}))),
        )
        .start()
        .await;
    let ws = workspace(&server.uri(), TWO_PER_ITEM);
    let out = apply_json(&ws, &[]).await.code(0);
    let sent = server
        .each_received(|r| (format!("{} {}", r.method, r.url.path()), r.json()))
        .await;
    assert_eq!(
        sent,
        [
            ("POST /items".to_string(), json!({"name": "outer"})),
            ("POST /items".to_string(), json!({"name": "a"})),
            (
                "PUT /items/a-id".to_string(),
                json!({"name": "a-0-v-outer-id"})
            ),
            ("POST /items".to_string(), json!({"name": "b"})),
            (
                "PUT /items/b-id".to_string(),
                json!({"name": "b-1-v-outer-id"})
            ),
        ]
    );
    assert_eq!(
        item_field(&out, "each", "outputs"),
        [
            json!({"id": "a-id", "renamed": 200}),
            json!({"id": "b-id", "renamed": 200})
        ]
    );
    assert_eq!(out.json()["outputs"]["ids"], json!(["a-id", "b-id"]));
    // Each item reports its own steps.
    let items = step(&out, "each")["items"].clone();
    let inner: Vec<Value> = items[1]["steps"]
        .as_array()
        .expect("inner steps")
        .iter()
        .map(|s| s["label"].clone())
        .collect();
    assert_eq!(inner.len(), 2, "{items}");
}

#[tokio::test(flavor = "multi_thread")]
async fn items_run_concurrency_at_a_time_each_its_steps_in_order() {
    let mut gate = Gate::start().await;
    let rest = r#"steps:
  - id: fan
    for_each: [0, 1, 2]
    concurrency: 2
    steps:
      - action: GET_ITEM
        params: {id: "first{{ item }}"}
      - action: GET_ITEM
        params: {id: "second{{ item }}"}
"#;
    let ws = workspace(&gate.uri(), rest);
    let cmd = ws
        .runner(["apply", "main.yaml", "--output", "json"])
        .env("API_TOKEN", TOKEN);
    let run = tokio::spawn(cmd.into_future());
    let mut held = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let h = gate.next().await;
        held.insert(h.target.clone(), h);
    }
    assert_eq!(
        held.keys().map(String::as_str).collect::<Vec<_>>(),
        ["/items/first0", "/items/first1"]
    );
    // Item 1's first answer starts its second request, not item 2.
    held.remove("/items/first1")
        .expect("held")
        .answer(200, json!({}));
    let h = gate.next().await;
    assert_eq!(h.target, "/items/second1");
    h.answer(200, json!({}));
    // Item 1 done: item 2 starts, item 0 still in flight.
    let h = gate.next().await;
    assert_eq!(h.target, "/items/first2");
    assert_eq!(h.in_flight, 2);
    held.insert(h.target.clone(), h);
    for target in ["/items/first0", "/items/first2"] {
        held.remove(target).expect("held").answer(200, json!({}));
    }
    let mut rest: Vec<String> = Vec::new();
    for _ in 0..2 {
        let h = gate.next().await;
        rest.push(h.target.clone());
        h.answer(200, json!({}));
    }
    rest.sort();
    assert_eq!(rest, ["/items/second0", "/items/second2"]);
    let out: Run = run.await.expect("join");
    let out = out.code(0);
    assert_eq!(gate.max_in_flight(), 2);
    assert_eq!(
        item_field(&out, "fan", "status"),
        [json!("ok"), json!("ok"), json!("ok")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_after_a_failure_mid_item_sends_only_what_did_not_complete() {
    let server = Server::build()
        .reply("POST /items", Create)
        .reply_in_turn(
            "POST /jobs",
            vec![
                json_reply(201, json!({"id": "job-a"})),
                json_reply(500, json!({"message": "busy"})),
                json_reply(201, json!({"id": "job-b"})),
            ],
        )
        .start()
        .await;
    let rest = r#"steps:
  - id: each
    for_each: [a, b]
    steps:
      - id: create
        action: CREATE_ITEM
        params: {name: "{{ item }}"}
      - id: job
        action: START_JOB
        params: {name: "{{ steps.create.response.id }}"}
    outputs:
      job: "{{ steps.job.response.id }}"
"#;
    let ws = workspace(&server.uri(), rest);
    let first = apply_json(&ws, &[]).await.code(1);
    assert_eq!(
        step(&first, "each")["error"],
        json!(
            "item 1: steps[0] (each)[1].job: expected a 2xx status, got 500 Internal Server Error: busy"
        )
    );
    let bodies = |r: &Request| format!("{} {}", r.url.path(), r.json()["name"]);
    assert_eq!(
        server.each_received(bodies).await,
        [
            "/items \"a\"",
            "/jobs \"a-id\"",
            "/items \"b\"",
            "/jobs \"b-id\""
        ]
    );

    // Item a completed, item b created its item: only b's job is sent.
    let out = apply_json(&ws, &["--resume", ".runner/main.yaml.jsonl"])
        .await
        .code(0);
    assert_eq!(server.each_received(bodies).await[4..], ["/jobs \"b-id\""]);
    assert_eq!(
        item_field(&out, "each", "outputs"),
        [json!({"job": "job-a"}), json!({"job": "job-b"})]
    );
    assert_eq!(
        item_field(&out, "each", "resumed"),
        [json!(true), json!(false)]
    );
}

#[test]
fn validate_points_at_the_inner_step() {
    let rest = r#"steps:
  - id: each
    for_each: [a, b]
    as: name
    steps:
      - id: create
        action: CREATE_ITEM
        params: {name: "{{ item }}"}
      - action: UPDATE_ITM
        params: {id: "{{ steps.create.response.id }}"}
"#;
    let ws: Workspace = workspace("http://127.0.0.1:9", rest);
    let text = ws.read("main.yaml");
    let out = ws.runner(["validate", "main.yaml"]).run().code(2);
    let (item, action) = (line_of(&text, "{{ item }}"), line_of(&text, "UPDATE_ITM"));
    out.stderr_has(&format!(
        "main.yaml:{item}:24: steps[0] (each).steps[0] (create).params.name"
    ))
    .stderr_has("this loop names its item `name` (`as: name`)")
    .stderr_has(&format!(
        "main.yaml:{action}:17: steps[0] (each).steps[1].action"
    ))
    .stderr_has("did you mean `UPDATE_ITEM`?");
}

#[test]
fn plan_expands_nested_inline_steps_the_outer_item_passed_with_with() {
    let rest = r#"steps:
  - id: outer
    for_each: [{n: a, tags: [x, y]}, {n: b, tags: [z]}]
    as: row
    steps:
      - id: tags
        for_each: "{{ row.tags }}"
        as: tag
        with: {n: "{{ row.n }}"}
        steps:
          - id: create
            action: CREATE_ITEM
            params: {name: "{{ inputs.n }}-{{ tag }}-{{ index }}"}
"#;
    let ws = workspace("http://127.0.0.1:9", rest);
    let out = ws
        .runner(["plan", "main.yaml", "--output", "json"])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(0);
    let planned: Vec<(Value, Value)> = out.json()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["action"] == "CREATE_ITEM")
        .map(|s| (s["label"].clone(), s["body"]["name"].clone()))
        .collect();
    assert_eq!(
        planned,
        [
            (
                json!("steps[0] (outer)[0].steps[0] (tags)[0].steps[0] (create)"),
                json!("a-x-0")
            ),
            (
                json!("steps[0] (outer)[0].steps[0] (tags)[1].steps[0] (create)"),
                json!("a-y-1")
            ),
            (
                json!("steps[0] (outer)[1].steps[0] (tags)[0].steps[0] (create)"),
                json!("b-z-0")
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_after_a_kill_mid_item_skips_the_completed_posts_of_every_item() {
    let (hold, mut held) = HoldFirst::new(json_reply(200, json!({})));
    let server = Server::build()
        .reply("POST /items", Create)
        .reply("GET /items/b-id", hold)
        .reply("GET", json_reply(200, json!({})))
        .start()
        .await;
    let rest = r#"steps:
  - id: each
    for_each: [a, b, c]
    steps:
      - id: create
        action: CREATE_ITEM
        params: {name: "{{ item }}"}
      - id: check
        action: GET_ITEM
        params: {id: "{{ steps.create.response.id }}"}
"#;
    let ws = workspace(&server.uri(), rest);
    let running = ws
        .runner(["apply", "main.yaml"])
        .env("API_TOKEN", TOKEN)
        .spawn();
    let out = signal_when_held(running, &mut held, "-KILL").await;
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    let first = [
        "POST /items",
        "GET /items/a-id",
        "POST /items",
        "GET /items/b-id",
    ];
    assert_eq!(server.requests().await, first);

    // Item a is done and item b created its item: the GET in flight at the
    // kill is sent again (it is safe to), then item c.
    let out = apply_json(&ws, &["--resume", ".runner/main.yaml.jsonl"])
        .await
        .code(0);
    assert_eq!(
        server.requests().await[first.len()..],
        ["GET /items/b-id", "POST /items", "GET /items/c-id"]
    );
    assert_eq!(
        item_field(&out, "each", "resumed"),
        [json!(true), json!(false), json!(false)]
    );
}
