//! JSON output: quiet until the end, then one document on stdout; warnings
//! (and the heartbeat of a long step) on stderr. The document always comes,
//! even when the run could not start.

use serde_json::{Value, json};

use super::live::{Live, Terminal};
use super::{Out, Sink};
use crate::error::Error;
use crate::execute::{Plan, Progress, Reporter, RunReport, StepReport};

pub(crate) struct JsonSink<'a> {
    out: &'a Out,
    /// The heartbeat only: no progress line beside a document.
    live: Live<'a>,
}

impl<'a> JsonSink<'a> {
    pub(crate) fn new(out: &'a Out) -> Self {
        JsonSink {
            out,
            live: Live::new(out, Terminal::default()),
        }
    }
}

fn failure(e: Option<&crate::execute::Failure>) -> (Value, Value) {
    (
        json!(e.map(|e| e.message.clone())),
        json!(e.map(|e| e.kind.as_str())),
    )
}

/// One step, as the run document holds it.
pub(super) fn step(s: &StepReport) -> Value {
    let (error, kind) = failure(s.error.as_ref());
    let mut v = json!({
        "id": s.id,
        "action": s.action,
        "status": s.status.as_str(),
        "skip_reason": s.skip_reason.map(|r| r.as_str()),
        "http_status": s.http_status,
        "duration_ms": s.duration.as_millis() as u64,
        "response": s.response,
        "error": error,
        "error_kind": kind,
        "resumed": s.resumed,
        "retries": s.retries.iter().map(|r| json!({
            "attempt": r.attempt,
            "reason": r.reason,
            "wait_ms": r.wait.as_millis() as u64,
        })).collect::<Vec<_>>(),
    });
    if let Some(outputs) = &s.outputs {
        v["outputs"] = outputs.clone();
    }
    if let Some(pages) = s.pages {
        v["pages"] = json!(pages);
    }
    if !s.steps.is_empty() {
        v["steps"] = Value::Array(s.steps.iter().map(step).collect());
    }
    if let Some(items) = &s.items {
        v["items"] = Value::Array(
            items
                .iter()
                .map(|i| {
                    let (error, kind) = failure(i.error.as_deref());
                    let mut item = json!({
                        "index": i.index,
                        "status": i.status.as_str(),
                        "skip_reason": i.skip_reason.map(|r| r.as_str()),
                        "http_status": i.http_status,
                        "duration_ms": i.duration.as_millis() as u64,
                        "response": i.response,
                        "error": error,
                        "error_kind": kind,
                        "resumed": i.resumed,
                    });
                    if let Some(outputs) = &i.outputs {
                        item["outputs"] = outputs.clone();
                    }
                    if !i.steps.is_empty() {
                        item["steps"] = Value::Array(i.steps.iter().map(step).collect());
                    }
                    item
                })
                .collect(),
        );
    }
    v
}

/// The run document.
pub(super) fn run(report: &RunReport) -> Value {
    let steps: Vec<Value> = report.steps.iter().map(step).collect();
    let mut doc = json!({ "ok": report.ok, "steps": steps, "outputs": report.outputs });
    if let Some((index, count)) = report.shard {
        doc["shard"] = json!({"index": index, "count": count});
    }
    doc
}

/// The document for a run that could not start (or was stopped by the
/// template watchdog): nothing in it ran.
pub(super) fn failed(message: &str) -> Value {
    json!({ "ok": false, "error": message, "steps": [] })
}

/// The plan document.
pub(super) fn plan(plan: &Plan) -> Value {
    let steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            let mut step = json!({
                "id": s.name,
                "label": s.label,
                "action": s.action,
                "deferred": s.deferred,
                "notes": s.notes,
            });
            if let Some(request) = &s.request {
                let headers: serde_json::Map<String, Value> = request
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                step["method"] = json!(format!("{:?}", request.method));
                step["url"] = json!(request.url);
                step["headers"] = Value::Object(headers);
                step["body"] = json!(request.body.as_ref().map(|b| b.to_json()));
            }
            step
        })
        .collect();
    json!({ "ok": true, "steps": steps, "warnings": plan.warnings })
}

impl Reporter for JsonSink<'_> {
    fn step(&self, _: &StepReport) {}

    fn warn(&self, message: &str) {
        self.out.stderr(&format!("warning: {message}"));
    }

    fn trace(&self, block: &str) {
        self.out.stderr(block);
    }

    fn pulse_every(&self, long: bool) -> Option<std::time::Duration> {
        self.live.pulse_every(long)
    }

    fn progress(&self, event: Progress<'_>) {
        self.live.progress(event);
    }

    fn pulse(&self) {
        self.live.pulse();
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

    fn actions(&mut self, entries: &[&crate::catalog::Entry]) {
        self.out.json(&crate::catalog::list_json(entries));
    }

    fn describe(&mut self, entry: &crate::catalog::Entry) {
        self.out.json(&crate::catalog::describe_json(entry));
    }

    /// The warnings on stderr as text shows them, and in the document.
    fn valid(&mut self, path: &std::path::Path, wf: &crate::check::Workflow) {
        let warnings: Vec<String> = wf.warnings.iter().map(|w| w.to_string()).collect();
        for w in &warnings {
            self.out.stderr(w);
        }
        self.out.json(&json!({
            "ok": true,
            "spec": path.display().to_string(),
            "apps": wf.spec.apps.len(),
            "actions": wf.spec.actions.len(),
            "steps": wf.steps().len(),
            "warnings": warnings,
        }));
    }

    fn stopped(&mut self, message: &str) {
        self.out.stderr(message);
        self.out.json(&failed(message));
    }
}
