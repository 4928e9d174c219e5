//! An app's `limits` hold for all its requests together, for the whole
//! run: nested loops over a sub-workflow's loop, a sub-workflow's steps
//! run from a loop, retries — measured at the server.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use serde_json::json;

use super::meter::{Meter, Reply};
use super::{apply, spawn, spec};
use crate::harness::{Run, Workspace};

/// Three groups at once, each a sub-workflow reading four items at once:
/// twelve requests ready together.
const OUTER: &str = r#"steps:
  - id: groups
    for_each: [a, b, c]
    concurrency: 3
    uses: flows/group.yaml
    with: {group: "{{ item }}"}
"#;

const GROUP: &str = r#"version: 1
inputs:
  group: {type: string, required: true}
steps:
  - id: items
    for_each: [0, 1, 2, 3]
    concurrency: 4
    action: GET_ITEM
    params: {id: "{{ inputs.group }}{{ item }}"}
"#;

fn nested(base: &str, limits: &str) -> Workspace {
    Workspace::main(&spec(base, limits, OUTER)).file("flows/group.yaml", GROUP)
}

/// Waits for the run to end; a request arriving meanwhile fails the test.
async fn ends_sending_nothing_more(meter: &mut Meter, run: tokio::task::JoinHandle<Run>) -> Run {
    tokio::select! {
        out = run => out.expect("join"),
        extra = meter.next() => panic!("unexpected request {:?}", extra.arrival),
    }
}

/// Holds up to `limit` requests at once, answering the oldest only when
/// that many are held, until `total` were answered: a runner that sent
/// more at once would have more in flight at the server.
async fn serve_held(meter: &mut Meter, limit: usize, total: usize) -> BTreeSet<String> {
    let mut held = VecDeque::new();
    let mut targets = BTreeSet::new();
    let mut received = 0;
    while targets.len() < total {
        if held.len() < limit && received < total {
            let h = meter.next().await;
            assert!(
                h.arrival.in_flight <= limit,
                "{} in flight at {}",
                h.arrival.in_flight,
                h.arrival.target
            );
            received += 1;
            held.push_back(h);
        } else {
            let h = held.pop_front().expect("a held request");
            targets.insert(h.arrival.target.clone());
            h.answer(Reply::new(200));
        }
    }
    targets
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_loops_keep_an_apps_concurrency_across_the_sub_workflow() {
    let mut meter = Meter::holding().await;
    let ws = nested(&meter.uri(), "    limits: {concurrency: 2}\n");
    let run = spawn(&ws);
    let targets = serve_held(&mut meter, 2, 12).await;
    let out = ends_sending_nothing_more(&mut meter, run).await.code(0);
    // 3 x 4 would be twelve at once; the app allows two, and uses them.
    assert_eq!(meter.max_in_flight(), 2, "{out:?}");
    let expected: BTreeSet<String> = ["a", "b", "c"]
        .iter()
        .flat_map(|g| (0..4).map(move |i| format!("/items/{g}{i}")))
        .collect();
    assert_eq!(targets, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_loops_start_no_faster_than_an_apps_rate() {
    let meter = Meter::answering(|_, _| Reply::new(200)).await;
    let ws = nested(&meter.uri(), "    limits: {rate: 20/s}\n");
    let out = apply(&ws).await.code(0);
    let starts: Vec<_> = meter.arrivals().iter().map(|a| a.at).collect();
    assert_eq!(starts.len(), 12, "{out:?}");
    // Twelve starts at least 50 ms apart span 550 ms; a little less at the
    // server, as connecting takes longer for some than for others.
    let span = starts[11] - starts[0];
    assert!(span >= Duration::from_millis(450), "{span:?}: {out:?}");
    // At most 8 start within any 400 ms (10 allowed for the same reason);
    // unlimited, all twelve would start at once.
    for (i, first) in starts.iter().enumerate() {
        let within = starts[i..]
            .iter()
            .filter(|s| **s - *first < Duration::from_millis(400))
            .count();
        assert!(within <= 10, "{starts:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_workflows_steps_share_the_limit_with_the_loop_around_them() {
    let mut meter = Meter::holding().await;
    let rest = r#"steps:
  - id: each
    for_each: [a, b, c, d]
    concurrency: 4
    uses: flows/create.yaml
    with: {name: "{{ item }}"}
"#;
    let create = r#"version: 1
inputs:
  name: {type: string, required: true}
steps:
  - id: create
    action: CREATE_ITEM
    params: {name: "{{ inputs.name }}"}
  - id: check
    action: GET_ITEM
    params: {id: "{{ inputs.name }}"}
"#;
    let ws = Workspace::main(&spec(&meter.uri(), "    limits: {concurrency: 1}\n", rest))
        .file("flows/create.yaml", create);
    let run = spawn(&ws);
    let mut seen = Vec::new();
    for _ in 0..8 {
        let h = meter.next().await;
        assert_eq!(h.arrival.in_flight, 1, "{:?}", h.arrival);
        seen.push(format!("{} {}", h.arrival.method, h.arrival.target));
        let status = if h.arrival.method == "POST" { 201 } else { 200 };
        h.answer(Reply::new(status).body(json!({"id": 1})));
    }
    let out = ends_sending_nothing_more(&mut meter, run).await.code(0);
    assert_eq!(meter.max_in_flight(), 1, "{out:?}");
    assert_eq!(seen.iter().filter(|s| s.starts_with("POST")).count(), 4);
    for name in ["a", "b", "c", "d"] {
        assert!(seen.contains(&format!("GET /items/{name}")), "{seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_start_no_faster_than_the_rate_either() {
    let meter = Meter::answering(|n, _| Reply::new(if n < 2 { 503 } else { 200 })).await;
    let app = "    limits: {rate: 10/s}\n    retry: {attempts: 3, backoff: 1ms}\n";
    let rest = "steps:\n  - id: get\n    action: GET_ITEM\n    params: {id: x}\n";
    let ws = Workspace::main(&spec(&meter.uri(), app, rest));
    let out = apply(&ws).await.code(0);
    let starts: Vec<_> = meter.arrivals().iter().map(|a| a.at).collect();
    assert_eq!(starts.len(), 3, "{out:?}");
    // A backoff of 1 ms, but tries 100 ms apart.
    for pair in starts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(90),
            "{starts:?}: {out:?}"
        );
    }
}
