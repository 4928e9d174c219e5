//! The one redactor every byte of output passes through.
//!
//! Secrets are registered as they are resolved; printing code never decides
//! for itself what is secret. Besides the raw value, the forms a secret takes
//! on the wire (percent-encoded in a URL, base64 in a `Basic` header) are
//! masked too, and multi-line values line by line.

use std::sync::{Arc, RwLock};

use base64::Engine as _;

use crate::secret::Secret;

/// Values shorter than this are not masked: they would blank unrelated text.
pub const MIN_SECRET_LEN: usize = 4;

const MASK: &str = "***";

/// Shared, cheaply cloned set of values to mask.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Arc<RwLock<Vec<String>>>,
}

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

    /// Masks `secret` (and its encoded forms) in everything redacted from now on.
    pub fn register(&self, secret: &Secret) -> Registered {
        let value = secret.expose();
        if value.trim().chars().count() < MIN_SECRET_LEN {
            return Registered::TooShort;
        }
        let mut forms = vec![value.to_string()];
        forms.extend(
            value
                .lines()
                .map(str::trim)
                .filter(|line| line.chars().count() >= MIN_SECRET_LEN)
                .map(str::to_string),
        );
        forms.push(crate::url::encode_component(value));
        forms.push(
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
        forms.push(base64::engine::general_purpose::STANDARD.encode(value));
        forms.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value));
        let mut needles = self.needles.write().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if form.len() >= MIN_SECRET_LEN && !needles.contains(&form) {
                needles.push(form);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Registered::Masked
    }

    /// `text` with every registered secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let needles = self.needles.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for needle in needles.iter() {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
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
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_raw_encoded_and_multiline_forms() {
        let r = Redactor::new();
        assert_eq!(
            r.register(&Secret::new("s3cr3t/t0ken+x")),
            Registered::Masked
        );
        assert_eq!(
            r.register(&Secret::new("line-one\nline-two")),
            Registered::Masked
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t/t0ken+x");
        let text = format!("a s3cr3t/t0ken+x b s3cr3t%2Ft0ken%2Bx c {b64} d line-two e");
        assert_eq!(r.redact(&text), "a *** b *** c *** d *** e");
    }

    #[test]
    fn short_values_are_not_masked() {
        let r = Redactor::new();
        assert_eq!(r.register(&Secret::new("ab")), Registered::TooShort);
        assert_eq!(r.redact("about ab"), "about ab");
    }
}
