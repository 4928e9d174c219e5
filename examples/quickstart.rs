//! The whole flow in one command, offline: a stand-in GitHub API (and a
//! stand-in Descope) on 127.0.0.1, and `specs/github.yaml` applied against it.
//!
//!     cargo run --example quickstart              # token from the environment
//!     cargo run --example quickstart -- --descope # token from Descope

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use runner::report::{Format, Out};

#[path = "support/stand_in.rs"]
mod stand_in;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let descope = std::env::args().any(|a| a == "--descope");
    let spec = if descope {
        "specs/github-descope.yaml"
    } else {
        "specs/github.yaml"
    };
    let server = stand_in::start().await;
    println!("stand-in API listening on {}", server.uri());
    println!("applying {spec}\n");

    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    env.insert(
        "GITHUB_TOKEN".into(),
        "ghp_demoTokenForTheStandIn0000".into(),
    );
    env.insert("DESCOPE_PROJECT_ID".into(), "P2demoProject".into());
    env.insert(
        "DESCOPE_MANAGEMENT_KEY".into(),
        "K2demoManagementKey".into(),
    );
    env.insert("DESCOPE_BASE_URL".into(), server.uri());
    let options = runner::Options {
        env: Arc::new(env),
        base_urls: vec![("github".into(), server.uri())],
        ..Default::default()
    };
    let workflow = match runner::load(Path::new(spec)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return e.exit_code();
        }
    };
    let out = Out::new(options.redactor.clone());
    let mut sink = runner::report::sink(Format::Text, &out, Some(&workflow));
    let report = match runner::apply(&workflow, &options, sink.as_mut()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return e.exit_code();
        }
    };
    sink.finish(&report);

    println!("\nthe stand-in received (secrets masked):");
    for r in server.received_requests().await.unwrap_or_default() {
        let auth = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let line = format!(
            "  {} {}  authorization: {}  body: {}",
            r.method,
            r.url.path(),
            auth,
            String::from_utf8_lossy(&r.body)
        );
        out.stdout(&line);
    }
    std::process::ExitCode::from(report.exit_code())
}
