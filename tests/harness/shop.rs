//! The shop: a catalog of projects and their items, and a server that
//! plays it. The resume tests edit its steps between runs; the exit-code
//! tests point it at URLs that cannot work.

use serde_json::json;
use wiremock::matchers::path_regex;

use super::specs::Spec;
use super::{Server, json_reply};

/// Projects, items in them, and a status check.
const ACTIONS: &str = include_str!("../fixtures/catalogs/shop.yaml");

/// The shop at `base`, then `steps`. `retry` off, so a failure fails at
/// once.
pub fn shop(base: &str, steps: &str) -> String {
    Spec::app("shop", base)
        .no_retry()
        .actions(ACTIONS)
        .steps(steps)
        .build()
}

/// The shop's answers; the status check fails (500) unless `healthy`.
pub async fn mount(server: &Server, healthy: bool) {
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

/// A server playing the shop, its status check failing unless `healthy`.
pub async fn shop_server(healthy: bool) -> Server {
    let server = Server::start().await;
    mount(&server, healthy).await;
    server
}

/// A POST that completed, then a status check that failed.
pub const CREATED: &str = r#"  - id: project
    action: CREATE_PROJECT
    params: {name: demo}
  - id: check
    action: STATUS
    params: {project: "{{ steps.project.response.id }}"}
"#;
