//! `for_each`: the lists a loop can take, its item and index, items in
//! flight at once (`concurrency`), results in item order whatever order
//! they finish in, what a failed item does (with and without
//! `continue_on_error`), `max_items`, and what the report and later steps
//! see of the items.

use std::collections::BTreeSet;
use std::future::IntoFuture;

use serde_json::{Value, json};
use wiremock::matchers::path_regex;

use super::gate::Gate;
use super::{TOKEN, apply_json, apply_text, assert_failed, item_field, run_json, step, workspace};
use crate::harness::{RequestExt, Run, Server, Workspace, json_reply};

/// `apply --output json` started now, on its own task, so the test can
/// answer its requests while it runs.
fn spawn_json(ws: &Workspace, args: &[&str]) -> tokio::task::JoinHandle<Run> {
    let cmd = ws
        .runner(["apply", "main.yaml", "--output", "json"])
        .args(args)
        .env("API_TOKEN", TOKEN);
    tokio::spawn(cmd.into_future())
}

/// Waits for the run to end; a request arriving meanwhile fails the test.
async fn ends_sending_nothing_more(gate: &mut Gate, run: tokio::task::JoinHandle<Run>) -> Run {
    tokio::select! {
        out = run => out.expect("join"),
        extra = gate.next() => panic!("unexpected request {} {}", extra.method, extra.target),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn loops_over_a_literal_list_inputs_vars_and_an_earlier_response() {
    let server = Server::build()
        .reply(
            "GET /items",
            json_reply(
                200,
                json!({"items": [{"id": "r1", "name": "one"}, {"id": "r2", "name": "two"}]}),
            ),
        )
        .reply("GET", json_reply(200, json!({})))
        .reply("PUT", json_reply(200, json!({})))
        .start()
        .await;
    let rest = r#"inputs:
  ids: {type: array, required: true}
vars:
  more: [v1, v2]
steps:
  - id: literal
    for_each: [a, b]
    action: GET_ITEM
    params: {id: "{{ item }}-{{ index }}"}
  - id: from_inputs
    for_each: "{{ inputs.ids }}"
    as: thing
    action: GET_ITEM
    params: {id: "{{ thing }}"}
  - id: from_vars
    for_each: "{{ vars.more }}"
    action: GET_ITEM
    params: {id: "{{ item }}"}
  - id: list
    action: LIST_ITEMS
  - id: from_response
    for_each: "{{ steps.list.response['items'] }}"
    as: row
    action: UPDATE_ITEM
    params: {id: "{{ row.id }}", name: "{{ row.name }} #{{ index }}"}
"#;
    let ws = workspace(&server.uri(), rest);
    let out = apply_json(&ws, &["--input", "ids=[i1, i2]"]).await.code(0);
    assert_eq!(
        server.requests().await,
        [
            "GET /items/a-0",
            "GET /items/b-1",
            "GET /items/i1",
            "GET /items/i2",
            "GET /items/v1",
            "GET /items/v2",
            "GET /items",
            "PUT /items/r1",
            "PUT /items/r2",
        ]
    );
    let received = server.received().await;
    assert_eq!(received[7].json(), json!({"name": "one #0"}));
    assert_eq!(received[8].json(), json!({"name": "two #1"}));
    for id in ["literal", "from_inputs", "from_vars", "from_response"] {
        assert_eq!(item_field(&out, id, "index"), [json!(0), json!(1)], "{id}");
        assert_eq!(
            item_field(&out, id, "status"),
            [json!("ok"), json!("ok")],
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_keeps_at_most_n_in_flight_and_results_in_item_order() {
    let mut gate = Gate::start().await;
    let rest = r#"steps:
  - id: fan
    for_each: [0, 1, 2, 3, 4, 5]
    concurrency: 3
    action: GET_ITEM
    params: {id: "n{{ item }}"}
    outputs:
      got: "{{ response.id }}"
outputs:
  got: "{{ steps.fan.items | map(attribute='outputs.got') | list }}"
  indexes: "{{ steps.fan.items | map(attribute='index') | list }}"
"#;
    let ws = workspace(&gate.uri(), rest);
    let run = spawn_json(&ws, &[]);

    // The first three start together: three in flight, none answered.
    let mut held = std::collections::BTreeMap::new();
    for _ in 0..3 {
        let h = gate.next().await;
        held.insert(h.target.clone(), h);
    }
    assert_eq!(
        held.keys().map(String::as_str).collect::<Vec<_>>(),
        ["/items/n0", "/items/n1", "/items/n2"]
    );
    assert_eq!(held.values().map(|h| h.in_flight).max(), Some(3));
    // Later items answer first; each answer lets exactly the next item start.
    for (done, next) in [(2, 3), (1, 4), (0, 5)] {
        let h = held.remove(&format!("/items/n{done}")).expect("held");
        h.answer(200, json!({"id": format!("n{done}")}));
        let h = gate.next().await;
        assert_eq!(h.target, format!("/items/n{next}"));
        assert!(h.in_flight <= 3, "{} in flight", h.in_flight);
        held.insert(h.target.clone(), h);
    }
    for done in [5, 4, 3] {
        let h = held.remove(&format!("/items/n{done}")).expect("held");
        h.answer(200, json!({"id": format!("n{done}")}));
    }
    let out = ends_sending_nothing_more(&mut gate, run).await.code(0);
    assert_eq!(gate.max_in_flight(), 3);

    let ids: Vec<Value> = (0..6).map(|i| json!({"id": format!("n{i}")})).collect();
    assert_eq!(item_field(&out, "fan", "response"), ids);
    assert_eq!(
        item_field(&out, "fan", "index"),
        (0..6).map(|i| json!(i)).collect::<Vec<_>>()
    );
    let doc = out.json();
    assert_eq!(
        doc["outputs"]["got"],
        json!(["n0", "n1", "n2", "n3", "n4", "n5"])
    );
    assert_eq!(doc["outputs"]["indexes"], json!([0, 1, 2, 3, 4, 5]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_request_stops_the_loop_and_fails_the_step() {
    let mut gate = Gate::start().await;
    let rest = r#"steps:
  - id: each
    for_each: [a, b, c, d]
    action: CREATE_ITEM
    params: {name: "{{ item }}"}
  - id: later
    action: GET_ITEM
    params: {id: "1"}
"#;
    let ws = workspace(&gate.uri(), rest);
    let run = spawn_json(&ws, &[]);
    let a = gate.next().await;
    assert_eq!(a.json(), json!({"name": "a"}));
    a.answer(201, json!({"id": 1}));
    let b = gate.next().await;
    assert_eq!(b.json(), json!({"name": "b"}));
    b.answer(422, json!({"message": "name taken"}));
    let out = ends_sending_nothing_more(&mut gate, run).await.code(1);

    assert_failed(
        &out,
        "each",
        "status",
        "item 1: expected a 2xx status, got 422 Unprocessable Entity: name taken",
    );
    assert_eq!(
        item_field(&out, "each", "status"),
        [
            json!("ok"),
            json!("failed"),
            json!("skipped"),
            json!("skipped")
        ]
    );
    assert_eq!(
        item_field(&out, "each", "http_status"),
        [json!(201), json!(422), json!(null), json!(null)]
    );
    assert_eq!(step(&out, "later")["skip_reason"], json!("earlier_failure"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_item_starts_no_new_item_and_those_in_flight_finish() {
    let mut gate = Gate::start().await;
    // The second item cannot render (`name` is missing): it fails at once,
    // while the first is in flight.
    let rest = r#"steps:
  - id: list
    action: LIST_ITEMS
  - id: each
    for_each: "{{ steps.list.response }}"
    concurrency: 2
    action: GET_ITEM
    params: {id: "{{ item.name }}"}
"#;
    let ws = workspace(&gate.uri(), rest);
    let run = spawn_json(&ws, &[]);
    let list = gate.next().await;
    assert_eq!(list.target, "/items");
    list.answer(
        200,
        json!([{"name": "a"}, {"nom": "b"}, {"name": "c"}, {"name": "d"}]),
    );
    let first = gate.next().await;
    assert_eq!(first.target, "/items/a");
    // Answered after the failure: it still finishes, and nothing else starts.
    first.answer(200, json!({"id": "a"}));
    let out = ends_sending_nothing_more(&mut gate, run).await.code(1);
    assert_eq!(
        item_field(&out, "each", "status"),
        [
            json!("ok"),
            json!("failed"),
            json!("skipped"),
            json!("skipped")
        ]
    );
    assert_eq!(
        item_field(&out, "each", "response"),
        [json!({"id": "a"}), json!(null), json!(null), json!(null)]
    );
    assert_eq!(
        item_field(&out, "each", "error_kind"),
        [json!(null), json!("render"), json!(null), json!(null)]
    );
    let each = step(&out, "each");
    assert_eq!(each["status"], json!("failed"));
    assert!(
        each["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("item 1: param `id`"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn continue_on_error_runs_every_item_and_reports_each_failure() {
    let server = Server::build()
        .mock(
            Server::given("GET")
                .and(path_regex("^/items/(2|4)$"))
                .respond_with(json_reply(404, json!({"message": "gone"}))),
        )
        .reply("GET", json_reply(200, json!({"ok": true})))
        .start()
        .await;
    let rest = r#"steps:
  - id: each
    for_each: [1, 2, 3, 4]
    continue_on_error: true
    action: GET_ITEM
    params: {id: "{{ item }}"}
  - id: later
    action: GET_ITEM
    params: {id: "later"}
"#;
    let (ws, out) = run_json(&server, rest, 0).await;
    assert_eq!(
        server.requests().await,
        [
            "GET /items/1",
            "GET /items/2",
            "GET /items/3",
            "GET /items/4",
            "GET /items/later"
        ]
    );
    let each = step(&out, "each");
    assert_eq!(each["status"], json!("failed"));
    assert_eq!(
        each["error"],
        json!("item 1: expected a 2xx status, got 404 Not Found: gone (2 items failed)")
    );
    let items = each["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 4);
    for (i, item) in items.iter().enumerate() {
        let failed = i % 2 == 1;
        let keys: BTreeSet<&str> = item
            .as_object()
            .expect("item")
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "index",
            "status",
            "http_status",
            "duration_ms",
            "response",
            "error",
            "error_kind",
        ] {
            assert!(keys.contains(key), "item {i} has no `{key}`: {item}");
        }
        assert_eq!(item["index"], json!(i));
        assert!(item["duration_ms"].is_u64(), "{item}");
        assert_eq!(item["status"], json!(if failed { "failed" } else { "ok" }));
        assert_eq!(item["http_status"], json!(if failed { 404 } else { 200 }));
        if failed {
            assert_eq!(item["error_kind"], json!("status"));
            assert_eq!(
                item["error"],
                json!("expected a 2xx status, got 404 Not Found: gone")
            );
            assert_eq!(item["response"], json!({"message": "gone"}));
        } else {
            assert_eq!(item["error"], json!(null));
            assert_eq!(item["error_kind"], json!(null));
            assert_eq!(item["response"], json!({"ok": true}));
        }
    }
    assert_eq!(step(&out, "later")["status"], json!("ok"));

    // Text: the step's line says which items failed, each one on its own.
    let out = apply_text(&ws, &[])
        .await
        .code(0)
        .stdout_has("2 of 4 items ok")
        .stdout_has("error: item 1: expected a 2xx status, got 404 Not Found: gone (2 items failed) (continuing: `continue_on_error`)")
        .stdout_has("[3] error: expected a 2xx status, got 404 Not Found: gone");
    assert_eq!(out.stdout.matches("[1] error").count(), 0, "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_max_items_is_an_error_before_any_item_is_sent() {
    let server = Server::build()
        .reply("GET /items", json_reply(200, json!(["a", "b", "c"])))
        .reply("GET", json_reply(200, json!({})))
        .start()
        .await;
    // A list known before the run: nothing at all is sent.
    let known = r#"steps:
  - id: first
    action: GET_ITEM
    params: {id: "0"}
  - id: each
    for_each: [a, b, c]
    max_items: 2
    action: GET_ITEM
    params: {id: "{{ item }}"}
"#;
    let ws = workspace(&server.uri(), known);
    let out = apply_text(&ws, &[]).await.code(2).stderr_has(
        "for_each: the list has 3 items, more than `max_items` (2); nothing was sent for this step",
    );
    let line = super::line_of(&ws.read("main.yaml"), "for_each: [a, b, c]");
    assert!(
        out.stderr.contains(&format!("main.yaml:{line}:")),
        "{out:?}"
    );
    assert!(server.received().await.is_empty());

    // A list known only from a response: the loop sends none of its items.
    let unknown = r#"steps:
  - id: list
    action: LIST_ITEMS
  - id: each
    for_each: "{{ steps.list.response }}"
    max_items: 2
    action: GET_ITEM
    params: {id: "{{ item }}"}
"#;
    ws.write("main.yaml", &super::spec(&server.uri(), unknown));
    let out = apply_json(&ws, &[]).await.code(1);
    assert_eq!(server.requests().await, ["GET /items"]);
    assert_failed(
        &out,
        "each",
        "render",
        "for_each: the list has 3 items, more than `max_items` (2); nothing was sent for this step",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn later_steps_see_each_item_with_its_index_item_status_headers_response_outputs() {
    let server = Server::build()
        .reply(
            "GET /items/1",
            json_reply(200, json!({"value": 10})).insert_header("X-Id", "one"),
        )
        .reply(
            "GET /items/2",
            json_reply(200, json!({"value": 20})).insert_header("X-Id", "two"),
        )
        .reply("PUT", json_reply(200, json!({})))
        .start()
        .await;
    let rest = r#"steps:
  - id: fan
    for_each: [{n: 1}, {n: 2}]
    action: GET_ITEM
    params: {id: "{{ item.n }}"}
    outputs:
      doubled: "{{ response.value * 2 }}"
      at: "{{ index }}"
  - id: use
    action: UPDATE_ITEM
    params:
      id: "{{ steps.fan.items[0].outputs.doubled }}"
      name: "{{ steps.fan.items[1].headers['x-id'] }} {{ steps.fan.items[1].status }} {{ steps.fan.items | length }}"
outputs:
  second: "{{ steps.fan.items[1] }}"
"#;
    let (_, out) = run_json(&server, rest, 0).await;
    let put = server.received().await.pop().expect("a request");
    assert_eq!(put.url.path(), "/items/20");
    assert_eq!(put.json(), json!({"name": "two 200 2"}));

    let second = out.json()["outputs"]["second"].clone();
    let keys: BTreeSet<&str> = second
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["index", "item", "status", "headers", "response", "outputs"]),
        "{second}"
    );
    assert_eq!(second["index"], json!(1));
    assert_eq!(second["item"], json!({"n": 2}));
    assert_eq!(second["status"], json!(200));
    assert_eq!(second["headers"]["x-id"], json!("two"));
    assert_eq!(second["response"], json!({"value": 20}));
    assert_eq!(second["outputs"], json!({"doubled": 40, "at": 1}));
    // The report carries each item's outputs too.
    assert_eq!(
        item_field(&out, "fan", "outputs"),
        [
            json!({"doubled": 20, "at": 0}),
            json!({"doubled": 40, "at": 1})
        ]
    );
}
