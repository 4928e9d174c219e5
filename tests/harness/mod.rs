//! The scaffolding every test module shares: a scratch [`Workspace`] to
//! write specs into, a fluent [`Cmd`] that runs the real `runner` binary and
//! hands back a [`Run`], and a [`Server`] on 127.0.0.1 that records what it
//! received.
//!
//! A test reads as what it sets up, what it runs and what it checks:
//!
//! ```ignore
//! let server = Server::answering("POST /issues", json_reply(201, json!({"number": 42}))).await;
//! let ws = Workspace::main(&Spec::app("api", &server.uri()).actions(ACTIONS).steps(STEPS).build());
//! let out = ws.runner(["apply", "main.yaml"]).env("TOKEN", "t-1").await.code(0);
//! assert_eq!(server.received().await[0].json(), json!({"title": "T"}));
//! ```
//!
//! A [`Run`] checks itself in the chain: `.code(2)`, `.code_for(2, case)`
//! in a table (the case is then named by every later failure),
//! `.stderr_has("…")`, `.stderr_has_all(&[…])`, `.stderr_lacks("…")`,
//! `.stdout_has("…")`; each failure prints the whole run (exit, stdout,
//! stderr). Two promises check the server too: [`Cmd::refused`] (exit 2,
//! the reason given, nothing sent) and [`Cmd::sends`] (exit 0, so many
//! requests).
//!
//! A test without a server is a plain `#[test]`: it ends the same chain
//! with `.run()` instead of `.await`.
//!
//! Beside them: [`specs`] builds spec texts from the action catalogs in
//! `tests/fixtures/catalogs` (and holds the API several modules share),
//! [`shop`] is one such catalog with the server that plays it, [`leaks`]
//! checks that no form of a secret was printed, [`hold`] keeps a request in
//! flight while the test acts on the runner (and sends it signals),
//! [`journal`] reads what a run journalled, and [`tls`] serves HTTPS with
//! the test CA.
//!
//! # Which binary
//!
//! Tests run `env!("CARGO_BIN_EXE_runner")`, the binary cargo built with
//! this suite, unless the environment variable `RUNNER_BIN` names another
//! one: `RUNNER_BIN=/tmp/runner-old cargo test` runs the same suite
//! against an older build, to see which tests fail there. A relative
//! `RUNNER_BIN` is taken from the directory the test binary starts in (the
//! package root under cargo and nextest). Tests that call the library
//! directly (`fuzz_corpus`) are not affected by it.

mod command;
pub mod hold;
pub mod journal;
pub mod leaks;
pub mod raw;
mod server;
pub mod shop;
pub mod specs;
pub mod tls;
mod workspace;

pub use command::{Cmd, Run};
pub use server::{RequestExt, Server, json_reply};
pub use workspace::Workspace;

use std::path::PathBuf;

/// The binary under test: `RUNNER_BIN` when set, else the one cargo built.
pub fn binary() -> PathBuf {
    match std::env::var_os("RUNNER_BIN") {
        Some(bin) if !bin.is_empty() => {
            // Made absolute here: the binary runs in a workspace, where a
            // relative path would name nothing.
            std::path::absolute(&bin)
                .unwrap_or_else(|e| panic!("RUNNER_BIN={}: {e}", bin.to_string_lossy()))
        }
        _ => PathBuf::from(env!("CARGO_BIN_EXE_runner")),
    }
}

/// `text` with runs of spaces folded, so assertions don't depend on column widths.
pub fn squash(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file under `dir`, recursively, sorted; none if `dir` is missing.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
