//! Typed `inputs`: from `--input` (YAML of the input's type), from
//! `--inputs-file` (YAML or JSON), from `RUNNER_INPUT_<NAME>`, or the
//! default, in that order of precedence; anything missing, mistyped or
//! outside `enum` stops the run before anything is sent (exit 2).

use serde_json::{Value, json};

use super::{TOKEN, workspace};
use crate::harness::{Run, Server, Workspace, json_reply};

const INPUTS: &str = r#"inputs:
  a: {type: string, required: true, description: the item}
  b: {type: integer, default: 0}
  c: {type: array, default: []}
  d: {type: string, default: dflt}
  e: {type: boolean, default: false}
  label: {type: string, default: triage, enum: [triage, bug]}
steps:
  - id: get
    action: GET_ITEM
    params: {id: "{{ inputs.a }}"}
outputs:
  a: "{{ inputs.a }}"
  b: "{{ inputs.b }}"
  c: "{{ inputs.c }}"
  d: "{{ inputs.d }}"
  e: "{{ inputs.e }}"
  label: "{{ inputs.label }}"
"#;

async fn setup() -> (Server, Workspace) {
    let server = Server::answering("GET", json_reply(200, json!({}))).await;
    let ws = workspace(&server.uri(), INPUTS)
        .file("inputs.yaml", "a: file-a\nb: 2\n")
        .file("inputs.json", r#"{"c": ["j1", "j2"], "e": true}"#);
    (server, ws)
}

/// `apply --output json` with `args` and the environment `env`.
async fn run(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = ws
        .runner(["apply", "main.yaml", "--output", "json", "--no-journal"])
        .args(args)
        .env("API_TOKEN", TOKEN);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.await
}

fn outputs(out: Run) -> Value {
    out.code(0).json()["outputs"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn inputs_come_from_flags_then_file_then_environment_then_default() {
    let (server, ws) = setup().await;
    let env = [
        ("RUNNER_INPUT_A", "env-a"),
        ("RUNNER_INPUT_B", "1"),
        ("RUNNER_INPUT_C", "[e1]"),
        ("RUNNER_INPUT_LABEL", "bug"),
    ];
    assert_eq!(
        outputs(run(&ws, &[], &env).await),
        json!({"a": "env-a", "b": 1, "c": ["e1"], "d": "dflt", "e": false, "label": "bug"})
    );
    assert_eq!(
        outputs(run(&ws, &["--inputs-file", "inputs.yaml"], &env).await),
        json!({"a": "file-a", "b": 2, "c": ["e1"], "d": "dflt", "e": false, "label": "bug"})
    );
    let flags = [
        "--inputs-file",
        "inputs.yaml",
        "--input",
        "a=flag-a",
        "--input",
        "c=[x, {y: 1}]",
    ];
    assert_eq!(
        outputs(run(&ws, &flags, &env).await),
        json!({"a": "flag-a", "b": 2, "c": ["x", {"y": 1}], "d": "dflt", "e": false, "label": "bug"})
    );
    assert_eq!(
        outputs(
            run(
                &ws,
                &["--inputs-file", "inputs.json", "--input", "a=j"],
                &[]
            )
            .await
        ),
        json!({"a": "j", "b": 0, "c": ["j1", "j2"], "d": "dflt", "e": true, "label": "triage"})
    );
    // Text for a string input is the string, whatever YAML would make of it.
    assert_eq!(
        outputs(run(&ws, &["--input", "a=yes", "--input", "e=true"], &[]).await)["a"],
        json!("yes")
    );
    assert_eq!(
        server.requests().await,
        [
            "GET /items/env-a",
            "GET /items/file-a",
            "GET /items/flag-a",
            "GET /items/j",
            "GET /items/yes"
        ]
    );
}

/// Arguments, environment, and what the run must say refusing them.
type Refused<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_mistyped_or_unknown_input_is_exit_2_with_nothing_sent() {
    let (server, ws) = setup().await;
    ws.write("bad-type.yaml", "a: x\nb: two\n");
    ws.write("unknown.yaml", "a: x\nzzz: 1\n");
    ws.write("list.yaml", "[a, b]\n");
    // `a` given, and one more input.
    let with_a = |input| ["--input", "a=x", "--input", input];
    let cases: [Refused; 10] = [
        (&[], &[], "input `a` is required but not given"),
        (
            &with_a("c=a"),
            &[],
            "input `c`: expected an array, found a string `\"a\"`",
        ),
        (
            &with_a("b=x"),
            &[],
            "input `b`: expected an integer, found a string `\"x\"`",
        ),
        (
            &with_a("c=[a"),
            &[],
            "input `c`: `[a` is not valid YAML for an array",
        ),
        (
            &with_a("label=feature"),
            &[],
            "input `label` must be one of `triage`, `bug`, found a string `\"feature\"`",
        ),
        (
            &["--inputs-file", "bad-type.yaml"],
            &[],
            "input `b`: expected an integer, found a string `\"two\"`",
        ),
        (
            &["--input", "a=x"],
            &[("RUNNER_INPUT_E", "maybe")],
            "input `e`: expected a boolean, found a string `\"maybe\"`",
        ),
        (
            &with_a("zzz=1"),
            &[],
            "`--input zzz=...` names no input of the spec",
        ),
        (
            &["--inputs-file", "unknown.yaml"],
            &[],
            "the inputs file gives `zzz`, which is no input of the spec",
        ),
        (
            &["--inputs-file", "list.yaml"],
            &[],
            "cannot read the inputs file `list.yaml`: expected a mapping of input names to values",
        ),
    ];
    for (args, env, message) in cases {
        let out = run(&ws, args, env)
            .await
            .code_for(2, format_args!("{args:?}"))
            .stderr_has(message);
        assert!(server.received().await.is_empty(), "{args:?}: {out:?}");
    }
}
