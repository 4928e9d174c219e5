//! Transport errors in words (without reqwest's own text, whose URL is
//! unmasked: callers name the URL with [`super::shown_url`]),
//! `Retry-After`, and excerpts of what servers said.

use std::time::{Duration, SystemTime};

use crate::redact::Redactor;

/// The innermost cause of an error, in words, without reqwest's URL-bearing
/// top line or the OS error number.
pub(crate) fn error_chain(e: &reqwest::Error) -> String {
    let mut innermost = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    let text = innermost.unwrap_or_default();
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// `Retry-After` in seconds or as an HTTP date. A number of seconds too
/// large to count is `Duration::MAX`: longer than any wait allowed.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map(Duration::from_secs)
                .unwrap_or(Duration::MAX),
        );
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

/// The longest excerpt of a server's words shown in a message.
const EXCERPT: usize = 300;

/// At most 300 characters of `text`, on one line. Secrets are masked
/// first, so neither cutting nor folding whitespace can split one.
pub(crate) fn excerpt(text: &str, redactor: &Redactor) -> String {
    let masked = redactor.redact(text);
    let one_line: String = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > EXCERPT {
        one_line.chars().take(EXCERPT - 3).collect::<String>() + "..."
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn retry_after() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(Duration::MAX)
        );
        assert_eq!(parse_retry_after("soon"), None);
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
    }

    #[test]
    fn excerpts_mask_before_cutting_and_folding() {
        let r = Redactor::new();
        let secret = format!("tok  en{}", "x".repeat(400));
        r.register(&Secret::new(secret.clone()));
        let text = format!("{} {secret}", "a".repeat(250));
        let e = excerpt(&text, &r);
        assert!(e.ends_with("***"), "{e}");
        assert!(!e.contains("tok"), "{e}");
    }
}
