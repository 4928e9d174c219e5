//! Resume matches journal records to steps by key and request, never by
//! position; changed requests are named; one run per journal; journals are
//! never written through a link and are readable by their owner only.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;
use wiremock::matchers::path_regex;

use crate::harness::hold::{HoldFirst, arrival, kill9};
use crate::harness::journal::{JOURNAL, records};
use crate::harness::shop::{CREATED, mount, shop, shop_server};
use crate::harness::{Cmd, Run, Server, Workspace, json_reply};

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

/// `runner apply main.yaml --resume JOURNAL` and `args`.
fn resume(ws: &Workspace, args: &[&str]) -> Cmd {
    ws.runner(["apply", "main.yaml", "--resume", JOURNAL])
        .args(args)
}

/// The shop, its status check failing, and `main.yaml` holding `spec` at
/// its URL, run once (failing at that check); then the server healed.
/// Also what that first run sent.
async fn failed_once(spec: impl Fn(&str) -> String) -> (Server, Workspace, Vec<String>) {
    let server = shop_server(false).await;
    let ws = Workspace::main(&spec(&server.uri()));
    ws.runner(["apply", "main.yaml"]).await.code(1);
    let sent = server.requests().await;
    server.reset().await;
    mount(&server, true).await;
    (server, ws, sent)
}

/// Runs `before` (which must fail at its last step), edits the spec to
/// `after`, fixes the server and resumes: what the resumed run sent
/// must be exactly `resent`, and it must succeed.
async fn resume_after_edit(before: &str, after: &str, resent: &[&str]) -> Run {
    let (server, ws, sent_first) = failed_once(|base| shop(base, before)).await;
    ws.write("main.yaml", &shop(&server.uri(), after));
    let out = resume(&ws, &["--output", "json"]).await;
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
    let after = format!("  - id: audit\n    action: PING\n    params: {{note: audit}}\n{FIRST}");
    let out = resume_after_edit(FIRST, &after, &["GET /ping", "GET /projects/p-17/status"]).await;
    assert_eq!(resumed(&out), ["ping", "project", "item", "rename"]);
    // The only step whose request is new is the one inserted: no
    // warning about any other.
    assert!(!out.stderr.contains("changed"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_without_id_inserted_at_the_top_does_not_resend_completed_posts() {
    let after = format!("  - action: PING\n    params: {{note: audit}}\n{FIRST}");
    let out = resume_after_edit(FIRST, &after, &["GET /ping", "GET /projects/p-17/status"]).await;
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
    let (server, ws, _) = failed_once(|base| shop(base, UNNAMED)).await;
    let after = format!("  - action: CREATE_PROJECT\n    params: {{name: gamma}}\n{UNNAMED}");
    ws.write("main.yaml", &shop(&server.uri(), &after));
    let journal = ws.read(JOURNAL);
    let out = resume(&ws, &[])
        .await
        .code(2)
        .stderr_has("steps[0] (POST) completed in the journalled run, and its request changed since (param `name`)");
    assert!(server.received().await.is_empty(), "{out:?}");
    assert_eq!(ws.read(JOURNAL), journal);
    let out = resume(&ws, &["--rerun-changed"]).await.code(0);
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

/// Runs `FIRST` against the shop, which holds the first `verb` request
/// to a path `path` matches (answering `response` in the end), and kills
/// the runner (SIGKILL) while it waits.
async fn killed_while_held(
    verb: &str,
    path: &str,
    response: ResponseTemplate,
) -> (Server, Workspace, Run) {
    let (hold, mut arrived) = HoldFirst::new(response);
    let server = Server::start().await;
    Server::given(verb)
        .and(path_regex(path))
        .respond_with(hold)
        .mount(&server)
        .await;
    mount(&server, true).await;
    let ws = Workspace::main(&shop(&server.uri(), FIRST));
    let running = ws.runner(["apply", "main.yaml"]).spawn();
    arrival(&mut arrived).await;
    kill9(running.id());
    let out = running.wait().await;
    (server, ws, out)
}

/// Runs `FIRST` with the POST of `item` held by the server, kills the
/// runner (SIGKILL) while it waits, then resumes `after` without and with
/// `--rerun-uncertain`.
async fn killed_mid_post_then(after: &str) {
    let response = json_reply(201, json!({"id": 5}));
    let (server, ws, out) = killed_while_held("POST", "^/projects/p-17/items$", response).await;
    out.code(-1);
    let recs = records(&ws.read(JOURNAL));
    assert_eq!(
        recs.last().map(|r| r["state"].clone()),
        Some(json!("started"))
    );
    let before = server.requests().await;
    assert_eq!(before, FIRST_SENT[..3]);

    ws.write("main.yaml", &shop(&server.uri(), after));
    let journal = ws.read(JOURNAL);
    resume(&ws, &[])
        .await
        .code(2)
        .stderr_has(
            "steps[2] (item) (`ADD_ITEM`, POST) was in flight when the journalled run stopped",
        )
        .stderr_has("--rerun-uncertain");
    assert_eq!(server.requests().await, before, "exit 2 sent something");
    assert_eq!(ws.read(JOURNAL), journal, "exit 2 wrote the journal");

    resume(&ws, &["--rerun-uncertain"]).await.code(0);
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
    let response = json_reply(200, json!({"id": "p-17"}));
    let (server, ws, _) = killed_while_held("PATCH", "^/projects/p-17$", response).await;
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
    resume(&ws, &[]).await.code(2).stderr_has(
        "(rename) (`RENAME_PROJECT`, PATCH) was in flight when the journalled run stopped",
    );
    assert_eq!(server.requests().await, FIRST_SENT[..4]);
    let out = resume(&ws, &["--rerun-uncertain"]).await.code(0);
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
    let after =
        format!("  - id: again\n    action: CREATE_PROJECT\n    params: {{name: demo}}\n{CREATED}");
    let (server, ws, _) = failed_once(|base| shop(base, CREATED)).await;
    ws.write("main.yaml", &shop(&server.uri(), &after));
    let out = resume(&ws, &["--output", "json"]).await.code(0);
    assert_eq!(
        server.requests().await,
        ["POST /projects", "GET /projects/p-17/status"]
    );
    assert_eq!(out.step(0)["resumed"], json!(false), "{out:?}");
    assert_eq!(out.step(1)["resumed"], json!(true), "{out:?}");
}

// ------------------------------------------------- changed since the run

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
    let (server, ws, _) = failed_once(|base| shop(base, CREATED)).await;
    ws.write("main.yaml", &edit(shop(&server.uri(), CREATED)));
    let journal = ws.read(JOURNAL);

    let out = resume(&ws, args).await.code(2);
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

    let out = resume(&ws, &[&["--rerun-changed"], args].concat())
        .await
        .code(0)
        .stderr_has("warning: steps[0] (project): its request changed since the journalled run; running it again");
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

/// [`changed_post_is_refused`] for a spec where `from` became `to`.
async fn edited_post_is_refused(from: &str, to: &str, change: &str) {
    changed_post_is_refused(|s| s.replace(from, to), None, &[], |_| change.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_post_whose_method_changed_in_the_catalog_is_refused() {
    let (from, to) = (
        "method: POST\n        path: /projects\n",
        "method: PATCH\n        path: /projects\n",
    );
    edited_post_is_refused(from, to, "method POST → PATCH").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_post_whose_path_changed_in_the_catalog_is_refused() {
    let change = "path `/projects` → `/v2/projects`";
    edited_post_is_refused("path: /projects\n", "path: /v2/projects\n", change).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_post_given_another_param_is_refused() {
    let to = "params: {name: demo, tag: blue}";
    edited_post_is_refused("params: {name: demo}", to, "param `tag` (added)").await;
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
    let spec = |base: &str| shop(base, steps).replace("steps:\n", "vars:\n  name: first\nsteps:\n");
    let (server, ws, _) = failed_once(spec).await;
    resume(&ws, &["--var", "name=second"])
        .refused(&server, "steps[0] (rename) (PATCH) completed in the journalled run, and its request changed since (param `name`); it is not sent again").await;
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
    let ws = Workspace::main(&spec(&server.uri()));
    ws.runner(["apply", "main.yaml"]).await.code(1);
    assert_eq!(server.received().await.len(), 4);

    // Another base URL for the whole app: every step runs again there.
    let other = shop_server(true).await;
    let base = format!("shop={}", other.uri());
    server.reset().await;
    let out = resume(&ws, &["--base-url", &base]).await.code(0);
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
    let ws = Workspace::main(&spec(&server.uri()));
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
    let out = resume(&ws, &["--var", "reason=gone"]).await.code(0);
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
    let ws = Workspace::main(&shop("https://shop.example.com", steps));
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
    let server = Server::answering("POST /projects", hold).await;
    mount(&server, true).await;
    let ws = Workspace::main(&shop(&server.uri(), CREATED));
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
            .code_for(2, format_args!("{extra:?}"))
            .stderr_has("is in use by another run");
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
    ws.runner(["apply", "main.yaml", "--resume", JOURNAL])
        .await
        .code(2)
        .stderr_has("was in flight")
        .stderr_lacks("in use");
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
    let ws = Workspace::main(&shop(&server.uri(), CREATED)).file("precious.txt", "keep me\n");
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
    let ws = Workspace::main(&shop(&server.uri(), CREATED));
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
