//! Loops and the journal: each item is journalled on its own, by its
//! request, so `--resume` after a kill never sends a completed POST item
//! again, sends the one in flight at the kill only with
//! `--rerun-uncertain`, and is not fooled by a reordered list.

use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use wiremock::{Request, Respond, ResponseTemplate};

use super::{TOKEN, apply_json, apply_text, item_field, records, step, workspace};
use crate::harness::{RequestExt, Run, Server, Workspace, json_reply};

const JOURNAL: &str = ".runner/main.yaml.jsonl";

const LOOP: &str = r#"inputs:
  names: {type: array, default: [a, b, c, d]}
steps:
  - id: each
    for_each: "{{ inputs.names }}"
    action: CREATE_ITEM
    params: {name: "{{ item }}"}
"#;

/// Creates an item named as asked (`{"id": "<name>"}`); the first request
/// for `hold` is announced on `arrived` and held for 5 s, long enough to
/// kill the client meanwhile.
struct Create {
    hold: &'static str,
    held: AtomicBool,
    arrived: mpsc::UnboundedSender<()>,
}

impl Respond for Create {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let name = request.json()["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let response = json_reply(201, json!({"id": name}));
        if name == self.hold && !self.held.swap(true, Ordering::SeqCst) {
            let _ = self.arrived.send(());
            return response.set_delay(Duration::from_secs(5));
        }
        response
    }
}

/// The names the server was asked to create, in order.
async fn created(server: &Server) -> Vec<String> {
    server
        .each_received(|r| r.json()["name"].as_str().unwrap_or_default().to_string())
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_loop_then_resume_never_sends_a_completed_post_item_again() {
    let (tx, mut arrived) = mpsc::unbounded_channel();
    let server = Server::answering(
        "POST /items",
        Create {
            hold: "c",
            held: AtomicBool::new(false),
            arrived: tx,
        },
    )
    .await;
    let ws = workspace(&server.uri(), LOOP);
    let running = ws
        .runner(["apply", "main.yaml"])
        .env("API_TOKEN", TOKEN)
        .spawn();
    let pid = running.id().to_string();
    let waited = tokio::time::timeout(Duration::from_secs(20), arrived.recv()).await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = running.wait().await;
    assert!(
        matches!(waited, Ok(Some(()))),
        "item c never arrived: {out:?}"
    );
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    assert_eq!(created(&server).await, ["a", "b", "c"]);

    // Every item on its own: two done, one in flight.
    let recs = records(&ws, JOURNAL);
    let states: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| (r["label"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("steps[0] (each)[0]", "started"),
            ("steps[0] (each)[0]", "ok"),
            ("steps[0] (each)[1]", "started"),
            ("steps[0] (each)[1]", "ok"),
            ("steps[0] (each)[2]", "started"),
        ]
    );
    assert!(recs.iter().all(|r| r["key"] == "each"), "{recs:?}");
    assert_ne!(recs[0]["request"], recs[2]["request"]);

    // The POST in flight may have happened: resuming takes a yes.
    let journal = ws.read(JOURNAL);
    apply_text(&ws, &["--resume", JOURNAL])
        .await
        .code(2)
        .stderr_has("steps[0] (each)[2] (`CREATE_ITEM`, POST) was in flight when the journalled run stopped")
        .stderr_has("--rerun-uncertain");
    assert_eq!(
        created(&server).await,
        ["a", "b", "c"],
        "exit 2 sends nothing"
    );
    assert_eq!(ws.read(JOURNAL), journal, "exit 2 leaves the journal alone");

    let out = apply_json(&ws, &["--resume", JOURNAL, "--rerun-uncertain"])
        .await
        .code(0);
    // Said once, though both the checks before the run and the run meet it.
    assert_eq!(
        out.stderr
            .matches("warning: steps[0] (each)[2]: it was in flight when the journalled run stopped; sending it again")
            .count(),
        1,
        "{out:?}"
    );
    assert_eq!(created(&server).await, ["a", "b", "c", "c", "d"]);
    assert_eq!(
        item_field(&out, "each", "resumed"),
        [json!(true), json!(true), json!(false), json!(false)]
    );
    assert_eq!(
        item_field(&out, "each", "response"),
        [
            json!({"id": "a"}),
            json!({"id": "b"}),
            json!({"id": "c"}),
            json!({"id": "d"})
        ]
    );
}

/// The server, from now on creating every item as `{"ok": n}`; then the
/// resumed run with `input`, which must succeed.
async fn resume_answering(server: &Server, ws: &Workspace, n: u32, input: &str) -> Run {
    server.reset().await;
    server
        .reply("POST /items", json_reply(201, json!({"ok": n})))
        .await;
    apply_json(ws, &["--resume", JOURNAL, "--input", input])
        .await
        .code(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reordered_list_on_resume_sends_nothing_that_was_done() {
    let server = Server::build()
        .mock(
            Server::given("POST /items")
                .and(wiremock::matchers::body_json(json!({"name": "b"})))
                .respond_with(json_reply(500, json!({"message": "try later"}))),
        )
        .reply("POST /items", json_reply(201, json!({"ok": 1})))
        .start()
        .await;
    let ws = workspace(&server.uri(), LOOP);
    apply_json(&ws, &["--input", "names=[a, b, c]"])
        .await
        .code(1);
    assert_eq!(created(&server).await, ["a", "b"]);

    // Fixed; the list comes back in another order: `a` is done, whatever
    // its position.
    let out = resume_answering(&server, &ws, 2, "names=[c, b, a]").await;
    assert_eq!(created(&server).await, ["c", "b"]);
    assert_eq!(
        item_field(&out, "each", "resumed"),
        [json!(false), json!(false), json!(true)]
    );
    assert_eq!(
        item_field(&out, "each", "response"),
        [json!({"ok": 2}), json!({"ok": 2}), json!({"ok": 1})]
    );

    // Everything is done: any order sends nothing.
    let out = resume_answering(&server, &ws, 3, "names=[b, a, c]").await;
    assert!(server.received().await.is_empty(), "{out:?}");
    assert_eq!(step(&out, "each")["resumed"], json!(true));
    assert_eq!(
        item_field(&out, "each", "response"),
        [json!({"ok": 2}), json!({"ok": 1}), json!({"ok": 2})]
    );
}
