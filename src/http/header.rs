//! The one check of header names and values, used for app headers, header
//! params and auth parameters alike, at validation and before sending.

use reqwest::header::{HeaderName, HeaderValue};

/// Why `name` cannot be a header name, if it cannot.
pub fn check_name(name: &str) -> Result<(), String> {
    HeaderName::from_bytes(name.as_bytes())
        .map(|_| ())
        .map_err(|_| {
            format!("`{name}` is not a valid header name (letters, digits and `-`, no spaces)")
        })
}

/// Why `value` cannot be the value of header `name`, if it cannot. `what`
/// names the header in the message (`the value of header`, `header param`,
/// `auth header`).
pub fn check_value(name: &str, value: &str, what: &str) -> Result<(), String> {
    if value.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(format!(
            "{what} `{name}` contains a line break or NUL, which would split the header"
        ));
    }
    HeaderValue::from_str(value)
        .map(|_| ())
        .map_err(|_| format!("{what} `{name}` contains a control character"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values() {
        assert!(check_name("X-Api-Key").is_ok());
        assert!(check_name("X Api").is_err());
        assert!(check_value("A", "ok value", "header").is_ok());
        assert!(
            check_value("A", "a\r\nB: c", "header")
                .unwrap_err()
                .contains("line break")
        );
        assert!(
            check_value("A", "a\u{7}", "header")
                .unwrap_err()
                .contains("control")
        );
    }
}
