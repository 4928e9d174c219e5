//! Empty is missing: an environment variable set to the empty string (what
//! CI gives for a secret it does not have), in the process environment or
//! an env file, stops `apply` before anything is sent and is a warning in
//! `plan`, unless the spec declares `env: {NAME: {allow_empty: true}}`.

use serde_json::json;

use crate::harness::specs::{ITEMS_TOKEN, items_api};
use crate::harness::{Cmd, Server, Workspace, json_reply};

const CREATE: &str =
    "steps:\n  - id: create\n    action: CREATE\n    params: {name: \"w{{ env.SUFFIX }}\"}\n";

async fn server() -> Server {
    Server::answering("POST /items", json_reply(201, json!({"id": 1}))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_variable_stops_apply_with_nothing_sent() {
    let server = server().await;
    let ws = Workspace::main(&items_api(&server.uri(), CREATE));
    ws.runner(["apply", "main.yaml"])
        .env("API_TOKEN", "")
        .env("SUFFIX", "-1")
        .refused(
            &server,
            "error: environment variable `API_TOKEN` is set but empty (used at main.yaml:",
        )
        .await
        .stderr_has("declare `env: {API_TOKEN: {allow_empty: true}}`");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_entry_of_the_env_file_stops_apply_too() {
    let server = server().await;
    let ws = Workspace::main(&items_api(&server.uri(), CREATE))
        .env_file(".env", &[("API_TOKEN", ""), ("SUFFIX", "-1")]);
    ws.runner(["apply", "main.yaml"])
        .refused(&server, "environment variable `API_TOKEN` is set but empty")
        .await;
    // The same through `--env-file`.
    let ws = ws.env_file("ci.env", &[("API_TOKEN", ""), ("SUFFIX", "-1")]);
    ws.runner(["apply", "main.yaml", "--env-file", "ci.env"])
        .refused(&server, "environment variable `API_TOKEN` is set but empty")
        .await;
}

#[test]
fn plan_warns_of_an_empty_variable() {
    let ws = Workspace::main(&items_api("https://api.example.com", CREATE));
    ws.runner(["plan", "main.yaml"])
        .env("API_TOKEN", "")
        .env("SUFFIX", "-1")
        .run()
        .code(0)
        .stderr_has(
            "warning: env `API_TOKEN` is set but empty; `apply` will refuse it (used at main.yaml:",
        )
        .stdout_has("1 request(s) planned");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_variable_declared_allow_empty_may_be_empty() {
    let server = server().await;
    let spec = items_api(&server.uri(), CREATE).replace(
        "version: 1\n",
        "version: 1\nenv:\n  SUFFIX: {allow_empty: true}\n",
    );
    let ws = Workspace::main(&spec);
    ws.runner(["apply", "main.yaml", "--no-journal"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .env("SUFFIX", "")
        .sends(&server, 1)
        .await;
    assert_eq!(server.received().await[0].body, br#"{"name":"w"}"#);
    // Allowing empty is not allowing unset.
    ws.runner(["apply", "main.yaml", "--no-journal"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .await
        .code(2)
        .stderr_has("environment variable `SUFFIX` is not set");
    // Nor does it allow any other variable to be empty.
    ws.runner(["plan", "main.yaml"])
        .env("API_TOKEN", "")
        .env("SUFFIX", "")
        .await
        .code(0)
        .stderr_has("env `API_TOKEN` is set but empty")
        .stderr_lacks("env `SUFFIX` is set but empty");
}

#[test]
fn a_declaration_no_template_reads_is_a_warning_with_a_suggestion() {
    let spec = items_api("https://api.example.com", CREATE).replace(
        "version: 1\n",
        "version: 1\nenv:\n  API_TOKN: {allow_empty: true}\n",
    );
    let ws = Workspace::main(&spec);
    Cmd::new()
        .current_dir(ws.path())
        .args(["validate", "main.yaml"])
        .run()
        .code(0)
        .stderr_has("env `API_TOKN` is declared, but no template reads `env.API_TOKN`")
        .stderr_has("did you mean `API_TOKEN`?");
}
