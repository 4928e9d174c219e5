//! Converting a rendered value to its param's declared type, where nothing
//! is lost (`42` for a string param becomes `"42"`, `"42"` for an integer
//! param becomes `42`); anything else is an error.

use serde_json::{Number, Value};

use crate::spec::ParamType;

/// How a message describes `value`: its kind and a short excerpt.
pub(crate) fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_string(),
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let mut text = value.to_string();
    if text.chars().count() > 40 {
        text = text.chars().take(37).collect::<String>() + "...";
    }
    format!("{kind} `{text}`")
}

/// Why a value does not fit its param: not of its type, or not one of its
/// `enum`. What was found is kept as [`describe`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ValueError {
    #[error("expected {}, found {found}", .expected.described())]
    Type { expected: ParamType, found: String },
    /// `allowed` as [`show_allowed`] shows it.
    #[error("expected one of {allowed}, found {found}")]
    NotAllowed { allowed: String, found: String },
    /// An item of an array param, by index.
    #[error("item {index}: expected one of {allowed}, found {found}")]
    ItemNotAllowed {
        index: usize,
        allowed: String,
        found: String,
    },
    /// A bound (`maximum`, `min_length`, `pattern`, …) not met.
    #[error("expected {expected}, found {found}")]
    Bound { expected: String, found: String },
    /// A required field of an object value left out.
    #[error("missing required field `{0}`")]
    MissingField(String),
    /// What is wrong with a field or item inside the value.
    #[error("{at}: {error}")]
    Inside { at: String, error: Box<ValueError> },
}

/// `value` as `ty`, or what was expected and found.
pub(crate) fn coerce(ty: ParamType, value: Value) -> Result<Value, ValueError> {
    let fail = |value: &Value| {
        Err(ValueError::Type {
            expected: ty,
            found: describe(value),
        })
    };
    match (ty, value) {
        (ParamType::Any, v) => Ok(v),
        (ParamType::String | ParamType::File, v @ Value::String(_)) => Ok(v),
        (ParamType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (ParamType::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (ParamType::Integer, Value::Number(n)) => match integer(&n) {
            Some(i) => Ok(i),
            None => fail(&Value::Number(n)),
        },
        (ParamType::Integer, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => match s.trim().parse::<u64>() {
                Ok(u) => Ok(Value::from(u)),
                Err(_) => fail(&Value::String(s)),
            },
        },
        (ParamType::Number, v @ Value::Number(_)) => Ok(v),
        (ParamType::Number, Value::String(s)) => {
            let trimmed = s.trim();
            if let Ok(i) = trimmed.parse::<i64>() {
                return Ok(Value::from(i));
            }
            match trimmed.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Ok(Value::Number(n)),
                None => fail(&Value::String(s)),
            }
        }
        (ParamType::Boolean, v @ Value::Bool(_)) => Ok(v),
        (ParamType::Boolean, Value::String(s)) => match s.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => fail(&Value::String(s)),
        },
        (ParamType::Array, v @ Value::Array(_)) => Ok(v),
        (ParamType::Object, v @ Value::Object(_)) => Ok(v),
        (_, v) => fail(&v),
    }
}

/// Whether `value` (already of type `ty`) is one of `allowed`, the param's
/// `enum` (each converted to `ty` like a value, so `enum: [1, 2]` of a
/// string param allows `"1"`); for an array, whether each item is. `Err`
/// says what was expected and what was found.
pub(crate) fn check_allowed(
    ty: ParamType,
    allowed: &[Value],
    value: &Value,
) -> Result<(), ValueError> {
    let scalar = matches!(
        ty,
        ParamType::String | ParamType::Integer | ParamType::Number | ParamType::Boolean
    );
    let allowed: Vec<Value> = allowed
        .iter()
        .map(|a| match scalar {
            true => coerce(ty, a.clone()).unwrap_or_else(|_| a.clone()),
            false => a.clone(),
        })
        .collect();
    let ok = |v: &Value| allowed.iter().any(|a| same(a, v));
    if ok(value) {
        return Ok(());
    }
    if let Value::Array(items) = value {
        return match items.iter().enumerate().find(|(_, item)| !ok(item)) {
            Some((index, item)) => Err(ValueError::ItemNotAllowed {
                index,
                allowed: show_allowed(&allowed),
                found: describe(item),
            }),
            None => Ok(()),
        };
    }
    Err(ValueError::NotAllowed {
        allowed: show_allowed(&allowed),
        found: describe(value),
    })
}

/// Equal as values: numbers by their value (`1` is `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        _ => a == b,
    }
}

/// `` `open`, `closed` `` (strings bare, other values as JSON), the first
/// ten of a long list.
pub(crate) fn show_allowed(allowed: &[Value]) -> String {
    const SHOWN: usize = 10;
    let mut out = allowed
        .iter()
        .take(SHOWN)
        .map(|v| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let text = if text.chars().count() > 40 {
                text.chars().take(37).collect::<String>() + "..."
            } else {
                text
            };
            format!("`{text}`")
        })
        .collect::<Vec<_>>()
        .join(", ");
    if allowed.len() > SHOWN {
        out.push_str(&format!(" (and {} more)", allowed.len() - SHOWN));
    }
    out
}

fn integer(n: &Number) -> Option<Value> {
    if n.is_i64() || n.is_u64() {
        return Some(Value::Number(n.clone()));
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then(|| Value::from(f as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lossless_conversions() {
        assert_eq!(coerce(ParamType::String, json!(42)), Ok(json!("42")));
        assert_eq!(coerce(ParamType::Integer, json!("42")), Ok(json!(42)));
        assert_eq!(coerce(ParamType::Integer, json!(42.0)), Ok(json!(42)));
        assert_eq!(coerce(ParamType::Number, json!("1.5")), Ok(json!(1.5)));
        assert_eq!(coerce(ParamType::Boolean, json!("true")), Ok(json!(true)));
        assert_eq!(coerce(ParamType::Array, json!([1])), Ok(json!([1])));
        assert_eq!(coerce(ParamType::Any, json!([1, "a"])), Ok(json!([1, "a"])));
        assert_eq!(coerce(ParamType::File, json!("a.png")), Ok(json!("a.png")));
    }

    #[test]
    fn lossy_conversions_fail_with_both_sides() {
        assert_eq!(
            coerce(ParamType::Integer, json!("forty")).map_err(|e| e.to_string()),
            Err("expected an integer, found a string `\"forty\"`".to_string())
        );
        assert!(coerce(ParamType::Integer, json!(1.5)).is_err());
        assert!(coerce(ParamType::Integer, json!("99999999999999999999999")).is_err());
        assert!(coerce(ParamType::String, json!([1])).is_err());
        assert!(coerce(ParamType::Boolean, json!("yes")).is_err());
        assert!(coerce(ParamType::File, json!(42)).is_err());
    }

    #[test]
    fn allowed_values() {
        let allowed = [json!("open"), json!("closed"), json!(2)];
        let any = ParamType::Any;
        assert_eq!(check_allowed(any, &allowed, &json!("open")), Ok(()));
        assert_eq!(check_allowed(any, &allowed, &json!(2.0)), Ok(()));
        assert!(check_allowed(any, &allowed, &json!("2")).is_err());
        assert_eq!(
            check_allowed(ParamType::String, &allowed, &json!("2")),
            Ok(())
        );
        assert_eq!(
            check_allowed(ParamType::Array, &allowed, &json!(["open", 2])),
            Ok(())
        );
        assert_eq!(
            check_allowed(any, &allowed, &json!("bogus")).map_err(|e| e.to_string()),
            Err("expected one of `open`, `closed`, `2`, found a string `\"bogus\"`".to_string())
        );
        assert_eq!(
            check_allowed(ParamType::Array, &allowed, &json!(["open", "x"]))
                .map_err(|e| e.to_string()),
            Err(
                "item 1: expected one of `open`, `closed`, `2`, found a string `\"x\"`".to_string()
            )
        );
        let many: Vec<Value> = (0..12).map(|i| json!(i)).collect();
        assert!(show_allowed(&many).ends_with("`9` (and 2 more)"));
    }
}
