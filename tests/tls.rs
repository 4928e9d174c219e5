//! TLS and proxies: certificates are checked (a private CA is trusted only
//! with `--cacert`; `--insecure` warns on every run), and `HTTP_PROXY` /
//! `NO_PROXY` are honoured. Servers run in-process on 127.0.0.1.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::pem::PemObject};

use crate::harness::specs::Spec;
use crate::harness::{RequestExt, Server, Workspace, json_reply};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

/// An HTTPS server for `localhost` with a certificate from the test CA;
/// answers every request with a small JSON body and counts them.
async fn tls_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(format!("{FIXTURES}/server.pem"))
        .expect("server cert")
        .collect::<Result<Vec<_>, _>>()
        .expect("server cert");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(format!("{FIXTURES}/server.key"))
        .expect("server key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                // A failed handshake (an untrusted certificate) just ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = br#"{"login":"octo"}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, served)
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
        .await
        .code(0);
    assert_eq!(proxy.received().await.len(), 1);
    assert_eq!(direct.received().await.len(), 1);
}
