//! Credentials reach only where they are allowed: never through a proxy
//! for a loopback target, never over plain http to an address that is not
//! loopback whatever name it has, never to a Descope that TLS did not check.
//!
//! - [`url_origin`]: `url_origin:` pins where a step's `url` may lead;
//!   `validate` warns about a step's own auth sent where an answer says.
//! - [`pages`]: a same-origin `Link` next page keeps the query auth the
//!   link leaves out; another origin still gets none.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use crate::harness::leaks::assert_clean;
use crate::harness::tls::{FIXTURES, tls_server};
use crate::harness::{Cmd, Server, Workspace, json_reply};

const TOKEN: &str = "tok-Reach-0123456789abcdef";

fn spec(base: &str) -> String {
    format!(
        "version: 1\napps:\n  api:\n    base_url: {base}\n    retry: {{attempts: 1}}\n    actions:\n      ME: {{method: GET, path: /me}}\nauth:\n  api:\n    parameters:\n      - {{name: Authorization, in: header, value: \"Bearer {{{{ env.TOKEN }}}}\"}}\nsteps:\n  - action: ME\n"
    )
}

/// `runner apply main.yaml --no-journal ARGS` with the token set.
fn apply(ws: &Workspace, args: &[&str]) -> Cmd {
    ws.runner(["apply", "main.yaml", "--no-journal"])
        .args(args)
        .env("TOKEN", TOKEN)
}

/// A server that answers everything: as a proxy, it would relay.
async fn anything() -> Server {
    Server::answering("", json_reply(200, json!({}))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_targets_are_never_proxied() {
    let proxy = anything().await;
    let api = anything().await;
    for host in ["127.0.0.1", "localhost"] {
        let ws = Workspace::main(&spec(&format!("http://{host}:{}", api.port())));
        for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            api.reset().await;
            api.reply("", json_reply(200, json!({}))).await;
            apply(&ws, &[])
                .env(var, proxy.uri())
                .await
                .code_for(0, format_args!("{host} {var}"));
            assert!(
                proxy.received().await.is_empty(),
                "{host} {var}: the proxy got it"
            );
            let got = api.received().await;
            assert_eq!(got.len(), 1, "{host} {var}");
            assert_eq!(
                got[0].headers.get("authorization").unwrap(),
                &format!("Bearer {TOKEN}")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_descope_key_never_goes_through_a_proxy_to_a_loopback_descope() {
    let proxy = anything().await;
    let server = Server::build()
        .reply(
            "POST",
            json_reply(
                200,
                json!({"token": {"accessToken": "tok-Descope-0123456789"}}),
            ),
        )
        .reply("GET", json_reply(200, json!({})))
        .start()
        .await;
    let text = format!(
        "version: 1\napps:\n  github:\n    base_url: {}/api\n    actions:\n      ME: {{method: GET, path: /user}}\nauth:\n  github:\n    descope: {{app_id: github, user_id: u-1}}\nsteps:\n  - action: ME\n",
        server.uri()
    );
    let ws = Workspace::main(&text);
    for var in ["HTTP_PROXY", "ALL_PROXY"] {
        server.reset().await;
        server
            .reply(
                "POST",
                json_reply(
                    200,
                    json!({"token": {"accessToken": "tok-Descope-0123456789"}}),
                ),
            )
            .await;
        server.reply("GET", json_reply(200, json!({}))).await;
        let out = ws
            .runner(["apply", "main.yaml", "--no-journal"])
            .env("DESCOPE_PROJECT_ID", "P2reach")
            .env("DESCOPE_MANAGEMENT_KEY", "mgmt-Reach-0123456789")
            .env("DESCOPE_BASE_URL", server.uri())
            .env(var, proxy.uri())
            .await
            .code_for(0, format_args!("{var}"));
        assert!(proxy.received().await.is_empty(), "{var}: the proxy got it");
        assert_eq!(
            server.requests().await,
            [
                "POST /v1/mgmt/outbound/app/user/token/latest",
                "GET /api/user"
            ]
        );
        assert_clean(&out, &["mgmt-Reach-0123456789", "tok-Descope-0123456789"]);
    }
}

/// Addresses that are not loopback, but that a connection to never
/// leaves this machine: a wrong refusal cannot send anything anywhere.
const NOT_LOOPBACK: &[&str] = &["0.0.0.0", "[::]"];

#[tokio::test(flavor = "multi_thread")]
async fn a_resolve_override_is_judged_by_the_address_connected_to() {
    let api = anything().await;
    let port = api.port();
    let ws = Workspace::main(&spec(&format!("http://localhost:{port}")));
    for addr in NOT_LOOPBACK {
        let resolve = format!("localhost:{port}:{addr}");
        apply(&ws, &["--resolve", &resolve])
            .await
            .code_for(2, format_args!("{resolve}"))
            .stderr_has("refusing to send credentials over plain http to `localhost`");
        assert!(api.received().await.is_empty(), "{resolve}");
    }
    // `--allow-http` says yes (0.0.0.0 reaches the server on 127.0.0.1).
    let resolve = format!("localhost:{port}:0.0.0.0");
    apply(&ws, &["--resolve", &resolve, "--allow-http"])
        .await
        .code_for(0, format_args!("{resolve}"));
    api.reset().await;
    api.reply("", json_reply(200, json!({}))).await;
    // An override for another port does not apply, and one to
    // loopback is loopback.
    for resolve in [
        format!("localhost:{}:0.0.0.0", port.wrapping_add(1)),
        format!("localhost:{port}:127.0.0.1"),
    ] {
        apply(&ws, &["--resolve", &resolve])
            .await
            .code_for(0, format_args!("{resolve}"));
    }
    assert_eq!(api.received().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_name_pointed_at_loopback_still_needs_allow_http() {
    let api = anything().await;
    let port = api.port();
    let ws = Workspace::main(&spec(&format!("http://api.example.test:{port}")));
    let resolve = format!("api.example.test:{port}:127.0.0.1");
    let refusal = "refusing to send credentials over plain http to `api.example.test`";
    apply(&ws, &["--resolve", &resolve])
        .refused(&api, refusal)
        .await;
    apply(&ws, &["--resolve", &resolve, "--allow-http"])
        .sends(&api, 1)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resolve_override_for_descope_is_judged_by_its_address_too() {
    let server = anything().await;
    let port = server.port();
    let text = "version: 1\napps:\n  github:\n    base_url: https://api.example.com\n    actions:\n      ME: {method: GET, path: /user}\nauth:\n  github:\n    descope: {app_id: github, user_id: u-1}\nsteps:\n  - action: ME\n";
    let ws = Workspace::main(text);
    for addr in NOT_LOOPBACK {
        let resolve = format!("localhost:{port}:{addr}");
        let out = ws
            .runner(["apply", "main.yaml", "--no-journal", "--resolve", &resolve])
            .env("DESCOPE_PROJECT_ID", "P2reach")
            .env("DESCOPE_MANAGEMENT_KEY", "mgmt-Reach-0123456789")
            .env("DESCOPE_BASE_URL", format!("http://localhost:{port}"))
            .await
            .code_for(2, format_args!("{resolve}"))
            .stderr_has("descope: refusing to send credentials over plain http to `localhost`");
        assert!(server.received().await.is_empty());
        assert_clean(&out, &["mgmt-Reach-0123456789"]);
    }
}

// --------------------------------------------------------- Descope's TLS

/// Descope over HTTPS: answers every request it can read with a token.
async fn descope_over_tls() -> (u16, std::sync::Arc<AtomicUsize>) {
    tls_server(br#"{"token":{"accessToken":"tok-OverTls-0123456789"}}"#).await
}

#[tokio::test(flavor = "multi_thread")]
async fn descope_tls_is_verified_even_with_insecure_and_honours_cacert() {
    let (port, served) = descope_over_tls().await;
    let api = anything().await;
    let text = format!(
        "version: 1\napps:\n  github:\n    base_url: {}/api\n    actions:\n      ME: {{method: GET, path: /user}}\nauth:\n  github:\n    descope: {{app_id: github, user_id: u-1}}\nsteps:\n  - action: ME\n",
        api.uri()
    );
    let ws = Workspace::main(&text);
    let cacert = format!("{FIXTURES}/ca.pem");
    for (args, code, fetched) in [
        (vec!["--insecure"], 1, 0),
        (vec![], 1, 0),
        (vec!["--cacert", &cacert], 0, 1),
        (vec!["--cacert", &cacert, "--insecure"], 0, 1),
    ] {
        served.store(0, Ordering::SeqCst);
        api.reset().await;
        api.reply("", json_reply(200, json!({}))).await;
        let out = ws
            .runner(["apply", "main.yaml", "--no-journal"])
            .args(&args)
            .env("DESCOPE_PROJECT_ID", "P2reach")
            .env("DESCOPE_MANAGEMENT_KEY", "mgmt-Reach-0123456789")
            .env("DESCOPE_BASE_URL", format!("https://localhost:{port}"))
            .await
            .code_for(code, format_args!("{args:?}"));
        assert_eq!(served.load(Ordering::SeqCst), fetched, "{args:?}: {out:?}");
        let sent = api.received().await;
        if code == 0 {
            assert_eq!(sent.len(), 1, "{args:?}");
            assert_eq!(
                sent[0].headers.get("authorization").unwrap(),
                "Bearer tok-OverTls-0123456789"
            );
        } else {
            assert!(sent.is_empty(), "{args:?}: {out:?}");
            assert!(out.stdout.contains("certificate"), "{args:?}: {out:?}");
        }
        assert_clean(&out, &["mgmt-Reach-0123456789", "tok-OverTls-0123456789"]);
    }
}

// ================================================================ url_origin

mod url_origin {
    use serde_json::json;

    use crate::harness::specs::{ITEMS_TOKEN as TOKEN, items_api as spec};
    use crate::harness::{Run, Server, Workspace, json_reply};

    /// `start` asks for an upload URL; `put` sends to it, with its own
    /// auth (`UPLOAD_TOKEN`) when `own_auth`, pinned by `origin` when given.
    fn upload_steps(url: &str, origin: Option<&str>, own_auth: bool) -> String {
        let origin = origin
            .map(|o| format!("    url_origin: {o}\n"))
            .unwrap_or_default();
        let auth = if own_auth {
            "    auth:\n      parameters:\n        - {name: Authorization, in: header, value: \"Bearer {{ env.UPLOAD_TOKEN }}\"}\n"
        } else {
            ""
        };
        format!(
            r#"steps:
  - id: start
    action: START_UPLOAD
  - id: put
    action: UPLOAD
    url: "{url}"
{origin}    params: {{name: report.csv}}
{auth}"#
        )
    }

    const FROM_ANSWER: &str = "{{ steps.start.response.upload_url }}";
    const UPLOAD_TOKEN: &str = "upload_Writes0123456789";

    async fn apply(ws: &Workspace) -> Run {
        ws.runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
            .env("API_TOKEN", TOKEN)
            .env("UPLOAD_TOKEN", UPLOAD_TOKEN)
            .await
    }

    /// An API whose `start` answers with `upload_url`.
    async fn api(upload_url: &str) -> Server {
        Server::answering(
            "POST /uploads",
            json_reply(200, json!({"upload_url": upload_url})),
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_url_outside_url_origin_fails_its_step_with_nothing_sent() {
        let uploads = Server::answering("PUT /u/1", json_reply(200, json!({"ok": true}))).await;
        let port = uploads.port();
        let upload_url = format!("http://127.0.0.1:{port}/u/1?sig=abc");
        let api = api(&upload_url).await;
        for (origin, own_auth, leads_to) in [
            // Another port: the API's own origin.
            (api.uri(), true, format!("http://127.0.0.1:{port}")),
            // Another host name for the same socket.
            (
                format!("http://localhost:{port}"),
                true,
                format!("http://127.0.0.1:{port}"),
            ),
            // Another scheme, and the app's auth rather than the step's.
            (
                format!("https://127.0.0.1:{port}"),
                false,
                format!("http://127.0.0.1:{port}"),
            ),
        ] {
            let ws = Workspace::main(&spec(
                &api.uri(),
                &upload_steps(FROM_ANSWER, Some(&origin), own_auth),
            ));
            let out = apply(&ws).await.code_for(1, format_args!("{origin}"));
            assert_eq!(out.step(1)["error_kind"], json!("render"), "{out:?}");
            let shown = origin.trim_end_matches('/');
            assert!(
                out.step_error(1).contains(&format!(
                    "`url` leads to `{leads_to}`, outside `url_origin` (`{shown}`); nothing was sent"
                )),
                "{origin}: {out:?}"
            );
            assert!(
                uploads.received().await.is_empty(),
                "{origin}: the upload server was sent to"
            );
        }
        assert_eq!(
            api.requests().await,
            ["POST /uploads", "POST /uploads", "POST /uploads"]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_url_known_before_the_run_outside_url_origin_stops_it_with_exit_2() {
        let other = Server::start().await;
        let api = api("unused").await;
        let url = format!("{}/u/1", other.uri());
        let message = format!(
            "`url` leads to `{}`, outside `url_origin` (`https://uploads.example.com`)",
            other.uri()
        );
        // Written out (`validate` refuses it), or from a var (the checks
        // before the run do).
        for (written, vars, validated) in [
            (url.clone(), String::new(), 2),
            (
                "{{ vars.upload }}".to_string(),
                format!("vars:\n  upload: {url}\n"),
                0,
            ),
        ] {
            for own_auth in [true, false] {
                let steps = upload_steps(&written, Some("https://uploads.example.com"), own_auth);
                let ws = Workspace::main(&spec(&api.uri(), &format!("{vars}{steps}")));
                let out = apply(&ws).await.code_for(2, format_args!("{written}"));
                assert!(out.all().contains(&message), "{written}: {out:?}");
                ws.runner(["validate", "main.yaml"])
                    .run()
                    .code_for(validated, format_args!("{written}"));
            }
        }
        assert!(api.received().await.is_empty(), "exit 2 must send nothing");
        assert!(other.received().await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_url_inside_url_origin_is_sent_with_the_steps_auth() {
        let uploads = Server::answering("PUT /u/1", json_reply(200, json!({"ok": true}))).await;
        let api = api(&format!("{}/u/1?sig=abc", uploads.uri())).await;
        let origin = uploads.uri();
        for pinned in [origin.clone(), format!("{origin}/")] {
            let ws = Workspace::main(&spec(
                &api.uri(),
                &upload_steps(FROM_ANSWER, Some(&pinned), true),
            ));
            apply(&ws).await.code_for(0, format_args!("{pinned}"));
        }
        let got = uploads.received().await;
        assert_eq!(got.len(), 2);
        for put in &got {
            assert_eq!(put.url.query(), Some("sig=abc"));
            assert_eq!(
                put.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok()),
                Some(&*format!("Bearer {UPLOAD_TOKEN}"))
            );
        }
    }

    #[test]
    fn validate_warns_when_a_steps_own_auth_goes_where_an_answer_says() {
        let warning =
            "sends its own `auth:` to the `url` an earlier response gives, whatever origin that is";
        let validate = |steps: &str| {
            Workspace::main(&spec("https://api.example.com", steps))
                .runner(["validate", "main.yaml"])
                .run()
        };
        for url in [
            FROM_ANSWER,
            "https://{{ steps.start.response.bucket }}.files.example.com/upload",
        ] {
            let out = validate(&upload_steps(url, None, true)).code(0);
            assert!(
                out.stderr
                    .contains(&format!("warning: steps[1] (put) {warning}")),
                "{url}: {out:?}"
            );
            assert!(
                out.stderr.contains(
                    "= help: pin the origin the answer may name: `url_origin: https://uploads.example.com`"
                ),
                "{url}: {out:?}"
            );
        }
        for (steps, why) in [
            (
                upload_steps(FROM_ANSWER, Some("https://uploads.example.com"), true),
                "pinned by url_origin",
            ),
            (
                upload_steps(FROM_ANSWER, None, false),
                "the app's auth, which stays on its origin",
            ),
            (
                upload_steps("https://uploads.example.com/u/1", None, true),
                "a URL written in the spec",
            ),
        ] {
            let out = validate(&steps).code_for(0, format_args!("{why}"));
            assert!(!out.stderr.contains(warning), "{why}: {out:?}");
        }
    }
}

// ===================================================================== pages

mod pages {
    use wiremock::matchers::query_param;
    use wiremock::{Mock, ResponseTemplate};

    use crate::harness::specs::items_api_with_auth as spec_with_auth;
    use crate::harness::{Run, Server, Workspace, json_reply};
    use serde_json::json;

    const KEY: &str = "key_Writes0123456789abcdef";
    const SIG: &str = "sig_Writes0123456789abcdef";

    /// Auth by two query parameters, `api_key` and `sig`.
    const QUERY_AUTH: &str = r#"      - {name: api_key, in: query, value: "{{ env.API_KEY }}"}
      - {name: sig, in: query, value: "{{ env.API_SIG }}"}"#;

    const PAGED: &str = r#"steps:
  - id: all
    action: LIST
    paginate: {next: link}
outputs:
  ns: "{{ steps.all.items | map(attribute='n') | list }}"
"#;

    fn page(n: u64, link: Option<String>) -> ResponseTemplate {
        let reply = json_reply(200, json!([{"n": n}]));
        match link {
            Some(link) => reply.insert_header("Link", format!(r#"<{link}>; rel="next""#).as_str()),
            None => reply,
        }
    }

    /// The query pairs of every request `server` received, in order.
    async fn queries(server: &Server) -> Vec<Vec<(String, String)>> {
        server
            .each_received(|r| r.url.query_pairs().into_owned().collect())
            .await
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    async fn apply(ws: &Workspace) -> Run {
        ws.runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
            .env("API_KEY", KEY)
            .env("API_SIG", SIG)
            .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_same_origin_next_page_keeps_the_query_auth_its_link_leaves_out() {
        let server = Server::start().await;
        let base = server.uri();
        // An API that authenticates by query: without both, 401.
        let authed = |n: &str| {
            Mock::given(wiremock::matchers::method("GET"))
                .and(wiremock::matchers::path("/items"))
                .and(query_param("api_key", KEY))
                .and(query_param("sig", SIG))
                .and(query_param("page", n))
        };
        // Page 2's link (relative) carries neither; page 3's (absolute)
        // carries `api_key` and another param; page 4's carries `sig` only.
        authed("2")
            .respond_with(page(
                2,
                Some(format!("{base}/items?page=3&api_key={KEY}&per=1")),
            ))
            .mount(&server)
            .await;
        authed("3")
            .respond_with(page(3, Some(format!("/items?sig={SIG}&page=4"))))
            .mount(&server)
            .await;
        authed("4").respond_with(page(4, None)).mount(&server).await;
        Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path("/items"))
            .and(query_param("api_key", KEY))
            .and(query_param("sig", SIG))
            .respond_with(page(1, Some("/items?page=2".into())))
            .with_priority(10)
            .mount(&server)
            .await;
        Server::given("GET /items")
            .respond_with(json_reply(401, json!({"message": "no key"})))
            .with_priority(20)
            .mount(&server)
            .await;
        let ws = Workspace::main(&spec_with_auth(&base, QUERY_AUTH, PAGED));
        let out = apply(&ws).await.code(0);
        assert_eq!(out.json()["outputs"]["ns"], json!([1, 2, 3, 4]));
        assert_eq!(
            queries(&server).await,
            [
                pairs(&[("api_key", KEY), ("sig", SIG)]),
                pairs(&[("page", "2"), ("api_key", KEY), ("sig", SIG)]),
                pairs(&[("page", "3"), ("api_key", KEY), ("per", "1"), ("sig", SIG)]),
                pairs(&[("sig", SIG), ("page", "4"), ("api_key", KEY)]),
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_next_page_at_another_origin_gets_no_query_auth() {
        let other = Server::start().await;
        for link in [
            format!("{}/items?page=2", other.uri()),
            // A link that names the key itself loses it too.
            format!("{}/items?page=2&api_key={KEY}", other.uri()),
        ] {
            other.reset().await;
            other.reply("GET /items", page(2, None)).await;
            let first = Server::answering("GET /items", page(1, Some(link.clone()))).await;
            let ws = Workspace::main(&spec_with_auth(&first.uri(), QUERY_AUTH, PAGED));
            let out = apply(&ws).await.code_for(0, format_args!("{link}"));
            assert_eq!(out.json()["outputs"]["ns"], json!([1, 2]));
            assert_eq!(
                queries(&first).await,
                [pairs(&[("api_key", KEY), ("sig", SIG)])]
            );
            assert_eq!(queries(&other).await, [pairs(&[("page", "2")])], "{link}");
        }
    }
}
