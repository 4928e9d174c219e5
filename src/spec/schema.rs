//! The JSON Schema (draft 2020-12) of spec files, for editors and CI:
//! derived from the raw structs the loader deserializes ([`super::raw`]), so
//! it changes when they do. Written by hand only where the loader takes
//! free-form YAML and reads it itself: durations, timeouts, rates, statuses
//! and `paginate.next` (their descriptions are the fields' own). Templates and values of any type stay open (`true`):
//! what they must be is known only once the catalog is (see
//! `catalog::schema`).

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

/// The title editors show.
const TITLE: &str = "runner spec";

/// The schema of a spec file, as `runner schema` prints it.
pub(crate) fn file() -> Value {
    // `default: null` (an optional key left out) says nothing, and editors
    // would offer to write it.
    let drop_null_default = RecursiveTransform(|schema: &mut Schema| {
        if schema.get("default") == Some(&Value::Null) {
            schema.remove("default");
        }
    });
    let mut schema = SchemaSettings::draft2020_12()
        .for_deserialize()
        .with_transform(drop_null_default)
        .into_generator()
        .into_root_schema_for::<super::raw::File>();
    schema.insert("title".into(), TITLE.into());
    schema.insert(
        "description".into(),
        "A runner spec file: apps and their actions, auth, inputs, vars and steps. See docs/spec.md."
            .into(),
    );
    schema.to_value()
}

/// `^…$` for a duration: `500ms`, `10s`, `2m`, `1h`, `7d` and sums (`1m30s`),
/// as `units::parse_duration` reads them.
const DURATION: &str = r"^\s*([0-9]+(ms|s|m|h|d))+\s*$";

/// A duration written as text.
pub(super) fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": DURATION,
        "description": "A duration: `500ms`, `10s`, `2m`, `1h`, `7d`, or a sum (`1m30s`).",
    })
}

/// `timeout: 10s` or `timeout: {connect: 2s, request: 30s}`.
pub(super) fn timeout(generator: &mut SchemaGenerator) -> Schema {
    let parts = generator.subschema_for::<super::raw::Timeout>();
    json_schema!({
        "anyOf": [duration(generator), parts],
    })
}

/// `rate: 10/s`: a count per period, as `lower::limits` reads it.
pub(super) fn rate(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": r"^\s*[0-9]+\s*/\s*[0-9]*\s*(ms|s|sec|second|seconds|m|min|minute|minutes|h|hour|hours|d|day|days)\s*$",
    })
}

/// `expect.status`: one HTTP status or a non-empty list of them.
pub(super) fn statuses(_: &mut SchemaGenerator) -> Schema {
    let status = json!({"type": "integer", "minimum": 100, "maximum": 599});
    json_schema!({
        "anyOf": [status, {"type": "array", "items": status, "minItems": 1}],
    })
}

/// `paginate.next`: `link`, or `{param, value}` for a cursor.
pub(super) fn paginate_next(generator: &mut SchemaGenerator) -> Schema {
    let cursor = generator.subschema_for::<super::raw::Cursor>();
    json_schema!({
        "anyOf": [{"const": "link"}, cursor],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_the_loader_reads_them() {
        let re = regex::Regex::new(DURATION).unwrap();
        for ok in ["500ms", "10s", "2m", "1h", "7d", "1m30s", " 10s "] {
            assert!(re.is_match(ok), "{ok}");
            assert!(crate::units::parse_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["10", "s", "10 s", "1.5s", "10sec", ""] {
            assert!(!re.is_match(bad), "{bad}");
            assert!(crate::units::parse_duration(bad).is_err(), "{bad}");
        }
    }
}
