//! YAML scalars and flow collections written by hand, quoted whenever a YAML
//! reader could take them for anything but the string they are.
//!
//! A string is written plain only when it is obviously a string to every
//! YAML 1.1 and 1.2 reader: it starts with a letter, `_`, `/` or `(`, holds
//! only ASCII letters and digits, spaces, `_ - . / ( ) ' + = @ $ % ~ ! ? & * < > ^ |`
//! and non-ASCII characters YAML allows unescaped
//! (so no `:`, `#`, `,`, brackets or braces, which mean something in flow
//! context), does not end with a space, and is not one of the words YAML
//! reads as a boolean, null or special number (`yes`, `No`, `on`, `null`,
//! `y`, `inf`, …). Everything else is double-quoted with JSON-style escapes,
//! plus escapes for the characters YAML treats as line breaks or does not
//! allow (U+0085, U+2028, U+2029, U+FEFF, C1 controls).
//!
//! A value on its own line (block context: a path, a URL, a description)
//! may also hold `{ } [ ] ,`, a `:` not followed by a space and a `#` not
//! preceded by one, which YAML reads as text there: `path: /a/{id}`.

use serde_json::Value;
use std::fmt::Write;

/// Words YAML 1.1 or 1.2 readers resolve to something other than a string
/// (compared case-insensitively).
const SPECIAL_WORDS: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "inf", "infinity", "nan",
];

const PLAIN_INNER: &str = " _-./()'+=@$%~!?&*<>^|";

/// Whether `text` may be written as a plain scalar.
pub(super) fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    (first.is_alphabetic() || matches!(first, '_' | '/' | '('))
        && !text.ends_with(' ')
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || PLAIN_INNER.contains(c) || (!c.is_ascii() && printable(c))
        })
        && !SPECIAL_WORDS.iter().any(|w| text.eq_ignore_ascii_case(w))
}

/// Whether `text` may be written as a plain scalar in block context.
pub(super) fn is_plain_block(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let Some(&first) = chars.first() else {
        return false;
    };
    (first.is_alphabetic() || matches!(first, '_' | '/' | '('))
        && !text.ends_with(' ')
        && chars.iter().enumerate().all(|(i, &c)| match c {
            '{' | '}' | '[' | ']' | ',' => true,
            ':' => chars.get(i + 1).is_some_and(|n| *n != ' '),
            '#' => chars[i - 1] != ' ',
            c => {
                c.is_ascii_alphanumeric()
                    || PLAIN_INNER.contains(c)
                    || (!c.is_ascii() && printable(c))
            }
        })
        && !SPECIAL_WORDS.iter().any(|w| text.eq_ignore_ascii_case(w))
}

/// Characters YAML allows unescaped and does not read as line breaks.
fn printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{d7ff}' | '\u{e000}'..='\u{fefe}' | '\u{ff00}'..='\u{fffd}' | '\u{10000}'..)
}

/// `text` as a scalar anywhere: plain when safe, else double-quoted.
pub(super) fn string(text: &str) -> String {
    if is_plain(text) {
        return text.to_string();
    }
    quoted(text)
}

/// `text` as a scalar that is a mapping value on its own line.
pub(super) fn block_string(text: &str) -> String {
    if is_plain_block(text) {
        return text.to_string();
    }
    quoted(text)
}

/// `text` double-quoted, with escapes.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// `text` fit for a `# comment`: every character YAML would read as a line
/// break, or does not allow, replaced by a space; leading spaces kept.
pub(super) fn comment_text(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| if printable(c) { c } else { ' ' })
        .collect();
    safe.trim_end().to_string()
}

/// `value` in flow style: `[a, b]`, `{k: v}`, scalars as [`string`] does.
pub(super) fn flow(value: &Value) -> String {
    let mut out = String::new();
    write_flow(value, &mut out);
    out
}

fn write_flow(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&string(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&string(key));
                out.push_str(": ");
                write_flow(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What serde_yaml reads `text` as, inside a flow mapping.
    fn read_back(text: &str) -> serde_yaml::Value {
        let doc: serde_yaml::Mapping = serde_yaml::from_str(&format!("{{k: {text}}}")).unwrap();
        doc["k"].clone()
    }

    /// What serde_yaml reads `text` as, as a block mapping value.
    fn read_back_block(text: &str) -> serde_yaml::Value {
        let doc: serde_yaml::Mapping = serde_yaml::from_str(&format!("k: {text}\n")).unwrap();
        doc["k"].clone()
    }

    #[test]
    fn strings_read_back_as_the_same_string() {
        for s in TRICKY {
            let written = string(s);
            assert_eq!(
                read_back(&written),
                serde_yaml::Value::String(s.to_string()),
                "{s:?} written as {written}"
            );
            let written = block_string(s);
            assert_eq!(
                read_back_block(&written),
                serde_yaml::Value::String(s.to_string()),
                "{s:?} written in block context as {written}"
            );
        }
    }

    #[test]
    fn block_context_allows_braces_and_urls() {
        assert_eq!(block_string("/a/{id}/b"), "/a/{id}/b");
        assert_eq!(block_string("https://x.example/v1"), "https://x.example/v1");
        assert_eq!(block_string("a: b"), "\"a: b\"");
        assert_eq!(block_string("a #b"), "\"a #b\"");
        assert_eq!(block_string("{x}"), "\"{x}\"");
        assert_eq!(string("/a/{id}"), "\"/a/{id}\"");
    }

    const TRICKY: &[&str] = &[
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "null",
        "~",
        "true",
        "1",
        "1.5",
        "0x1F",
        "1e3",
        "1_000",
        "2022-11-28",
        "*alias",
        "&anchor",
        "!tag",
        "{x}",
        "[x]",
        "#c",
        ":",
        "a: b",
        "a #b",
        "a,b",
        "-",
        "- x",
        "? x",
        "%x",
        "@x",
        "`x`",
        "'x'",
        "\"x\"",
        "",
        " x",
        "x ",
        "inf",
        ".inf",
        ".nan",
        "NaN",
        "<<",
        "|",
        ">",
        "a\nb",
        "tab\there",
        "\u{2028}",
        "\u{85}",
        "\u{feff}x",
        "\u{7f}",
        "\u{9c}",
        "plain words",
        "/a/b",
        "ünïcode",
        "{{ env.X }}",
        "a — b",
        "…",
        "x\u{a0}",
        "a\\b",
        "x: {y}",
        "a:",
        "a:b",
        "a#b",
        "/a/{b}",
        "x,y",
        "a]",
        "http://h/p?q=1#f",
    ];

    #[test]
    fn plain_when_obviously_a_string() {
        assert_eq!(string("open"), "open");
        assert_eq!(string("Create an issue"), "Create an issue");
        assert_eq!(string("yes"), "\"yes\"");
        assert_eq!(string("30"), "\"30\"");
        assert_eq!(string("a, b"), "\"a, b\"");
    }

    #[test]
    fn flow_collections_read_back() {
        let value = json!({"a": [1, "two", null, true], "yes": {"n": 1.5}, "": "x"});
        let text = flow(&value);
        let back: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
    }
}
