//! `kill -9` at any instant of a step never leads `--resume` to send a
//! completed POST or PATCH again, and never skips a request that was not
//! sent: killed before the send (its `started` record written), while the
//! request is in flight, after the answer came (its end not journalled
//! yet), and halfway through writing its end — for a chain and for a
//! concurrent loop, with the journal synced the default way and strictly.
//!
//! The runner is stopped at the chosen point by `RUNNER_TEST_PAUSE` (debug
//! builds only: see `src/execute/failpoint.rs`), or, in flight, by the
//! server holding the request; either way it says so, and is killed then.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::harness::hold::{HoldFirst, kill9};
use crate::harness::{Server, Workspace, json_reply};

/// Where the runner dies.
#[derive(Clone, Copy, Debug)]
enum Point {
    /// After the `started` record, before the request leaves.
    BeforeSend,
    /// While the server holds the request.
    InFlight,
    /// After the answer, before its end is journalled.
    Answered,
    /// Halfway through writing its end: a torn last line.
    CompletionWrite,
}

const POINTS: [Point; 4] = [
    Point::BeforeSend,
    Point::InFlight,
    Point::Answered,
    Point::CompletionWrite,
];

const MODES: [&str; 2] = ["default", "strict"];

/// A chain: a POST, a GET, a PATCH and a POST, each using the answer
/// before it.
fn chain(base: &str) -> String {
    format!(
        r#"version: 1
apps:
  api:
    base_url: {base}
    retry: {{attempts: 1}}
    actions:
      MAKE: {{method: POST, path: "/a"}}
      READ: {{method: GET, path: "/b/{{id}}", params: {{id: {{type: integer, required: true}}}}}}
      CHANGE: {{method: PATCH, path: "/c/{{id}}", params: {{id: {{type: integer, required: true}}}}}}
      PUBLISH: {{method: POST, path: "/d/{{id}}", params: {{id: {{type: integer, required: true}}}}}}
steps:
  - {{id: make, action: MAKE}}
  - {{id: read, action: READ, params: {{id: "{{{{ steps.make.response.id }}}}"}}}}
  - {{id: change, action: CHANGE, params: {{id: "{{{{ steps.read.response.id }}}}"}}}}
  - {{id: publish, action: PUBLISH, params: {{id: "{{{{ steps.change.response.id }}}}"}}}}
"#
    )
}

/// A loop of six POSTs, three at a time.
fn looped(base: &str) -> String {
    format!(
        r#"version: 1
apps:
  api:
    base_url: {base}
    retry: {{attempts: 1}}
    actions:
      ADD: {{method: POST, path: "/items/{{n}}", params: {{n: {{type: integer, required: true}}}}}}
steps:
  - id: add
    for_each: [0, 1, 2, 3, 4, 5]
    concurrency: 3
    action: ADD
    params: {{n: "{{{{ item }}}}"}}
"#
    )
}

/// How many times the server received each path.
async fn received(server: &Server) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in server.received().await {
        *out.entry(format!("{} {}", r.method, r.url.path()))
            .or_default() += 1;
    }
    out
}

/// Kills a run of `spec` at `point` (the `nth` passage, or the request to
/// `held` in flight), then resumes until it is done, checking the promise
/// on the way. `expected` lists every request the workflow sends.
async fn killed_and_resumed(
    spec: fn(&str) -> String,
    point: Point,
    nth: usize,
    held: &str,
    mode: &str,
    expected: &[&str],
) {
    let case = format!("{point:?} #{nth} ({mode})");
    let (tx, mut arrived) = mpsc::unbounded_channel();
    let mut builder = Server::build();
    if let Point::InFlight = point {
        builder = builder.reply(
            held,
            HoldFirst::announcing(tx.clone(), json_reply(200, json!({"id": 7})))
                .holding(Duration::from_secs(10)),
        );
    }
    let server = builder
        .reply("", json_reply(200, json!({"id": 7})))
        .start()
        .await;
    let ws = Workspace::main(&spec(&server.uri()));
    let journal = ".runner/main.yaml.jsonl";

    let mut first = ws.runner(["apply", "main.yaml", "--journal-sync", mode]);
    let marker = match point {
        Point::BeforeSend => Some(format!("before-send:{nth}")),
        Point::Answered => Some(format!("answered:{nth}")),
        Point::CompletionWrite => Some(format!("completion-write:{nth}")),
        Point::InFlight => None,
    };
    if let Some(m) = &marker {
        first = first.env("RUNNER_TEST_PAUSE", m);
    }
    let mut running = first.spawn();
    match &marker {
        Some(_) => {
            running.said("runner: paused at").await;
        }
        None => {
            let got = tokio::time::timeout(Duration::from_secs(30), arrived.recv()).await;
            assert!(matches!(got, Ok(Some(()))), "{case}: never held");
        }
    }
    kill9(running.id());
    running.wait().await;
    let before = received(&server).await;
    // The POSTs and PATCHes whose fate the journal cannot know.
    let text = ws.read(journal);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let uncertain = lines
        .iter()
        .filter(|r| r["state"] == "started")
        .filter(|r| {
            !lines.iter().any(|e| {
                e["state"] != "started" && e["key"] == r["key"] && e["request"] == r["request"]
            })
        })
        .count();

    // Resuming alone never sends a POST or PATCH whose fate is unknown:
    // it refuses (exit 2, nothing sent), or finishes without repeating one.
    let resumed = ws
        .runner([
            "apply",
            "main.yaml",
            "--resume",
            journal,
            "--journal-sync",
            mode,
        ])
        .await;
    let after = received(&server).await;
    match resumed.code {
        2 => {
            assert!(
                resumed
                    .stderr
                    .contains("was in flight when the journalled run stopped"),
                "{case}: {resumed:?}"
            );
            assert_eq!(after, before, "{case}: exit 2 sent something: {resumed:?}");
            // The user checks, then says to send it again.
            ws.runner([
                "apply",
                "main.yaml",
                "--resume",
                journal,
                "--rerun-uncertain",
                "--journal-sync",
                mode,
            ])
            .await
            .code(0);
        }
        0 => {
            for (path, n) in &after {
                assert!(
                    *n == 1 || path.starts_with("GET"),
                    "{case}: {path} sent {n} times without --rerun-uncertain: {resumed:?}"
                );
            }
        }
        _ => panic!("{case}: {resumed:?}"),
    }
    let done = received(&server).await;
    // Nothing that was not sent is skipped...
    for path in expected {
        assert!(
            done.get(*path).is_some_and(|n| *n >= 1),
            "{case}: {path} was never sent: {done:?}"
        );
    }
    // ...and a POST or PATCH is sent twice only when the journal could not
    // know whether it happened and the user said `--rerun-uncertain`.
    let twice: Vec<_> = done
        .iter()
        .filter(|(p, n)| **n > 1 && !p.starts_with("GET"))
        .collect();
    assert!(
        twice.len() <= uncertain,
        "{case}: {} uncertain, yet sent twice: {twice:?}",
        uncertain
    );
    assert!(done.values().all(|n| *n <= 2), "{case}: {done:?}");
    // Everything is done now: resuming again sends nothing.
    ws.runner([
        "apply",
        "main.yaml",
        "--resume",
        journal,
        "--journal-sync",
        mode,
    ])
    .await
    .code_for(0, &case);
    assert_eq!(received(&server).await, done, "{case}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_killed_at_any_point_resumes_without_repeating_or_skipping() {
    let expected = ["POST /a", "GET /b/7", "PATCH /c/7", "POST /d/7"];
    for mode in MODES {
        for point in POINTS {
            // The PATCH is the third request, and the third to end.
            killed_and_resumed(chain, point, 3, "PATCH /c/7", mode, &expected).await;
        }
        // A GET killed before it is sent is sent on resume.
        killed_and_resumed(chain, Point::BeforeSend, 2, "", mode, &expected).await;
        killed_and_resumed(chain, Point::Answered, 2, "", mode, &expected).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_concurrent_loop_killed_at_any_point_resumes_without_repeating_or_skipping() {
    let expected: Vec<String> = (0..6).map(|n| format!("POST /items/{n}")).collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    for mode in MODES {
        for point in POINTS {
            // The fourth passage: three items in flight at once, one done.
            killed_and_resumed(looped, point, 4, "POST /items/3", mode, &expected).await;
        }
    }
}
