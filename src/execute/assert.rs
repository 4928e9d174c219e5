//! Checking a response against a step's success criteria: the status, the
//! JSONPath criteria on the body (RFC 9535: `exists` needs a node or none;
//! `equals`, `matches` and `length` need at least one node and hold for
//! every node selected), the headers, and the JSON Schema. The first that
//! fails says what it checked, what it expected and what it found.
//! `that` templates are rendered by the walk, which owns the scope.

use std::collections::BTreeMap;

use serde_json::Value;

use super::outcome::{Failure, FailureKind};
use crate::check::expect::{BodyAssert, Expect, HeaderAssert, HeaderTestCompiled, Test};
use crate::redact::Redactor;

/// The longest value quoted in a failure message.
const SHOWN: usize = 120;

fn shown(value: &Value, redactor: &Redactor) -> String {
    let text = match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    crate::http::excerpt(&text, redactor)
        .chars()
        .take(SHOWN)
        .collect()
}

fn failure(message: String, at: &crate::error::Loc) -> Failure {
    Failure::new(FailureKind::Assertion, message).at(Some(at.clone()))
}

/// Checks the body, header and schema criteria of `expect`.
pub(super) fn response(
    expect: &Expect,
    headers: &BTreeMap<String, String>,
    body: &Value,
    redactor: &Redactor,
) -> Result<(), Failure> {
    for check in &expect.body {
        if let Some(problem) = body_problem(check, body, redactor) {
            return Err(failure(format!("expect.body: {problem}"), &check.loc));
        }
    }
    for check in &expect.headers {
        if let Some(problem) = header_problem(check, headers.get(&check.name), redactor) {
            return Err(failure(format!("expect.headers: {problem}"), &check.loc));
        }
    }
    if let Some(schema) = &expect.schema
        && let Some(error) = schema.validator.iter_errors(body).next()
    {
        let at = error.instance_path().to_string();
        let at = if at.is_empty() { "/".to_string() } else { at };
        return Err(failure(
            format!(
                "expect.schema: the body does not satisfy `{}` at `{at}`: {}",
                schema.shown,
                crate::http::excerpt(&error.to_string(), redactor)
            ),
            &schema.loc,
        ));
    }
    Ok(())
}

/// What `body` fails of one `expect.body` criterion, if anything.
fn body_problem(check: &BodyAssert, body: &Value, redactor: &Redactor) -> Option<String> {
    let nodes: Vec<&Value> = check.path.query(body).all();
    let what = format!("`{}`", check.shown);
    match &check.test {
        Test::Exists(true) if nodes.is_empty() => Some(format!(
            "{what} exists: expected at least one node, found none"
        )),
        Test::Exists(false) if !nodes.is_empty() => Some(format!(
            "{what} must not exist, found {}",
            shown(nodes[0], redactor)
        )),
        Test::Exists(_) => None,
        _ if nodes.is_empty() => Some(format!("{what} selects nothing in the response")),
        Test::Equals(expected) => nodes.iter().find(|n| !equal(n, expected)).map(|node| {
            format!(
                "{what} equals {}: found {}",
                shown(expected, redactor),
                shown(node, redactor)
            )
        }),
        Test::Matches(re) => nodes
            .iter()
            .find(|node| !node.as_str().is_some_and(|s| re.is_match(s)))
            .map(|node| {
                format!(
                    "{what} matches `{}`: found {}",
                    re.as_str(),
                    shown(node, redactor)
                )
            }),
        Test::Length(n) => nodes.iter().find_map(|node| {
            let len = match node {
                Value::Array(a) => Some(a.len()),
                Value::Object(o) => Some(o.len()),
                Value::String(s) => Some(s.chars().count()),
                _ => None,
            };
            (len != Some(*n as usize)).then(|| {
                let found = match len {
                    Some(l) => format!("length {l}"),
                    None => shown(node, redactor),
                };
                format!("{what} has length {n}: found {found}")
            })
        }),
    }
}

/// What a header's `value` (`None`: missing) fails of one
/// `expect.headers` criterion, if anything.
fn header_problem(
    check: &HeaderAssert,
    value: Option<&String>,
    redactor: &Redactor,
) -> Option<String> {
    let what = format!("header `{}`", check.name);
    match (&check.test, value) {
        (HeaderTestCompiled::Exists(true), None) => Some(format!("{what} exists: it is missing")),
        (HeaderTestCompiled::Exists(false), Some(v)) => Some(format!(
            "{what} must be missing, found \"{}\"",
            crate::http::excerpt(v, redactor)
        )),
        (HeaderTestCompiled::Exists(_), _) => None,
        (_, None) => Some(format!("{what}: it is missing")),
        (HeaderTestCompiled::Equals(e), Some(v)) if e != v => Some(format!(
            "{what} equals \"{e}\": found \"{}\"",
            crate::http::excerpt(v, redactor)
        )),
        (HeaderTestCompiled::Matches(re), Some(v)) if !re.is_match(v) => Some(format!(
            "{what} matches `{}`: found \"{}\"",
            re.as_str(),
            crate::http::excerpt(v, redactor)
        )),
        _ => None,
    }
}

/// JSON equality where `1` equals `1.0`.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{self, BodyTest, HeaderTest};
    use serde_json::json;

    fn loc() -> crate::error::Loc {
        crate::error::Loc::file(&crate::source::File::named("s.yaml"))
    }

    fn expect(body: Vec<(&str, BodyTest)>, headers: Vec<(&str, HeaderTest)>) -> Expect {
        let layer = spec::Expect {
            body: body
                .into_iter()
                .map(|(p, t)| spec::BodyCheck {
                    path: p.into(),
                    test: t,
                    loc: loc(),
                })
                .collect(),
            headers: headers
                .into_iter()
                .map(|(n, t)| spec::HeaderCheck {
                    name: n.into(),
                    test: t,
                    loc: loc(),
                })
                .collect(),
            ..Default::default()
        };
        let mut d = Vec::new();
        let e = crate::check::expect::compile(&[&layer], None, &mut d);
        assert!(d.is_empty(), "{d:?}");
        e
    }

    fn check(e: &Expect, body: Value) -> Result<(), String> {
        let headers =
            BTreeMap::from([("content-type".to_string(), "application/json".to_string())]);
        response(e, &headers, &body, &Redactor::new()).map_err(|f| f.message)
    }

    #[test]
    fn jsonpath_semantics() {
        let e = expect(
            vec![
                ("$.number", BodyTest::Exists(true)),
                ("$.errors", BodyTest::Exists(false)),
                ("$.labels[*].name", BodyTest::Matches("^t".into())),
                ("$.labels", BodyTest::Length(2)),
                ("$.state", BodyTest::Equals(json!("open"))),
            ],
            vec![("content-type", HeaderTest::Matches("json".into()))],
        );
        let ok =
            json!({"number": 1, "state": "open", "labels": [{"name": "triage"}, {"name": "todo"}]});
        assert_eq!(check(&e, ok), Ok(()));
        let bad =
            json!({"number": 1, "state": "open", "labels": [{"name": "triage"}, {"name": "bug"}]});
        assert_eq!(
            check(&e, bad).unwrap_err(),
            "expect.body: `$.labels[*].name` matches `^t`: found \"bug\""
        );
        let graphql = json!({"number": 1, "errors": [{"message": "nope"}]});
        assert!(
            check(&e, graphql)
                .unwrap_err()
                .starts_with("expect.body: `$.errors` must not exist")
        );
        let missing = json!({"state": "open"});
        assert_eq!(
            check(&e, missing).unwrap_err(),
            "expect.body: `$.number` exists: expected at least one node, found none"
        );
        let nothing = expect(vec![("$.nope", BodyTest::Equals(json!(1)))], vec![]);
        assert!(
            check(&nothing, json!({}))
                .unwrap_err()
                .contains("selects nothing")
        );
    }
}
