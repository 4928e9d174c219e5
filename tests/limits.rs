//! Shared limits and rate-limit answers (issue #16): an app's `limits`
//! (`concurrency`, `rate`) held by all its requests together — nested
//! loops, sub-workflows, retries — measured at the server; and each form
//! of an answer saying the app's quota is spent, honoured by every later
//! request to the app: waited for up to `retry.max_wait`, then a failure
//! that names the app, the fields and the wait.

mod answers;
mod meter;
mod shared;

use std::future::IntoFuture;

use crate::harness::specs::Spec;
use crate::harness::{Run, Workspace};

/// Items, read and created.
const ACTIONS: &str = r#"GET_ITEM:
  method: GET
  path: /items/{id}
  params:
    id: {type: string, required: true}
CREATE_ITEM:
  method: POST
  path: /items
  params:
    name: {type: string, required: true}
"#;

/// One app, `api`, at `base`, with `app` as more of its fields (lines at
/// four spaces: `limits`, `retry`) and the items actions; then `rest`.
pub fn spec(base: &str, app: &str, rest: &str) -> String {
    Spec::app("api", base)
        .then(app)
        .actions(ACTIONS)
        .then(rest)
        .build()
}

/// `runner apply main.yaml --output json`.
pub async fn apply(ws: &Workspace) -> Run {
    ws.runner(["apply", "main.yaml", "--output", "json"]).await
}

/// [`apply`] started now, on its own task, so the test can answer its
/// requests while it runs.
pub fn spawn(ws: &Workspace) -> tokio::task::JoinHandle<Run> {
    tokio::spawn(
        ws.runner(["apply", "main.yaml", "--output", "json"])
            .into_future(),
    )
}
