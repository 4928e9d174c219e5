//! The environment is secret, and so is everything derived from it: every
//! value a template reads through `env`, and every entry of an env file, is
//! masked wherever it goes (plan, report, outputs, outputs file, journal);
//! a template may pass a secret only through operations the redactor
//! follows, and `validate` refuses the others (laundering), naming the
//! expression and where the secret came from.

use serde_json::{Value, json};
use wiremock::Request;

use crate::harness::hold::Echo;
use crate::harness::leaks::{assert_clean, assert_hidden};
use crate::harness::specs::Spec;
use crate::harness::{RequestExt, Server, Workspace, json_reply};

const SECRET: &str = "ci-Secret_0123456789abcdef";

/// A GET with a path, query and header param, a POST with a JSON body, and a login.
const ACTIONS: &str = include_str!("../fixtures/catalogs/env-secrets.yaml");

/// One app `api` at `base`: a GET with a path, query and header param, a
/// POST with a JSON body, and a login that returns a token; then `rest`
/// (vars, auth, inputs, steps, outputs) as given.
fn spec(base: &str, rest: &str) -> String {
    Spec::app("api", base)
        .no_retry()
        .actions(ACTIONS)
        .then(rest)
        .build()
}

/// A server that answers every GET and POST with `{}`.
async fn quiet() -> Server {
    Server::build()
        .reply("GET", json_reply(200, json!({})))
        .reply("POST", json_reply(201, json!({"id": "t-1"})))
        .start()
        .await
}

// ------------------------------------------------------- masked everywhere

#[tokio::test(flavor = "multi_thread")]
async fn plan_never_prints_an_env_value_a_step_reads() {
    let server = quiet().await;
    let cases = [
        // Straight into a query param, a header, a path, a body field.
        ("", "params: {id: x, q: \"{{ env.CI_SECRET }}\"}"),
        ("", "params: {id: x, note: \"{{ env.CI_SECRET }}\"}"),
        ("", "params: {id: \"{{ env.CI_SECRET }}\"}"),
        // Through vars, concatenation and the filters the redactor follows.
        (
            "vars:\n  k: \"{{ env.CI_SECRET }}\"\n",
            "params: {id: x, q: \"{{ vars.k }}\"}",
        ),
        (
            "",
            "params: {id: x, q: \"{{ env.CI_SECRET | b64encode }}\"}",
        ),
        (
            "",
            "params: {id: x, q: \"{{ env.CI_SECRET | urlencode }}\"}",
        ),
        (
            "",
            "params: {id: x, q: \"pre-{{ env.CI_SECRET ~ '-post' }}\"}",
        ),
        (
            "",
            "params: {id: x, note: \"{{ env.CI_SECRET | tojson }}\"}",
        ),
        (
            "",
            "params: {id: x, note: \"{{ (' ' ~ env.CI_SECRET ~ ' ') | trim }}\"}",
        ),
    ];
    for (vars, params) in cases {
        let steps = format!("{vars}steps:\n  - {{id: one, action: GET_THING, {params}}}\n");
        let ws = Workspace::main(&spec(&server.uri(), &steps));
        for output in ["text", "json"] {
            let out = ws
                .runner(["plan", "main.yaml", "--output", output])
                .env("CI_SECRET", SECRET)
                .await
                .code_for(0, format_args!("{params}"))
                .stdout_has("***");
            assert_clean(&out, &[SECRET]);
        }
    }
    // A POST's JSON body too, with `b64encode` inside a list.
    let steps = "steps:\n  - id: post\n    action: SUBMIT\n    params: {title: \"{{ env.CI_SECRET }}\", tags: [\"{{ env.CI_SECRET | b64encode }}\"]}\n";
    let ws = Workspace::main(&spec(&server.uri(), steps));
    let out = ws
        .runner(["plan", "main.yaml", "--output", "json"])
        .env("CI_SECRET", SECRET)
        .await
        .code(0);
    assert_eq!(
        out.step(0)["body"],
        json!({"title": "***", "tags": ["***"]})
    );
    assert_clean(&out, &[SECRET]);
    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_entry_of_an_env_file_is_a_secret_read_or_not() {
    const READ: &str = "dotenv-Read-0123456789";
    const UNREAD: &str = "dotenv-Unread-0123456789";
    // The API echoes both: one the spec read, one it never mentioned.
    let server = Server::answering(
        "GET",
        json_reply(200, json!({"seen": READ, "also": format!("key={UNREAD}")})),
    )
    .await;
    let steps =
        "steps:\n  - {id: one, action: GET_THING, params: {id: x, q: \"{{ env.READ_ME }}\"}}\n";
    for (file, args) in [(".env", vec![]), ("ci.env", vec!["--env-file", "ci.env"])] {
        let ws = Workspace::main(&spec(&server.uri(), steps))
            .env_file(file, &[("READ_ME", READ), ("NEVER_READ", UNREAD)]);
        for command in ["plan", "apply"] {
            let mut all = vec![command, "main.yaml", "--output", "json"];
            all.extend(&args);
            let out = ws
                .runner(all)
                .await
                .code_for(0, format_args!("{file} {command}"));
            assert_clean(&out, &[READ, UNREAD]);
        }
        assert_hidden(&ws.read(".runner/main.yaml.jsonl"), &[READ, UNREAD]);
    }
    // The real values went out.
    let sent = server.received().await;
    assert_eq!(sent[0].url.query(), Some(format!("q={READ}").as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn env_values_are_masked_in_outputs_the_outputs_file_and_the_journal() {
    // The API echoes what it was sent, and the spec keeps it as outputs.
    let server = Server::answering(
        "POST /submit",
        Echo(
            201,
            |r: &Request| json!({"id": "t-1", "title": r.json()["title"]}),
        ),
    )
    .await;
    let steps = r#"steps:
  - id: post
    action: SUBMIT
    params: {title: "{{ 'Deploy ' ~ env.CI_SECRET }}"}
    outputs: {title: "{{ response.title }}"}
outputs:
  title: "{{ steps.post.outputs.title }}"
  raw: "{{ steps.post.response }}"
"#;
    let ws = Workspace::main(&spec(&server.uri(), steps));
    for output in ["text", "json"] {
        let out = ws
            .runner([
                "apply",
                "main.yaml",
                "--output",
                output,
                "--outputs-file",
                "out.json",
            ])
            .env("CI_SECRET", SECRET)
            .await
            .code(0);
        assert_clean(&out, &[SECRET]);
        let file = ws.read("out.json");
        assert_hidden(&file, &[SECRET]);
        let outputs: Value = serde_json::from_str(&file).unwrap();
        assert_eq!(outputs["title"], json!("Deploy ***"), "{file}");
        let journal = ws.read(".runner/main.yaml.jsonl");
        assert_hidden(&journal, &[SECRET]);
        assert!(journal.contains("Deploy ***"), "{journal}");
    }
    assert_eq!(
        server.received().await[0].json(),
        json!({"title": format!("Deploy {SECRET}")})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_what_templates_read_is_masked_and_inputs_are_not_secrets() {
    const PLAIN: &str = "plain-value-not-read-42";
    const TITLE: &str = "Weekly triage from an input";
    let server = Server::answering(
        "POST /submit",
        Echo(
            201,
            |r: &Request| json!({"got": r.json()["title"], "plain": PLAIN}),
        ),
    )
    .await;
    let steps = r#"inputs:
  title: {type: string, required: true}
steps:
  - {id: post, action: SUBMIT, params: {title: "{{ inputs.title }}"}}
"#;
    let ws = Workspace::main(&spec(&server.uri(), steps))
        .file(".env", &format!("RUNNER_INPUT_TITLE=\"{TITLE}\"\n"));
    let out = ws
        .runner(["apply", "main.yaml", "--output", "json"])
        .env("PLAIN", PLAIN)
        .await
        .code(0);
    // An input given by `RUNNER_INPUT_*` (here from the env file) and an
    // env variable no template reads are not secrets.
    assert_eq!(
        out.step(0)["response"],
        json!({"got": TITLE, "plain": PLAIN})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_too_short_to_mask_is_named_in_a_warning() {
    let server = quiet().await;
    let steps =
        "steps:\n  - {id: one, action: GET_THING, params: {id: x, q: \"{{ env.REGION }}\"}}\n";
    let ws = Workspace::main(&spec(&server.uri(), steps));
    for command in ["plan", "apply"] {
        let out = ws
            .runner([command, "main.yaml"])
            .env("REGION", "eu")
            .await
            .code(0);
        assert!(
            out.stderr
                .contains("env `REGION` is shorter than 4 characters")
                && out.stderr.contains("RUNNER_INPUT_REGION"),
            "{command}: {out:?}"
        );
    }
}

// ------------------------------------------------------------ laundering

/// `validate`, `plan` and `apply` all refuse `rest` with exit 2, naming
/// each of `expected`; nothing is sent.
async fn refused(rest: &str, files: &[(&str, &str)], expected: &[&str]) {
    let server = quiet().await;
    let mut ws = Workspace::main(&spec(&server.uri(), rest));
    for (name, text) in files {
        ws = ws.file(name, text);
    }
    for command in ["validate", "plan", "apply"] {
        let out = ws
            .runner([command, "main.yaml"])
            .env("CI_SECRET", SECRET)
            .env("DRY_RUN", "1")
            .await
            .code_for(2, format_args!("{command}:\n{rest}\n"))
            .stderr_has_all(expected);
        assert_clean(&out, &[SECRET]);
    }
    assert!(server.received().await.is_empty());
}

/// A step reading `q` as given.
fn q(template: &str) -> String {
    format!("steps:\n  - {{id: one, action: GET_THING, params: {{id: x, q: \"{template}\"}}}}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_methods_slices_and_indexes_of_an_env_value_are_refused() {
    for (template, expression, what) in [
        (
            "{{ env.CI_SECRET | reverse }}",
            "`env.CI_SECRET | reverse`",
            "applies filter `reverse` to env `CI_SECRET`",
        ),
        (
            "{{ env.CI_SECRET[1:] }}",
            "`env.CI_SECRET[1:]`",
            "slices env `CI_SECRET`",
        ),
        (
            "{{ env.CI_SECRET[::-1] }}",
            "`env.CI_SECRET[::-1]`",
            "slices env `CI_SECRET`",
        ),
        (
            "{{ env.CI_SECRET[0] }}",
            "`env.CI_SECRET[0]`",
            "reads `0` inside env `CI_SECRET`",
        ),
        (
            "{{ env.CI_SECRET | list | join('.') }}",
            "`env.CI_SECRET | list`",
            "applies filter `list`",
        ),
        (
            "{{ env.CI_SECRET.split('_') | join('-') }}",
            "`env.CI_SECRET.split('_')`",
            "calls method `split`",
        ),
        (
            "{{ env.CI_SECRET | replace('S', 's') }}",
            "`env.CI_SECRET | replace('S', 's')`",
            "applies filter `replace`",
        ),
        (
            "{{ env.CI_SECRET | upper }}",
            "`env.CI_SECRET | upper`",
            "applies filter `upper`",
        ),
        (
            "{{ env.CI_SECRET | trim('c') }}",
            "`env.CI_SECRET | trim('c')`",
            "with arguments",
        ),
        (
            "{{ env.CI_SECRET | length }}",
            "`env.CI_SECRET | length`",
            "applies filter `length`",
        ),
        (
            "{% for c in env.CI_SECRET %}{{ c }}.{% endfor %}",
            "`env.CI_SECRET`",
            "loops over env `CI_SECRET`",
        ),
        (
            "{% set t = env.CI_SECRET %}{{ t | reverse }}",
            "`t | reverse`",
            "env `CI_SECRET`",
        ),
        (
            "{% filter upper %}{{ env.CI_SECRET }}{% endfilter %}",
            "applies filter `upper`",
            "env `CI_SECRET`",
        ),
        (
            "{{ 'a' if env.CI_SECRET == 'x' else 'b' }}",
            "`env.CI_SECRET == 'x'`",
            "compares env `CI_SECRET`",
        ),
        (
            "{{ env.CI_SECRET is string }}",
            "`env.CI_SECRET is string`",
            "tests (`is string`)",
        ),
        (
            "{{ env.CI_SECRET or 'x' }}",
            "`env.CI_SECRET or 'x'`",
            "tests the truth of",
        ),
    ] {
        refused(&q(template), &[], &[expression, what, ", a secret"]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_laundered_through_vars_outputs_or_a_sub_workflow_is_refused() {
    // A var built from env, then a filter on the var.
    refused(
        "vars:\n  raw: \"{{ env.CI_SECRET }}\"\n  both: {user: bob, token: \"x{{ vars.raw }}\"}\nsteps:\n  - {id: one, action: GET_THING, params: {id: x, q: \"{{ vars.both.token | reverse }}\"}}\n",
        &[],
        &["`vars.both.token | reverse`", "var `both` (built from env `CI_SECRET`)"],
    )
    .await;
    // The record's other field stays usable: only the secret's path counts.
    let server = quiet().await;
    let ws = Workspace::main(&spec(
        &server.uri(),
        "vars:\n  both: {user: bob, token: \"{{ env.CI_SECRET }}\"}\nsteps:\n  - {id: one, action: GET_THING, params: {id: x, q: \"{{ vars.both.user | upper }}\"}}\n",
    ));
    ws.runner(["validate", "main.yaml"]).await.code(0);
    // A step output built from env, read by a later step.
    refused(
        r#"steps:
  - {id: one, action: GET_THING, params: {id: x}, outputs: {k: "{{ env.CI_SECRET }}"}}
  - {id: two, action: GET_THING, params: {id: x, q: "{{ steps.one.outputs.k[:4] }}"}}
"#,
        &[],
        &[
            "`steps.one.outputs.k[:4]`",
            "output `k` of step `one` (built from env `CI_SECRET`)",
        ],
    )
    .await;
    // A sub-workflow's input given a secret by the caller's `with:`.
    let flow = r#"version: 1
inputs:
  token: {type: string, required: true}
steps:
  - {id: inner, action: GET_THING, params: {id: x, q: "{{ inputs.token | reverse }}"}}
"#;
    refused(
        "steps:\n  - {id: call, uses: flow.yaml, with: {token: \"{{ env.CI_SECRET }}\"}}\n",
        &[("flow.yaml", flow)],
        &[
            "`inputs.token | reverse`",
            "input `token` (built from env `CI_SECRET`)",
        ],
    )
    .await;
    // A sub-workflow's output built from a secret, read by the caller.
    let flow = r#"version: 1
steps:
  - {id: inner, action: GET_THING, params: {id: x}}
outputs:
  k: "{{ env.CI_SECRET }}"
"#;
    refused(
        "steps:\n  - {id: call, uses: flow.yaml}\n  - {id: two, action: GET_THING, params: {id: x, q: \"{{ steps.call.outputs.k | title }}\"}}\n",
        &[("flow.yaml", flow)],
        &["`steps.call.outputs.k | title`", "output `k` of step `call`"],
    )
    .await;
    // A loop over a literal list of secrets: each item is one.
    refused(
        "steps:\n  - id: each\n    for_each: [\"{{ env.CI_SECRET }}\", plain]\n    action: GET_THING\n    params: {id: x, q: \"{{ item | upper }}\"}\n",
        &[],
        &["`item | upper`", "the loop's `item`"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_value_that_auth_reads_cannot_be_laundered_elsewhere() {
    let auth = r#"  - id: use
    action: GET_THING
    params: {id: x}
    auth:
      parameters:
        - {name: X-Session, in: header, value: "{{ steps.login.response.token }}"}
"#;
    for (elsewhere, expression) in [
        (
            "  - {id: peek, action: GET_THING, params: {id: x, q: \"{{ steps.login.response.token | reverse }}\"}}\n",
            "`steps.login.response.token | reverse`",
        ),
        (
            "  - {id: peek, action: GET_THING, params: {id: x, q: \"{{ steps.login.response | dictsort }}\"}}\n",
            "`steps.login.response | dictsort`",
        ),
        (
            "  - {id: peek, if: \"{{ steps.login.response.token == 'x' }}\", action: GET_THING, params: {id: x}}\n",
            "`steps.login.response.token == 'x'`",
        ),
    ] {
        let steps = format!("steps:\n  - {{id: login, action: LOGIN}}\n{auth}{elsewhere}");
        refused(
            &steps,
            &[],
            &[
                expression,
                "`steps.login.response.token` (a step's auth reads it)",
            ],
        )
        .await;
    }
    // The login step's own assertion on the token is a comparison too.
    let steps = format!(
        "steps:\n  - id: login\n    action: LOGIN\n    expect: {{that: [\"{{{{ response.token | length > 10 }}}}\"]}}\n{auth}"
    );
    refused(
        &steps,
        &[],
        &["`response.token | length`", "(a step's auth reads it)"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conditions_and_loops_cannot_rest_on_a_secret() {
    refused(
        "steps:\n  - {id: one, if: \"{{ env.DRY_RUN == '1' }}\", action: GET_THING, params: {id: x}}\n",
        &[],
        &["`env.DRY_RUN == '1'` compares env `DRY_RUN`", "RUNNER_INPUT_DRY_RUN", "inputs.dry_run"],
    )
    .await;
    refused(
        "steps:\n  - {id: one, if: \"{{ env.DRY_RUN }}\", action: GET_THING, params: {id: x}}\n",
        &[],
        &["`if` decides on env `DRY_RUN`", "RUNNER_INPUT_DRY_RUN"],
    )
    .await;
    refused(
        "steps:\n  - {id: one, for_each: \"{{ env.CI_SECRET }}\", action: GET_THING, params: {id: x}}\n",
        &[],
        &["`for_each` loops over env `CI_SECRET`"],
    )
    .await;
    refused(
        "steps:\n  - id: one\n    action: GET_THING\n    params: {id: x}\n    expect: {that: [\"{{ response.id != env.CI_SECRET }}\"]}\n",
        &[],
        &["compares env `CI_SECRET`"],
    )
    .await;
    // The configuration as an input works, from the environment.
    let server = quiet().await;
    let ws = Workspace::main(&spec(
        &server.uri(),
        "inputs:\n  dry_run: {type: string, default: '0'}\nsteps:\n  - {id: one, if: \"{{ inputs.dry_run != '1' }}\", action: GET_THING, params: {id: x}}\n",
    ));
    let out = ws
        .runner(["apply", "main.yaml", "--output", "json"])
        .env("RUNNER_INPUT_DRY_RUN", "1")
        .await
        .code(0);
    assert_eq!(out.step(0)["skip_reason"], json!("condition"), "{out:?}");
    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operations_the_redactor_follows_are_allowed_and_sent_for_real() {
    let server = quiet().await;
    let steps = r#"steps:
  - id: one
    if: "{{ env.CI_SECRET is defined and env.OTHER is not undefined }}"
    action: GET_THING
    params:
      id: x
      q: "{{ env.CI_SECRET | urlencode_component }}"
      note: "{{ env.OTHER | default('fallback') | trim }}"
"#;
    let ws = Workspace::main(&spec(&server.uri(), steps));
    ws.runner(["validate", "main.yaml"]).await.code(0);
    let out = ws
        .runner(["apply", "main.yaml", "--output", "json"])
        .env("CI_SECRET", SECRET)
        .env("OTHER", " other-Secret-987654 ")
        .await
        .code(0);
    assert_clean(&out, &[SECRET, "other-Secret-987654"]);
    let sent = &server.received().await[0];
    assert_eq!(sent.url.query(), Some(format!("q={SECRET}").as_str()));
    assert_eq!(sent.header("x-note"), Some("other-Secret-987654"));
}

#[test]
fn urlencode_is_a_filter_validate_knows() {
    let ws = Workspace::main(&spec(
        "http://127.0.0.1:9",
        "steps:\n  - {id: one, action: GET_THING, params: {id: x, q: \"{{ {'a': 'b c'} | urlencode }}\"}}\n",
    ));
    ws.runner(["plan", "main.yaml"])
        .run()
        .code(0)
        .stdout_has("q=a%3Db%2520c");
}

// ----------------------------------------------------------------- hints

#[test]
fn validate_suggests_an_input_for_configuration_read_from_env() {
    let ws = Workspace::main(&spec(
        "http://127.0.0.1:9",
        r#"auth:
  api:
    parameters:
      - {name: Authorization, in: header, value: "Bearer {{ env.GITHUB_TOKEN }}"}
steps:
  - {id: one, action: GET_THING, params: {id: "{{ env.GITHUB_REPOSITORY }}", q: "{{ env.API_TOKEN }}"}}
"#,
    ));
    let out = ws
        .runner(["validate", "main.yaml"])
        .run()
        .code(0)
        .stderr_has("warning: env `GITHUB_REPOSITORY` looks like configuration")
        .stderr_has("RUNNER_INPUT_GITHUB_REPOSITORY");
    // Names of credentials get no hint, in auth or not.
    assert!(!out.stderr.contains("`GITHUB_TOKEN` looks"), "{out:?}");
    assert!(!out.stderr.contains("`API_TOKEN` looks"), "{out:?}");
}

// ---------------------------------------------------------------- resume

#[tokio::test(flavor = "multi_thread")]
async fn a_response_holding_an_env_value_is_journalled_masked_and_not_reused() {
    // The POST's answer echoes the env value; the GET after it reads the
    // answer and fails the first time.
    let server = Server::build()
        .reply(
            "POST /submit",
            Echo(
                201,
                |r: &Request| json!({"id": "t-7", "title": r.json()["title"]}),
            ),
        )
        .reply_in_turn(
            "GET /things/t-7",
            vec![
                json_reply(500, json!({})),
                json_reply(200, json!({"ok": true})),
            ],
        )
        .start()
        .await;
    let steps = r#"steps:
  - {id: post, action: SUBMIT, params: {title: "{{ env.CI_SECRET }}"}}
  - {id: get, action: GET_THING, params: {id: "{{ steps.post.response.id }}"}}
"#;
    let ws = Workspace::main(&spec(&server.uri(), steps));
    ws.runner(["apply", "main.yaml"])
        .env("CI_SECRET", SECRET)
        .await
        .code(1);
    let journal = ws.read(".runner/main.yaml.jsonl");
    assert_hidden(&journal, &[SECRET]);
    // The journal kept a masked answer, not the real one: resuming cannot
    // reuse it for the step that reads it, and will not repeat the POST.
    let resumed = ws
        .runner(["apply", "main.yaml", "--resume", ".runner/main.yaml.jsonl"])
        .env("CI_SECRET", SECRET)
        .await
        .code(2)
        .stderr_has("held secrets");
    assert_clean(&resumed, &[SECRET]);
    assert_eq!(server.received().await.len(), 2);
    // `--rerun-changed` sends it again, on purpose.
    ws.runner([
        "apply",
        "main.yaml",
        "--resume",
        ".runner/main.yaml.jsonl",
        "--rerun-changed",
    ])
    .env("CI_SECRET", SECRET)
    .sends(&server, 4)
    .await;
}
