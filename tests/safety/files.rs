//! Files a spec names resolve only inside the project root; a file that is
//! not a spec (an include, or a JSON Schema that is not valid) is described
//! by its type and place, never by what it holds.

use serde_json::json;

use crate::harness::leaks::assert_hidden;
use crate::harness::specs::items_api;
use crate::harness::{Server, Workspace, json_reply};

const TOKEN: &str = "ghp_DotEnvToken0123456789abcdefABCDEF";

/// A valid catalog: what a spec from elsewhere would want to read.
const CATALOG: &str = "version: 1\napps:\n  other:\n    base_url: https://other.example.com\n    actions:\n      OTHER_ME: {method: GET, path: /me}\n";

/// The root spec: an app at `base` with one step, and `include`.
fn root(base: &str, include: &[&str]) -> String {
    let list = include
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "version: 1\ninclude: [{list}]\napps:\n  api:\n    base_url: {base}\n    actions:\n      ME: {{method: GET, path: /me}}\nsteps:\n  - {{id: me, action: ME}}\n"
    )
}

/// `validate`, `plan` and `apply` on `spec`, each expected to fail
/// with exit 2 and `expected` in its message, leaking none of
/// `secrets` and none of the lines of `shielded`, sending nothing.
async fn refused_everywhere(
    ws: &Workspace,
    server: &Server,
    spec: &str,
    extra: &[&str],
    expected: &str,
    secrets: &[&str],
    shielded: &str,
) {
    for command in ["validate", "plan", "apply"] {
        let out = ws
            .runner([command, spec])
            .args(extra)
            .await
            .code_for(2, format_args!("{command} {spec}"));
        assert!(
            out.stderr.contains(expected),
            "{command} {spec}: expected `{expected}`: {out:?}"
        );
        assert_hidden(&out.all(), secrets);
        for line in shielded.lines().map(str::trim).filter(|l| l.len() >= 6) {
            assert!(
                !out.all().contains(line),
                "{command} {spec}: a line of the file was shown: `{line}`\n{out:?}"
            );
        }
        assert!(server.received().await.is_empty(), "{command}: {out:?}");
    }
}

/// `ws/project/main.yaml` is the root spec; outside its directory (the
/// project root, outside git): `ws/outside.env` holding a token, and
/// `ws/outside.yaml`, a valid catalog.
fn layout(server: &Server, include: &[&str]) -> Workspace {
    Workspace::new()
        .file(
            "outside.env",
            &format!("GITHUB_TOKEN={TOKEN}\nOWNER=octo\n"),
        )
        .file("outside.yaml", CATALOG)
        .file("project/main.yaml", &root(&server.uri(), include))
}

fn abs(ws: &Workspace, rel: &str) -> String {
    ws.write(".probe", "")
        .parent()
        .unwrap()
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn includes_outside_the_project_root_are_refused_by_path_never_read() {
    let server = Server::start().await;
    let probe = layout(&server, &[]);
    let env_abs = abs(&probe, "outside.env");
    let dots = format!("../../../../../../../../../..{env_abs}");
    let cases: Vec<(String, String)> = vec![
        ("../outside.env".into(), "project/../outside.env".into()),
        ("../outside.yaml".into(), "project/../outside.yaml".into()),
        ("./../outside.env".into(), "project/./../outside.env".into()),
        (
            "sub/../../outside.env".into(),
            "project/sub/../../outside.env".into(),
        ),
        (env_abs.clone(), env_abs.clone()),
        (dots.clone(), format!("project/{dots}")),
        ("/etc/passwd".into(), "/etc/passwd".into()),
        ("/dev/zero".into(), "/dev/zero".into()),
    ];
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for (include, shown) in cases {
        let ws = layout(&server, &[&include]);
        let expected = format!("`{shown}` is outside the project root");
        let mut shielded = format!("GITHUB_TOKEN={TOKEN}\n{CATALOG}");
        shielded.push_str(&passwd);
        refused_everywhere(
            &ws,
            &server,
            "project/main.yaml",
            &[],
            &expected,
            &[TOKEN],
            &shielded,
        )
        .await;
        // The outside catalog's app never became part of the spec.
        let out = ws
            .runner(["validate", "project/main.yaml"])
            .await
            .stderr_has("--allow-outside-root");
        assert!(!out.all().contains("other.example.com"), "{out:?}");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn symbolic_links_are_judged_by_their_target() {
    use std::os::unix::fs::symlink;
    let server = Server::start().await;
    let ws = layout(&server, &[]);
    let base = std::path::PathBuf::from(abs(&ws, ""));
    ws.write("elsewhere/apps.yaml", CATALOG);
    ws.write("project/apps/real.yaml", CATALOG);
    symlink(base.join("outside.env"), base.join("project/innocent.yaml")).unwrap();
    symlink(base.join("elsewhere"), base.join("project/shared")).unwrap();
    symlink(
        base.join("project/apps/real.yaml"),
        base.join("project/alias.yaml"),
    )
    .unwrap();
    symlink(
        "../../outside.yaml",
        base.join("project/apps/relative.yaml"),
    )
    .unwrap();
    for (include, shown) in [
        ("innocent.yaml", "project/innocent.yaml"),
        ("shared/apps.yaml", "project/shared/apps.yaml"),
        ("apps/relative.yaml", "project/apps/relative.yaml"),
    ] {
        ws.write("project/main.yaml", &root(&server.uri(), &[include]));
        let expected = format!("`{shown}` is outside the project root");
        refused_everywhere(
            &ws,
            &server,
            "project/main.yaml",
            &[],
            &expected,
            &[TOKEN],
            CATALOG,
        )
        .await;
    }
    // A link that stays inside is followed.
    ws.write("project/main.yaml", &root(&server.uri(), &["alias.yaml"]));
    ws.runner(["validate", "project/main.yaml"])
        .await
        .code(0)
        .stdout_has("(2 apps, 2 actions, 1 steps)");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_project_root_is_the_git_work_tree_holding_the_spec() {
    let server = Server::start().await;
    let ws = Workspace::new()
        .file("secret.yaml", CATALOG)
        .file("repo/apps/catalog.yaml", CATALOG)
        .file("wt/apps/catalog.yaml", CATALOG)
        // A linked worktree has a `.git` file, not a directory.
        .file("wt/.git", "gitdir: /somewhere/else\n");
    std::fs::create_dir_all(std::path::Path::new(&abs(&ws, "repo/.git"))).unwrap();
    for tree in ["repo", "wt"] {
        // Inside the work tree but outside the spec's directory: fine.
        for (spec, include) in [
            (format!("{tree}/specs/main.yaml"), "../apps/catalog.yaml"),
            (
                format!("{tree}/a/b/c/main.yaml"),
                "../../../apps/catalog.yaml",
            ),
        ] {
            ws.write(&spec, &root(&server.uri(), &[include]));
            ws.runner(["validate", &spec])
                .await
                .code_for(0, format_args!("{spec}"));
        }
        // Out of the work tree: refused.
        let spec = format!("{tree}/specs/main.yaml");
        ws.write(&spec, &root(&server.uri(), &["../../secret.yaml"]));
        let expected = format!("`{tree}/specs/../../secret.yaml` is outside the project root");
        refused_everywhere(&ws, &server, &spec, &[], &expected, &[], CATALOG).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_outside_root_lifts_the_limit_and_still_shows_no_content() {
    let server = Server::answering("GET /me", json_reply(200, json!({}))).await;
    let ws = layout(&server, &["../outside.yaml"]);
    for command in ["validate", "plan", "apply"] {
        ws.runner([command, "project/main.yaml", "--allow-outside-root"])
            .await
            .code_for(0, format_args!("{command}"));
    }
    assert_eq!(server.requests().await, ["GET /me"]);
    // An outside file that is not a spec is still described by type only.
    let ws = layout(&server, &["../outside.env"]);
    server.reset().await;
    refused_everywhere(
        &ws,
        &server,
        "project/main.yaml",
        &["--allow-outside-root"],
        "expected a mapping starting with `version: 1`, found a string",
        &[TOKEN],
        &format!("GITHUB_TOKEN={TOKEN}"),
    )
    .await;
}

/// Files of other kinds, each holding a secret, and what the runner may
/// say they are. `None`: not YAML at all, so only that it is not a spec.
fn not_specs() -> Vec<(&'static str, String, Option<&'static str>)> {
    vec![
        (
            ".env",
            format!("GITHUB_TOKEN={TOKEN}\nOWNER=octo\n"),
            Some("a string"),
        ),
        (
            "tokens.yaml",
            format!("- {TOKEN}\n- xoxb-1234567890-abcdefghij\n"),
            Some("a list"),
        ),
        (
            "credentials.json",
            format!("{{\"user\": \"bob\", \"token\": \"{TOKEN}\"}}\n"),
            Some("a mapping without `version`"),
        ),
        (
            "compose.yml",
            format!("services:\n  web:\n    environment:\n      TOKEN: {TOKEN}\n"),
            Some("a mapping without `version`"),
        ),
        (
            "pin.txt",
            "918273645546372819\n".to_string(),
            Some("a number"),
        ),
        (
            "key.pem",
            format!("-----BEGIN PRIVATE KEY-----\n{TOKEN}\n-----END PRIVATE KEY-----\n"),
            Some("a string"),
        ),
        // An env file whose later lines are not YAML.
        (
            "broken.env",
            format!("GITHUB_TOKEN={TOKEN}\nJSON={{\"a\": [1, 2]}}\n"),
            None,
        ),
        ("quoted.env", format!("TOKEN=\"{TOKEN}\nNEXT: [\n"), None),
        // Not YAML, where a deserializer would complain about a key or a
        // value first.
        ("keyed.txt", format!("{TOKEN}: admin\nbad: [\n"), None),
        ("typed.txt", format!("steps: {TOKEN}\n  bad: [\n"), None),
        (
            "twice.yaml",
            format!("token: {TOKEN}\ntoken: other\n"),
            None,
        ),
        (
            "documents.yaml",
            format!("---\n{TOKEN}: 1\n---\nsecond\n"),
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_are_not_specs_are_described_by_their_type_only() {
    let server = Server::start().await;
    for (name, text, found) in not_specs() {
        let ws = Workspace::new()
            .file(name, &text)
            .file("main.yaml", &root(&server.uri(), &[name]));
        let expected = match found {
            Some(kind) => {
                format!("expected a mapping starting with `version: 1`, found {kind}\n")
            }
            None => "expected a mapping starting with `version: 1`".to_string(),
        };
        let secrets = [TOKEN, "918273645546372819"];
        // Included from a spec, and named as the spec itself.
        refused_everywhere(&ws, &server, "main.yaml", &[], &expected, &secrets, &text).await;
        refused_everywhere(&ws, &server, name, &[], &expected, &secrets, &text).await;
        let out = ws.runner(["validate", name]).await;
        assert!(
            out.stderr.contains(&format!("--> {name}:")),
            "the place is still named: {out:?}"
        );
        assert!(!out.stderr.contains(" | "), "a line was shown: {out:?}");
    }
}

#[test]
fn a_spec_with_a_mistake_still_shows_its_line() {
    // The contrast: lines of specs are shown (with a caret).
    let ws = Workspace::main("version: 1\nstepz: []\n");
    ws.runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has(" 2 | stepz: []")
        .stderr_has("   | ^^^^^");
}

// ------------------------------------------------------ JSON Schema files

/// What the schema files hold that must never be shown.
const SCHEMA_SECRET: &str = "SECRETVALUE-4f1c9a";

#[test]
fn a_file_that_is_not_a_valid_schema_is_named_by_place_and_keyword_only() {
    let cases = [
        (
            r#"{"type": "object", "properties": {"n": {"type": "SECRET"}}}"#,
            "at `/properties/n/type`: keyword `type` is invalid",
        ),
        (
            r#"{"properties": {"n": {"minimum": "SECRET"}}}"#,
            "at `/properties/n/minimum`: keyword `minimum` is invalid",
        ),
        (
            r#"{"required": ["a", {"k": "SECRET"}]}"#,
            "at `/required/1`: keyword `required` is invalid",
        ),
        (
            r#"{"properties": {"s": {"pattern": "SECRET("}}}"#,
            "at `/properties/s/pattern`: keyword `pattern` is invalid",
        ),
        (
            r#"{"enum": "SECRET"}"#,
            "at `/enum`: keyword `enum` is invalid",
        ),
        (
            r##"{"$ref": "#/$defs/SECRET"}"##,
            "keyword `$ref` names nothing in the file",
        ),
        (
            r#"{"$schema": "SECRET"}"#,
            "keyword `$schema` names no draft this runner knows",
        ),
        (r#""SECRET""#, "the document must be an object or a boolean"),
    ];
    for (i, (schema, expected)) in cases.iter().enumerate() {
        let file = format!("schemas/bad-{i}.json");
        let steps =
            format!("steps:\n  - id: list\n    action: LIST\n    expect:\n      schema: {file}\n");
        let ws = Workspace::main(&items_api("https://api.example.com", &steps))
            .file(&file, &schema.replace("SECRET", SCHEMA_SECRET));
        let out = ws
            .runner(["validate", "main.yaml"])
            .run()
            .code_for(2, format_args!("{schema}"))
            .stderr_has(&format!(
                "error: schema `{file}` is not a valid JSON Schema: {expected}"
            ));
        assert!(
            !out.all().contains("SECRETVALUE"),
            "{schema}: the file's content was shown: {out:?}"
        );
    }
}
