//! `validate --output json`: one document, `{"ok", "diagnostics"}`, with
//! each error and warning placed; the exit codes of text output.

use serde_json::json;

use crate::harness::Workspace;
use crate::harness::specs::items_api;

#[test]
fn a_clean_spec_is_ok_with_no_diagnostics() {
    let ws = Workspace::main(&items_api(
        "https://api.example.com",
        "steps:\n  - id: list\n    action: LIST\n",
    ));
    let out = ws
        .runner(["validate", "--output", "json", "main.yaml"])
        .run()
        .code(0);
    assert_eq!(out.json(), json!({"ok": true, "diagnostics": []}));
}

#[test]
fn errors_with_their_line_column_path_and_help() {
    let ws = Workspace::main(&items_api(
        "https://api.example.com",
        "steps:\n  - id: make\n    action: CREAT\n    params: {name: x}\n",
    ));
    let out = ws
        .runner(["validate", "--output", "json", "main.yaml"])
        .run()
        .code(2);
    let doc = out.json();
    assert_eq!(doc["ok"], json!(false));
    let d = &doc["diagnostics"][0];
    assert_eq!(d["level"], json!("error"));
    assert_eq!(d["file"], json!("main.yaml"));
    let line = ws
        .read("main.yaml")
        .lines()
        .position(|l| l.contains("action: CREAT"))
        .unwrap()
        + 1;
    assert_eq!(d["line"], json!(line));
    assert_eq!(d["column"], json!(13));
    assert!(d["path"].as_str().unwrap().ends_with(".action"), "{d}");
    assert!(d["message"].as_str().unwrap().contains("CREAT"), "{d}");
    assert_eq!(d["help"], json!("did you mean `CREATE`?"));
    // Nothing but the document on stdout; the text form is not printed.
    assert!(!out.stderr.contains("-->"), "{}", out.stderr);
}

#[test]
fn warnings_leave_it_ok_and_a_missing_file_is_an_error() {
    let ws = Workspace::main(&items_api(
        "https://api.example.com",
        "steps:\n  - action: CREATE\n    params: {name: x}\n",
    ));
    let out = ws
        .runner(["validate", "--output", "json", "main.yaml"])
        .run()
        .code(0);
    let doc = out.json();
    assert_eq!(doc["ok"], json!(true));
    let d = &doc["diagnostics"][0];
    assert_eq!(d["level"], json!("warning"), "{doc}");
    assert_eq!(d["file"], json!("main.yaml"));
    assert!(d["line"].is_u64(), "{doc}");

    let out = ws
        .runner(["validate", "--output", "json", "main.yaml", "missing.yaml"])
        .run()
        .code(2);
    let doc = out.json();
    assert_eq!(doc["ok"], json!(false));
    let levels: Vec<(&str, &str)> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["level"].as_str().unwrap(), d["file"].as_str().unwrap()))
        .collect();
    assert_eq!(
        levels,
        [("warning", "main.yaml"), ("error", "missing.yaml")]
    );
}
