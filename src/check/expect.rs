//! Success criteria, compiled once: the app's, the action's and the step's
//! `expect` merged (a step's `status` replaces the defaults'; its body,
//! header, `that` and schema criteria add to them), JSONPaths parsed,
//! regular expressions and JSON Schemas compiled. A syntax error in any of
//! them is a validation error, never a failure halfway through a run.

use std::sync::Arc;

use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::error::{Diagnostic, Loc};
use crate::spec::{self, BodyTest, HeaderTest, Located};

/// What a response must be for its step to succeed.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Accepted statuses; empty means any 2xx.
    pub status: Vec<u16>,
    pub body: Vec<BodyAssert>,
    pub headers: Vec<HeaderAssert>,
    /// Boolean templates over `status`, `headers`, `response`.
    pub that: Vec<Located<Value>>,
    pub schema: Option<SchemaAssert>,
}

impl Expect {
    /// Whether it holds no criterion: any 2xx will do.
    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
            && self.body.is_empty()
            && self.headers.is_empty()
            && self.that.is_empty()
            && self.schema.is_none()
    }

    /// Whether `status` is accepted.
    pub fn accepts(&self, status: u16) -> bool {
        if self.status.is_empty() {
            (200..300).contains(&status)
        } else {
            self.status.contains(&status)
        }
    }

    /// How messages say what was expected of the status.
    pub fn expected_status(&self) -> String {
        if self.status.is_empty() {
            "a 2xx status".to_string()
        } else {
            self.status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        }
    }
}

#[derive(Debug, Clone)]
pub struct BodyAssert {
    pub path: JsonPath,
    /// The path as written.
    pub shown: String,
    pub test: Test,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub enum Test {
    Exists(bool),
    Equals(Value),
    Matches(Regex),
    Length(u64),
}

#[derive(Debug, Clone)]
pub struct HeaderAssert {
    /// Lower case.
    pub name: String,
    pub test: HeaderTestCompiled,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub enum HeaderTestCompiled {
    Exists(bool),
    Equals(String),
    Matches(Regex),
}

#[derive(Clone)]
pub struct SchemaAssert {
    pub validator: Arc<jsonschema::Validator>,
    /// The file as written.
    pub shown: String,
    pub loc: Loc,
}

impl std::fmt::Debug for SchemaAssert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchemaAssert({})", self.shown)
    }
}

/// The validator of an action's response schema, or why there is none.
pub(crate) type Response = std::result::Result<Arc<jsonschema::Validator>, String>;

/// Whether a layer says `schema: response`.
pub(crate) fn wants_response(layers: &[&spec::Expect]) -> bool {
    layers
        .iter()
        .any(|l| l.schema.as_ref().is_some_and(|s| s.document.is_none()))
}

/// `action`'s response schema compiled, its `$ref`s to `#/schemas/NAME`
/// resolved in the app's `schemas`.
pub(crate) fn response(app: &spec::App, action: &spec::Action) -> Response {
    let Some(schema) = &action.response else {
        return Err(format!(
            "action `{}` has no `response` schema (an imported catalog has one for each operation whose success answer is JSON)",
            action.name
        ));
    };
    let root = serde_json::json!({
        "allOf": [schema],
        "schemas": *app.schemas,
    });
    jsonschema::validator_for(&root).map(Arc::new).map_err(|e| {
        format!(
            "the `response` schema of action `{}` is not a valid JSON Schema: {}",
            action.name,
            invalid_schema(&e)
        )
    })
}

/// Compiles the criteria of `layers` (app, action, step, in that order),
/// with each problem as a diagnostic. `response`: the bound action's
/// response schema, given when a layer asks for it.
pub(crate) fn compile(
    layers: &[&spec::Expect],
    response: Option<Response>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Expect {
    let mut out = Expect::default();
    for layer in layers {
        if !layer.status.is_empty() {
            out.status = layer.status.clone();
        }
        for check in &layer.body {
            let path = match JsonPath::parse(&check.path) {
                Ok(p) => p,
                Err(e) => {
                    diagnostics.push(
                        Diagnostic::new(
                            format!("`{}` is not a valid JSONPath: {e}", check.path),
                            Some(check.loc.child("path")),
                        )
                        .with_help(Some(
                            "JSONPath (RFC 9535) starts at `$`: `$.items[0].id`, `$..name`".into(),
                        )),
                    );
                    continue;
                }
            };
            let test = match &check.test {
                BodyTest::Exists(b) => Test::Exists(*b),
                BodyTest::Equals(v) => Test::Equals(v.clone()),
                BodyTest::Length(n) => Test::Length(*n),
                BodyTest::Matches(pattern) => {
                    match regex(pattern, &check.loc.child("matches"), diagnostics) {
                        Some(re) => Test::Matches(re),
                        None => continue,
                    }
                }
            };
            out.body.push(BodyAssert {
                path,
                shown: check.path.clone(),
                test,
                loc: check.loc.clone(),
            });
        }
        for check in &layer.headers {
            let test = match &check.test {
                HeaderTest::Exists(b) => HeaderTestCompiled::Exists(*b),
                HeaderTest::Equals(v) => HeaderTestCompiled::Equals(v.clone()),
                HeaderTest::Matches(pattern) => {
                    match regex(pattern, &check.loc.child("matches"), diagnostics) {
                        Some(re) => HeaderTestCompiled::Matches(re),
                        None => continue,
                    }
                }
            };
            out.headers.push(HeaderAssert {
                name: check.name.clone(),
                test,
                loc: check.loc.clone(),
            });
        }
        out.that.extend(layer.that.iter().cloned());
        if let Some(schema) = &layer.schema
            && schema.document.is_none()
        {
            match &response {
                Some(Ok(validator)) => {
                    out.schema = Some(SchemaAssert {
                        validator: validator.clone(),
                        shown: schema.path.value.clone(),
                        loc: schema.path.loc.clone(),
                    })
                }
                Some(Err(why)) => diagnostics.push(Diagnostic::new(
                    format!("`schema: response`: {why}"),
                    Some(schema.path.loc.clone()),
                )),
                // The app's and action's own criteria, checked before a step binds them.
                None => {}
            }
        } else if let Some(schema) = &layer.schema
            && let Some(document) = &schema.document
        {
            match jsonschema::validator_for(document) {
                Ok(validator) => {
                    out.schema = Some(SchemaAssert {
                        validator: Arc::new(validator),
                        shown: schema.path.value.clone(),
                        loc: schema.path.loc.clone(),
                    })
                }
                Err(e) => diagnostics.push(Diagnostic::new(
                    format!(
                        "schema `{}` is not a valid JSON Schema: {}",
                        schema.path.value,
                        invalid_schema(&e)
                    ),
                    Some(schema.path.loc.clone()),
                )),
            }
        }
    }
    out
}

/// Where a schema document is invalid and which of its keywords: never a
/// value, since any JSON file in the tree can be named as a schema and the
/// library's own messages quote what they found.
fn invalid_schema(e: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::ReferencingError as Ref;
    use jsonschema::error::ValidationErrorKind as Kind;
    if let Kind::Referencing(r) = e.kind() {
        return match r {
            Ref::UnknownSpecification { .. } | Ref::CircularMetaschema { .. } => {
                "keyword `$schema` names no draft this runner knows (4, 6, 7, 2019-09, 2020-12)"
                    .into()
            }
            Ref::InvalidUri(_) => "a `$id` or `$ref` is not a valid URI reference".into(),
            Ref::InvalidAnchor { .. } => "keyword `$anchor` is invalid".into(),
            _ => {
                "keyword `$ref` names nothing in the file (references are resolved inside it only)"
                    .into()
            }
        };
    }
    let at = e.instance_path().to_string();
    match keyword(&at) {
        Some(keyword) => format!("at `{at}`: keyword `{keyword}` is invalid"),
        None => "the document must be an object or a boolean".into(),
    }
}

/// The keyword whose value holds the place `pointer` (a JSON Pointer into a
/// schema document), read from the top: in a schema each key is a keyword;
/// some keywords hold schemas by name (`properties`), by position (`allOf`)
/// or alone (`not`); any other keyword's value is plain data.
fn keyword(pointer: &str) -> Option<String> {
    enum In {
        Schema,
        /// `items`: one schema, or (drafts 4 to 7) a list of them.
        Items,
        Named,
        Listed,
        Data,
    }
    let mut place = In::Schema;
    let mut last = None;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if matches!(place, In::Items) {
            if token.parse::<usize>().is_ok() {
                place = In::Schema;
                continue;
            }
            place = In::Schema;
        }
        place = match place {
            In::Schema | In::Items => {
                let next = match token.as_str() {
                    "properties" | "patternProperties" | "$defs" | "definitions"
                    | "dependentSchemas" | "dependencies" => In::Named,
                    "allOf" | "anyOf" | "oneOf" | "prefixItems" => In::Listed,
                    "items" => In::Items,
                    "not"
                    | "if"
                    | "then"
                    | "else"
                    | "additionalItems"
                    | "additionalProperties"
                    | "contains"
                    | "propertyNames"
                    | "unevaluatedItems"
                    | "unevaluatedProperties"
                    | "contentSchema" => In::Schema,
                    _ => In::Data,
                };
                last = Some(token);
                next
            }
            In::Named | In::Listed => In::Schema,
            In::Data => In::Data,
        };
    }
    last
}

fn regex(pattern: &str, loc: &Loc, diagnostics: &mut Vec<Diagnostic>) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(re) => Some(re),
        Err(e) => {
            let detail = match &e {
                regex::Error::Syntax(s) => {
                    let last = s.lines().last().unwrap_or_default();
                    last.strip_prefix("error: ").unwrap_or(last).to_string()
                }
                other => other.to_string(),
            };
            diagnostics.push(Diagnostic::new(
                format!("`{pattern}` is not a valid regular expression: {detail}"),
                Some(loc.clone()),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_read_from_the_top_of_the_pointer() {
        for (pointer, expected) in [
            ("", None),
            ("/type", Some("type")),
            ("/properties/n/type", Some("type")),
            ("/properties/type", Some("properties")),
            ("/properties/properties/minimum", Some("minimum")),
            ("/required/1", Some("required")),
            ("/enum/0/type", Some("enum")),
            ("/allOf/2", Some("allOf")),
            ("/allOf/2/maxLength", Some("maxLength")),
            ("/items/0/type", Some("type")),
            ("/items/type", Some("type")),
            ("/items/1", Some("items")),
            ("/$defs/a~1b/pattern", Some("pattern")),
            ("/patternProperties/x(", Some("patternProperties")),
        ] {
            assert_eq!(keyword(pointer).as_deref(), expected, "{pointer}");
        }
    }

    #[test]
    fn messages_about_invalid_schemas_quote_no_value() {
        let secret = "SECRETVALUE";
        for (schema, expected) in [
            (
                r#"{"properties": {"n": {"type": "SECRETVALUE"}}}"#,
                "at `/properties/n/type`: keyword `type` is invalid",
            ),
            (
                r#"{"properties": {"n": {"minimum": "SECRETVALUE"}}}"#,
                "at `/properties/n/minimum`: keyword `minimum` is invalid",
            ),
            (
                r#"{"required": ["a", 5, "SECRETVALUE"]}"#,
                "at `/required/1`: keyword `required` is invalid",
            ),
            (
                r#"{"pattern": "SECRETVALUE("}"#,
                "at `/pattern`: keyword `pattern` is invalid",
            ),
            (
                r##"{"$ref": "#/$defs/SECRETVALUE"}"##,
                "keyword `$ref` names nothing in the file",
            ),
            (
                r#"{"$schema": "SECRETVALUE"}"#,
                "keyword `$schema` names no draft",
            ),
            (
                r#"{"$id": "SECRETVALUE with spaces"}"#,
                "a `$id` or `$ref` is not a valid URI reference",
            ),
            (
                r#""SECRETVALUE""#,
                "the document must be an object or a boolean",
            ),
            (
                r#"{"enum": "SECRETVALUE"}"#,
                "at `/enum`: keyword `enum` is invalid",
            ),
        ] {
            let doc: Value = serde_json::from_str(schema).unwrap();
            let e = jsonschema::validator_for(&doc).expect_err(schema);
            let message = invalid_schema(&e);
            assert!(message.contains(expected), "{schema}: {message}");
            assert!(!message.contains(secret), "{schema}: {message}");
        }
    }
}
