//! The one pass over the raw document before it is read into `openapiv3`'s
//! types: it folds OpenAPI 3.1 forms into their 3.0 equivalents, drops what
//! the importer never reads, and moves every `$ref` target under
//! `components` so that references can be resolved by name.
//!
//! Why one typed model for both versions: the catalog needs only operations,
//! parameters, request bodies, schemas (types, properties, enums, defaults)
//! and security schemes. Between 3.0 and 3.1 these differ only in a few JSON
//! Schema spellings, each with a 3.0 equivalent for our purpose:
//!
//! | 3.1 | read as (3.0) |
//! |---|---|
//! | `type: [x, "null"]` | `type: x, nullable: true` |
//! | `type: [x, y]` | `anyOf: [{type: x}, {type: y}]` |
//! | `const: v` | `enum: [v]` |
//! | `exclusiveMinimum: 5` (a number) | dropped (bounds are not in the catalog) |
//! | `contentMediaType` without `contentEncoding` | `format: binary` |
//! | a boolean schema `true` / `false` | `{}` / `{not: {}}` |
//! | `paths` optional, `webhooks`, `components.pathItems` | `paths: {}`, dropped, inlined |
//! | security scheme `mutualTLS` | dropped, noted in the output |
//!
//! So `openapiv3` (the maintained crate for 3.0) reads both, and the mapping
//! to a catalog is written once. `oas3` reads 3.1 only (3.0's boolean
//! `exclusiveMinimum` and `nullable` do not fit it), so using it too would
//! mean a second mapping for the same result. A 3.0 document has none of the
//! 3.1 forms, so the pass is applied to every document; on a sloppy 3.0
//! document (a `type` list, say) it is simply lenient.
//!
//! Besides: `responses`, `callbacks`, `examples`, `webhooks` and the
//! components only they use are dropped (they are most of a large
//! description, and a malformed response must not stop an import); a
//! parameter with neither `schema` nor `content` gets `schema: {}`; an
//! encoding's `explode` is made explicit (its default depends on `style`,
//! which `openapiv3` forgets); a path parameter's `allowReserved: true`
//! becomes `x-multi-segment: true`, which `openapiv3` keeps.
//!
//! References: a `$ref` to `#/components/{schemas,parameters,requestBodies}/NAME`
//! is left as it is. Any other local reference (`#/paths/…/parameters/0`,
//! `#/components/schemas/Pet/properties/name`, `#/$defs/…`) has its target
//! copied into `components` under a synthetic name (the pointer itself) and
//! the `$ref` rewritten to it. References to other files are left alone; they
//! are an error only if the importer has to follow one.

use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// What a position in the document holds, for the references found there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Schema,
    Parameter,
    RequestBody,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Schema => "schemas",
            Kind::Parameter => "parameters",
            Kind::RequestBody => "requestBodies",
        }
    }
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Security scheme types the importer understands.
const SCHEME_TYPES: &[&str] = &["apiKey", "http", "oauth2", "openIdConnect"];

/// Normalizes `doc` in place; returns notes for the output's header (security
/// schemes that were dropped).
pub(super) fn normalize(doc: &mut Value) -> Vec<String> {
    let Some(root) = doc.as_object_mut() else {
        return Vec::new();
    };
    root.remove("webhooks");
    if !root.get("paths").is_some_and(Value::is_object) {
        root.insert("paths".into(), json!({}));
    }
    inline_path_item_refs(doc);

    let mut walker = Walker::default();
    walker.walk_document(doc);
    // Copy the targets of deep references under `components`, then walk the
    // copies, which may hold deep references of their own.
    let mut hoisted: HashSet<(Kind, String)> = HashSet::new();
    while !walker.deep.is_empty() {
        let deep = std::mem::take(&mut walker.deep);
        for (kind, pointer) in deep {
            if !hoisted.insert((kind, pointer.clone())) {
                continue;
            }
            let Some(mut target) = doc.pointer(&pointer).cloned() else {
                continue; // dangling: an error if anything needs it
            };
            walker.walk(kind, &mut target);
            let section = components_section(doc, kind.section());
            section.insert(synthetic_name(&pointer), target);
        }
    }

    let notes = drop_unknown_security_schemes(doc);
    strip_unread(doc);
    notes
}

/// The `$ref` text for the synthetic component holding `pointer`'s target.
fn synthetic_ref(kind: Kind, pointer: &str) -> String {
    let escaped = synthetic_name(pointer)
        .replace('~', "~0")
        .replace('/', "~1");
    format!("#/components/{}/{escaped}", kind.section())
}

fn synthetic_name(pointer: &str) -> String {
    pointer.trim_start_matches('/').to_string()
}

/// `components.<section>`, created (or replaced, when not a mapping) if need be.
fn components_section<'d>(doc: &'d mut Value, section: &str) -> &'d mut Map<String, Value> {
    let mut current = doc;
    for key in ["components", section] {
        if !current.is_object() {
            *current = json!({});
        }
        let Value::Object(map) = current else {
            unreachable!("made a mapping above")
        };
        current = map.entry(key).or_insert_with(|| json!({}));
    }
    if !current.is_object() {
        *current = json!({});
    }
    match current {
        Value::Object(map) => map,
        _ => unreachable!("made a mapping above"),
    }
}

/// Path items given as `$ref` (3.1's `components.pathItems`, or another
/// path) replaced by a copy of their target.
fn inline_path_item_refs(doc: &mut Value) {
    let mut targets = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            if let Some(reference) = item.get("$ref").and_then(Value::as_str) {
                let target = reference
                    .strip_prefix('#')
                    .and_then(|pointer| resolve_chain(doc, pointer));
                targets.push((path.clone(), target));
            }
        }
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, target) in targets {
            match target {
                Some(target) => {
                    paths.insert(path, target);
                }
                None => {
                    paths.remove(&path);
                }
            }
        }
    }
}

/// The value at `pointer`, following `$ref`s from there (at most 32).
fn resolve_chain(doc: &Value, pointer: &str) -> Option<Value> {
    let mut current = doc.pointer(pointer)?;
    for _ in 0..32 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(next) => current = doc.pointer(next.strip_prefix('#')?)?,
            None => return Some(current.clone()),
        }
    }
    None
}

/// Security schemes of a type the catalog cannot express, removed; one note each.
fn drop_unknown_security_schemes(doc: &mut Value) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(schemes) = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(Value::as_object_mut)
    else {
        return notes;
    };
    schemes.retain(|name, scheme| {
        if scheme.get("$ref").is_some() {
            return true;
        }
        let ty = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let known = SCHEME_TYPES.contains(&ty);
        if !known {
            notes.push(format!(
                "{name}: a `{ty}` security scheme, which runner's auth cannot express; set it up outside the catalog"
            ));
        }
        known
    });
    notes
}

/// Everything the importer never reads.
fn strip_unread(doc: &mut Value) {
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        for unread in [
            "responses",
            "examples",
            "headers",
            "links",
            "callbacks",
            "pathItems",
        ] {
            components.remove(unread);
        }
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for method in METHODS {
                if let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) {
                    op.insert("responses".into(), json!({}));
                    op.remove("callbacks");
                }
            }
        }
    }
}

/// Walks the positions that hold schemas, parameters and request bodies.
#[derive(Default)]
struct Walker {
    /// Deep references met: (the kind of their position, the JSON pointer).
    deep: Vec<(Kind, String)>,
}

impl Walker {
    fn walk_document(&mut self, doc: &mut Value) {
        if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
            for item in paths.values_mut() {
                let Some(item) = item.as_object_mut() else {
                    continue;
                };
                self.walk_list(Kind::Parameter, item.get_mut("parameters"));
                for method in METHODS {
                    if let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) {
                        self.walk_list(Kind::Parameter, op.get_mut("parameters"));
                        if let Some(body) = op.get_mut("requestBody") {
                            self.walk(Kind::RequestBody, body);
                        }
                    }
                }
            }
        }
        if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
            for kind in [Kind::Schema, Kind::Parameter, Kind::RequestBody] {
                if let Some(section) = components
                    .get_mut(kind.section())
                    .and_then(Value::as_object_mut)
                {
                    for value in section.values_mut() {
                        self.walk(kind, value);
                    }
                }
            }
        }
    }

    fn walk_list(&mut self, kind: Kind, list: Option<&mut Value>) {
        if let Some(Value::Array(items)) = list {
            for item in items {
                self.walk(kind, item);
            }
        }
    }

    fn walk_map(&mut self, kind: Kind, map: Option<&mut Value>) {
        if let Some(Value::Object(map)) = map {
            for value in map.values_mut() {
                self.walk(kind, value);
            }
        }
    }

    /// Normalizes the `kind` at `value` and everything below it.
    fn walk(&mut self, kind: Kind, value: &mut Value) {
        if kind == Kind::Schema
            && let Value::Bool(accepts) = value
        {
            *value = if *accepts {
                json!({})
            } else {
                json!({"not": {}})
            };
            return;
        }
        let Some(object) = value.as_object_mut() else {
            return;
        };
        if let Some(Value::String(reference)) = object.get_mut("$ref") {
            if let Some(pointer) = deep_pointer(kind, reference) {
                *reference = synthetic_ref(kind, &pointer);
                self.deep.push((kind, pointer));
            }
            return;
        }
        match kind {
            Kind::Schema => self.walk_schema(object),
            Kind::Parameter => self.walk_parameter(object),
            Kind::RequestBody => self.walk_content(object.get_mut("content")),
        }
    }

    fn walk_parameter(&mut self, param: &mut Map<String, Value>) {
        param.remove("example");
        param.remove("examples");
        if param.get("in").and_then(Value::as_str) == Some("path")
            && param.get("allowReserved") == Some(&Value::Bool(true))
        {
            param.insert("x-multi-segment".into(), Value::Bool(true));
        }
        if !param.contains_key("schema") && !param.contains_key("content") {
            param.insert("schema".into(), json!({}));
        }
        if let Some(schema) = param.get_mut("schema") {
            self.walk(Kind::Schema, schema);
        }
        self.walk_content(param.get_mut("content"));
    }

    fn walk_content(&mut self, content: Option<&mut Value>) {
        let Some(Value::Object(content)) = content else {
            return;
        };
        for media in content.values_mut() {
            let Some(media) = media.as_object_mut() else {
                continue;
            };
            media.remove("example");
            media.remove("examples");
            if let Some(schema) = media.get_mut("schema") {
                self.walk(Kind::Schema, schema);
            }
            if let Some(Value::Object(encodings)) = media.get_mut("encoding") {
                for encoding in encodings.values_mut() {
                    if let Some(encoding) = encoding.as_object_mut() {
                        encoding.remove("headers");
                        let form = match encoding.get("style") {
                            None => continue,
                            Some(style) => style == "form",
                        };
                        encoding.entry("explode").or_insert(Value::Bool(form));
                    }
                }
            }
        }
    }

    fn walk_schema(&mut self, schema: &mut Map<String, Value>) {
        fold_31(schema);
        schema.remove("example");
        schema.remove("examples");
        for key in ["items", "not", "additionalProperties"] {
            if key == "additionalProperties" && schema.get(key).is_some_and(Value::is_boolean) {
                continue;
            }
            if let Some(sub) = schema.get_mut(key) {
                self.walk(Kind::Schema, sub);
            }
        }
        for key in ["allOf", "oneOf", "anyOf", "prefixItems"] {
            self.walk_list(Kind::Schema, schema.get_mut(key));
        }
        for key in ["properties", "$defs", "definitions", "patternProperties"] {
            self.walk_map(Kind::Schema, schema.get_mut(key));
        }
    }
}

/// The JSON pointer of a local reference that does not name a component of
/// its kind directly, if `reference` is one.
fn deep_pointer(kind: Kind, reference: &str) -> Option<String> {
    let pointer = reference.strip_prefix('#')?;
    if let Some(name) = pointer
        .strip_prefix("/components/")
        .and_then(|rest| rest.strip_prefix(kind.section()))
        .and_then(|rest| rest.strip_prefix('/'))
        && !name.is_empty()
        && !name.contains('/')
    {
        return None;
    }
    Some(pointer.to_string())
}

/// 3.1 JSON Schema spellings folded into 3.0 ones (see the module docs).
fn fold_31(schema: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = schema.get("type") {
        let named: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        let nullable = named.len() < types.len();
        match named.len() {
            0 => {
                schema.insert("type".into(), json!("null"));
            }
            1 => {
                schema.insert("type".into(), named[0].clone());
            }
            _ => {
                schema.remove("type");
                if !schema.contains_key("anyOf") && !schema.contains_key("oneOf") {
                    let branches = named.into_iter().map(|t| json!({"type": t})).collect();
                    schema.insert("anyOf".into(), Value::Array(branches));
                }
            }
        }
        if nullable {
            schema.insert("nullable".into(), Value::Bool(true));
        }
    }
    if let Some(constant) = schema.remove("const")
        && !schema.contains_key("enum")
    {
        schema.insert("enum".into(), Value::Array(vec![constant]));
    }
    for bound in ["exclusiveMinimum", "exclusiveMaximum"] {
        if schema.get(bound).is_some_and(Value::is_number) {
            schema.remove(bound);
        }
    }
    if schema.contains_key("contentMediaType") && !schema.contains_key("contentEncoding") {
        schema.insert("format".into(), json!("binary"));
        schema.entry("type").or_insert(json!("string"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_lists_fold_to_3_0() {
        let mut schema = json!({"type": ["string", "null"], "const": "x", "exclusiveMinimum": 1});
        fold_31(schema.as_object_mut().unwrap());
        assert_eq!(
            schema,
            json!({"type": "string", "nullable": true, "enum": ["x"]})
        );

        let mut schema = json!({"type": ["string", "integer"]});
        fold_31(schema.as_object_mut().unwrap());
        assert_eq!(
            schema,
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        );

        let mut schema = json!({"contentMediaType": "image/png"});
        fold_31(schema.as_object_mut().unwrap());
        assert_eq!(
            schema,
            json!({"contentMediaType": "image/png", "format": "binary", "type": "string"})
        );
    }

    #[test]
    fn deep_references_are_hoisted() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "paths": {"/a": {"get": {
                "parameters": [{"$ref": "#/paths/~1b/get/parameters/0"}],
                "responses": {"200": {"description": "ok"}}
            }},
            "/b": {"get": {"parameters": [
                {"name": "q", "in": "query", "schema": {"$ref": "#/components/schemas/P/properties/q"}}
            ]}}},
            "components": {"schemas": {"P": {"properties": {"q": {"type": ["integer", "null"]}}}}}
        });
        normalize(&mut doc);
        assert_eq!(
            doc.pointer("/paths/~1a/get/parameters/0/$ref"),
            Some(&json!(
                "#/components/parameters/paths~1~01b~1get~1parameters~10"
            ))
        );
        assert_eq!(
            doc.pointer("/components/schemas/components~1schemas~1P~1properties~1q"),
            Some(&json!({"type": "integer", "nullable": true}))
        );
        assert_eq!(doc.pointer("/paths/~1a/get/responses"), Some(&json!({})));
    }
}
