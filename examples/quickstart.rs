//! The whole flow in one command, offline: a stand-in GitHub API (and a
//! stand-in Descope and Slack) on 127.0.0.1, and `specs/github.yaml` applied
//! against it.
//!
//!     cargo run --example quickstart              # token from the environment
//!     cargo run --example quickstart -- --descope # token from Descope
//!
//! Any other spec that calls GitHub, Slack or Linear runs the same way, with its
//! inputs (and vars) given as `runner apply` takes them:
//!
//!     cargo run --example quickstart -- specs/weekly-triage.yaml --input owner=acme --input 'repos=[api, web]'

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use runner::report::{Format, Out};

#[path = "support/stand_in.rs"]
mod stand_in;

/// What the command line asks for.
struct Args {
    spec: String,
    inputs: Vec<(String, String)>,
    vars: Vec<(String, String)>,
}

fn args() -> Result<Args, String> {
    let mut spec = None;
    let mut descope = false;
    let (mut inputs, mut vars) = (Vec::new(), Vec::new());
    let mut rest = std::env::args().skip(1);
    let pair = |flag: &str, value: Option<String>| {
        let value = value.ok_or_else(|| format!("`{flag}` needs NAME=VALUE"))?;
        match value.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("`{flag}` needs NAME=VALUE, found `{value}`")),
        }
    };
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--descope" => descope = true,
            "--input" => inputs.push(pair("--input", rest.next())?),
            "--var" => vars.push(pair("--var", rest.next())?),
            other if other.starts_with("--input=") => inputs.push(pair(
                "--input",
                Some(other["--input=".len()..].to_string()),
            )?),
            other if other.starts_with("--var=") => {
                vars.push(pair("--var", Some(other["--var=".len()..].to_string()))?)
            }
            other if other.starts_with('-') => {
                return Err(format!(
                    "unknown option `{other}`; expected [SPEC] [--descope] [--input NAME=VALUE]... [--var NAME=VALUE]..."
                ));
            }
            other if spec.is_none() => spec = Some(other.to_string()),
            other => return Err(format!("one spec at a time, found `{other}` too")),
        }
    }
    let spec = spec.unwrap_or_else(|| {
        if descope {
            "specs/github-descope.yaml".to_string()
        } else {
            "specs/github.yaml".to_string()
        }
    });
    Ok(Args { spec, inputs, vars })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let Args { spec, inputs, vars } = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let spec = spec.as_str();
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
    env.insert(
        "SLACK_TOKEN".into(),
        "xoxb-demo-token-for-the-stand-in".into(),
    );
    env.insert(
        "LINEAR_API_KEY".into(),
        "lin_api_demoKeyForTheStandIn0000".into(),
    );
    let workflow = match runner::load(Path::new(spec)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return e.exit_code();
        }
    };
    // Every app the stand-in serves that the spec uses goes to it.
    let base_urls = [("github", ""), ("slack", ""), ("linear", "/linear")]
        .into_iter()
        .filter(|(app, _)| workflow.spec.apps.contains_key(*app))
        .map(|(app, prefix)| (app.to_string(), format!("{}{prefix}", server.uri())))
        .collect();
    let options = runner::Options {
        env: Arc::new(env),
        base_urls,
        vars,
        inputs: runner::Inputs {
            args: inputs,
            ..Default::default()
        },
        ..Default::default()
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
        let target = match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_string(),
        };
        let line = format!(
            "  {} {}  authorization: {}  body: {}",
            r.method,
            target,
            auth,
            String::from_utf8_lossy(&r.body)
        );
        out.stdout(&line);
    }
    std::process::ExitCode::from(report.exit_code())
}
