//! Workflows beyond a straight line (issue #9): success criteria on the
//! body, headers and schema; `for_each` with its concurrency, failures and
//! resume; `if` with `success()`, `failure()`, `always()`; `until`/`poll`;
//! `paginate`; step and workflow `outputs`; typed `inputs`; sub-workflows
//! (`uses`); `--shard`; what `plan` shows and what `validate` refuses.
//! Servers on 127.0.0.1: wiremock, and [`gate::Gate`] where the test must
//! decide when each request is answered.

mod conditions;
mod each;
mod expect;
pub mod gate;
mod inline;
mod inputs;
mod outputs;
mod pages;
mod plan;
mod poll;
mod resume;
mod shard;
mod time;
mod uses;
mod validate;

use serde_json::{Value, json};

use crate::harness::specs::Spec;
use crate::harness::{Cmd, Run, Server, Workspace};

/// The API token the specs' auth reads from `API_TOKEN`.
pub const TOKEN: &str = "api_Workflow0123456789abcdef";

/// Items and jobs.
const ACTIONS: &str = include_str!("fixtures/catalogs/workflow.yaml");

/// One app, `api`, at `base`, with bearer auth from `API_TOKEN`, and no
/// retries unless a step asks for them; then `rest` (inputs, vars, steps,
/// outputs) as written.
pub fn spec(base: &str, rest: &str) -> String {
    Spec::app("api", base)
        .no_retry()
        .actions(ACTIONS)
        .bearer("api", "API_TOKEN")
        .then(rest)
        .build()
}

/// `main.yaml` holding [`spec`].
pub fn workspace(base: &str, rest: &str) -> Workspace {
    Workspace::main(&spec(base, rest))
}

/// `main.yaml` holding [`spec`] at `server` and `rest`, run once by
/// [`apply_json`]; the run must exit `code`.
pub async fn run_json(server: &Server, rest: &str, code: i32) -> (Workspace, Run) {
    let ws = workspace(&server.uri(), rest);
    let out = apply_json(&ws, &[]).await.code(code);
    (ws, out)
}

/// `runner apply main.yaml ARGS --output json`, with the token set.
pub fn apply_json(ws: &Workspace, args: &[&str]) -> Cmd {
    ws.runner(["apply", "main.yaml", "--output", "json"])
        .args(args)
        .env("API_TOKEN", TOKEN)
}

/// `runner apply main.yaml ARGS` (text), with the token set.
pub fn apply_text(ws: &Workspace, args: &[&str]) -> Cmd {
    ws.runner(["apply", "main.yaml"])
        .args(args)
        .env("API_TOKEN", TOKEN)
}

/// The step with `id` in the JSON document.
pub fn step(out: &Run, id: &str) -> Value {
    out.json()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step `{id}`: {out:?}"))
        .clone()
}

/// The step `id` failed, with `kind` and exactly `error`.
#[track_caller]
pub fn assert_failed(out: &Run, id: &str, kind: &str, error: &str) {
    let step = step(out, id);
    assert_eq!(step["status"], json!("failed"), "{out:?}");
    assert_eq!(step["error_kind"], json!(kind), "{out:?}");
    assert_eq!(step["error"], json!(error), "{out:?}");
}

/// `field` of each item of the step `id`.
pub fn item_field(out: &Run, id: &str, field: &str) -> Vec<Value> {
    step(out, id)["items"]
        .as_array()
        .unwrap_or_else(|| panic!("step `{id}` has no items: {out:?}"))
        .iter()
        .map(|i| i[field].clone())
        .collect()
}

/// The line (1-based) of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in:\n{text}"))
        + 1
}

/// The records of a journal; every line must be one JSON document.
pub fn records(ws: &Workspace, rel: &str) -> Vec<Value> {
    ws.read(rel)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}
