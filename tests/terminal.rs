//! Text output on a terminal and off it: colour only on a terminal that
//! did not ask for plain text, a progress line only on a pseudo-terminal,
//! a heartbeat for long polls in a piped run (never for a short one),
//! aligned step lines, and secrets masked in all of it. The pseudo-terminal
//! runs come from `portable-pty`; the servers hold each request until the
//! test has seen what it waits for, so nothing depends on timing.

use std::io::Read;
use std::sync::mpsc;
use std::time::Instant;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use serde_json::json;

use crate::harness::{Server, Workspace, json_reply};
use crate::workflow::gate::{Gate, PATIENCE};
use crate::workflow::{TOKEN, apply_json, apply_text, workspace};

const ESC: char = '\u{1b}';

const LOOP: &str = r#"steps:
  - id: each
    for_each: [a, b]
    action: GET_ITEM
    params: {id: "{{ item }}"}
"#;

const POLL: &str = r#"steps:
  - id: wait
    action: GET_JOB
    params: {id: "42"}
    until: "{{ response.state == 'done' }}"
    poll: {every: 10ms, timeout: 30s}
"#;

/// The binary in a pseudo-terminal: `apply main.yaml` in `ws`, with only
/// `PATH`, the token, `TERM=xterm-256color` and `extra` in its
/// environment. Everything it writes (stdout and stderr share the
/// terminal) arrives in chunks on the receiver; the handle gives its exit
/// code.
fn in_pty(
    ws: &Workspace,
    extra: &[(&str, &str)],
) -> (mpsc::Receiver<String>, std::thread::JoinHandle<u32>) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut cmd = CommandBuilder::new(crate::harness::binary());
    cmd.args(["apply", "main.yaml"]);
    cmd.cwd(ws.path());
    cmd.env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.env("TERM", "xterm-256color");
    cmd.env("API_TOKEN", TOKEN);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = pair.slave.spawn_command(cmd).expect("spawn in the pty");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("pty reader");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Reading fails (EIO) once the child has gone and the output is read.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let waiter = std::thread::spawn(move || {
        let status = child.wait().expect("wait for runner");
        // The master stays open until the child is gone, so no output is lost.
        drop(pair.master);
        status.exit_code()
    });
    (rx, waiter)
}

/// Output from `rx` until it holds `needle` (at most [`PATIENCE`]): what
/// came until then; panics with it when the needle never comes.
async fn until_seen(rx: &mpsc::Receiver<String>, seen: &mut String, needle: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::task::block_in_place(|| rx.recv_timeout(left));
        match chunk {
            Ok(chunk) => seen.push_str(&chunk),
            Err(_) => panic!("never saw {needle:?} in:\n{seen:?}"),
        }
    }
}

/// Everything else `rx` gives until the run ends, and its exit code.
fn rest(
    rx: mpsc::Receiver<String>,
    seen: &mut String,
    waiter: std::thread::JoinHandle<u32>,
) -> u32 {
    let code = waiter.join().expect("join");
    seen.extend(rx.iter());
    code
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_colour_and_a_progress_line_while_a_loop_runs() {
    let mut gate = Gate::start().await;
    let ws = workspace(&gate.uri(), LOOP);
    let (rx, waiter) = in_pty(&ws, &[]);
    let mut seen = String::new();
    // The first item is held: the loop is running, none of its items done.
    let first = gate.next().await;
    until_seen(&rx, &mut seen, "each  GET_ITEM  0/2 items").await;
    first.answer(200, json!({}));
    until_seen(&rx, &mut seen, "1/2 items").await;
    gate.next().await.answer(200, json!({}));
    let code = rest(rx, &mut seen, waiter);
    assert_eq!(code, 0, "{seen}");
    assert!(
        seen.contains(&format!("{ESC}[1m{ESC}[32mok{ESC}[0m")),
        "no green `ok`: {seen:?}"
    );
    assert!(seen.contains("2 items"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_on_a_terminal_shows_each_try_and_what_until_looked_at() {
    let mut gate = Gate::start().await;
    let ws = workspace(&gate.uri(), POLL);
    let (rx, waiter) = in_pty(&ws, &[]);
    let mut seen = String::new();
    gate.next()
        .await
        .answer(200, json!({"state": format!("queued behind {TOKEN}")}));
    // The second try is held: after a second the step shows its progress.
    let second = gate.next().await;
    until_seen(
        &rx,
        &mut seen,
        "wait  GET_JOB  try 1/3001: state=queued behind ***",
    )
    .await;
    second.answer(200, json!({"state": "done"}));
    let code = rest(rx, &mut seen, waiter);
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(TOKEN), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_color_on_a_terminal_means_plain_lines_and_no_progress() {
    for (name, value) in [("NO_COLOR", "1"), ("CI", "true"), ("TERM", "dumb")] {
        let mut gate = Gate::start().await;
        let ws = workspace(&gate.uri(), LOOP);
        let (rx, waiter) = in_pty(&ws, &[(name, value)]);
        gate.next().await.answer(200, json!({}));
        gate.next().await.answer(200, json!({}));
        let mut seen = String::new();
        let code = rest(rx, &mut seen, waiter);
        assert_eq!(code, 0, "{name}={value}: {seen}");
        assert!(seen.contains("each"), "{name}={value}: {seen:?}");
        assert!(!seen.contains(ESC), "{name}={value}: {seen:?}");
        assert!(!seen.contains("0/2 items"), "{name}={value}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_piped_run_has_no_escape_bytes_and_no_progress() {
    let server = Server::build()
        .reply("GET", json_reply(200, json!({})))
        .start()
        .await;
    let ws = workspace(&server.uri(), LOOP);
    let out = apply_text(&ws, &[]).await.code(0);
    assert!(!out.all().contains(ESC), "{out:?}");
    assert!(!out.all().contains("/2 items"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_piped_poll_beats_with_its_tries_and_what_until_looked_at_masked() {
    let mut gate = Gate::start().await;
    let ws = workspace(&gate.uri(), POLL);
    let mut running = apply_text(&ws, &[])
        .env("RUNNER_TEST_HEARTBEAT_MS", "20")
        .spawn();
    gate.next()
        .await
        .answer(200, json!({"state": format!("waiting for {TOKEN}")}));
    // The second try is held: the run beats while it waits.
    let second = gate.next().await;
    let said = running.said("try 1/").await;
    second.answer(200, json!({"state": "done"}));
    let out = running.wait().await.code(0);
    let beat = said
        .lines()
        .find(|l| l.contains("try 1/"))
        .expect("a heartbeat");
    assert!(
        beat.starts_with("... wait  GET_JOB  try 1/3001: state=waiting for ***, "),
        "{beat}"
    );
    assert!(beat.ends_with("elapsed"), "{beat}");
    assert!(!said.contains(TOKEN), "{said}");
    assert!(out.stdout.contains("wait"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_piped_loop_beats_with_its_items_done() {
    let mut gate = Gate::start().await;
    let ws = workspace(&gate.uri(), LOOP);
    let mut running = apply_text(&ws, &[])
        .env("RUNNER_TEST_HEARTBEAT_MS", "20")
        .spawn();
    gate.next().await.answer(200, json!({}));
    let second = gate.next().await;
    let said = running.said("1/2 items").await;
    second.answer(200, json!({}));
    running.wait().await.code(0);
    let beat = said
        .lines()
        .find(|l| l.contains("1/2 items"))
        .expect("a beat");
    assert!(
        beat.starts_with("... each  GET_ITEM  1/2 items  "),
        "{beat}"
    );
    assert!(beat.ends_with(" s elapsed"), "{beat}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_piped_paginated_step_beats_with_its_pages() {
    let mut gate = Gate::start().await;
    let rest = r#"steps:
  - id: list
    action: LIST_ITEMS
    paginate:
      next: {param: cursor, value: "{{ response.next }}"}
      items: "{{ response.items }}"
"#;
    let ws = workspace(&gate.uri(), rest);
    let mut running = apply_text(&ws, &[])
        .env("RUNNER_TEST_HEARTBEAT_MS", "20")
        .spawn();
    gate.next()
        .await
        .answer(200, json!({"items": [1], "next": "c2"}));
    let second = gate.next().await;
    assert!(second.target.contains("cursor=c2"), "{}", second.target);
    let said = running.said("page 1").await;
    second.answer(200, json!({"items": [], "next": ""}));
    running.wait().await.code(0);
    assert!(said.contains("... list  LIST_ITEMS  page 1, "), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_beats_on_stderr_and_keeps_its_document() {
    let mut gate = Gate::start().await;
    let ws = workspace(&gate.uri(), POLL);
    let mut running = apply_json(&ws, &[])
        .env("RUNNER_TEST_HEARTBEAT_MS", "20")
        .spawn();
    gate.next().await.answer(200, json!({"state": "queued"}));
    let second = gate.next().await;
    let said = running.said("try 1/").await;
    second.answer(200, json!({"state": "done"}));
    let out = running.wait().await.code(0);
    assert!(
        said.contains("... wait  GET_JOB  try 1/3001: state=queued, "),
        "{said}"
    );
    assert_eq!(out.json()["steps"][0]["status"], json!("ok"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_shorter_than_the_heartbeat_has_none() {
    let server = Server::build()
        .reply("GET", json_reply(200, json!({"state": "done"})))
        .start()
        .await;
    let ws = workspace(
        &server.uri(),
        &format!("{POLL}{}", &LOOP["steps:\n".len()..]),
    );
    let out = apply_text(&ws, &[]).await.code(0);
    assert!(!out.stderr.contains("elapsed"), "{out:?}");
    assert!(!out.stderr.contains("..."), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn step_lines_align_whatever_their_status() {
    let server = Server::build()
        .reply("GET", json_reply(200, json!({})))
        .reply("POST", json_reply(201, json!({})))
        .start()
        .await;
    let rest = r#"steps:
  - id: get
    action: GET_ITEM
    params: {id: "1"}
  - id: create_the_item
    action: CREATE_ITEM
    params: {name: x}
  - id: never
    if: "{{ false }}"
    action: GET_ITEM
    params: {id: "2"}
"#;
    let ws = workspace(&server.uri(), rest);
    let out = apply_text(&ws, &[]).await.code(0);
    let lines: Vec<&str> = out.stdout.lines().take(3).collect();
    assert!(
        lines[0].starts_with("ok      get              GET_ITEM     200 OK"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("ok      create_the_item  CREATE_ITEM  201 Created"),
        "{lines:#?}"
    );
    assert!(
        lines[2].starts_with("skipped never            GET_ITEM"),
        "{lines:#?}"
    );
    // What follows the HTTP status starts in one column.
    let after = |l: &str| l.rfind("  ").expect("columns") + 2;
    assert_eq!(after(lines[0]), after(lines[1]), "{lines:#?}");
    assert_eq!(after(lines[1]), after(lines[2]), "{lines:#?}");
}
