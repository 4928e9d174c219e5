//! `--shard I/N`: loops marked `shard: true` run the items whose index is I
//! modulo N, so N runs cover every item exactly once; every other step runs
//! in every shard; `shard.index`/`shard.count` are in scope; the report and
//! the default journal say which shard ran; `plan --shard` shows it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{TOKEN, apply_json, item_field, records, workspace};
use crate::harness::{RequestExt, Server, json_reply};

const SHARDED: &str = r#"inputs:
  names: {type: array, default: [n0, n1, n2, n3, n4, n5, n6]}
steps:
  - id: setup
    action: GET_ITEM
    params: {id: "setup-{{ shard.index }}-of-{{ shard.count }}"}
  - id: announce
    if: "{{ shard.index == 0 }}"
    action: GET_ITEM
    params: {id: announce}
  - id: each
    for_each: "{{ inputs.names }}"
    shard: true
    action: CREATE_ITEM
    params: {name: "{{ item }}", tag: "{{ index }}"}
  - id: everywhere
    for_each: [u1, u2]
    action: UPDATE_ITEM
    params: {id: "{{ item }}"}
outputs:
  shard: "{{ shard.index }}/{{ shard.count }}"
  done: "{{ steps.each.items | map(attribute='item') | list }}"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn three_shards_cover_every_item_exactly_once() {
    let server = Server::start().await;
    let ws = workspace(&server.uri(), SHARDED);
    let mut created: BTreeMap<String, usize> = BTreeMap::new();
    let expected_items = [vec![0, 3, 6], vec![1, 4], vec![2, 5]];
    for (i, indexes) in expected_items.iter().enumerate() {
        server.reset().await;
        server_routes(&server).await;
        let shard = format!("{i}/3");
        let out = apply_json(&ws, &["--shard", &shard])
            .await
            .code_for(0, format_args!("{shard}"));
        let doc = out.json();
        assert_eq!(doc["shard"], json!({"index": i, "count": 3}), "{shard}");
        assert_eq!(doc["outputs"]["shard"], json!(shard));
        let names: Vec<Value> = indexes.iter().map(|n| json!(format!("n{n}"))).collect();
        assert_eq!(doc["outputs"]["done"], json!(names), "{shard}");
        assert_eq!(
            item_field(&out, "each", "index"),
            indexes.iter().map(|n| json!(n)).collect::<Vec<_>>()
        );
        assert_eq!(item_field(&out, "everywhere", "status").len(), 2);

        let mut requests = server.requests().await;
        let sent = server.received().await;
        for r in sent.iter().filter(|r| r.method.as_str() == "POST") {
            let body = r.json();
            let name = body["name"].as_str().expect("name").to_string();
            // The index is the item's place in the whole list.
            assert_eq!(body["tag"], json!(name.trim_start_matches('n')));
            *created.entry(name).or_default() += 1;
        }
        requests.retain(|r| r != "POST /items");
        let mut want = vec![format!("GET /items/setup-{i}-of-3")];
        if i == 0 {
            want.push("GET /items/announce".to_string());
        }
        want.extend(["PUT /items/u1".to_string(), "PUT /items/u2".to_string()]);
        assert_eq!(requests, want, "{shard}");

        // Each shard journals on its own.
        let journal = format!(".runner/main.yaml.shard-{i}-of-3.jsonl");
        let posts = records(&ws, &journal)
            .iter()
            .filter(|r| r["action"] == "CREATE_ITEM" && r["state"] == "ok")
            .count();
        assert_eq!(posts, indexes.len(), "{journal}");
    }
    assert!(!ws.exists(".runner/main.yaml.jsonl"));
    let all: BTreeMap<String, usize> = (0..7).map(|n| (format!("n{n}"), 1)).collect();
    assert_eq!(created, all);

    // Without `--shard`: one shard of one, every item, the usual journal.
    server.reset().await;
    server_routes(&server).await;
    let out = apply_json(&ws, &[]).await.code(0);
    let doc = out.json();
    assert!(doc.get("shard").is_none(), "{out:?}");
    assert_eq!(doc["outputs"]["shard"], json!("0/1"));
    assert_eq!(item_field(&out, "each", "index").len(), 7);
    assert!(ws.exists(".runner/main.yaml.jsonl"));
    assert!(
        server
            .requests()
            .await
            .contains(&"GET /items/announce".to_string())
    );
}

/// Every request succeeds.
async fn server_routes(server: &Server) {
    server
        .reply("POST /items", json_reply(201, json!({})))
        .await;
    server.reply("GET", json_reply(200, json!({}))).await;
    server.reply("PUT", json_reply(200, json!({}))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_which_items_a_shard_runs() {
    let ws = workspace("http://127.0.0.1:9", SHARDED);
    let out = ws
        .runner(["plan", "main.yaml", "--shard", "1/3"])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(0)
        .stdout_has("(for each item of 7 items (shard 1 of 3: items 1, 4))")
        .stdout_has("steps[2] (each)[1]  CREATE_ITEM")
        .stdout_has("steps[2] (each)[4]  CREATE_ITEM")
        .stdout_has("GET http://127.0.0.1:9/items/setup-1-of-3")
        .stdout_has("(skipped: if `{{ shard.index == 0 }}` is false)")
        .stdout_has("steps[3] (everywhere)[1]")
        .stdout_has(r#""name": "n4""#);
    for other in [0, 2, 3, 5, 6] {
        assert!(
            !out.stdout.contains(&format!("steps[2] (each)[{other}]")),
            "{out:?}"
        );
    }
    // Shard 1 is not shard 0: the guarded step is skipped.
    // The unsharded loop runs every item in every shard.
    assert!(!out.stdout.contains(r#""name": "n3""#), "{out:?}");

    let out = ws
        .runner(["plan", "main.yaml", "--shard", "1/3", "--output", "json"])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(0);
    let labels: Vec<String> = out.json()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["label"].as_str().unwrap_or_default().to_string())
        .filter(|l| l.starts_with("steps[2]"))
        .collect();
    assert_eq!(labels, ["steps[2] (each)[1]", "steps[2] (each)[4]"]);
}
