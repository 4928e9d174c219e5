//! Exit 2 means nothing was sent: what would fail mid-run (a template
//! reading `env` by a computed name, an unknown filter, a var override of
//! the wrong shape, a URL that cannot work) is refused before the first
//! request, or runs and fails that step (exit 1).

use serde_json::{Value, json};

use crate::harness::journal::{JOURNAL, records};
use crate::harness::leaks::{assert_clean, assert_hidden};
use crate::harness::shop::{CREATED, shop, shop_server};
use crate::harness::specs::Spec;
use crate::harness::{Server, Workspace, json_reply};

/// A POST, a GET of what it made, and a POST with lists and mappings.
const ACTIONS: &str = include_str!("../fixtures/catalogs/exit-codes.yaml");

/// The API: a POST that must never be sent by a run that exits 2,
/// then `later`, a step that uses its response; `extra` goes before
/// `steps:` (auth, vars).
fn spec(base: &str, extra: &str, later: &str) -> String {
    Spec::app("api", base)
        .no_retry()
        .actions(ACTIONS)
        .then(extra)
        .steps(&format!(
            "  - {{id: one, action: CREATE, params: {{name: first}}}}\n{later}"
        ))
        .build()
}

async fn api() -> Server {
    Server::build()
        .reply(
            "POST /things",
            json_reply(
                201,
                json!({"id": "t-1", "name": "x", "n": 3, "items": ["a"]}),
            ),
        )
        .reply("GET", json_reply(200, json!({})))
        .reply("POST", json_reply(201, json!({})))
        .start()
        .await
}

/// `validate`, `plan` and `apply` all refuse `text` with exit 2 and
/// `expected` in their message; `apply` sends nothing.
async fn refused(server: &Server, text: &str, env: &[(&str, &str)], expected: &str) {
    let ws = Workspace::main(text);
    for command in ["validate", "plan", "apply"] {
        let mut cmd = ws.runner([command, "main.yaml"]);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let out = cmd.await.code_for(2, format_args!("{command}: {text}"));
        assert!(
            out.stderr.contains(expected),
            "{command}: expected `{expected}`:\n{text}\n{out:?}"
        );
        assert!(server.received().await.is_empty(), "{command}: {out:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn env_that_cannot_be_resolved_statically_is_refused_by_validate() {
    let server = api().await;
    let base = server.uri();
    let later = |value: &str| format!("  - {{id: two, action: SHOW, params: {{id: '{value}'}}}}\n");
    let auth = |value: &str| {
        format!(
            "auth:\n  api:\n    parameters:\n      - {{name: X-Key, in: header, value: '{value}'}}\n"
        )
    };
    let vars = "vars:\n  which: SECRET_NAME\n";
    let cases = [
        spec(&base, vars, &later("{{ env[vars.which] }}")),
        spec(&base, vars, &later(r#"{{ env["SECRET" ~ "_NAME"] }}"#)),
        spec(&base, vars, &later("{% for k in env %}{{ k }}{% endfor %}")),
        spec(&base, vars, &later(r#"{{ env | list | join("-") }}"#)),
        spec(&base, vars, &later("{% set e = env %}{{ e.SECRET_NAME }}")),
        spec(&base, vars, &later("{{ (env | items | first)[1] }}")),
        spec(
            &base,
            &format!("{vars}{}", auth("{{ env[vars.which] }}")),
            &later("x"),
        ),
        spec(
            &base,
            "vars:\n  which: SECRET_NAME\n  picked: \"{{ env[vars.which] }}\"\n",
            &later("{{ vars.picked }}"),
        ),
        spec(
            &base,
            vars,
            "  - id: two\n    action: SHOW\n    params: {id: x}\n    auth:\n      parameters:\n        - {name: X-Key, in: header, value: \"{{ env[steps.one.response.name] }}\"}\n",
        ),
    ];
    for text in cases {
        // Whether or not the variable it would pick is set.
        refused(&server, &text, &[], "`env` can only be read by name here").await;
        refused(
            &server,
            &text,
            &[("SECRET_NAME", "value-0123456789")],
            "`env` can only be read by name here",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_filters_tests_and_functions_are_refused_wherever_they_are() {
    let server = api().await;
    let base = server.uri();
    let show = |value: &str| {
        format!("  - {{id: two, action: SHOW, params: {{id: x, note: \"{value}\"}}}}\n")
    };
    let cases = [
        (show("{{ steps.one.response.name | shout }}"), "unknown filter `shout`"),
        (show("{{ steps.one.response.name | upper | shout | lower }}"), "unknown filter `shout`"),
        (show("{{ steps.one.response.name | uper }}"), "unknown filter `uper` (did you mean `upper`?)"),
        (show("{% if steps.one.response.n is oddd %}x{% endif %}"), "unknown test `oddd`"),
        (show("{% if steps.one.response.n is not oddd %}x{% endif %}"), "unknown test `oddd`"),
        (show("{{ steps.one.response.items | select('loud') | list }}"), "unknown test `loud`"),
        (show("{{ steps.one.response.items | map('shout') | join(',') }}"), "unknown filter `shout`"),
        (show("{% filter shout %}{{ steps.one.response.name }}{% endfilter %}"), "unknown filter `shout`"),
        (show("{% for i in steps.one.response.items %}{{ i | shout }}{% endfor %}"), "unknown filter `shout`"),
        (show("{{ shout(steps.one.response.name) }}"), "unknown variable `shout`"),
        (
            "  - id: two\n    action: SHOW\n    params: {id: x}\n    auth:\n      parameters:\n        - {name: X-Key, in: header, value: \"{{ steps.one.response.name | shout }}\"}\n".to_string(),
            "unknown filter `shout`",
        ),
        (
            "  - id: two\n    action: SHOW\n    params: {id: x}\n    auth:\n      base_url: \"{{ steps.one.response.name | shout }}\"\n".to_string(),
            "unknown filter `shout`",
        ),
    ];
    for (later, expected) in cases {
        refused(&server, &spec(&base, "", &later), &[], expected).await;
    }
    // In a var, and in app-level auth, too.
    let vars = "vars:\n  loud: \"{{ 'x' | shout }}\"\n";
    refused(
        &server,
        &spec(&base, vars, ""),
        &[],
        "unknown filter `shout`",
    )
    .await;
    let auth = "auth:\n  api:\n    parameters:\n      - {name: X-Key, in: header, value: \"{{ env.KEY is oddd }}\"}\n";
    refused(
        &server,
        &spec(&base, auth, ""),
        &[("KEY", "k-0123456789")],
        "unknown test `oddd`",
    )
    .await;
}

/// A second server the auth `base_url` may point at.
async fn other() -> Server {
    Server::answering("GET", json_reply(200, json!({"there": true}))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auth_base_url_from_an_earlier_response_runs_and_fails_only_its_step() {
    let b = other().await;
    let later = "  - id: two\n    action: SHOW\n    params: {id: t-1}\n    auth:\n      base_url: \"{{ steps.one.response.api }}\"\n      parameters:\n        - {name: Authorization, in: header, value: \"Bearer {{ env.TOKEN }}\"}\n";
    for (api, code) in [
        (b.uri(), 0),
        (format!("ftp://127.0.0.1:{}", b.port()), 1),
        ("not a url".to_string(), 1),
        (format!("{}:99999", b.uri().rsplit_once(':').unwrap().0), 1),
    ] {
        let a = Server::answering(
            "POST /things",
            json_reply(201, json!({"id": "t-1", "api": api})),
        )
        .await;
        b.reset().await;
        b.reply("GET", json_reply(200, json!({"there": true})))
            .await;
        let ws = Workspace::main(&spec(&a.uri(), "", later));
        ws.runner(["validate", "main.yaml"]).await.code(0);
        ws.runner(["plan", "main.yaml"])
            .env("TOKEN", "tok-Later0123456789")
            .await
            .code(0);
        let out = ws
            .runner(["apply", "main.yaml", "--output", "json"])
            .env("TOKEN", "tok-Later0123456789")
            .await
            .code_for(code, format_args!("{api}"));
        assert_eq!(a.requests().await, ["POST /things"], "{api}: {out:?}");
        let recs = records(&ws.read(".runner/main.yaml.jsonl"));
        if code == 0 {
            assert_eq!(b.requests().await, ["GET /things/t-1"]);
            let got = &b.received().await[0];
            assert_eq!(
                got.headers.get("authorization").unwrap(),
                "Bearer tok-Later0123456789"
            );
            assert_eq!(out.step(1)["response"], json!({"there": true}));
        } else {
            assert!(b.received().await.is_empty(), "{api}: {out:?}");
            assert_eq!(out.step(0)["status"], json!("ok"));
            assert_eq!(out.step(1)["status"], json!("failed"));
            assert!(!out.step_error(1).is_empty(), "{out:?}");
            // It was never sent: no `started` record for it.
            assert_eq!(recs.len(), 2, "{recs:?}");
        }
        assert_clean(&out, &["tok-Later0123456789"]);
    }
}

/// `ISSUE` for `owner`, the first of `repos`, with `repos` as labels
/// and `settings` as they are.
const ISSUE: &str = "  - id: issue\n    action: ISSUE\n    params: {owner: \"{{ vars.owner }}\", repo: \"{{ vars.repos[0] }}\", labels: \"{{ vars.repos }}\", settings: \"{{ vars.settings }}\"}\n";
const VARS: &str = "vars:\n  owner: acme\n  repos: [alpha, beta]\n  settings: {draft: false}\n";

#[tokio::test(flavor = "multi_thread")]
async fn var_overrides_of_lists_and_mappings_are_yaml_of_that_shape() {
    let server = api().await;
    let ws = Workspace::main(&spec(&server.uri(), VARS, ISSUE));
    for (args, path, body) in [
        (
            vec!["--var", r#"repos=["a","b"]"#],
            "/repos/acme/a/issues",
            json!({"labels": ["a", "b"], "settings": {"draft": false}}),
        ),
        (
            vec!["--var", "repos=[a, b]"],
            "/repos/acme/a/issues",
            json!({"labels": ["a", "b"], "settings": {"draft": false}}),
        ),
        (
            vec!["--var", "repos=- c\n- d"],
            "/repos/acme/c/issues",
            json!({"labels": ["c", "d"], "settings": {"draft": false}}),
        ),
        (
            vec!["--var", "settings={draft: true, labels: [x]}"],
            "/repos/acme/alpha/issues",
            json!({"labels": ["alpha", "beta"], "settings": {"draft": true, "labels": ["x"]}}),
        ),
        // A text var stays text, whatever it looks like.
        (
            vec!["--var", "owner=[x]"],
            "/repos/%5Bx%5D/alpha/issues",
            json!({"labels": ["alpha", "beta"], "settings": {"draft": false}}),
        ),
    ] {
        server.reset().await;
        server.reply("POST", json_reply(201, json!({}))).await;
        let out = ws
            .runner(["apply", "main.yaml", "--no-journal"])
            .args(&args)
            .await
            .code_for(0, format_args!("{args:?}"));
        let reqs = server.received().await;
        assert_eq!(reqs.len(), 2, "{args:?}: {out:?}");
        assert_eq!(reqs[1].url.path(), path, "{args:?}");
        assert_eq!(
            serde_json::from_slice::<Value>(&reqs[1].body).unwrap(),
            body,
            "{args:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn var_overrides_of_the_wrong_shape_are_refused() {
    // Used where any text would do: nothing else would stop the run.
    let issue = "  - id: issue\n    action: ISSUE\n    params: {owner: \"{{ vars.owner }}\", repo: \"{{ vars.repos[0] }}\", title: \"{{ vars.settings | tojson }}\"}\n";
    let server = api().await;
    let ws = Workspace::main(&spec(&server.uri(), VARS, issue));
    ws.runner(["apply", "main.yaml", "--no-journal"])
        .await
        .code(0);
    server.reset().await;
    for (arg, expected) in [
        (
            "repos=a",
            "var `repos` is a list in the spec, so its value must be a list in YAML",
        ),
        ("repos=a,b", "var `repos` is a list in the spec"),
        ("repos={a: 1}", "var `repos` is a list in the spec"),
        ("repos=[unclosed", "var `repos` is a list in the spec"),
        ("repos=", "var `repos` is a list in the spec"),
        (
            "settings=[1]",
            "var `settings` is a mapping in the spec, so its value must be a mapping in YAML",
        ),
        ("settings=draft", "var `settings` is a mapping in the spec"),
    ] {
        for command in ["plan", "apply"] {
            ws.runner([command, "main.yaml", "--var", arg])
                .await
                .code_for(2, format_args!("{command} {arg}"))
                .stderr_has(expected);
        }
        assert!(server.received().await.is_empty(), "{arg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_url_override_for_an_unknown_app_is_refused() {
    let server = api().await;
    let other = other().await;
    let ws = Workspace::main(&two_apps(&server.uri()));
    for (arg, expected) in [
        (
            format!("gihub={}", other.uri()),
            "`--base-url gihub=...` names no app of the spec (did you mean `github`?)",
        ),
        (
            format!("API={}", other.uri()),
            "`--base-url API=...` names no app of the spec",
        ),
        (
            format!("nope={}", other.uri()),
            "`--base-url nope=...` names no app of the spec; its apps are `api`, `github`",
        ),
    ] {
        for command in ["plan", "apply"] {
            ws.runner([command, "main.yaml", "--base-url", &arg])
                .await
                .code_for(2, format_args!("{command} {arg}"))
                .stderr_has(expected);
        }
    }
    assert!(server.received().await.is_empty());
    assert!(other.received().await.is_empty());
    // The right name is taken.
    let arg = format!("github={}", other.uri());
    ws.runner(["apply", "main.yaml", "--base-url", &arg])
        .await
        .code(0);
    assert_eq!(other.requests().await, ["GET /x"]);
}

/// Two apps, `api` and `github`, both at `base`; one step on `github`.
fn two_apps(base: &str) -> String {
    format!(
        "version: 1\napps:\n  api:\n    base_url: {base}\n    actions:\n      A: {{method: GET, path: /a}}\n  github:\n    base_url: {base}\n    actions:\n      GH: {{method: GET, path: /x}}\nsteps:\n  - action: GH\n"
    )
}

// ------------------------------------------------- URLs that cannot work

/// A POST to the shop, then a GET to an app whose auth moves it to
/// `{{ env.BASE }}`.
fn shop_then_api(shop_base: &str) -> String {
    shop(shop_base, CREATED.split("  - id: check").next().unwrap()).replace(
        "steps:\n",
        r#"  api:
    base_url: https://api.example.com
    actions:
      WHOAMI: {method: GET, path: /me}
auth:
  api:
    base_url: "{{ env.BASE }}"
    parameters:
      - {name: Authorization, in: header, value: "Bearer {{ env.TOKEN }}"}
steps:
"#,
    ) + "  - id: me\n    action: WHOAMI\n"
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_url_known_before_the_run_stops_it_before_anything_is_sent() {
    let server = shop_server(true).await;
    let ws = Workspace::main(&shop_then_api(&server.uri()));
    let port = server.port();
    for (base, why) in [
        (
            format!("ftp://127.0.0.1:{port}/"),
            "scheme `ftp` is not http or https",
        ),
        (
            "file:///etc/passwd".to_string(),
            "scheme `file` is not http or https",
        ),
        (
            "gopher://127.0.0.1/".to_string(),
            "scheme `gopher` is not http or https",
        ),
        ("mailto:ops@example.com".to_string(), "mailto"),
        ("not a url".to_string(), "invalid"),
        ("http://127.0.0.1:99999/".to_string(), "invalid"),
        ("http://exa mple.com/".to_string(), "invalid"),
        ("http://[::1/".to_string(), "invalid"),
    ] {
        let out = ws
            .runner(["apply", "main.yaml"])
            .env("BASE", &base)
            .env("TOKEN", "tok-Unusable-0123456789")
            .await
            .code_for(2, format_args!("{base}"))
            .stderr_has(why);
        assert!(server.received().await.is_empty(), "{base}: {out:?}");
        if ws.exists(JOURNAL) {
            assert_eq!(ws.read(JOURNAL), "", "{base}: a record was left");
        }
        assert_hidden(&out.all(), &["tok-Unusable-0123456789"]);
    }
    // The same spec with a usable URL runs: the refusals were the URLs'.
    ws.runner(["apply", "main.yaml"])
        .env("BASE", server.uri())
        .env("TOKEN", "tok-Unusable-0123456789")
        .await
        .code(1);
    assert_eq!(server.requests().await, ["POST /projects", "GET /me"]);
}

#[test]
fn a_base_url_override_must_be_an_http_url() {
    let ws = Workspace::main(&shop("http://127.0.0.1:9", CREATED));
    for url in [
        "ftp://files.example.com",
        "file:///tmp",
        "localhost:8080",
        "127.0.0.1:8080",
        "not a url",
        "http://",
    ] {
        for command in ["apply", "plan"] {
            let arg = format!("shop={url}");
            ws.runner([command, "main.yaml", "--base-url", &arg])
                .run()
                .code_for(2, format_args!("{command} {arg}"))
                .stderr_has(&format!(
                    "`--base-url shop={url}`: expected an http or https URL"
                ));
        }
    }
}
