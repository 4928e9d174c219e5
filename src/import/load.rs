//! Reading a description: JSON or YAML text, the version check, the
//! normalizing pass, then `openapiv3`'s typed model.

use super::error::ImportError;
use super::normalize::normalize;
use openapiv3::{OpenAPI, PathItem};
use serde_json::Value;

/// A description ready to map.
pub(super) struct Loaded {
    pub doc: OpenAPI,
    /// The `openapi` field, e.g. `3.1.0`.
    pub version: String,
    /// Things the normalizing pass dropped that the reader should know about.
    pub notes: Vec<String>,
    /// What operations answer, read before the normalizing pass drops it.
    pub responses: super::responses::Responses,
}

pub(super) fn load(source: &str) -> Result<Loaded, ImportError> {
    let mut raw = parse(source)?;
    let Some(root) = raw.as_object() else {
        return Err(ImportError::NotOpenApi(
            "it is not a mapping with an `openapi` field".into(),
        ));
    };
    if root.contains_key("swagger") {
        return Err(ImportError::Swagger2);
    }
    let version = match root.get("openapi") {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(ImportError::NotOpenApi(
                "its `openapi` field is not a version number".into(),
            ));
        }
        None => {
            return Err(ImportError::NotOpenApi("it has no `openapi` field".into()));
        }
    };
    if !version.starts_with("3.") {
        return Err(ImportError::UnsupportedVersion(version));
    }
    let responses = super::responses::Responses::read(&raw);
    let notes = normalize(&mut raw);
    let doc: OpenAPI = serde_path_to_error::deserialize(&raw).map_err(|e| locate(&raw, e))?;
    Ok(Loaded {
        doc,
        version,
        notes,
        responses,
    })
}

/// Where a typed read failed. `openapiv3` reads `paths` as a flattened map,
/// which hides the position inside it, so a failure there is looked for
/// again path item by path item.
fn locate(raw: &Value, error: serde_path_to_error::Error<serde_json::Error>) -> ImportError {
    let at = error.path().to_string();
    if at == "paths"
        && let Some(paths) = raw.get("paths").and_then(Value::as_object)
    {
        for (path, item) in paths.iter().filter(|(path, _)| path.starts_with('/')) {
            if let Err(inner) = serde_path_to_error::deserialize::<_, PathItem>(item) {
                let within = inner.path().to_string();
                return ImportError::Invalid {
                    at: match within.as_str() {
                        "." => format!("paths.{path}"),
                        within => format!("paths.{path}.{within}"),
                    },
                    message: inner.inner().to_string(),
                };
            }
        }
    }
    ImportError::Invalid {
        at,
        message: error.inner().to_string(),
    }
}

/// JSON when the text starts like JSON (better messages, faster), else YAML.
fn parse(source: &str) -> Result<Value, ImportError> {
    let text = source.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with(['{', '[']) {
        return serde_json::from_str(text).map_err(|e| ImportError::Syntax {
            format: "JSON",
            message: e.to_string(),
        });
    }
    let syntax = |e: serde_yaml::Error| ImportError::Syntax {
        format: "YAML",
        message: e.to_string(),
    };
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(syntax)?;
    yaml.apply_merge().map_err(syntax)?;
    Ok(yaml_to_json(yaml))
}

/// YAML as JSON: keys that are not strings (`200:`, `true:`) become their text;
/// tags are dropped.
fn yaml_to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (key_text(k), yaml_to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

fn key_text(key: serde_yaml::Value) -> String {
    match yaml_to_json(key) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keys_that_are_not_strings_become_text() {
        let value = parse("a:\n  200: ok\n  true: yes\n  1.5: x\nb: &x {c: 1}\nd: *x\n").unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a": {"200": "ok", "true": "yes", "1.5": "x"}, "b": {"c": 1}, "d": {"c": 1}})
        );
    }

    #[test]
    fn wrong_documents_say_what_they_are() {
        let err = |text: &str| load(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err("{\"swagger\": \"2.0\"}").contains("Swagger 2.0"),
            "{}",
            err("{\"swagger\": \"2.0\"}")
        );
        assert!(err("{not json").contains("not valid JSON"));
        assert!(err("a: [b").contains("not valid YAML"));
        assert!(err("- a\n- b\n").contains("not a mapping"));
        assert!(err("asyncapi: 2.0.0\n").contains("no `openapi` field"));
        assert!(err("openapi: 2.5.0\n").contains("unsupported OpenAPI version `2.5.0`"));
        assert!(
            err("openapi: 3.0.0\ninfo: {title: t}\npaths: {}\n")
                .contains("missing field `version`"),
            "{}",
            err("openapi: 3.0.0\ninfo: {title: t}\npaths: {}\n")
        );
    }
}
