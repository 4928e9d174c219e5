//! TLS and proxies: certificates are checked (a private CA is trusted only
//! with `--cacert`; `--insecure` warns on every run), and `HTTP_PROXY` /
//! `NO_PROXY` are honoured. Servers run in-process on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crate::harness;
use crate::harness::specs::Spec;
use crate::harness::tls::FIXTURES;
use crate::harness::{RequestExt, Server, Workspace, json_reply};

/// An HTTPS server answering as GitHub's `/user` would.
async fn tls_server() -> (u16, Arc<AtomicUsize>) {
    harness::tls::tls_server(br#"{"login":"octo"}"#).await
}

/// Bearer auth from `TOKEN`, and one step that is not retried.
const REST: &str = r#"auth:
  api:
    parameters: [{name: Authorization, in: header, value: "Bearer {{ env.TOKEN }}"}]
steps:
  - action: ME
    retry: {attempts: 1}
"#;

/// One GET.
const ACTIONS: &str = r#"ME: {method: GET, path: /user}
"#;

fn spec(base: &str) -> String {
    Spec::app("api", base).actions(ACTIONS).then(REST).build()
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_are_checked_and_a_private_ca_needs_cacert() {
    let (port, served) = tls_server().await;
    let ws = Workspace::new().file("s.yaml", &spec(&format!("https://localhost:{port}")));

    ws.runner(["apply", "s.yaml", "--no-journal"])
        .env("TOKEN", "tls-token-value")
        .await
        .code(1)
        .stdout_has("certificate");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 0);

    ws.runner([
        "apply",
        "s.yaml",
        "--no-journal",
        "--cacert",
        &format!("{FIXTURES}/ca.pem"),
    ])
    .env("TOKEN", "tls-token-value")
    .await
    .code(0);
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);

    let out = ws
        .runner(["apply", "s.yaml", "--no-journal", "--insecure"])
        .env("TOKEN", "tls-token-value")
        .await
        .code(0)
        .stderr_has("warning: `--insecure`: TLS certificates are not checked");
    assert!(!out.all().contains("tls-token-value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_proxy_and_no_proxy_are_honoured() {
    let proxy = Server::start().await;
    let direct = Server::start().await;
    for server in [&proxy, &direct] {
        server
            .reply("GET", json_reply(200, serde_json::json!({})))
            .await;
    }
    let port = direct.port();
    let ws = Workspace::new().file(
        "s.yaml",
        &format!(
            "version: 1\napps:\n  api:\n    base_url: http://api.example.test:{port}\n    actions:\n      ME: {{method: GET, path: /user}}\nsteps:\n  - action: ME\n"
        ),
    );
    let resolve = format!("api.example.test:{port}:127.0.0.1");

    ws.runner(["apply", "s.yaml", "--no-journal", "--resolve", &resolve])
        .env("HTTP_PROXY", proxy.uri())
        .await
        .code(0);
    let via_proxy = proxy.received().await;
    assert_eq!(via_proxy.len(), 1);
    assert_eq!(
        via_proxy[0].header("host"),
        Some(&*format!("api.example.test:{port}"))
    );
    assert!(direct.received().await.is_empty());

    ws.runner(["apply", "s.yaml", "--no-journal", "--resolve", &resolve])
        .env("HTTP_PROXY", proxy.uri())
        .env("NO_PROXY", "api.example.test")
        .sends(&proxy, 1)
        .await;
    assert_eq!(direct.received().await.len(), 1);
}
