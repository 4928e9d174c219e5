//! The whole flow in one command, offline: a stand-in GitHub API (and a
//! stand-in Descope) on 127.0.0.1, and `specs/github.yaml` applied against it.
//!
//!     cargo run --example quickstart              # token from the environment
//!     cargo run --example quickstart -- --descope # token from Descope

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use runner::report::{Out, TextReporter};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Creates issues with increasing numbers, like GitHub does.
struct CreateIssue(AtomicU64);

impl Respond for CreateIssue {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let number = self.0.fetch_add(1, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        ResponseTemplate::new(201).set_body_json(json!({
            "number": number,
            "title": body["title"],
            "state": "open",
            "html_url": format!("https://github.com/your-username/test-repo/issues/{number}"),
        }))
    }
}

async fn stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues$"))
        .respond_with(CreateIssue(AtomicU64::new(1347)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues/\d+/comments$"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1, "body": "ok"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues/\d+/labels$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"name": "triage"}])))
        .mount(&server)
        .await;
    // Descope's management API, as far as outbound-app tokens go.
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/v1/mgmt/outbound/app/(user|tenant)/token(/latest)?$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token": {
                "accessToken": "gho_demoAccessTokenFromDescope",
                "accessTokenType": "bearer",
                "accessTokenExpiry": "2030-01-01T00:00:00Z",
                "scopes": ["user", "public_repo"]
            }
        })))
        .mount(&server)
        .await;
    Mock::given(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": "your-username"})))
        .mount(&server)
        .await;
    server
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let descope = std::env::args().any(|a| a == "--descope");
    let spec = if descope {
        "specs/github-descope.yaml"
    } else {
        "specs/github.yaml"
    };
    let server = stand_in().await;
    println!("stand-in API listening on {}", server.uri());
    println!("applying {spec}\n");

    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    env.insert(
        "GITHUB_TOKEN".into(),
        "ghp_demoTokenForTheStandIn0000".into(),
    );
    env.insert("DESCOPE_PROJECT_ID".into(), "P2demoProject".into());
    env.insert(
        "DESCOPE_MANAGEMENT_KEY".into(),
        "K2demoManagementKey".into(),
    );
    env.insert("DESCOPE_BASE_URL".into(), server.uri());
    let options = runner::Options {
        env: Arc::new(env),
        base_urls: vec![("github".into(), server.uri())],
        ..Default::default()
    };
    let workflow = match runner::load(Path::new(spec)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return e.exit_code();
        }
    };
    let out = Out::new(options.redactor.clone());
    let mut reporter = TextReporter::new(&out, &workflow);
    let report = match runner::apply(&workflow, &options, &mut reporter).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return e.exit_code();
        }
    };
    reporter.summary(&report);

    println!("\nthe stand-in received (secrets masked):");
    for r in server.received_requests().await.unwrap_or_default() {
        let auth = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let line = format!(
            "  {} {}  authorization: {}  body: {}",
            r.method,
            r.url.path(),
            auth,
            String::from_utf8_lossy(&r.body)
        );
        out.stdout(&line);
    }
    std::process::ExitCode::from(report.exit_code())
}
