//! `if`: a false condition skips the step (`skip_reason: condition`); after
//! a failure later steps are skipped (`earlier_failure`) unless their `if`
//! calls `failure()` or `always()`; a failure under `continue_on_error`
//! does not count; inside a loop the condition is per item when it uses the
//! item; a condition that is not a boolean fails with kind `render`.

use serde_json::json;

use super::{apply_json, apply_text, assert_failed, item_field, run_json, step};
use crate::harness::{RequestExt, Server, json_reply, squash};

/// GET `/items/boom` answers 500; every other request succeeds.
async fn server() -> Server {
    Server::build()
        .reply(
            "GET /items/boom",
            json_reply(500, json!({"message": "on fire"})),
        )
        .reply("GET", json_reply(200, json!({"ok": true})))
        .reply("PUT", json_reply(200, json!({"ok": true})))
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_false_condition_skips_the_step() {
    let server = server().await;
    let rest = r#"inputs:
  flag: {type: boolean, default: false}
steps:
  - id: literal
    if: false
    action: GET_ITEM
    params: {id: "1"}
  - id: templated
    if: "{{ inputs.flag }}"
    action: GET_ITEM
    params: {id: "2"}
  - id: runs
    if: "{{ not inputs.flag }}"
    action: GET_ITEM
    params: {id: "3"}
"#;
    let (ws, out) = run_json(&server, rest, 0).await;
    assert_eq!(server.requests().await, ["GET /items/3"]);
    for id in ["literal", "templated"] {
        let s = step(&out, id);
        assert_eq!(s["status"], json!("skipped"), "{out:?}");
        assert_eq!(s["skip_reason"], json!("condition"), "{out:?}");
    }
    assert_eq!(step(&out, "runs")["status"], json!("ok"));
    assert_eq!(step(&out, "runs")["skip_reason"], json!(null));

    let out = apply_text(&ws, &[]).await;
    let text = squash(&out.stdout);
    assert!(
        text.contains("skipped literal GET_ITEM (its `if` is false)"),
        "{out:?}"
    );
    assert!(text.contains("1 ok, 2 skipped in"), "{out:?}");

    // Made true from outside, the step runs.
    let out = apply_json(&ws, &["--input", "flag=true"]).await.code(0);
    assert_eq!(step(&out, "templated")["status"], json!("ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_failure_only_failure_and_always_steps_run() {
    let server = server().await;
    let rest = r#"steps:
  - id: boom
    action: GET_ITEM
    params: {id: boom}
  - id: next
    action: GET_ITEM
    params: {id: next}
  - id: on_success
    if: "{{ success() }}"
    action: GET_ITEM
    params: {id: on_success}
  - id: cleanup
    if: "{{ failure() }}"
    action: UPDATE_ITEM
    params: {id: cleanup, name: "after {{ steps.boom.status }}"}
  - id: always
    if: "{{ always() }}"
    action: GET_ITEM
    params: {id: always}
"#;
    let (ws, out) = run_json(&server, rest, 1).await;
    assert_eq!(
        server.requests().await,
        ["GET /items/boom", "PUT /items/cleanup", "GET /items/always"]
    );
    assert_eq!(
        server.received().await[1].json(),
        json!({"name": "after 500"})
    );
    assert_eq!(step(&out, "boom")["status"], json!("failed"));
    for id in ["next", "on_success"] {
        assert_eq!(step(&out, id)["status"], json!("skipped"), "{out:?}");
        assert_eq!(
            step(&out, id)["skip_reason"],
            json!("earlier_failure"),
            "{out:?}"
        );
    }
    for id in ["cleanup", "always"] {
        assert_eq!(step(&out, id)["status"], json!("ok"), "{out:?}");
    }
    assert_eq!(out.json()["ok"], json!(false));

    // Without a failure, the cleanup is skipped by its condition.
    let quiet = rest.replace("params: {id: boom}", "params: {id: fine}");
    ws.write("main.yaml", &super::spec(&server.uri(), &quiet));
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(step(&out, "cleanup")["skip_reason"], json!("condition"));
    for id in ["next", "on_success", "always"] {
        assert_eq!(step(&out, id)["status"], json!("ok"), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_under_continue_on_error_does_not_trigger_failure() {
    let server = server().await;
    let rest = r#"steps:
  - id: soft
    action: GET_ITEM
    params: {id: boom}
    continue_on_error: true
  - id: cleanup
    if: "{{ failure() }}"
    action: GET_ITEM
    params: {id: cleanup}
  - id: next
    if: "{{ success() }}"
    action: GET_ITEM
    params: {id: next}
"#;
    let (_, out) = run_json(&server, rest, 0).await;
    assert_eq!(
        server.requests().await,
        ["GET /items/boom", "GET /items/next"]
    );
    assert_eq!(step(&out, "soft")["status"], json!("failed"));
    assert_eq!(step(&out, "cleanup")["status"], json!("skipped"));
    assert_eq!(step(&out, "cleanup")["skip_reason"], json!("condition"));
    assert_eq!(step(&out, "next")["status"], json!("ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_condition_on_the_item_is_evaluated_per_item() {
    let server = server().await;
    let rest = r#"inputs:
  skip: {type: string, default: "3"}
steps:
  - id: evens
    for_each: [1, 2, 3, 4]
    if: "{{ item % 2 == 0 }}"
    action: GET_ITEM
    params: {id: "even-{{ item }}"}
  - id: named
    for_each: ["1", "2", "3"]
    as: n
    if: "{{ n != inputs.skip and index > 0 }}"
    action: GET_ITEM
    params: {id: "named-{{ n }}"}
"#;
    let (_, out) = run_json(&server, rest, 0).await;
    assert_eq!(
        server.requests().await,
        [
            "GET /items/even-2",
            "GET /items/even-4",
            "GET /items/named-2"
        ]
    );
    assert_eq!(
        item_field(&out, "evens", "status"),
        [json!("skipped"), json!("ok"), json!("skipped"), json!("ok")]
    );
    assert_eq!(
        item_field(&out, "evens", "skip_reason"),
        [
            json!("condition"),
            json!(null),
            json!("condition"),
            json!(null)
        ]
    );
    assert_eq!(step(&out, "evens")["status"], json!("ok"));
    assert_eq!(
        item_field(&out, "named", "status"),
        [json!("skipped"), json!("ok"), json!("skipped")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_condition_that_is_not_a_boolean_fails_with_kind_render() {
    let server = server().await;
    let rest = r#"steps:
  - id: first
    action: GET_ITEM
    params: {id: "1"}
  - id: weird
    if: "{{ steps.first.status }}"
    action: GET_ITEM
    params: {id: "2"}
  - id: after
    action: GET_ITEM
    params: {id: "3"}
"#;
    let (ws, out) = run_json(&server, rest, 1).await;
    assert_eq!(server.requests().await, ["GET /items/1"]);
    assert_failed(
        &out,
        "weird",
        "render",
        "the condition must render to true or false, found an integer `200`",
    );
    assert_eq!(step(&out, "after")["skip_reason"], json!("earlier_failure"));

    // Known before the run (from inputs): refused before anything is sent.
    let known = r#"inputs:
  mode: {type: string, default: "yes"}
steps:
  - id: first
    action: GET_ITEM
    params: {id: "1"}
  - id: weird
    if: "{{ inputs.mode }}"
    action: GET_ITEM
    params: {id: "2"}
"#;
    server.reset().await;
    ws.write("main.yaml", &super::spec(&server.uri(), known));
    apply_text(&ws, &[])
        .refused(
            &server,
            "the condition must render to true or false, found a string `\"yes\"`",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_step_has_no_status_response_or_items_for_later_steps() {
    let server = server().await;
    let rest = r#"steps:
  - id: maybe
    if: false
    action: GET_ITEM
    params: {id: maybe}
    outputs:
      body: "{{ response }}"
  - id: loop
    if: false
    for_each: [a]
    action: GET_ITEM
    params: {id: "{{ item }}"}
  - id: fallback
    if: "{{ steps.maybe.status is none and steps.maybe.response is none }}"
    action: GET_ITEM
    params: {id: "fallback-{{ steps.loop.items | length }}"}
  - id: follow_up
    if: "{{ steps.maybe.status == 200 }}"
    action: GET_ITEM
    params: {id: follow_up}
outputs:
  status: "{{ steps.maybe.status }}"
  outputs: "{{ steps.maybe.outputs }}"
"#;
    let (_, out) = run_json(&server, rest, 0).await;
    assert_eq!(server.requests().await, ["GET /items/fallback-0"]);
    assert_eq!(step(&out, "follow_up")["skip_reason"], json!("condition"));
    assert_eq!(
        out.json()["outputs"],
        json!({"status": null, "outputs": {}})
    );
    assert!(!out.stderr.contains("undefined"), "{out:?}");
}
