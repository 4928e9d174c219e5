//! A stand-in GitHub API, Slack Web API and Descope outbound-app token API
//! on 127.0.0.1, shared by the quickstart and the benchmark server. It
//! serves what the shipped specs call, with the same shapes as the real
//! APIs, and keeps state only where a workflow needs it (issue and comment
//! numbers, how often a workflow run was looked at, message timestamps).
//!
//! GitHub:
//! - `POST /repos/{owner}/{repo}/issues`: 201, numbers from 1347 up.
//! - `GET /repos/{owner}/{repo}/issues`: the same 8 issues for every repo,
//!   opened 2 to 60 days ago (one is a pull request, one is already labelled
//!   `stale`), newest first (`direction=asc`: oldest first), at most 3 a page
//!   whatever `per_page` asks, with `Link: <...>; rel="next"` like GitHub's.
//! - `POST .../issues/{n}/comments` (201), `POST .../issues/{n}/labels`
//!   (200, the labels), `PATCH .../issues/{n}` (200, the issue).
//! - `GET /repos/{owner}/{repo}/actions/runs/{run_id}`: `queued`, then
//!   `in_progress`, then `completed` from the third look on; the conclusion
//!   is `success` for an even run id, `failure` for an odd one.
//! - `GET /user`.
//!
//! Slack (every answer HTTP 200; errors are `{"ok": false, "error": ...}`,
//! `not_authed` without a `Bearer` token):
//! - `GET /conversations.list`: 7 channels, at most 3 a page, paged with
//!   `cursor` / `response_metadata.next_cursor` (empty on the last page).
//! - `GET /conversations.members`, `POST /auth.test`.
//! - `POST /chat.postMessage` (JSON or form body): `channel_not_found` for a
//!   channel that is not one of the 7 (by ID, or by name with or without `#`).
//!
//! Descope: the outbound-app token endpoints.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// `/repos/{owner}/{repo}/...`: the owner and the repo.
fn owner_repo(request: &Request) -> (String, String) {
    let mut parts = request.url.path().split('/').skip(2);
    let owner = parts.next().unwrap_or_default().to_string();
    let repo = parts.next().unwrap_or_default().to_string();
    (owner, repo)
}

/// The path segment after `after` (`/issues/42/...` → `42`).
fn segment_after(request: &Request, after: &str) -> Option<u64> {
    let mut parts = request.url.path().split('/');
    parts.find(|p| *p == after)?;
    parts.next()?.parse().ok()
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The request's body as JSON, or its form fields as a JSON object.
fn body(request: &Request) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(&request.body) {
        return v;
    }
    let fields: serde_json::Map<String, Value> = url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    Value::Object(fields)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Seconds since the epoch as GitHub writes times: `2026-11-25T20:50:30Z`.
fn iso(secs: u64) -> String {
    // Days to a civil date (Howard Hinnant's algorithm).
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// Creates issues with increasing numbers, like GitHub does.
struct CreateIssue(AtomicU64);

impl Respond for CreateIssue {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let number = self.0.fetch_add(1, Ordering::SeqCst);
        let (owner, repo) = owner_repo(request);
        let body = body(request);
        let labels: Vec<Value> = body["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| json!({"name": l}))
            .collect();
        ResponseTemplate::new(201).set_body_json(json!({
            "number": number,
            "title": body["title"],
            "body": body["body"],
            "state": "open",
            "labels": labels,
            "created_at": iso(now()),
            "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
        }))
    }
}

/// The open issues of every repository: (number, days since opened, title,
/// labels, is a pull request).
const ISSUES: &[(u64, u64, &str, &[&str], bool)] = &[
    (
        58,
        2,
        "Crash when the config file is empty",
        &["bug"],
        false,
    ),
    (57, 5, "Document the retry settings", &["docs"], false),
    (55, 9, "Dark mode for the settings page", &[], false),
    (54, 14, "Bump serde to 1.0.229", &["dependencies"], true),
    (51, 21, "Timeouts on large uploads", &["bug"], false),
    (47, 33, "Flaky test: resume after a kill", &["stale"], false),
    (44, 45, "Support proxies with authentication", &[], false),
    (40, 60, "Typo in the README", &[], false),
];

/// The most issues a page holds here, whatever `per_page` asks: enough
/// pages to see `Link` pagination at work.
const ISSUES_PER_PAGE: usize = 3;

/// `GET /repos/{owner}/{repo}/issues`, paged like GitHub: `page` and
/// `per_page`, and a `Link` header with `next` and `last`.
struct ListIssues;

impl Respond for ListIssues {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (owner, repo) = owner_repo(request);
        let now = now();
        let mut issues: Vec<Value> = ISSUES
            .iter()
            .map(|&(number, days, title, labels, pull)| {
                let created = iso(now - days * 86_400);
                let mut issue = json!({
                    "number": number,
                    "title": title,
                    "state": "open",
                    "user": {"login": "octocat"},
                    "labels": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
                    "comments": days % 4,
                    "created_at": created,
                    "updated_at": created,
                    "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
                });
                if pull {
                    issue["pull_request"] =
                        json!({"url": format!("https://api.github.com/repos/{owner}/{repo}/pulls/{number}")});
                }
                issue
            })
            .collect();
        if query(request, "direction").as_deref() == Some("asc") {
            issues.reverse();
        }
        let per_page = query(request, "per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, ISSUES_PER_PAGE);
        let page = query(request, "page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let last = issues.len().div_ceil(per_page);
        let items: Vec<Value> = issues
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        // The server's own address, as the client reached it.
        let host = request
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let link_to = |n: usize| {
            let mut url = request.url.clone();
            let _ = url.set_host(Some(host.split(':').next().unwrap_or(host)));
            let _ = url.set_port(host.split(':').nth(1).and_then(|p| p.parse().ok()));
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(&kept)
                .append_pair("page", &n.to_string());
            url.to_string()
        };
        let mut links = Vec::new();
        if page < last {
            links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
            links.push(format!("<{}>; rel=\"last\"", link_to(last)));
        }
        if page > 1 {
            links.push(format!("<{}>; rel=\"first\"", link_to(1)));
        }
        let mut response = ResponseTemplate::new(200).set_body_json(items);
        if !links.is_empty() {
            response = response.insert_header("link", links.join(", ").as_str());
        }
        response
    }
}

/// Comments with increasing ids, echoing their body.
struct CreateComment(AtomicU64);

impl Respond for CreateComment {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = self.0.fetch_add(1, Ordering::SeqCst);
        let (owner, repo) = owner_repo(request);
        let number = segment_after(request, "issues").unwrap_or_default();
        ResponseTemplate::new(201).set_body_json(json!({
            "id": id,
            "body": body(request)["body"],
            "user": {"login": "your-username"},
            "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}#issuecomment-{id}"),
        }))
    }
}

/// The labels added, as GitHub answers: the issue's labels.
struct AddLabels;

impl Respond for AddLabels {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let labels: Vec<Value> = body(request)["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| json!({"name": l}))
            .collect();
        ResponseTemplate::new(200).set_body_json(labels)
    }
}

/// `PATCH .../issues/{n}`: the issue with the changes applied.
struct UpdateIssue;

impl Respond for UpdateIssue {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (owner, repo) = owner_repo(request);
        let number = segment_after(request, "issues").unwrap_or_default();
        let changes = body(request);
        let mut issue = json!({
            "number": number,
            "state": "open",
            "state_reason": null,
            "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
        });
        if let Value::Object(fields) = changes {
            for (k, v) in fields {
                issue[k] = v;
            }
        }
        ResponseTemplate::new(200).set_body_json(issue)
    }
}

/// A workflow run that is queued, then in progress, then completed from
/// the third time it is looked at.
#[derive(Default)]
struct WorkflowRun(Mutex<HashMap<u64, u32>>);

impl Respond for WorkflowRun {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (owner, repo) = owner_repo(request);
        let id = segment_after(request, "runs").unwrap_or_default();
        let looks = {
            let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let n = seen.entry(id).or_default();
            *n += 1;
            *n
        };
        // Runs numbered from a million on have finished already.
        let looks = if id >= 1_000_000 { 3 } else { looks };
        let (status, conclusion) = match looks {
            1 => ("queued", Value::Null),
            2 => ("in_progress", Value::Null),
            _ if id.is_multiple_of(2) => ("completed", json!("success")),
            _ => ("completed", json!("failure")),
        };
        let started = iso(now() - 90);
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id,
            "name": "CI",
            "run_number": 1200 + id % 100,
            "run_attempt": 1,
            "event": "pull_request",
            "head_branch": "fix-retries",
            "head_sha": "4f6c1e2d9a7b3c5e8f0a1b2c3d4e5f6a7b8c9d0e",
            "status": status,
            "conclusion": conclusion,
            "created_at": started,
            "run_started_at": started,
            "updated_at": iso(now()),
            "html_url": format!("https://github.com/{owner}/{repo}/actions/runs/{id}"),
        }))
    }
}

/// Slack's channels: (id, name, members).
const CHANNELS: &[(&str, &str, u64)] = &[
    ("C0100000001", "general", 412),
    ("C0100000002", "random", 388),
    ("C0100000003", "incident-2041-db-failover", 14),
    ("C0100000004", "eng-triage", 37),
    ("C0100000005", "incident-2042-login-errors", 9),
    ("C0100000006", "announcements", 412),
    ("C0100000007", "incident-2043-billing-delay", 6),
];

/// The most channels a page holds here, whatever `limit` asks.
const CHANNELS_PER_PAGE: usize = 3;

fn slack_error(error: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": error}))
}

fn slack_authed(request: &Request) -> bool {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > "Bearer ".len())
}

fn cursor_for(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{offset}"))
}

fn offset_of(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// `GET /conversations.list`, paged with a cursor like Slack's.
struct ListConversations;

impl Respond for ListConversations {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !slack_authed(request) {
            return slack_error("not_authed");
        }
        let offset = match query(request, "cursor").filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) => match offset_of(&c) {
                Some(o) => o,
                None => return slack_error("invalid_cursor"),
            },
        };
        let limit = query(request, "limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(100)
            .clamp(1, CHANNELS_PER_PAGE);
        let channels: Vec<Value> = CHANNELS
            .iter()
            .skip(offset)
            .take(limit)
            .map(|&(id, name, members)| {
                json!({
                    "id": id,
                    "name": name,
                    "is_channel": true,
                    "is_archived": false,
                    "is_member": true,
                    "created": 1_700_000_000 + members,
                    "num_members": members,
                    "topic": {"value": ""},
                    "purpose": {"value": format!("#{name}")},
                })
            })
            .collect();
        let next = if offset + limit < CHANNELS.len() {
            cursor_for(offset + limit)
        } else {
            String::new()
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channels": channels,
            "response_metadata": {"next_cursor": next},
        }))
    }
}

/// `GET /conversations.members`: one page.
struct ListMembers;

impl Respond for ListMembers {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !slack_authed(request) {
            return slack_error("not_authed");
        }
        let channel = query(request, "channel").unwrap_or_default();
        let Some(&(_, _, count)) = CHANNELS.iter().find(|c| c.0 == channel) else {
            return slack_error("channel_not_found");
        };
        let members: Vec<String> = (1..=count.min(5))
            .map(|i| format!("U02000000{i:02}"))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "members": members,
            "response_metadata": {"next_cursor": ""},
        }))
    }
}

/// `POST /chat.postMessage`: a message with increasing timestamps.
struct PostMessage(AtomicU64);

impl Respond for PostMessage {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !slack_authed(request) {
            return slack_error("not_authed");
        }
        let body = body(request);
        let wanted = body["channel"].as_str().unwrap_or_default();
        let name = wanted.trim_start_matches('#');
        let Some(&(id, _, _)) = CHANNELS.iter().find(|c| c.0 == wanted || c.1 == name) else {
            return slack_error("channel_not_found");
        };
        let text = body["text"].as_str().unwrap_or_default();
        if text.is_empty() && body["blocks"].is_null() {
            return slack_error("no_text");
        }
        let ts = format!("{}.{:06}", now(), self.0.fetch_add(1, Ordering::SeqCst));
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channel": id,
            "ts": ts,
            "message": {"type": "message", "text": text, "ts": ts, "bot_id": "B0300000001"},
        }))
    }
}

/// Linear's GraphQL API, served under `/linear` (GitHub has `/graphql`
/// too): issues paged 2 at a time by `after`, comments on them.
struct LinearGraphql(AtomicU64);

impl Respond for LinearGraphql {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let errors = |message: &str| {
            ResponseTemplate::new(200)
                .set_body_json(json!({"errors": [{"message": message}], "data": null}))
        };
        if !request.headers.contains_key("authorization") {
            return errors("Authentication required, not authenticated");
        }
        let body = body(request);
        let query = body["query"].as_str().unwrap_or_default();
        let variables = &body["variables"];
        if query.contains("issues(") {
            let team = variables["filter"]["team"]["key"]["eq"]
                .as_str()
                .unwrap_or("ENG")
                .to_string();
            let page = match variables["after"].as_str() {
                None => 0,
                Some("cursor-1") => 1,
                Some("cursor-2") => 2,
                Some(_) => return errors("Argument Validation Error: after is not a valid cursor"),
            };
            let nodes: Vec<Value> = (0..2)
                .map(|i| {
                    let n = 101 + page * 2 + i;
                    json!({
                        "id": format!("lin-issue-{n}"),
                        "identifier": format!("{team}-{n}"),
                        "title": format!("Urgent thing {n}"),
                        "url": format!("https://linear.app/acme/issue/{team}-{n}"),
                        "priority": 1,
                        "createdAt": iso(now() - 86_400 * (3 + n)),
                        "state": {"name": "Todo", "type": "unstarted"},
                        "team": {"key": team},
                    })
                })
                .collect();
            let more = page < 2;
            return ResponseTemplate::new(200).set_body_json(json!({"data": {"issues": {
                "nodes": nodes,
                "pageInfo": {
                    "hasNextPage": more,
                    "endCursor": if more { Some(format!("cursor-{}", page + 1)) } else { None },
                },
            }}}));
        }
        if query.contains("commentCreate") {
            let Some(issue) = variables["input"]["issueId"].as_str() else {
                return errors("Argument Validation Error: issueId must be a UUID");
            };
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(200).set_body_json(json!({"data": {"commentCreate": {
                "success": true,
                "comment": {"id": format!("lin-comment-{n}"), "url": format!("https://linear.app/acme/issue/{issue}#comment-{n}")},
            }}}));
        }
        if query.contains("teams") {
            return ResponseTemplate::new(200).set_body_json(json!({"data": {"teams": {"nodes": [
                {"id": "lin-team-1", "key": "ENG", "name": "Engineering"}
            ]}}}));
        }
        errors("Cannot query this field on the stand-in")
    }
}

pub async fn start() -> MockServer {
    let server = MockServer::start().await;
    // GitHub.
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues$"))
        .respond_with(CreateIssue(AtomicU64::new(1347)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues$"))
        .respond_with(ListIssues)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues/\d+$"))
        .respond_with(UpdateIssue)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues/\d+/comments$"))
        .respond_with(CreateComment(AtomicU64::new(2_000_000_001)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/issues/\d+/labels$"))
        .respond_with(AddLabels)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/actions/runs/\d+$"))
        .respond_with(WorkflowRun::default())
        .mount(&server)
        .await;
    Mock::given(path("/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": "your-username"})))
        .mount(&server)
        .await;
    // Slack's Web API.
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(PostMessage(AtomicU64::new(100)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/conversations.list"))
        .respond_with(ListConversations)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/conversations.members"))
        .respond_with(ListMembers)
        .mount(&server)
        .await;
    Mock::given(path("/auth.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "runner-bot",
            "team_id": "T0100000001",
            "user_id": "U0100000001",
            "bot_id": "B0300000001",
        })))
        .mount(&server)
        .await;
    // Linear's GraphQL API.
    Mock::given(method("POST"))
        .and(path("/linear/graphql"))
        .respond_with(LinearGraphql(AtomicU64::new(1)))
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
    server
}
