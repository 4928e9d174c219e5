//! Converting a rendered value to its param's declared type, where nothing
//! is lost (`42` for a string param becomes `"42"`, `"42"` for an integer
//! param becomes `42`); anything else is an error.

use serde_json::{Number, Value};

use crate::spec::ParamType;

pub fn type_name(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "a string",
        ParamType::Integer => "an integer",
        ParamType::Number => "a number",
        ParamType::Boolean => "a boolean",
        ParamType::Array => "an array",
        ParamType::Object => "an object",
    }
}

/// How a message describes `value`: its kind and a short excerpt.
pub fn describe(value: &Value) -> String {
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

/// `value` as `ty`, or a message saying what was expected and found.
pub fn coerce(ty: ParamType, value: Value) -> Result<Value, String> {
    let fail = |value: &Value| {
        Err(format!(
            "expected {}, found {}",
            type_name(ty),
            describe(value)
        ))
    };
    match (ty, value) {
        (ParamType::String, v @ Value::String(_)) => Ok(v),
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
    }

    #[test]
    fn lossy_conversions_fail_with_both_sides() {
        assert_eq!(
            coerce(ParamType::Integer, json!("forty")),
            Err("expected an integer, found a string `\"forty\"`".to_string())
        );
        assert!(coerce(ParamType::Integer, json!(1.5)).is_err());
        assert!(coerce(ParamType::Integer, json!("99999999999999999999999")).is_err());
        assert!(coerce(ParamType::String, json!([1])).is_err());
        assert!(coerce(ParamType::Boolean, json!("yes")).is_err());
    }
}
