//! `-v` and `-vv`: each request as it leaves (`> ` lines: method, URL,
//! headers, body) and, at `-vv`, each response as it came (`< ` lines:
//! status, headers, body), in curl's shape. One block per request or
//! response, so the items of a loop in flight at once never interleave
//! within one; it goes to the reporter, whose output the redactor sees.
//!
//! Credentials are masked here by their place too (auth headers and query
//! parameters, cookies), not only by the redactor, so a value too short to
//! register never shows. File contents never show: a file part or a raw
//! file body is `@file (type, size)`.

use std::fmt::Write as _;

use crate::execute::outcome::Reporter;
use crate::render::{Body, Request};

/// The most of a body a trace shows.
pub(super) const MAX_BODY: usize = 64 * 1024;

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

/// One try of one request, traced as it goes.
pub(super) struct Trace<'a> {
    pub verbosity: Verbosity,
    pub reporter: &'a dyn Reporter,
    /// How messages name the step or item (`steps[1] (create)`, `each[2]`).
    pub label: &'a str,
    pub attempt: u32,
    pub attempts: u32,
}

impl Trace<'_> {
    fn on(&self, at: Verbosity) -> bool {
        self.verbosity >= at
    }

    /// A request about to leave, as reqwest built it (`sent`), with the
    /// body it carries described from `request` (a multipart body is a
    /// stream by then). `hop` counts the redirects followed.
    pub(super) fn request(
        &self,
        request: &Request,
        sent: &reqwest::Request,
        body: Option<&Body>,
        hop: usize,
    ) {
        if !self.on(Verbosity::Requests) {
            return;
        }
        let mut out = format!("* {}", self.label);
        if self.attempts > 1 {
            let _ = write!(out, ", try {} of {}", self.attempt, self.attempts);
        }
        if hop > 0 {
            let _ = write!(out, ", redirect {hop}");
        }
        let _ = write!(
            out,
            "\n> {} {}",
            sent.method(),
            crate::http::shown_url(sent.url(), &request.auth_query)
        );
        for (name, value) in sent.headers() {
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = mask_header(name.as_str(), &value, &request.auth_headers);
            let _ = write!(out, "\n> {name}: {value}");
        }
        if let Some(body) = body {
            out.push_str("\n>");
            for line in body_lines(body) {
                let _ = write!(out, "\n> {line}");
            }
        }
        self.reporter.trace(&out);
    }

    /// A response as it came: its status, headers and (capped) body.
    pub(super) fn response(
        &self,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: Result<&[u8], &str>,
    ) {
        if !self.on(Verbosity::Responses) {
            return;
        }
        let mut out = format!("< {status}");
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
        self.reporter.trace(&out);
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

/// A request body's lines: bytes held in memory as sent (capped), files
/// and multipart parts described, never read.
fn body_lines(body: &Body) -> Vec<String> {
    match body.bytes() {
        Some(bytes) => text_lines(&bytes),
        None => body.describe(),
    }
}

/// Bytes as text lines, at most [`MAX_BODY`] of them, saying so when cut;
/// bytes that are not text are only counted.
fn text_lines(bytes: &[u8]) -> Vec<String> {
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
