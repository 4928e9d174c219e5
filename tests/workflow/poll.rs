//! `until` / `poll`: the request again until the condition holds or the
//! time runs out (kind `timeout`, with the last response); success
//! criteria on the final response only; transport retries within each try.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::{apply_json, run_json, step, workspace};
use crate::harness::{Server, json_reply};

const WAIT: &str = r#"steps:
  - id: wait
    action: GET_JOB
    params: {id: "42"}
    until: "{{ response.status == 'completed' }}"
    poll: {every: 10ms, timeout: 5s}
    outputs:
      conclusion: "{{ response.conclusion }}"
"#;

async fn job_server(replies: Vec<ResponseTemplate>) -> Server {
    Server::build()
        .reply_in_turn("GET /jobs/42", replies)
        .start()
        .await
}

fn job(body: Value) -> ResponseTemplate {
    json_reply(200, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn until_completes_on_the_third_poll() {
    let server = job_server(vec![
        job(json!({"status": "queued"})),
        job(json!({"status": "in_progress"})),
        job(json!({"status": "completed", "conclusion": "success"})),
        job(json!({"status": "deleted"})),
    ])
    .await;
    let (_, out) = run_json(&server, WAIT, 0).await;
    assert_eq!(server.received().await.len(), 3);
    let wait = step(&out, "wait");
    assert_eq!(wait["status"], json!("ok"));
    assert_eq!(
        wait["response"],
        json!({"status": "completed", "conclusion": "success"})
    );
    assert_eq!(wait["outputs"], json!({"conclusion": "success"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn until_that_never_holds_times_out_with_the_last_response() {
    let server = job_server(vec![job(json!({"status": "in_progress", "step": 3}))]).await;
    let ws = workspace(
        &server.uri(),
        &WAIT.replace("timeout: 5s", "timeout: 100ms"),
    );
    let out = apply_json(&ws, &[]).await.code(1);
    // However many tries fit in the time, the message counts them all.
    let tries = server.received().await.len();
    let wait = step(&out, "wait");
    assert_eq!(wait["status"], json!("failed"));
    assert_eq!(wait["error_kind"], json!("timeout"));
    assert_eq!(
        wait["error"],
        json!(format!(
            "`until` did not hold within 100 ms ({tries} tries); the last response was 200 OK"
        ))
    );
    assert_eq!(wait["http_status"], json!(200));
    assert_eq!(
        wait["response"],
        json!({"status": "in_progress", "step": 3})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_is_checked_on_the_final_response_only() {
    let steps = r#"steps:
  - id: wait
    action: GET_JOB
    params: {id: "42"}
    until: "{{ response.status == 'completed' }}"
    poll: {every: 10ms, timeout: 5s}
    expect:
      status: [200]
      body:
        - {path: "$.result", exists: true}
"#;
    // Neither the 404 nor the unfinished job would pass; the last one does.
    let server = job_server(vec![
        json_reply(404, json!({"status": "unknown"})),
        job(json!({"status": "running"})),
        job(json!({"status": "completed", "result": 7})),
    ])
    .await;
    let ws = workspace(&server.uri(), steps);
    apply_json(&ws, &[]).sends(&server, 3).await;

    // The final response fails them: the step fails, on that response.
    let server = job_server(vec![
        job(json!({"status": "running", "result": 1})),
        job(json!({"status": "completed"})),
    ])
    .await;
    ws.write("main.yaml", &super::spec(&server.uri(), steps));
    let out = apply_json(&ws, &[]).await.code(1);
    assert_eq!(server.received().await.len(), 2);
    let wait = step(&out, "wait");
    assert_eq!(wait["error_kind"], json!("assertion"));
    assert_eq!(
        wait["error"],
        json!("expect.body: `$.result` exists: expected at least one node, found none")
    );
    assert_eq!(wait["response"], json!({"status": "completed"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn transport_retries_apply_to_each_try() {
    let unavailable = || ResponseTemplate::new(503);
    let server = job_server(vec![
        unavailable(),
        job(json!({"status": "running"})),
        unavailable(),
        job(json!({"status": "completed", "conclusion": "ok"})),
    ])
    .await;
    let steps = WAIT.replace(
        "    poll: {every: 10ms, timeout: 5s}\n",
        "    poll: {every: 10ms, timeout: 5s}\n    retry: {attempts: 2, backoff: 10ms}\n",
    );
    let ws = workspace(&server.uri(), &steps);
    let out = apply_json(&ws, &[]).sends(&server, 4).await;
    // Each 503 was retried within its try, not taken as a poll.
    assert_eq!(
        out.stderr.matches("wait: try 2 of 2 in ").count(),
        2,
        "{out:?}"
    );
    assert_eq!(
        out.stderr.matches(": 503 Service Unavailable").count(),
        2,
        "{out:?}"
    );
    assert_eq!(step(&out, "wait")["outputs"], json!({"conclusion": "ok"}));
}
