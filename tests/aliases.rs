//! One action, several names: a step may name an action by an alias, a
//! journal written under one name resumes under another, and `runner
//! actions` lists each endpoint once, with its aliases and files.

use serde_json::json;

use crate::harness::specs::Spec;
use crate::harness::{Server, Workspace, json_reply};

const JOURNAL: &str = ".runner/main.yaml.jsonl";

/// The shop's catalog under the names of one era: `order` and `check`
/// are the actions' names then.
fn shop(base: &str, order: &str, check: &str, steps: &str) -> String {
    Spec::app("shop", base)
        .retry("{attempts: 1}")
        .actions(&format!(
            "{order}
  method: POST
  path: /orders
  params: {{item: {{type: string, required: true}}}}
{check}
  method: GET
  path: /orders/{{id}}
  params: {{id: {{type: string, required: true}}}}
"
        ))
        .steps(steps)
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_written_under_one_name_resumes_under_the_other() {
    let server = Server::start().await;
    server
        .reply("POST /orders", json_reply(201, json!({"id": "o-1"})))
        .await;
    server
        .reply(
            "GET /orders/o-1",
            json_reply(500, json!({"message": "down"})),
        )
        .await;
    // Yesterday's catalog named the actions as Composio does; the steps
    // say so, the second without an id.
    let steps = r#"  - id: order
    action: SHOP_CREATE_ORDER
    params: {item: tea}
  - action: SHOP_GET_ORDER
    params: {id: "{{ steps.order.response.id }}"}
"#;
    let ws = Workspace::main(&shop(
        &server.uri(),
        "SHOP_CREATE_ORDER:",
        "SHOP_GET_ORDER:",
        steps,
    ));
    ws.runner(["apply", "main.yaml"]).await.code(1);
    assert_eq!(server.requests().await, ["POST /orders", "GET /orders/o-1"]);

    // Today's catalog has new names and keeps the old ones as aliases; the
    // first step is rewritten to the new name, the second is not.
    let today = shop(
        &server.uri(),
        "ORDERS_CREATE:\n  aliases: [SHOP_CREATE_ORDER]",
        "ORDERS_GET:\n  aliases: [SHOP_GET_ORDER]",
        &steps.replace("action: SHOP_CREATE_ORDER", "action: ORDERS_CREATE"),
    );
    ws.write("main.yaml", &today);
    server.reset().await;
    server
        .reply("POST /orders", json_reply(201, json!({"id": "o-2"})))
        .await;
    server
        .reply("GET /orders/o-1", json_reply(200, json!({"state": "paid"})))
        .await;
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
    // The POST is not sent again: the order it made is the one read.
    assert_eq!(server.requests().await, ["GET /orders/o-1"], "{out:?}");
    assert_eq!(out.step(0)["resumed"], json!(true), "{out:?}");
    assert_eq!(out.step(0)["response"], json!({"id": "o-1"}));
    assert_eq!(out.step(1)["response"], json!({"state": "paid"}));
}

#[test]
fn a_name_given_twice_is_refused_pointing_at_both() {
    let spec = shop(
        "https://shop.example",
        "ORDERS_CREATE:\n  aliases: [ORDER]",
        "ORDERS_GET:\n  aliases: [ORDER, ORDERS_CREATE]",
        "  - {action: ORDER, params: {item: tea}}\n",
    );
    let ws = Workspace::main(&spec);
    let out = ws.runner(["validate", "main.yaml"]).run().code(2);
    assert!(
        out.stderr
            .contains("`ORDER` is already an alias of action `ORDERS_CREATE` (at main.yaml:"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains(
            "`ORDERS_CREATE` is already action `ORDERS_CREATE` of app `shop` (at main.yaml:"
        ),
        "{out:?}"
    );
}
