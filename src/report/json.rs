//! JSON output: quiet until the end, then one document on stdout; warnings
//! on stderr. The document always comes, even when the run could not start.

use serde_json::{Value, json};

use super::{Out, Sink};
use crate::error::Error;
use crate::execute::{Plan, Reporter, RunReport, StepReport};

pub struct JsonSink<'a> {
    out: &'a Out,
}

impl<'a> JsonSink<'a> {
    pub fn new(out: &'a Out) -> Self {
        JsonSink { out }
    }
}

/// One step, as the run document holds it.
pub fn step(s: &StepReport) -> Value {
    json!({
        "id": s.id,
        "action": s.action,
        "status": s.status.as_str(),
        "http_status": s.http_status,
        "duration_ms": s.duration.as_millis() as u64,
        "response": s.response,
        "error": s.error.as_ref().map(|e| e.message.clone()),
        "error_kind": s.error.as_ref().map(|e| e.kind.as_str()),
        "resumed": s.resumed,
        "retries": s.retries.iter().map(|r| json!({
            "attempt": r.attempt,
            "reason": r.reason,
            "wait_ms": r.wait.as_millis() as u64,
        })).collect::<Vec<_>>(),
    })
}

/// The run document.
pub fn run(report: &RunReport) -> Value {
    let steps: Vec<Value> = report.steps.iter().map(step).collect();
    json!({ "ok": report.ok, "steps": steps })
}

/// The document for a run that could not start (or was stopped by the
/// template watchdog): nothing in it ran.
pub fn failed(message: &str) -> Value {
    json!({ "ok": false, "error": message, "steps": [] })
}

/// The plan document.
pub fn plan(plan: &Plan) -> Value {
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

impl Reporter for JsonSink<'_> {
    fn step(&mut self, _: &StepReport) {}

    fn warn(&mut self, message: &str) {
        self.out.stderr(&format!("warning: {message}"));
    }
}

impl Sink for JsonSink<'_> {
    fn plan(&mut self, p: &Plan) {
        for w in &p.warnings {
            self.warn(w);
        }
        self.out.json(&plan(p));
    }

    fn finish(&mut self, report: &RunReport) {
        self.out.json(&run(report));
    }

    fn error(&mut self, error: &Error) {
        self.out.stderr(&error.to_string());
        self.out.json(&failed(&error.to_string()));
    }
}
