//! The spec schema specialised to catalogs (`runner schema SPEC…`): a
//! step's `action:` is one of their actions' names or aliases, and its
//! `params:` are that action's, with their types, `enum`s, bounds, fields
//! and items, so an editor completes both and marks a misspelt name.
//!
//! A step's params are templates as often as literals, and the loader
//! converts what converts without loss (`"42"` to `42`), so each value
//! the catalog types also takes a template, and the text forms of numbers
//! and booleans. One `if`/`then` per action, keyed on `action:`: an editor
//! shows one action's params, and a validator looks up one action per step.

use serde_json::{Map, Value, json};

use super::{Entry, parameters, summary};

/// `base` (the schema of spec files) with the steps' `action:` and
/// `params:` specialised to `entries`.
pub(crate) fn specialise(mut base: Value, entries: &[Entry]) -> Value {
    // Each name once, with what the action does, for the enum.
    let mut seen = std::collections::HashSet::new();
    let (names, descriptions): (Vec<&str>, Vec<&str>) = entries
        .iter()
        .flat_map(|e| {
            std::iter::once(&e.action.name)
                .chain(&e.aliases)
                .map(|name| (name.as_str(), summary(&e.action)))
        })
        .filter(|(name, _)| seen.insert(*name))
        .unzip();
    let cases: Vec<Value> = entries
        .iter()
        .map(|e| {
            let names: Vec<&String> = std::iter::once(&e.action.name).chain(&e.aliases).collect();
            let mut params = match parameters(&e.action) {
                Value::Object(params) => params,
                _ => Map::new(),
            };
            if let Some(Value::Object(properties)) = params.get_mut("properties") {
                for value in properties.values_mut() {
                    *value = loosen(value.take());
                }
            }
            // A param the action lacks is an error (`unknown param`).
            params.insert("additionalProperties".into(), json!(false));
            json!({
                "if": {"properties": {"action": {"enum": names}}, "required": ["action"]},
                "then": {"properties": {"params": params}},
            })
        })
        .collect();
    if let Some(defs) = base.get_mut("$defs").and_then(Value::as_object_mut) {
        defs.insert(
            "Template".into(),
            json!({
                "description": "A template (`{{ … }}`), rendered when the step runs.",
                "type": "string",
                "pattern": r"\{\{|\{%|\{#",
            }),
        );
        for (name, pattern) in [
            ("IntegerText", r"^\s*-?[0-9]+\s*$"),
            (
                "NumberText",
                r"^\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$",
            ),
            ("BooleanText", r"^\s*(true|false)\s*$"),
        ] {
            defs.insert(name.into(), json!({"type": "string", "pattern": pattern}));
        }
        if let Some(step) = defs.get_mut("Step").and_then(Value::as_object_mut) {
            if let Some(action) = step
                .get_mut("properties")
                .and_then(|p| p.get_mut("action"))
                .and_then(Value::as_object_mut)
            {
                action.insert("type".into(), json!("string"));
                action.insert("enum".into(), json!(names));
                // What VS Code's JSON and YAML services show beside each name.
                action.insert("enumDescriptions".into(), json!(descriptions));
            }
            step.insert("allOf".into(), Value::Array(cases));
        }
    }
    base
}

/// A param's (or field's, or items') schema, taking also what the loader
/// converts into it: a template, and numbers and booleans written as text.
fn loosen(schema: Value) -> Value {
    let Value::Object(mut node) = schema else {
        return schema;
    };
    if let Some(Value::Object(properties)) = node.get_mut("properties") {
        for value in properties.values_mut() {
            *value = loosen(value.take());
        }
    }
    if let Some(items) = node.get_mut("items") {
        *items = loosen(items.take());
    }
    let text = match node.get("type").and_then(Value::as_str) {
        Some("string") => {
            // Numbers and booleans become their text.
            node.insert("type".into(), json!(["string", "number", "boolean"]));
            let plain = node
                .keys()
                .all(|k| matches!(k.as_str(), "type" | "description" | "default" | "format"));
            if plain {
                return Value::Object(node);
            }
            None
        }
        Some("integer") => Some("IntegerText"),
        Some("number") => Some("NumberText"),
        Some("boolean") => Some("BooleanText"),
        Some(_) => None,
        // Any value: nothing to loosen.
        None if !node.contains_key("enum") => return Value::Object(node),
        None => None,
    };
    let mut out = Map::new();
    for key in ["description", "default"] {
        if let Some(value) = node.remove(key) {
            out.insert(key.into(), value);
        }
    }
    let mut any_of = vec![Value::Object(node), json!({"$ref": "#/$defs/Template"})];
    if let Some(text) = text {
        any_of.push(json!({"$ref": format!("#/$defs/{text}")}));
    }
    out.insert("anyOf".into(), Value::Array(any_of));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loosened_values_take_templates_and_text_forms() {
        // A plain string takes what converts to text, and needs no template branch.
        assert_eq!(
            loosen(json!({"type": "string", "description": "d"})),
            json!({"type": ["string", "number", "boolean"], "description": "d"})
        );
        // An integer with a bound: the bound holds for integers only.
        assert_eq!(
            loosen(json!({"type": "integer", "maximum": 100, "description": "d"})),
            json!({"description": "d", "anyOf": [
                {"type": "integer", "maximum": 100},
                {"$ref": "#/$defs/Template"},
                {"$ref": "#/$defs/IntegerText"},
            ]})
        );
        // Fields and items are loosened in turn; any value stays open.
        assert_eq!(
            loosen(json!({"type": "object", "properties": {"n": {"type": "number"}, "x": {}}})),
            json!({"anyOf": [
                {"type": "object", "properties": {
                    "n": {"anyOf": [
                        {"type": "number"},
                        {"$ref": "#/$defs/Template"},
                        {"$ref": "#/$defs/NumberText"},
                    ]},
                    "x": {},
                }},
                {"$ref": "#/$defs/Template"},
            ]})
        );
    }
}
