//! The run journal and `--resume`: where it goes, what it records, what a
//! resumed run sends again and what it does not, and what a run stopped by
//! SIGTERM, SIGINT or SIGKILL leaves behind. Mock servers on 127.0.0.1.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Run, Workspace, body_json, received, run};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

const JOURNAL: &str = ".runner/main.yaml.jsonl";
const TOKEN: &str = "shop_Journal0123456789abcdef";

fn spec(base: &str, auth: &str, steps: &str) -> String {
    format!(
        r#"version: 1
apps:
  shop:
    base_url: {base}
    retry: {{backoff: 10ms}}
    actions:
      CREATE_PROJECT:
        method: POST
        path: /projects
        params:
          name: {{type: string, required: true}}
      CREATE_ITEM:
        method: POST
        path: /projects/{{project}}/items
        params:
          project: {{type: string, required: true}}
          title: {{type: string, required: true}}
      GET_STATUS:
        method: GET
        path: /projects/{{project}}/status
        params:
          project: {{type: string, required: true}}
      UPDATE_ITEM:
        method: PUT
        path: /projects/{{project}}/items/{{item}}
        params:
          project: {{type: string, required: true}}
          item: {{type: integer, required: true}}
          state: {{type: string}}
      PUBLISH:
        method: POST
        path: /projects/{{project}}/publish
        params:
          project: {{type: string, required: true}}
{auth}vars:
  name: demo
steps:
{steps}"#
    )
}

/// Create a project and an item in it (POSTs), check the project's status,
/// update the item (its id from step 2's response) and publish.
const FIVE_STEPS: &str = r#"  - id: project
    action: CREATE_PROJECT
    params: {name: "{{ vars.name }}"}
  - id: item
    action: CREATE_ITEM
    params: {project: "{{ steps.project.response.id }}", title: first}
  - id: status
    action: GET_STATUS
    params: {project: "{{ steps.project.response.id }}"}
  - id: update
    action: UPDATE_ITEM
    params:
      project: "{{ steps.project.response.id }}"
      item: "{{ steps.item.response.id }}"
      state: done
  - id: publish
    action: PUBLISH
    params: {project: "{{ steps.project.response.id }}"}
"#;

/// The shop API. Creating answers `project` and `item` as the new ids; the
/// status check answers `status`.
async fn mount_shop(server: &MockServer, project: &str, item: u64, status: u16) {
    Mock::given(method("POST"))
        .and(path("/projects"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": project})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/projects/[^/]+/items$"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": item})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/projects/[^/]+/status$"))
        .respond_with(if status == 200 {
            ResponseTemplate::new(200).set_body_json(json!({"state": "green"}))
        } else {
            ResponseTemplate::new(status).set_body_json(json!({"message": "database on fire"}))
        })
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/projects/[^/]+/items/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"state": "done"})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/projects/[^/]+/publish$"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"published": true})))
        .mount(server)
        .await;
}

/// `METHOD /path` of every request the server received, in order.
async fn requests(server: &MockServer) -> Vec<String> {
    received(server)
        .await
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

fn count(requests: &[String], request: &str) -> usize {
    requests.iter().filter(|r| *r == request).count()
}

/// The journal's records; every line must be one JSON document.
fn records(ws: &Workspace, rel: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(ws.path().join(rel))
        .unwrap_or_else(|e| panic!("cannot read {rel}: {e}"));
    assert!(text.ends_with('\n'), "torn journal:\n{text}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{text}")))
        .collect()
}

/// `(step, state)` of each record.
fn states(records: &[Value]) -> Vec<(u64, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["step"].as_u64().expect("step"),
                r["state"].as_str().expect("state").to_string(),
            )
        })
        .collect()
}

fn steps_states(pairs: &[(u64, &str)]) -> Vec<(u64, String)> {
    pairs.iter().map(|(s, st)| (*s, st.to_string())).collect()
}

async fn apply(ws: &Workspace, args: &[&str]) -> Run {
    let mut cmd = ws.runner();
    cmd.arg("apply").args(args).env("SHOP_TOKEN", TOKEN);
    run(cmd).await
}

fn json_step(out: &Run, i: usize) -> Value {
    out.json()["steps"][i].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_journals_beside_the_spec_by_default() {
    let server = MockServer::start().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let ws = Workspace::new();
    ws.write("specs/main.yaml", &spec(&server.uri(), "", FIVE_STEPS));
    let out = apply(&ws, &["specs/main.yaml"]).await;
    assert_eq!(out.code, 0, "{out:?}");

    assert!(
        !ws.path().join(".runner").exists(),
        "journal beside the cwd"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("specs/.runner/.gitignore")).expect(".gitignore"),
        "*\n"
    );
    let recs = records(&ws, "specs/.runner/main.yaml.jsonl");
    let expected: Vec<(u64, &str)> = (0..5).flat_map(|i| [(i, "started"), (i, "ok")]).collect();
    assert_eq!(states(&recs), steps_states(&expected));
    let ids = ["project", "item", "status", "update", "publish"];
    let actions = [
        "CREATE_PROJECT",
        "CREATE_ITEM",
        "GET_STATUS",
        "UPDATE_ITEM",
        "PUBLISH",
    ];
    for (i, pair) in recs.chunks(2).enumerate() {
        let (started, ended) = (&pair[0], &pair[1]);
        for r in pair {
            assert_eq!(r["id"], json!(ids[i]));
            assert_eq!(r["action"], json!(actions[i]));
            let fp = r["request"].as_str().expect("request");
            assert!(
                fp.starts_with("sha256:") && fp.len() == 7 + 64,
                "fingerprint {fp}"
            );
        }
        assert_eq!(started["request"], ended["request"]);
        assert_eq!(started["http_status"], json!(null));
        assert_eq!(started["outputs"], json!(null));
        assert_eq!(ended["complete"], json!(true));
    }
    assert_eq!(recs[1]["http_status"], json!(201));
    assert_eq!(recs[1]["outputs"]["status"], json!(201));
    assert_eq!(recs[1]["outputs"]["response"], json!({"id": "p-17"}));
    assert_eq!(
        recs[1]["outputs"]["headers"]["content-type"],
        json!("application/json")
    );
    assert_eq!(recs[3]["outputs"]["response"], json!({"id": 99}));
    assert_eq!(recs[5]["http_status"], json!(200));

    // A new run (not a resume) starts a new journal.
    let out = apply(&ws, &["specs/main.yaml"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(records(&ws, "specs/.runner/main.yaml.jsonl").len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_journal_and_a_journal_elsewhere() {
    let server = MockServer::start().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let ws = Workspace::new();
    ws.write("main.yaml", &spec(&server.uri(), "", FIVE_STEPS));

    let out = apply(&ws, &["main.yaml", "--no-journal"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!ws.path().join(".runner").exists());

    let out = apply(&ws, &["main.yaml", "--journal", "runs/today.jsonl"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!ws.path().join(".runner").exists());
    assert_eq!(records(&ws, "runs/today.jsonl").len(), 10);

    // `plan` sends nothing and journals nothing.
    let mut cmd = ws.runner();
    cmd.args(["plan", "main.yaml"]);
    let out = run(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!ws.path().join(".runner").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_runs_only_what_did_not_succeed() {
    let server = MockServer::start().await;
    mount_shop(&server, "p-17", 99, 500).await;
    let ws = Workspace::new();
    ws.write("main.yaml", &spec(&server.uri(), "", FIVE_STEPS));
    let out = apply(&ws, &["main.yaml"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        requests(&server).await,
        [
            "POST /projects",
            "POST /projects/p-17/items",
            "GET /projects/p-17/status"
        ]
    );
    let recs = records(&ws, JOURNAL);
    assert_eq!(
        states(&recs),
        steps_states(&[
            (0, "started"),
            (0, "ok"),
            (1, "started"),
            (1, "ok"),
            (2, "started"),
            (2, "failed")
        ])
    );
    assert_eq!(recs[5]["http_status"], json!(500));

    // The server is fixed. Were the POSTs sent again, they would create
    // p-99 and item 100.
    server.reset().await;
    mount_shop(&server, "p-99", 100, 200).await;
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL, "--output", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let sent = requests(&server).await;
    assert_eq!(
        sent,
        [
            "GET /projects/p-17/status",
            "PUT /projects/p-17/items/99",
            "POST /projects/p-17/publish"
        ],
        "{out:?}"
    );
    assert_eq!(count(&sent, "POST /projects"), 0);
    assert_eq!(
        body_json(&received(&server).await[1]),
        json!({"state": "done"})
    );
    for i in 0..5 {
        let s = json_step(&out, i);
        assert_eq!(s["status"], json!("ok"), "{out:?}");
        assert_eq!(s["resumed"], json!(i < 2), "step {i}: {out:?}");
    }
    assert_eq!(json_step(&out, 0)["http_status"], json!(201));
    assert_eq!(json_step(&out, 0)["response"], json!({"id": "p-17"}));
    assert_eq!(json_step(&out, 1)["response"], json!({"id": 99}));
    // The resumed run continues the journal.
    let recs = records(&ws, JOURNAL);
    assert_eq!(recs.len(), 6 + 6);
    assert_eq!(
        states(&recs[6..]),
        steps_states(&[
            (2, "started"),
            (2, "ok"),
            (3, "started"),
            (3, "ok"),
            (4, "started"),
            (4, "ok")
        ])
    );

    // Everything is done now: resuming again sends nothing.
    server.reset().await;
    mount_shop(&server, "p-99", 100, 200).await;
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(requests(&server).await.is_empty(), "{out:?}");
    let done = out
        .stdout
        .lines()
        .filter(|l| l.contains("(done in an earlier run, per the journal)"))
        .count();
    assert_eq!(done, 5, "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_runs_a_step_again_when_its_request_changed() {
    let server = MockServer::start().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let ws = Workspace::new();
    let steps = r#"  - id: project
    action: CREATE_PROJECT
    params: {name: "{{ vars.name }}"}
  - id: status
    action: GET_STATUS
    params: {project: "{{ steps.project.response.id }}"}
"#;
    ws.write("main.yaml", &spec(&server.uri(), "", steps));
    let out = apply(&ws, &["main.yaml"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let before = records(&ws, JOURNAL);

    server.reset().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let out = apply(
        &ws,
        &[
            "main.yaml",
            "--resume",
            JOURNAL,
            "--var",
            "name=other",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(
            "warning: steps[0] (project): its request changed since the journalled run; running it again"
        ),
        "{out:?}"
    );
    let reqs = received(&server).await;
    assert_eq!(reqs.len(), 1, "{out:?}");
    assert_eq!(body_json(&reqs[0]), json!({"name": "other"}));
    assert_eq!(json_step(&out, 0)["resumed"], json!(false));
    // Same project id back, so the status check is the same request: done.
    assert_eq!(json_step(&out, 1)["resumed"], json!(true), "{out:?}");

    let after = records(&ws, JOURNAL);
    assert_eq!(after.len(), before.len() + 2);
    assert_ne!(after[after.len() - 1]["request"], before[1]["request"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_holding_secrets_are_stored_redacted_and_rerun_when_used() {
    let auth = r#"auth:
  shop:
    parameters:
      - name: Authorization
        in: header
        value: "Bearer {{ env.SHOP_TOKEN }}"
"#;
    let steps = r#"  - id: login
    action: CREATE_PROJECT
    params: {name: "{{ vars.name }}"}
  - id: probe
    action: CREATE_ITEM
    params: {project: "{{ steps.login.response.id }}", title: probe}
  - id: status
    action: GET_STATUS
    params: {project: "{{ steps.login.response.id }}"}
"#;
    let server = MockServer::start().await;
    let echo = |id: Value| {
        ResponseTemplate::new(201)
            .set_body_json(json!({"id": id, "token": format!("Bearer {TOKEN}")}))
    };
    Mock::given(method("POST"))
        .and(path("/projects"))
        .respond_with(echo(json!("p-17")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/projects/p-17/items"))
        .respond_with(echo(json!(5)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let ws = Workspace::new();
    ws.write("main.yaml", &spec(&server.uri(), auth, steps));
    let out = apply(&ws, &["main.yaml"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    let text = std::fs::read_to_string(ws.path().join(JOURNAL)).expect("journal");
    assert!(
        !text.contains(TOKEN),
        "a secret reached the journal:\n{text}"
    );
    let recs = records(&ws, JOURNAL);
    for r in [&recs[1], &recs[3]] {
        assert_eq!(r["state"], json!("ok"));
        assert_eq!(r["complete"], json!(false), "{r}");
        assert_eq!(
            r["outputs"]["response"]["token"],
            json!("Bearer ***"),
            "{r}"
        );
    }

    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/projects"))
        .respond_with(echo(json!("p-17")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/projects/p-17/items"))
        .respond_with(echo(json!(5)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL, "--output", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("steps[0] (login): its journalled outputs held secrets, which are never stored, and a later step uses them; running it again"),
        "{out:?}"
    );
    // `login` is run again (later steps need its real outputs); `probe`'s
    // outputs are used by nobody, so its redacted record is enough.
    assert_eq!(
        requests(&server).await,
        ["POST /projects", "GET /projects/p-17/status"],
        "{out:?}"
    );
    assert_eq!(json_step(&out, 0)["resumed"], json!(false));
    assert_eq!(json_step(&out, 1)["resumed"], json!(true));
    assert_eq!(json_step(&out, 2)["resumed"], json!(false));
    assert!(!out.all().contains(TOKEN));
    let text = std::fs::read_to_string(ws.path().join(JOURNAL)).expect("journal");
    assert!(
        !text.contains(TOKEN),
        "a secret reached the journal:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_needs_a_readable_journal() {
    let server = MockServer::start().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let ws = Workspace::new();
    ws.write("main.yaml", &spec(&server.uri(), "", FIVE_STEPS));
    let out = apply(&ws, &["main.yaml", "--resume", "nowhere.jsonl"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("cannot read the journal `nowhere.jsonl`"),
        "{out:?}"
    );
    assert!(received(&server).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_that_timed_out_is_uncertain_on_resume() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/projects"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": "p-17"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let ws = Workspace::new();
    ws.write("main.yaml", &spec(&server.uri(), "", FIVE_STEPS));
    let out = apply(&ws, &["main.yaml", "--timeout", "200ms"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    // It may have reached the server: the journal does not say it failed.
    assert_eq!(
        states(&records(&ws, JOURNAL)),
        steps_states(&[(0, "started")])
    );
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--rerun-uncertain"), "{out:?}");
    assert_eq!(received(&server).await.len(), 1);
}

// ---------------------------------------------------------------- signals

/// Answers with `status` and `body`; the first request is announced on
/// `arrived` and held for 5 s, long enough to kill the client meanwhile.
struct HoldFirst {
    arrived: mpsc::UnboundedSender<()>,
    seen: AtomicUsize,
    status: u16,
    body: Value,
}

impl Respond for HoldFirst {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let response = ResponseTemplate::new(self.status).set_body_json(self.body.clone());
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = self.arrived.send(());
            response.set_delay(Duration::from_secs(5))
        } else {
            response
        }
    }
}

/// Which step is in flight when the signal comes.
#[derive(Clone, Copy)]
enum Held {
    /// `item`: a POST.
    Post,
    /// `update`: a PUT.
    Put,
}

/// Runs project → (item | update) → status, and sends `signal` to the
/// runner while the second step's request is held by the server.
async fn killed_mid_step(held: Held, signal: &str) -> (Workspace, MockServer, Output) {
    let server = MockServer::start().await;
    let (tx, mut arrived) = mpsc::unbounded_channel();
    let hold = |status, body| HoldFirst {
        arrived: tx.clone(),
        seen: AtomicUsize::new(0),
        status,
        body,
    };
    Mock::given(method("POST"))
        .and(path("/projects"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "p-17"})))
        .mount(&server)
        .await;
    let second = match held {
        Held::Post => {
            Mock::given(method("POST"))
                .and(path("/projects/p-17/items"))
                .respond_with(hold(201, json!({"id": 99})))
                .mount(&server)
                .await;
            r#"  - id: item
    action: CREATE_ITEM
    params: {project: "{{ steps.project.response.id }}", title: first}
"#
        }
        Held::Put => {
            Mock::given(method("PUT"))
                .and(path("/projects/p-17/items/1"))
                .respond_with(hold(200, json!({"state": "done"})))
                .mount(&server)
                .await;
            r#"  - id: update
    action: UPDATE_ITEM
    params: {project: "{{ steps.project.response.id }}", item: 1, state: done}
"#
        }
    };
    Mock::given(method("GET"))
        .and(path("/projects/p-17/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"state": "green"})))
        .mount(&server)
        .await;
    let steps = format!(
        r#"  - id: project
    action: CREATE_PROJECT
    params: {{name: "{{{{ vars.name }}}}"}}
{second}  - id: status
    action: GET_STATUS
    params: {{project: "{{{{ steps.project.response.id }}}}"}}
"#
    );
    let ws = Workspace::new();
    ws.write("main.yaml", &spec(&server.uri(), "", &steps));

    let mut cmd = ws.runner();
    cmd.args(["apply", "main.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn runner");
    let pid = child.id().to_string();
    let waited = tokio::time::timeout(Duration::from_secs(30), arrived.recv()).await;
    let killed = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    assert!(
        matches!(waited, Ok(Some(()))),
        "the held request never arrived:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (ws, server, output)
}

fn show(output: &Output) -> String {
    format!(
        "{:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// After a run killed while `item` (a POST) was in flight: `--resume` alone
/// refuses, `--resume --rerun-uncertain` sends it again and finishes.
async fn resume_after_an_uncertain_post(ws: &Workspace, server: &MockServer) {
    let journal_before = std::fs::read_to_string(ws.path().join(JOURNAL)).expect("journal");
    let out = apply(ws, &["main.yaml", "--resume", JOURNAL]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(
            "steps[1] (item) (`CREATE_ITEM`, POST) was in flight when the journalled run stopped"
        ) && out.stderr.contains("--rerun-uncertain"),
        "{out:?}"
    );
    assert_eq!(
        requests(server).await,
        ["POST /projects", "POST /projects/p-17/items"],
        "exit 2 must send nothing"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join(JOURNAL)).expect("journal"),
        journal_before,
        "exit 2 must leave the journal alone"
    );

    let out = apply(ws, &["main.yaml", "--resume", JOURNAL, "--rerun-uncertain"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(
            "warning: steps[1] (item): it was in flight when the journalled run stopped; sending it again"
        ),
        "{out:?}"
    );
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("ok") && first.contains("(done in an earlier run, per the journal)"),
        "{out:?}"
    );
    let sent = requests(server).await;
    assert_eq!(count(&sent, "POST /projects"), 1, "{sent:?}");
    assert_eq!(count(&sent, "POST /projects/p-17/items"), 2, "{sent:?}");
    assert_eq!(count(&sent, "GET /projects/p-17/status"), 1, "{sent:?}");
    let recs = records(ws, JOURNAL);
    let tail: Vec<_> = states(&recs).into_iter().skip(3).collect();
    assert_eq!(
        tail,
        steps_states(&[(1, "started"), (1, "ok"), (2, "started"), (2, "ok")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_post_exits_143_and_resume_needs_rerun_uncertain() {
    let (ws, server, output) = killed_mid_step(Held::Post, "TERM").await;
    assert_eq!(output.status.code(), Some(143), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("ok"), "{}", show(&output));
    assert!(
        lines[1].starts_with("failed") && lines[1].contains("item"),
        "{}",
        show(&output)
    );
    assert!(
        stdout.contains(
            "error: interrupted by SIGTERM; the request may or may not have reached the server"
        ),
        "{}",
        show(&output)
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("skipped") && l.contains("status")),
        "{}",
        show(&output)
    );
    let recs = records(&ws, JOURNAL);
    assert_eq!(
        states(&recs),
        steps_states(&[(0, "started"), (0, "ok"), (1, "started")])
    );
    resume_after_an_uncertain_post(&ws, &server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_post_leaves_a_journal_that_resumes_the_same_way() {
    let (ws, server, output) = killed_mid_step(Held::Post, "KILL").await;
    assert_eq!(output.status.code(), None, "{}", show(&output));
    assert_eq!(output.status.signal(), Some(9), "{}", show(&output));
    // Every line parses (checked by `records`), and the last says started.
    let recs = records(&ws, JOURNAL);
    assert_eq!(
        states(&recs),
        steps_states(&[(0, "started"), (0, "ok"), (1, "started")])
    );
    resume_after_an_uncertain_post(&ws, &server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_mid_put_exits_130_and_resume_sends_it_again_with_a_warning() {
    let (ws, server, output) = killed_mid_step(Held::Put, "INT").await;
    assert_eq!(output.status.code(), Some(130), "{}", show(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("interrupted by SIGINT"),
        "{}",
        show(&output)
    );
    let recs = records(&ws, JOURNAL);
    assert_eq!(
        states(&recs),
        steps_states(&[(0, "started"), (0, "ok"), (1, "started")])
    );

    // A PUT may be repeated: no `--rerun-uncertain` needed, only a warning.
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL, "--output", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(
            "warning: steps[1] (update): it was in flight when the journalled run stopped; sending it again"
        ),
        "{out:?}"
    );
    assert_eq!(json_step(&out, 0)["resumed"], json!(true));
    assert_eq!(json_step(&out, 1)["resumed"], json!(false));
    assert_eq!(
        requests(&server).await,
        [
            "POST /projects",
            "PUT /projects/p-17/items/1",
            "PUT /projects/p-17/items/1",
            "GET /projects/p-17/status"
        ]
    );
}
