//! Sub-workflows (`uses:` + `with:`): inputs bound, outputs become the
//! calling step's, the caller's apps and auth in force, step ids scoped to
//! their file; in a loop; journalled and resumed inside, keyed by the path
//! of ids.

use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

use super::{TOKEN, apply_json, item_field, records, step, workspace};
use crate::harness::{RequestExt, Server, json_reply};

/// A sub-workflow creating an item and checking it: inputs `name` and
/// `label`, outputs `id` and `state`.
const ONE: &str = include_str!("../fixtures/flows/create-and-check.yaml");

/// Creates an item whose id is the name it was given.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        json_reply(201, json!({"id": request.json()["name"]}))
    }
}

async fn server() -> Server {
    Server::build()
        .reply("POST /items", Echo)
        .reply("GET", json_reply(200, json!({"state": "open"})))
        .reply("PUT", json_reply(200, json!({})))
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_workflow_gets_its_inputs_and_gives_its_outputs() {
    let server = server().await;
    let rest = r#"steps:
  - id: create
    action: CREATE_ITEM
    params: {name: outer}
  - id: sub
    uses: flows/one.yaml
    with: {name: "inner-{{ steps.create.response.id }}"}
  - id: after
    action: UPDATE_ITEM
    params: {id: "{{ steps.sub.outputs.id }}", name: "{{ steps.sub.outputs.state }}"}
outputs:
  sub: "{{ steps.sub.outputs }}"
"#;
    let ws = workspace(&server.uri(), rest).file("flows/one.yaml", ONE);
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(
        server.requests().await,
        [
            "POST /items",
            "POST /items",
            "GET /items/inner-outer",
            "PUT /items/inner-outer"
        ]
    );
    let received = server.received().await;
    assert_eq!(
        received[1].json(),
        json!({"name": "inner-outer", "tag": "triage"})
    );
    assert_eq!(received[3].json(), json!({"name": "open"}));
    // The caller's auth, inside the sub-workflow too.
    for r in &received {
        assert_eq!(r.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
    }
    let sub = step(&out, "sub");
    assert_eq!(sub["status"], json!("ok"));
    assert_eq!(sub["action"], json!("uses flows/one.yaml"));
    assert_eq!(
        sub["outputs"],
        json!({"id": "inner-outer", "state": "open"})
    );
    let inner: Vec<_> = sub["steps"]
        .as_array()
        .expect("the sub-workflow's steps")
        .iter()
        .map(|s| (s["id"].clone(), s["status"].clone()))
        .collect();
    assert_eq!(
        inner,
        [
            (json!("create"), json!("ok")),
            (json!("check"), json!("ok"))
        ]
    );
    assert_eq!(
        out.json()["outputs"]["sub"],
        json!({"id": "inner-outer", "state": "open"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_workflow_in_a_loop() {
    let server = server().await;
    let rest = r#"steps:
  - id: each
    for_each: [a, b, c]
    uses: flows/one.yaml
    with: {name: "{{ item }}", label: "bug{{ index }}"}
outputs:
  ids: "{{ steps.each.items | map(attribute='outputs.id') | list }}"
"#;
    let ws = workspace(&server.uri(), rest).file("flows/one.yaml", ONE);
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(
        server.requests().await,
        [
            "POST /items",
            "GET /items/a",
            "POST /items",
            "GET /items/b",
            "POST /items",
            "GET /items/c"
        ]
    );
    assert_eq!(
        server.received().await[4].json(),
        json!({"name": "c", "tag": "bug2"})
    );
    assert_eq!(out.json()["outputs"]["ids"], json!(["a", "b", "c"]));
    assert_eq!(
        item_field(&out, "each", "outputs"),
        [
            json!({"id": "a", "state": "open"}),
            json!({"id": "b", "state": "open"}),
            json!({"id": "c", "state": "open"})
        ]
    );
    for steps in item_field(&out, "each", "steps") {
        assert_eq!(steps.as_array().map(Vec::len), Some(2), "{steps}");
    }
}

/// A sub-workflow creating an item and starting a job named after it.
const TWO: &str = include_str!("../fixtures/flows/create-and-publish.yaml");

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_workflow_is_journalled_and_resumed_inside() {
    let server = Server::build()
        .reply("POST /items", Echo)
        .mock(
            Server::given("POST /jobs")
                .and(wiremock::matchers::body_json(json!({"name": "b"})))
                .respond_with(json_reply(500, json!({"message": "later"}))),
        )
        .reply("POST /jobs", json_reply(201, json!({})))
        .start()
        .await;
    let rest = r#"steps:
  - id: each
    for_each: [a, b]
    uses: flows/two.yaml
    with: {name: "{{ item }}"}
"#;
    let ws = workspace(&server.uri(), rest).file("flows/two.yaml", TWO);
    let out = apply_json(&ws, &[]).await.code(1);
    assert_eq!(server.received().await.len(), 4);
    let each = step(&out, "each");
    assert_eq!(
        each["error"],
        json!(
            "item 1: steps[0] (each)[1].publish: expected a 2xx status, got 500 Internal Server Error: later"
        )
    );

    // Records are keyed by the path of ids: the loop step, the item (by
    // its inputs), the step inside.
    let journal = ".runner/main.yaml.jsonl";
    let recs = records(&ws, journal);
    let keys: Vec<&str> = recs.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    for (i, key) in keys.iter().enumerate() {
        let (head, inner) = key.split_once("].").unwrap_or_else(|| panic!("{key}"));
        let digest = head
            .strip_prefix("each[")
            .unwrap_or_else(|| panic!("{key}"));
        assert!(
            digest.len() == 12 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{key}"
        );
        assert_eq!(
            inner,
            if i % 4 < 2 { "create" } else { "publish" },
            "{keys:?}"
        );
    }
    assert_ne!(keys[0], keys[4], "each item has its own path");
    assert_eq!(
        recs[7]["label"],
        json!("steps[0] (each)[1].steps[1] (publish)")
    );
    assert_eq!(recs[7]["state"], json!("failed"));

    server.reset().await;
    server.reply("POST /items", Echo).await;
    server.reply("POST /jobs", json_reply(201, json!({}))).await;
    let out = apply_json(&ws, &["--resume", journal]).await.code(0);
    let sent = server.received().await;
    assert_eq!(sent.len(), 1, "{out:?}");
    assert_eq!(sent[0].url.path(), "/jobs");
    assert_eq!(sent[0].json(), json!({"name": "b"}));
    assert_eq!(
        item_field(&out, "each", "resumed"),
        [json!(true), json!(false)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_workflow_may_include_catalogs_of_its_own_read_once() {
    let server = Server::build()
        .reply("GET /extra", json_reply(200, json!({"n": 1})))
        .reply("POST /items", Echo)
        .reply("GET", json_reply(200, json!({"state": "open"})))
        .start()
        .await;
    let extra = format!(
        "version: 1\napps:\n  extra:\n    base_url: {}\n    actions:\n      EXTRA_GET: {{method: GET, path: /extra}}\n",
        server.uri()
    );
    // The sub-workflow includes the catalog the caller includes too.
    let own = r#"version: 1
include: [../apps/extra.yaml]
steps:
  - id: get
    action: EXTRA_GET
outputs:
  n: "{{ steps.get.response.n }}"
"#;
    let rest = r#"steps:
  - id: first
    uses: flows/own.yaml
  - id: again
    uses: flows/own.yaml
  - id: one
    uses: flows/one.yaml
    with: {name: "n{{ steps.first.outputs.n + steps.again.outputs.n }}"}
"#;
    let text = super::spec(&server.uri(), rest).replacen(
        "version: 1\n",
        "version: 1\ninclude: [apps/extra.yaml]\n",
        1,
    );
    let ws = crate::harness::Workspace::main(&text)
        .file("apps/extra.yaml", &extra)
        .file("flows/own.yaml", own)
        .file("flows/one.yaml", ONE);
    ws.runner(["validate", "main.yaml"]).run().code(0);
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(
        server.requests().await,
        ["GET /extra", "GET /extra", "POST /items", "GET /items/n2"]
    );
    assert_eq!(step(&out, "again")["outputs"], json!({"n": 1}));
}
