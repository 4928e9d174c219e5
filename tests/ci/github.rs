//! Under `GITHUB_ACTIONS=true`: untrusted text fenced by
//! `::stop-commands::`, annotations for diagnostics and failed steps (at
//! most ten per kind), the step summary and `--github-output`.

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::harness::specs::{ITEMS_TOKEN, items_api};
use crate::harness::{Cmd, Server, Workspace, json_reply};

/// What an API might answer to take over the job's log.
const HOSTILE: &str = "::add-mask::hidden\n::error title=pwned::pwned\n::set-output name=x::y\n";

/// The workflow commands GitHub would run from `log`: lines starting with
/// `::` outside a `::stop-commands::` fence. Panics on a fence left open.
fn commands_run(log: &str) -> Vec<String> {
    let mut fence: Option<String> = None;
    let mut run = Vec::new();
    for line in log.lines() {
        match &fence {
            Some(token) => {
                if line == format!("::{token}::") {
                    fence = None;
                }
            }
            None => {
                if let Some(token) = line.strip_prefix("::stop-commands::") {
                    fence = Some(token.to_string());
                } else if line.starts_with("::") {
                    run.push(line.to_string());
                }
            }
        }
    }
    assert!(fence.is_none(), "a fence left open:\n{log}");
    run
}

/// The fence tokens in `log`.
fn tokens(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.strip_prefix("::stop-commands::"))
        .map(str::to_string)
        .collect()
}

fn in_github(cmd: Cmd) -> Cmd {
    cmd.env("GITHUB_ACTIONS", "true")
        .env("API_TOKEN", ITEMS_TOKEN)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_response_is_printed_inert_with_a_new_token_each_run() {
    let server = Server::build()
        .reply(
            "GET /items",
            ResponseTemplate::new(200).set_body_string(HOSTILE),
        )
        .reply(
            "GET /status",
            ResponseTemplate::new(500).set_body_string(HOSTILE),
        )
        .start()
        .await;
    let steps = "steps:\n  - id: list\n    action: LIST\n  - id: status\n    action: STATUS\n";
    let ws = Workspace::main(&items_api(&server.uri(), steps));
    let run = || in_github(ws.runner(["apply", "main.yaml", "--no-journal", "-vv"]));
    let first = run().await.code(1);
    // The response was printed (by `-vv`, and in the step's error)...
    assert!(
        first.stderr.contains("::add-mask::hidden"),
        "{}",
        first.stderr
    );
    // ...but inside fences: the only commands left are runner's own.
    let commands = commands_run(&first.all());
    assert!(!commands.is_empty(), "no annotation:\n{}", first.all());
    for c in &commands {
        assert!(
            c.starts_with("::error file=main.yaml,"),
            "{c}\n{}",
            first.all()
        );
        assert!(!c.contains('\n'));
    }
    let second = run().await.code(1);
    let (a, b) = (tokens(&first.all()), tokens(&second.all()));
    assert!(!a.is_empty() && a[0].len() >= 32, "{a:?}");
    assert!(
        a.iter().all(|t| !b.contains(t)),
        "the same token twice: {a:?} {b:?}"
    );
    // Without GitHub Actions, no fences.
    let plain = ws
        .runner(["apply", "main.yaml", "--no-journal"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .await
        .code(1);
    assert!(tokens(&plain.all()).is_empty(), "{}", plain.all());
    assert!(!plain.all().contains("::error file="), "{}", plain.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn annotations_summary_and_outputs_under_github_actions() {
    let server = Server::build()
        .reply("GET /items", json_reply(200, json!([{"id": 7}])))
        .reply("GET /status", json_reply(500, json!({"message": "down"})))
        .start()
        .await;
    let steps = r#"steps:
  - id: list
    action: LIST
  - id: status
    action: STATUS
    continue_on_error: true
outputs:
  note: "@octocat | <b>bold</b> `tick` {{ env.API_TOKEN }}"
  first: "{{ steps.list.response[0].id }}"
"#;
    let ws = Workspace::main(&items_api(&server.uri(), steps));
    let summary = ws.path().join("summary.md");
    let output = ws.path().join("output.txt");
    let out = in_github(ws.runner(["apply", "main.yaml", "--no-journal", "--github-output"]))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .await
        .code(0);
    assert!(!out.all().contains(ITEMS_TOKEN), "{}", out.all());
    let commands = commands_run(&out.stderr);
    assert_eq!(commands.len(), 1, "{commands:?}");
    let status_line = ws
        .read("main.yaml")
        .lines()
        .position(|l| l.contains("action: STATUS"))
        .unwrap();
    assert!(
        commands[0].starts_with("::error file=main.yaml,line="),
        "{commands:?}"
    );
    assert!(
        commands[0].contains("title=runner%3A step status failed (status)::"),
        "{commands:?}"
    );
    let line: usize = commands[0]["::error file=main.yaml,line=".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(line >= status_line, "{line} {commands:?}");

    let md = ws.read("summary.md");
    assert!(md.contains("| ✅ | list | LIST | 200 OK |"), "{md}");
    assert!(md.contains("| ❌ | status | STATUS | 500"), "{md}");
    assert!(
        md.contains("&#64;octocat &#124; &lt;b&gt;bold&lt;/b&gt; &#96;tick&#96; ***"),
        "{md}"
    );
    assert!(
        !md.contains("@octocat") && !md.contains(ITEMS_TOKEN),
        "{md}"
    );

    let written = ws.read("output.txt");
    let lines: Vec<&str> = written.lines().collect();
    let delimiter = lines[0].strip_prefix("note<<").expect("a heredoc");
    assert!(
        delimiter.starts_with("ghadelimiter_") && delimiter.len() > 30,
        "{written}"
    );
    assert_eq!(lines[1], "@octocat | <b>bold</b> `tick` ***");
    assert_eq!(lines[2], delimiter);
    assert!(lines[3].starts_with("first<<ghadelimiter_"), "{written}");
    assert_ne!(&lines[3]["first<<".len()..], delimiter);
    assert_eq!(lines[4], "7");
}

#[tokio::test(flavor = "multi_thread")]
async fn at_most_ten_annotations_per_kind_then_a_count() {
    let server = Server::answering("POST /items", json_reply(422, json!({}))).await;
    let steps = r#"steps:
  - id: each
    for_each: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    action: CREATE
    params: {name: "n{{ item }}"}
    continue_on_error: true
"#;
    let ws = Workspace::main(&items_api(&server.uri(), steps));
    let out = in_github(ws.runner(["apply", "main.yaml", "--no-journal"]))
        .await
        .code(0);
    let errors = commands_run(&out.stderr)
        .into_iter()
        .filter(|c| c.starts_with("::error "))
        .count();
    assert_eq!(errors, 10, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("more errors not annotated (GitHub shows 10 per kind per step)"),
        "{}",
        out.stderr
    );
}

#[test]
fn validate_annotates_errors_and_warnings() {
    let ws = Workspace::main(&items_api(
        "https://api.example.com",
        "steps:\n  - action: CREATE\n    params: {name: x}\n  - action: CREAT\n",
    ));
    let out = ws
        .runner(["validate", "main.yaml"])
        .env("GITHUB_ACTIONS", "true")
        .run()
        .code(2);
    let commands = commands_run(&out.stderr);
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("::error file=main.yaml,line=")
                && c.contains("did you mean `CREATE`?")),
        "{commands:?}"
    );
    // The text form is still there, fenced.
    assert!(out.stderr.contains("error: "), "{}", out.stderr);
}

#[test]
fn github_output_without_the_file_is_refused() {
    let ws = Workspace::main(&items_api(
        "https://api.example.com",
        "steps:\n  - id: list\n    action: LIST\n",
    ));
    ws.runner(["apply", "main.yaml", "--github-output"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .run()
        .code(2)
        .stderr_has("`--github-output` needs `$GITHUB_OUTPUT`");
}

#[test]
fn a_plan_in_the_step_summary() {
    let steps = "steps:\n  - id: make\n    action: CREATE\n    params: {name: \"<b>@team</b>\"}\n  - id: list\n    action: LIST\n";
    let ws = Workspace::main(&items_api("https://api.example.com", steps));
    let summary = ws.path().join("summary.md");
    ws.runner(["plan", "main.yaml"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run()
        .code(0);
    let md = ws.read("summary.md");
    assert!(
        md.starts_with("### runner plan main.yaml: 2 request(s) planned, none sent\n"),
        "{md}"
    );
    assert!(
        md.contains("| steps[0] (make) | CREATE | POST https://api.example.com/items |"),
        "{md}"
    );
    assert!(
        md.contains("| steps[1] (list) | LIST | GET https://api.example.com/items |"),
        "{md}"
    );
    // Without GitHub Actions, the file is left alone.
    std::fs::remove_file(&summary).unwrap();
    ws.runner(["plan", "main.yaml"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run()
        .code(0);
    assert!(!ws.exists("summary.md"));
}
