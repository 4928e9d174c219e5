//! `outputs`: a step's over its own response (and item), the workflow's over
//! its steps and inputs; shown after the summary in text (`name = value`,
//! non-strings as JSON), in `--output json`, in `--outputs-file`; masked
//! when they hold a secret.

use serde_json::{Value, json};

use super::{TOKEN, apply_json, apply_text, step, workspace};
use crate::harness::{Server, json_reply};

const OUTPUTS: &str = r#"inputs:
  label: {type: string, default: weekly}
steps:
  - id: create
    action: CREATE_ITEM
    params: {name: widget}
    outputs:
      url: "{{ response.html_url }}"
      number: "{{ response.number }}"
      seen: "{{ status }}"
      kind: "{{ headers['content-type'] }}"
  - id: list
    for_each: [a, b]
    action: GET_ITEM
    params: {id: "{{ item }}"}
    outputs:
      name: "{{ item }}-{{ response.name }}"
outputs:
  url: "{{ steps.create.outputs.url }}"
  number: "{{ steps.create.outputs.number }}"
  names: "{{ steps.list.items | map(attribute='outputs.name') | list }}"
  summary: "{{ {'count': steps.list.items | length, 'first': steps.list.items[0].outputs.name} }}"
  created: "{{ steps.create.status == 201 }}"
  label: "{{ inputs.label }}"
"#;

async fn server() -> Server {
    Server::build()
        .reply(
            "POST /items",
            json_reply(
                201,
                json!({"number": 7, "html_url": "https://example.test/items/7"}),
            ),
        )
        .reply("GET", json_reply(200, json!({"name": "x"})))
        .start()
        .await
}

fn expected() -> Value {
    json!({
        "url": "https://example.test/items/7",
        "number": 7,
        "names": ["a-x", "b-x"],
        "summary": {"count": 2, "first": "a-x"},
        "created": true,
        "label": "weekly",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn workflow_outputs_follow_the_summary_in_text() {
    let server = server().await;
    let ws = workspace(&server.uri(), OUTPUTS);
    let out = apply_text(&ws, &[]).await.code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let summary = lines
        .iter()
        .position(|l| l.starts_with("2 ok in "))
        .unwrap_or_else(|| panic!("no summary: {out:?}"));
    assert_eq!(
        &lines[summary + 1..],
        [
            "url = https://example.test/items/7",
            "number = 7",
            r#"names = ["a-x","b-x"]"#,
            r#"summary = {"count":2,"first":"a-x"}"#,
            "created = true",
            "label = weekly",
        ],
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_in_json_and_in_an_outputs_file() {
    let server = server().await;
    let ws = workspace(&server.uri(), OUTPUTS);
    // The directory does not exist: the file cannot be written, and the
    // run says so before it sends anything (#13).
    apply_json(
        &ws,
        &["--outputs-file", "out/outputs.json", "--input", "label=bug"],
    )
    .await
    .code(2)
    .stderr_has("error: cannot write the outputs file `out/outputs.json`");
    assert!(
        server.received().await.is_empty(),
        "exit 2 must send nothing"
    );

    let out = apply_json(
        &ws,
        &["--outputs-file", "outputs.json", "--input", "label=bug"],
    )
    .await
    .code(0);
    let mut want = expected();
    want["label"] = json!("bug");
    let doc = out.json();
    assert_eq!(doc["outputs"], want);
    assert_eq!(
        step(&out, "create")["outputs"],
        json!({"url": "https://example.test/items/7", "number": 7, "seen": 201,
               "kind": "application/json"})
    );
    let file: Value = serde_json::from_str(&ws.read("outputs.json")).expect("outputs file is JSON");
    assert_eq!(file, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_output_holding_a_secret_is_masked_everywhere() {
    let server = Server::answering(
        "POST /items",
        json_reply(201, json!({"echo": format!("Bearer {TOKEN}"), "id": 1})),
    )
    .await;
    let rest = r#"steps:
  - id: login
    action: CREATE_ITEM
    params: {name: me}
    outputs:
      header: "{{ response.echo }}"
      id: "{{ response.id }}"
outputs:
  header: "{{ steps.login.outputs.header }}"
  token: "{{ steps.login.outputs.header | replace('Bearer ', '') }}"
  id: "{{ steps.login.outputs.id }}"
"#;
    let ws = workspace(&server.uri(), rest);
    let out = apply_text(&ws, &["--outputs-file", "outputs.json"])
        .await
        .code(0)
        .stdout_has("header = Bearer ***\n")
        .stdout_has("token = ***\n")
        .stdout_has("id = 1");
    let file = ws.read("outputs.json");
    assert!(!out.all().contains(TOKEN), "{out:?}");
    assert!(!file.contains(TOKEN), "{file}");
    let file: Value = serde_json::from_str(&file).expect("JSON");
    assert_eq!(
        file,
        json!({"header": "Bearer ***", "token": "***", "id": 1})
    );

    let out = apply_json(&ws, &[]).await.code(0);
    assert!(!out.all().contains(TOKEN), "{out:?}");
    assert_eq!(out.json()["outputs"]["token"], json!("***"));
    assert_eq!(
        step(&out, "login")["outputs"]["header"],
        json!("Bearer ***")
    );
}
