//! The schema of each operation's successful JSON answer, as plain JSON
//! Schema for `expect: {schema: response}`, and the component schemas they
//! refer to, shared by every action of the catalog (`schemas:` of the app)
//! so that a schema many operations return is written once.
//!
//! Read from the raw document, before the normalizing pass drops
//! `responses`. Only what validates is kept: descriptions, examples,
//! titles, `format`s, `readOnly`/`writeOnly`, `discriminator`, `xml` and
//! extensions are dropped (they are most of a description's bytes, and
//! change no verdict); OpenAPI 3.0's `nullable: true` becomes a `null` in
//! `type`, its boolean `exclusiveMinimum`/`exclusiveMaximum` the numeric
//! form; `$ref: "#/components/schemas/NAME"` becomes `#/schemas/NAME`;
//! `oneOf` becomes `anyOf`, since descriptions use it for "one of these
//! shapes" with branches that overlap (GitHub's event payloads: an answer
//! fitting two of them would fail "exactly one" though the API sent it as
//! described, as Prism's answers from GitHub's own description did). A
//! reference to anywhere else allows any value, as does a schema nested
//! deeper than [`MAX_DEPTH`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

/// Past this nesting a schema allows anything.
const MAX_DEPTH: usize = 64;

const COMPONENTS: &str = "#/components/schemas/";

/// Every operation's success schema, by path and upper-case method, and
/// the document's component schemas, raw.
#[derive(Default)]
pub(super) struct Responses {
    by_operation: HashMap<(String, String), Value>,
    components: Map<String, Value>,
}

impl Responses {
    /// What `raw`, the whole document, says operations answer.
    pub(super) fn read(raw: &Value) -> Responses {
        let components = raw
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut by_operation = HashMap::new();
        let paths = raw.get("paths").and_then(Value::as_object);
        for (path, item) in paths.into_iter().flatten() {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                if let Some(schema) = success_schema(raw, responses) {
                    by_operation
                        .insert((path.clone(), method.to_ascii_uppercase()), schema.clone());
                }
            }
        }
        Responses {
            by_operation,
            components,
        }
    }

    /// The converted success schema of one operation, the names of the
    /// components it refers to added to `used`.
    pub(super) fn of(
        &self,
        path: &str,
        method: &str,
        used: &mut BTreeSet<String>,
    ) -> Option<Value> {
        let schema = self
            .by_operation
            .get(&(path.to_string(), method.to_string()))?;
        Some(convert(schema, used, 0))
    }

    /// The components named in `used`, and those they refer to, converted.
    pub(super) fn schemas(&self, mut used: BTreeSet<String>) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let mut todo: Vec<String> = used.iter().cloned().collect();
        while let Some(name) = todo.pop() {
            if out.contains_key(&name) {
                continue;
            }
            let mut more = BTreeSet::new();
            let converted = match self.components.get(&name) {
                Some(schema) => convert(schema, &mut more, 0),
                None => Value::Object(Map::new()),
            };
            out.insert(name, converted);
            for next in more {
                if used.insert(next.clone()) {
                    todo.push(next);
                }
            }
        }
        out
    }
}

/// The schema of the first 2xx answer (by status) with a JSON body.
fn success_schema<'a>(raw: &'a Value, responses: &'a Map<String, Value>) -> Option<&'a Value> {
    let mut statuses: Vec<(&String, &Value)> = responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .collect();
    statuses.sort_by_key(|(status, _)| status.as_str());
    statuses.into_iter().find_map(|(_, response)| {
        let response = follow(raw, response);
        let content = response.get("content")?.as_object()?;
        let media = content.get("application/json").or_else(|| {
            content
                .iter()
                .find(|(media, _)| media.contains("json"))
                .map(|(_, m)| m)
        })?;
        media.get("schema")
    })
}

/// A `$ref` to a local place followed, a few times at most.
fn follow<'a>(raw: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let Some(pointer) = value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match raw.pointer(pointer) {
            Some(target) => value = target,
            None => break,
        }
    }
    value
}

/// Keywords that take one schema.
const ONE: [&str; 5] = [
    "items",
    "not",
    "additionalProperties",
    "contains",
    "propertyNames",
];
/// Keywords that take a list of schemas.
const LIST: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords that take a map of schemas.
const MAP: [&str; 2] = ["properties", "patternProperties"];
/// Keywords kept as they are.
const KEPT: [&str; 15] = [
    "type",
    "enum",
    "const",
    "required",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
];

/// `schema` as plain JSON Schema, see the module's doc.
fn convert(schema: &Value, used: &mut BTreeSet<String>, depth: usize) -> Value {
    let Some(object) = schema.as_object() else {
        // `true`/`false` schemas (3.1) are JSON Schema already.
        return match schema {
            Value::Bool(_) => schema.clone(),
            _ => Value::Object(Map::new()),
        };
    };
    if depth > MAX_DEPTH {
        return Value::Object(Map::new());
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let mut out = Map::new();
        if let Some(name) = reference.strip_prefix(COMPONENTS)
            && !name.contains('/')
        {
            let name = name.replace("~1", "/").replace("~0", "~");
            out.insert(
                "$ref".into(),
                Value::String(format!("#/schemas/{}", pointer_escape(&name))),
            );
            used.insert(name);
        }
        return Value::Object(out);
    }
    let mut out = Map::new();
    for (key, value) in object {
        // See the module's doc: an answer fitting two branches is valid.
        let key = if key == "oneOf" {
            "anyOf"
        } else {
            key.as_str()
        };
        let converted = if ONE.contains(&key) {
            convert(value, used, depth + 1)
        } else if LIST.contains(&key) {
            match value.as_array() {
                Some(items) => {
                    Value::Array(items.iter().map(|s| convert(s, used, depth + 1)).collect())
                }
                None => continue,
            }
        } else if MAP.contains(&key) {
            match value.as_object() {
                Some(map) => Value::Object(
                    map.iter()
                        .map(|(k, s)| (k.clone(), convert(s, used, depth + 1)))
                        .collect(),
                ),
                None => continue,
            }
        } else if KEPT.contains(&key) {
            value.clone()
        } else if matches!(key, "exclusiveMinimum" | "exclusiveMaximum") {
            match value {
                // 3.0: a flag on `minimum`/`maximum`, handled below.
                Value::Bool(_) => continue,
                number => number.clone(),
            }
        } else {
            continue;
        };
        out.insert(key.to_string(), converted);
    }
    // 3.0's boolean exclusive bounds: the bound moves to the exclusive keyword.
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if object.get(flag) == Some(&Value::Bool(true))
            && let Some(value) = out.remove(bound)
        {
            out.insert(flag.into(), value);
        }
    }
    if object.get("nullable") == Some(&Value::Bool(true)) {
        nullable(&mut out);
    }
    Value::Object(out)
}

/// `nullable: true`: `null` added to the type (and to the enum, if any).
fn nullable(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(ty)) => {
            let ty = std::mem::take(ty);
            out.insert("type".into(), Value::Array(vec![ty.into(), "null".into()]));
        }
        Some(Value::Array(types)) if !types.contains(&"null".into()) => types.push("null".into()),
        _ => {}
    }
    if let Some(Value::Array(values)) = out.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

/// A name as a JSON Pointer token.
fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_validates_is_kept() {
        let mut used = BTreeSet::new();
        let schema = json!({
            "type": "object",
            "description": "An issue.",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer", "example": 1, "format": "int64"},
                "closed_at": {"type": "string", "nullable": true, "format": "date-time"},
                "state": {"type": "string", "enum": ["open", "closed"], "nullable": true},
                "user": {"$ref": "#/components/schemas/simple-user", "description": "ignored"},
                "n": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
                "payload": {"oneOf": [{"type": "object"}, {"type": "object", "required": ["a"]}]},
                "x-extension": {"type": "string"},
                "odd": {"$ref": "#/paths/~1a/get"}
            },
            "x-github": {"a": 1}
        });
        assert_eq!(
            convert(&schema, &mut used, 0),
            json!({
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer"},
                    "closed_at": {"type": ["string", "null"]},
                    "state": {"type": ["string", "null"], "enum": ["open", "closed", null]},
                    "user": {"$ref": "#/schemas/simple-user"},
                    "n": {"type": "number", "exclusiveMinimum": 0},
                    "payload": {"anyOf": [{"type": "object"}, {"type": "object", "required": ["a"]}]},
                    "x-extension": {"type": "string"},
                    "odd": {}
                }
            })
        );
        assert_eq!(used, BTreeSet::from(["simple-user".to_string()]));
    }

    #[test]
    fn components_are_closed_over_references() {
        let raw = json!({
            "paths": {"/i": {"get": {"responses": {
                "404": {"description": "no"},
                "200": {"$ref": "#/components/responses/ok"}
            }}}},
            "components": {
                "responses": {"ok": {"content": {"application/json": {"schema": {
                    "type": "array", "items": {"$ref": "#/components/schemas/a"}
                }}}}},
                "schemas": {
                    "a": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/b"}}},
                    "b": {"type": "string", "title": "B"},
                    "unused": {"type": "string"}
                }
            }
        });
        let responses = Responses::read(&raw);
        let mut used = BTreeSet::new();
        assert_eq!(
            responses.of("/i", "GET", &mut used),
            Some(json!({"type": "array", "items": {"$ref": "#/schemas/a"}}))
        );
        let schemas = responses.schemas(used);
        assert_eq!(
            serde_json::to_value(&schemas).unwrap(),
            json!({
                "a": {"type": "object", "properties": {"b": {"$ref": "#/schemas/b"}}},
                "b": {"type": "string"}
            })
        );
    }
}
