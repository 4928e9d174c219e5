//! The run journal and `--resume`: where it goes, what it records, what a
//! resumed run sends again and what it does not, and what a run stopped by
//! SIGTERM, SIGINT or SIGKILL leaves behind. Mock servers on 127.0.0.1.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use wiremock::ResponseTemplate;
use wiremock::matchers::path_regex;

use crate::harness::hold::{HoldFirst, signal_when_held};
use crate::harness::specs::Spec;
use crate::harness::{Cmd, RequestExt, Run, Server, Workspace, json_reply};

const JOURNAL: &str = ".runner/main.yaml.jsonl";
const TOKEN: &str = "shop_Journal0123456789abcdef";

/// Projects, items in them, a status check and publishing.
const ACTIONS: &str = include_str!("fixtures/catalogs/journal.yaml");

fn spec(base: &str, auth: &str, steps: &str) -> String {
    Spec::app("shop", base)
        .retry("{backoff: 10ms}")
        .actions(ACTIONS)
        .then(auth)
        .then("vars:\n  name: demo\n")
        .steps(steps)
        .build()
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
async fn mount_shop(server: &Server, project: &str, item: u64, status: u16) {
    server
        .reply("POST /projects", json_reply(201, json!({"id": project})))
        .await;
    Server::given("POST")
        .and(path_regex("^/projects/[^/]+/items$"))
        .respond_with(json_reply(201, json!({"id": item})))
        .mount(server)
        .await;
    Server::given("GET")
        .and(path_regex("^/projects/[^/]+/status$"))
        .respond_with(if status == 200 {
            json_reply(200, json!({"state": "green"}))
        } else {
            json_reply(status, json!({"message": "database on fire"}))
        })
        .mount(server)
        .await;
    Server::given("PUT")
        .and(path_regex("^/projects/[^/]+/items/[^/]+$"))
        .respond_with(json_reply(200, json!({"state": "done"})))
        .mount(server)
        .await;
    Server::given("POST")
        .and(path_regex("^/projects/[^/]+/publish$"))
        .respond_with(json_reply(201, json!({"published": true})))
        .mount(server)
        .await;
}

fn count(requests: &[String], request: &str) -> usize {
    requests.iter().filter(|r| *r == request).count()
}

/// The journal's records; every line must be one JSON document.
fn records(ws: &Workspace, rel: &str) -> Vec<Value> {
    let text = ws.read(rel);
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

/// `apply` with `args`, the shop's token in the environment.
fn apply(ws: &Workspace, args: &[&str]) -> Cmd {
    ws.runner(["apply"]).args(args).env("SHOP_TOKEN", TOKEN)
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_journals_beside_the_spec_by_default() {
    let server = Server::start().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let ws = Workspace::new().file("specs/main.yaml", &spec(&server.uri(), "", FIVE_STEPS));
    apply(&ws, &["specs/main.yaml"]).await.code(0);

    assert!(!ws.exists(".runner"), "journal beside the cwd");
    assert_eq!(ws.read("specs/.runner/.gitignore"), "*\n");
    let recs = records(&ws, "specs/.runner/main.yaml.jsonl");
    // A POST (and a PATCH) is journalled as started before it is sent;
    // the GET and the PUT only when they end.
    let posts = [0, 1, 4];
    let expected: Vec<(u64, &str)> = (0..5)
        .flat_map(|i| {
            let started = posts.contains(&i).then_some((i, "started"));
            started.into_iter().chain([(i, "ok")])
        })
        .collect();
    assert_eq!(states(&recs), steps_states(&expected));
    let ids = ["project", "item", "status", "update", "publish"];
    let actions = [
        "CREATE_PROJECT",
        "CREATE_ITEM",
        "GET_STATUS",
        "UPDATE_ITEM",
        "PUBLISH",
    ];
    let mut at = 0;
    for (i, id) in ids.iter().enumerate() {
        let step = if posts.contains(&(i as u64)) {
            at += 2;
            &recs[at - 2..at]
        } else {
            at += 1;
            &recs[at - 1..at]
        };
        for r in step {
            assert_eq!(r["id"], json!(id));
            assert_eq!(r["action"], json!(actions[i]));
            let fp = r["request"].as_str().expect("request");
            assert!(
                fp.starts_with("sha256:") && fp.len() == 7 + 64,
                "fingerprint {fp}"
            );
        }
        let ended = step.last().expect("an end");
        if let [started, _] = step {
            assert_eq!(started["request"], ended["request"]);
            assert_eq!(started["http_status"], json!(null));
            assert_eq!(started["outputs"], json!(null));
        }
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
    assert_eq!(recs[4]["http_status"], json!(200));

    // A new run (not a resume) starts a new journal.
    apply(&ws, &["specs/main.yaml"]).await.code(0);
    assert_eq!(records(&ws, "specs/.runner/main.yaml.jsonl").len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_journal_and_a_journal_elsewhere() {
    let server = Server::start().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let ws = Workspace::main(&spec(&server.uri(), "", FIVE_STEPS));

    apply(&ws, &["main.yaml", "--no-journal"]).await.code(0);
    assert!(!ws.exists(".runner"));

    apply(&ws, &["main.yaml", "--journal", "runs/today.jsonl"])
        .await
        .code(0);
    assert!(!ws.exists(".runner"));
    assert_eq!(records(&ws, "runs/today.jsonl").len(), 8);

    // `plan` sends nothing and journals nothing.
    ws.runner(["plan", "main.yaml"]).await.code(0);
    assert!(!ws.exists(".runner"));
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_runs_only_what_did_not_succeed() {
    let server = Server::start().await;
    mount_shop(&server, "p-17", 99, 500).await;
    let ws = Workspace::main(&spec(&server.uri(), "", FIVE_STEPS));
    apply(&ws, &["main.yaml"]).await.code(1);
    assert_eq!(
        server.requests().await,
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
            (2, "failed")
        ])
    );
    assert_eq!(recs[4]["http_status"], json!(500));

    // The server is fixed. Were the POSTs sent again, they would create
    // p-99 and item 100.
    server.reset().await;
    mount_shop(&server, "p-99", 100, 200).await;
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL, "--output", "json"])
        .await
        .code(0);
    let sent = server.requests().await;
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
    assert_eq!(server.received().await[1].json(), json!({"state": "done"}));
    for i in 0..5 {
        let s = out.step(i);
        assert_eq!(s["status"], json!("ok"), "{out:?}");
        assert_eq!(s["resumed"], json!(i < 2), "step {i}: {out:?}");
    }
    assert_eq!(out.step(0)["http_status"], json!(201));
    assert_eq!(out.step(0)["response"], json!({"id": "p-17"}));
    assert_eq!(out.step(1)["response"], json!({"id": 99}));
    // The resumed run continues the journal.
    let recs = records(&ws, JOURNAL);
    assert_eq!(recs.len(), 5 + 4);
    assert_eq!(
        states(&recs[5..]),
        steps_states(&[(2, "ok"), (3, "ok"), (4, "started"), (4, "ok")])
    );

    // Everything is done now: resuming again sends nothing.
    server.reset().await;
    mount_shop(&server, "p-99", 100, 200).await;
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL])
        .await
        .code(0);
    assert!(server.requests().await.is_empty(), "{out:?}");
    let done = out
        .stdout
        .lines()
        .filter(|l| l.contains("(done in an earlier run, per the journal)"))
        .count();
    assert_eq!(done, 5, "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_runs_a_step_again_when_its_request_changed() {
    let server = Server::start().await;
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
    apply(&ws, &["main.yaml"]).await.code(0);
    let before = records(&ws, JOURNAL);

    server.reset().await;
    mount_shop(&server, "p-17", 99, 200).await;
    // A completed POST whose request changed is not sent again silently.
    apply(
        &ws,
        &["main.yaml", "--resume", JOURNAL, "--var", "name=other"],
    )
    .refused(&server, "steps[0] (project) (POST) completed in the journalled run, and its request changed since (param `name`); it is not sent again").await;
    // `--rerun-changed` says yes.
    let out = apply(
        &ws,
        &[
            "main.yaml",
            "--resume",
            JOURNAL,
            "--rerun-changed",
            "--var",
            "name=other",
            "--output",
            "json",
        ],
    )
    .await
    .code(0)
    .stderr_has("warning: steps[0] (project): its request changed since the journalled run; running it again");
    let reqs = server.received().await;
    assert_eq!(reqs.len(), 1, "{out:?}");
    assert_eq!(reqs[0].json(), json!({"name": "other"}));
    assert_eq!(out.step(0)["resumed"], json!(false));
    // Same project id back, so the status check is the same request: done.
    assert_eq!(out.step(1)["resumed"], json!(true), "{out:?}");

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
    let echo = |id: Value| json_reply(201, json!({"id": id, "token": format!("Bearer {TOKEN}")}));
    let server = Server::build()
        .reply("POST /projects", echo(json!("p-17")))
        .reply("POST /projects/p-17/items", echo(json!(5)))
        .reply("GET", ResponseTemplate::new(500))
        .start()
        .await;
    let ws = Workspace::main(&spec(&server.uri(), auth, steps));
    apply(&ws, &["main.yaml"]).await.code(1);
    let text = ws.read(JOURNAL);
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
    server.reply("POST /projects", echo(json!("p-17"))).await;
    server
        .reply("POST /projects/p-17/items", echo(json!(5)))
        .await;
    server.reply("GET", ResponseTemplate::new(200)).await;
    // Sending the completed POST again would repeat it: that takes a yes.
    apply(&ws, &["main.yaml", "--resume", JOURNAL])
        .refused(&server, "steps[0] (login) (POST) completed in the journalled run, but its response held secrets").await;
    let out = apply(
        &ws,
        &[
            "main.yaml",
            "--resume",
            JOURNAL,
            "--rerun-changed",
            "--output",
            "json",
        ],
    )
    .await
    .code(0)
    .stderr_has("steps[0] (login): its journalled outputs held secrets, which are never stored, and a later step uses them; running it again");
    // `login` is run again (later steps need its real outputs); `probe`'s
    // outputs are used by nobody, so its redacted record is enough.
    assert_eq!(
        server.requests().await,
        ["POST /projects", "GET /projects/p-17/status"],
        "{out:?}"
    );
    assert_eq!(out.step(0)["resumed"], json!(false));
    assert_eq!(out.step(1)["resumed"], json!(true));
    assert_eq!(out.step(2)["resumed"], json!(false));
    assert!(!out.all().contains(TOKEN));
    let text = ws.read(JOURNAL);
    assert!(
        !text.contains(TOKEN),
        "a secret reached the journal:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_needs_a_readable_journal() {
    let server = Server::start().await;
    mount_shop(&server, "p-17", 99, 200).await;
    let ws = Workspace::main(&spec(&server.uri(), "", FIVE_STEPS));
    apply(&ws, &["main.yaml", "--resume", "nowhere.jsonl"])
        .refused(&server, "cannot read the journal `nowhere.jsonl`")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_that_timed_out_is_uncertain_on_resume() {
    let server = Server::answering(
        "POST /projects",
        ResponseTemplate::new(201)
            .set_body_json(json!({"id": "p-17"}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let ws = Workspace::main(&spec(&server.uri(), "", FIVE_STEPS));
    apply(&ws, &["main.yaml", "--timeout", "200ms"])
        .await
        .code(1);
    // It may have reached the server: the journal does not say it failed.
    assert_eq!(
        states(&records(&ws, JOURNAL)),
        steps_states(&[(0, "started")])
    );
    apply(&ws, &["main.yaml", "--resume", JOURNAL])
        .await
        .code(2)
        .stderr_has("--rerun-uncertain");
    assert_eq!(server.received().await.len(), 1);
}

// ---------------------------------------------------------------- signals

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
async fn killed_mid_step(held: Held, signal: &str) -> (Workspace, Server, Run) {
    let (tx, mut arrived) = mpsc::unbounded_channel();
    // The first request held 5 s, long enough to kill the client meanwhile.
    let hold = |status, body| {
        HoldFirst::announcing(tx.clone(), json_reply(status, body)).holding(Duration::from_secs(5))
    };
    let server = Server::answering("POST /projects", json_reply(201, json!({"id": "p-17"}))).await;
    let second = match held {
        Held::Post => {
            server
                .reply("POST /projects/p-17/items", hold(201, json!({"id": 99})))
                .await;
            r#"  - id: item
    action: CREATE_ITEM
    params: {project: "{{ steps.project.response.id }}", title: first}
"#
        }
        Held::Put => {
            server
                .reply(
                    "PUT /projects/p-17/items/1",
                    hold(200, json!({"state": "done"})),
                )
                .await;
            r#"  - id: update
    action: UPDATE_ITEM
    params: {project: "{{ steps.project.response.id }}", item: 1, state: done}
"#
        }
    };
    server
        .reply(
            "GET /projects/p-17/status",
            json_reply(200, json!({"state": "green"})),
        )
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
    let ws = Workspace::main(&spec(&server.uri(), "", &steps));

    let running = ws.runner(["apply", "main.yaml"]).spawn();
    let out = signal_when_held(running, &mut arrived, &format!("-{signal}")).await;
    (ws, server, out)
}

/// After a run killed while `item` (a POST) was in flight: `--resume` alone
/// refuses, `--resume --rerun-uncertain` sends it again and finishes.
async fn resume_after_an_uncertain_post(ws: &Workspace, server: &Server) {
    let journal_before = ws.read(JOURNAL);
    apply(ws, &["main.yaml", "--resume", JOURNAL])
        .await
        .code(2)
        .stderr_has(
            "steps[1] (item) (`CREATE_ITEM`, POST) was in flight when the journalled run stopped",
        )
        .stderr_has("--rerun-uncertain");
    assert_eq!(
        server.requests().await,
        ["POST /projects", "POST /projects/p-17/items"],
        "exit 2 must send nothing"
    );
    assert_eq!(
        ws.read(JOURNAL),
        journal_before,
        "exit 2 must leave the journal alone"
    );

    let out = apply(ws, &["main.yaml", "--resume", JOURNAL, "--rerun-uncertain"])
        .await
        .code(0)
        .stderr_has("warning: steps[1] (item): it was in flight when the journalled run stopped; sending it again");
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("ok") && first.contains("(done in an earlier run, per the journal)"),
        "{out:?}"
    );
    let sent = server.requests().await;
    assert_eq!(count(&sent, "POST /projects"), 1, "{sent:?}");
    assert_eq!(count(&sent, "POST /projects/p-17/items"), 2, "{sent:?}");
    assert_eq!(count(&sent, "GET /projects/p-17/status"), 1, "{sent:?}");
    let recs = records(ws, JOURNAL);
    // The send in flight is given up on before it is sent again.
    let tail: Vec<_> = states(&recs).into_iter().skip(3).collect();
    assert_eq!(
        tail,
        steps_states(&[(1, "abandoned"), (1, "started"), (1, "ok"), (2, "ok")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_post_exits_143_and_resume_needs_rerun_uncertain() {
    let (ws, server, out) = killed_mid_step(Held::Post, "TERM").await;
    let out = out.code(143);
    let stdout = &out.stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("ok"), "{out:?}");
    assert!(
        lines[1].starts_with("failed") && lines[1].contains("item"),
        "{out:?}"
    );
    assert!(
        stdout.contains(
            "error: interrupted by SIGTERM; the request may or may not have reached the server"
        ),
        "{out:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("skipped") && l.contains("status")),
        "{out:?}"
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
    let (ws, server, out) = killed_mid_step(Held::Post, "KILL").await;
    let out = out.code(-1);
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    // Every line parses (checked by `records`), and the last says started.
    let recs = records(&ws, JOURNAL);
    assert_eq!(
        states(&recs),
        steps_states(&[(0, "started"), (0, "ok"), (1, "started")])
    );
    resume_after_an_uncertain_post(&ws, &server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_mid_put_exits_130_and_resume_sends_it_again() {
    let (ws, server, out) = killed_mid_step(Held::Put, "INT").await;
    out.code(130).stdout_has("interrupted by SIGINT");
    // A PUT may be repeated: it is journalled only when it ends, so the
    // journal shows nothing of the one in flight.
    let recs = records(&ws, JOURNAL);
    assert_eq!(states(&recs), steps_states(&[(0, "started"), (0, "ok")]));

    // Resuming sends it again, with no `--rerun-uncertain` and nothing to
    // warn about.
    let out = apply(&ws, &["main.yaml", "--resume", JOURNAL, "--output", "json"])
        .await
        .code(0);
    assert!(!out.stderr.contains("in flight"), "{out:?}");
    assert_eq!(out.step(0)["resumed"], json!(true));
    assert_eq!(out.step(1)["resumed"], json!(false));
    assert_eq!(
        server.requests().await,
        [
            "POST /projects",
            "PUT /projects/p-17/items/1",
            "PUT /projects/p-17/items/1",
            "GET /projects/p-17/status"
        ]
    );
}
