//! `runner apply` when the network misbehaves: slow servers, retries and
//! `Retry-After`, dead ports, oversized and malformed responses, redirects.
//! Everything runs against mock servers on 127.0.0.1.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::harness::{RequestExt, Run, Server, Workspace, json_reply};

const TOKEN: &str = "tok_Faults0123456789abcdef";
const KEY: &str = "key_Faults9876543210fedcba";

/// A spec with one app `api` at `base` (plus `app_extra`, lines indented by
/// four spaces), an action per method on `/thing`, and `steps`.
fn spec(base: &str, app_extra: &str, steps: &str) -> String {
    let mut actions = String::new();
    for m in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"] {
        actions.push_str(&format!(
            "      DO_{m}:\n        method: {m}\n        path: /thing\n        params:\n          name: {{type: string}}\n"
        ));
    }
    format!(
        r#"version: 1
apps:
  api:
    base_url: {base}
{app_extra}
    actions:
{actions}      GO:
        method: GET
        path: /start
      SUBMIT:
        method: POST
        path: /submit
        params:
          name: {{type: string}}
steps:
{steps}"#
    )
}

/// Auth on every placement the redirect rules care about: `Authorization`,
/// a custom header and a query parameter, all from the environment.
const AUTH: &str = r#"auth:
  api:
    parameters:
      - name: Authorization
        in: header
        value: "Bearer {{ env.API_TOKEN }}"
      - name: X-Api-Key
        in: header
        value: "{{ env.API_KEY }}"
      - name: api_key
        in: query
        value: "{{ env.API_KEY }}"
"#;

/// A server answering `route` with `responses` in turn (the last one
/// from then on).
async fn in_turn(route: &str, responses: Vec<ResponseTemplate>) -> Server {
    Server::build()
        .reply_in_turn(route, responses)
        .start()
        .await
}

/// `main.yaml`: [`spec`] at `base`.
fn main_at(base: &str, app_extra: &str, steps: &str) -> Workspace {
    Workspace::main(&spec(base, app_extra, steps))
}

/// [`apply`] of `steps` against `base`, the app holding `app_extra`.
async fn apply_at(base: &str, app_extra: &str, steps: &str, extra: &[&str]) -> Run {
    apply(&main_at(base, app_extra, steps), extra).await
}

/// A response with `status`, after `delay`.
fn slow(status: u16, delay: Duration) -> ResponseTemplate {
    ResponseTemplate::new(status).set_delay(delay)
}

/// `apply --output json` without a journal, plus `extra` arguments.
async fn apply(ws: &Workspace, extra: &[&str]) -> Run {
    ws.runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
        .args(extra)
        .env("API_TOKEN", TOKEN)
        .env("API_KEY", KEY)
        .await
}

/// A port on 127.0.0.1 that nothing listens on.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

// ---------------------------------------------------------------- timeouts

#[tokio::test(flavor = "multi_thread")]
async fn a_step_timeout_fails_the_step_naming_the_limit() {
    let server = Server::answering("POST", slow(201, Duration::from_secs(3))).await;
    let started = Instant::now();
    let out = apply_at(
        &server.uri(),
        "",
        "  - id: slow\n    action: DO_POST\n    timeout: 200ms\n",
        &[],
    )
    .await
    .code(1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout did not cut the request short: {:?}",
        started.elapsed()
    );
    let e = out.step_error(0);
    assert!(
        e.contains("no complete response within 200 ms from `127.0.0.1:")
            && e.contains("` (the request timeout;"),
        "{out:?}"
    );
    assert_eq!(out.step(0)["status"], json!("failed"));
    // A POST that may have reached the server is not sent again.
    assert_eq!(server.received().await.len(), 1);
    assert_eq!(out.step(0)["retries"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_timeout_on_an_idempotent_step_is_retried() {
    let server = Server::answering("GET", slow(200, Duration::from_secs(3))).await;
    let started = Instant::now();
    let out = apply_at(
        &server.uri(),
        "    timeout: {connect: 2s, request: 200ms}\n    retry: {attempts: 2, backoff: 10ms}",
        "  - id: slow\n    action: DO_GET\n",
        &[],
    )
    .await
    .code(1);
    assert!(started.elapsed() < Duration::from_secs(3), "{out:?}");
    assert_eq!(server.received().await.len(), 2);
    let e = out.step_error(0);
    assert!(
        e.contains("no complete response within 200 ms") && e.ends_with("(after 2 tries)"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("slow: try 2 of 2 in ")
                && l.contains(": no complete response within 200 ms")),
        "{out:?}"
    );
    let retries = out.step(0)["retries"].clone();
    assert_eq!(retries.as_array().map(Vec::len), Some(1), "{out:?}");
    assert_eq!(retries[0]["attempt"], json!(2));
    assert!(
        retries[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("no complete response within 200 ms"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_step_over_app_over_command_line() {
    let server = Server::answering("POST", slow(201, Duration::from_millis(500))).await;
    let out = apply_at(
        &server.uri(),
        "    timeout: 200ms",
        "  - id: patient\n    action: DO_POST\n    timeout: 3s\n    continue_on_error: true\n  - id: hasty\n    action: DO_POST\n",
        &["--timeout", "3s"],
    )
    .await
    .code(1);
    // The step's own 3 s beats the app's 200 ms.
    assert_eq!(out.step(0)["status"], json!("ok"), "{out:?}");
    // The app's 200 ms beats `--timeout 3s`.
    assert!(
        out.step_error(1)
            .contains("no complete response within 200 ms"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_timeout_applies_when_the_spec_sets_none() {
    let server = Server::answering("POST", slow(201, Duration::from_secs(3))).await;
    let started = Instant::now();
    let out = apply_at(
        &server.uri(),
        "",
        "  - id: slow\n    action: DO_POST\n",
        &["--timeout", "250ms"],
    )
    .await
    .code(1);
    assert!(started.elapsed() < Duration::from_secs(3), "{out:?}");
    let e = out.step_error(0);
    assert!(
        e.contains(
            "(the request timeout; set `timeout:` or `--timeout`), sending POST http://127.0.0.1:"
        ),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stalls_after_the_headers_hits_the_request_timeout() {
    // The status line and headers come at once; the body never finishes.
    let response = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"partial\":".to_vec();
    let base = raw_server(response, Duration::from_secs(3));
    let started = Instant::now();
    let out = apply_at(
        &base,
        "",
        "  - id: stalled\n    action: DO_POST\n    timeout: 300ms\n",
        &[],
    )
    .await
    .code(1);
    assert!(started.elapsed() < Duration::from_secs(3), "{out:?}");
    assert!(
        out.step_error(0)
            .contains("no complete response within 300 ms"),
        "{out:?}"
    );
}

// ----------------------------------------------------------------- retries

const FAST: &str = "    retry: {backoff: 10ms}";

#[tokio::test(flavor = "multi_thread")]
async fn get_503_503_200_is_retried_to_success() {
    let server = in_turn(
        "GET",
        vec![
            ResponseTemplate::new(503),
            ResponseTemplate::new(503),
            json_reply(200, json!({"ok": 1})),
        ],
    )
    .await;
    let out = apply_at(
        &server.uri(),
        FAST,
        "  - id: flaky\n    action: DO_GET\n",
        &[],
    )
    .await
    .code(0);
    assert_eq!(server.received().await.len(), 3);
    let s = out.step(0);
    assert_eq!(s["status"], json!("ok"));
    assert_eq!(s["http_status"], json!(200));
    assert_eq!(s["response"], json!({"ok": 1}));
    let retries = s["retries"].as_array().cloned().unwrap_or_default();
    assert_eq!(retries.len(), 2, "{out:?}");
    for (i, r) in retries.iter().enumerate() {
        assert_eq!(r["attempt"], json!(i + 2));
        assert_eq!(r["reason"], json!("503 Service Unavailable"));
        assert!(r["wait_ms"].as_u64().is_some_and(|w| w <= 40), "{r}");
    }
    for n in [2, 3] {
        let line = format!("flaky: try {n} of 3 in ");
        let said = out
            .stderr
            .lines()
            .any(|l| l.contains(&line) && l.ends_with(": 503 Service Unavailable"));
        assert!(said, "no `{line}...: 503 Service Unavailable` in {out:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn post_503_is_not_retried() {
    let server = Server::answering("POST", ResponseTemplate::new(503)).await;
    let out = apply_at(
        &server.uri(),
        FAST,
        "  - id: create\n    action: DO_POST\n    params: {name: x}\n",
        &[],
    )
    .await
    .code(1);
    assert_eq!(server.received().await.len(), 1);
    assert_eq!(out.step(0)["http_status"], json!(503));
    assert_eq!(out.step(0)["retries"], json!([]));
    assert!(
        out.step_error(0).contains("got 503 Service Unavailable"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("try 2"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn post_429_then_201_is_retried() {
    let server = in_turn(
        "POST",
        vec![
            ResponseTemplate::new(429),
            json_reply(201, json!({"id": 7})),
        ],
    )
    .await;
    let out = apply_at(
        &server.uri(),
        FAST,
        "  - id: create\n    action: DO_POST\n    params: {name: x}\n",
        &[],
    )
    .await
    .code(0);
    let reqs = server.received().await;
    assert_eq!(reqs.len(), 2);
    // The same request both times.
    assert_eq!(reqs[0].json(), json!({"name": "x"}));
    assert_eq!(reqs[1].json(), json!({"name": "x"}));
    assert_eq!(out.step(0)["http_status"], json!(201));
    assert_eq!(
        out.step(0)["retries"][0]["reason"],
        json!("429 Too Many Requests")
    );
    assert!(out.stderr.contains("create: try 2 of 3 in "), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn post_503_is_retried_when_the_step_says_unsafe() {
    let server = in_turn(
        "POST",
        vec![ResponseTemplate::new(503), ResponseTemplate::new(201)],
    )
    .await;
    let out = apply_at(
        &server.uri(),
        "",
        "  - id: create\n    action: DO_POST\n    retry: {unsafe: true, backoff: 10ms}\n",
        &[],
    )
    .await
    .code(0);
    assert_eq!(server.received().await.len(), 2);
    assert_eq!(
        out.step(0)["retries"][0]["reason"],
        json!("503 Service Unavailable")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn step_retry_settings_override_the_apps_field_by_field() {
    let server = Server::answering("POST", ResponseTemplate::new(503)).await;
    // attempts and backoff come from the app, `unsafe` from the step: had the
    // step's `retry` replaced the app's wholesale, the default 3 attempts
    // and 500 ms backoff would apply.
    let out = apply_at(
        &server.uri(),
        "    retry: {attempts: 2, backoff: 10ms}",
        "  - id: create\n    action: DO_POST\n    retry: {unsafe: true}\n",
        &[],
    )
    .await
    .code(1);
    assert_eq!(server.received().await.len(), 2, "{out:?}");
    let retries = out.step(0)["retries"].clone();
    assert_eq!(retries.as_array().map(Vec::len), Some(1));
    assert!(retries[0]["wait_ms"].as_u64().is_some_and(|w| w <= 10));
    assert!(out.stderr.contains("create: try 2 of 2 in "), "{out:?}");
    assert!(
        out.step_error(0).contains("got 503 Service Unavailable"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_attempt_turns_retries_off() {
    let server = Server::answering("GET", ResponseTemplate::new(503)).await;
    let out = apply_at(
        &server.uri(),
        "",
        "  - id: once\n    action: DO_GET\n    retry: {attempts: 1}\n",
        &[],
    )
    .await
    .code(1);
    assert_eq!(server.received().await.len(), 1);
    assert_eq!(out.step(0)["retries"], json!([]));
}

/// Which method/status pairs are retried (3 tries) and which are not (1).
#[tokio::test(flavor = "multi_thread")]
async fn retry_matrix() {
    let cases: &[(&str, u16, bool, usize)] = &[
        ("GET", 502, false, 3),
        ("GET", 504, false, 3),
        ("GET", 429, false, 3),
        ("GET", 500, false, 1),
        ("GET", 404, false, 1),
        ("HEAD", 503, false, 3),
        ("OPTIONS", 503, false, 3),
        ("PUT", 502, false, 3),
        ("DELETE", 504, false, 3),
        ("POST", 502, false, 1),
        ("POST", 504, false, 1),
        ("POST", 429, false, 3),
        ("PATCH", 503, false, 1),
        ("PATCH", 429, false, 3),
        ("PATCH", 503, true, 3),
        ("POST", 500, true, 1),
    ];
    let server = Server::start().await;
    for &(m, status, unsafe_methods, expected) in cases {
        server.reset().await;
        server.reply(m, ResponseTemplate::new(status)).await;
        let out = apply_at(
            &server.uri(),
            "",
            &format!("  - id: s\n    action: DO_{m}\n    retry: {{backoff: 5ms, unsafe: {unsafe_methods}}}\n"),
            &[],
        )
            .await
            .code_for(1, format_args!("{m} {status}"));
        let n = server.received().await.len();
        assert_eq!(
            n, expected,
            "{m} answered {status} (unsafe: {unsafe_methods}) was sent {n} times, expected {expected}: {out:?}"
        );
        assert_eq!(
            out.step(0)["retries"].as_array().map(Vec::len),
            Some(expected - 1)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_in_seconds_is_honoured() {
    let server = in_turn(
        "GET",
        vec![
            ResponseTemplate::new(429).insert_header("Retry-After", "1"),
            ResponseTemplate::new(200),
        ],
    )
    .await;
    let started = Instant::now();
    let out = apply_at(
        &server.uri(),
        FAST,
        "  - id: limited\n    action: DO_GET\n",
        &[],
    )
    .await
    .code(0);
    assert!(started.elapsed() >= Duration::from_secs(1), "{out:?}");
    assert_eq!(server.received().await.len(), 2);
    assert_eq!(
        out.step(0)["retries"],
        json!([{"attempt": 2, "reason": "429 Too Many Requests", "wait_ms": 1000}])
    );
    assert!(
        out.stderr
            .contains("limited: try 2 of 3 in 1 s: 429 Too Many Requests"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_as_an_http_date_is_honoured() {
    let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let server = in_turn(
        "GET",
        vec![
            ResponseTemplate::new(503).insert_header("Retry-After", &*soon),
            ResponseTemplate::new(200),
        ],
    )
    .await;
    let out = apply_at(
        &server.uri(),
        "",
        "  - id: limited\n    action: DO_GET\n",
        &[],
    )
    .await
    .code(0);
    assert_eq!(server.received().await.len(), 2);
    let retries = out.step(0)["retries"].clone();
    assert_eq!(retries.as_array().map(Vec::len), Some(1), "{out:?}");
    // Until that second (1 to 2 s away: the date has whole seconds), not
    // the default backoff's 250 to 500 ms.
    assert!(
        retries[0]["wait_ms"]
            .as_u64()
            .is_some_and(|w| (600..=2000).contains(&w)),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_beyond_max_wait_is_not_retried() {
    let in_two_hours =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2 * 3600));
    for (retry_after, retry, allowed) in [
        ("3600".to_string(), "{backoff: 10ms}", "30 s"),
        ("3600".to_string(), "{backoff: 10ms, max_wait: 5s}", "5 s"),
        (in_two_hours, "{backoff: 10ms}", "30 s"),
    ] {
        let server = Server::answering(
            "GET",
            ResponseTemplate::new(503).insert_header("Retry-After", &*retry_after),
        )
        .await;
        let started = Instant::now();
        let out = apply_at(
            &server.uri(),
            "",
            &format!("  - id: limited\n    action: DO_GET\n    retry: {retry}\n"),
            &[],
        )
        .await
        .code(1);
        assert!(started.elapsed() < Duration::from_secs(5), "{out:?}");
        assert_eq!(server.received().await.len(), 1, "{retry_after}: {out:?}");
        assert_eq!(out.step(0)["retries"], json!([]));
        let warning = out
            .stderr
            .lines()
            .find(|l| l.contains("steps[0] (limited): not retried: the server asked to wait"))
            .unwrap_or_else(|| panic!("no warning for Retry-After {retry_after}: {out:?}"))
            .to_string();
        assert!(
            warning.contains(&format!(
                "longer than the {allowed} allowed (`retry.max_wait`)"
            )),
            "{warning}"
        );
        if retry_after == "3600" {
            assert!(warning.contains("wait 3600 s"), "{warning}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_is_retried_for_every_method() {
    let base = format!("http://127.0.0.1:{}", dead_port());
    let out = apply_at(
        &base,
        "    retry: {attempts: 3, backoff: 10ms}",
        "  - id: fetch\n    action: DO_GET\n    continue_on_error: true\n  - id: create\n    action: DO_POST\n    params: {name: x}\n",
        &[],
    )
    .await
    .code(1);
    for (i, name) in [(0, "fetch"), (1, "create")] {
        let s = out.step(i);
        assert_eq!(s["status"], json!("failed"), "{out:?}");
        assert_eq!(s["http_status"], json!(null));
        let retries = s["retries"].as_array().cloned().unwrap_or_default();
        assert_eq!(retries.len(), 2, "{name}: {out:?}");
        for r in &retries {
            assert!(
                r["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("cannot connect"),
                "{r}"
            );
        }
        for n in [2, 3] {
            let line = format!("{name}: try {n} of 3 in ");
            assert!(
                out.stderr
                    .lines()
                    .any(|l| l.contains(&line) && l.contains("cannot connect")),
                "no `{line}...cannot connect` in {out:?}"
            );
        }
        let e = out.step_error(i);
        assert!(
            e.starts_with("cannot connect") && e.ends_with("(after 3 tries)"),
            "{e}"
        );
    }
    // The message names the URL it was sending to.
    assert!(
        out.step_error(0)
            .contains(&format!("cannot connect to `127.0.0.1:{}`", &base[17..])),
        "{out:?}"
    );
    assert!(
        out.step_error(0)
            .contains(&format!(", sending GET {base}/")),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expected_503_is_not_retried() {
    let server = Server::answering("GET", json_reply(503, json!({"state": "down"}))).await;
    let out = apply_at(
        &server.uri(),
        FAST,
        "  - id: probe\n    action: DO_GET\n    expect: {status: [503]}\n",
        &[],
    )
    .await
    .code(0);
    assert_eq!(server.received().await.len(), 1);
    let s = out.step(0);
    assert_eq!(s["status"], json!("ok"));
    assert_eq!(s["http_status"], json!(503));
    assert_eq!(s["response"], json!({"state": "down"}));
    assert_eq!(s["retries"], json!([]));
}

// ----------------------------------------------------------- response size

#[tokio::test(flavor = "multi_thread")]
async fn a_response_over_the_size_cap_fails_the_step() {
    let server = Server::build()
        .reply(
            "GET /thing",
            ResponseTemplate::new(200).set_body_string("x".repeat(2048)),
        )
        .reply(
            "POST /thing",
            ResponseTemplate::new(200).set_body_string("y".repeat(1000)),
        )
        .start()
        .await;
    let ws = main_at(
        &server.uri(),
        FAST,
        "  - id: small\n    action: DO_POST\n  - id: big\n    action: DO_GET\n",
    );
    let out = apply(&ws, &["--max-response-size", "1KiB"]).await.code(1);
    assert_eq!(out.step(0)["status"], json!("ok"), "{out:?}");
    assert_eq!(out.step(0)["response"], json!("y".repeat(1000)));
    let e = out.step_error(1);
    assert!(
        e.contains("larger than 1024 bytes") && e.contains("`--max-response-size`"),
        "{out:?}"
    );
    // An oversized answer is not worth asking for again.
    assert_eq!(server.received().await.len(), 2);
    assert!(!out.stdout.contains(&"x".repeat(100)), "{out:?}");

    // Without the cap, the same body is fine.
    apply(&ws, &[]).await.code(0);
}

/// An HTTP server on 127.0.0.1 that answers every connection with
/// `response` (raw bytes), then keeps it open for `hold`: for what wiremock
/// cannot send.
fn raw_server(response: Vec<u8>, hold: Duration) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(&response);
            let _ = stream.flush();
            std::thread::sleep(hold);
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_response_over_the_size_cap_fails_the_step() {
    // No Content-Length: the cap must hold while the body streams in.
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..8 {
        response.extend_from_slice(format!("200\r\n{}\r\n", "z".repeat(512)).as_bytes());
    }
    response.extend_from_slice(b"0\r\n\r\n");
    let base = raw_server(response, Duration::ZERO);
    let ws = main_at(&base, FAST, "  - id: stream\n    action: DO_GET\n");
    let out = apply(&ws, &["--max-response-size", "1KiB"]).await.code(1);
    let e = out.step_error(0);
    assert!(e.contains("`--max-response-size`"), "{out:?}");
    assert_eq!(out.step(0)["retries"], json!([]));

    let out = apply(&ws, &[]).await.code(0);
    assert_eq!(out.step(0)["response"], json!("z".repeat(4096)));
}

// ------------------------------------------------------ malformed responses

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_reported_as_text() {
    let cases: Vec<(u16, Vec<u8>, &str, Value)> = vec![
        (
            200,
            br#"{"broken": "#.to_vec(),
            "application/json",
            json!(r#"{"broken": "#),
        ),
        (200, Vec::new(), "application/json", json!("")),
        (
            200,
            b"caf\xe9 \xff\xfe ok".to_vec(),
            "text/plain; charset=latin1",
            json!("caf\u{fffd} \u{fffd}\u{fffd} ok"),
        ),
        (
            200,
            b"{\"name\": \"\xff\"}".to_vec(),
            "application/json",
            json!("{\"name\": \"\u{fffd}\"}"),
        ),
        (
            201,
            b"<html>created</html>".to_vec(),
            "application/json; charset=utf-8",
            json!("<html>created</html>"),
        ),
    ];
    let server = Server::start().await;
    for (status, body, mime, expected) in cases {
        server.reset().await;
        server
            .reply(
                "GET",
                ResponseTemplate::new(status).set_body_raw(body, mime),
            )
            .await;
        let ws = main_at(&server.uri(), FAST, "  - id: odd\n    action: DO_GET\n");
        let out = apply(&ws, &[])
            .await
            .code_for(0, format_args!("{expected}"));
        let s = out.step(0);
        assert_eq!(s["status"], json!("ok"));
        assert_eq!(s["http_status"], json!(status));
        assert_eq!(s["response"], expected, "{out:?}");

        // And in text, the same run just says ok.
        let out = ws
            .runner(["apply", "main.yaml", "--no-journal"])
            .await
            .code(0)
            .stderr_lacks("panicked");
        assert!(out.stdout.starts_with("ok"), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_error_body_and_a_later_step_using_it_fail_cleanly() {
    let server = Server::build()
        .reply(
            "POST",
            ResponseTemplate::new(500)
                .set_body_raw(&b"<h1>upstream \xff broke</h1>"[..], "application/json"),
        )
        .reply(
            "GET",
            ResponseTemplate::new(200).set_body_raw("not json", "application/json"),
        )
        .start()
        .await;
    let out = apply_at(
        &server.uri(),
        FAST,
        r#"  - id: odd
    action: DO_GET
  - id: uses
    action: DO_POST
    continue_on_error: true
    params: {name: "{{ steps.odd.response.id }}"}
  - id: broken
    action: DO_POST
    params: {name: plain}
"#,
        &[],
    )
    .await
    .code(1);
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    assert_eq!(out.step(0)["response"], json!("not json"));
    // `steps.odd.response` is a string: it has no `id`.
    assert_eq!(out.step(1)["status"], json!("failed"), "{out:?}");
    assert!(!out.step_error(1).is_empty());
    let s = out.step(2);
    assert_eq!(s["http_status"], json!(500));
    assert_eq!(s["response"], json!("<h1>upstream \u{fffd} broke</h1>"));
    assert!(
        out.step_error(2)
            .contains("got 500 Internal Server Error: <h1>upstream"),
        "{out:?}"
    );
    // Step `uses` never rendered, so only `odd` and `broken` reached the server.
    assert_eq!(server.received().await.len(), 2);
}

// --------------------------------------------------------------- redirects

fn redirect(status: u16, to: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("Location", to)
}

/// Every header value and the URL of `req`, for "does the secret appear anywhere".
fn everything(req: &wiremock::Request) -> String {
    let mut all = format!("{}\n", req.url);
    for (name, value) in req.headers.iter() {
        all.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or_default()));
    }
    all.push_str(&String::from_utf8_lossy(&req.body));
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_origin_carries_no_auth() {
    let origin = Server::start().await;
    let other = Server::start().await;
    // The other origin differs only by port.
    assert_ne!(origin.port(), other.port());
    origin
        .reply(
            "/start",
            redirect(
                302,
                &format!("{}/landing?keep=1&api_key={KEY}", other.uri()),
            ),
        )
        .await;
    other
        .reply("/landing", json_reply(200, json!({"landed": true})))
        .await;
    let ws = Workspace::main(&format!(
        "{AUTH}{}",
        spec(&origin.uri(), FAST, "  - id: go\n    action: GO\n")
    ));
    let out = apply(&ws, &[]).await.code(0);
    assert_eq!(out.step(0)["response"], json!({"landed": true}));

    let first = origin.received().await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(first[0].header("x-api-key"), Some(KEY));
    assert!(
        first[0]
            .url
            .query_pairs()
            .any(|(k, v)| k == "api_key" && v == KEY)
    );

    let landed = other.received().await;
    assert_eq!(landed.len(), 1);
    let req = &landed[0];
    assert_eq!(req.url.path(), "/landing");
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("x-api-key"), None);
    let query: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    assert_eq!(query, vec![("keep".to_string(), "1".to_string())]);
    let all = everything(req);
    assert!(!all.contains(TOKEN) && !all.contains(KEY), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_307_to_another_origin_does_not_carry_auth_body_fields() {
    let other = Server::start().await;
    let origin = Server::answering(
        "/submit",
        redirect(307, &format!("{}/landing", other.uri())),
    )
    .await;
    other.reply("/landing", ResponseTemplate::new(201)).await;
    let auth = r#"auth:
  api:
    parameters:
      - name: Authorization
        in: header
        value: "Bearer {{ env.API_TOKEN }}"
    body:
      client_secret: "{{ env.API_KEY }}"
"#;
    let ws = Workspace::main(&format!(
        "{auth}{}",
        spec(
            &origin.uri(),
            FAST,
            "  - id: submit\n    action: SUBMIT\n    params: {name: x}\n",
        )
    ));
    let out = apply(&ws, &[]).await;
    let first = origin.received().await;
    assert_eq!(first.len(), 1, "{out:?}");
    assert_eq!(first[0].json(), json!({"name": "x", "client_secret": KEY}));
    // Whether the run refuses the redirect or strips the field, the other
    // origin must not see the credential.
    for req in other.received().await {
        let all = everything(&req);
        assert!(
            !all.contains(KEY) && !all.contains(TOKEN),
            "a credential followed a redirect to another origin:\n{all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_origin_redirect_keeps_auth() {
    let server = Server::build()
        .reply("/start", redirect(302, &format!("/landing?api_key={KEY}")))
        .reply("/landing", json_reply(200, json!({"landed": true})))
        .start()
        .await;
    let ws = Workspace::main(&format!(
        "{AUTH}{}",
        spec(&server.uri(), FAST, "  - id: go\n    action: GO\n")
    ));
    let out = apply(&ws, &[]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].url.path(), "/landing");
    for req in &reqs {
        assert_eq!(
            req.header("authorization"),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(req.header("x-api-key"), Some(KEY));
        assert!(
            req.url
                .query_pairs()
                .any(|(k, v)| k == "api_key" && v == KEY)
        );
    }
    assert!(
        !out.all().contains(TOKEN) && !out.all().contains(KEY),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn see_other_and_post_after_301_302_become_get_without_body() {
    let server = Server::start().await;
    for status in [303, 302, 301] {
        server.reset().await;
        server.reply("/submit", redirect(status, "/result")).await;
        server
            .reply("/result", json_reply(200, json!({"done": true})))
            .await;
        let out = apply_at(
            &server.uri(),
            FAST,
            "  - id: submit\n    action: SUBMIT\n    params: {name: x}\n",
            &[],
        )
        .await
        .code_for(0, format_args!("{status}"));
        assert_eq!(out.step(0)["response"], json!({"done": true}));
        let reqs = server.received().await;
        assert_eq!(reqs.len(), 2, "{status}");
        assert_eq!(reqs[0].method.as_str(), "POST");
        assert_eq!(reqs[0].json(), json!({"name": "x"}));
        assert_eq!(reqs[1].method.as_str(), "GET", "after {status}");
        assert_eq!(reqs[1].url.path(), "/result");
        assert!(reqs[1].body.is_empty(), "after {status}: body sent again");
        assert_eq!(reqs[1].header("content-type"), None, "after {status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_303_after_put_becomes_get() {
    let server = Server::build()
        .reply("/thing", redirect(303, "/result"))
        .reply("/result", ResponseTemplate::new(200))
        .start()
        .await;
    let ws = main_at(
        &server.uri(),
        FAST,
        "  - id: put\n    action: DO_PUT\n    params: {name: x}\n",
    );
    apply(&ws, &[]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method.as_str(), "PUT");
    assert_eq!(reqs[1].method.as_str(), "GET");
    assert!(reqs[1].body.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_and_permanent_redirects_keep_method_and_body() {
    let server = Server::start().await;
    for status in [307, 308] {
        server.reset().await;
        server.reply("/submit", redirect(status, "/again")).await;
        server
            .reply("/again", json_reply(201, json!({"id": 3})))
            .await;
        let out = apply_at(
            &server.uri(),
            FAST,
            "  - id: submit\n    action: SUBMIT\n    params: {name: x}\n",
            &[],
        )
        .await
        .code_for(0, format_args!("{status}"));
        assert_eq!(out.step(0)["http_status"], json!(201));
        let reqs = server.received().await;
        assert_eq!(reqs.len(), 2, "{status}");
        assert_eq!(reqs[1].url.path(), "/again");
        assert_eq!(reqs[1].method.as_str(), "POST", "after {status}");
        assert_eq!(reqs[1].json(), json!({"name": "x"}), "after {status}");
        assert_eq!(
            reqs[1].header("content-type"),
            Some("application/json"),
            "after {status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_loop_stops_after_ten() {
    let server = Server::answering("/start", redirect(302, "/start")).await;
    let out = apply_at(&server.uri(), FAST, "  - id: go\n    action: GO\n", &[])
        .await
        .code(1);
    assert!(
        out.step_error(0).contains("more than 10 redirects"),
        "{out:?}"
    );
    // The first request and ten redirects, then no retry.
    assert_eq!(server.received().await.len(), 11);
}

/// A listener whose accept queue is full: new connections are never
/// accepted, so connecting hangs until the connect timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_connect_timeout_names_the_connect_limit() {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .expect("addr")
                .into(),
        )
        .expect("bind");
    socket.listen(0).expect("listen");
    let addr = socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");
    // Fill the queue; these connections are never accepted.
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        s.set_nonblocking(true).expect("nonblocking");
        let _ = s.connect(&addr.into());
        fillers.push(s);
    }
    let ws = Workspace::new().file(
        "s.yaml",
        &format!(
            "version: 1\napps:\n  api:\n    base_url: http://{addr}\n    timeout: {{connect: 300ms, request: 5s}}\n    actions:\n      GET: {{method: GET, path: /x}}\nsteps:\n  - action: GET\n    retry: {{attempts: 1}}\n"
        ),
    );
    ws.runner(["apply", "s.yaml", "--no-journal"])
        .await
        .code(1)
        .stdout_has("timed out after 300 ms (the connect timeout");
    drop(fillers);
}
