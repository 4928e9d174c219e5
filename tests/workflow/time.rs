//! Time in templates: `now()` is one instant for the whole run, the one
//! a resumed run takes from the journal; `shift`, `parse_time` and
//! `datetimeformat` in params and in an `if` with a cutoff; `plan` shows
//! `now()`'s value.

use serde_json::json;
use wiremock::ResponseTemplate;

use super::{TOKEN, apply_json, records, step, workspace};
use crate::harness::{RequestExt, Server, json_reply};

const JOURNAL: &str = ".runner/main.yaml.jsonl";

#[tokio::test(flavor = "multi_thread")]
async fn now_is_one_instant_for_the_whole_run() {
    let server = Server::build()
        .reply("POST /items", json_reply(201, json!({"id": "i"})))
        .reply("POST /jobs", json_reply(201, json!({"id": "j"})))
        .start()
        .await;
    let rest = r#"vars:
  stamp: "{{ now() }}"
steps:
  - action: CREATE_ITEM
    params: {name: "{{ now() }}", tag: "{{ now() | shift('-7d') }}"}
  - action: START_JOB
    params: {name: "{{ vars.stamp }}"}
"#;
    let before = jiff::Timestamp::now();
    apply_json(&workspace(&server.uri(), rest), &[])
        .await
        .code(0);
    let after = jiff::Timestamp::now();
    let bodies = server.each_received(|r| r.json()).await;
    let sent = bodies[0]["name"].as_str().expect("a text").to_string();
    assert_eq!(bodies[1]["name"], json!(sent), "{bodies:?}");
    // UTC, to the second.
    assert_eq!(sent.len(), "2026-12-05T01:37:00Z".len(), "{sent}");
    assert!(sent.ends_with('Z'), "{sent}");
    let at: jiff::Timestamp = sent.parse().expect("RFC 3339");
    assert!(
        at.as_second() >= before.as_second() && at <= after,
        "{before} <= {at} <= {after}"
    );
    let week_before = at - jiff::SignedDuration::from_hours(7 * 24);
    assert_eq!(
        bodies[0]["tag"],
        json!(week_before.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_sends_the_journals_now_and_its_done_posts_are_unchanged() {
    let server = Server::build()
        .reply("POST /items", json_reply(201, json!({"id": "i"})))
        .reply_in_turn(
            "POST /jobs",
            vec![
                json_reply(500, json!({"message": "busy"})),
                json_reply(201, json!({"id": "j"})),
            ],
        )
        .start()
        .await;
    let rest = r#"steps:
  - id: item
    action: CREATE_ITEM
    params: {name: "{{ now() }}"}
  - id: job
    action: START_JOB
    params: {name: "{{ now() | shift('+1h') }}"}
"#;
    let ws = workspace(&server.uri(), rest);
    apply_json(&ws, &["--now", "2001-02-03T04:05:06Z"])
        .await
        .code(1);
    let recs = records(&ws, JOURNAL);
    assert!(
        recs.iter().all(|r| r["now"] == "2001-02-03T04:05:06Z"),
        "{recs:?}"
    );

    // Another instant asked for: the journal's wins, so the item's request
    // is the one recorded (not sent again, not "changed") and the job gets
    // the first run's time.
    let out = apply_json(&ws, &["--resume", JOURNAL, "--now", "2030-01-01T00:00:00Z"])
        .await
        .code(0);
    assert_eq!(step(&out, "item")["resumed"], json!(true), "{out:?}");
    assert_eq!(
        server.requests().await,
        ["POST /items", "POST /jobs", "POST /jobs"]
    );
    let bodies = server.each_received(|r| r.json()).await;
    assert_eq!(bodies[2]["name"], json!("2001-02-03T05:05:06Z"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cutoff_in_an_if_compares_times_whatever_their_offset() {
    let server = Server::build()
        .reply(
            "GET /items",
            json_reply(
                200,
                json!([
                    {"id": "old", "updated_at": "2026-10-01T10:00:00Z"},
                    {"id": "new", "updated_at": "2026-11-20T12:00:00.5+02:00"},
                    // Before the cutoff as text, after it as a time.
                    {"id": "west", "updated_at": "2026-11-04T23:00:00-02:00"},
                ]),
            ),
        )
        .reply("PUT", ResponseTemplate::new(200))
        .start()
        .await;
    let rest = r#"vars:
  cutoff: "{{ now() | shift('-30d') }}"
steps:
  - id: list
    action: LIST_ITEMS
  - id: stale
    for_each: "{{ steps.list.response }}"
    if: "{{ (item.updated_at | parse_time) < vars.cutoff }}"
    action: UPDATE_ITEM
    params:
      id: "{{ item.id }}"
      name: "idle since {{ item.updated_at | datetimeformat(format='%Y-%m-%d') }}"
"#;
    let ws = workspace(&server.uri(), rest);
    apply_json(&ws, &["--now", "2026-12-05T00:00:00Z"])
        .await
        .code(0);
    let updates: Vec<_> = server
        .received()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| (r.url.path().to_string(), r.json()))
        .collect();
    assert_eq!(
        updates,
        [(
            "/items/old".to_string(),
            json!({"name": "idle since 2026-10-01"})
        )]
    );
}

#[test]
fn plan_shows_the_value_of_now() {
    let rest = r#"steps:
  - action: CREATE_ITEM
    params: {name: "{{ now() }}", tag: "{{ now() | shift('1d') | datetimeformat(format='%d.%m.%Y') }}"}
"#;
    let ws = workspace("http://127.0.0.1:9", rest);
    let out = ws
        .runner(["plan", "main.yaml", "--now", "2026-12-05T01:37:00+01:00"])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(0);
    assert!(
        out.stdout.contains("\"name\": \"2026-12-05T00:37:00Z\"")
            && out.stdout.contains("\"tag\": \"06.12.2026\""),
        "{out:?}"
    );
    assert!(!out.stdout.contains("{{"), "{out:?}");

    // Without `--now`, the instant the plan is made.
    let out = ws
        .runner(["plan", "main.yaml", "--output", "json"])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(0);
    let name = out.json()["steps"][0]["body"]["name"].clone();
    let at: jiff::Timestamp = name.as_str().expect("text").parse().expect("a time");
    let age = jiff::Timestamp::now().duration_since(at);
    assert!(age.as_secs() >= 0 && age.as_secs() < 600, "{name}");
}

#[test]
fn validate_knows_the_time_names_and_suggests_them() {
    let ws = workspace(
        "http://127.0.0.1:9",
        r#"steps:
  - action: CREATE_ITEM
    params: {name: "{{ Now() }}"}
"#,
    );
    ws.runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has("unknown variable `Now`")
        .stderr_has("did you mean `now`?");
    let ws = workspace(
        "http://127.0.0.1:9",
        r#"steps:
  - action: CREATE_ITEM
    params: {name: "{{ now() | shfit('-1d') }}"}
"#,
    );
    ws.runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has("unknown filter `shfit` (did you mean `shift`?)");
}
