//! `paginate`: `Link: <...>; rel="next"` and cursor pagination, where it
//! stops (no next page, an empty cursor, an empty page, `max_pages` with a
//! warning), `items:` when the body is not a list, and auth dropped on a
//! next page at another origin.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;
use wiremock::matchers::query_param;

use super::{TOKEN, apply_json, assert_failed, step, workspace};
use crate::harness::{RequestExt, Server, json_reply};

/// Page `n` of a list: two items, and a `Link` to page `n + 1` unless `n`
/// is `last`.
fn page(base: &str, n: u64, last: u64) -> ResponseTemplate {
    let reply = json_reply(200, json!([{"n": 2 * n - 1}, {"n": 2 * n}]));
    if n < last {
        reply.insert_header(
            "Link",
            format!(
                r#"<{base}/items?page={}>; rel="next", <{base}/items?page={last}>; rel="last""#,
                n + 1
            )
            .as_str(),
        )
    } else {
        reply
    }
}

/// A server listing pages 1 (no `page` param) to `last`; page `empty`, if
/// any, is an empty list that still links to the next page.
async fn paged(last: u64, empty: Option<u64>) -> Server {
    let server = Server::start().await;
    let base = server.uri();
    for n in (2..=last).rev() {
        let reply = if empty == Some(n) {
            json_reply(200, json!([])).insert_header(
                "Link",
                format!(r#"<{base}/items?page={}>; rel="next""#, n + 1).as_str(),
            )
        } else {
            page(&base, n, last)
        };
        Server::given("GET /items")
            .and(query_param("page", n.to_string()))
            .respond_with(reply)
            .mount(&server)
            .await;
    }
    server.reply("GET /items", page(&base, 1, last)).await;
    server.reply("PUT", json_reply(200, json!({}))).await;
    server
}

/// The query string of each request the server received.
async fn queries(server: &Server) -> Vec<String> {
    server
        .each_received(|r| format!("{} {}", r.url.path(), r.url.query().unwrap_or_default()))
        .await
}

const ALL: &str = r#"steps:
  - id: all
    action: LIST_ITEMS
    paginate:
      next: link
      max_pages: MAX
  - id: use
    action: UPDATE_ITEM
    params: {id: "{{ steps.all.pages }}", name: "{{ steps.all.items | map(attribute='n') | join(',') }}"}
outputs:
  total: "{{ steps.all.items | length }}"
  pages: "{{ steps.all.pages }}"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn link_pagination_over_five_pages() {
    let server = paged(5, None).await;
    let ws = workspace(&server.uri(), &ALL.replace("MAX", "50"));
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(
        queries(&server).await,
        [
            "/items ",
            "/items page=2",
            "/items page=3",
            "/items page=4",
            "/items page=5",
            "/items/5 ",
        ]
    );
    let received = server.received().await;
    for r in &received[..5] {
        assert_eq!(
            r.header("authorization"),
            Some(&*format!("Bearer {TOKEN}")),
            "{}",
            r.url
        );
    }
    assert_eq!(received[5].json(), json!({"name": "1,2,3,4,5,6,7,8,9,10"}));
    let all = step(&out, "all");
    assert_eq!(all["status"], json!("ok"));
    assert_eq!(all["pages"], json!(5));
    assert_eq!(out.json()["outputs"], json!({"total": 10, "pages": 5}));
    assert!(!out.stderr.contains("max_pages"), "{out:?}");
}

/// A Slack-style page of members with `response_metadata.next_cursor`.
fn members(names: &[&str], cursor: Value) -> ResponseTemplate {
    json_reply(
        200,
        json!({"ok": true, "members": names, "response_metadata": cursor}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn cursor_pagination_over_four_pages_stops_on_an_empty_or_missing_cursor() {
    let steps = r#"steps:
  - id: members
    action: LIST_ITEMS
    paginate:
      next: {param: cursor, value: "{{ response.response_metadata.next_cursor }}"}
      items: "{{ response.members }}"
outputs:
  users: "{{ steps.members.items }}"
  pages: "{{ steps.members.pages }}"
"#;
    // The last page says there is no more with an empty cursor, or with none.
    for last in [json!({"next_cursor": ""}), json!({})] {
        let server = Server::start().await;
        for (cursor, reply) in [
            ("c2", members(&["u3", "u4"], json!({"next_cursor": "c3"}))),
            ("c3", members(&["u5"], json!({"next_cursor": "c4"}))),
            ("c4", members(&["u6"], last.clone())),
        ] {
            Server::given("GET /items")
                .and(query_param("cursor", cursor))
                .respond_with(reply)
                .mount(&server)
                .await;
        }
        server
            .reply(
                "GET /items",
                members(&["u1", "u2"], json!({"next_cursor": "c2"})),
            )
            .await;
        let ws = workspace(&server.uri(), steps);
        let out = apply_json(&ws, &[])
            .await
            .code_for(0, format_args!("{last}"));
        assert_eq!(
            queries(&server).await,
            [
                "/items ",
                "/items cursor=c2",
                "/items cursor=c3",
                "/items cursor=c4"
            ],
            "{last}"
        );
        assert_eq!(
            out.json()["outputs"],
            json!({"users": ["u1", "u2", "u3", "u4", "u5", "u6"], "pages": 4}),
            "{last}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_page_ends_the_pages() {
    let server = paged(6, Some(3)).await;
    let ws = workspace(&server.uri(), &ALL.replace("MAX", "50"));
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(
        queries(&server).await,
        ["/items ", "/items page=2", "/items page=3", "/items/3 "]
    );
    assert_eq!(out.json()["outputs"], json!({"total": 4, "pages": 3}));
    assert!(!out.stderr.contains("max_pages"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn max_pages_stops_with_a_warning() {
    let server = paged(5, None).await;
    let ws = workspace(&server.uri(), &ALL.replace("MAX", "2"));
    let out = apply_json(&ws, &[])
        .await
        .code(0)
        .stderr_has("warning: steps[0] (all): stopped after `max_pages` (2) pages; there are more");
    assert_eq!(
        queries(&server).await,
        ["/items ", "/items page=2", "/items/2 "]
    );
    assert_eq!(out.json()["outputs"], json!({"total": 4, "pages": 2}));
}

#[tokio::test(flavor = "multi_thread")]
async fn items_is_required_when_the_body_is_not_a_list() {
    let server = Server::answering(
        "GET /items",
        json_reply(200, json!({"data": [1, 2], "has_more": false})),
    )
    .await;
    let steps = r#"steps:
  - id: all
    action: LIST_ITEMS
    paginate:
      next: link
@ITEMS@  - id: after
    action: GET_ITEM
    params: {id: "x"}
outputs:
  all: "{{ steps.all.items }}"
"#;
    let ws = workspace(&server.uri(), &steps.replace("@ITEMS@", ""));
    let out = apply_json(&ws, &[]).await.code(1);
    assert_failed(
        &out,
        "all",
        "render",
        "paginate: a page must contribute a list, found an object `{\"data\":[1,2],\"has_more\":false}`; say what each page contributes with `items:`",
    );
    assert_eq!(step(&out, "after")["skip_reason"], json!("earlier_failure"));
    assert_eq!(server.received().await.len(), 1);

    ws.write(
        "main.yaml",
        &super::spec(
            &server.uri(),
            &steps.replace("@ITEMS@", "      items: \"{{ response.data }}\"\n"),
        ),
    );
    server
        .reply("GET /items/x", json_reply(200, json!({})))
        .await;
    let out = apply_json(&ws, &[]).await.code(0);
    assert_eq!(out.json()["outputs"]["all"], json!([1, 2]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_next_link_to_another_origin_drops_auth() {
    let other = Server::answering("GET /items", json_reply(200, json!([{"n": 3}]))).await;
    let first = Server::answering(
        "GET /items",
        json_reply(200, json!([{"n": 1}, {"n": 2}])).insert_header(
            "Link",
            format!(r#"<{}/items?page=2>; rel="next""#, other.uri()).as_str(),
        ),
    )
    .await;
    let steps = r#"steps:
  - id: all
    action: LIST_ITEMS
    paginate: {next: link}
outputs:
  ns: "{{ steps.all.items | map(attribute='n') | list }}"
"#;
    let ws = workspace(&first.uri(), steps);
    let out = apply_json(&ws, &[]).await.code(0);
    let mine = first.received().await;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    let theirs = other.received().await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].url.query(), Some("page=2"));
    assert_eq!(theirs[0].header("authorization"), None);
    assert_eq!(out.json()["outputs"]["ns"], json!([1, 2, 3]));
}
