//! `-v` and `-vv` blocks, in curl's shape: a request as it leaves (`> `
//! lines: method, URL, headers, body) and a response as it came (`< `
//! lines: status, headers, body), for steps and credential sources alike.
//! One block per request or response, so the items of a loop in flight at
//! once never interleave within one; whoever prints it prints it through
//! the redactor.
//!
//! Credentials are masked here by their place too (auth headers and query
//! parameters, cookies), not only by the redactor, so a value too short to
//! register never shows. Bodies are lines the caller gives: file contents
//! never reach this module.

use std::fmt::Write as _;

/// The most of a body a trace shows.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// How much to trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Verbosity {
    #[default]
    Quiet,
    /// `-v`: requests as sent.
    Requests,
    /// `-vv`: responses too.
    Responses,
}

impl Verbosity {
    /// `-v` counted: 0, 1, 2 or more.
    pub fn from_count(count: u8) -> Verbosity {
        match count {
            0 => Verbosity::Quiet,
            1 => Verbosity::Requests,
            _ => Verbosity::Responses,
        }
    }
}

/// Where traces go, and how much of them.
#[derive(Clone, Copy)]
pub(crate) struct Tracer<'a> {
    pub verbosity: Verbosity,
    pub out: &'a dyn Fn(&str),
}

impl Tracer<'_> {
    /// Traces nothing.
    pub(crate) const QUIET: Tracer<'static> = Tracer {
        verbosity: Verbosity::Quiet,
        out: &|_| {},
    };

    /// Whether requests are traced (`-v`): what it costs to describe one
    /// is spent only then.
    pub(crate) fn requests(&self) -> bool {
        self.verbosity >= Verbosity::Requests
    }

    /// Whether responses are traced (`-vv`).
    pub(crate) fn responses(&self) -> bool {
        self.verbosity >= Verbosity::Responses
    }

    /// `-v`: `sent`, as reqwest built it, headed by `title` (`* …`), its
    /// URL shown with `secret_query` values masked, its auth headers
    /// (`secret_headers`) masked, then `body` lines.
    pub(crate) fn request(
        &self,
        title: &str,
        sent: &reqwest::Request,
        secret_query: &[String],
        secret_headers: &[String],
        body: Option<Vec<String>>,
    ) {
        if !self.requests() {
            return;
        }
        let mut out = format!(
            "* {title}\n> {} {}",
            sent.method(),
            super::shown_url(sent.url(), secret_query)
        );
        for (name, value) in sent.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = mask_header(name.as_str(), &value, secret_headers);
            let _ = write!(out, "\n> {name}: {value}");
        }
        if let Some(lines) = body {
            out.push_str("\n>");
            for line in lines {
                let _ = write!(out, "\n> {line}");
            }
        }
        (self.out)(&out);
    }

    /// `-vv`: a response's status, headers and body (`Ok` bytes, capped),
    /// or why its body is not shown (`Err`), headed by `title` like its
    /// request: the items of a loop in flight at once answer in any order.
    pub(crate) fn response(
        &self,
        title: &str,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: Result<&[u8], &str>,
    ) {
        if !self.responses() {
            return;
        }
        let mut out = format!("* {title}\n< {status}");
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = mask_header(name.as_str(), &value, &[]);
            let _ = write!(out, "\n< {name}: {value}");
        }
        match body {
            Ok([]) => {}
            Ok(bytes) => {
                out.push_str("\n<");
                for line in text_lines(bytes) {
                    let _ = write!(out, "\n< {line}");
                }
            }
            Err(why) => {
                let _ = write!(out, "\n<\n< ({why})");
            }
        }
        (self.out)(&out);
    }
}

/// A header's value as traced: credentials masked by where they are.
fn mask_header<'v>(name: &str, value: &'v str, auth: &[String]) -> std::borrow::Cow<'v, str> {
    let credential = auth.iter().any(|a| a.eq_ignore_ascii_case(name))
        || ["authorization", "proxy-authorization"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name));
    if ["cookie", "set-cookie"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
    {
        return "***".into();
    }
    if !credential {
        return value.into();
    }
    // The scheme (`Bearer`, `Basic`) says which kind of credential went.
    match value.split_once(' ') {
        Some((scheme, _))
            if scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            format!("{scheme} ***").into()
        }
        _ => "***".into(),
    }
}

/// Bytes as text lines, at most [`MAX_BODY`] of them, saying so when cut;
/// bytes that are not text are only counted.
pub(crate) fn text_lines(bytes: &[u8]) -> Vec<String> {
    let shown = &bytes[..bytes.len().min(MAX_BODY)];
    let text = match std::str::from_utf8(shown) {
        Ok(text) => text,
        // Cut inside a character: up to where it began.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&shown[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return vec![format!("({} bytes, not text)", bytes.len())],
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if bytes.len() > MAX_BODY {
        lines.push(format!(
            "(cut at 64 KiB; the body is {} bytes)",
            bytes.len()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_by_place() {
        assert_eq!(
            mask_header("authorization", "Bearer abc", &[]),
            "Bearer ***"
        );
        assert_eq!(mask_header("x-api-key", "k", &["X-Api-Key".into()]), "***");
        assert_eq!(mask_header("set-cookie", "a=b", &[]), "***");
        assert_eq!(mask_header("accept", "*/*", &[]), "*/*");
    }

    #[test]
    fn bodies_are_capped_and_binary_is_counted() {
        let big = "x".repeat(MAX_BODY + 10);
        let lines = text_lines(big.as_bytes());
        assert_eq!(lines[0].len(), MAX_BODY);
        assert_eq!(
            lines[1],
            format!("(cut at 64 KiB; the body is {} bytes)", MAX_BODY + 10)
        );
        assert_eq!(text_lines(&[0xff, 0xfe, 0]), ["(3 bytes, not text)"]);
        // A character cut at the cap is left out, not refused.
        let mut edge = "x".repeat(MAX_BODY - 1).into_bytes();
        edge.extend("é".as_bytes());
        assert_eq!(text_lines(&edge)[0].len(), MAX_BODY - 1);
    }
}
