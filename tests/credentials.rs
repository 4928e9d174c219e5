//! Credentials stay out of git: `validate`, `plan` and `apply` refuse a spec
//! whose auth holds a literal token, exit 2 before anything is sent, and
//! never print the token.

use crate::harness::specs::Spec;
use crate::harness::{Run, Workspace};

/// An obviously fake GitHub token.
const TOKEN: &str = "ghp_FAKE0123456789abcdefFAKE0123456789ab";

/// Who am I.
const ACTIONS: &str = r#"WHOAMI: {method: GET, path: /me}
"#;

/// A spec for an app on a closed local port: nothing could be sent anyway.
fn spec(parameters: &str) -> String {
    Spec::app("example", "http://127.0.0.1:9")
        .actions(ACTIONS)
        .auth("example", &format!("{parameters}\n"))
        .steps("  - action: WHOAMI\n")
        .build()
}

/// No part of the token beyond its `ghp_` prefix shows up.
fn assert_token_hidden(out: &Run) {
    let all = out.all();
    assert!(!all.contains(TOKEN), "{out:?}");
    assert!(!all.contains(&TOKEN[4..]), "{out:?}");
    assert!(!all.contains("FAKE0123456789"), "{out:?}");
}

#[test]
fn literal_token_fails_validate_plan_and_apply() {
    let ws = Workspace::main(&spec(&format!(
        "      - {{name: Authorization, in: header, value: \"Bearer {TOKEN}\"}}"
    )));
    for command in ["validate", "plan", "apply"] {
        let out = ws
            .runner([command, "main.yaml"])
            .run()
            .code_for(2, format_args!("{command}"))
            .stderr_has(
                "auth parameter `Authorization` holds a literal credential \
                 (after `Bearer`, it starts like a GitHub token, `ghp_`)",
            )
            .stderr_has("main.yaml:10:")
            .stderr_has("allow_literal: true");
        assert_token_hidden(&out);
    }
}

#[test]
fn json_output_hides_the_token_too() {
    let ws = Workspace::main(&spec(&format!(
        "      - {{name: token, in: query, value: {TOKEN}}}"
    )));
    for command in ["plan", "apply"] {
        let out = ws
            .runner([command, "main.yaml", "--output", "json"])
            .run()
            .code_for(2, format_args!("{command}"))
            .stderr_has("literal credential");
        assert_token_hidden(&out);
    }
}

#[test]
fn allow_literal_passes_validate() {
    let ws = Workspace::main(&spec(&format!(
        "      - {{name: Authorization, in: header, value: \"Bearer {TOKEN}\", allow_literal: true}}"
    )));
    let out = ws.runner(["validate", "main.yaml"]).run().code(0);
    assert!(out.stdout.starts_with("ok  main.yaml"), "{out:?}");
}

#[test]
fn allow_literal_is_per_parameter() {
    let ws = Workspace::main(&spec(&format!(
        "      - {{name: X-Fixture, in: header, value: \"{TOKEN}\", allow_literal: true}}\n      \
             - {{name: Authorization, in: header, value: \"token {TOKEN}\"}}"
    )));
    let out = ws
        .runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has("auth parameter `Authorization`");
    assert!(!out.stderr.contains("X-Fixture"), "{out:?}");
    assert_token_hidden(&out);
}

#[test]
fn templated_value_passes() {
    let ws = Workspace::main(&spec(
        "      - {name: Authorization, in: header, value: \"Bearer {{ env.T }}\"}",
    ));
    ws.runner(["validate", "main.yaml"]).run().code(0);
    // plan renders it from the environment: the token in the env is fine.
    let out = ws
        .runner(["plan", "main.yaml"])
        .env("T", TOKEN)
        .run()
        .code(0);
    assert_token_hidden(&out);
}

#[test]
fn ordinary_literal_values_pass() {
    let ws = Workspace::main(&spec(
        "      - {name: Accept, in: header, value: application/json}
      - {name: X-GitHub-Api-Version, in: header, value: 2022-11-28}
      - {name: X-Accept, in: header, value: application/vnd.github+json}
      - {name: X-Team, in: header, value: some-team-name}
      - {name: X-Scheme, in: header, value: Bearer}
      - {name: X-Project, in: header, value: my-project-2024-production}
      - {name: origin, in: query, value: \"https://api.example.com/v1\"}
      - {name: Authorization, in: header, value: \"Bearer {{ env.T }}\"}",
    ));
    ws.runner(["validate", "main.yaml"]).run().code(0);
}

#[test]
fn literal_descope_management_key_fails() {
    let ws = Workspace::main(
        r#"version: 1
apps:
  example:
    base_url: http://127.0.0.1:9
    actions:
      WHOAMI: {method: GET, path: /me}
auth:
  example:
    descope:
      app_id: example
      user_id: u1
      management_key: K2FAKEfakeFAKEfake0123456789
steps:
  - action: WHOAMI
"#,
    );
    for command in ["validate", "plan", "apply"] {
        let out = ws
            .runner([command, "main.yaml"])
            .run()
            .code_for(2, format_args!("{command}"))
            .stderr_has("descope `management_key` holds a literal credential")
            .stderr_has("DESCOPE_MANAGEMENT_KEY");
        assert!(!out.all().contains("K2FAKEfake"), "{command}: {out:?}");
    }
}
