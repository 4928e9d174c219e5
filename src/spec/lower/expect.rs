//! Lowering `expect`: success criteria of a step, an action or an app —
//! statuses, JSONPath checks on the body, headers, `that`, a schema file.

use super::*;

/// `expect: {schema: response}`: the action's own response schema, not a file.
const RESPONSE_SCHEMA: &str = "response";

impl Lower {
    /// An `expect` of a step (`label` names it in messages), an app or an action.
    pub(super) fn expect(&mut self, path: &str, label: Option<&str>, raw: raw::Expect) -> Expect {
        let file = self.file.clone();
        let step_path = path.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
        let at = |sub: &str| {
            let full = child(path, sub);
            let loc = Loc::value(&file, &full);
            match label {
                Some(label) => {
                    let shown = full.replacen(step_path, label, 1);
                    loc.labelled(shown)
                }
                None => loc,
            }
        };
        let status = raw
            .status
            .map(|s| self.statuses(&at("status"), s))
            .unwrap_or_default();
        let body = raw
            .body
            .into_iter()
            .enumerate()
            .filter_map(|(i, check)| self.body_check(path, i, check, &at))
            .collect();
        let headers = raw
            .headers
            .into_iter()
            .filter_map(|(name, check)| self.header_check(name, check, &at))
            .collect();
        let mut that = Vec::new();
        for (i, t) in raw.that.into_iter().enumerate() {
            if let Some(value) = self.json(&item(&child(path, "that"), i), t) {
                that.push(Located {
                    value,
                    loc: at(&format!("that[{i}]")),
                });
            }
        }
        let schema = raw.schema.and_then(|p| self.schema(p, at("schema")));
        Expect {
            status,
            body,
            headers,
            that,
            schema,
        }
    }

    /// `expect.body[i]`: a JSONPath and exactly one test of what it finds.
    fn body_check(
        &mut self,
        path: &str,
        i: usize,
        check: raw::BodyCheck,
        at: &dyn Fn(&str) -> Loc,
    ) -> Option<BodyCheck> {
        let loc = at(&format!("body[{i}]"));
        let mut tests = Vec::new();
        if let Some(e) = check.exists {
            tests.push(BodyTest::Exists(e));
        }
        if let Some(v) = check.equals
            && let Some(v) = self.json(&item(&child(path, "body"), i), v)
        {
            let at_equals = at(&format!("body[{i}].equals"));
            if let Some(d) = templated_equals(&check.path, &v, &at_equals) {
                self.diagnostics.push(d);
            }
            tests.push(BodyTest::Equals(v));
        }
        if let Some(m) = check.matches {
            tests.push(BodyTest::Matches(m));
        }
        if let Some(n) = check.length {
            tests.push(BodyTest::Length(n));
        }
        match tests.len() {
            1 => Some(BodyCheck {
                path: check.path,
                test: tests.remove(0),
                loc,
            }),
            0 => {
                self.diagnostics.push(
                    Diagnostic::new(
                        format!(
                            "`expect.body` check of `{}` says nothing to check",
                            check.path
                        ),
                        Some(loc),
                    )
                    .with_help(Some(
                        "add one of `exists`, `equals`, `matches`, `length`".into(),
                    )),
                );
                None
            }
            _ => {
                self.diagnostics.push(
                    Diagnostic::new(
                        format!(
                            "`expect.body` check of `{}` has more than one of `exists`, `equals`, `matches`, `length`",
                            check.path
                        ),
                        Some(loc),
                    )
                    .with_help(Some("write one check per entry".into())),
                );
                None
            }
        }
    }

    /// `expect.headers.<name>`: a valid header name and exactly one test.
    fn header_check(
        &mut self,
        name: String,
        check: raw::HeaderCheck,
        at: &dyn Fn(&str) -> Loc,
    ) -> Option<HeaderCheck> {
        let loc = at(&format!("headers.{name}"));
        if let Err(e) = crate::http::header::check_name(&name) {
            self.diagnostics
                .push(Diagnostic::new(e.to_string(), Some(loc)));
            return None;
        }
        let mut tests = Vec::new();
        if let Some(e) = check.exists {
            tests.push(HeaderTest::Exists(e));
        }
        if let Some(v) = check.equals {
            let shown = format!("headers['{}']", name.to_lowercase());
            let at_equals = at(&format!("headers.{name}.equals"));
            if let Some(d) = templated_equals(&shown, &Value::String(v.clone()), &at_equals) {
                self.diagnostics.push(d);
            }
            tests.push(HeaderTest::Equals(v));
        }
        if let Some(m) = check.matches {
            tests.push(HeaderTest::Matches(m));
        }
        if tests.len() != 1 {
            self.diagnostics.push(Diagnostic::new(
                format!(
                    "`expect.headers.{name}` needs exactly one of `exists`, `equals`, `matches`"
                ),
                Some(loc),
            ));
            return None;
        }
        Some(HeaderCheck {
            name: name.to_lowercase(),
            test: tests.remove(0),
            loc,
        })
    }

    /// `expect.schema`: a JSON file inside the project root, read now, or
    /// `response`, the action's response schema.
    fn schema(&mut self, p: String, loc: Loc) -> Option<Schema> {
        if p == RESPONSE_SCHEMA {
            return Some(Schema {
                path: Located { value: p, loc },
                document: None,
            });
        }
        let full = self.dir.join(&p);
        let shown = super::read::display(&full);
        match super::read::read_json(&self.root, &full, &shown) {
            Ok(document) => Some(Schema {
                path: Located { value: p, loc },
                document: Some(Arc::new(document)),
            }),
            Err(e) => {
                let help = matches!(e, super::read::JsonFileError::Outside(_))
                    .then(|| Root::HELP.to_string());
                self.diagnostics
                    .push(Diagnostic::new(e.to_string(), Some(loc)).with_help(help));
                None
            }
        }
    }

    /// `expect.status`: one HTTP status or a non-empty list of them.
    fn statuses(&mut self, loc: &Loc, value: serde_yaml::Value) -> Vec<u16> {
        let items = match value {
            serde_yaml::Value::Sequence(items) => items,
            one => vec![one],
        };
        if items.is_empty() {
            self.diagnostics.push(Diagnostic::new(
                "`expect.status` is an empty list: no response could succeed",
                Some(loc.clone()),
            ));
        }
        let mut statuses = Vec::new();
        for item in items {
            match item.as_u64().filter(|s| (100..=599).contains(s)) {
                Some(s) => statuses.push(s as u16),
                None => {
                    let found = serde_yaml::to_string(&item).unwrap_or_default();
                    self.diagnostics.push(Diagnostic::new(
                        format!(
                            "expected an HTTP status (100 to 599) in `expect.status`, found `{}`",
                            found.trim()
                        ),
                        Some(loc.clone()),
                    ));
                }
            }
        }
        statuses
    }
}
