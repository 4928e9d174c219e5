//! What the user sees, one file per format behind one [`Sink`]: `text`
//! (step lines as they finish, a summary), `json` (one document for
//! machines), `plan` (the requests a run would send); for CI, `junit`,
//! `markdown` (the step summary) and `github` (workflow commands), which
//! `ci` adds beside the output chosen. Every byte goes out through
//! [`Out`], which redacts it, once.

pub(crate) mod ci;
pub(crate) mod diagnostics;
mod github;
mod json;
mod junit;
mod live;
mod markdown;
mod plan;
mod text;

use std::io::Write;

use serde_json::Value;

use crate::check::Workflow;
use crate::error::Error;
use crate::execute::{Plan, Reporter, RunReport};
use crate::redact::Redactor;

pub(crate) use json::JsonSink;
pub(crate) use junit::JunitSink;
pub(crate) use text::TextSink;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    /// JUnit XML, for CI test tabs (steps as test cases).
    Junit,
}

/// Hears about a run as it happens (as a [`Reporter`]), then about how it
/// ended; or about a plan; or about specs validated, actions listed or
/// described; or about the error that stopped it before it started. Every
/// command's output goes through one.
pub trait Sink: Reporter {
    fn plan(&mut self, plan: &Plan);
    fn finish(&mut self, report: &RunReport);
    fn error(&mut self, error: &Error);
    /// `runner actions`: the actions found.
    fn actions(&mut self, entries: &[&crate::catalog::Entry]);
    /// `runner describe`: one action.
    fn describe(&mut self, entry: &crate::catalog::Entry);
    /// `runner validate`: the spec at `path` checked out, with `wf`'s
    /// warnings; one that did not goes to [`Sink::error`].
    fn valid(&mut self, path: &std::path::Path, wf: &Workflow);
    /// The template watchdog stopped the process: the last words.
    fn stopped(&mut self, message: &str);
}

/// The sink for `format`. `wf` lets text output align its columns.
pub fn sink<'a>(format: Format, out: &'a Out, wf: Option<&Workflow>) -> Box<dyn Sink + 'a> {
    match format {
        Format::Text => Box::new(TextSink::new(out, wf)),
        Format::Json => Box::new(JsonSink::new(out)),
        Format::Junit => Box::new(JunitSink::new(out, wf)),
    }
}

/// The program's stdout and stderr. Everything written is redacted here,
/// and only here.
#[derive(Clone)]
pub struct Out {
    redactor: Redactor,
    /// Under GitHub Actions: the token of the `::stop-commands::` fence
    /// around what is printed, so no text from a spec or an API is read
    /// as a workflow command.
    fence: Option<std::sync::Arc<str>>,
}

impl Out {
    pub fn new(redactor: Redactor) -> Self {
        Out {
            redactor,
            fence: None,
        }
    }

    /// The same output, for a GitHub Actions log: every line printed is
    /// fenced, but documents for machines (JSON, JUnit XML).
    pub fn in_github_actions(mut self) -> Self {
        self.fence = Some(github::token().into());
        self
    }

    /// `text` redacted, and fenced in a GitHub Actions log.
    fn inert(&self, text: &str) -> String {
        let text = self.redactor.redact(text);
        match &self.fence {
            Some(token) => github::inert(&text, token),
            None => text,
        }
    }

    /// A workflow command on stderr, unfenced (its text escaped by `github`).
    pub(crate) fn command(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{}", self.redactor.redact(line));
    }

    /// A document for machines (JUnit XML) on stdout, redacted but never
    /// fenced, so it stays a valid document when redirected to a file.
    pub(crate) fn document(&self, text: &str) {
        self.stdout_raw(text);
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.inert(text));
        let _ = out.flush();
    }

    /// `text` as it is (no newline added), redacted.
    pub(crate) fn stdout_raw(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.redactor.redact(text).as_bytes());
        let _ = out.flush();
    }

    pub(crate) fn stderr(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{}", self.inert(text));
    }

    /// One JSON document on stdout; strings (keys included) are redacted
    /// as values, so masking never breaks the document. It is never fenced:
    /// pretty-printed JSON has no line that starts with `::`.
    pub(crate) fn json(&self, value: &Value) {
        let value = self.redactor.redact_json(value);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        let _ = out.flush();
    }
}
