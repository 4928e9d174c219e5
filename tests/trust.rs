//! Issue #7, "Keep every safety promise when specs change": one submodule
//! per section of the issue, each attacking the class of problem with
//! several examples, not just the one the issue observed.
//!
//! - [`resume`]: journal records belong to steps by identity, never by
//!   position; one run per journal; never through a symbolic link.
//! - [`files`]: reading a spec never discloses another file.
//! - [`masking`]: a secret is masked in every form it can be printed in.
//! - [`exit2`]: exit 2 means nothing was sent.
//! - [`reach`]: credentials reach only where they are allowed.
//! - [`bounded`]: hostile input is refused quickly and cheaply.
//!
//! Every server is a mock on 127.0.0.1; a test that must act while a
//! request is in flight waits for the server to announce it, never sleeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::harness::{Run, Server, Workspace, json_reply};

// ------------------------------------------------------------ shared helpers

/// Every form in which `secret` could reach the output whole: raw, with its
/// whitespace folded, percent-encoded (only what must be, or every byte; in
/// upper and lower case), form-encoded, JSON-escaped (short escapes, or
/// `\uXXXX` for every character that is not a letter or digit, in both
/// cases), and base64 (standard and URL-safe, padded or not).
pub(crate) fn forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let percent = |every: bool, lower: bool| -> String {
        secret
            .bytes()
            .map(|b| {
                let plain = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
                match (plain && !every, lower) {
                    (true, _) => (b as char).to_string(),
                    (false, false) => format!("%{b:02X}"),
                    (false, true) => format!("%{b:02x}"),
                }
            })
            .collect()
    };
    let unicode = |lower: bool| -> String {
        secret
            .chars()
            .map(|c| match (c.is_ascii_alphanumeric(), lower) {
                (true, _) => c.to_string(),
                (false, false) => format!("\\u{:04X}", c as u32),
                (false, true) => format!("\\u{:04x}", c as u32),
            })
            .collect()
    };
    let json = serde_json::to_string(secret).expect("a string is JSON");
    let mut out = vec![
        secret.to_string(),
        secret.split_whitespace().collect::<Vec<_>>().join(" "),
        percent(false, false),
        percent(false, true),
        percent(true, false),
        percent(true, true),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        json[1..json.len() - 1].to_string(),
        unicode(false),
        unicode(true),
    ];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(secret));
    }
    out.sort();
    out.dedup();
    out
}

/// The first run of `text` that decodes as base64 (at any offset, either
/// alphabet) to bytes holding 8 consecutive bytes of `secret`: what is left
/// of a secret that sat inside a longer encoded text (`Basic
/// base64(user:password)`) when only part of that text was masked.
fn base64_fragment(text: &str, secret: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const WINDOW: usize = 8;
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let secret = secret.as_bytes();
    if secret.len() < WINDOW {
        return None;
    }
    let runs = text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/-_".contains(c)));
    for run in runs.filter(|r| r.len() >= WINDOW) {
        let normal: String = run
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        for shift in 0..4.min(normal.len()) {
            let part = &normal[shift..];
            let part = &part[..part.len() - part.len() % 4];
            let Ok(bytes) = engine.decode(part) else {
                continue;
            };
            if secret
                .windows(WINDOW)
                .any(|w| bytes.windows(WINDOW).any(|b| b == w))
            {
                return Some(run.to_string());
            }
        }
    }
    None
}

/// `text` holds no form of any of `secrets`: none of [`forms`], no 10
/// characters in a row of one (a secret cut short by an excerpt, or with
/// its whitespace folded), and no base64 text that decodes to a piece of one.
#[track_caller]
pub(crate) fn assert_hidden(text: &str, secrets: &[&str]) {
    const WINDOW: usize = 10;
    for secret in secrets {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "secret `{secret}` leaked as `{form}`:\n{text}"
            );
        }
        for variant in [
            secret.to_string(),
            secret.split_whitespace().collect::<Vec<_>>().join(" "),
        ] {
            let chars: Vec<char> = variant.chars().collect();
            for window in chars.windows(WINDOW) {
                let piece: String = window.iter().collect();
                assert!(
                    !text.contains(&piece),
                    "`{piece}` of secret `{secret}` leaked:\n{text}"
                );
            }
        }
        if let Some(run) = base64_fragment(text, secret) {
            panic!("`{run}` decodes to a piece of secret `{secret}`:\n{text}");
        }
    }
    assert!(!text.contains("panicked"), "{text}");
}

/// [`assert_hidden`] over everything a run printed.
#[track_caller]
pub(crate) fn assert_clean(out: &Run, secrets: &[&str]) {
    assert_hidden(&out.all(), secrets);
}

/// The self-test of the leak checks: each form of a secret is caught.
#[test]
fn the_leak_checks_catch_every_form() {
    use base64::Engine as _;
    let secret = "pa ss\"wo\\rd~Z9/x+y";
    for form in forms(secret) {
        let text = format!("before {form} after");
        let caught = std::panic::catch_unwind(|| assert_hidden(&text, &[secret]));
        assert!(caught.is_err(), "not caught: {form}");
    }
    for user in ["a", "ab", "abc", "acme12"] {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        // As an exact-match redactor that missed the offset would leave it.
        let tail = &basic[8..];
        assert!(
            base64_fragment(&format!("Basic ***{tail}"), secret).is_some(),
            "{user}"
        );
    }
    assert!(base64_fragment("Basic *** and nothing else", secret).is_none());
    let cut = format!("error: {}...", &secret[..12]);
    assert!(std::panic::catch_unwind(|| assert_hidden(&cut, &[secret])).is_err());
    assert_hidden("error: *** was rejected", &[secret]);
}

/// The journal's records; every line must be one JSON document.
pub(crate) fn records(text: &str) -> Vec<Value> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "torn journal:\n{text}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{text}")))
        .collect()
}

/// Answers with `response`; the first request it matches is announced on
/// `arrived` and held for 10 s, long enough for the test to act on the
/// runner (kill it, start another) while the request is in flight.
struct HoldFirst {
    arrived: mpsc::UnboundedSender<()>,
    seen: AtomicUsize,
    response: ResponseTemplate,
}

impl HoldFirst {
    fn new(response: ResponseTemplate) -> (HoldFirst, mpsc::UnboundedReceiver<()>) {
        let (arrived, rx) = mpsc::unbounded_channel();
        let hold = HoldFirst {
            arrived,
            seen: AtomicUsize::new(0),
            response,
        };
        (hold, rx)
    }
}

impl Respond for HoldFirst {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = self.arrived.send(());
            self.response.clone().set_delay(Duration::from_secs(10))
        } else {
            self.response.clone()
        }
    }
}

/// Waits (at most 30 s, never in a test that passes) for the announcement
/// that the held request reached the server.
async fn arrival(rx: &mut mpsc::UnboundedReceiver<()>) {
    let got = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
    assert!(
        matches!(got, Ok(Some(()))),
        "the held request never arrived"
    );
}

/// Sends SIGKILL to a runner this test started.
fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Answers with `status` and a body made by `body` from the request: an
/// API that echoes what it was sent.
pub(crate) struct Echo<F>(pub u16, pub F);

impl<F: Fn(&Request) -> Value + Send + Sync> Respond for Echo<F> {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        json_reply(self.0, (self.1)(r))
    }
}

// ==================================================================== resume

/// Resume matches journal records to steps by key and request, never by
/// position; changed requests are named; one run per journal; journals are
/// never written through a link and are readable by their owner only.
mod resume {
    use super::*;
    use wiremock::matchers::path_regex;

    const JOURNAL: &str = ".runner/main.yaml.jsonl";

    /// The shop: projects, items in them, and a status check. `retry`
    /// off, so a failure fails at once.
    pub(super) fn shop(base: &str, steps: &str) -> String {
        format!(
            r#"version: 1
apps:
  shop:
    base_url: {base}
    retry: {{attempts: 1}}
    actions:
      PING:
        method: GET
        path: /ping
        params:
          note: {{type: string, in: query}}
      CREATE_PROJECT:
        method: POST
        path: /projects
        params:
          name: {{type: string, required: true}}
          tag: {{type: string}}
      ADD_ITEM:
        method: POST
        path: /projects/{{project}}/items
        params:
          project: {{type: string, required: true}}
          title: {{type: string, required: true}}
      RENAME_PROJECT:
        method: PATCH
        path: /projects/{{project}}
        params:
          project: {{type: string, required: true}}
          name: {{type: string, required: true}}
      PUT_ITEM:
        method: PUT
        path: /projects/{{project}}/items/{{item}}
        params:
          project: {{type: string, required: true}}
          item: {{type: integer, required: true}}
          state: {{type: string}}
      DELETE_ITEM:
        method: DELETE
        path: /projects/{{project}}/items/{{item}}
        params:
          project: {{type: string, required: true}}
          item: {{type: integer, required: true}}
          reason: {{type: string, in: query}}
      STATUS:
        method: GET
        path: /projects/{{project}}/status
        params:
          project: {{type: string, required: true}}
steps:
{steps}"#
        )
    }

    /// The shop's answers; the status check fails (500) unless `healthy`.
    async fn mount(server: &Server, healthy: bool) {
        server.reply("GET /ping", json_reply(200, json!({}))).await;
        for path in ["/projects", "/v2/projects"] {
            server
                .reply(
                    &format!("POST {path}"),
                    json_reply(201, json!({"id": "p-17"})),
                )
                .await;
        }
        let routes = [
            ("POST", "^/projects/[^/]+/items$", 201, json!({"id": 5})),
            (
                "PATCH",
                "^/(v2/)?projects(/[^/]+)?$",
                200,
                json!({"id": "p-17"}),
            ),
            ("PUT", "^/(v2/)?projects/[^/]+/items/[^/]+$", 200, json!({})),
            ("DELETE", "^/projects/[^/]+/items/[^/]+$", 204, json!({})),
        ];
        for (verb, re, status, body) in routes {
            Server::given(verb)
                .and(path_regex(re))
                .respond_with(json_reply(status, body))
                .mount(server)
                .await;
        }
        Server::given("GET")
            .and(path_regex("^/projects/[^/]+/status$"))
            .respond_with(if healthy {
                json_reply(200, json!({"state": "green"}))
            } else {
                json_reply(500, json!({"message": "database on fire"}))
            })
            .mount(server)
            .await;
    }

    async fn shop_server(healthy: bool) -> Server {
        let server = Server::start().await;
        mount(&server, healthy).await;
        server
    }

    /// A GET, two POSTs and a PATCH that succeed, then a status check that
    /// fails the first time.
    const FIRST: &str = r#"  - id: ping
    action: PING
  - id: project
    action: CREATE_PROJECT
    params: {name: demo}
  - id: item
    action: ADD_ITEM
    params: {project: "{{ steps.project.response.id }}", title: first}
  - id: rename
    action: RENAME_PROJECT
    params: {project: "{{ steps.project.response.id }}", name: renamed}
  - id: check
    action: STATUS
    params: {project: "{{ steps.project.response.id }}"}
"#;

    const FIRST_SENT: &[&str] = &[
        "GET /ping",
        "POST /projects",
        "POST /projects/p-17/items",
        "PATCH /projects/p-17",
        "GET /projects/p-17/status",
    ];

    /// Runs `before` (which must fail at its last step), edits the spec to
    /// `after`, fixes the server and resumes: what the resumed run sent
    /// must be exactly `resent`, and it must succeed.
    async fn resume_after_edit(before: &str, after: &str, resent: &[&str]) -> Run {
        let server = shop_server(false).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), before));
        ws.runner(["apply", "main.yaml"]).await.code(1);
        let sent_first = server.requests().await;

        server.reset().await;
        mount(&server, true).await;
        ws.write("main.yaml", &shop(&server.uri(), after));
        let out = ws
            .runner([
                "apply",
                "main.yaml",
                "--resume",
                JOURNAL,
                "--output",
                "json",
            ])
            .await;
        assert_eq!(
            server.requests().await,
            resent,
            "first run sent {sent_first:?}; the resumed run: {out:?}"
        );
        out.code(0)
    }

    /// The ids of the steps `out` reports as done in the earlier run.
    fn resumed(out: &Run) -> Vec<String> {
        out.json()["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| s["resumed"] == json!(true))
            .map(|s| s["id"].as_str().unwrap_or("-").to_string())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_get_inserted_at_the_top_does_not_resend_completed_posts() {
        let after =
            format!("  - id: audit\n    action: PING\n    params: {{note: audit}}\n{FIRST}");
        let out =
            resume_after_edit(FIRST, &after, &["GET /ping", "GET /projects/p-17/status"]).await;
        assert_eq!(resumed(&out), ["ping", "project", "item", "rename"]);
        // The only step whose request is new is the one inserted: no
        // warning about any other.
        assert!(!out.stderr.contains("changed"), "{out:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_step_without_id_inserted_at_the_top_does_not_resend_completed_posts() {
        let after = format!("  - action: PING\n    params: {{note: audit}}\n{FIRST}");
        let out =
            resume_after_edit(FIRST, &after, &["GET /ping", "GET /projects/p-17/status"]).await;
        assert_eq!(resumed(&out), ["ping", "project", "item", "rename"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_post_inserted_between_completed_posts_is_the_only_post_sent() {
        let after = FIRST.replace(
            "  - id: item\n",
            "  - id: second\n    action: CREATE_PROJECT\n    params: {name: second}\n  - id: item\n",
        );
        let out = resume_after_edit(
            FIRST,
            &after,
            &["POST /projects", "GET /projects/p-17/status"],
        )
        .await;
        assert_eq!(resumed(&out), ["ping", "project", "item", "rename"]);
        assert_eq!(out.step(2)["id"], json!("second"));
        assert_eq!(out.step(2)["resumed"], json!(false));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_step_removed_before_completed_posts_shifts_nothing() {
        let after = FIRST.replace("  - id: ping\n    action: PING\n", "");
        let out = resume_after_edit(FIRST, &after, &["GET /projects/p-17/status"]).await;
        assert_eq!(resumed(&out), ["project", "item", "rename"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reordered_steps_are_matched_by_id() {
        // The status check before the item and the PATCH; the ping last.
        let after = r#"  - id: project
    action: CREATE_PROJECT
    params: {name: demo}
  - id: check
    action: STATUS
    params: {project: "{{ steps.project.response.id }}"}
  - id: rename
    action: RENAME_PROJECT
    params: {project: "{{ steps.project.response.id }}", name: renamed}
  - id: item
    action: ADD_ITEM
    params: {project: "{{ steps.project.response.id }}", title: first}
  - id: ping
    action: PING
"#;
        let out = resume_after_edit(FIRST, after, &["GET /projects/p-17/status"]).await;
        assert_eq!(resumed(&out), ["project", "rename", "item", "ping"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_renamed_step_claims_its_record_by_request() {
        let after = FIRST
            .replace("id: project", "id: proj")
            .replace("steps.project.", "steps.proj.")
            .replace("id: item", "id: first_item");
        let out = resume_after_edit(FIRST, &after, &["GET /projects/p-17/status"]).await;
        assert_eq!(resumed(&out), ["ping", "proj", "first_item", "rename"]);
    }

    /// Two POSTs of one action without ids (derived ids `CREATE_PROJECT`
    /// and `CREATE_PROJECT#2`), then a failing check.
    const UNNAMED: &str = r#"  - action: CREATE_PROJECT
    params: {name: alpha}
  - action: CREATE_PROJECT
    params: {name: beta}
  - action: STATUS
    params: {project: p-17}
"#;

    #[tokio::test(flavor = "multi_thread")]
    async fn steps_without_ids_swapped_or_shifted_are_matched_by_request() {
        let swapped = r#"  - action: CREATE_PROJECT
    params: {name: beta}
  - action: CREATE_PROJECT
    params: {name: alpha}
  - action: STATUS
    params: {project: p-17}
"#;
        resume_after_edit(UNNAMED, swapped, &["GET /projects/p-17/status"]).await;
        let inserted = format!("  - action: PING\n{UNNAMED}");
        resume_after_edit(
            UNNAMED,
            &inserted,
            &["GET /ping", "GET /projects/p-17/status"],
        )
        .await;
        // `beta` is now `CREATE_PROJECT`, the key `alpha` had.
        let removed = UNNAMED.replace(
            "  - action: CREATE_PROJECT\n    params: {name: alpha}\n",
            "",
        );
        resume_after_edit(UNNAMED, &removed, &["GET /projects/p-17/status"]).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_post_of_the_same_action_inserted_without_id_never_resends_one_that_completed() {
        // The new step takes the derived id `CREATE_PROJECT` that `alpha`
        // had. Whatever the runner makes of that, neither `alpha` nor
        // `beta` may be sent again; the new `gamma` only with a yes.
        let server = shop_server(false).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), UNNAMED));
        ws.runner(["apply", "main.yaml"]).await.code(1);
        server.reset().await;
        mount(&server, true).await;
        let after = format!("  - action: CREATE_PROJECT\n    params: {{name: gamma}}\n{UNNAMED}");
        ws.write("main.yaml", &shop(&server.uri(), &after));
        let journal = ws.read(JOURNAL);
        let out = ws
            .runner(["apply", "main.yaml", "--resume", JOURNAL])
            .await
            .code(2).stderr_has("steps[0] (POST) completed in the journalled run, and its request changed since (param `name`)");
        assert!(server.received().await.is_empty(), "{out:?}");
        assert_eq!(ws.read(JOURNAL), journal);
        let out = ws
            .runner(["apply", "main.yaml", "--resume", JOURNAL, "--rerun-changed"])
            .await
            .code(0);
        let bodies: Vec<Value> = server
            .received()
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert_eq!(bodies, [json!({"name": "gamma"})], "{out:?}");
    }

    // ------------------------------------------------ in flight when killed

    /// Runs `FIRST` with the POST of `item` held by the server, kills the
    /// runner (SIGKILL) while it waits, then resumes `after` without and with
    /// `--rerun-uncertain`.
    async fn killed_mid_post_then(after: &str) {
        let (hold, mut arrived) = HoldFirst::new(json_reply(201, json!({"id": 5})));
        let server = Server::start().await;
        Server::given("POST")
            .and(path_regex("^/projects/p-17/items$"))
            .respond_with(hold)
            .mount(&server)
            .await;
        mount(&server, true).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), FIRST));
        let running = ws.runner(["apply", "main.yaml"]).spawn();
        arrival(&mut arrived).await;
        kill9(running.id());
        running.wait().await.code(-1);
        let recs = records(&ws.read(JOURNAL));
        assert_eq!(
            recs.last().map(|r| r["state"].clone()),
            Some(json!("started"))
        );
        let before = server.requests().await;
        assert_eq!(before, FIRST_SENT[..3]);

        ws.write("main.yaml", &shop(&server.uri(), after));
        let journal = ws.read(JOURNAL);
        let out = ws
            .runner(["apply", "main.yaml", "--resume", JOURNAL])
            .await
            .code(2);
        assert!(
            out.stderr.contains(
                "steps[2] (item) (`ADD_ITEM`, POST) was in flight when the journalled run stopped"
            ) && out.stderr.contains("--rerun-uncertain"),
            "{out:?}"
        );
        assert_eq!(server.requests().await, before, "exit 2 sent something");
        assert_eq!(ws.read(JOURNAL), journal, "exit 2 wrote the journal");

        ws.runner([
            "apply",
            "main.yaml",
            "--resume",
            JOURNAL,
            "--rerun-uncertain",
        ])
        .await
        .code(0);
        let sent = server.requests().await;
        let count = |r: &str| sent.iter().filter(|s| *s == r).count();
        assert_eq!(count("POST /projects"), 1, "{sent:?}");
        assert_eq!(count("POST /projects/p-17/items"), 2, "{sent:?}");
        assert_eq!(count("PATCH /projects/p-17"), 1, "{sent:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_post_in_flight_stays_uncertain_when_a_step_is_inserted_before_it() {
        killed_mid_post_then(&format!(
            "  - id: audit\n    action: PING\n    params: {{note: a}}\n{FIRST}"
        ))
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_post_in_flight_stays_uncertain_when_steps_before_it_are_removed() {
        killed_mid_post_then(&FIRST.replace("  - id: ping\n    action: PING\n", "")).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_post_in_flight_stays_uncertain_when_it_moves_or_is_renamed() {
        let moved = r#"  - id: project
    action: CREATE_PROJECT
    params: {name: demo}
  - id: rename
    action: RENAME_PROJECT
    params: {project: "{{ steps.project.response.id }}", name: renamed}
  - id: check
    action: STATUS
    params: {project: "{{ steps.project.response.id }}"}
  - id: ping
    action: PING
  - id: item
    action: ADD_ITEM
    params: {project: "{{ steps.project.response.id }}", title: first}
"#;
        killed_mid_post_then(moved).await;
        killed_mid_post_then(&FIRST.replace("id: item", "id: the_item")).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_patch_in_flight_is_uncertain_too() {
        let (hold, mut arrived) = HoldFirst::new(json_reply(200, json!({"id": "p-17"})));
        let server = Server::start().await;
        Server::given("PATCH")
            .and(path_regex("^/projects/p-17$"))
            .respond_with(hold)
            .mount(&server)
            .await;
        mount(&server, true).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), FIRST));
        let running = ws.runner(["apply", "main.yaml"]).spawn();
        arrival(&mut arrived).await;
        kill9(running.id());
        running.wait().await;
        assert_eq!(server.requests().await, FIRST_SENT[..4]);
        // The steps before it removed, the PATCH now first but for the POST
        // whose response it needs.
        let after = r#"  - id: project
    action: CREATE_PROJECT
    params: {name: demo}
  - id: rename
    action: RENAME_PROJECT
    params: {project: "{{ steps.project.response.id }}", name: renamed}
  - id: check
    action: STATUS
    params: {project: "{{ steps.project.response.id }}"}
"#;
        ws.write("main.yaml", &shop(&server.uri(), after));
        ws.runner(["apply", "main.yaml", "--resume", JOURNAL])
            .await
            .code(2)
            .stderr_has(
                "(rename) (`RENAME_PROJECT`, PATCH) was in flight when the journalled run stopped",
            );
        assert_eq!(server.requests().await, FIRST_SENT[..4]);
        let out = ws
            .runner([
                "apply",
                "main.yaml",
                "--resume",
                JOURNAL,
                "--rerun-uncertain",
            ])
            .await
            .code(0);
        assert_eq!(
            server.requests().await[4..],
            ["PATCH /projects/p-17", "GET /projects/p-17/status"]
        );
        assert_eq!(
            out.stderr
                .matches("warning: steps[1] (rename): it was in flight when the journalled run stopped; sending it again")
                .count(),
            1,
            "{out:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_identical_post_inserted_before_a_completed_one_is_a_new_step() {
        let after = format!(
            "  - id: again\n    action: CREATE_PROJECT\n    params: {{name: demo}}\n{CREATED}"
        );
        let server = shop_server(false).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), CREATED));
        ws.runner(["apply", "main.yaml"]).await.code(1);
        server.reset().await;
        mount(&server, true).await;
        ws.write("main.yaml", &shop(&server.uri(), &after));
        let out = ws
            .runner([
                "apply",
                "main.yaml",
                "--resume",
                JOURNAL,
                "--output",
                "json",
            ])
            .await
            .code(0);
        assert_eq!(
            server.requests().await,
            ["POST /projects", "GET /projects/p-17/status"]
        );
        assert_eq!(out.step(0)["resumed"], json!(false), "{out:?}");
        assert_eq!(out.step(1)["resumed"], json!(true), "{out:?}");
    }

    // ------------------------------------------------- changed since the run

    /// A POST that completed, then a status check that failed.
    const CREATED: &str = r#"  - id: project
    action: CREATE_PROJECT
    params: {name: demo}
  - id: check
    action: STATUS
    params: {project: "{{ steps.project.response.id }}"}
"#;

    /// Runs `CREATED`, then resumes with the spec edited by `edit` and
    /// `args` added: refused, naming the step and `change` (made from the
    /// first server's URL), with nothing sent anywhere and the journal
    /// untouched; then accepted with `--rerun-changed`, which sends the
    /// POST again (to `other` when given).
    async fn changed_post_is_refused(
        edit: impl Fn(String) -> String,
        other: Option<&Server>,
        args: &[&str],
        change: impl Fn(&str) -> String,
    ) {
        let server = shop_server(false).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), CREATED));
        ws.runner(["apply", "main.yaml"]).await.code(1);
        server.reset().await;
        mount(&server, true).await;
        ws.write("main.yaml", &edit(shop(&server.uri(), CREATED)));
        let journal = ws.read(JOURNAL);

        let out = ws
            .runner(["apply", "main.yaml", "--resume", JOURNAL])
            .args(args)
            .await
            .code(2);
        let change = change(&server.uri());
        let method = if change.contains("→ PATCH") {
            "PATCH"
        } else {
            "POST"
        };
        let expected = format!(
            "steps[0] (project) ({method}) completed in the journalled run, and its request changed since ({change}); it is not sent again"
        );
        assert!(
            out.stderr.contains(&expected),
            "expected `{expected}`: {out:?}"
        );
        assert!(out.stderr.contains("--rerun-changed"), "{out:?}");
        assert!(server.received().await.is_empty(), "{out:?}");
        if let Some(other) = other {
            assert!(other.received().await.is_empty(), "{out:?}");
        }
        assert_eq!(ws.read(JOURNAL), journal, "exit 2 wrote the journal");

        let out = ws
            .runner(["apply", "main.yaml", "--resume", JOURNAL, "--rerun-changed"])
            .args(args)
            .await
            .code(0).stderr_has("warning: steps[0] (project): its request changed since the journalled run; running it again");
        let sent = other.unwrap_or(&server).requests().await;
        assert_eq!(sent.len(), 2, "{sent:?}: {out:?}");
        assert!(sent[1].ends_with("/status"), "{sent:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_completed_post_sent_elsewhere_with_base_url_is_refused() {
        let other = shop_server(true).await;
        let base = format!("shop={}", other.uri());
        changed_post_is_refused(
            |s| s,
            Some(&other),
            &["--base-url", &base],
            |first| format!("base URL `{first}` → `{}`", other.uri()),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_completed_post_whose_app_moved_in_the_spec_is_refused() {
        let other = shop_server(true).await;
        let to = other.uri();
        changed_post_is_refused(
            |s| {
                let (head, rest) = s.split_once("    base_url: ").unwrap();
                let (_, rest) = rest.split_once('\n').unwrap();
                format!("{head}    base_url: {to}/\n{rest}")
            },
            Some(&other),
            &[],
            |first| format!("base URL `{first}` → `{}/`", other.uri()),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_completed_post_whose_method_changed_in_the_catalog_is_refused() {
        changed_post_is_refused(
            |s| {
                s.replace(
                    "method: POST\n        path: /projects\n",
                    "method: PATCH\n        path: /projects\n",
                )
            },
            None,
            &[],
            |_| "method POST → PATCH".to_string(),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_completed_post_whose_path_changed_in_the_catalog_is_refused() {
        changed_post_is_refused(
            |s| s.replace("path: /projects\n", "path: /v2/projects\n"),
            None,
            &[],
            |_| "path `/projects` → `/v2/projects`".to_string(),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_completed_post_given_another_param_is_refused() {
        changed_post_is_refused(
            |s| s.replace("params: {name: demo}", "params: {name: demo, tag: blue}"),
            None,
            &[],
            |_| "param `tag` (added)".to_string(),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_completed_patch_whose_params_changed_is_refused() {
        let steps = r#"  - id: rename
    action: RENAME_PROJECT
    params: {project: p-17, name: "{{ vars.name }}"}
  - id: check
    action: STATUS
    params: {project: p-17}
"#;
        let server = shop_server(false).await;
        let spec = |steps: &str| {
            shop(&server.uri(), steps).replace("steps:\n", "vars:\n  name: first\nsteps:\n")
        };
        let ws = Workspace::new().file("main.yaml", &spec(steps));
        ws.runner(["apply", "main.yaml"]).await.code(1);
        server.reset().await;
        mount(&server, true).await;
        ws
            .runner([
                "apply",
                "main.yaml",
                "--resume",
                JOURNAL,
                "--var",
                "name=second",
            ])
            .await
            .code(2).stderr_has("steps[0] (rename) (PATCH) completed in the journalled run, and its request changed since (param `name`); it is not sent again");
        assert!(server.received().await.is_empty());
    }

    /// A safe request that changed runs again, and says so.
    #[tokio::test(flavor = "multi_thread")]
    async fn changed_safe_requests_run_again_with_a_warning() {
        let steps = r#"  - id: ping
    action: PING
  - id: put
    action: PUT_ITEM
    params: {project: p-17, item: 5, state: done}
  - id: delete
    action: DELETE_ITEM
    params: {project: p-17, item: 6, reason: "{{ vars.reason }}"}
  - id: check
    action: STATUS
    params: {project: p-17}
"#;
        let server = shop_server(false).await;
        let spec =
            |base: &str| shop(base, steps).replace("steps:\n", "vars:\n  reason: stale\nsteps:\n");
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri()));
        ws.runner(["apply", "main.yaml"]).await.code(1);
        assert_eq!(server.received().await.len(), 4);

        // Another base URL for the whole app: every step runs again there.
        let other = shop_server(true).await;
        let base = format!("shop={}", other.uri());
        server.reset().await;
        let out = ws
            .runner([
                "apply",
                "main.yaml",
                "--resume",
                JOURNAL,
                "--base-url",
                &base,
            ])
            .await
            .code(0);
        assert!(server.received().await.is_empty(), "{out:?}");
        assert_eq!(
            other.requests().await,
            [
                "GET /ping",
                "PUT /projects/p-17/items/5",
                "DELETE /projects/p-17/items/6",
                "GET /projects/p-17/status"
            ],
            "{out:?}"
        );
        for (label, change) in [
            (
                "steps[0] (ping)",
                format!("base URL `{}` → `{}`", server.uri(), other.uri()),
            ),
            ("steps[1] (put)", "base URL `".to_string()),
            ("steps[2] (delete)", "base URL `".to_string()),
        ] {
            let warning = format!(
                "warning: {label}: its request changed since the journalled run; running it again (changed: {change}"
            );
            // Said once, though both the checks before the run and the
            // run itself find it.
            assert_eq!(
                out.stderr.matches(&warning).count(),
                1,
                "`{warning}`: {out:?}"
            );
        }

        // A new path for the PUT and new params for the DELETE.
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri()));
        mount(&server, false).await;
        ws.runner(["apply", "main.yaml"]).await.code(1);
        server.reset().await;
        mount(&server, true).await;
        ws.write(
            "main.yaml",
            &spec(&server.uri()).replace(
                "path: /projects/{project}/items/{item}\n        params:\n          project: {type: string, required: true}\n          item: {type: integer, required: true}\n          state",
                "path: /v2/projects/{project}/items/{item}\n        params:\n          project: {type: string, required: true}\n          item: {type: integer, required: true}\n          state",
            ),
        );
        let out = ws
            .runner([
                "apply",
                "main.yaml",
                "--resume",
                JOURNAL,
                "--var",
                "reason=gone",
            ])
            .await
            .code(0);
        assert_eq!(
            server.requests().await,
            [
                "PUT /v2/projects/p-17/items/5",
                "DELETE /projects/p-17/items/6",
                "GET /projects/p-17/status"
            ],
            "{out:?}"
        );
        assert!(out.stderr.contains("warning: steps[1] (put): its request changed since the journalled run; running it again (changed: path `/projects/{project}/items/{item}` → `/v2/projects/{project}/items/{item}`)"), "{out:?}");
        assert!(out.stderr.contains("warning: steps[2] (delete): its request changed since the journalled run; running it again (changed: param `reason`)"), "{out:?}");
    }

    #[test]
    fn validate_and_plan_warn_about_posts_and_patches_without_an_id() {
        let steps = r#"  - action: PING
  - action: CREATE_PROJECT
    params: {name: a}
  - id: named
    action: CREATE_PROJECT
    params: {name: b}
  - action: CREATE_PROJECT
    params: {name: c}
  - action: RENAME_PROJECT
    params: {project: p-17, name: d}
  - action: PUT_ITEM
    params: {project: p-17, item: 5}
  - action: DELETE_ITEM
    params: {project: p-17, item: 5}
"#;
        let ws = Workspace::new().file("main.yaml", &shop("https://shop.example.com", steps));
        for command in ["validate", "plan"] {
            let out = ws
                .runner([command, "main.yaml"])
                .run()
                .code_for(0, format_args!("{command}"));
            for (label, method, key, action) in [
                ("steps[1]", "POST", "CREATE_PROJECT", "CREATE_PROJECT"),
                ("steps[3]", "POST", "CREATE_PROJECT#3", "CREATE_PROJECT"),
                ("steps[4]", "PATCH", "RENAME_PROJECT", "RENAME_PROJECT"),
            ] {
                let warning = format!(
                    "warning: {label} sends a {method} but has no `id`; resuming a journalled run matches it by the derived id `{key}`, which changes when steps using `{action}` are added or removed before it"
                );
                assert!(
                    out.stderr.contains(&warning),
                    "{command}: expected `{warning}`: {out:?}"
                );
            }
            // Only those three: not the GET, PUT, DELETE, nor the named POST.
            assert_eq!(
                out.stderr.matches("warning: ").count(),
                3,
                "{command}: {out:?}"
            );
        }
    }

    // ---------------------------------------------------- the journal file

    /// The directory of a workspace.
    fn dir_of(ws: &Workspace) -> std::path::PathBuf {
        let marker = ws.write(".dir", "");
        marker.parent().expect("a parent").to_path_buf()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_second_run_on_a_journal_in_use_is_refused() {
        let (hold, mut arrived) = HoldFirst::new(json_reply(201, json!({"id": "p-17"})));
        let server = Server::build().reply("POST /projects", hold).start().await;
        mount(&server, true).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), CREATED));
        let first = ws.runner(["apply", "main.yaml"]).spawn();
        arrival(&mut arrived).await;
        let journal = ws.read(JOURNAL);
        assert_eq!(records(&journal).len(), 1, "{journal}");

        for extra in [
            &[][..],
            &["--resume", JOURNAL][..],
            &["--resume", JOURNAL, "--rerun-uncertain"][..],
            &["--journal", JOURNAL][..],
            &["--journal", "./.runner/../.runner/main.yaml.jsonl"][..],
        ] {
            let out = ws
                .runner(["apply", "main.yaml"])
                .args(extra)
                .await
                .code_for(2, format_args!("{extra:?}"));
            assert!(
                out.stderr.contains("is in use by another run"),
                "{extra:?}: {out:?}"
            );
            assert_eq!(
                server.requests().await,
                ["POST /projects"],
                "{extra:?}: {out:?}"
            );
            assert_eq!(ws.read(JOURNAL), journal, "{extra:?} touched the journal");
        }
        let out = ws.runner(["apply", "main.yaml"]).await;
        assert!(
            out.stderr
                .contains(&format!("the journal `{JOURNAL}` is in use by another run")),
            "the message names the journal: {out:?}"
        );

        // Another journal belongs to another run: that one goes ahead.
        ws.runner(["apply", "main.yaml", "--journal", "other.jsonl"])
            .await
            .code(0);

        // The lock dies with its holder: no lock file is left behind.
        kill9(first.id());
        first.wait().await;
        let out = ws
            .runner(["apply", "main.yaml", "--resume", JOURNAL])
            .await
            .code(2);
        assert!(!out.stderr.contains("in use"), "{out:?}");
        assert!(out.stderr.contains("was in flight"), "{out:?}");
        let mut files: Vec<String> = std::fs::read_dir(dir_of(&ws).join(".runner"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, [".gitignore", "main.yaml.jsonl"]);
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn a_journal_is_never_written_through_a_symbolic_link() {
        use std::os::unix::fs::symlink;
        let server = shop_server(true).await;
        let ws = Workspace::new()
            .file("main.yaml", &shop(&server.uri(), CREATED))
            .file("precious.txt", "keep me\n");
        let dir = dir_of(&ws);
        symlink(dir.join("precious.txt"), dir.join("link.jsonl")).unwrap();
        symlink(dir.join("made-by-runner.txt"), dir.join("dangling.jsonl")).unwrap();
        std::fs::create_dir(dir.join(".runner")).unwrap();
        symlink(dir.join("precious.txt"), dir.join(JOURNAL)).unwrap();
        for (args, shown) in [
            (vec!["--journal", "link.jsonl"], "link.jsonl"),
            (vec!["--journal", "dangling.jsonl"], "dangling.jsonl"),
            (vec![], JOURNAL),
            (vec!["--resume", "link.jsonl"], "link.jsonl"),
            (vec!["--resume", JOURNAL, "--rerun-changed"], JOURNAL),
        ] {
            let out = ws
                .runner(["apply", "main.yaml"])
                .args(&args)
                .await
                .code_for(2, format_args!("{args:?}"));
            let expected = format!(
                "the journal `{shown}` is a symbolic link; journals are never written through one"
            );
            assert!(out.stderr.contains(&expected), "{args:?}: {out:?}");
            assert!(server.received().await.is_empty(), "{args:?}: {out:?}");
            assert_eq!(ws.read("precious.txt"), "keep me\n", "{args:?}");
            assert!(!ws.exists("made-by-runner.txt"), "{args:?}");
        }
        // A real journal that later became a link is not resumed through it.
        ws.runner(["apply", "main.yaml", "--journal", "real.jsonl"])
            .await
            .code(0);
        server.reset().await;
        let real = ws.read("real.jsonl");
        std::fs::rename(dir.join("real.jsonl"), dir.join("moved.jsonl")).unwrap();
        symlink(dir.join("moved.jsonl"), dir.join("real.jsonl")).unwrap();
        ws.runner(["apply", "main.yaml", "--resume", "real.jsonl"])
            .await
            .code(2)
            .stderr_has("is a symbolic link");
        assert_eq!(ws.read("moved.jsonl"), real);
        assert!(server.received().await.is_empty());
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn journals_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let chmod = |path: &std::path::Path, m: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap()
        };
        let server = shop_server(false).await;
        let ws = Workspace::new().file("main.yaml", &shop(&server.uri(), CREATED));
        let dir = dir_of(&ws);

        // A journal that exists already (here readable by everyone, and
        // holding something else) is emptied and made the owner's only.
        let old = ws.write("old.jsonl", "not a journal\n");
        chmod(&old, 0o666);
        ws.runner(["apply", "main.yaml", "--journal", "old.jsonl"])
            .await
            .code(1);
        assert_eq!(mode(&old), 0o600);
        assert!(!ws.read("old.jsonl").contains("not a journal"));

        // So is one being resumed.
        chmod(&old, 0o644);
        server.reset().await;
        mount(&server, true).await;
        ws.runner(["apply", "main.yaml", "--resume", "old.jsonl"])
            .await
            .code(0);
        assert_eq!(mode(&old), 0o600);

        // A new one is born that way.
        ws.runner(["apply", "main.yaml"]).await.code(0);
        assert_eq!(mode(&dir.join(JOURNAL)), 0o600);
    }

    // -------------------------------------------------- URLs that cannot work

    /// A POST to the shop, then a GET to an app whose auth moves it to
    /// `{{ env.BASE }}`.
    fn two_apps(shop_base: &str) -> String {
        shop(shop_base, CREATED.split("  - id: check").next().unwrap()).replace(
            "steps:\n",
            r#"  api:
    base_url: https://api.example.com
    actions:
      WHOAMI: {method: GET, path: /me}
auth:
  api:
    base_url: "{{ env.BASE }}"
    parameters:
      - {name: Authorization, in: header, value: "Bearer {{ env.TOKEN }}"}
steps:
"#,
        ) + "  - id: me\n    action: WHOAMI\n"
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unusable_url_known_before_the_run_stops_it_before_anything_is_sent() {
        let server = shop_server(true).await;
        let ws = Workspace::new().file("main.yaml", &two_apps(&server.uri()));
        let port = server.port();
        for (base, why) in [
            (
                format!("ftp://127.0.0.1:{port}/"),
                "scheme `ftp` is not http or https",
            ),
            (
                "file:///etc/passwd".to_string(),
                "scheme `file` is not http or https",
            ),
            (
                "gopher://127.0.0.1/".to_string(),
                "scheme `gopher` is not http or https",
            ),
            ("mailto:ops@example.com".to_string(), "mailto"),
            ("not a url".to_string(), "invalid"),
            ("http://127.0.0.1:99999/".to_string(), "invalid"),
            ("http://exa mple.com/".to_string(), "invalid"),
            ("http://[::1/".to_string(), "invalid"),
        ] {
            let out = ws
                .runner(["apply", "main.yaml"])
                .env("BASE", &base)
                .env("TOKEN", "tok-Unusable-0123456789")
                .await
                .code_for(2, format_args!("{base}"));
            assert!(out.stderr.contains(why), "{base}: {out:?}");
            assert!(server.received().await.is_empty(), "{base}: {out:?}");
            if ws.exists(JOURNAL) {
                assert_eq!(ws.read(JOURNAL), "", "{base}: a record was left");
            }
            assert_hidden(&out.all(), &["tok-Unusable-0123456789"]);
        }
        // The same spec with a usable URL runs: the refusals were the URLs'.
        ws.runner(["apply", "main.yaml"])
            .env("BASE", server.uri())
            .env("TOKEN", "tok-Unusable-0123456789")
            .await
            .code(1);
        assert_eq!(server.requests().await, ["POST /projects", "GET /me"]);
    }

    #[test]
    fn a_base_url_override_must_be_an_http_url() {
        let ws = Workspace::new().file("main.yaml", &shop("http://127.0.0.1:9", CREATED));
        for url in [
            "ftp://files.example.com",
            "file:///tmp",
            "localhost:8080",
            "127.0.0.1:8080",
            "not a url",
            "http://",
        ] {
            for command in ["apply", "plan"] {
                let arg = format!("shop={url}");
                let out = ws
                    .runner([command, "main.yaml", "--base-url", &arg])
                    .run()
                    .code_for(2, format_args!("{command} {arg}"));
                assert!(
                    out.stderr.contains(&format!(
                        "`--base-url shop={url}`: expected an http or https URL"
                    )),
                    "{command} {arg}: {out:?}"
                );
            }
        }
    }
}

// ===================================================================== files

/// Files a spec names resolve only inside the project root; a file that is
/// not a spec is described by its type and place, never by what it holds.
mod files {
    use super::*;

    const TOKEN: &str = "ghp_DotEnvToken0123456789abcdefABCDEF";

    /// A valid catalog: what a spec from elsewhere would want to read.
    const CATALOG: &str = "version: 1\napps:\n  other:\n    base_url: https://other.example.com\n    actions:\n      OTHER_ME: {method: GET, path: /me}\n";

    /// The root spec: an app at `base` with one step, and `include`.
    fn root(base: &str, include: &[&str]) -> String {
        let list = include
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "version: 1\ninclude: [{list}]\napps:\n  api:\n    base_url: {base}\n    actions:\n      ME: {{method: GET, path: /me}}\nsteps:\n  - {{id: me, action: ME}}\n"
        )
    }

    /// `validate`, `plan` and `apply` on `spec`, each expected to fail
    /// with exit 2 and `expected` in its message, leaking none of
    /// `secrets` and none of the lines of `shielded`, sending nothing.
    async fn refused_everywhere(
        ws: &Workspace,
        server: &Server,
        spec: &str,
        extra: &[&str],
        expected: &str,
        secrets: &[&str],
        shielded: &str,
    ) {
        for command in ["validate", "plan", "apply"] {
            let out = ws
                .runner([command, spec])
                .args(extra)
                .await
                .code_for(2, format_args!("{command} {spec}"));
            assert!(
                out.stderr.contains(expected),
                "{command} {spec}: expected `{expected}`: {out:?}"
            );
            assert_hidden(&out.all(), secrets);
            for line in shielded.lines().map(str::trim).filter(|l| l.len() >= 6) {
                assert!(
                    !out.all().contains(line),
                    "{command} {spec}: a line of the file was shown: `{line}`\n{out:?}"
                );
            }
            assert!(server.received().await.is_empty(), "{command}: {out:?}");
        }
    }

    /// `ws/project/main.yaml` is the root spec; outside its directory (the
    /// project root, outside git): `ws/outside.env` holding a token, and
    /// `ws/outside.yaml`, a valid catalog.
    fn layout(server: &Server, include: &[&str]) -> Workspace {
        Workspace::new()
            .file(
                "outside.env",
                &format!("GITHUB_TOKEN={TOKEN}\nOWNER=octo\n"),
            )
            .file("outside.yaml", CATALOG)
            .file("project/main.yaml", &root(&server.uri(), include))
    }

    fn abs(ws: &Workspace, rel: &str) -> String {
        ws.write(".probe", "")
            .parent()
            .unwrap()
            .join(rel)
            .to_string_lossy()
            .into_owned()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn includes_outside_the_project_root_are_refused_by_path_never_read() {
        let server = Server::start().await;
        let probe = layout(&server, &[]);
        let env_abs = abs(&probe, "outside.env");
        let dots = format!("../../../../../../../../../..{env_abs}");
        let cases: Vec<(String, String)> = vec![
            ("../outside.env".into(), "project/../outside.env".into()),
            ("../outside.yaml".into(), "project/../outside.yaml".into()),
            ("./../outside.env".into(), "project/./../outside.env".into()),
            (
                "sub/../../outside.env".into(),
                "project/sub/../../outside.env".into(),
            ),
            (env_abs.clone(), env_abs.clone()),
            (dots.clone(), format!("project/{dots}")),
            ("/etc/passwd".into(), "/etc/passwd".into()),
            ("/dev/zero".into(), "/dev/zero".into()),
        ];
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        for (include, shown) in cases {
            let ws = layout(&server, &[&include]);
            let expected = format!("`{shown}` is outside the project root");
            let mut shielded = format!("GITHUB_TOKEN={TOKEN}\n{CATALOG}");
            shielded.push_str(&passwd);
            refused_everywhere(
                &ws,
                &server,
                "project/main.yaml",
                &[],
                &expected,
                &[TOKEN],
                &shielded,
            )
            .await;
            // The outside catalog's app never became part of the spec.
            let out = ws
                .runner(["validate", "project/main.yaml"])
                .await
                .stderr_has("--allow-outside-root");
            assert!(!out.all().contains("other.example.com"), "{out:?}");
        }
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread")]
    async fn symbolic_links_are_judged_by_their_target() {
        use std::os::unix::fs::symlink;
        let server = Server::start().await;
        let ws = layout(&server, &[]);
        let base = std::path::PathBuf::from(abs(&ws, ""));
        ws.write("elsewhere/apps.yaml", CATALOG);
        ws.write("project/apps/real.yaml", CATALOG);
        symlink(base.join("outside.env"), base.join("project/innocent.yaml")).unwrap();
        symlink(base.join("elsewhere"), base.join("project/shared")).unwrap();
        symlink(
            base.join("project/apps/real.yaml"),
            base.join("project/alias.yaml"),
        )
        .unwrap();
        symlink(
            "../../outside.yaml",
            base.join("project/apps/relative.yaml"),
        )
        .unwrap();
        for (include, shown) in [
            ("innocent.yaml", "project/innocent.yaml"),
            ("shared/apps.yaml", "project/shared/apps.yaml"),
            ("apps/relative.yaml", "project/apps/relative.yaml"),
        ] {
            ws.write("project/main.yaml", &root(&server.uri(), &[include]));
            let expected = format!("`{shown}` is outside the project root");
            refused_everywhere(
                &ws,
                &server,
                "project/main.yaml",
                &[],
                &expected,
                &[TOKEN],
                CATALOG,
            )
            .await;
        }
        // A link that stays inside is followed.
        ws.write("project/main.yaml", &root(&server.uri(), &["alias.yaml"]));
        ws.runner(["validate", "project/main.yaml"])
            .await
            .code(0)
            .stdout_has("(2 apps, 2 actions, 1 steps)");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_project_root_is_the_git_work_tree_holding_the_spec() {
        let server = Server::start().await;
        let ws = Workspace::new()
            .file("secret.yaml", CATALOG)
            .file("repo/apps/catalog.yaml", CATALOG)
            .file("wt/apps/catalog.yaml", CATALOG)
            // A linked worktree has a `.git` file, not a directory.
            .file("wt/.git", "gitdir: /somewhere/else\n");
        std::fs::create_dir_all(std::path::Path::new(&abs(&ws, "repo/.git"))).unwrap();
        for tree in ["repo", "wt"] {
            // Inside the work tree but outside the spec's directory: fine.
            for (spec, include) in [
                (format!("{tree}/specs/main.yaml"), "../apps/catalog.yaml"),
                (
                    format!("{tree}/a/b/c/main.yaml"),
                    "../../../apps/catalog.yaml",
                ),
            ] {
                ws.write(&spec, &root(&server.uri(), &[include]));
                ws.runner(["validate", &spec])
                    .await
                    .code_for(0, format_args!("{spec}"));
            }
            // Out of the work tree: refused.
            let spec = format!("{tree}/specs/main.yaml");
            ws.write(&spec, &root(&server.uri(), &["../../secret.yaml"]));
            let expected = format!("`{tree}/specs/../../secret.yaml` is outside the project root");
            refused_everywhere(&ws, &server, &spec, &[], &expected, &[], CATALOG).await;
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn allow_outside_root_lifts_the_limit_and_still_shows_no_content() {
        let server = Server::build()
            .reply("GET /me", json_reply(200, json!({})))
            .start()
            .await;
        let ws = layout(&server, &["../outside.yaml"]);
        for command in ["validate", "plan", "apply"] {
            ws.runner([command, "project/main.yaml", "--allow-outside-root"])
                .await
                .code_for(0, format_args!("{command}"));
        }
        assert_eq!(server.requests().await, ["GET /me"]);
        // An outside file that is not a spec is still described by type only.
        let ws = layout(&server, &["../outside.env"]);
        server.reset().await;
        refused_everywhere(
            &ws,
            &server,
            "project/main.yaml",
            &["--allow-outside-root"],
            "expected a mapping starting with `version: 1`, found a string",
            &[TOKEN],
            &format!("GITHUB_TOKEN={TOKEN}"),
        )
        .await;
    }

    /// Files of other kinds, each holding a secret, and what the runner may
    /// say they are. `None`: not YAML at all, so only that it is not a spec.
    fn not_specs() -> Vec<(&'static str, String, Option<&'static str>)> {
        vec![
            (
                ".env",
                format!("GITHUB_TOKEN={TOKEN}\nOWNER=octo\n"),
                Some("a string"),
            ),
            (
                "tokens.yaml",
                format!("- {TOKEN}\n- xoxb-1234567890-abcdefghij\n"),
                Some("a list"),
            ),
            (
                "credentials.json",
                format!("{{\"user\": \"bob\", \"token\": \"{TOKEN}\"}}\n"),
                Some("a mapping without `version`"),
            ),
            (
                "compose.yml",
                format!("services:\n  web:\n    environment:\n      TOKEN: {TOKEN}\n"),
                Some("a mapping without `version`"),
            ),
            (
                "pin.txt",
                "918273645546372819\n".to_string(),
                Some("a number"),
            ),
            (
                "key.pem",
                format!("-----BEGIN PRIVATE KEY-----\n{TOKEN}\n-----END PRIVATE KEY-----\n"),
                Some("a string"),
            ),
            // An env file whose later lines are not YAML.
            (
                "broken.env",
                format!("GITHUB_TOKEN={TOKEN}\nJSON={{\"a\": [1, 2]}}\n"),
                None,
            ),
            ("quoted.env", format!("TOKEN=\"{TOKEN}\nNEXT: [\n"), None),
            // Not YAML, where a deserializer would complain about a key or a
            // value first.
            ("keyed.txt", format!("{TOKEN}: admin\nbad: [\n"), None),
            ("typed.txt", format!("steps: {TOKEN}\n  bad: [\n"), None),
            (
                "twice.yaml",
                format!("token: {TOKEN}\ntoken: other\n"),
                None,
            ),
            (
                "documents.yaml",
                format!("---\n{TOKEN}: 1\n---\nsecond\n"),
                None,
            ),
        ]
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn files_that_are_not_specs_are_described_by_their_type_only() {
        let server = Server::start().await;
        for (name, text, found) in not_specs() {
            let ws = Workspace::new()
                .file(name, &text)
                .file("main.yaml", &root(&server.uri(), &[name]));
            let expected = match found {
                Some(kind) => {
                    format!("expected a mapping starting with `version: 1`, found {kind}\n")
                }
                None => "expected a mapping starting with `version: 1`".to_string(),
            };
            let secrets = [TOKEN, "918273645546372819"];
            // Included from a spec, and named as the spec itself.
            refused_everywhere(&ws, &server, "main.yaml", &[], &expected, &secrets, &text).await;
            refused_everywhere(&ws, &server, name, &[], &expected, &secrets, &text).await;
            let out = ws.runner(["validate", name]).await;
            assert!(
                out.stderr.contains(&format!("--> {name}:")),
                "the place is still named: {out:?}"
            );
            assert!(!out.stderr.contains(" | "), "a line was shown: {out:?}");
        }
    }

    #[test]
    fn a_spec_with_a_mistake_still_shows_its_line() {
        // The contrast: lines of specs are shown (with a caret).
        let ws = Workspace::new().file("main.yaml", "version: 1\nstepz: []\n");
        ws.runner(["validate", "main.yaml"])
            .run()
            .code(2)
            .stderr_has(" 2 | stepz: []")
            .stderr_has(" | ^^^^^");
    }
}

// =================================================================== masking

/// A secret is masked in every form it can be printed in, whatever route it
/// took into an auth value, before any excerpt is cut or folded.
mod masking {
    use super::*;

    /// One app `api` at `base` with a GET and a POST taking a body, `auth`
    /// and `vars` as given, and `steps`.
    fn api(base: &str, auth: &str, vars: &str, steps: &str) -> String {
        format!(
            r#"version: 1
apps:
  api:
    base_url: {base}
    retry: {{attempts: 1}}
    actions:
      GET_THING:
        method: GET
        path: /things/{{id}}
        params:
          id: {{type: string, required: true}}
      LOGIN:
        method: POST
        path: /login
      SUBMIT:
        method: POST
        path: /submit
        params:
          title: {{type: string}}
{auth}{vars}steps:
{steps}"#
        )
    }

    const ONE_GET: &str = "  - {id: one, action: GET_THING, params: {id: octo}}\n";

    /// `apply` in text and in JSON, each with `env`; every run must exit
    /// `code`, and print and journal no form of `secrets`.
    async fn apply_both(
        ws: &Workspace,
        env: &[(&str, &str)],
        code: i32,
        secrets: &[&str],
    ) -> Vec<Run> {
        apply_both_journal(ws, env, code, secrets, Journal::Checked).await
    }

    #[derive(PartialEq, Eq)]
    enum Journal {
        Checked,
        /// See `a_response_value_used_as_a_credential_is_never_journalled`.
        NotChecked,
    }

    async fn apply_both_journal(
        ws: &Workspace,
        env: &[(&str, &str)],
        code: i32,
        secrets: &[&str],
        journal: Journal,
    ) -> Vec<Run> {
        let mut runs = Vec::new();
        for output in ["text", "json"] {
            let mut cmd = ws.runner(["apply", "main.yaml", "--output", output]);
            for (k, v) in env {
                cmd = cmd.env(k, v);
            }
            let out = cmd.await.code_for(code, format_args!("{output}"));
            assert_clean(&out, secrets);
            if journal == Journal::Checked {
                assert_hidden(&ws.read(".runner/main.yaml.jsonl"), secrets);
            }
            runs.push(out);
        }
        runs
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn plan_masks_query_and_header_secrets_in_every_encoding() {
        let secrets = [
            "pass word~x-12345678",
            "a-b~cdef/ghij+klm=&n?o#p",
            "naïve-sécret-Wörd-123",
            "tab\tand  two  spaces-99",
        ];
        let auth = r#"auth:
  api:
    parameters:
      - {name: k1, in: query, value: "{{ env.K1 }}"}
      - {name: k2, in: query, value: "{{ env.K2 }}"}
      - {name: k3, in: query, value: "{{ env.K3 }}"}
      - {name: X-Key, in: header, value: "Key {{ env.K4 }}"}
"#;
        let ws = Workspace::new().file(
            "main.yaml",
            &api("https://api.example.com", auth, "", ONE_GET),
        );
        for output in ["text", "json"] {
            let out = ws
                .runner(["plan", "main.yaml", "--output", output])
                .env("K1", secrets[0])
                .env("K2", secrets[1])
                .env("K3", secrets[2])
                .env("K4", secrets[3])
                .await
                .code(0);
            assert_clean(&out, &secrets);
            // What is not secret stays readable.
            assert!(
                out.stdout
                    .contains("https://api.example.com/things/octo?k1="),
                "{out:?}"
            );
            assert!(out.stdout.contains("Key ***"), "{out:?}");
        }
    }

    /// A server answering `GET /things/<i>` with the `i`-th of `answers`
    /// (status, body), and a step for each of them (going on after a
    /// failure), so one run shows them all.
    async fn one_step_per_answer(answers: Vec<(u16, Value)>) -> (Server, String) {
        let server = Server::start().await;
        let mut steps = String::new();
        for (i, (status, body)) in answers.into_iter().enumerate() {
            server
                .reply(&format!("GET /things/{i}"), json_reply(status, body))
                .await;
            steps.push_str(&format!(
                "  - {{id: s{i}, action: GET_THING, params: {{id: '{i}'}}, continue_on_error: true}}\n"
            ));
        }
        (server, steps)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_echoed_secret_is_masked_in_every_encoding_an_api_may_use() {
        const SECRET: &str = "Sp ace~\"quote\\back/slash+plus=é-0123456789";
        let auth = r#"auth:
  api:
    parameters:
      - {name: token, in: query, value: "{{ env.TOKEN }}"}
"#;
        let mut shown = forms(SECRET);
        // Partly encoded, as some servers re-encode only what they must.
        shown.push("Sp%20ace~%22quote%5Cback/slash%2Bplus=%C3%A9-0123456789".into());
        shown.push("Sp+ace%7e\"quote\\back%2fslash+plus%3d\u{e9}-0123456789".into());
        shown.push(r#"Sp ace~\u0022quote\\back\/slash+plus=\u00e9-0123456789"#.into());
        let answers: Vec<(u16, Value)> = shown
            .iter()
            .map(|form| {
                (403, json!({"message": format!("token {form} is revoked"), "detail": {"seen": form}}))
            })
            .collect();
        let n = answers.len();
        let (server, steps) = one_step_per_answer(answers).await;
        let ws = Workspace::new().file("main.yaml", &api(&server.uri(), auth, "", &steps));
        // Every step failed, and each went on: exit 0.
        let runs = apply_both(&ws, &[("TOKEN", SECRET)], 0, &[SECRET]).await;
        let masked = runs[0].stdout.matches("token *** is revoked").count();
        assert_eq!(masked, n, "{:?}", runs[0]);
        for i in 0..n {
            assert_eq!(
                runs[1].step(i)["response"]["detail"]["seen"],
                json!("***"),
                "{:?}",
                runs[1]
            );
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_secret_of_digits_echoed_as_a_json_number_is_masked() {
        const PIN: &str = "918273645546372819";
        let auth = r#"auth:
  api:
    parameters:
      - {name: pin, in: query, value: "{{ env.PIN }}"}
"#;
        let pin: u64 = PIN.parse().unwrap();
        let answers = vec![
            (200, json!({"pin": pin, "ok": true})),
            (
                403,
                json!({"message": "wrong pin", "pin": pin, "tries": [1, pin]}),
            ),
        ];
        let (server, steps) = one_step_per_answer(answers).await;
        let ws = Workspace::new().file("main.yaml", &api(&server.uri(), auth, "", &steps));
        let runs = apply_both(&ws, &[("PIN", PIN)], 0, &[PIN]).await;
        assert_eq!(
            runs[1].step(0)["response"],
            json!({"pin": "***", "ok": true})
        );
        assert_eq!(runs[1].step(1)["response"]["tries"], json!([1, "***"]));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_long_secret_or_one_with_runs_of_whitespace_is_masked_before_excerpts() {
        let long: String = (0..40).map(|i| format!("Lg{i:02}-abcde")).collect();
        assert!(long.len() > 300);
        let spaced = "tab\there  two  spaces\n and-a-newline-0123";
        let auth = r#"auth:
  api:
    parameters:
      - {name: X-Long, in: header, value: "{{ env.LONG }}"}
      - {name: spaced, in: query, value: "{{ env.SPACED }}"}
"#;
        let answers = vec![
            // A long secret, on its own and late in a long message.
            (400, json!({"error": long})),
            (400, json!({"error": format!("{} {long}", "x".repeat(250))})),
            // Whitespace that an excerpt would fold, inside and around.
            (400, json!({"error": spaced})),
            (
                400,
                json!({"error": format!("{spaced}{}", " ".repeat(400))}),
            ),
            (400, json!(format!("{}\t{spaced}", "y ".repeat(100)))),
        ];
        let (server, steps) = one_step_per_answer(answers).await;
        let ws = Workspace::new().file("main.yaml", &api(&server.uri(), auth, "", &steps));
        let runs = apply_both(
            &ws,
            &[("LONG", &long), ("SPACED", spaced)],
            0,
            &[&long, spaced],
        )
        .await;
        assert!(
            runs[0].stdout.matches("error: ").count() >= 5,
            "{:?}",
            runs[0]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_credential_that_went_through_vars_or_filters_is_masked_alone() {
        const TOKEN: &str = "vt_ViaVars0123456789abcdef";
        let vars = r#"vars:
  raw: "{{ env.TOKEN }}"
  token: "{{ vars.raw | trim }}"
"#;
        // Filters that change the text (`upper`, `replace`) are refused by
        // `validate` since #13: see `env_secrets::laundering_is_refused`.
        for (value, sent) in [
            ("Bearer {{ vars.token }}", TOKEN.to_string()),
            ("token {{ vars.raw }}", TOKEN.to_string()),
            ("Bearer {{ vars.token | trim }}", TOKEN.to_string()),
        ] {
            let auth = format!(
                "auth:\n  api:\n    parameters:\n      - {{name: Authorization, in: header, value: \"{value}\"}}\n"
            );
            // The API names the credential alone, as received.
            let server = Server::build()
                .reply(
                    "GET",
                    Echo(401, |r: &Request| {
                        let got = r.headers.get("authorization").unwrap().to_str().unwrap();
                        let alone = got.rsplit(' ').next().unwrap().to_string();
                        json!({"message": format!("credential {alone} is unknown"), "credential": alone})
                    }),
                )
                .start()
                .await;
            let ws = Workspace::new().file("main.yaml", &api(&server.uri(), &auth, vars, ONE_GET));
            let runs = apply_both(&ws, &[("TOKEN", TOKEN)], 1, &[TOKEN, &sent]).await;
            assert!(
                runs[0].stdout.contains("credential *** is unknown"),
                "{value}: {:?}",
                runs[0]
            );
            let out = ws
                .runner(["plan", "main.yaml"])
                .env("TOKEN", TOKEN)
                .await
                .code(0);
            assert_clean(&out, &[TOKEN, &sent]);
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_credential_from_an_earlier_response_is_masked_alone() {
        const ISSUED: &str = "issued-Session-0123456789abcdef";
        let steps = r#"  - {id: login, action: LOGIN}
  - id: use
    action: GET_THING
    params: {id: octo}
    auth:
      parameters:
        - {name: X-Session, in: header, value: "{{ steps.login.response.session }}"}
        - {name: sig, in: query, value: "{{ steps.login.response.session | b64encode }}"}
"#;
        let server = Server::build()
            .reply("POST /login", json_reply(200, json!({"session": ISSUED, "user": "octo"})))
            .reply(
                "GET",
                Echo(403, |r: &Request| {
                    let session = r.headers.get("x-session").unwrap().to_str().unwrap().to_string();
                    json!({"message": format!("session {session} expired"), "url": r.url.to_string()})
                }),
            )
            .start()
            .await;
        let ws = Workspace::new().file("main.yaml", &api(&server.uri(), "", "", steps));
        let runs = apply_both_journal(&ws, &[], 1, &[ISSUED], Journal::NotChecked).await;
        assert!(
            runs[0].stdout.contains("session *** expired"),
            "{:?}",
            runs[0]
        );
        // The rest of the login response stays readable.
        assert_eq!(
            runs[1].step(0)["response"]["user"],
            json!("octo"),
            "{:?}",
            runs[1]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_response_value_used_as_a_credential_is_never_journalled() {
        const ISSUED: &str = "issued-Session-0123456789abcdef";
        let steps = r#"  - {id: login, action: LOGIN}
  - id: use
    action: GET_THING
    params: {id: octo}
    auth:
      parameters:
        - {name: X-Session, in: header, value: "{{ steps.login.response.session }}"}
"#;
        let server = Server::build()
            .reply("POST /login", json_reply(200, json!({"session": ISSUED})))
            .reply("GET", json_reply(200, json!({})))
            .start()
            .await;
        let ws = Workspace::new().file("main.yaml", &api(&server.uri(), "", "", steps));
        let out = ws.runner(["apply", "main.yaml"]).await.code(0);
        assert_clean(&out, &[ISSUED]);
        assert_hidden(&ws.read(".runner/main.yaml.jsonl"), &[ISSUED]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn basic_auth_masks_the_password_and_leaves_the_literal_user_readable() {
        use base64::Engine as _;
        const PASS: &str = "correct-Horse-battery-42";
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        // Users of every length modulo 3, so the password sits at every
        // offset of the base64 text.
        for user in ["acme12", "acme1", "acme", "octocat"] {
            let vars = format!("vars:\n  user: {user}\n");
            let auth = "auth:\n  api:\n    parameters:\n      - {name: Authorization, in: header, value: \"Basic {{ (vars.user ~ ':' ~ env.PASS) | b64encode }}\"}\n";
            let server = Server::build()
                .reply(
                    "GET",
                    Echo(401, |r: &Request| {
                        use base64::Engine as _;
                        let got = r
                            .headers
                            .get("authorization")
                            .unwrap()
                            .to_str()
                            .unwrap()
                            .to_string();
                        let encoded = got.trim_start_matches("Basic ").to_string();
                        let decoded = String::from_utf8(
                            base64::engine::general_purpose::STANDARD
                                .decode(&encoded)
                                .unwrap(),
                        )
                        .unwrap();
                        let password = decoded.split_once(':').unwrap().1.to_string();
                        json!({
                            "message": format!("{got} rejected; user and password were {decoded}"),
                            "encoded": encoded,
                            "encoded_tail": encoded[4..].to_string(),
                            "password": password,
                        })
                    }),
                )
                .start()
                .await;
            let ws = Workspace::new().file("main.yaml", &api(&server.uri(), auth, &vars, ONE_GET));
            let whole = b64(&format!("{user}:{PASS}"));
            let runs = apply_both(&ws, &[("PASS", PASS)], 1, &[PASS, &whole]).await;
            for out in &runs {
                assert!(
                    out.all().contains(&format!("{user}:***")),
                    "{user}: {out:?}"
                );
                // The base64 of `:password` (what follows a masked user).
                assert!(
                    !out.all().contains(&b64(&format!(":{PASS}"))[2..]),
                    "{user}: {out:?}"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn auth_body_fields_and_base_urls_from_outside_the_spec_print_masked() {
        const CLIENT_SECRET: &str = "cs_BodyField0123456789abcdef";
        const TENANT: &str = "tenant-a1b2c3d4e5f6";
        const VAR_TOKEN: &str = "vt_FromTheCommandLine0123456";
        let auth = r#"auth:
  api:
    base_url: "https://{{ env.TENANT }}.api.example.com/v1"
    parameters:
      - {name: X-Token, in: header, value: "{{ vars.cli }}"}
    body:
      client_id: acme-client
      client_secret: "{{ vars.cs }}"
      nested: {secret: ["{{ vars.cs }}"]}
"#;
        let vars =
            "vars:\n  cs: \"{{ env.CLIENT_SECRET }}\"\n  cli: replaced-on-the-command-line\n";
        let steps = "  - {id: submit, action: SUBMIT, params: {title: hello}}\n";
        let ws = Workspace::new().file(
            "main.yaml",
            &api("https://unused.example.com", auth, vars, steps),
        );
        for output in ["text", "json"] {
            let out = ws
                .runner([
                    "plan",
                    "main.yaml",
                    "--output",
                    output,
                    "--var",
                    &format!("cli={VAR_TOKEN}"),
                ])
                .env("CLIENT_SECRET", CLIENT_SECRET)
                .env("TENANT", TENANT)
                .await
                .code(0);
            assert_clean(&out, &[CLIENT_SECRET, TENANT, VAR_TOKEN]);
            // Literal text of the spec stays readable.
            assert!(out.stdout.contains("acme-client"), "{out:?}");
            // The base URL is an auth value rendered from outside the spec:
            // a secret as a whole.
            assert!(out.stdout.contains("***/submit"), "{out:?}");
            assert!(out.stdout.contains("hello"), "{out:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_secret_in_an_unusable_auth_base_url_is_masked() {
        const PASS: &str = "pw-InTheUrl-0123456789";
        let auth = r#"auth:
  api:
    base_url: "{{ env.BASE }}"
    parameters:
      - {name: Authorization, in: header, value: "Bearer {{ env.TOKEN }}"}
"#;
        let server = Server::start().await;
        let ws = Workspace::new().file("main.yaml", &api(&server.uri(), auth, "", ONE_GET));
        for base in [
            format!("http://user:{PASS}@exa mple.com/"),
            format!("https://user:{PASS}@127.0.0.1:99999/"),
            format!("ftp://user:{PASS}@127.0.0.1/"),
            format!("https://{PASS}.example.com:-1/"),
            PASS.to_string(),
        ] {
            for command in ["plan", "apply"] {
                let out = ws
                    .runner([command, "main.yaml", "--no-journal"])
                    .env("BASE", &base)
                    .env("TOKEN", "tok-Base0123456789")
                    .await
                    .code_for(2, format_args!("{command} {base}"));
                assert_clean(&out, &[PASS, "tok-Base0123456789"]);
            }
            assert!(server.received().await.is_empty());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn descope_errors_mask_the_management_key_in_every_encoding() {
        const KEY: &str = "mgmt\"Key\\with-Quotes-0123456789";
        const PROJECT: &str = "P2maskingproject";
        let spec = |base: &str| {
            format!(
                "version: 1\napps:\n  github:\n    base_url: {base}/api\n    actions:\n      ME: {{method: GET, path: /user}}\nauth:\n  github:\n    descope: {{app_id: github, user_id: u-1}}\nsteps:\n  - action: ME\n"
            )
        };
        let mut bodies: Vec<ResponseTemplate> = vec![
            json_reply(
                401,
                json!({"errorCode": "E011003", "errorDescription": format!("bad key {KEY}")}),
            ),
            json_reply(
                401,
                json!({"errorMessage": format!("Bearer {PROJECT}:{KEY}")}),
            ),
            json_reply(
                500,
                json!({"unexpected": {"auth": format!("{PROJECT}:{KEY}")}}),
            ),
        ];
        for form in forms(KEY) {
            bodies.push(
                ResponseTemplate::new(401).set_body_string(format!("key {form} is not valid")),
            );
        }
        for body in bodies {
            let server = Server::build()
                .reply("POST", body)
                .reply("GET", json_reply(200, json!({})))
                .start()
                .await;
            let ws = Workspace::new().file("main.yaml", &spec(&server.uri()));
            for output in ["text", "json"] {
                let out = ws
                    .runner(["apply", "main.yaml", "--no-journal", "--output", output])
                    .env("DESCOPE_PROJECT_ID", PROJECT)
                    .env("DESCOPE_MANAGEMENT_KEY", KEY)
                    .env("DESCOPE_BASE_URL", server.uri())
                    .await
                    .code(1);
                assert!(out.all().contains("descope answered"), "{out:?}");
                assert_clean(&out, &[KEY]);
            }
        }
    }
}

// ===================================================================== exit2

/// Exit 2 means nothing was sent: what would fail mid-run is refused
/// before the first request, or runs and fails that step (exit 1).
mod exit2 {
    use super::*;

    /// The API: a POST that must never be sent by a run that exits 2,
    /// then `later`, a step that uses its response; `extra` goes before
    /// `steps:` (auth, vars).
    fn spec(base: &str, extra: &str, later: &str) -> String {
        format!(
            r#"version: 1
apps:
  api:
    base_url: {base}
    retry: {{attempts: 1}}
    actions:
      CREATE:
        method: POST
        path: /things
        params:
          name: {{type: string}}
      SHOW:
        method: GET
        path: /things/{{id}}
        params:
          id: {{type: string, required: true}}
          note: {{type: string}}
      ISSUE:
        method: POST
        path: /repos/{{owner}}/{{repo}}/issues
        params:
          owner: {{type: string, required: true}}
          repo: {{type: string, required: true}}
          labels: {{type: array}}
          settings: {{type: object}}
          title: {{type: string}}
{extra}steps:
  - {{id: one, action: CREATE, params: {{name: first}}}}
{later}"#
        )
    }

    async fn api() -> Server {
        Server::build()
            .reply(
                "POST /things",
                json_reply(
                    201,
                    json!({"id": "t-1", "name": "x", "n": 3, "items": ["a"]}),
                ),
            )
            .reply("GET", json_reply(200, json!({})))
            .reply("POST", json_reply(201, json!({})))
            .start()
            .await
    }

    /// `validate`, `plan` and `apply` all refuse `text` with exit 2 and
    /// `expected` in their message; `apply` sends nothing.
    async fn refused(server: &Server, text: &str, env: &[(&str, &str)], expected: &str) {
        let ws = Workspace::new().file("main.yaml", text);
        for command in ["validate", "plan", "apply"] {
            let mut cmd = ws.runner([command, "main.yaml"]);
            for (k, v) in env {
                cmd = cmd.env(k, v);
            }
            let out = cmd.await.code_for(2, format_args!("{command}: {text}"));
            assert!(
                out.stderr.contains(expected),
                "{command}: expected `{expected}`:\n{text}\n{out:?}"
            );
            assert!(server.received().await.is_empty(), "{command}: {out:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn env_that_cannot_be_resolved_statically_is_refused_by_validate() {
        let server = api().await;
        let base = server.uri();
        let later =
            |value: &str| format!("  - {{id: two, action: SHOW, params: {{id: '{value}'}}}}\n");
        let auth = |value: &str| {
            format!(
                "auth:\n  api:\n    parameters:\n      - {{name: X-Key, in: header, value: '{value}'}}\n"
            )
        };
        let vars = "vars:\n  which: SECRET_NAME\n";
        let cases = [
            spec(&base, vars, &later("{{ env[vars.which] }}")),
            spec(&base, vars, &later(r#"{{ env["SECRET" ~ "_NAME"] }}"#)),
            spec(&base, vars, &later("{% for k in env %}{{ k }}{% endfor %}")),
            spec(&base, vars, &later(r#"{{ env | list | join("-") }}"#)),
            spec(&base, vars, &later("{% set e = env %}{{ e.SECRET_NAME }}")),
            spec(&base, vars, &later("{{ (env | items | first)[1] }}")),
            spec(
                &base,
                &format!("{vars}{}", auth("{{ env[vars.which] }}")),
                &later("x"),
            ),
            spec(
                &base,
                "vars:\n  which: SECRET_NAME\n  picked: \"{{ env[vars.which] }}\"\n",
                &later("{{ vars.picked }}"),
            ),
            spec(
                &base,
                vars,
                "  - id: two\n    action: SHOW\n    params: {id: x}\n    auth:\n      parameters:\n        - {name: X-Key, in: header, value: \"{{ env[steps.one.response.name] }}\"}\n",
            ),
        ];
        for text in cases {
            // Whether or not the variable it would pick is set.
            refused(&server, &text, &[], "`env` can only be read by name here").await;
            refused(
                &server,
                &text,
                &[("SECRET_NAME", "value-0123456789")],
                "`env` can only be read by name here",
            )
            .await;
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unknown_filters_tests_and_functions_are_refused_wherever_they_are() {
        let server = api().await;
        let base = server.uri();
        let show = |value: &str| {
            format!("  - {{id: two, action: SHOW, params: {{id: x, note: \"{value}\"}}}}\n")
        };
        let cases = [
            (show("{{ steps.one.response.name | shout }}"), "unknown filter `shout`"),
            (show("{{ steps.one.response.name | upper | shout | lower }}"), "unknown filter `shout`"),
            (show("{{ steps.one.response.name | uper }}"), "unknown filter `uper` (did you mean `upper`?)"),
            (show("{% if steps.one.response.n is oddd %}x{% endif %}"), "unknown test `oddd`"),
            (show("{% if steps.one.response.n is not oddd %}x{% endif %}"), "unknown test `oddd`"),
            (show("{{ steps.one.response.items | select('loud') | list }}"), "unknown test `loud`"),
            (show("{{ steps.one.response.items | map('shout') | join(',') }}"), "unknown filter `shout`"),
            (show("{% filter shout %}{{ steps.one.response.name }}{% endfilter %}"), "unknown filter `shout`"),
            (show("{% for i in steps.one.response.items %}{{ i | shout }}{% endfor %}"), "unknown filter `shout`"),
            (show("{{ shout(steps.one.response.name) }}"), "unknown variable `shout`"),
            (
                "  - id: two\n    action: SHOW\n    params: {id: x}\n    auth:\n      parameters:\n        - {name: X-Key, in: header, value: \"{{ steps.one.response.name | shout }}\"}\n".to_string(),
                "unknown filter `shout`",
            ),
            (
                "  - id: two\n    action: SHOW\n    params: {id: x}\n    auth:\n      base_url: \"{{ steps.one.response.name | shout }}\"\n".to_string(),
                "unknown filter `shout`",
            ),
        ];
        for (later, expected) in cases {
            refused(&server, &spec(&base, "", &later), &[], expected).await;
        }
        // In a var, and in app-level auth, too.
        let vars = "vars:\n  loud: \"{{ 'x' | shout }}\"\n";
        refused(
            &server,
            &spec(&base, vars, ""),
            &[],
            "unknown filter `shout`",
        )
        .await;
        let auth = "auth:\n  api:\n    parameters:\n      - {name: X-Key, in: header, value: \"{{ env.KEY is oddd }}\"}\n";
        refused(
            &server,
            &spec(&base, auth, ""),
            &[("KEY", "k-0123456789")],
            "unknown test `oddd`",
        )
        .await;
    }

    /// A second server the auth `base_url` may point at.
    async fn other() -> Server {
        Server::build()
            .reply("GET", json_reply(200, json!({"there": true})))
            .start()
            .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_auth_base_url_from_an_earlier_response_runs_and_fails_only_its_step() {
        let b = other().await;
        let later = "  - id: two\n    action: SHOW\n    params: {id: t-1}\n    auth:\n      base_url: \"{{ steps.one.response.api }}\"\n      parameters:\n        - {name: Authorization, in: header, value: \"Bearer {{ env.TOKEN }}\"}\n";
        for (api, code) in [
            (b.uri(), 0),
            (format!("ftp://127.0.0.1:{}", b.port()), 1),
            ("not a url".to_string(), 1),
            (format!("{}:99999", b.uri().rsplit_once(':').unwrap().0), 1),
        ] {
            let a = Server::build()
                .reply(
                    "POST /things",
                    json_reply(201, json!({"id": "t-1", "api": api})),
                )
                .start()
                .await;
            b.reset().await;
            b.reply("GET", json_reply(200, json!({"there": true})))
                .await;
            let ws = Workspace::new().file("main.yaml", &spec(&a.uri(), "", later));
            ws.runner(["validate", "main.yaml"]).await.code(0);
            ws.runner(["plan", "main.yaml"])
                .env("TOKEN", "tok-Later0123456789")
                .await
                .code(0);
            let out = ws
                .runner(["apply", "main.yaml", "--output", "json"])
                .env("TOKEN", "tok-Later0123456789")
                .await
                .code_for(code, format_args!("{api}"));
            assert_eq!(a.requests().await, ["POST /things"], "{api}: {out:?}");
            let recs = records(&ws.read(".runner/main.yaml.jsonl"));
            if code == 0 {
                assert_eq!(b.requests().await, ["GET /things/t-1"]);
                let got = &b.received().await[0];
                assert_eq!(
                    got.headers.get("authorization").unwrap(),
                    "Bearer tok-Later0123456789"
                );
                assert_eq!(out.step(1)["response"], json!({"there": true}));
            } else {
                assert!(b.received().await.is_empty(), "{api}: {out:?}");
                assert_eq!(out.step(0)["status"], json!("ok"));
                assert_eq!(out.step(1)["status"], json!("failed"));
                assert!(!out.step_error(1).is_empty(), "{out:?}");
                // It was never sent: no `started` record for it.
                assert_eq!(recs.len(), 2, "{recs:?}");
            }
            assert_clean(&out, &["tok-Later0123456789"]);
        }
    }

    /// `ISSUE` for `owner`, the first of `repos`, with `repos` as labels
    /// and `settings` as they are.
    const ISSUE: &str = "  - id: issue\n    action: ISSUE\n    params: {owner: \"{{ vars.owner }}\", repo: \"{{ vars.repos[0] }}\", labels: \"{{ vars.repos }}\", settings: \"{{ vars.settings }}\"}\n";
    const VARS: &str = "vars:\n  owner: acme\n  repos: [alpha, beta]\n  settings: {draft: false}\n";

    #[tokio::test(flavor = "multi_thread")]
    async fn var_overrides_of_lists_and_mappings_are_yaml_of_that_shape() {
        let server = api().await;
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri(), VARS, ISSUE));
        for (args, path, body) in [
            (
                vec!["--var", r#"repos=["a","b"]"#],
                "/repos/acme/a/issues",
                json!({"labels": ["a", "b"], "settings": {"draft": false}}),
            ),
            (
                vec!["--var", "repos=[a, b]"],
                "/repos/acme/a/issues",
                json!({"labels": ["a", "b"], "settings": {"draft": false}}),
            ),
            (
                vec!["--var", "repos=- c\n- d"],
                "/repos/acme/c/issues",
                json!({"labels": ["c", "d"], "settings": {"draft": false}}),
            ),
            (
                vec!["--var", "settings={draft: true, labels: [x]}"],
                "/repos/acme/alpha/issues",
                json!({"labels": ["alpha", "beta"], "settings": {"draft": true, "labels": ["x"]}}),
            ),
            // A text var stays text, whatever it looks like.
            (
                vec!["--var", "owner=[x]"],
                "/repos/%5Bx%5D/alpha/issues",
                json!({"labels": ["alpha", "beta"], "settings": {"draft": false}}),
            ),
        ] {
            server.reset().await;
            server.reply("POST", json_reply(201, json!({}))).await;
            let out = ws
                .runner(["apply", "main.yaml", "--no-journal"])
                .args(&args)
                .await
                .code_for(0, format_args!("{args:?}"));
            let reqs = server.received().await;
            assert_eq!(reqs.len(), 2, "{args:?}: {out:?}");
            assert_eq!(reqs[1].url.path(), path, "{args:?}");
            assert_eq!(
                serde_json::from_slice::<Value>(&reqs[1].body).unwrap(),
                body,
                "{args:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn var_overrides_of_the_wrong_shape_are_refused() {
        // Used where any text would do: nothing else would stop the run.
        let issue = "  - id: issue\n    action: ISSUE\n    params: {owner: \"{{ vars.owner }}\", repo: \"{{ vars.repos[0] }}\", title: \"{{ vars.settings | tojson }}\"}\n";
        let server = api().await;
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri(), VARS, issue));
        ws.runner(["apply", "main.yaml", "--no-journal"])
            .await
            .code(0);
        server.reset().await;
        for (arg, expected) in [
            (
                "repos=a",
                "var `repos` is a list in the spec, so its value must be a list in YAML",
            ),
            ("repos=a,b", "var `repos` is a list in the spec"),
            ("repos={a: 1}", "var `repos` is a list in the spec"),
            ("repos=[unclosed", "var `repos` is a list in the spec"),
            ("repos=", "var `repos` is a list in the spec"),
            (
                "settings=[1]",
                "var `settings` is a mapping in the spec, so its value must be a mapping in YAML",
            ),
            ("settings=draft", "var `settings` is a mapping in the spec"),
        ] {
            for command in ["plan", "apply"] {
                let out = ws
                    .runner([command, "main.yaml", "--var", arg])
                    .await
                    .code_for(2, format_args!("{command} {arg}"));
                assert!(out.stderr.contains(expected), "{command} {arg}: {out:?}");
            }
            assert!(server.received().await.is_empty(), "{arg}");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_base_url_override_for_an_unknown_app_is_refused() {
        let server = api().await;
        let other = other().await;
        let ws = Workspace::new().file("main.yaml", &two_apps(&server.uri()));
        for (arg, expected) in [
            (
                format!("gihub={}", other.uri()),
                "`--base-url gihub=...` names no app of the spec (did you mean `github`?)",
            ),
            (
                format!("API={}", other.uri()),
                "`--base-url API=...` names no app of the spec",
            ),
            (
                format!("nope={}", other.uri()),
                "`--base-url nope=...` names no app of the spec; its apps are `api`, `github`",
            ),
        ] {
            for command in ["plan", "apply"] {
                let out = ws
                    .runner([command, "main.yaml", "--base-url", &arg])
                    .await
                    .code_for(2, format_args!("{command} {arg}"));
                assert!(out.stderr.contains(expected), "{command} {arg}: {out:?}");
            }
        }
        assert!(server.received().await.is_empty());
        assert!(other.received().await.is_empty());
        // The right name is taken.
        let arg = format!("github={}", other.uri());
        ws.runner(["apply", "main.yaml", "--base-url", &arg])
            .await
            .code(0);
        assert_eq!(other.requests().await, ["GET /x"]);
    }

    /// Two apps, `api` and `github`, both at `base`; one step on `github`.
    fn two_apps(base: &str) -> String {
        format!(
            "version: 1\napps:\n  api:\n    base_url: {base}\n    actions:\n      A: {{method: GET, path: /a}}\n  github:\n    base_url: {base}\n    actions:\n      GH: {{method: GET, path: /x}}\nsteps:\n  - action: GH\n"
        )
    }
}

// ===================================================================== reach

/// Credentials reach only where they are allowed: never through a proxy
/// for a loopback target, never over plain http to an address that is not
/// loopback whatever name it has, never to a Descope that TLS did not check.
mod reach {
    use super::*;

    const TOKEN: &str = "tok-Reach-0123456789abcdef";

    fn spec(base: &str) -> String {
        format!(
            "version: 1\napps:\n  api:\n    base_url: {base}\n    retry: {{attempts: 1}}\n    actions:\n      ME: {{method: GET, path: /me}}\nauth:\n  api:\n    parameters:\n      - {{name: Authorization, in: header, value: \"Bearer {{{{ env.TOKEN }}}}\"}}\nsteps:\n  - action: ME\n"
        )
    }

    /// A server that answers everything: as a proxy, it would relay.
    async fn anything() -> Server {
        Server::build()
            .reply("", json_reply(200, json!({})))
            .start()
            .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn loopback_targets_are_never_proxied() {
        let proxy = anything().await;
        let api = anything().await;
        for host in ["127.0.0.1", "localhost"] {
            let ws =
                Workspace::new().file("main.yaml", &spec(&format!("http://{host}:{}", api.port())));
            for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
                api.reset().await;
                api.reply("", json_reply(200, json!({}))).await;
                ws.runner(["apply", "main.yaml", "--no-journal"])
                    .env("TOKEN", TOKEN)
                    .env(var, proxy.uri())
                    .await
                    .code_for(0, format_args!("{host} {var}"));
                assert!(
                    proxy.received().await.is_empty(),
                    "{host} {var}: the proxy got it"
                );
                let got = api.received().await;
                assert_eq!(got.len(), 1, "{host} {var}");
                assert_eq!(
                    got[0].headers.get("authorization").unwrap(),
                    &format!("Bearer {TOKEN}")
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_descope_key_never_goes_through_a_proxy_to_a_loopback_descope() {
        let proxy = anything().await;
        let server = Server::build()
            .reply(
                "POST",
                json_reply(
                    200,
                    json!({"token": {"accessToken": "tok-Descope-0123456789"}}),
                ),
            )
            .reply("GET", json_reply(200, json!({})))
            .start()
            .await;
        let text = format!(
            "version: 1\napps:\n  github:\n    base_url: {}/api\n    actions:\n      ME: {{method: GET, path: /user}}\nauth:\n  github:\n    descope: {{app_id: github, user_id: u-1}}\nsteps:\n  - action: ME\n",
            server.uri()
        );
        let ws = Workspace::new().file("main.yaml", &text);
        for var in ["HTTP_PROXY", "ALL_PROXY"] {
            server.reset().await;
            server
                .reply(
                    "POST",
                    json_reply(
                        200,
                        json!({"token": {"accessToken": "tok-Descope-0123456789"}}),
                    ),
                )
                .await;
            server.reply("GET", json_reply(200, json!({}))).await;
            let out = ws
                .runner(["apply", "main.yaml", "--no-journal"])
                .env("DESCOPE_PROJECT_ID", "P2reach")
                .env("DESCOPE_MANAGEMENT_KEY", "mgmt-Reach-0123456789")
                .env("DESCOPE_BASE_URL", server.uri())
                .env(var, proxy.uri())
                .await
                .code_for(0, format_args!("{var}"));
            assert!(proxy.received().await.is_empty(), "{var}: the proxy got it");
            assert_eq!(
                server.requests().await,
                [
                    "POST /v1/mgmt/outbound/app/user/token/latest",
                    "GET /api/user"
                ]
            );
            assert_clean(&out, &["mgmt-Reach-0123456789", "tok-Descope-0123456789"]);
        }
    }

    /// Addresses that are not loopback, but that a connection to never
    /// leaves this machine: a wrong refusal cannot send anything anywhere.
    const NOT_LOOPBACK: &[&str] = &["0.0.0.0", "[::]"];

    #[tokio::test(flavor = "multi_thread")]
    async fn a_resolve_override_is_judged_by_the_address_connected_to() {
        let api = anything().await;
        let port = api.port();
        let ws = Workspace::new().file("main.yaml", &spec(&format!("http://localhost:{port}")));
        for addr in NOT_LOOPBACK {
            let resolve = format!("localhost:{port}:{addr}");
            let out = ws
                .runner(["apply", "main.yaml", "--no-journal", "--resolve", &resolve])
                .env("TOKEN", TOKEN)
                .await
                .code_for(2, format_args!("{resolve}"));
            assert!(
                out.stderr
                    .contains("refusing to send credentials over plain http to `localhost`"),
                "{resolve}: {out:?}"
            );
            assert!(api.received().await.is_empty(), "{resolve}");
        }
        // `--allow-http` says yes (0.0.0.0 reaches the server on 127.0.0.1).
        let resolve = format!("localhost:{port}:0.0.0.0");
        ws.runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "--resolve",
            &resolve,
            "--allow-http",
        ])
        .env("TOKEN", TOKEN)
        .await
        .code_for(0, format_args!("{resolve}"));
        api.reset().await;
        api.reply("", json_reply(200, json!({}))).await;
        // An override for another port does not apply, and one to
        // loopback is loopback.
        for resolve in [
            format!("localhost:{}:0.0.0.0", port.wrapping_add(1)),
            format!("localhost:{port}:127.0.0.1"),
        ] {
            ws.runner(["apply", "main.yaml", "--no-journal", "--resolve", &resolve])
                .env("TOKEN", TOKEN)
                .await
                .code_for(0, format_args!("{resolve}"));
        }
        assert_eq!(api.received().await.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_public_name_pointed_at_loopback_still_needs_allow_http() {
        let api = anything().await;
        let port = api.port();
        let ws = Workspace::new().file(
            "main.yaml",
            &spec(&format!("http://api.example.test:{port}")),
        );
        let resolve = format!("api.example.test:{port}:127.0.0.1");
        let out = ws
            .runner(["apply", "main.yaml", "--no-journal", "--resolve", &resolve])
            .env("TOKEN", TOKEN)
            .await
            .code(2);
        assert!(
            out.stderr
                .contains("refusing to send credentials over plain http to `api.example.test`"),
            "{out:?}"
        );
        assert!(api.received().await.is_empty());
        ws.runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "--resolve",
            &resolve,
            "--allow-http",
        ])
        .env("TOKEN", TOKEN)
        .await
        .code(0);
        assert_eq!(api.received().await.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_resolve_override_for_descope_is_judged_by_its_address_too() {
        let server = anything().await;
        let port = server.port();
        let text = "version: 1\napps:\n  github:\n    base_url: https://api.example.com\n    actions:\n      ME: {method: GET, path: /user}\nauth:\n  github:\n    descope: {app_id: github, user_id: u-1}\nsteps:\n  - action: ME\n";
        let ws = Workspace::new().file("main.yaml", text);
        for addr in NOT_LOOPBACK {
            let resolve = format!("localhost:{port}:{addr}");
            let out = ws
                .runner(["apply", "main.yaml", "--no-journal", "--resolve", &resolve])
                .env("DESCOPE_PROJECT_ID", "P2reach")
                .env("DESCOPE_MANAGEMENT_KEY", "mgmt-Reach-0123456789")
                .env("DESCOPE_BASE_URL", format!("http://localhost:{port}"))
                .await
                .code_for(2, format_args!("{resolve}"));
            assert!(
                out.stderr.contains(
                    "descope: refusing to send credentials over plain http to `localhost`"
                ),
                "{resolve}: {out:?}"
            );
            assert!(server.received().await.is_empty());
            assert_clean(&out, &["mgmt-Reach-0123456789"]);
        }
    }

    // --------------------------------------------------------- Descope's TLS

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

    /// Descope over HTTPS on 127.0.0.1 (`localhost`), with a certificate of
    /// the test CA: answers every request it can read with a token, and
    /// counts them. A client that does not trust the CA never gets one.
    async fn descope_over_tls() -> (u16, std::sync::Arc<AtomicUsize>) {
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls::{self, pki_types::pem::PemObject};
        let certs =
            rustls::pki_types::CertificateDer::pem_file_iter(format!("{FIXTURES}/server.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(format!("{FIXTURES}/server.key"))
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    // The head, then as much body as it announces.
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let body = br#"{"token":{"accessToken":"tok-OverTls-0123456789"}}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (port, served)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn descope_tls_is_verified_even_with_insecure_and_honours_cacert() {
        let (port, served) = descope_over_tls().await;
        let api = anything().await;
        let text = format!(
            "version: 1\napps:\n  github:\n    base_url: {}/api\n    actions:\n      ME: {{method: GET, path: /user}}\nauth:\n  github:\n    descope: {{app_id: github, user_id: u-1}}\nsteps:\n  - action: ME\n",
            api.uri()
        );
        let ws = Workspace::new().file("main.yaml", &text);
        let cacert = format!("{FIXTURES}/ca.pem");
        for (args, code, fetched) in [
            (vec!["--insecure"], 1, 0),
            (vec![], 1, 0),
            (vec!["--cacert", &cacert], 0, 1),
            (vec!["--cacert", &cacert, "--insecure"], 0, 1),
        ] {
            served.store(0, Ordering::SeqCst);
            api.reset().await;
            api.reply("", json_reply(200, json!({}))).await;
            let out = ws
                .runner(["apply", "main.yaml", "--no-journal"])
                .args(&args)
                .env("DESCOPE_PROJECT_ID", "P2reach")
                .env("DESCOPE_MANAGEMENT_KEY", "mgmt-Reach-0123456789")
                .env("DESCOPE_BASE_URL", format!("https://localhost:{port}"))
                .await
                .code_for(code, format_args!("{args:?}"));
            assert_eq!(served.load(Ordering::SeqCst), fetched, "{args:?}: {out:?}");
            let sent = api.received().await;
            if code == 0 {
                assert_eq!(sent.len(), 1, "{args:?}");
                assert_eq!(
                    sent[0].headers.get("authorization").unwrap(),
                    "Bearer tok-OverTls-0123456789"
                );
            } else {
                assert!(sent.is_empty(), "{args:?}: {out:?}");
                assert!(out.stdout.contains("certificate"), "{args:?}: {out:?}");
            }
            assert_clean(&out, &["mgmt-Reach-0123456789", "tok-OverTls-0123456789"]);
        }
    }
}

// =================================================================== bounded

/// Hostile input is refused quickly and within memory; what the runner
/// promises about its output holds even when it stops itself.
mod bounded {
    use super::*;
    use std::time::Instant;

    /// Runs `cmd`, killing it if it has not ended within `limit`: `None`
    /// then. (A runner that takes longer has already failed the test.)
    async fn within(cmd: crate::harness::Cmd, limit: Duration) -> Option<Run> {
        let running = cmd.spawn();
        let pid = running.id();
        let waiting = tokio::spawn(running.wait());
        match tokio::time::timeout(limit, waiting).await {
            Ok(done) => Some(done.expect("join")),
            Err(_) => {
                kill9(pid);
                None
            }
        }
    }

    /// A spec that is fine but for `vars.deep`, and an app at `base`.
    fn with_var(base: &str, deep: &str) -> String {
        format!(
            "version: 1\napps:\n  api:\n    base_url: {base}\n    actions:\n      ME: {{method: GET, path: /me}}\nvars:\n  deep: {deep}\nsteps:\n  - action: ME\n"
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn deep_nesting_is_refused_at_once_at_any_size() {
        let server = Server::start().await;
        let base = server.uri();
        let depth = |open: &str, n: usize| open.repeat(n);
        let size_limit = 8 << 20;
        let head = with_var(&base, "");
        let cases = [
            // 64 KiB of `[` took 10 s before.
            ("64 KiB", with_var(&base, &depth("[", 64 << 10))),
            ("129 lists", with_var(&base, &depth("[", 129))),
            // Behind a tag or an anchor, which the parser reads first.
            (
                "after a tag",
                with_var(&base, &format!("!!seq {}", depth("[", 64 << 10))),
            ),
            (
                "after an anchor",
                with_var(&base, &format!("&deep {}", depth("[", 64 << 10))),
            ),
            (
                "after both",
                with_var(&base, &format!("&deep !!map {}", depth("{a: ", 16 << 10))),
            ),
            (
                "129 mappings",
                with_var(&base, &format!("{}x", depth("{a: ", 129))),
            ),
            ("lists and mappings", with_var(&base, &depth("[{a: ", 65))),
            (
                "closed again",
                with_var(&base, &format!("{}{}", depth("[", 200), depth("]", 200))),
            ),
            (
                "the largest spec read",
                with_var(&base, &depth("[", size_limit - head.len() - 16)),
            ),
            (
                "in a step's params",
                format!(
                    "version: 1\napps:\n  api:\n    base_url: {base}\n    actions:\n      ME: {{method: GET, path: /me, params: {{q: {{type: array}}}}}}\nsteps:\n  - action: ME\n    params:\n      q: {}\n",
                    depth("[", 1000)
                ),
            ),
        ];
        for (what, text) in cases {
            assert!(text.len() <= size_limit, "{what}");
            let ws = Workspace::new().file("main.yaml", &text);
            for command in ["validate", "plan", "apply"] {
                let started = Instant::now();
                let out = within(ws.runner([command, "main.yaml"]), Duration::from_secs(3))
                    .await
                    .unwrap_or_else(|| panic!("{command} on {what} still ran after 3 s"))
                    .code_for(2, format_args!("{command} {what}"));
                assert!(
                    out.stderr.contains("nests deeper than 128 levels"),
                    "{command} {what}: {out:?}"
                );
                let took = started.elapsed();
                assert!(
                    took < Duration::from_secs(1),
                    "{command} {what}: took {took:?}"
                );
                // The document is not echoed back.
                assert!(
                    out.stderr.len() < 4096,
                    "{command} {what}: {} bytes",
                    out.stderr.len()
                );
            }
        }
        assert!(server.received().await.is_empty());
        // In an included file, which is named.
        let ws = Workspace::new()
            .file(
                "deep.yaml",
                &format!("version: 1\nvars:\n  x: {}\n", depth("[", 5000)),
            )
            .file(
                "main.yaml",
                &with_var(&base, "1").replace("version: 1\n", "version: 1\ninclude: [deep.yaml]\n"),
            );
        let out = ws.runner(["validate", "main.yaml"]).await.code(2);
        assert!(
            out.stderr
                .contains("error: the document nests deeper than 128 levels\n  --> deep.yaml:3:"),
            "{out:?}"
        );
        // Nesting that stays within the limit is fine.
        let ws = Workspace::new().file(
            "main.yaml",
            &with_var(&base, &format!("{}{}", depth("[", 100), depth("]", 100))),
        );
        ws.runner(["validate", "main.yaml"]).await.code(0);
    }

    /// The binary under test with `args`, run in `dir` with its address
    /// space capped at 1 GiB (through `sh`'s `ulimit`), so that a runner
    /// reading without limit fails at once instead of taking the machine's
    /// memory.
    fn capped(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
            .arg(crate::harness::binary())
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::null());
        cmd
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn env_files_are_read_up_to_1_mib_and_pipes_work() {
        let server = Server::build()
            .reply("GET", json_reply(200, json!({})))
            .start()
            .await;
        let spec = format!(
            "version: 1\napps:\n  api:\n    base_url: {}\n    actions:\n      ME: {{method: GET, path: /me}}\nauth:\n  api:\n    parameters:\n      - {{name: X-Key, in: header, value: \"{{{{ env.KEY }}}}\"}}\nsteps:\n  - action: ME\n",
            server.uri()
        );
        let padding = |bytes: usize| format!("# {}\n", "p".repeat(bytes - 3));
        let ws = Workspace::new()
            .file("main.yaml", &spec)
            .file(
                "big.env",
                &format!("{}KEY=k-TooLate-0123456789\n", padding(1 << 20)),
            )
            .file(
                "fits.env",
                &format!("{}KEY=k-JustFits-0123456789\n", padding((1 << 20) - 64)),
            );
        let dir = ws.write(".probe", "").parent().unwrap().to_path_buf();

        // `/dev/zero` never ends: the runner must stop reading by itself.
        let started = Instant::now();
        let out = tokio::task::spawn_blocking(move || {
            capped(
                &dir,
                &[
                    "apply",
                    "main.yaml",
                    "--no-journal",
                    "--env-file",
                    "/dev/zero",
                ],
            )
            .output()
            .expect("run")
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("cannot read env file `/dev/zero`: larger than 1 MiB"),
            "{stderr}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));

        for (file, code) in [("big.env", 2), ("fits.env", 0)] {
            ws.runner(["apply", "main.yaml", "--no-journal", "--env-file", file])
                .await
                .code_for(code, format_args!("{file}"));
        }
        let got = server.received().await;
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].headers.get("x-key").unwrap(),
            "k-JustFits-0123456789"
        );

        // A pipe (`--env-file <(op inject ...)`) is read like a file.
        ws.runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "--env-file",
            "/dev/stdin",
        ])
        .stdin("KEY=k-FromAPipe-0123456789\n")
        .await
        .code(0);
        let got = server.received().await;
        assert_eq!(
            got[1].headers.get("x-key").unwrap(),
            "k-FromAPipe-0123456789"
        );
        ws.runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "--env-file",
            "/dev/stdin",
        ])
        .stdin(vec![b'#'; 3 << 20])
        .await
        .code(2)
        .stderr_has("larger than 1 MiB");
        assert_eq!(server.received().await.len(), 2);
    }

    /// Renders for longer than the 2 s the watchdog allows.
    const SLOW: &str = "{{ 1 in [0] * 100000000 }}";

    #[tokio::test(flavor = "multi_thread")]
    async fn a_run_stopped_by_the_template_watchdog_still_prints_one_json_document() {
        let server = Server::build()
            .reply("", json_reply(200, json!({})))
            .start()
            .await;
        let spec = |steps: &str| {
            format!(
                "version: 1\napps:\n  api:\n    base_url: {}\n    actions:\n      START: {{method: POST, path: /start}}\n      NEXT: {{method: GET, path: /next, params: {{q: {{type: string}}}}}}\nsteps:\n{steps}",
                server.uri()
            )
        };
        // Slow in a step's param, and in a var. Templates are compiled
        // (and their constants folded, which fuel does not meter) before
        // anything is sent.
        let param = Workspace::new().file(
            "main.yaml",
            &spec(&format!("  - {{id: start, action: START}}\n  - {{action: NEXT, params: {{q: \"{SLOW}\"}}}}\n")),
        );
        let var = Workspace::new().file(
            "main.yaml",
            &spec("  - {id: start, action: START}\n")
                .replace("steps:\n", &format!("vars:\n  slow: \"{SLOW}\"\nsteps:\n")),
        );
        let runs = tokio::join!(
            param
                .runner(["plan", "main.yaml", "--output", "json"])
                .into_future(),
            param
                .runner(["apply", "main.yaml", "--output", "json"])
                .into_future(),
            var.runner(["apply", "main.yaml", "--output", "json"])
                .into_future(),
        );
        for (what, out) in [
            ("plan", runs.0),
            ("apply, slow param", runs.1),
            ("apply, slow var", runs.2),
        ] {
            let out = out.code_for(2, what);
            let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
                panic!("{what}: stdout is not one JSON document ({e}): {out:?}")
            });
            assert_eq!(doc["ok"], json!(false), "{what}: {out:?}");
            assert!(
                doc["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("took longer than 2 s"),
                "{what}: {out:?}"
            );
            assert!(
                out.stderr.contains("took longer than 2 s"),
                "{what}: {out:?}"
            );
        }
        assert!(server.received().await.is_empty());
    }

    #[test]
    fn literal_credentials_are_found_inside_templates_and_in_vars_used_by_auth() {
        const GH: &str = "ghp_LiteralInTemplate0123456789abcd";
        const SLACK: &str = "xoxb-1234567890-LiteralSlackToken";
        let spec = |vars: &str, auth: &str| {
            format!(
                "version: 1\napps:\n  api:\n    base_url: https://api.example.com\n    actions:\n      ME: {{method: POST, path: /me}}\n{vars}auth:\n  api:\n{auth}steps:\n  - {{id: me, action: ME}}\n"
            )
        };
        let param = |value: &str| {
            format!(
                "    parameters:\n      - {{name: Authorization, in: header, value: '{value}'}}\n"
            )
        };
        let cases = [
            (
                spec("", &param(&format!("{{{{ \"{GH}\" }}}}"))),
                "auth parameter `Authorization` holds a literal credential (it starts like a GitHub token, `ghp_`)",
            ),
            (
                spec("", &param(&format!("Bearer {{{{ \"{GH}\" | trim }}}}"))),
                "auth parameter `Authorization` holds a literal credential",
            ),
            (
                spec("", &param(&format!("{GH}{{{{ \"\" }}}}"))),
                "auth parameter `Authorization` holds a literal credential",
            ),
            (
                spec("", &param(&format!("{{% if true %}}{SLACK}{{% endif %}}"))),
                "auth parameter `Authorization` holds a literal credential (it starts like a Slack bot token, `xoxb-`)",
            ),
            (
                spec(
                    &format!("vars:\n  token: {GH}\n"),
                    &param("Bearer {{ vars.token }}"),
                ),
                "auth parameter `Authorization` uses var `token`, which holds a literal credential",
            ),
            (
                spec(
                    &format!("vars:\n  raw: {GH}\n  token: \"{{{{ vars.raw | trim }}}}\"\n"),
                    &param("Bearer {{ vars.token }}"),
                ),
                "uses var `raw`, which holds a literal credential",
            ),
            (
                spec(
                    &format!("vars:\n  tokens: [{SLACK}]\n"),
                    &param("Bearer {{ vars.tokens[0] }}"),
                ),
                "uses var `tokens`, which holds a literal credential",
            ),
            (
                spec(
                    &format!("vars:\n  secret: \"{{{{ '{GH}' }}}}\"\n"),
                    "    body:\n      client_secret: \"{{ vars.secret }}\"\n",
                ),
                "auth `body` field `client_secret` uses var `secret`, which holds a literal credential",
            ),
            (
                spec(
                    "",
                    &format!("    body:\n      client_secret: \"{{{{ '{GH}' }}}}\"\n"),
                ),
                "auth `body` field `client_secret` holds a literal credential",
            ),
        ];
        for (text, expected) in cases {
            let ws = Workspace::new().file("main.yaml", &text);
            for command in ["validate", "plan", "apply"] {
                let out = ws
                    .runner([command, "main.yaml"])
                    .run()
                    .code_for(2, format_args!("{command}:\n{text}"));
                assert!(
                    out.stderr.contains(expected),
                    "{command}: expected `{expected}`:\n{text}\n{out:?}"
                );
                assert_clean(&out, &[GH, SLACK]);
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_retry_after_too_large_to_count_is_longer_than_any_wait() {
        for (method, status, value) in [
            ("GET", 503, "99999999999999999999999"),
            ("GET", 429, "18446744073709551616"),
            ("POST", 429, "340282366920938463463374607431768211456"),
        ] {
            let server = Server::build()
                .reply(
                    method,
                    ResponseTemplate::new(status).insert_header("Retry-After", value),
                )
                .start()
                .await;
            let spec = format!(
                "version: 1\napps:\n  api:\n    base_url: {}\n    actions:\n      DO: {{method: {method}, path: /thing}}\nsteps:\n  - id: limited\n    action: DO\n    retry: {{attempts: 3, backoff: 10ms}}\n",
                server.uri()
            );
            let ws = Workspace::new().file("main.yaml", &spec);
            let out = ws
                .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
                .await
                .code_for(1, format_args!("{method} {status}"));
            assert_eq!(
                server.received().await.len(),
                1,
                "{method} {status}: retried: {out:?}"
            );
            assert_eq!(out.step(0)["retries"], json!([]));
            assert!(
                out.stderr.contains("warning: steps[0] (limited): not retried: the server asked to wait longer than can be counted before retrying, longer than the 30 s allowed (`retry.max_wait`)"),
                "{method} {status}: {out:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_explicit_content_type_wins_over_the_bodys_default() {
        let server = Server::build()
            .reply("", json_reply(200, json!({})))
            .start()
            .await;
        let spec = format!(
            r#"version: 1
apps:
  api:
    base_url: {}
    headers:
      Content-Type: application/json; charset=utf-8
    actions:
      CREATE: {{method: POST, path: /create, params: {{name: {{type: string}}}}}}
      MERGE:
        method: PATCH
        path: /merge
        params:
          name: {{type: string}}
          Content-Type: {{type: string, in: header, default: application/merge-patch+json}}
  forms:
    base_url: {}
    headers:
      content-type: application/x-www-form-urlencoded; charset=utf-8
    actions:
      SUBMIT: {{method: POST, path: /submit, body_format: form, params: {{name: {{type: string}}}}}}
  plain:
    base_url: {}
    actions:
      SEND: {{method: PUT, path: /send, params: {{name: {{type: string}}}}}}
steps:
  - {{action: CREATE, params: {{name: a}}}}
  - {{action: MERGE, params: {{name: b}}}}
  - {{action: MERGE, params: {{name: c, Content-Type: application/vnd.api+json}}}}
  - {{action: SUBMIT, params: {{name: d}}}}
  - {{action: SEND, params: {{name: e}}}}
"#,
            server.uri(),
            server.uri(),
            server.uri()
        );
        let ws = Workspace::new().file("main.yaml", &spec);
        ws.runner(["apply", "main.yaml", "--no-journal"])
            .await
            .code(0);
        let got = server.received().await;
        let types: Vec<Vec<String>> = got
            .iter()
            .map(|r| {
                r.headers
                    .get_all("content-type")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_string())
                    .collect()
            })
            .collect();
        assert_eq!(
            types,
            [
                vec!["application/json; charset=utf-8"],
                vec!["application/merge-patch+json"],
                vec!["application/vnd.api+json"],
                vec!["application/x-www-form-urlencoded; charset=utf-8"],
                // Without one of its own, the body's type.
                vec!["application/json"],
            ]
        );
        assert_eq!(std::str::from_utf8(&got[3].body).unwrap(), "name=d");
        assert_eq!(
            serde_json::from_slice::<Value>(&got[1].body).unwrap(),
            json!({"name": "b"})
        );
        // `plan` shows the same headers.
        let out = ws.runner(["plan", "main.yaml"]).await.code(0);
        assert_eq!(
            out.stdout
                .matches("Content-Type: application/json; charset=utf-8")
                .count(),
            1,
            "{out:?}"
        );
        assert!(
            !out.stdout
                .contains("Content-Type: application/json\n  | {\n  |   \"name\": \"a\""),
            "{out:?}"
        );
    }
}
