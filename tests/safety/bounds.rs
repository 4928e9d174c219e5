//! Hostile input is refused quickly and within memory; what the runner
//! promises about its output holds even when it stops itself.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::harness::hold::kill9;
use crate::harness::leaks::assert_clean;
use crate::harness::{Run, Server, Workspace, json_reply};

/// Runs `cmd`, killing it if it has not ended within `limit`: `None`
/// then. (A runner that takes longer has already failed the test.)
async fn within(cmd: crate::harness::Cmd, limit: Duration) -> Option<Run> {
    let running = cmd.spawn();
    let pid = running.id();
    let waiting = tokio::spawn(running.wait());
    match tokio::time::timeout(limit, waiting).await {
        Ok(done) => Some(done.expect("join")),
        Err(_) => {
            kill9(pid);
            None
        }
    }
}

/// A spec that is fine but for `vars.deep`, and an app at `base`.
fn with_var(base: &str, deep: &str) -> String {
    format!(
        "version: 1\napps:\n  api:\n    base_url: {base}\n    actions:\n      ME: {{method: GET, path: /me}}\nvars:\n  deep: {deep}\nsteps:\n  - action: ME\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_nesting_is_refused_at_once_at_any_size() {
    let server = Server::start().await;
    let base = server.uri();
    let depth = |open: &str, n: usize| open.repeat(n);
    let size_limit = 8 << 20;
    let head = with_var(&base, "");
    let cases = [
        // 64 KiB of `[` took 10 s before.
        ("64 KiB", with_var(&base, &depth("[", 64 << 10))),
        ("129 lists", with_var(&base, &depth("[", 129))),
        // Behind a tag or an anchor, which the parser reads first.
        (
            "after a tag",
            with_var(&base, &format!("!!seq {}", depth("[", 64 << 10))),
        ),
        (
            "after an anchor",
            with_var(&base, &format!("&deep {}", depth("[", 64 << 10))),
        ),
        (
            "after both",
            with_var(&base, &format!("&deep !!map {}", depth("{a: ", 16 << 10))),
        ),
        (
            "129 mappings",
            with_var(&base, &format!("{}x", depth("{a: ", 129))),
        ),
        ("lists and mappings", with_var(&base, &depth("[{a: ", 65))),
        (
            "closed again",
            with_var(&base, &format!("{}{}", depth("[", 200), depth("]", 200))),
        ),
        (
            "the largest spec read",
            with_var(&base, &depth("[", size_limit - head.len() - 16)),
        ),
        (
            "in a step's params",
            format!(
                "version: 1\napps:\n  api:\n    base_url: {base}\n    actions:\n      ME: {{method: GET, path: /me, params: {{q: {{type: array}}}}}}\nsteps:\n  - action: ME\n    params:\n      q: {}\n",
                depth("[", 1000)
            ),
        ),
    ];
    for (what, text) in cases {
        assert!(text.len() <= size_limit, "{what}");
        let ws = Workspace::main(&text);
        for command in ["validate", "plan", "apply"] {
            let started = Instant::now();
            let out = within(ws.runner([command, "main.yaml"]), Duration::from_secs(3))
                .await
                .unwrap_or_else(|| panic!("{command} on {what} still ran after 3 s"))
                .code_for(2, format_args!("{command} {what}"))
                .stderr_has("nests deeper than 128 levels");
            let took = started.elapsed();
            assert!(
                took < Duration::from_secs(1),
                "{command} {what}: took {took:?}"
            );
            // The document is not echoed back.
            assert!(
                out.stderr.len() < 4096,
                "{command} {what}: {} bytes",
                out.stderr.len()
            );
        }
    }
    assert!(server.received().await.is_empty());
    // In an included file, which is named.
    let ws = Workspace::new()
        .file(
            "deep.yaml",
            &format!("version: 1\nvars:\n  x: {}\n", depth("[", 5000)),
        )
        .file(
            "main.yaml",
            &with_var(&base, "1").replace("version: 1\n", "version: 1\ninclude: [deep.yaml]\n"),
        );
    ws.runner(["validate", "main.yaml"])
        .await
        .code(2)
        .stderr_has("error: the document nests deeper than 128 levels\n  --> deep.yaml:3:");
    // Nesting that stays within the limit is fine.
    let ws = Workspace::main(&with_var(
        &base,
        &format!("{}{}", depth("[", 100), depth("]", 100)),
    ));
    ws.runner(["validate", "main.yaml"]).await.code(0);
}

/// The binary under test with `args`, run in `dir` with its address
/// space capped at 1 GiB (through `sh`'s `ulimit`), so that a runner
/// reading without limit fails at once instead of taking the machine's
/// memory.
fn capped(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(crate::harness::binary())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn env_files_are_read_up_to_1_mib_and_pipes_work() {
    let server = Server::answering("GET", json_reply(200, json!({}))).await;
    let spec = format!(
        "version: 1\napps:\n  api:\n    base_url: {}\n    actions:\n      ME: {{method: GET, path: /me}}\nauth:\n  api:\n    parameters:\n      - {{name: X-Key, in: header, value: \"{{{{ env.KEY }}}}\"}}\nsteps:\n  - action: ME\n",
        server.uri()
    );
    let padding = |bytes: usize| format!("# {}\n", "p".repeat(bytes - 3));
    let ws = Workspace::main(&spec)
        .file(
            "big.env",
            &format!("{}KEY=k-TooLate-0123456789\n", padding(1 << 20)),
        )
        .file(
            "fits.env",
            &format!("{}KEY=k-JustFits-0123456789\n", padding((1 << 20) - 64)),
        );
    let dir = ws.write(".probe", "").parent().unwrap().to_path_buf();

    // `/dev/zero` never ends: the runner must stop reading by itself.
    let started = Instant::now();
    let args = [
        "apply",
        "main.yaml",
        "--no-journal",
        "--env-file",
        "/dev/zero",
    ];
    let out = tokio::task::spawn_blocking(move || capped(&dir, &args).output().expect("run"))
        .await
        .unwrap();
    Run::from(out)
        .code(2)
        .stderr_has("cannot read env file `/dev/zero`: larger than 1 MiB");
    assert!(started.elapsed() < Duration::from_secs(2));

    for (file, code) in [("big.env", 2), ("fits.env", 0)] {
        ws.runner(["apply", "main.yaml", "--no-journal", "--env-file", file])
            .await
            .code_for(code, format_args!("{file}"));
    }
    let got = server.received().await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].headers.get("x-key").unwrap(),
        "k-JustFits-0123456789"
    );

    // A pipe (`--env-file <(op inject ...)`) is read like a file.
    let piped = || {
        ws.runner([
            "apply",
            "main.yaml",
            "--no-journal",
            "--env-file",
            "/dev/stdin",
        ])
    };
    piped().stdin("KEY=k-FromAPipe-0123456789\n").await.code(0);
    let got = server.received().await;
    assert_eq!(
        got[1].headers.get("x-key").unwrap(),
        "k-FromAPipe-0123456789"
    );
    piped()
        .stdin(vec![b'#'; 3 << 20])
        .await
        .code(2)
        .stderr_has("larger than 1 MiB");
    assert_eq!(server.received().await.len(), 2);
}

/// Renders for longer than the 2 s the watchdog allows.
const SLOW: &str = "{{ 1 in [0] * 100000000 }}";

#[tokio::test(flavor = "multi_thread")]
async fn a_run_stopped_by_the_template_watchdog_still_prints_one_json_document() {
    let server = Server::answering("", json_reply(200, json!({}))).await;
    let spec = |steps: &str| {
        format!(
            "version: 1\napps:\n  api:\n    base_url: {}\n    actions:\n      START: {{method: POST, path: /start}}\n      NEXT: {{method: GET, path: /next, params: {{q: {{type: string}}}}}}\nsteps:\n{steps}",
            server.uri()
        )
    };
    // Slow in a step's param, and in a var. Templates are compiled
    // (and their constants folded, which fuel does not meter) before
    // anything is sent.
    let param = Workspace::main(&spec(&format!(
        "  - {{id: start, action: START}}\n  - {{action: NEXT, params: {{q: \"{SLOW}\"}}}}\n"
    )));
    let var = Workspace::main(
        &spec("  - {id: start, action: START}\n")
            .replace("steps:\n", &format!("vars:\n  slow: \"{SLOW}\"\nsteps:\n")),
    );
    let runs = tokio::join!(
        param
            .runner(["plan", "main.yaml", "--output", "json"])
            .into_future(),
        param
            .runner(["apply", "main.yaml", "--output", "json"])
            .into_future(),
        var.runner(["apply", "main.yaml", "--output", "json"])
            .into_future(),
    );
    for (what, out) in [
        ("plan", runs.0),
        ("apply, slow param", runs.1),
        ("apply, slow var", runs.2),
    ] {
        let out = out.code_for(2, what);
        let doc: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{what}: stdout is not one JSON document ({e}): {out:?}"));
        assert_eq!(doc["ok"], json!(false), "{what}: {out:?}");
        assert!(
            doc["error"]
                .as_str()
                .unwrap_or_default()
                .contains("took longer than 2 s"),
            "{what}: {out:?}"
        );
        assert!(
            out.stderr.contains("took longer than 2 s"),
            "{what}: {out:?}"
        );
    }
    assert!(server.received().await.is_empty());
}

#[test]
fn literal_credentials_are_found_inside_templates_and_in_vars_used_by_auth() {
    const GH: &str = "ghp_LiteralInTemplate0123456789abcd";
    const SLACK: &str = "xoxb-1234567890-LiteralSlackToken";
    let spec = |vars: &str, auth: &str| {
        format!(
            "version: 1\napps:\n  api:\n    base_url: https://api.example.com\n    actions:\n      ME: {{method: POST, path: /me}}\n{vars}auth:\n  api:\n{auth}steps:\n  - {{id: me, action: ME}}\n"
        )
    };
    let param = |value: &str| {
        format!("    parameters:\n      - {{name: Authorization, in: header, value: '{value}'}}\n")
    };
    let cases = [
        (
            spec("", &param(&format!("{{{{ \"{GH}\" }}}}"))),
            "auth parameter `Authorization` holds a literal credential (it starts like a GitHub token, `ghp_`)",
        ),
        (
            spec("", &param(&format!("Bearer {{{{ \"{GH}\" | trim }}}}"))),
            "auth parameter `Authorization` holds a literal credential",
        ),
        (
            spec("", &param(&format!("{GH}{{{{ \"\" }}}}"))),
            "auth parameter `Authorization` holds a literal credential",
        ),
        (
            spec("", &param(&format!("{{% if true %}}{SLACK}{{% endif %}}"))),
            "auth parameter `Authorization` holds a literal credential (it starts like a Slack bot token, `xoxb-`)",
        ),
        (
            spec(
                &format!("vars:\n  token: {GH}\n"),
                &param("Bearer {{ vars.token }}"),
            ),
            "auth parameter `Authorization` uses var `token`, which holds a literal credential",
        ),
        (
            spec(
                &format!("vars:\n  raw: {GH}\n  token: \"{{{{ vars.raw | trim }}}}\"\n"),
                &param("Bearer {{ vars.token }}"),
            ),
            "uses var `raw`, which holds a literal credential",
        ),
        (
            spec(
                &format!("vars:\n  tokens: [{SLACK}]\n"),
                &param("Bearer {{ vars.tokens[0] }}"),
            ),
            "uses var `tokens`, which holds a literal credential",
        ),
        (
            spec(
                &format!("vars:\n  secret: \"{{{{ '{GH}' }}}}\"\n"),
                "    body:\n      client_secret: \"{{ vars.secret }}\"\n",
            ),
            "auth `body` field `client_secret` uses var `secret`, which holds a literal credential",
        ),
        (
            spec(
                "",
                &format!("    body:\n      client_secret: \"{{{{ '{GH}' }}}}\"\n"),
            ),
            "auth `body` field `client_secret` holds a literal credential",
        ),
    ];
    for (text, expected) in cases {
        let ws = Workspace::main(&text);
        for command in ["validate", "plan", "apply"] {
            let out = ws
                .runner([command, "main.yaml"])
                .run()
                .code_for(2, format_args!("{command}:\n{text}"));
            assert!(
                out.stderr.contains(expected),
                "{command}: expected `{expected}`:\n{text}\n{out:?}"
            );
            assert_clean(&out, &[GH, SLACK]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_too_large_to_count_is_longer_than_any_wait() {
    for (method, status, value) in [
        ("GET", 503, "99999999999999999999999"),
        ("GET", 429, "18446744073709551616"),
        ("POST", 429, "340282366920938463463374607431768211456"),
    ] {
        let server = Server::answering(
            method,
            ResponseTemplate::new(status).insert_header("Retry-After", value),
        )
        .await;
        let spec = format!(
            "version: 1\napps:\n  api:\n    base_url: {}\n    actions:\n      DO: {{method: {method}, path: /thing}}\nsteps:\n  - id: limited\n    action: DO\n    retry: {{attempts: 3, backoff: 10ms}}\n",
            server.uri()
        );
        let ws = Workspace::main(&spec);
        let out = ws
            .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
            .await
            .code_for(1, format_args!("{method} {status}"));
        assert_eq!(
            server.received().await.len(),
            1,
            "{method} {status}: retried: {out:?}"
        );
        assert_eq!(out.step(0)["retries"], json!([]));
        assert!(
            out.stderr.contains("warning: steps[0] (limited): not retried: the server asked to wait longer than can be counted before retrying, longer than the 30 s allowed (`retry.max_wait`)"),
            "{method} {status}: {out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_content_type_wins_over_the_bodys_default() {
    let server = Server::answering("", json_reply(200, json!({}))).await;
    let spec = format!(
        r#"version: 1
apps:
  api:
    base_url: {}
    headers:
      Content-Type: application/json; charset=utf-8
    actions:
      CREATE: {{method: POST, path: /create, params: {{name: {{type: string}}}}}}
      MERGE:
        method: PATCH
        path: /merge
        params:
          name: {{type: string}}
          Content-Type: {{type: string, in: header, default: application/merge-patch+json}}
  forms:
    base_url: {}
    headers:
      content-type: application/x-www-form-urlencoded; charset=utf-8
    actions:
      SUBMIT: {{method: POST, path: /submit, body_format: form, params: {{name: {{type: string}}}}}}
  plain:
    base_url: {}
    actions:
      SEND: {{method: PUT, path: /send, params: {{name: {{type: string}}}}}}
steps:
  - {{action: CREATE, params: {{name: a}}}}
  - {{action: MERGE, params: {{name: b}}}}
  - {{action: MERGE, params: {{name: c, Content-Type: application/vnd.api+json}}}}
  - {{action: SUBMIT, params: {{name: d}}}}
  - {{action: SEND, params: {{name: e}}}}
"#,
        server.uri(),
        server.uri(),
        server.uri()
    );
    let ws = Workspace::main(&spec);
    ws.runner(["apply", "main.yaml", "--no-journal"])
        .await
        .code(0);
    let got = server.received().await;
    let types: Vec<Vec<String>> = got
        .iter()
        .map(|r| {
            r.headers
                .get_all("content-type")
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(
        types,
        [
            vec!["application/json; charset=utf-8"],
            vec!["application/merge-patch+json"],
            vec!["application/vnd.api+json"],
            vec!["application/x-www-form-urlencoded; charset=utf-8"],
            // Without one of its own, the body's type.
            vec!["application/json"],
        ]
    );
    assert_eq!(std::str::from_utf8(&got[3].body).unwrap(), "name=d");
    assert_eq!(
        serde_json::from_slice::<Value>(&got[1].body).unwrap(),
        json!({"name": "b"})
    );
    // `plan` shows the same headers.
    let out = ws.runner(["plan", "main.yaml"]).await.code(0);
    assert_eq!(
        out.stdout
            .matches("Content-Type: application/json; charset=utf-8")
            .count(),
        1,
        "{out:?}"
    );
    assert!(
        !out.stdout
            .contains("Content-Type: application/json\n  | {\n  |   \"name\": \"a\""),
        "{out:?}"
    );
}
