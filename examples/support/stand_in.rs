//! A stand-in GitHub API (and Descope outbound-app token API) on 127.0.0.1,
//! shared by the quickstart and the benchmark server.

use std::sync::atomic::{AtomicU64, Ordering};

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

pub async fn start() -> MockServer {
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
