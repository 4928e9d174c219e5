//! What the user sees: step lines as they finish, a summary, plans, and the
//! JSON document for machines. Every byte goes through the [`Redactor`].

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::execute::Plan;
use crate::redact::Redactor;
use crate::spec::Step;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Ok,
    Failed,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepReport {
    pub id: Option<String>,
    /// The id, else `#N`.
    pub name: String,
    pub action: String,
    pub status: StepStatus,
    pub http_status: Option<u16>,
    pub reason: Option<String>,
    pub duration: Duration,
    pub response: Option<Value>,
    pub error: Option<String>,
    /// Failed, but `continue_on_error` let the run go on.
    pub continued: bool,
    /// Done in an earlier run, per the journal: not sent again.
    pub resumed: bool,
    pub retries: Vec<RetryNote>,
}

/// One retry: which try comes next, why, and after how long.
#[derive(Debug, Clone)]
pub struct RetryNote {
    pub attempt: u32,
    pub of: u32,
    pub reason: String,
    pub wait: Duration,
}

impl StepReport {
    pub fn new(step: &Step, action: &str, status: StepStatus) -> Self {
        StepReport {
            id: step.id.clone(),
            name: step.name(),
            action: action.to_string(),
            status,
            http_status: None,
            reason: None,
            duration: Duration::ZERO,
            response: None,
            error: None,
            continued: false,
            resumed: false,
            retries: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub struct RunReport {
    pub ok: bool,
    pub steps: Vec<StepReport>,
    pub duration: Duration,
    /// Stopped by a signal: the exit code it calls for (130, 143).
    pub interrupted: Option<u8>,
}

impl RunReport {
    pub fn exit_code(&self) -> u8 {
        match self.interrupted {
            Some(code) => code,
            None if self.ok => crate::error::exit::OK,
            None => crate::error::exit::STEP_FAILED,
        }
    }

    pub fn to_json(&self, redactor: &Redactor) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "action": s.action,
                    "status": s.status.as_str(),
                    "http_status": s.http_status,
                    "duration_ms": s.duration.as_millis() as u64,
                    "response": s.response,
                    "error": s.error,
                    "resumed": s.resumed,
                    "retries": s.retries.iter().map(|r| json!({
                        "attempt": r.attempt,
                        "reason": r.reason,
                        "wait_ms": r.wait.as_millis() as u64,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        redactor.redact_json(&json!({ "ok": self.ok, "steps": steps }))
    }
}

/// Hears about a run as it happens.
pub trait Reporter {
    fn step(&mut self, step: &StepReport);
    fn warn(&mut self, message: &str);
    /// A try failed and another follows after `note.wait`.
    fn retry(&mut self, step: &str, note: &RetryNote) {
        self.warn(&format!(
            "{step}: try {} of {} in {}: {}",
            note.attempt,
            note.of,
            crate::spec::duration::show(note.wait),
            note.reason
        ));
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// The program's stdout and stderr, redacted.
pub struct Out {
    redactor: Redactor,
}

impl Out {
    pub fn new(redactor: Redactor) -> Self {
        Out { redactor }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", self.redactor.redact(text));
        let _ = out.flush();
    }

    pub fn stderr(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{}", self.redactor.redact(text));
    }

    pub fn json(&self, value: &Value) {
        let value = self.redactor.redact_json(value);
        self.stdout(&serde_json::to_string_pretty(&value).unwrap_or_default());
    }
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// Prints steps as they finish: a line each on stdout, in aligned columns.
pub struct TextReporter<'a> {
    out: &'a Out,
    name_width: usize,
    action_width: usize,
}

impl<'a> TextReporter<'a> {
    pub fn new(out: &'a Out, wf: &crate::Workflow) -> Self {
        let width = |f: &dyn Fn(&Step) -> usize| wf.spec.steps.iter().map(f).max().unwrap_or(0);
        TextReporter {
            out,
            name_width: width(&|s| s.name().len()),
            action_width: width(&|s| s.action.value.len()),
        }
    }
}

impl Reporter for TextReporter<'_> {
    fn step(&mut self, s: &StepReport) {
        let mut line = format!(
            "{:<8}{:<nw$}  {:<aw$}",
            s.status.as_str(),
            s.name,
            s.action,
            nw = self.name_width,
            aw = self.action_width
        );
        if let Some(code) = s.http_status {
            line.push_str(format!("  {code} {}", s.reason.as_deref().unwrap_or("")).trim_end());
        }
        let mut line = line.trim_end().to_string();
        if s.resumed {
            line.push_str("  (done in an earlier run, per the journal)");
        } else if s.status != StepStatus::Skipped {
            line.push_str(&format!("  {}", millis(s.duration)));
        }
        if let Some(e) = &s.error {
            line.push_str(&format!("\n        error: {e}"));
            if s.continued {
                line.push_str(" (continuing: `continue_on_error`)");
            }
        }
        self.out.stdout(&line);
    }

    fn warn(&mut self, message: &str) {
        self.out.stderr(&format!("warning: {message}"));
    }
}

impl TextReporter<'_> {
    pub fn summary(&self, report: &RunReport) {
        let count = |st: StepStatus| report.steps.iter().filter(|s| s.status == st).count();
        let mut parts = vec![format!("{} ok", count(StepStatus::Ok))];
        for (st, word) in [
            (StepStatus::Failed, "failed"),
            (StepStatus::Skipped, "skipped"),
        ] {
            if count(st) > 0 {
                parts.push(format!("{} {word}", count(st)));
            }
        }
        self.out.stdout(&format!(
            "{} in {}",
            parts.join(", "),
            millis(report.duration)
        ));
    }
}

/// Keeps quiet until the end; warnings go to stderr.
pub struct JsonReporter<'a> {
    pub out: &'a Out,
}

impl Reporter for JsonReporter<'_> {
    fn step(&mut self, _: &StepReport) {}

    fn warn(&mut self, message: &str) {
        self.out.stderr(&format!("warning: {message}"));
    }
}

/// The plan as text: each request with its headers and body.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    for s in &plan.steps {
        out.push_str(&format!("{}  {}\n", s.label, s.action));
        out.push_str(&format!("  {:?} {}\n", s.request.method, s.request.url));
        for (name, value) in &s.request.headers {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        if let Some(body) = &s.request.body {
            let text = match body.to_json() {
                Value::String(s) => s,
                v => serde_json::to_string_pretty(&v).unwrap_or_default(),
            };
            for line in text.lines() {
                out.push_str(&format!("  | {line}\n"));
            }
        }
        if !s.deferred.is_empty() {
            out.push_str(&format!(
                "  (known after earlier steps run: {})\n",
                crate::error::ticked(&s.deferred)
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{} request(s) planned, none sent",
        plan.steps.len()
    ));
    out
}

pub fn plan_json(plan: &Plan) -> Value {
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            let headers: serde_json::Map<String, Value> = s
                .request
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({
                "id": s.name,
                "action": s.action,
                "method": format!("{:?}", s.request.method),
                "url": s.request.url,
                "headers": headers,
                "body": s.request.body.as_ref().map(|b| b.to_json()),
                "deferred": s.deferred,
            })
        })
        .collect();
    json!({ "ok": true, "steps": steps, "warnings": plan.warnings })
}
