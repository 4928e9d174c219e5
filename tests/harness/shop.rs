//! The shop: a catalog of projects and their items, and a server that
//! plays it. The resume tests edit its steps between runs; the exit-code
//! tests point it at URLs that cannot work.

use serde_json::json;
use wiremock::matchers::path_regex;

use super::specs::Spec;
use super::{Server, json_reply};

/// Projects, items in them, and a status check.
const ACTIONS: &str = r#"      PING:
        method: GET
        path: /ping
        params:
          note: {type: string, in: query}
      CREATE_PROJECT:
        method: POST
        path: /projects
        params:
          name: {type: string, required: true}
          tag: {type: string}
      ADD_ITEM:
        method: POST
        path: /projects/{project}/items
        params:
          project: {type: string, required: true}
          title: {type: string, required: true}
      RENAME_PROJECT:
        method: PATCH
        path: /projects/{project}
        params:
          project: {type: string, required: true}
          name: {type: string, required: true}
      PUT_ITEM:
        method: PUT
        path: /projects/{project}/items/{item}
        params:
          project: {type: string, required: true}
          item: {type: integer, required: true}
          state: {type: string}
      DELETE_ITEM:
        method: DELETE
        path: /projects/{project}/items/{item}
        params:
          project: {type: string, required: true}
          item: {type: integer, required: true}
          reason: {type: string, in: query}
      STATUS:
        method: GET
        path: /projects/{project}/status
        params:
          project: {type: string, required: true}
"#;

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
