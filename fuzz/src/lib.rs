//! The code behind the fuzz targets, shared with `tests/fuzz_corpus.rs`
//! (which includes this file by path) so the corpus replays exactly what
//! the fuzzer ran.
//!
//! Nothing here reads the process environment or the network: templates see
//! a fixed `env`, and a spec may only include relative files below the
//! current directory (no `..`, no absolute paths), so an input cannot make
//! the harness read `/dev/zero` or block on a pipe.

use std::collections::BTreeMap;
use std::sync::Arc;

use runner::template::{Scope, Templates, to_value};
use serde_json::json;

/// The value of the one secret in the fixed environment: long and random, so
/// finding it in the output means the template read `env`.
pub const SECRET: &str = "fz-7c1e9b2a04d35f68e0a1b2c3d4e5f607";

/// The most one render may produce, in string bytes (keys included) and in
/// values. Templates print or capture values of at most 1M items and 16 MiB
/// of strings, and fuel (a few MB) stops a loop that prints many; anything
/// well past that got around both.
pub const MAX_BYTES: usize = 32 << 20;
pub const MAX_ITEMS: usize = 2_000_000;

/// The environment every target sees instead of the process's.
pub fn env() -> Arc<BTreeMap<String, String>> {
    Arc::new(BTreeMap::from([
        ("TOKEN".to_string(), SECRET.to_string()),
        ("USER".to_string(), "octocat".to_string()),
        ("EMPTY".to_string(), String::new()),
        ("GITHUB_TOKEN".to_string(), SECRET.to_string()),
    ]))
}

/// Fuzz target `spec_load`: parse and check a spec, then `plan` it (renders
/// every request, sends nothing). Errors are fine; panics and hangs are not.
pub fn spec_load(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    if !includes_stay_inside(&source) {
        return;
    }
    let workflow = match runner::load_str("fuzz.yaml", &source) {
        Ok(workflow) => workflow,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let options = runner::Options {
        env: env(),
        ..Default::default()
    };
    match runner::plan(&workflow, &options) {
        Ok(plan) => {
            let _ = format!("{plan:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Fuzz target `template_render`: compile one template string and render it
/// against a fixed scope. Besides "no panic, no hang" it checks that the
/// output stays within what templates may build, and that the environment leaks
/// only through tracked reads: if the secret shows up in the output, the
/// scope must have recorded reading it and the refs must mention `env`.
pub fn template_render(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    let mut templates = Templates::new();
    let refs = match templates.add(&source) {
        Ok(refs) => refs,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let scope = Scope::new(env())
        .with("vars", to_value(&vars()))
        .with("steps", to_value(&steps()));
    let rendered = templates.render(&source, &scope);
    if let Ok(value) = &rendered {
        let (items, bytes) = measure(value);
        assert!(
            items <= MAX_ITEMS && bytes <= MAX_BYTES,
            "rendered {items} values holding {bytes} bytes of strings: more than templates may build"
        );
        let text = value.to_string();
        if text.contains(SECRET) && !source.contains(SECRET) {
            let used = scope.env_used();
            assert!(
                used.iter().any(|(_, v)| v == SECRET),
                "env value in the output but not tracked as read: {used:?}"
            );
            assert!(
                refs.env.contains("TOKEN")
                    || refs.env.contains("GITHUB_TOKEN")
                    || refs.dynamic.contains("env"),
                "env value in the output but the refs do not mention it: {refs:?}"
            );
        }
    }
    // The same template inside a structure, as params and vars are rendered.
    let nested = json!({"a": [source.as_ref(), {"b": source.as_ref()}], "n": 1});
    let _ = templates.render_value(&nested, &scope);
    let _ = templates.refs_in(&nested);
}

/// How many values `value` holds and how many bytes its strings and keys
/// take, without recursing.
fn measure(value: &serde_json::Value) -> (usize, usize) {
    let (mut items, mut bytes) = (0, 0);
    let mut todo = vec![value];
    while let Some(v) = todo.pop() {
        items += 1;
        match v {
            serde_json::Value::String(s) => bytes += s.len(),
            serde_json::Value::Array(a) => todo.extend(a),
            serde_json::Value::Object(m) => {
                bytes += m.keys().map(String::len).sum::<usize>();
                todo.extend(m.values());
            }
            _ => {}
        }
    }
    (items, bytes)
}

fn vars() -> serde_json::Value {
    json!({
        "owner": "octocat",
        "repo": "hello-world",
        "labels": ["bug", "triage"],
        "n": 3,
        "big": 9_007_199_254_740_993_u64,
        "neg": -1,
        "f": 1.5,
        "yes": true,
        "nothing": null,
        "nested": {"a": {"b": {"c": [1, [2, [3, {"d": "e"}]]]}}},
        "empty": {},
        "list": [],
    })
}

fn steps() -> serde_json::Value {
    json!({
        "issue": {
            "status": 201,
            "headers": {"content-type": "application/json", "x-count": "2"},
            "response": {"number": 42, "title": "t", "labels": [{"name": "bug"}], "body": null},
        },
        "text": {"status": 200, "headers": {}, "response": "plain text"},
    })
}

/// Whether every `include` of `source` is a relative path below the current
/// directory. Conservative: YAML that does not parse here may only run if it
/// does not mention `include` at all.
fn includes_stay_inside(source: &str) -> bool {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(source) else {
        return !source.contains("include");
    };
    let Some(include) = doc.get("include") else {
        return true;
    };
    let safe = |item: &serde_yaml::Value| match item {
        serde_yaml::Value::String(path) => {
            let path = std::path::Path::new(path);
            path.is_relative()
                && path
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        }
        serde_yaml::Value::Sequence(_)
        | serde_yaml::Value::Mapping(_)
        | serde_yaml::Value::Tagged(_) => false,
        _ => true,
    };
    match include {
        serde_yaml::Value::Sequence(items) => items.iter().all(safe),
        other => safe(other),
    }
}
