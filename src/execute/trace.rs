//! `-v` and `-vv` for a step's request: which step, item, page and try it
//! is, and its body described from what the step built — a multipart body
//! is a stream once reqwest has it, and a file's contents never show
//! (`@file (type, size)`). The blocks themselves are [`crate::http::Tracer`]'s.

use crate::http::Tracer;
use crate::render::{Body, Request};

/// One try of one step's request, traced as it goes.
pub(super) struct Trace<'a> {
    pub tracer: Tracer<'a>,
    /// How messages name the step, item or page (`steps[1] (create)[2]`).
    pub label: &'a str,
    pub attempt: u32,
    pub attempts: u32,
}

impl Trace<'_> {
    /// `steps[1] (create), try 2 of 3, redirect 1`: what a block is of.
    fn title(&self, hop: usize) -> String {
        let mut title = self.label.to_string();
        if self.attempts > 1 {
            title.push_str(&format!(", try {} of {}", self.attempt, self.attempts));
        }
        if hop > 0 {
            title.push_str(&format!(", redirect {hop}"));
        }
        title
    }

    /// A request about to leave, as reqwest built it (`sent`); `hop`
    /// counts the redirects followed.
    pub(super) fn request(
        &self,
        request: &Request,
        sent: &reqwest::Request,
        body: Option<&Body>,
        hop: usize,
    ) {
        if !self.tracer.requests() {
            return;
        }
        let body = body.map(|b| match b.bytes() {
            Some(bytes) => crate::http::trace::text_lines(&bytes),
            None => b.describe(),
        });
        self.tracer.request(
            &self.title(hop),
            sent,
            &request.auth_query,
            &request.auth_headers,
            body,
        );
    }

    /// Whether responses are traced (`-vv`).
    pub(super) fn responses(&self) -> bool {
        self.tracer.responses()
    }

    /// The answer to the request of redirect `hop`: see
    /// [`crate::http::Tracer::response`].
    pub(super) fn response(
        &self,
        hop: usize,
        status: reqwest::StatusCode,
        headers: Option<&reqwest::header::HeaderMap>,
        body: Result<&[u8], &str>,
    ) {
        if let Some(headers) = headers {
            self.tracer
                .response(&self.title(hop), status, headers, body);
        }
    }
}
