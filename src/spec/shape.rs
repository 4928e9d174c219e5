//! What a param's value must be beyond its type and `enum`: bounds
//! (`minimum`, `maximum`, `min_length`, `max_length`, `pattern`,
//! `min_items`, `max_items`) and, for objects and arrays, the fields and
//! items inside, each with its own type, `enum`, bounds and fields. An
//! imported catalog keeps what the API description says, so a value the API
//! would refuse is refused before anything is sent — by `validate` for
//! literals, when rendering for everything else — in the same words.

use indexmap::IndexMap;
use serde_json::{Number, Value};

use super::coerce::{ValueError, check_allowed, coerce, describe};
use super::model::{Param, ParamType};

/// Bounds as a spec writes them, the pattern not yet compiled: what the
/// loader reads of a param or field, and what the importer writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Bounds {
    pub minimum: Option<Number>,
    pub maximum: Option<Number>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
}

/// Bounds, fields and items: everything past type and `enum`.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub minimum: Option<Number>,
    pub maximum: Option<Number>,
    /// Of a string, in characters.
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<Pattern>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    /// An object's known fields; others are allowed, as in JSON Schema.
    pub fields: IndexMap<String, Field>,
    /// What each item of an array is.
    pub items: Option<Box<Field>>,
}

/// A regular expression as written, and compiled.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

/// A field of an object value, or the items of an array value.
#[derive(Debug, Clone)]
pub struct Field {
    pub ty: ParamType,
    pub required: bool,
    pub allowed: Option<Vec<Value>>,
    pub description: Option<String>,
    /// What the server assumes when the field is left out: shown, never sent.
    pub server_default: Option<Value>,
    pub shape: Option<Box<Shape>>,
}

/// `value` converted to `ty`, then checked against `allowed` and `shape`:
/// the one path every value of a param or field takes.
fn conform(
    ty: ParamType,
    allowed: Option<&[Value]>,
    shape: Option<&Shape>,
    value: Value,
) -> Result<Value, ValueError> {
    let value = coerce(ty, value)?;
    if let Some(allowed) = allowed {
        check_allowed(ty, allowed, &value)?;
    }
    match shape {
        Some(shape) => shape.conform(value),
        None => Ok(value),
    }
}

impl Param {
    /// `value` converted to the param's type and checked against its
    /// `enum` and shape: what every value of the param goes through.
    pub(crate) fn conform(&self, value: Value) -> Result<Value, ValueError> {
        conform(
            self.ty,
            self.allowed.as_deref(),
            self.shape.as_deref(),
            value,
        )
    }
}

impl Field {
    /// `value` converted to the field's type and checked against its
    /// `enum` and shape.
    pub(crate) fn conform(&self, value: Value) -> Result<Value, ValueError> {
        conform(
            self.ty,
            self.allowed.as_deref(),
            self.shape.as_deref(),
            value,
        )
    }
}

impl Shape {
    /// Whether the shape says anything at all.
    pub fn is_empty(&self) -> bool {
        self.minimum.is_none()
            && self.maximum.is_none()
            && self.min_length.is_none()
            && self.max_length.is_none()
            && self.pattern.is_none()
            && self.min_items.is_none()
            && self.max_items.is_none()
            && self.fields.is_empty()
            && self.items.is_none()
    }

    /// `value` (already of its param's type) checked against the bounds,
    /// and its fields and items converted and checked in turn. Bounds
    /// apply to the values they make sense for: `minimum` to numbers,
    /// `min_length` to strings, and so on, as in JSON Schema.
    pub(crate) fn conform(&self, value: Value) -> Result<Value, ValueError> {
        match value {
            Value::Number(n) => {
                self.numeric(&n)?;
                Ok(Value::Number(n))
            }
            Value::String(s) => {
                self.text(&s)?;
                Ok(Value::String(s))
            }
            Value::Array(items) => self.array(items).map(Value::Array),
            Value::Object(map) => self.object(map).map(Value::Object),
            other => Ok(other),
        }
    }

    fn numeric(&self, n: &Number) -> Result<(), ValueError> {
        let x = n.as_f64().unwrap_or(f64::NAN);
        if let Some(min) = &self.minimum
            && x < min.as_f64().unwrap_or(f64::NEG_INFINITY)
        {
            return Err(bound(format!("at least {min}"), n.to_string()));
        }
        if let Some(max) = &self.maximum
            && x > max.as_f64().unwrap_or(f64::INFINITY)
        {
            return Err(bound(format!("at most {max}"), n.to_string()));
        }
        Ok(())
    }

    fn text(&self, s: &str) -> Result<(), ValueError> {
        let length = s.chars().count() as u64;
        let found = || describe(&Value::String(s.to_string()));
        if let Some(min) = self.min_length
            && length < min
        {
            return Err(bound(format!("at least {}", characters(min)), found()));
        }
        if let Some(max) = self.max_length
            && length > max
        {
            return Err(bound(
                format!("at most {}", characters(max)),
                format!("{} ({length})", found()),
            ));
        }
        if let Some(pattern) = &self.pattern
            && !pattern.regex.is_match(s)
        {
            return Err(bound(
                format!("a string matching `{}`", pattern.source),
                found(),
            ));
        }
        Ok(())
    }

    fn array(&self, items: Vec<Value>) -> Result<Vec<Value>, ValueError> {
        let count = items.len() as u64;
        if let Some(min) = self.min_items
            && count < min
        {
            return Err(bound(
                format!("at least {}", plural(min, "item")),
                plural(count, "item"),
            ));
        }
        if let Some(max) = self.max_items
            && count > max
        {
            return Err(bound(
                format!("at most {}", plural(max, "item")),
                plural(count, "item"),
            ));
        }
        let Some(field) = &self.items else {
            return Ok(items);
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                field.conform(item).map_err(|e| ValueError::Inside {
                    at: format!("item {i}"),
                    error: Box::new(e),
                })
            })
            .collect()
    }

    fn object(
        &self,
        mut map: serde_json::Map<String, Value>,
    ) -> Result<serde_json::Map<String, Value>, ValueError> {
        for (name, field) in &self.fields {
            let inside = |error| ValueError::Inside {
                at: format!("field `{name}`"),
                error: Box::new(error),
            };
            match map.get_mut(name) {
                None | Some(Value::Null) if field.required => {
                    return Err(ValueError::MissingField(name.clone()));
                }
                None | Some(Value::Null) => {}
                Some(slot) => *slot = field.conform(slot.take()).map_err(inside)?,
            }
        }
        Ok(map)
    }
}

fn bound(expected: String, found: String) -> ValueError {
    ValueError::Bound { expected, found }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn characters(n: u64) -> String {
    plural(n, "character")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(ty: ParamType) -> Field {
        Field {
            ty,
            required: false,
            allowed: None,
            description: None,
            server_default: None,
            shape: None,
        }
    }

    #[test]
    fn bounds_refuse_what_the_api_would() {
        let limit = Shape {
            minimum: Some(1.into()),
            maximum: Some(100.into()),
            ..Shape::default()
        };
        assert!(limit.conform(json!(1)).is_ok());
        assert!(limit.conform(json!(100)).is_ok());
        assert_eq!(
            limit.conform(json!(150)).unwrap_err().to_string(),
            "expected at most 100, found 150"
        );
        assert_eq!(
            limit.conform(json!(0)).unwrap_err().to_string(),
            "expected at least 1, found 0"
        );
        let name = Shape {
            min_length: Some(1),
            max_length: Some(3),
            pattern: Some(Pattern {
                source: "^[a-z]+$".into(),
                regex: regex::Regex::new("^[a-z]+$").unwrap(),
            }),
            ..Shape::default()
        };
        assert!(name.conform(json!("abc")).is_ok());
        assert_eq!(
            name.conform(json!("")).unwrap_err().to_string(),
            "expected at least 1 character, found a string `\"\"`"
        );
        assert_eq!(
            name.conform(json!("abcd")).unwrap_err().to_string(),
            "expected at most 3 characters, found a string `\"abcd\"` (4)"
        );
        assert_eq!(
            name.conform(json!("AB")).unwrap_err().to_string(),
            "expected a string matching `^[a-z]+$`, found a string `\"AB\"`"
        );
    }

    #[test]
    fn fields_and_items_are_converted_and_checked() {
        let mut url = field(ParamType::String);
        url.required = true;
        let mut port = field(ParamType::Integer);
        port.shape = Some(Box::new(Shape {
            maximum: Some(65535.into()),
            ..Shape::default()
        }));
        let config = Shape {
            fields: [("url".to_string(), url), ("port".to_string(), port)]
                .into_iter()
                .collect(),
            ..Shape::default()
        };
        assert_eq!(
            config.conform(json!({"url": "https://x", "port": "8080", "extra": 1})),
            Ok(json!({"url": "https://x", "port": 8080, "extra": 1}))
        );
        assert_eq!(
            config.conform(json!({"port": 1})).unwrap_err().to_string(),
            "missing required field `url`"
        );
        assert_eq!(
            config
                .conform(json!({"url": "u", "port": 70000}))
                .unwrap_err()
                .to_string(),
            "field `port`: expected at most 65535, found 70000"
        );
        let mut hook = field(ParamType::Object);
        hook.shape = Some(Box::new(config));
        let hooks = Shape {
            max_items: Some(2),
            items: Some(Box::new(hook)),
            ..Shape::default()
        };
        assert_eq!(
            hooks
                .conform(json!([{"url": "a"}, {"url": [1]}]))
                .unwrap_err()
                .to_string(),
            "item 1: field `url`: expected a string, found an array `[1]`"
        );
        // `3` for a string field is converted, as at the top level.
        assert!(hooks.conform(json!([{"url": 3}])).is_ok());
        assert_eq!(
            hooks.conform(json!([1, 2, 3])).unwrap_err().to_string(),
            "expected at most 2 items, found 3 items"
        );
    }
}
