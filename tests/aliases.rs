//! One action, several names: a step may name an action by an alias, a
//! journal written under one name resumes under another, and `runner
//! actions` lists each endpoint once, with its aliases and files.

use serde_json::json;

use crate::harness::specs::Spec;
use crate::harness::{RequestExt, Server, Workspace, json_reply};

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

/// The shipped GitHub catalog `name` (under `specs/apps/`).
fn shipped(name: &str) -> String {
    std::fs::read_to_string(format!("{}/specs/apps/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("shipped catalog")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_runs_unchanged_with_either_github_catalog() {
    // One step by Composio's name, one by the generated name.
    let steps = r#"  - id: issue
    action: GITHUB_CREATE_ISSUE
    params: {owner: octo, repo: hello, title: Hi}
  - action: GITHUB_ISSUES_CREATE_COMMENT
    params: {owner: octo, repo: hello, issue_number: "{{ steps.issue.response.number }}", body: Thanks}
"#;
    for catalog in ["github.yaml", "github-rest.yaml"] {
        let server = Server::start().await;
        server
            .reply(
                "POST /repos/octo/hello/issues",
                json_reply(201, json!({"number": 7})),
            )
            .await;
        server
            .reply(
                "POST /repos/octo/hello/issues/7/comments",
                json_reply(201, json!({"id": 1})),
            )
            .await;
        let ws = Workspace::new()
            .file(&format!("apps/{catalog}"), &shipped(catalog))
            .file(
                "main.yaml",
                &format!("version: 1\ninclude: [apps/{catalog}]\nsteps:\n{steps}"),
            );
        let base = format!("github={}", server.uri());
        ws.runner(["apply", "main.yaml", "--no-journal", "--base-url", &base])
            .await
            .code_for(0, catalog);
        let received = server.received().await;
        assert_eq!(
            server.requests().await,
            [
                "POST /repos/octo/hello/issues",
                "POST /repos/octo/hello/issues/7/comments"
            ],
            "{catalog}"
        );
        assert_eq!(received[1].json(), json!({"body": "Thanks"}), "{catalog}");
    }
}

/// Two catalogs of one app that share an endpoint under different names.
fn two_catalogs() -> Workspace {
    Workspace::new()
        .file(
            "specs/apps/generated.yaml",
            r#"version: 1
apps:
  shop:
    base_url: https://shop.example
    actions:
      SHOP_ORDERS_CREATE:
        description: Create an order
        aliases: [SHOP_PLACE_ORDER]
        docs: https://docs.shop.example/orders#create
        method: POST
        path: /orders
        params: {item: {type: string, required: true}}
      SHOP_ORDERS_LIST: {description: List orders, method: GET, path: /orders}
"#,
        )
        .file(
            "specs/apps/curated.yaml",
            r#"version: 1
apps:
  shop:
    base_url: https://shop.example
    actions:
      SHOP_NEW_ORDER:
        description: Place an order
        method: POST
        path: /orders
        params: {item: {type: string, required: true}}
      SHOP_REFUND: {description: Refund an order, method: POST, path: "/orders/{id}/refund", params: {id: {type: string}}}
      SHOP_QUERY_STOCK: {description: Query the stock, method: POST, path: /graphql}
      SHOP_QUERY_PRICES: {description: Query the prices, method: POST, path: /graphql}
"#,
        )
}

#[test]
fn actions_lists_an_endpoint_once_with_its_files_and_aliases() {
    let ws = two_catalogs();
    let out = ws.runner(["actions"]).run().code(0);
    // Actions of one file that share a route (GraphQL's) are two.
    assert!(out.stdout.ends_with("5 actions\n"), "{out:?}");
    assert_eq!(out.stdout.matches("POST /graphql").count(), 2, "{out:?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("POST /orders "))
        .expect("the endpoint's line");
    assert_eq!(
        crate::harness::squash(line),
        "SHOP_NEW_ORDER POST /orders specs/apps/curated.yaml, specs/apps/generated.yaml Place an order (alias SHOP_ORDERS_CREATE, SHOP_PLACE_ORDER)",
    );
    assert_eq!(out.stdout.matches("POST /orders ").count(), 1, "{out:?}");
    let listed = ws
        .runner(["actions", "specs/apps/generated.yaml", "--output", "json"])
        .run()
        .code(0)
        .json();
    assert_eq!(
        listed[0],
        json!({
            "name": "SHOP_ORDERS_CREATE",
            "aliases": ["SHOP_PLACE_ORDER"],
            "app": "shop",
            "method": "POST",
            "path": "/orders",
            "description": "Create an order",
            "docs": "https://docs.shop.example/orders#create",
            "specs": ["specs/apps/generated.yaml"]
        })
    );
}

#[test]
fn describe_finds_an_action_by_alias_and_shows_its_docs() {
    let ws = two_catalogs();
    let out = ws
        .runner(["describe", "SHOP_PLACE_ORDER", "specs/apps/generated.yaml"])
        .run()
        .code(0)
        .stdout_has("SHOP_ORDERS_CREATE  (app `shop`, from specs/apps/generated.yaml)\n")
        .stdout_has("  also named SHOP_PLACE_ORDER\n")
        .stdout_has("  docs: https://docs.shop.example/orders#create\n");
    assert!(!out.stdout.contains("curated"), "{out:?}");
    let doc = ws
        .runner([
            "describe",
            "SHOP_PLACE_ORDER",
            "specs/apps/generated.yaml",
            "--output",
            "json",
        ])
        .run()
        .code(0)
        .json();
    assert_eq!(doc["name"], json!("SHOP_ORDERS_CREATE"));
    assert_eq!(doc["aliases"], json!(["SHOP_PLACE_ORDER"]));
    assert_eq!(
        doc["docs"],
        json!("https://docs.shop.example/orders#create")
    );
    ws.runner(["describe", "SHOP_PLACE_ORDR"])
        .run()
        .code(2)
        .stderr_has("did you mean `SHOP_PLACE_ORDER`?");
}

#[test]
fn a_query_nothing_answers_suggests_the_nearest_actions() {
    let ws = two_catalogs();
    let out = ws
        .runner(["actions", "--query", "refnud ordr"])
        .run()
        .code(0)
        .stderr_has(
            "no action answers `refnud ordr`; the nearest:\n  SHOP_REFUND  Refund an order",
        );
    assert_eq!(out.stdout, "0 actions\n");
    ws.runner(["actions", "--query", "zzzz", "--output", "json"])
        .run()
        .code(0)
        .stdout_has("[]")
        .stderr_has("no action answers `zzzz`, nor any word like its words");
    let out = ws
        .runner(["actions", "--query", "new orders"])
        .run()
        .code(0);
    assert!(out.stdout.starts_with("SHOP_NEW_ORDER "), "{out:?}");
}

#[test]
fn the_two_github_catalogs_give_each_endpoint_the_same_names() {
    let ws = Workspace::new()
        .file("specs/apps/github.yaml", &shipped("github.yaml"))
        .file("specs/apps/github-rest.yaml", &shipped("github-rest.yaml"));
    let listed = |file: &str| {
        ws.runner(["actions", file, "--output", "json"])
            .run()
            .code(0)
            .json()
            .as_array()
            .expect("a list")
            .iter()
            .map(|a| {
                let route = format!("{} {}", a["method"], a["path"]).replace("{+", "{");
                (route, (a["name"].clone(), a["aliases"].clone()))
            })
            .collect::<std::collections::HashMap<_, _>>()
    };
    let curated = listed("specs/apps/github.yaml");
    let generated = listed("specs/apps/github-rest.yaml");
    let mut compared = 0;
    for (route, names) in &curated {
        if route.contains("/graphql") {
            continue;
        }
        assert_eq!(generated.get(route), Some(names), "{route}");
        compared += 1;
    }
    assert_eq!(compared, curated.len() - 1);
    // Both files listed together: each endpoint once, from both files.
    let out = ws.runner(["actions"]).run().code(0);
    assert!(
        out.stdout
            .contains("specs/apps/github-rest.yaml, specs/apps/github.yaml  Create an issue  (alias GITHUB_CREATE_ISSUE)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("1224 actions\n"), "{}", out.stderr);
}
