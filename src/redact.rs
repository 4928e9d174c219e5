//! The one redactor every byte of output passes through.
//!
//! Secrets are registered as soon as they are known; printing code never
//! decides for itself what is secret. A secret is masked in every form the
//! runner itself produces or an API commonly echoes: raw; JSON-escaped
//! (`\"`, `\\`, `\n`, `\u0041`); percent-encoded with any set of characters
//! encoded, in upper or lower case, `+` for a space (form encoding); and
//! base64 (standard and URL-safe, padded or not, also inside a longer
//! base64 text such as a `Basic` header). Multi-line values are masked line
//! by line too. Matching is one compiled regular expression, rebuilt only
//! when a new secret arrives.

use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use regex::Regex;

use crate::secret::Secret;

/// Values shorter than this are not masked: they would blank unrelated text.
pub(crate) const MIN_SECRET_LEN: usize = 4;

/// Base64 fragments shorter than this are not masked on their own: they
/// would match unrelated text.
const MIN_FRAGMENT_LEN: usize = 8;

const MASK: &str = "***";

/// Shared, cheaply cloned set of values to mask.
#[derive(Clone, Default)]
pub struct Redactor {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Every registered value (and line of one), longest first.
    secrets: Vec<String>,
    matcher: Option<Regex>,
}

/// A secret too short to mask: its `Display` is the warning a run gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a secret value is shorter than {MIN_SECRET_LEN} characters and cannot be masked in output"
)]
pub struct Unmasked;

/// What registering a secret did.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    Masked,
    /// Too short to mask safely; the caller should warn.
    TooShort,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// [`Redactor::register`], with the warning to give when `secret` is
    /// too short to mask: every such warning is worded here. An empty value
    /// shows nothing, so needs no warning.
    pub fn mask(&self, secret: &Secret) -> Result<(), Unmasked> {
        match self.register(secret) {
            Registered::TooShort if !secret.expose().is_empty() => Err(Unmasked),
            _ => Ok(()),
        }
    }

    /// Masks `secret` (in all its forms) in everything redacted from now on.
    pub fn register(&self, secret: &Secret) -> Registered {
        let value = secret.expose();
        if value.trim().chars().count() < MIN_SECRET_LEN {
            return Registered::TooShort;
        }
        let mut values = vec![value.to_string()];
        values.extend(
            value
                .lines()
                .map(str::trim)
                .filter(|line| line.chars().count() >= MIN_SECRET_LEN && *line != value)
                .map(str::to_string),
        );
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let before = inner.secrets.len();
        for v in values {
            if !inner.secrets.contains(&v) {
                inner.secrets.push(v);
            }
        }
        if inner.secrets.len() != before {
            inner.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            inner.matcher = Some(build(&inner.secrets));
        }
        Registered::Masked
    }

    /// `text` with every registered secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        match &inner.matcher {
            Some(re) => re.replace_all(text, MASK).into_owned(),
            None => text.to_string(),
        }
    }

    /// Whether `text` holds a registered secret in any form.
    pub fn reveals(&self, text: &str) -> bool {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.matcher.as_ref().is_some_and(|re| re.is_match(text))
    }

    /// Whether a string, key or number inside `value` holds a secret: what
    /// [`Redactor::redact_json`] would mask.
    pub fn reveals_json(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        fn walk(re: &Regex, value: &Value) -> bool {
            match value {
                Value::String(s) => re.is_match(s),
                Value::Array(items) => items.iter().any(|v| walk(re, v)),
                Value::Object(map) => map.iter().any(|(k, v)| re.is_match(k) || walk(re, v)),
                Value::Number(n) => re.is_match(&n.to_string()),
                _ => false,
            }
        }
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.matcher.as_ref().is_some_and(|re| walk(re, value))
    }

    /// Redacts every string inside a JSON value, keys included.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            // A secret made of digits is echoed as a JSON number as often
            // as a string.
            Value::Number(n) if self.reveals(&n.to_string()) => Value::String(MASK.to_string()),
            other => other.clone(),
        }
    }
}

/// One alternation of every secret's patterns, longest first.
fn build(secrets: &[String]) -> Regex {
    let mut alternatives: Vec<String> = Vec::new();
    for secret in secrets {
        alternatives.push(flexible(secret));
        for form in base64_forms(secret) {
            if !alternatives.contains(&form) {
                alternatives.push(form);
            }
        }
    }
    // Longer patterns first: leftmost-first matching then masks the
    // longest form that starts at a place.
    alternatives.sort_by_key(|a| std::cmp::Reverse(a.len()));
    let pattern = alternatives.join("|");
    regex::RegexBuilder::new(&pattern)
        .size_limit(1 << 28)
        .dfa_size_limit(1 << 26)
        .build()
        .unwrap_or_else(|_| {
            // Only an absurd number of huge secrets gets here: fall back to
            // the raw values, which always compile.
            let raw: Vec<String> = secrets.iter().map(|s| regex::escape(s)).collect();
            Regex::new(&raw.join("|")).unwrap_or_else(|_| Regex::new("$^").expect("empty"))
        })
}

/// A pattern matching `secret` raw, JSON-escaped, or percent-encoded to
/// any degree (either case, `+` for a space), character by character.
fn flexible(secret: &str) -> String {
    let mut out = String::new();
    for c in secret.chars() {
        let mut alts: Vec<String> = vec![regex::escape(c.encode_utf8(&mut [0; 4]))];
        let mut pct = String::new();
        for b in c.to_string().bytes() {
            let _ = write!(pct, "%(?i:{b:02x})");
        }
        alts.push(pct);
        // JSON encoders escape punctuation and non-ASCII as `\uXXXX`,
        // never letters or digits.
        let code = c as u32;
        if code <= 0xFFFF && !c.is_ascii_alphanumeric() {
            alts.push(format!(r"\\u(?i:{code:04x})"));
        }
        match c {
            ' ' => alts.push(r"\+".into()),
            '"' => alts.push(r#"\\""#.into()),
            '\\' => alts.push(r"\\\\".into()),
            '/' => alts.push(r"\\/".into()),
            '\n' => alts.push(r"\\n".into()),
            '\r' => alts.push(r"\\r".into()),
            '\t' => alts.push(r"\\t".into()),
            '\u{8}' => alts.push(r"\\b".into()),
            '\u{c}' => alts.push(r"\\f".into()),
            _ => {}
        }
        let _ = write!(out, "(?:{})", alts.join("|"));
    }
    out
}

/// The base64 forms of `secret` as escaped patterns: whole (both
/// alphabets, padded or not), and the fragments that appear when it sits
/// at any offset inside a longer encoded text.
fn base64_forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let bytes = secret.as_bytes();
    let mut forms = Vec::new();
    for engine in [&STANDARD, &URL_SAFE] {
        let whole = engine.encode(bytes);
        forms.push(whole.clone());
        forms.push(whole.trim_end_matches('=').to_string());
        for offset in 0..3usize {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(bytes);
            let encoded = engine.encode(&shifted);
            // Characters fed by the offset's bytes or by whatever follows
            // the secret are not the secret's own.
            let start = if offset == 0 { 0 } else { 4 };
            let end = 4 * (shifted.len() / 3);
            if end > start && end - start >= MIN_FRAGMENT_LEN {
                forms.push(encoded[start..end].to_string());
            }
        }
    }
    forms.retain(|f| f.len() >= MIN_SECRET_LEN);
    forms.sort();
    forms.dedup();
    forms.iter().map(|f| regex::escape(f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        let r = Redactor::new();
        for s in secrets {
            assert_eq!(r.register(&Secret::new(*s)), Registered::Masked);
        }
        r
    }

    #[test]
    fn masks_raw_encoded_and_multiline_forms() {
        let r = redactor(&["s3cr3t/t0ken+x", "line-one\nline-two"]);
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t/t0ken+x");
        let text = format!("a s3cr3t/t0ken+x b s3cr3t%2Ft0ken%2Bx c {b64} d line-two e");
        assert_eq!(r.redact(&text), "a *** b *** c *** d *** e");
    }

    #[test]
    fn percent_and_form_encodings_in_any_case() {
        let r = redactor(&["pass word~x", "a-b~cdef"]);
        for shown in [
            "pass+word~x",
            "pass%20word%7Ex",
            "pass%20word%7ex",
            "%70ass+word~x",
            "a-b%7Ecdef",
            "a-b%7ecdef",
            "a%2Db%7Ecdef",
        ] {
            assert_eq!(r.redact(&format!("<{shown}>")), "<***>", "{shown}");
        }
    }

    #[test]
    fn json_escaped_forms() {
        let r = redactor(&[r#"abc"def\ghi"#, "tab\there"]);
        for shown in [
            r#"abc\"def\\ghi"#,
            r#"abc\u0022def\u005cghi"#,
            r"tab\there",
            r"tab\u0009here",
        ] {
            assert_eq!(r.redact(&format!("<{shown}>")), "<***>", "{shown}");
        }
    }

    #[test]
    fn base64_inside_a_longer_encoding() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let r = redactor(&["correct-horse-battery"]);
        for user in ["a", "ab", "abc", "acme12", "someone"] {
            let basic = STANDARD.encode(format!("{user}:correct-horse-battery"));
            let shown = r.redact(&format!("Basic {basic}"));
            let left = shown.trim_start_matches("Basic ");
            // At most a few characters either side of the mask survive:
            // never enough to decode the password.
            assert!(shown.contains("***"), "{user}: {shown}");
            assert!(left.replace("***", "").len() <= 16, "{user}: {shown}");
            assert!(
                !STANDARD
                    .decode(left.replace("***", "").trim_end_matches('='))
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .is_some_and(|t| t.contains("horse"))
            );
        }
        let plain = URL_SAFE_NO_PAD.encode("correct-horse-battery");
        assert_eq!(r.redact(&plain), "***");
    }

    #[test]
    fn short_values_are_not_masked() {
        let r = Redactor::new();
        assert_eq!(r.register(&Secret::new("ab")), Registered::TooShort);
        assert_eq!(r.redact("about ab"), "about ab");
    }

    #[test]
    fn numbers_in_json_that_hold_a_secret_are_masked() {
        let r = redactor(&["918273645546"]);
        let value =
            serde_json::json!({"pin": 918273645546u64, "n": [1, 918273645546123u64], "ok": 42});
        assert_eq!(
            r.redact_json(&value),
            serde_json::json!({"pin": "***", "n": [1, "***"], "ok": 42})
        );
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let r = redactor(&["abcd", "xxabcdyy"]);
        assert_eq!(r.redact("1 xxabcdyy 2 abcd"), "1 *** 2 ***");
    }
}
