//! The one check of header names and values, used for app headers, header
//! params and auth parameters alike, at validation and before sending.

use reqwest::header::{HeaderName, HeaderValue};

/// Why a header name or value cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("`{0}` is not a valid header name (letters, digits and `-`, no spaces)")]
    Name(String),
    /// `what` names the header in the message (`the value of header`,
    /// `header param`, `auth header`).
    #[error("{what} `{name}` contains a line break or NUL, which would split the header")]
    Split { what: &'static str, name: String },
    #[error("{what} `{name}` contains a control character")]
    Control { what: &'static str, name: String },
}

/// Why `name` cannot be a header name, if it cannot.
pub(crate) fn check_name(name: &str) -> Result<(), HeaderError> {
    HeaderName::from_bytes(name.as_bytes())
        .map(|_| ())
        .map_err(|_| HeaderError::Name(name.to_string()))
}

/// Why `value` cannot be the value of header `name`, if it cannot. `what`
/// names the header in the message (`the value of header`, `header param`,
/// `auth header`).
pub(crate) fn check_value(name: &str, value: &str, what: &'static str) -> Result<(), HeaderError> {
    let name = name.to_string();
    if value.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(HeaderError::Split { what, name });
    }
    HeaderValue::from_str(value)
        .map(|_| ())
        .map_err(|_| HeaderError::Control { what, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values() {
        assert!(check_name("X-Api-Key").is_ok());
        assert!(check_name("X Api").is_err());
        assert!(check_value("A", "ok value", "header").is_ok());
        assert_eq!(
            check_value("A", "a\r\nB: c", "header")
                .unwrap_err()
                .to_string(),
            "header `A` contains a line break or NUL, which would split the header"
        );
        assert_eq!(
            check_value("A", "a\u{7}", "header")
                .unwrap_err()
                .to_string(),
            "header `A` contains a control character"
        );
    }
}
