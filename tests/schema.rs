//! `runner schema`: the JSON Schema of spec files an editor validates and
//! completes with, committed as `schema/runner.schema.json`; the schema
//! specialised to catalogs (`runner schema SPEC…`), which knows their
//! actions and params; and the other editor and shell aids, `runner
//! completions SHELL` and `runner man`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Cmd, Workspace};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `runner schema ARGS…`'s output, parsed; run in the crate's root.
fn schema(args: &[&str]) -> (String, Value) {
    let out = Cmd::new()
        .current_dir(root())
        .arg("schema")
        .args(args)
        .run()
        .code(0);
    let parsed = serde_json::from_str(&out.stdout).expect("the schema is JSON");
    (out.stdout, parsed)
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("the schema compiles")
}

/// A YAML spec as the JSON an editor's validator sees.
fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("YAML")
}

/// Where `instance` breaks `validator`, as JSON pointers with messages.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Every `.yaml` file under `dir`, recursively.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn shipped_specs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["specs", "examples"] {
        yaml_files(&root().join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() >= 10, "shipped specs: {files:?}");
    files
}

#[test]
fn the_committed_schema_is_what_the_command_prints() {
    let (printed, parsed) = schema(&[]);
    let committed = std::fs::read_to_string(root().join("schema/runner.schema.json"))
        .expect("schema/runner.schema.json");
    assert!(
        committed == printed,
        "schema/runner.schema.json is not what `runner schema` prints (the spec structs changed?); \
         regenerate it with `cargo run -- schema > schema/runner.schema.json`"
    );
    assert_eq!(
        parsed["$schema"],
        json!("https://json-schema.org/draft/2020-12/schema")
    );
    assert!(
        jsonschema::meta::is_valid(&parsed),
        "not a valid 2020-12 schema"
    );
}

#[test]
fn shipped_specs_name_the_schema_and_satisfy_it() {
    let (_, schema) = schema(&[]);
    let validator = validator(&schema);
    for file in shipped_specs() {
        let shown = file.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let named = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{shown}: first line is not the schema modeline: {first}"));
        let target = file.parent().unwrap().join(named);
        assert_eq!(
            std::fs::canonicalize(&target).ok(),
            std::fs::canonicalize(root().join("schema/runner.schema.json")).ok(),
            "{shown}: the modeline names {named}"
        );
        let found = errors(&validator, &yaml(&text));
        assert!(found.is_empty(), "{shown}:\n{}", found.join("\n"));
    }
}

/// Gallery specs whose mistake is the wrong type (or a value outside a
/// fixed set), and where the schema reports it.
const WRONG_TYPES: &[(&str, &str)] = &[
    (
        "app-header-not-string.yaml",
        "/apps/example/headers/X-Retries",
    ),
    ("app-not-mapping.yaml", "/apps/example"),
    ("apps-is-list.yaml", "/apps"),
    ("bad-expect-status.yaml", "/steps/0/expect"),
    (
        "continue-on-error-string.yaml",
        "/steps/0/continue_on_error",
    ),
    ("env-not-mapping.yaml", "/env/GITHUB_TOKEN"),
    ("expect-status-overflow.yaml", "/steps/0/expect"),
    ("expect-status-string.yaml", "/steps/0/expect"),
    ("include-not-list.yaml", "/include"),
    ("journal-sync-unknown.yaml", "/journal"),
    ("limits-rate-number.yaml", "/apps/github/limits"),
    ("limits-rate-unit.yaml", "/apps/github/limits"),
    (
        "lowercase-method.yaml",
        "/apps/example/actions/EXAMPLE_CREATE/method",
    ),
    ("not-a-mapping.yaml", ""),
    ("poll-bad-every.yaml", "/steps/0/poll"),
    ("retry-bad-backoff.yaml", "/steps/0/retry"),
    ("scalar-document.yaml", ""),
    ("step-not-mapping.yaml", "/steps/0"),
    ("step-params-is-list.yaml", "/steps/0/params"),
    ("steps-is-mapping.yaml", "/steps"),
    ("timeout-without-unit.yaml", "/apps/example/timeout"),
    (
        "unknown-array-style.yaml",
        "/apps/example/actions/EXAMPLE_CHARGE/params/expand/array_style",
    ),
    (
        "unknown-auth-placement.yaml",
        "/auth/example/parameters/0/in",
    ),
    (
        "unknown-body-format.yaml",
        "/apps/example/actions/EXAMPLE_CREATE/body_format",
    ),
    (
        "unknown-method.yaml",
        "/apps/example/actions/EXAMPLE_FETCH/method",
    ),
    (
        "unknown-param-in.yaml",
        "/apps/example/actions/EXAMPLE_GET/params/session/in",
    ),
    (
        "unknown-param-type.yaml",
        "/apps/example/actions/EXAMPLE_GET/params/name/type",
    ),
    ("version-negative.yaml", "/version"),
    ("version-string.yaml", "/version"),
];

/// Gallery specs with a key the loader does not know, and where.
const UNKNOWN_KEYS: &[(&str, &str)] = &[
    ("env-unknown-key.yaml", "/env/GITHUB_TOKEN"),
    ("expect-body-unknown-key.yaml", "/steps/0/expect"),
    ("limits-unknown-key.yaml", "/apps/github/limits"),
    ("paginate-unknown-key.yaml", "/steps/0/paginate"),
    ("poll-unknown-key.yaml", "/steps/0/poll"),
    ("retry-unknown-key.yaml", "/apps/example/retry"),
    ("timeout-unknown-key.yaml", "/steps/0/timeout"),
    (
        "unknown-key-action.yaml",
        "/apps/example/actions/EXAMPLE_GET",
    ),
    ("unknown-key-app.yaml", "/apps/example"),
    ("unknown-key-auth-param.yaml", "/auth/example/parameters/0"),
    ("unknown-key-auth.yaml", "/auth/example"),
    ("unknown-key-descope.yaml", "/auth/example/descope"),
    ("unknown-key-expect.yaml", "/steps/0/expect"),
    ("unknown-key-no-close-match.yaml", "/apps/example"),
    (
        "unknown-key-param.yaml",
        "/apps/example/actions/EXAMPLE_GET/params/limit",
    ),
    ("unknown-key-step.yaml", "/steps/0"),
    ("unknown-key-typo.yaml", ""),
];

/// Gallery specs that leave out a key the loader requires.
const MISSING_KEYS: &[(&str, &str)] = &[
    ("descope-missing-app-id.yaml", "/auth/example/descope"),
    (
        "missing-auth-param-value.yaml",
        "/auth/example/parameters/0",
    ),
    ("missing-base-url.yaml", "/apps/example"),
    ("missing-method.yaml", "/apps/example/actions/EXAMPLE_GET"),
    (
        "missing-param-type.yaml",
        "/apps/example/actions/EXAMPLE_GET/params/limit",
    ),
    ("missing-path.yaml", "/apps/example/actions/EXAMPLE_GET"),
    ("missing-version.yaml", ""),
];

#[test]
fn the_schema_rejects_gallery_specs_with_wrong_types_or_unknown_keys() {
    let (_, schema) = schema(&[]);
    let validator = validator(&schema);
    for (case, at) in WRONG_TYPES.iter().chain(UNKNOWN_KEYS).chain(MISSING_KEYS) {
        let text = std::fs::read_to_string(root().join("tests/errors").join(case))
            .unwrap_or_else(|e| panic!("tests/errors/{case}: {e}"));
        let found = errors(&validator, &yaml(&text));
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{at}: "))),
            "{case}: expected an error at `{at}`, found {found:#?}"
        );
    }
}

/// A workflow on the shipped GitHub catalog, with `steps` given.
fn github_workflow(steps: &str) -> Value {
    yaml(&format!(
        "version: 1\ninclude: [specs/apps/github.yaml]\nsteps:\n{steps}"
    ))
}

#[test]
fn a_schema_specialised_to_a_catalog_knows_its_actions_and_params() {
    let (_, schema) = schema(&["specs/apps/github.yaml"]);
    let validator = validator(&schema);
    let action = &schema["$defs"]["Step"]["properties"]["action"];
    let names = action["enum"].as_array().expect("action names");
    // Names and aliases both, each described.
    assert!(names.contains(&json!("GITHUB_ISSUES_CREATE")), "{names:?}");
    assert!(names.contains(&json!("GITHUB_CREATE_ISSUE")), "{names:?}");
    assert_eq!(
        action["enumDescriptions"].as_array().map(Vec::len),
        Some(names.len())
    );

    let valid = [
        // Literals of the params' types.
        "  - action: GITHUB_ISSUES_CREATE\n    params: {owner: o, repo: r, title: T, labels: [bug]}\n",
        // By an alias; templates where an integer goes; a number as text.
        "  - action: GITHUB_CREATE_ISSUE\n    params: {owner: o, repo: r, title: T, milestone: \"{{ inputs.m }}\"}\n",
        "  - action: GITHUB_ISSUES_CREATE_COMMENT\n    params: {owner: o, repo: r, issue_number: \"42\", body: hi}\n",
        // Steps that run no action are not constrained.
        "  - uses: flows/label.yaml\n",
        "  - for_each: [1, 2]\n    steps:\n      - action: GITHUB_ISSUES_GET\n        params: {owner: o, repo: r, issue_number: \"{{ item }}\"}\n",
    ];
    for steps in valid {
        let found = errors(&validator, &github_workflow(steps));
        assert!(found.is_empty(), "{steps}\n{found:#?}");
    }

    let invalid = [
        // A misspelt param.
        (
            "  - action: GITHUB_ISSUES_CREATE\n    params: {owner: o, repo: r, titel: T}\n",
            "/steps/0/params",
        ),
        // An action no catalog has.
        (
            "  - action: GITHUB_ISSUE_CREATE\n    params: {owner: o, repo: r}\n",
            "/steps/0/action",
        ),
        // A required param left out.
        (
            "  - action: GITHUB_ISSUES_GET\n    params: {owner: o, repo: r}\n",
            "/steps/0/params",
        ),
        // A literal of the wrong type, inside a loop's own steps.
        (
            "  - for_each: [1]\n    steps:\n      - action: GITHUB_ISSUES_GET\n        params: {owner: o, repo: r, issue_number: [1]}\n",
            "/steps/0/steps/0/params/issue_number",
        ),
    ];
    for (steps, at) in invalid {
        let found = errors(&validator, &github_workflow(steps));
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{at}: "))),
            "{steps}: expected an error at `{at}`, found {found:#?}"
        );
    }
}

#[test]
fn a_param_enum_and_bounds_reach_the_specialised_schema() {
    let catalog = r#"
version: 1
apps:
  shop:
    base_url: https://shop.example.com
    actions:
      SHOP_LIST_ORDERS:
        method: GET
        path: /orders
        params:
          state: {type: string, enum: [open, closed]}
          per_page: {type: integer, maximum: 100}
          filter:
            type: object
            fields:
              since: {type: string, required: true}
"#;
    let ws = Workspace::new().file("shop.yaml", catalog);
    let out = ws.runner(["schema", "shop.yaml"]).run().code(0);
    let schema: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let validator = validator(&schema);
    let step = |params: &str| {
        yaml(&format!(
            "version: 1\nsteps:\n  - action: SHOP_LIST_ORDERS\n    params: {params}\n"
        ))
    };
    for ok in [
        "{state: open, per_page: 100}",
        "{state: \"{{ inputs.state }}\", filter: {since: \"2026-01-01\"}}",
    ] {
        let found = errors(&validator, &step(ok));
        assert!(found.is_empty(), "{ok}\n{found:#?}");
    }
    for (bad, at) in [
        ("{state: opened}", "/steps/0/params/state"),
        ("{per_page: 500}", "/steps/0/params/per_page"),
        ("{filter: {until: x}}", "/steps/0/params/filter"),
    ] {
        let found = errors(&validator, &step(bad));
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{at}: "))),
            "{bad}: expected an error at `{at}`, found {found:#?}"
        );
    }
}

#[test]
fn the_whole_github_catalog_gives_a_schema_of_bounded_size() {
    let (text, schema) = schema(&["specs/apps/github-rest.yaml"]);
    // 1.1 MB on one line when written; twice that would be a regression.
    assert!(text.len() < 2_500_000, "{} bytes", text.len());
    let names = schema["$defs"]["Step"]["properties"]["action"]["enum"]
        .as_array()
        .expect("action names")
        .len();
    assert!(names >= 1223, "{names} names");
    let validator = validator(&schema);
    let steps = "version: 1\nsteps:\n  - action: GITHUB_ISSUES_CREATE\n    params: {owner: o, repo: r, title: T}\n  - action: GITHUB_ISSUES_CREAT\n";
    let found = errors(&validator, &yaml(steps));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("/steps/1/action: "), "{found:#?}");
}

#[test]
fn a_schema_for_no_catalog_is_an_error() {
    let ws = Workspace::new().file("flow.yaml", "version: 1\nsteps: []\n");
    ws.runner(["schema", "nope.yaml"])
        .run()
        .code(2)
        .stderr_has("nope.yaml");
    ws.runner(["schema", "flow.yaml"])
        .run()
        .code(2)
        .stderr_has("the specs given define no actions");
}

const COMMANDS: &[&str] = &[
    "apply",
    "plan",
    "validate",
    "actions",
    "describe",
    "import",
    "schema",
    "completions",
    "man",
];

#[test]
fn completions_for_every_shell_know_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Cmd::new().args(["completions", shell]).run().code(0);
        assert!(out.stdout.len() > 1000, "{shell}: {}", out.stdout);
        for command in COMMANDS.iter().chain(&["journal-sync", "resume"]) {
            assert!(
                out.stdout.contains(command),
                "{shell}: no `{command}` in\n{}",
                out.stdout
            );
        }
    }
    Cmd::new()
        .args(["completions", "tcsh"])
        .run()
        .code(2)
        .stderr_has("possible values: bash, elvish, fish, powershell, zsh");
}

#[test]
fn the_man_page_covers_every_command() {
    let out = Cmd::new().arg("man").run().code(0);
    assert!(out.stdout.contains(".TH runner 1"), "{}", out.stdout);
    for command in COMMANDS {
        let section = format!(".SH \"RUNNER {}\"", command.to_uppercase());
        assert!(
            out.stdout.contains(&section),
            "no {section} in\n{}",
            out.stdout
        );
    }
    // A command's options are in its section.
    let apply = out.stdout.split(".SH \"RUNNER APPLY\"").nth(1).unwrap();
    let apply = apply.split(".SH ").next().unwrap();
    assert!(apply.contains("\\-\\-resume"), "{apply}");
}
