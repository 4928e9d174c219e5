//! Answers that say an app's quota is spent, in each form APIs send them:
//! GitHub's `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset`, the IETF
//! `RateLimit` field (structured, and the older `RateLimit-Remaining` /
//! `RateLimit-Reset`), GitHub's secondary limit (a 403 with
//! `Retry-After`, for a POST too). Later requests to the app wait for the
//! reset and say so once; a reset further away than `retry.max_wait` fails
//! them at once, naming the app, the fields and the wait, and a POST kept
//! back that way is journalled as never sent. Resets are a second away at
//! most.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::meter::{Meter, Reply};
use super::{apply, spec};
use crate::harness::Workspace;
use crate::harness::journal::JOURNAL;

/// A read, then two more at once: they wait for what the first answer said.
const THREE_READS: &str = r#"steps:
  - id: first
    action: GET_ITEM
    params: {id: "1"}
  - id: more
    for_each: ["2", "3"]
    concurrency: 2
    action: GET_ITEM
    params: {id: "{{ item }}"}
"#;

/// Epoch seconds, a second or less from now.
fn next_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 1
}

#[tokio::test(flavor = "multi_thread")]
async fn github_remaining_zero_holds_every_later_request_until_the_reset() {
    let reset = next_second();
    let meter = Meter::answering(move |n, _| {
        let reply = Reply::new(200).body(json!({"id": n}));
        if n == 0 {
            reply
                .header("X-RateLimit-Remaining", 0)
                .header("X-RateLimit-Reset", reset)
        } else {
            reply.header("X-RateLimit-Remaining", 4999)
        }
    })
    .await;
    let ws = Workspace::main(&spec(&meter.uri(), "", THREE_READS));
    let out = apply(&ws).await.code(0);
    let arrivals = meter.arrivals();
    assert_eq!(arrivals.len(), 3, "{out:?}");
    // Give or take the few microseconds that the wall clock and the
    // runner's monotonic one may drift apart in a second.
    let reset_at = UNIX_EPOCH + Duration::from_secs(reset) - Duration::from_millis(5);
    for later in &arrivals[1..] {
        assert!(later.wall >= reset_at, "{later:?} before {reset}: {out:?}");
    }
    // Said once, though two requests waited.
    let said: Vec<_> = out
        .stderr
        .lines()
        .filter(|l| l.contains("rate limit is spent"))
        .collect();
    assert_eq!(said.len(), 1, "{out:?}");
    assert!(
        said[0].starts_with(&format!(
            "warning: app `api`: the API says its rate limit is spent (X-RateLimit-Remaining: 0, X-RateLimit-Reset: {reset}); waiting "
        )),
        "{said:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ietf_structured_field_on_a_429_is_waited_for_then_retried() {
    let meter = Meter::answering(|n, _| match n {
        0 => Reply::new(429)
            .header("RateLimit", "\"default\";r=0;t=1")
            .header("RateLimit-Policy", "\"default\";q=100;w=60"),
        _ => Reply::new(200),
    })
    .await;
    let rest = "steps:\n  - id: get\n    action: GET_ITEM\n    params: {id: \"1\"}\n";
    let ws = Workspace::main(&spec(&meter.uri(), "", rest));
    let out = apply(&ws).await.code(0);
    let arrivals = meter.arrivals();
    assert_eq!(arrivals.len(), 2, "{out:?}");
    assert!(
        arrivals[1].at - arrivals[0].at >= Duration::from_secs(1),
        "{arrivals:?}"
    );
    assert_eq!(out.step(0)["retries"][0]["wait_ms"], json!(1000), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_older_ietf_fields_hold_later_requests_until_the_reset() {
    let meter = Meter::answering(|n, _| match n {
        0 => Reply::new(200)
            .header("RateLimit-Limit", 10)
            .header("RateLimit-Remaining", 0)
            .header("RateLimit-Reset", 1),
        _ => Reply::new(200),
    })
    .await;
    let ws = Workspace::main(&spec(&meter.uri(), "", THREE_READS));
    let out = apply(&ws)
        .await
        .code(0)
        .stderr_has("the API says its rate limit is spent (RateLimit-Remaining: 0, RateLimit-Reset: 1); waiting 1 s");
    let arrivals = meter.arrivals();
    assert_eq!(arrivals.len(), 3, "{out:?}");
    for later in &arrivals[1..] {
        assert!(
            later.at - arrivals[0].at >= Duration::from_millis(990),
            "{arrivals:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn githubs_secondary_limit_on_a_post_is_waited_for_and_the_post_sent_again() {
    let meter = Meter::answering(|n, _| match n {
        0 => Reply::new(403)
            .header("retry-after", 1)
            .body(json!({"message": "You have exceeded a secondary rate limit."})),
        _ => Reply::new(201).body(json!({"id": 7})),
    })
    .await;
    let rest = "steps:\n  - id: create\n    action: CREATE_ITEM\n    params: {name: n}\n";
    let ws = Workspace::main(&spec(&meter.uri(), "", rest));
    let out = apply(&ws).await.code(0);
    let arrivals = meter.arrivals();
    let methods: Vec<_> = arrivals.iter().map(|a| a.method.as_str()).collect();
    assert_eq!(methods, ["POST", "POST"], "{out:?}");
    assert!(
        arrivals[1].at - arrivals[0].at >= Duration::from_secs(1),
        "{arrivals:?}"
    );
    let retry = &out.step(0)["retries"][0];
    assert_eq!(retry["wait_ms"], json!(1000), "{out:?}");
    assert_eq!(retry["reason"], json!("403 Forbidden"), "{out:?}");
    assert_eq!(out.step(0)["response"], json!({"id": 7}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_beyond_max_wait_fails_later_requests_at_once_naming_app_and_fields() {
    let reset = next_second() + 3600;
    let meter = Meter::answering(move |_, _| {
        Reply::new(200)
            .header("X-RateLimit-Remaining", 0)
            .header("X-RateLimit-Reset", reset)
    })
    .await;
    let started = std::time::Instant::now();
    let ws = Workspace::main(&spec(
        &meter.uri(),
        "    retry: {max_wait: 5s}\n",
        THREE_READS,
    ));
    let out = apply(&ws).await.code(1);
    assert!(started.elapsed() < Duration::from_secs(5), "{out:?}");
    assert_eq!(meter.arrivals().len(), 1, "{out:?}");
    let more = out.step(1);
    assert_eq!(more["error_kind"], json!("rate_limited"), "{out:?}");
    let error = more["error"].as_str().expect("an error");
    // Both items fail; the loop's error is the first item's.
    let expected = format!(
        "item 0: app `api`: the API says its rate limit is spent (X-RateLimit-Remaining: 0, X-RateLimit-Reset: {reset}) for "
    );
    assert!(error.starts_with(&expected), "{error}");
    assert!(
        error.ends_with(
            " s more, longer than the 5 s a request may wait (`retry.max_wait`) (2 items failed)"
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secondary_limit_beyond_max_wait_fails_the_post_without_sending_it_again() {
    let meter = Meter::answering(|_, _| {
        Reply::new(403)
            .header("Retry-After", 3600)
            .body(json!({"message": "You have exceeded a secondary rate limit."}))
    })
    .await;
    let rest = "steps:\n  - id: create\n    action: CREATE_ITEM\n    params: {name: n}\n";
    let ws = Workspace::main(&spec(&meter.uri(), "", rest));
    let out = apply(&ws).await.code(1);
    assert_eq!(meter.arrivals().len(), 1, "{out:?}");
    let step = out.step(0);
    assert_eq!(step["error_kind"], json!("rate_limited"), "{out:?}");
    assert_eq!(
        step["error"],
        json!(
            "app `api`: the API says its rate limit is spent (Retry-After: 3600) for 3600 s more, longer than the 30 s a request may wait (`retry.max_wait`)"
        ),
        "{out:?}"
    );
    assert_eq!(step["http_status"], json!(403), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_kept_back_by_a_spent_quota_is_not_in_doubt_on_resume() {
    let reset = next_second() + 3600;
    let meter = Meter::answering(move |n, _| match n {
        0 => Reply::new(200)
            .header("X-RateLimit-Remaining", 0)
            .header("X-RateLimit-Reset", reset),
        _ => Reply::new(201).body(json!({"id": 7})),
    })
    .await;
    let rest = r#"steps:
  - id: read
    action: GET_ITEM
    params: {id: "1"}
  - id: create
    action: CREATE_ITEM
    params: {name: n}
"#;
    let ws = Workspace::main(&spec(&meter.uri(), "", rest));
    let out = apply(&ws).await.code(1);
    assert_eq!(out.step(1)["error_kind"], json!("rate_limited"), "{out:?}");
    // Journalled as never sent: resuming sends it without
    // `--rerun-uncertain`, and the read is not repeated.
    let out = ws
        .runner([
            "apply",
            "main.yaml",
            "--output",
            "json",
            "--resume",
            JOURNAL,
        ])
        .await
        .code(0);
    let methods: Vec<_> = meter.arrivals().iter().map(|a| a.method.clone()).collect();
    assert_eq!(methods, ["GET", "POST"], "{out:?}");
    assert_eq!(out.step(1)["response"], json!({"id": 7}), "{out:?}");
}
