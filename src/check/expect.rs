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

/// Compiles the criteria of `layers` (app, action, step, in that order),
/// with each problem as a diagnostic.
pub fn compile(layers: &[&spec::Expect], diagnostics: &mut Vec<Diagnostic>) -> Expect {
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
        if let Some(schema) = &layer.schema {
            match jsonschema::validator_for(&schema.document) {
                Ok(validator) => {
                    out.schema = Some(SchemaAssert {
                        validator: Arc::new(validator),
                        shown: schema.path.value.clone(),
                        loc: schema.path.loc.clone(),
                    })
                }
                Err(e) => {
                    // Where in the schema document the mistake is.
                    let at = e.instance_path().to_string();
                    let at = if at.is_empty() {
                        String::new()
                    } else {
                        format!(" at `{at}`")
                    };
                    diagnostics.push(Diagnostic::new(
                        format!(
                            "`{}` is not a valid JSON Schema{at}: {}",
                            schema.path.value,
                            first_line(&e.to_string())
                        ),
                        Some(schema.path.loc.clone()),
                    ))
                }
            }
        }
    }
    out
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 200 {
        line.chars().take(197).collect::<String>() + "..."
    } else {
        line.to_string()
    }
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
