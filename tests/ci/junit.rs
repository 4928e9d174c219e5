//! JUnit XML: parsed back, validated against the JUnit XSD with
//! `xmllint`, each outcome in its element, secrets masked.

use std::path::Path;

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::harness::specs::{ITEMS_TOKEN, items_api};
use crate::harness::{Server, Workspace, json_reply};

/// The JUnit schema the common reporters follow (see its header).
const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/junit/junit.xsd"
);

/// Asserts that `xml` is valid against [`XSD`]. `xmllint` must be
/// installed (`.ci/run` installs it): without it this fails, never skips.
fn assert_valid_junit(xml: &str, dir: &Path) {
    let file = dir.join("checked-junit.xml");
    std::fs::write(&file, xml).expect("write the JUnit document");
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", XSD])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `xmllint` ({e}): install it (Debian/Ubuntu: apt-get install libxml2-utils)")
        });
    assert!(
        out.status.success(),
        "not valid JUnit:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every step outcome: ok, a status failure (continued), a render error
/// (continued), a step whose `if` is false, a loop with a failed item,
/// then a step skipped after that failure.
const STEPS: &str = r#"steps:
  - id: create
    action: CREATE
    params: {name: widget}
  - id: status
    action: STATUS
    continue_on_error: true
  - id: render
    action: CREATE
    params: {name: "{{ steps.create.response.nope.deeper }}"}
    continue_on_error: true
  - id: never
    if: "{{ false }}"
    action: LIST
  - id: each
    for_each: [a, b]
    action: CREATE
    params: {name: "{{ item }}"}
  - id: after
    action: LIST
"#;

async fn server() -> Server {
    Server::build()
        .reply_in_turn(
            "POST /items",
            vec![
                json_reply(201, json!({"id": 7})),
                json_reply(201, json!({"id": 8})),
                json_reply(409, json!({"message": "exists"})),
            ],
        )
        .reply(
            "GET /status",
            json_reply(500, json!({"message": format!("bad token {ITEMS_TOKEN}")})),
        )
        .reply("GET /items", json_reply(200, json!([])))
        .start()
        .await
}

/// `(name, classname, outcome element, its message and type)` of each
/// test case, in order.
fn cases(doc: &roxmltree::Document) -> Vec<(String, String, String, String, String)> {
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| {
            let outcome = case.children().find(|c| c.is_element());
            (
                case.attribute("name").unwrap_or_default().to_string(),
                case.attribute("classname").unwrap_or_default().to_string(),
                outcome
                    .map_or("passed", |o| o.tag_name().name())
                    .to_string(),
                outcome
                    .and_then(|o| o.attribute("message"))
                    .unwrap_or_default()
                    .to_string(),
                outcome
                    .and_then(|o| o.attribute("type"))
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_as_junit_parsed_back_and_valid_against_the_xsd() {
    let server = server().await;
    let ws = Workspace::main(&items_api(&server.uri(), STEPS));
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "--output", "junit"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .await
        .code(1);
    assert!(!out.all().contains(ITEMS_TOKEN), "{}", out.all());
    assert_valid_junit(&out.stdout, ws.path());
    let doc = roxmltree::Document::parse(&out.stdout).expect("well-formed XML");
    let suites: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(suites, ["main.yaml"]);
    let cases = cases(&doc);
    let summary: Vec<(&str, &str, &str, &str)> = cases
        .iter()
        .map(|(n, c, o, _, t)| (n.as_str(), c.as_str(), o.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("create", "CREATE", "passed", ""),
            ("status", "STATUS", "failure", "status"),
            ("render", "CREATE", "error", "render"),
            ("never", "LIST", "skipped", ""),
            ("each[0]", "CREATE", "passed", ""),
            ("each[1]", "CREATE", "failure", "status"),
            ("after", "LIST", "skipped", ""),
        ]
    );
    // The API echoed the token in its error: masked in the message.
    assert!(cases[1].3.contains("bad token ***"), "{:?}", cases[1]);
    assert_eq!(cases[3].3, "its `if` is false");
    assert_eq!(cases[6].3, "an earlier step failed");
    let root = doc.root_element();
    assert_eq!(root.attribute("tests"), Some("7"));
    assert_eq!(root.attribute("failures"), Some("2"));
    assert_eq!(root.attribute("errors"), Some("1"));
    assert_eq!(root.attribute("skipped"), Some("2"));
    // Durations in seconds: a decimal on each case.
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let time: f64 = case
            .attribute("time")
            .expect("time")
            .parse()
            .expect("seconds");
        assert!(time < 60.0, "{time}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_junit_writes_the_file_beside_the_json_output() {
    let server = Server::answering("GET /items", json_reply(200, json!([]))).await;
    let steps = "steps:\n  - id: list\n    action: LIST\n  - id: again\n    action: LIST\n";
    let ws = Workspace::main(&items_api(&server.uri(), steps));
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
        .args(["--report-junit", "junit.xml"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .sends(&server, 2)
        .await;
    assert_eq!(out.json()["ok"], json!(true));
    let xml = ws.read("junit.xml");
    assert_valid_junit(&xml, ws.path());
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let names: Vec<String> = cases(&doc).into_iter().map(|c| c.0).collect();
    assert_eq!(names, ["list", "again"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_workflow_gets_the_suite_of_its_file() {
    let server = Server::build()
        .reply("GET /items", json_reply(200, json!([])))
        .reply("POST /items", ResponseTemplate::new(201))
        .start()
        .await;
    let steps = "steps:\n  - id: first\n    action: LIST\n  - id: sub\n    uses: sub.yaml\n";
    let ws = Workspace::main(&items_api(&server.uri(), steps)).file(
        "sub.yaml",
        "version: 1\nsteps:\n  - id: inner\n    action: CREATE\n    params: {name: x}\n",
    );
    let out = ws
        .runner(["apply", "main.yaml", "--no-journal", "--output", "junit"])
        .env("API_TOKEN", ITEMS_TOKEN)
        .await
        .code(0);
    assert_valid_junit(&out.stdout, ws.path());
    let doc = roxmltree::Document::parse(&out.stdout).expect("well-formed XML");
    let suites: Vec<(String, Vec<String>)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|s| {
            (
                s.attribute("name").unwrap_or_default().to_string(),
                s.children()
                    .filter(|c| c.has_tag_name("testcase"))
                    .map(|c| c.attribute("name").unwrap_or_default().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        suites,
        [
            ("main.yaml".to_string(), vec!["first".to_string()]),
            (
                "sub.yaml".to_string(),
                vec!["steps[1] (sub).inner".to_string()]
            ),
        ]
    );
}

#[test]
fn a_spec_that_does_not_load_is_one_error_case() {
    let ws = Workspace::main("version: 1\nsteps:\n  - action: NOPE\n");
    let out = ws
        .runner(["apply", "main.yaml", "--output", "junit"])
        .run()
        .code(2);
    assert_valid_junit(&out.stdout, ws.path());
    let doc = roxmltree::Document::parse(&out.stdout).expect("well-formed XML");
    let cases = cases(&doc);
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(
        (cases[0].0.as_str(), cases[0].2.as_str()),
        ("load", "error")
    );
    assert!(cases[0].3.contains("NOPE"), "{cases:?}");
}

#[test]
fn junit_is_refused_where_there_are_no_steps() {
    let ws = Workspace::main(&items_api("https://api.example.com", "steps: []\n"));
    for command in ["actions", "describe LIST"] {
        ws.runner(command.split(' '))
            .args(["main.yaml", "--output", "junit"])
            .run()
            .code_for(2, command)
            .stderr_has("`--output junit` reports a run's steps");
    }
}
