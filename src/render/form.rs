//! Nested values as form fields, the convention of Stripe, Rails and PHP
//! (OpenAPI's `deepObject`): objects in bracket notation to any depth
//! (`metadata[order_id]=123`, `metadata[tags][a]=x`), arrays by the
//! top param's [`ArrayStyle`] at every depth (`expand=a&expand=b`,
//! `expand[]=a`, `expand[0]=a`). Used for `form` and `multipart` bodies and
//! for object and array query params; the brackets are percent-encoded on
//! the wire (`%5B`, `%5D`) by standard form encoding.

use serde_json::Value;

use crate::spec::ArrayStyle;

/// The fields `value` is sent as under `key`, appended to `out`. Nulls, and
/// empty arrays and objects, send nothing.
pub(crate) fn fields(key: &str, value: &Value, style: ArrayStyle, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                fields(&format!("{key}[{k}]"), v, style, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let name = match style {
                    ArrayStyle::Repeat => key.to_string(),
                    ArrayStyle::Brackets => format!("{key}[]"),
                    ArrayStyle::Indexed => format!("{key}[{i}]"),
                };
                fields(&name, item, style, out);
            }
        }
        scalar => out.push((key.to_string(), scalar_text(scalar))),
    }
}

/// A scalar as a form value: strings as they are, numbers and booleans as
/// JSON writes them.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `application/x-www-form-urlencoded` text of `pairs`.
pub(crate) fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(key: &str, value: Value, style: ArrayStyle) -> String {
        let mut out = Vec::new();
        fields(key, &value, style, &mut out);
        encode(&out)
    }

    #[test]
    fn scalars_are_one_field() {
        assert_eq!(
            form("amount", json!(2000), ArrayStyle::Repeat),
            "amount=2000"
        );
        assert_eq!(form("live", json!(true), ArrayStyle::Repeat), "live=true");
        assert_eq!(
            form("note", json!("a b&c=d"), ArrayStyle::Repeat),
            "note=a+b%26c%3Dd"
        );
        assert_eq!(form("gone", json!(null), ArrayStyle::Repeat), "");
    }

    #[test]
    fn objects_nest_in_brackets_to_any_depth() {
        assert_eq!(
            form(
                "metadata",
                json!({"order_id": 123, "tags": {"a": "x", "deep": {"b": false}}}),
                ArrayStyle::Repeat
            ),
            "metadata%5Border_id%5D=123&metadata%5Btags%5D%5Ba%5D=x&metadata%5Btags%5D%5Bdeep%5D%5Bb%5D=false"
        );
    }

    #[test]
    fn array_styles() {
        let expand = json!(["customer", "invoice"]);
        assert_eq!(
            form("expand", expand.clone(), ArrayStyle::Repeat),
            "expand=customer&expand=invoice"
        );
        assert_eq!(
            form("expand", expand.clone(), ArrayStyle::Brackets),
            "expand%5B%5D=customer&expand%5B%5D=invoice"
        );
        assert_eq!(
            form("expand", expand, ArrayStyle::Indexed),
            "expand%5B0%5D=customer&expand%5B1%5D=invoice"
        );
    }

    #[test]
    fn the_top_style_governs_arrays_inside_objects_and_arrays() {
        let value =
            json!({"ids": [1, 2], "items": [{"price": "p1", "qty": 2}], "grid": [[1], [2, 3]]});
        let mut out = Vec::new();
        fields("x", &value, ArrayStyle::Indexed, &mut out);
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "x[ids][0]",
                "x[ids][1]",
                "x[items][0][price]",
                "x[items][0][qty]",
                "x[grid][0][0]",
                "x[grid][1][0]",
                "x[grid][1][1]"
            ]
        );
        let mut out = Vec::new();
        fields("x", &value, ArrayStyle::Brackets, &mut out);
        assert_eq!(out[0], ("x[ids][]".to_string(), "1".to_string()));
        assert_eq!(out[2], ("x[items][][price]".to_string(), "p1".to_string()));
        let mut out = Vec::new();
        fields("x", &value, ArrayStyle::Repeat, &mut out);
        assert_eq!(out[1], ("x[ids]".to_string(), "2".to_string()));
    }

    #[test]
    fn empty_containers_send_nothing() {
        assert_eq!(form("a", json!([]), ArrayStyle::Brackets), "");
        assert_eq!(form("a", json!({}), ArrayStyle::Repeat), "");
        assert_eq!(
            form("a", json!({"b": null, "c": 1}), ArrayStyle::Repeat),
            "a%5Bc%5D=1"
        );
    }

    #[test]
    fn keys_are_encoded_like_values() {
        assert_eq!(
            form("metadata", json!({"a b": "ü"}), ArrayStyle::Repeat),
            "metadata%5Ba+b%5D=%C3%BC"
        );
    }
}
