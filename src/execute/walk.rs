//! The one walk over a workflow's steps, shared by `plan`, the checks
//! before a run, and `apply`: conditions, loops (with their concurrency and
//! shards), sub-workflows, each request rendered in the scope of the steps
//! before it, its credential fetched, its request built and checked, then
//! shown (plan), matched against the journal (the checks), or sent with
//! its polling, pages, retries and success criteria (apply). A new kind of
//! step changes this one place.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};

use super::journal::{Journal, Parts, Past, Record, State};
use super::outcome::{
    Failure, FailureKind, ItemReport, PlannedStep, Reporter, RetryNote, SkipReason, StepReport,
    StepStatus,
};
use super::retry::{self, Outcome, Policy};
use super::send::{self, Limits, Transport};
use super::{Options, assert};
use crate::check::{Bound, Run, Step, Workflow};
use crate::error::{Diagnostic, Error, Loc};
use crate::http::{self, Clients};
use crate::redact::Registered;
use crate::render::{self, PLAN_SECRET, Renderer, Request, Taint, Token};
use crate::resolve::{Context, Sources};
use crate::secret::Secret;
use crate::spec::Next;
use crate::template::{FAILED, Live, Scope, to_value};

/// What the walk does with each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Show it: values that wait for the run stay templates.
    Plan,
    /// Check everything knowable before the first request (settings,
    /// URLs, the journal), sending nothing.
    Preflight,
    /// Send it.
    Apply,
}

/// One run of a workflow: whose steps, with which inputs, and where its
/// steps' results go. Journal keys and labels of a sub-workflow's steps
/// start with the path of the step that used it (`each[3f2a…].create`,
/// shown `each[2].create`).
struct Frame {
    flow: usize,
    inputs: minijinja::Value,
    /// Inputs whose values wait for the run (plan and the checks only).
    unknown_inputs: Vec<String>,
    steps: Arc<Live>,
    key: String,
    label: String,
}

/// A step's request, ready to show or send.
struct Prepared {
    request: Request,
    /// Params still templates (plan only).
    deferred: Vec<String>,
    /// What identifies the request in the journal; `None` while it is not
    /// fully known.
    parts: Option<Parts>,
}

/// What the journal says about a request that is about to be sent.
enum Resume {
    /// Done in the earlier run: these are its outputs.
    Done(Box<Record>),
    /// Not done, or safe to do again.
    Run,
}

/// One execution of a step's body: a request (with its polls or pages), or
/// a sub-workflow. A loop has one per item.
#[derive(Default)]
struct Unit {
    failure: Option<Failure>,
    skipped: Option<SkipReason>,
    http_status: Option<u16>,
    reason: Option<String>,
    headers: BTreeMap<String, String>,
    response: Option<Value>,
    outputs: Option<Value>,
    resumed: bool,
    retries: Vec<RetryNote>,
    pages: Option<usize>,
    /// What the pages contributed.
    items: Option<Vec<Value>>,
    /// A sub-workflow's steps.
    steps: Vec<StepReport>,
    duration: Duration,
}

impl Unit {
    fn failed(failure: Failure) -> Unit {
        Unit {
            failure: Some(failure),
            ..Unit::default()
        }
    }

    fn status(&self) -> StepStatus {
        if self.failure.is_some() {
            StepStatus::Failed
        } else if self.skipped.is_some() {
            StepStatus::Skipped
        } else {
            StepStatus::Ok
        }
    }

    /// What templates see of it: `steps.<id>` (or one of its `items`).
    fn value(&self) -> Value {
        let mut v = json!({
            "status": self.http_status,
            "headers": self.headers,
            "response": self.response.clone().unwrap_or(Value::Null),
            "outputs": self.outputs.clone().unwrap_or_else(|| json!({})),
        });
        if let Some(items) = &self.items {
            v["items"] = Value::Array(items.clone());
            v["pages"] = json!(self.pages);
        }
        if self.skipped.is_some() {
            v["skipped"] = json!(true);
        }
        v
    }
}

type Local<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// How a workflow's steps ended: their reports, whether one failed (which
/// makes the run exit 1), and the workflow's outputs.
type FlowEnd = (Vec<StepReport>, bool, serde_json::Map<String, Value>);

/// A reporter shared by the walk's concurrent items.
pub(super) trait Hear {
    fn step(&self, report: &StepReport);
    fn warn(&self, message: &str);
    fn retry(&self, step: &str, note: &RetryNote);
}

impl Hear for RefCell<&mut dyn Reporter> {
    fn step(&self, report: &StepReport) {
        self.borrow_mut().step(report);
    }
    fn warn(&self, message: &str) {
        self.borrow_mut().warn(message);
    }
    fn retry(&self, step: &str, note: &RetryNote) {
        self.borrow_mut().retry(step, note);
    }
}

pub(super) struct Walker<'a> {
    pub wf: &'a Workflow,
    pub opts: &'a Options,
    pub mode: Mode,
    pub vars: minijinja::Value,
    pub taint: Taint,
    /// The root workflow's inputs.
    pub inputs: serde_json::Value,
    pub sources: &'a Sources,
    pub clients: &'a Clients,
    pub past: &'a Past,
    /// Journal records already matched to a request of this run.
    pub claimed: RefCell<HashSet<usize>>,
    /// Journal records that a step of this run matches exactly (by key and
    /// request): no other step may claim them by request alone.
    pub reserved: HashSet<usize>,
    /// (key, request) of every request known before the run (the checks).
    pub collected: RefCell<Vec<(String, String)>>,
    pub journal: RefCell<Option<Journal>>,
    /// Every warning of the run, each once.
    pub warnings: RefCell<Vec<String>>,
    /// Warnings already reported, by the checks before the run or earlier
    /// in it: each is said once.
    pub said: RefCell<HashSet<String>>,
    pub planned: RefCell<Vec<PlannedStep>>,
    /// Hears of each root step as it ends, and of retries (apply only).
    pub reporter: Option<&'a dyn Hear>,
    /// The root steps that have ended, for a run stopped by a signal.
    pub done: RefCell<Vec<StepReport>>,
}

impl Walker<'_> {
    fn warn(&self, message: String) {
        if self.said.borrow().contains(&message) {
            return;
        }
        let mut warnings = self.warnings.borrow_mut();
        if !warnings.contains(&message) {
            warnings.push(message);
        }
    }

    /// Reports the warnings not reported yet.
    pub fn flush_warnings(&self) {
        if let Some(reporter) = self.reporter {
            for w in self.warnings.borrow_mut().drain(..) {
                reporter.warn(&w);
                self.said.borrow_mut().insert(w);
            }
        }
    }

    fn register(&self, secrets: &[Secret]) {
        for s in secrets {
            if self.opts.redactor.register(s) == Registered::TooShort && !s.expose().is_empty() {
                self.warn(format!(
                    "a secret value is shorter than {} characters and cannot be masked in output",
                    crate::redact::MIN_SECRET_LEN
                ));
            }
        }
    }

    fn context<'c>(&'c self, notes: &'c dyn Fn(String)) -> Context<'c> {
        Context {
            env: &self.opts.env,
            clients: self.clients,
            redactor: &self.opts.redactor,
            allow_http: self.opts.allow_http,
            notes,
        }
    }

    fn renderer<'s>(&'s self, scope: &'s Scope, frame: &'s Frame) -> Renderer<'s> {
        Renderer {
            templates: &self.wf.templates,
            scope,
            plan: self.mode != Mode::Apply,
            known_steps: (self.mode != Mode::Apply).then_some(&*frame.steps),
        }
    }

    fn checking(&self) -> bool {
        self.mode != Mode::Apply
    }

    /// A failure found while checking is invalid input (nothing is sent);
    /// while applying it fails the step.
    fn fail(&self, failure: Failure, loc: &Loc) -> Result<Unit, Error> {
        if self.checking() {
            let loc = failure.loc.clone().unwrap_or_else(|| loc.clone());
            return Err(Error::spec(Diagnostic::new(failure.message, Some(loc))));
        }
        Ok(Unit::failed(failure))
    }

    /// The root frame.
    fn root(&self) -> Frame {
        Frame {
            flow: 0,
            inputs: to_value(&self.inputs),
            unknown_inputs: Vec::new(),
            steps: Live::new(),
            key: String::new(),
            label: String::new(),
        }
    }

    fn scope(&self, frame: &Frame) -> Scope {
        let (index, count) = self.opts.shard.unwrap_or((0, 1));
        let scope = Scope::new(self.opts.env.clone())
            .with("vars", self.vars.clone())
            .with("inputs", frame.inputs.clone())
            .with("steps", frame.steps.value())
            .with("shard", to_value(&json!({"index": index, "count": count})));
        if frame.unknown_inputs.is_empty() {
            scope
        } else {
            scope.with(
                render::UNKNOWN_INPUTS,
                to_value(&json!(frame.unknown_inputs)),
            )
        }
    }

    /// Walks the root workflow without sending (plan and the checks
    /// before a run). `Err` for what makes the run invalid: nothing was sent.
    pub async fn check_all(&self) -> Result<(), Error> {
        let root = self.root();
        self.flow(&root, true).await.map(|_| ())
    }

    /// Runs the root workflow (apply). Step failures are in the report.
    pub async fn run(&self) -> Result<serde_json::Map<String, Value>, Error> {
        let root = self.root();
        self.flow(&root, true).await.map(|(_, _, outputs)| outputs)
    }

    /// Runs `frame`'s steps in order; returns their reports, whether one
    /// failed (which makes the run exit 1), and the workflow's outputs.
    fn flow<'s>(&'s self, frame: &'s Frame, top: bool) -> Local<'s, Result<FlowEnd, Error>> {
        Box::pin(async move {
            let flow = &self.wf.flows[frame.flow];
            let mut failed = false;
            let mut reports = Vec::new();
            for step in &flow.steps {
                let begin = Instant::now();
                let (mut report, value) = self.step(step, frame, failed).await?;
                report.duration = begin.elapsed();
                if report.status == StepStatus::Failed {
                    if step.continue_on_error {
                        report.continued = true;
                    } else {
                        failed = true;
                    }
                }
                // While checking, only a step resumed from the journal has
                // results later templates may use; the others wait.
                let known = self.mode == Mode::Apply || report.resumed;
                if let Some(id) = step.id.as_ref().filter(|_| known) {
                    frame.steps.insert(id.clone(), to_value(&value));
                }
                if top && self.mode == Mode::Apply {
                    self.flush_warnings();
                    if let Some(reporter) = self.reporter {
                        reporter.step(&report);
                    }
                    self.done.borrow_mut().push(report.clone());
                }
                reports.push(report);
            }
            let outputs = self.flow_outputs(frame)?;
            Ok((reports, failed, outputs))
        })
    }

    /// A workflow's `outputs`, rendered over its steps and inputs.
    fn flow_outputs(&self, frame: &Frame) -> Result<serde_json::Map<String, Value>, Error> {
        let flow = &self.wf.flows[frame.flow];
        let scope = self.scope(frame);
        let r = self.renderer(&scope, frame);
        let mut out = serde_json::Map::new();
        for (name, output) in &flow.outputs {
            if r.deferred(&output.value) {
                continue;
            }
            match r.render(&Value::String(output.value.clone())) {
                Ok(v) => {
                    out.insert(name.clone(), v.value);
                }
                Err(e) if self.checking() => {
                    return Err(Error::spec(Diagnostic::new(
                        format!("output `{name}`: {e}"),
                        Some(output.loc.clone()),
                    )));
                }
                Err(e) => {
                    self.warn(format!("output `{name}` of `{}`: {e}", flow.file.name));
                    out.insert(name.clone(), Value::Null);
                }
            }
        }
        Ok(out)
    }

    /// Runs (or checks) one step; its report, and what later templates see.
    async fn step(
        &self,
        step: &Step,
        frame: &Frame,
        failed: bool,
    ) -> Result<(StepReport, Value), Error> {
        let mut report = StepReport::new(step, StepStatus::Ok);
        if !frame.label.is_empty() {
            report.name = format!("{}{}", frame.label, report.name);
        }
        let skipped = |mut report: StepReport, why| {
            report.status = StepStatus::Skipped;
            report.skip_reason = Some(why);
            (report, skipped_value(step, why))
        };
        let refs = step
            .condition
            .as_ref()
            .map(|c| self.wf.templates.refs_in(&c.value))
            .unwrap_or_default();
        let runs_after_failure = refs.uses_any(&["failure", "always"]);
        if self.mode == Mode::Apply && failed && !runs_after_failure {
            return Ok(skipped(report, SkipReason::EarlierFailure));
        }
        let scope = self
            .scope(frame)
            .with(FAILED, minijinja::Value::from(failed));
        let per_item = step
            .each
            .as_ref()
            .is_some_and(|e| refs.uses_any(&[e.name.value.as_str(), "index"]));
        let mut notes = Vec::new();
        if let Some(condition) = step.condition.as_ref().filter(|_| !per_item) {
            let holds = if self.waits_for_failure(condition) {
                Ok(None)
            } else {
                self.condition(&condition.value, &scope, frame)
            };
            match holds {
                Ok(Some(true)) => {}
                Ok(Some(false)) => {
                    if self.mode == Mode::Plan {
                        let label = format!("{}{}", frame.label, step.label());
                        self.note_skipped(step, &label, condition);
                    }
                    return Ok(skipped(report, SkipReason::Condition));
                }
                Ok(None) => notes.push(format!("if {}", show(&condition.value))),
                Err(f) => {
                    let unit = self.fail(f.at(Some(condition.loc.clone())), &step.loc)?;
                    report.fail(unit.failure.expect("a failed unit"));
                    return Ok((report, json!({})));
                }
            }
        }
        if step.each.is_some() {
            return self.each(step, frame, &scope, report, notes).await;
        }
        let unit = self.unit(step, frame, &scope, None, notes).await?;
        let value = unit.value();
        fill(&mut report, unit);
        Ok((report, value))
    }

    /// Renders a condition: `Some(holds)`, or `None` when it waits for the
    /// run (plan).
    fn condition(
        &self,
        value: &Value,
        scope: &Scope,
        frame: &Frame,
    ) -> Result<Option<bool>, Failure> {
        let r = self.renderer(scope, frame);
        // Plan cannot know whether an earlier step will fail.
        if self.mode == Mode::Plan && self.wf.templates.refs_in(value).uses_any(&["failure"]) {
            return Ok(None);
        }
        let rendered = match value {
            Value::String(s) if r.deferred(s) => return Ok(None),
            other => {
                r.render(other)
                    .map_err(|e| Failure::new(FailureKind::Render, e.to_string()))?
                    .value
            }
        };
        match rendered {
            Value::Bool(b) => Ok(Some(b)),
            other => Err(Failure::new(
                FailureKind::Render,
                format!(
                    "the condition must render to true or false, found {}",
                    crate::spec::coerce::describe(&other)
                ),
            )),
        }
    }

    /// Whether plan must show `condition` rather than evaluate it: whether
    /// an earlier step fails is known only when the run gets there.
    fn waits_for_failure(&self, condition: &crate::spec::Located<Value>) -> bool {
        self.mode == Mode::Plan
            && self
                .wf
                .templates
                .refs_in(&condition.value)
                .uses_any(&["failure"])
    }

    fn note_skipped(&self, step: &Step, label: &str, condition: &crate::spec::Located<Value>) {
        self.planned.borrow_mut().push(PlannedStep {
            name: step.name(),
            label: label.to_string(),
            action: step.target(),
            request: None,
            deferred: Vec::new(),
            notes: vec![format!("skipped: if {} is false", show(&condition.value))],
        });
    }

    /// A `for_each` step: its items, `concurrency` at a time, in order.
    async fn each(
        &self,
        step: &Step,
        frame: &Frame,
        scope: &Scope,
        mut report: StepReport,
        mut notes: Vec<String>,
    ) -> Result<(StepReport, Value), Error> {
        let each = step.each.as_ref().expect("a loop");
        let r = self.renderer(scope, frame);
        let list = match &each.list.value {
            Value::String(s) if r.deferred(s) => {
                // Plan: the list is known only when the run gets there.
                notes.push(format!("for each {} of {s}", each.name.value));
                if let Some(c) = &step.condition
                    && self
                        .wf
                        .templates
                        .refs_in(&c.value)
                        .uses_any(&[each.name.value.as_str(), "index"])
                {
                    notes.push(format!("if {}", show(&c.value)));
                }
                let unit = self.unit(step, frame, scope, None, notes).await?;
                fill(&mut report, unit);
                return Ok((report, json!({"items": []})));
            }
            other => match r.render(other) {
                Ok(v) => v.value,
                Err(e) => {
                    let f = Failure::new(FailureKind::Render, format!("for_each: {e}"))
                        .at(Some(each.list.loc.clone()));
                    report.fail(self.fail(f, &step.loc)?.failure.expect("failed"));
                    return Ok((report, json!({"items": []})));
                }
            },
        };
        let items = match list {
            Value::Array(items) if items.len() <= each.max_items => items,
            Value::Array(items) => {
                let f = Failure::new(
                    FailureKind::Render,
                    format!(
                        "for_each: the list has {} items, more than `max_items` ({}); nothing was sent for this step",
                        items.len(),
                        each.max_items
                    ),
                )
                .at(Some(each.list.loc.clone()));
                report.fail(self.fail(f, &step.loc)?.failure.expect("failed"));
                return Ok((report, json!({"items": []})));
            }
            other => {
                let f = Failure::new(
                    FailureKind::Render,
                    format!(
                        "for_each must render to a list, found {}",
                        crate::spec::coerce::describe(&other)
                    ),
                )
                .at(Some(each.list.loc.clone()));
                report.fail(self.fail(f, &step.loc)?.failure.expect("failed"));
                return Ok((report, json!({"items": []})));
            }
        };
        let (shard, count) = self.opts.shard.unwrap_or((0, 1));
        let sharded = each.shard && frame.flow == 0 && count > 1;
        let indices: Vec<usize> = (0..items.len())
            .filter(|i| !sharded || i % count == shard)
            .collect();
        if self.mode == Mode::Plan {
            let mut note = format!("for each {} of {} items", each.name.value, items.len());
            if sharded {
                note.push_str(&format!(
                    " (shard {shard} of {count}: items {})",
                    indices
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            notes.push(note);
        }
        let mut results: Vec<Option<Unit>> = (0..indices.len()).map(|_| None).collect();
        if self.checking() {
            for (pos, &i) in indices.iter().enumerate() {
                let unit = self
                    .unit(step, frame, scope, Some((i, &items[i])), notes.clone())
                    .await?;
                results[pos] = Some(unit);
            }
        } else {
            let mut pending = FuturesUnordered::new();
            let mut next = 0;
            let mut stop = false;
            loop {
                while !stop && pending.len() < each.concurrency && next < indices.len() {
                    let pos = next;
                    let i = indices[pos];
                    let item = &items[i];
                    pending.push(async move {
                        let begin = Instant::now();
                        let unit = self
                            .unit(step, frame, scope, Some((i, item)), Vec::new())
                            .await;
                        (pos, unit, begin.elapsed())
                    });
                    next += 1;
                }
                let Some((pos, unit, elapsed)) = pending.next().await else {
                    break;
                };
                let mut unit = unit?;
                unit.duration = elapsed;
                if unit.failure.is_some() && !step.continue_on_error {
                    // Items in flight finish; no new one starts.
                    stop = true;
                }
                results[pos] = Some(unit);
            }
        }
        let mut item_reports = Vec::new();
        let mut values = Vec::new();
        let mut failures = Vec::new();
        for (pos, unit) in results.into_iter().enumerate() {
            let index = indices[pos];
            let unit = unit.unwrap_or_else(|| Unit {
                skipped: Some(SkipReason::EarlierFailure),
                ..Unit::default()
            });
            let mut value = unit.value();
            value["index"] = json!(index);
            value["item"] = items[index].clone();
            values.push(value);
            if let Some(f) = &unit.failure {
                failures.push((index, f.clone()));
            }
            item_reports.push(ItemReport {
                index,
                status: unit.status(),
                skip_reason: unit.skipped,
                http_status: unit.http_status,
                duration: unit.duration,
                response: unit.response,
                error: unit.failure,
                outputs: unit.outputs,
                resumed: unit.resumed,
                steps: unit.steps,
            });
        }
        if let Some((index, first)) = failures.first() {
            let more = if failures.len() > 1 {
                format!(" ({} items failed)", failures.len())
            } else {
                String::new()
            };
            report.fail(Failure {
                kind: first.kind,
                message: format!("item {index}: {}{more}", first.message),
                loc: first.loc.clone(),
            });
        }
        // Done in an earlier run: every item that ran then, whatever its
        // `if` skipped now.
        report.resumed = item_reports.iter().any(|i| i.resumed)
            && item_reports
                .iter()
                .all(|i| i.resumed || i.skip_reason == Some(SkipReason::Condition));
        report.items = Some(item_reports);
        Ok((report, json!({ "items": values })))
    }

    /// One execution of a step's body, with `item` (its index and value)
    /// in scope inside a loop.
    async fn unit(
        &self,
        step: &Step,
        frame: &Frame,
        scope: &Scope,
        item: Option<(usize, &Value)>,
        mut notes: Vec<String>,
    ) -> Result<Unit, Error> {
        let begin = Instant::now();
        let mut scope = scope.clone();
        if let (Some((index, value)), Some(each)) = (item, &step.each) {
            scope.set(&each.name.value, to_value(value));
            scope.set("index", minijinja::Value::from(index));
        }
        let label = match item {
            Some((index, _)) => format!("{}{}[{index}]", frame.label, step.label()),
            None => format!("{}{}", frame.label, step.label()),
        };
        if let (Some(condition), Some(_)) = (&step.condition, item) {
            let holds = if self.waits_for_failure(condition) {
                Ok(None)
            } else {
                self.condition(&condition.value, &scope, frame)
            };
            match holds {
                Ok(Some(true)) => {}
                Ok(Some(false)) => {
                    if self.mode == Mode::Plan {
                        self.note_skipped(step, &label, condition);
                    }
                    return Ok(Unit {
                        skipped: Some(SkipReason::Condition),
                        ..Unit::default()
                    });
                }
                Ok(None) => {
                    let note = format!("if {}", show(&condition.value));
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
                Err(f) => return self.fail(f.at(Some(condition.loc.clone())), &step.loc),
            }
        }
        let mut unit = match &step.run {
            Run::Uses(flow) => {
                self.uses(step, frame, &scope, *flow, item, &label, notes)
                    .await?
            }
            Run::Action(bound) => {
                self.action(step, bound, frame, &scope, &label, notes)
                    .await?
            }
        };
        unit.duration = begin.elapsed();
        Ok(unit)
    }

    /// A sub-workflow: its inputs from `with`, its steps in a frame of
    /// their own, its outputs as the step's.
    #[allow(clippy::too_many_arguments)]
    async fn uses(
        &self,
        step: &Step,
        frame: &Frame,
        scope: &Scope,
        flow: usize,
        item: Option<(usize, &Value)>,
        label: &str,
        notes: Vec<String>,
    ) -> Result<Unit, Error> {
        let r = self.renderer(scope, frame);
        let mut given = indexmap::IndexMap::new();
        let mut unknown = Vec::new();
        for (name, value) in &step.with {
            let sources = {
                let mut s = Vec::new();
                crate::template::visit_strings(&value.value, &mut |t| s.push(t.to_string()));
                s
            };
            if sources.iter().any(|s| r.deferred(s)) {
                unknown.push(name.clone());
                continue;
            }
            match r.render(&value.value) {
                Ok(v) => {
                    given.insert(name.clone(), v.value);
                }
                Err(e) => {
                    let f = Failure::new(FailureKind::Render, format!("with.{name}: {e}"))
                        .at(Some(value.loc.clone()));
                    return self.fail(f, &step.loc);
                }
            }
        }
        // Inputs that wait for the run (plan and the checks) stay unbound,
        // and the templates using them wait too; the others are bound.
        let sub_inputs = &self.wf.flows[flow].inputs;
        let inputs = match render::bind_known_inputs(sub_inputs, &given, &unknown) {
            Ok(v) => v,
            Err(e) => {
                let f = Failure::new(
                    FailureKind::Render,
                    format!("uses `{}`: {e}", self.wf.flows[flow].file.name),
                );
                return self.fail(f, &step.loc);
            }
        };
        if self.mode == Mode::Plan && !notes.is_empty() {
            self.planned.borrow_mut().push(PlannedStep {
                name: step.name(),
                label: label.to_string(),
                action: step.target(),
                request: None,
                deferred: unknown.clone(),
                notes,
            });
        }
        let identity = match item {
            Some((_, _)) => format!("[{}]", &digest(&inputs.to_string())[..12]),
            None => String::new(),
        };
        let sub = Frame {
            flow,
            inputs: to_value(&inputs),
            unknown_inputs: unknown,
            steps: Live::new(),
            key: format!("{}{}{identity}.", frame.key, step.key),
            label: format!("{label}."),
        };
        let (steps, failed, outputs) = self.flow(&sub, false).await?;
        let mut unit = Unit {
            outputs: Some(Value::Object(outputs)),
            resumed: !steps.is_empty()
                && steps
                    .iter()
                    .all(|s| s.resumed || s.status == StepStatus::Skipped),
            ..Unit::default()
        };
        if failed {
            let first = steps
                .iter()
                .find(|s| s.status == StepStatus::Failed && !s.continued)
                .and_then(|s| s.error.clone().map(|e| (s.name.clone(), e)));
            if let Some((name, e)) = first {
                unit.failure = Some(Failure {
                    kind: e.kind,
                    message: format!("{name}: {}", e.message),
                    loc: e.loc,
                });
            }
        }
        unit.steps = steps;
        Ok(unit)
    }

    /// An action: its request prepared, then shown (plan), matched against
    /// the journal (checks) or sent, polled or paged, and checked against
    /// its success criteria (apply).
    async fn action(
        &self,
        step: &Step,
        bound: &Bound,
        frame: &Frame,
        scope: &Scope,
        label: &str,
        mut notes: Vec<String>,
    ) -> Result<Unit, Error> {
        let r = self.renderer(scope, frame);
        let prepared = match self.prepare(step, bound, &r, None).await {
            Ok(p) => p,
            Err(f) => return self.fail(f, &step.loc),
        };
        let key = format!("{}{}", frame.key, step.key);
        if self.mode == Mode::Plan {
            if let Some(until) = &step.until {
                notes.push(format!(
                    "until {}, every {}, for at most {}",
                    show(&until.condition.value),
                    crate::units::show(until.every),
                    crate::units::show(until.timeout)
                ));
            }
            if let Some(p) = &step.paginate {
                notes.push(match &p.next {
                    Next::Link => format!(
                        "pages: following `Link: <...>; rel=\"next\"`, at most {}",
                        p.max_pages
                    ),
                    Next::Cursor(c) => format!(
                        "pages: `{}` set to {} from each page, at most {}",
                        c.param.value, c.value.value, p.max_pages
                    ),
                });
            }
            self.planned.borrow_mut().push(PlannedStep {
                name: step.name(),
                label: label.to_string(),
                action: bound.action.name.clone(),
                request: Some(prepared.request),
                deferred: prepared.deferred,
                notes,
            });
            return Ok(Unit::default());
        }
        if self.mode == Mode::Preflight {
            // A request known now is matched against the journal now, so a
            // changed POST stops the run before it starts.
            let Some(parts) = &prepared.parts else {
                return Ok(Unit::default());
            };
            self.collected
                .borrow_mut()
                .push((key.clone(), parts.fingerprint()));
            // A polled step is polled again; a paged step's pages are
            // matched one by one as the run reads them, which is also how
            // its `items` come back.
            if step.until.is_some() || step.paginate.is_some() {
                return Ok(Unit::default());
            }
            return match self.resume(step, &key, label, parts) {
                Ok(Resume::Done(record)) => Ok(from_record(&record)),
                Ok(Resume::Run) => Ok(Unit::default()),
                Err(f) => Err(Error::Environment(f.message)),
            };
        }
        let mut unit = if let Some(paginate) = &step.paginate {
            self.pages(step, bound, &r, prepared, paginate, &key, label)
                .await
        } else if step.until.is_some() {
            self.poll(step, bound, scope, frame, prepared, &key, label)
                .await
        } else {
            self.once(step, bound, &prepared, &key, label, scope).await
        };
        if unit.failure.is_none() && !unit.resumed {
            if let Err(f) = self.outputs(step, scope, frame, &mut unit) {
                unit.failure = Some(f);
            }
        } else if unit.resumed && unit.failure.is_none() {
            // Outputs of a resumed request are computed again from what the
            // journal kept.
            let _ = self.outputs(step, scope, frame, &mut unit);
        }
        Ok(unit)
    }

    /// The step's `outputs`, over its own response.
    fn outputs(
        &self,
        step: &Step,
        scope: &Scope,
        frame: &Frame,
        unit: &mut Unit,
    ) -> Result<(), Failure> {
        if step.outputs.is_empty() {
            return Ok(());
        }
        let scope = self.response_scope(scope, unit);
        let r = self.renderer(&scope, frame);
        let mut out = serde_json::Map::new();
        for (name, output) in &step.outputs {
            let v = r
                .render(&Value::String(output.value.clone()))
                .map_err(|e| {
                    Failure::new(FailureKind::Render, format!("output `{name}`: {e}"))
                        .at(Some(output.loc.clone()))
                })?;
            out.insert(name.clone(), v.value);
        }
        unit.outputs = Some(Value::Object(out));
        Ok(())
    }

    /// `scope` with the unit's own response bound: `response`, `status`,
    /// `headers`.
    fn response_scope(&self, scope: &Scope, unit: &Unit) -> Scope {
        scope
            .clone()
            .with(
                "response",
                to_value(unit.response.as_ref().unwrap_or(&Value::Null)),
            )
            .with("status", to_value(&json!(unit.http_status)))
            .with("headers", to_value(&json!(unit.headers)))
    }

    /// One request, then its success criteria.
    async fn once(
        &self,
        step: &Step,
        bound: &Bound,
        prepared: &Prepared,
        key: &str,
        label: &str,
        scope: &Scope,
    ) -> Unit {
        let mut unit = Unit::default();
        match self
            .request(step, bound, prepared, key, label, &mut unit, scope)
            .await
        {
            Ok(()) => unit,
            Err(f) => {
                unit.failure = Some(f);
                unit
            }
        }
    }

    /// `until`: the request again, `every` so often, until the condition
    /// holds or `timeout` passes. The success criteria apply to the last
    /// response only.
    #[allow(clippy::too_many_arguments)]
    async fn poll(
        &self,
        step: &Step,
        bound: &Bound,
        scope: &Scope,
        frame: &Frame,
        prepared: Prepared,
        key: &str,
        label: &str,
    ) -> Unit {
        let until = step.until.as_ref().expect("a polled step");
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut unit = Unit::default();
            // Each try is one request; the journal records the step's end.
            let result = self
                .exchange(step, bound, &prepared, label, &mut unit)
                .await;
            if let Err(f) = result {
                unit.failure = Some(f);
                return unit;
            }
            let scope = self.response_scope(scope, &unit);
            match self.condition(&until.condition.value, &scope, frame) {
                Ok(Some(true)) => {
                    if let Err(f) = self.criteria(step, &unit, &scope) {
                        unit.failure = Some(f);
                    }
                    self.journal_end(step, bound, &prepared, key, label, &unit);
                    return unit;
                }
                Ok(_) => {}
                Err(f) => {
                    unit.failure = Some(f.at(Some(until.condition.loc.clone())));
                    return unit;
                }
            }
            let left = until.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                unit.failure = Some(Failure::new(
                    FailureKind::Timeout,
                    format!(
                        "`until` did not hold within {} ({attempts} tries); the last response was {} {}",
                        crate::units::show(until.timeout),
                        unit.http_status.unwrap_or_default(),
                        unit.reason.clone().unwrap_or_default()
                    ),
                ));
                self.journal_end(step, bound, &prepared, key, label, &unit);
                return unit;
            }
            tokio::time::sleep(until.every.min(left)).await;
        }
    }

    /// Pages: the first request, then each next page (by `Link` or by a
    /// cursor) until there is none, a page is empty, or `max_pages`.
    #[allow(clippy::too_many_arguments)]
    async fn pages(
        &self,
        step: &Step,
        bound: &Bound,
        r: &Renderer<'_>,
        first: Prepared,
        paginate: &crate::spec::Paginate,
        key: &str,
        label: &str,
    ) -> Unit {
        let mut items = Vec::new();
        let mut prepared = first;
        let mut pages = 0;
        let mut last;
        loop {
            let mut unit = Unit::default();
            let page_label = format!("{label} page {}", pages + 1);
            if let Err(f) = self
                .request(step, bound, &prepared, key, &page_label, &mut unit, r.scope)
                .await
            {
                unit.failure = Some(f);
                unit.pages = Some(pages);
                unit.items = Some(items);
                return unit;
            }
            pages += 1;
            let body = unit.response.clone().unwrap_or(Value::Null);
            let response_scope = self.response_scope(r.scope, &unit);
            let contributed = match &paginate.items {
                Some(items) => {
                    let ir = Renderer {
                        templates: r.templates,
                        scope: &response_scope,
                        plan: false,
                        known_steps: None,
                    };
                    match ir.render(&Value::String(items.value.clone())) {
                        Ok(v) => v.value,
                        Err(e) => {
                            unit.failure = Some(
                                Failure::new(FailureKind::Render, format!("paginate.items: {e}"))
                                    .at(Some(items.loc.clone())),
                            );
                            return unit;
                        }
                    }
                }
                None => body.clone(),
            };
            let page_items = match contributed {
                Value::Array(v) => v,
                other => {
                    unit.failure = Some(Failure::new(
                        FailureKind::Render,
                        format!(
                            "paginate: a page must contribute a list, found {}; say what each page contributes with `items:`",
                            crate::spec::coerce::describe(&other)
                        ),
                    ).at(Some(paginate.loc.clone())));
                    return unit;
                }
            };
            let empty = page_items.is_empty();
            items.extend(page_items);
            last = unit;
            if empty {
                break;
            }
            let next = match &paginate.next {
                Next::Link => next_link(&last.headers, &prepared.request.url).map(NextPage::Url),
                Next::Cursor(c) => {
                    let (param, value) = (&c.param, &c.value);
                    let vr = Renderer {
                        templates: r.templates,
                        scope: &response_scope,
                        plan: false,
                        known_steps: None,
                    };
                    match r.templates.render_or_missing(&value.value, vr.scope) {
                        Ok(Some(v)) if !is_blank(&v) => {
                            Some(NextPage::Cursor(param.value.clone(), v))
                        }
                        Ok(_) => None,
                        Err(e) => {
                            last.failure = Some(
                                Failure::new(
                                    FailureKind::Render,
                                    format!("paginate.next.value: {e}"),
                                )
                                .at(Some(value.loc.clone())),
                            );
                            break;
                        }
                    }
                }
            };
            let Some(next) = next else { break };
            if pages >= paginate.max_pages {
                self.warn(format!(
                    "{label}: stopped after `max_pages` ({}) pages; there are more",
                    paginate.max_pages
                ));
                break;
            }
            prepared = match next {
                NextPage::Url(url) => match self.follow(&prepared, &url) {
                    Ok(p) => p,
                    Err(f) => {
                        last.failure = Some(f);
                        break;
                    }
                },
                NextPage::Cursor(param, value) => {
                    match self.prepare(step, bound, r, Some((&param, &value))).await {
                        Ok(p) => p,
                        Err(f) => {
                            last.failure = Some(f);
                            break;
                        }
                    }
                }
            };
        }
        last.pages = Some(pages);
        last.items = Some(items);
        last
    }

    /// The request for a `Link` next page: the same headers, the new URL;
    /// auth dropped when the link leads to another origin, as for redirects.
    fn follow(&self, from: &Prepared, next: &url::Url) -> Result<Prepared, Failure> {
        let mut request = from.request.clone();
        let origin = url::Url::parse(&request.url)
            .map_err(|e| Failure::new(FailureKind::Render, format!("invalid URL: {e}")))?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(Failure::new(
                FailureKind::Render,
                format!("the next page's URL has the scheme `{}`", next.scheme()),
            ));
        }
        if origin.scheme() == "https" && next.scheme() == "http" {
            return Err(Failure::new(
                FailureKind::Render,
                "refused a next page on plain http after https",
            ));
        }
        let same_origin = origin.scheme() == next.scheme()
            && origin.host_str() == next.host_str()
            && origin.port_or_known_default() == next.port_or_known_default();
        if !same_origin {
            let auth_headers = request.auth_headers.clone();
            request.headers.retain(|(n, _)| {
                !auth_headers.iter().any(|a| a.eq_ignore_ascii_case(n))
                    && !n.eq_ignore_ascii_case("authorization")
                    && !n.eq_ignore_ascii_case("cookie")
            });
            request.carries_auth = false;
        }
        let mut url = next.clone();
        if !same_origin {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !request.auth_query.iter().any(|a| a == k))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.set_query(None);
            if !kept.is_empty() {
                url.query_pairs_mut().extend_pairs(&kept);
            }
        }
        request.url = url.to_string();
        request.body = None;
        let parts = from.parts.as_ref().map(|p| {
            let mut p = p.clone();
            p.base_url_shown = self.opts.redactor.redact(&request.url);
            p.base_url = super::journal::Parts::new(
                &p.app,
                &p.action,
                request.method,
                &request.url,
                &p.path,
                &[],
                &self.opts.redactor,
            )
            .base_url;
            p
        });
        Ok(Prepared {
            request,
            deferred: Vec::new(),
            parts,
        })
    }

    /// Sends a request (or takes it from the journal), then checks the
    /// step's success criteria on the response.
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        step: &Step,
        bound: &Bound,
        prepared: &Prepared,
        key: &str,
        label: &str,
        unit: &mut Unit,
        scope: &Scope,
    ) -> Result<(), Failure> {
        let parts = prepared
            .parts
            .as_ref()
            .expect("a request in `apply` is fully rendered");
        if let Resume::Done(record) = self.resume(step, key, label, parts)? {
            let from = from_record(&record);
            unit.http_status = from.http_status;
            unit.headers = from.headers;
            unit.response = from.response;
            unit.resumed = true;
            return Ok(());
        }
        self.journal_record(step, bound, parts, key, label, State::Started, None, None)?;
        let sent = self.exchange(step, bound, prepared, label, unit).await;
        if let Err(f) = sent {
            if f.kind == FailureKind::NotSent {
                // Nothing reached the server: the request is cleanly not done.
                self.journal_record(step, bound, parts, key, label, State::Failed, None, None)?;
            }
            return Err(f);
        }
        let scope = self.response_scope(&scope.clone(), unit);
        let checked = self.criteria(step, unit, &scope);
        let state = if checked.is_ok() {
            State::Ok
        } else {
            State::Failed
        };
        let outputs = json!({
            "status": unit.http_status,
            "headers": unit.headers,
            "response": unit.response,
        });
        self.journal_record(
            step,
            bound,
            parts,
            key,
            label,
            state,
            unit.http_status,
            Some(outputs),
        )?;
        checked
    }

    /// The step's success criteria on the unit's response: status, body,
    /// headers, schema, `that`.
    fn criteria(&self, step: &Step, unit: &Unit, scope: &Scope) -> Result<(), Failure> {
        let status = unit.http_status.unwrap_or_default();
        if !step.expect.accepts(status) {
            let mut message = format!(
                "expected {}, got {status} {}",
                step.expect.expected_status(),
                unit.reason.clone().unwrap_or_default()
            );
            if let Some(detail) = unit
                .response
                .as_ref()
                .and_then(|b| api_message(b, &self.opts.redactor))
            {
                message.push_str(&format!(": {detail}"));
            }
            return Err(Failure::new(FailureKind::Status, message));
        }
        let body = unit.response.clone().unwrap_or(Value::Null);
        assert::response(&step.expect, &unit.headers, &body, &self.opts.redactor).map_err(
            |mut f| {
                // Slack's `{"ok": false, "error": "channel_not_found"}`: say why.
                if let Some(words) = api_words(&body, &self.opts.redactor)
                    && !f.message.contains(&words)
                {
                    f.message
                        .push_str(&format!(" (the response says \"{words}\")"));
                }
                f
            },
        )?;
        let r = Renderer {
            templates: &self.wf.templates,
            scope,
            plan: false,
            known_steps: None,
        };
        for that in &step.expect.that {
            let holds = match r.render(&that.value) {
                Ok(v) => v.value,
                Err(e) => {
                    return Err(
                        Failure::new(FailureKind::Render, format!("expect.that: {e}"))
                            .at(Some(that.loc.clone())),
                    );
                }
            };
            match holds {
                Value::Bool(true) => {}
                Value::Bool(false) => {
                    return Err(Failure::new(
                        FailureKind::Assertion,
                        format!("expect.that: {} is false", show(&that.value)),
                    )
                    .at(Some(that.loc.clone())));
                }
                other => {
                    return Err(Failure::new(
                        FailureKind::Render,
                        format!(
                            "expect.that: {} must render to true or false, found {}",
                            show(&that.value),
                            crate::spec::coerce::describe(&other)
                        ),
                    )
                    .at(Some(that.loc.clone())));
                }
            }
        }
        Ok(())
    }

    /// The journal record that ends a polled step.
    fn journal_end(
        &self,
        step: &Step,
        bound: &Bound,
        prepared: &Prepared,
        key: &str,
        label: &str,
        unit: &Unit,
    ) {
        let Some(parts) = &prepared.parts else { return };
        let state = if unit.failure.is_none() {
            State::Ok
        } else {
            State::Failed
        };
        let outputs =
            json!({"status": unit.http_status, "headers": unit.headers, "response": unit.response});
        let _ = self.journal_record(
            step,
            bound,
            parts,
            key,
            label,
            state,
            unit.http_status,
            Some(outputs),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn journal_record(
        &self,
        step: &Step,
        bound: &Bound,
        parts: &Parts,
        key: &str,
        label: &str,
        state: State,
        http_status: Option<u16>,
        outputs: Option<Value>,
    ) -> Result<(), Failure> {
        let (outputs, complete) = match outputs {
            // What a later step's auth reads may be a credential: never stored.
            Some(_) if step.feeds_auth => (None, false),
            Some(o) => {
                let redacted = self.opts.redactor.redact_json(&o);
                let complete = redacted == o;
                (Some(redacted), complete)
            }
            None => (None, true),
        };
        let record = Record {
            step: step.index,
            key: key.to_string(),
            id: step.id.clone(),
            action: bound.action.name.clone(),
            label: label.to_string(),
            request: parts.fingerprint(),
            parts: parts.clone(),
            state,
            http_status,
            outputs,
            complete,
        };
        let mut journal = self.journal.borrow_mut();
        let Some(journal) = journal.as_mut() else {
            return Ok(());
        };
        journal.record(&record).map_err(|e| {
            Failure::new(
                FailureKind::Journal,
                format!(
                    "cannot write the journal `{}`: {}; stopping before anything else is sent",
                    journal.path.display(),
                    e.to_string().to_lowercase()
                ),
            )
        })
    }

    /// Sends a request with its retries; fills the unit's response.
    async fn exchange(
        &self,
        step: &Step,
        bound: &Bound,
        prepared: &Prepared,
        label: &str,
        unit: &mut Unit,
    ) -> Result<(), Failure> {
        let policy = Policy::from(step.retry.or(bound.app.retry));
        let timeouts = step.timeouts.or(bound.app.timeouts).or(self.opts.timeouts);
        let limits = Limits {
            connect: timeouts.connect.unwrap_or(http::CONNECT_TIMEOUT),
            request: timeouts.request.unwrap_or(http::REQUEST_TIMEOUT),
            max_body: self.opts.max_response_size.unwrap_or(http::MAX_BODY),
        };
        // A client that cannot be built means nothing was sent.
        let client = self
            .clients
            .client(limits.connect)
            .map_err(|e| Failure::new(FailureKind::NotSent, e))?;
        let mut attempt = 1;
        let result = loop {
            let result = send::send(&client, &prepared.request, limits).await;
            let outcome = match &result {
                Ok(resp) if step.expect.accepts(resp.status) => break result,
                Ok(resp) => Outcome::Answered {
                    status: resp.status,
                    retry_after: resp.headers.get("retry-after").map(String::as_str),
                },
                Err(Transport::NotSent(_)) => Outcome::NotSent,
                Err(Transport::MaybeSent(_)) => Outcome::MaybeSent,
                Err(Transport::Final(_)) => Outcome::Final,
            };
            match retry::next(&policy, bound.action.method, &outcome, attempt) {
                Ok(Some(wait)) => {
                    let reason = match &result {
                        Ok(resp) => format!("{} {}", resp.status, resp.reason),
                        Err(f) => f.message().to_string(),
                    };
                    let note = RetryNote {
                        attempt: attempt + 1,
                        of: policy.attempts,
                        reason,
                        wait,
                    };
                    if let Some(reporter) = self.reporter {
                        reporter.retry(&step.name(), &note);
                    }
                    unit.retries.push(note);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Ok(None) => break result,
                Err(why) => {
                    self.warn(format!("{label}: not retried: {why}"));
                    break result;
                }
            }
        };
        let tries = |mut message: String| {
            if attempt > 1 {
                message.push_str(&format!(" (after {attempt} tries)"));
            }
            message
        };
        match result {
            Ok(response) => {
                unit.http_status = Some(response.status);
                unit.reason = Some(response.reason.clone());
                unit.headers = response.headers;
                unit.response = Some(response.body);
                if attempt > 1 && !step.expect.accepts(response.status) {
                    unit.reason = Some(tries(unit.reason.take().unwrap_or_default()));
                }
                Ok(())
            }
            Err(transport) => {
                let kind = match transport {
                    Transport::NotSent(_) => FailureKind::NotSent,
                    _ => FailureKind::MaybeSent,
                };
                Err(Failure::new(kind, tries(transport.message().to_string())))
            }
        }
    }

    /// Renders a step's params and auth and builds its request, with every
    /// check a request must pass before it may leave. Secrets are
    /// registered as soon as they are known. `set` replaces a param (a
    /// pagination cursor).
    async fn prepare(
        &self,
        step: &Step,
        bound: &Bound,
        r: &Renderer<'_>,
        set: Option<(&str, &Value)>,
    ) -> Result<Prepared, Failure> {
        let render_failure = |m: String| Failure::new(FailureKind::Render, m);
        let params =
            render::params(step, &bound.action, r, &self.taint, set).map_err(render_failure)?;
        // `url:` replaces the base URL and path; plan shows it as written
        // while it waits for the run.
        let (target, target_waits) = match &step.url {
            Some(u) if r.deferred(&u.value) => (None, Some(u.value.clone())),
            Some(u) => (
                Some(
                    r.text(&u.value)
                        .map_err(|e| render_failure(format!("url: {e}")))?,
                ),
                None,
            ),
            None => (None, None),
        };
        let mut secrets = Vec::new();
        let source = bound.auth.as_ref().and_then(|a| a.source.as_ref());
        let notes = |note| self.warn(note);
        let placeholder;
        let fetched;
        let token: Option<&Token> = match source {
            None => None,
            Some(source) => match self.mode {
                Mode::Apply => {
                    fetched = self
                        .sources
                        .token(source, r, &self.context(&notes))
                        .await
                        .map_err(|e| Failure::new(FailureKind::Token, e))?;
                    Some(&fetched)
                }
                Mode::Preflight => {
                    self.sources
                        .check(source, r, &self.context(&notes))
                        .map_err(|e| Failure::new(FailureKind::Token, e))?;
                    placeholder = Sources::placeholder(source);
                    Some(&placeholder)
                }
                Mode::Plan => {
                    placeholder = Sources::placeholder(source);
                    Some(&placeholder)
                }
            },
        };
        if self.mode != Mode::Apply {
            secrets.push(Secret::new(PLAN_SECRET));
        }
        let auth = match &bound.auth {
            Some(a) => {
                let rendered = render::auth(a, token, r, &self.taint, &mut secrets);
                self.register(&secrets);
                Some(rendered.map_err(render_failure)?)
            }
            None => {
                self.register(&secrets);
                None
            }
        };
        let base_override = self.opts.base_url(&bound.app.name);
        let effective_base = base_override
            .map(str::to_string)
            .or_else(|| auth.as_ref().and_then(|a| a.base_url.clone()))
            .unwrap_or_else(|| bound.app.base_url.clone());
        // The app's auth goes only to the app's origin; a step that names
        // its own `auth:` sends it wherever its `url` says.
        let auth = match (&target, &step.auth) {
            (Some(t), None) if !same_origin(t, &effective_base) => None,
            _ => auth,
        };
        // A `url` that waits for the run (plan) is shown as written; the
        // app's base URL stands in while the request is built.
        let stand_in = target_waits.as_ref().map(|_| effective_base.as_str());
        let mut request = render::build_request(
            &bound.app,
            &bound.action,
            &params,
            auth.as_ref(),
            base_override,
            target.as_deref().or(stand_in),
        )
        .map_err(render_failure)?;
        if let Some(template) = target_waits {
            request.url = template;
            return Ok(Prepared {
                request,
                deferred: params.deferred,
                parts: None,
            });
        }
        super::files::inspect(&mut request, &self.wf.spec.root, self.opts.max_upload())
            .map_err(render_failure)?;
        super::files::inspect(&mut request, &self.wf.spec.root, self.opts.max_upload())
            .map_err(render_failure)?;
        let url = url::Url::parse(&request.url)
            .map_err(|e| render_failure(format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(render_failure(format!(
                "the request URL's scheme `{}` is not http or https",
                url.scheme()
            )));
        }
        if request.carries_auth
            && !self.opts.allow_http
            && let Some(why) = self.clients.config().clear_text_exposure(&url)
        {
            return Err(render_failure(why));
        }
        let parts = params.deferred.is_empty().then(|| {
            let (base, path) = match &target {
                Some(t) => (t.clone(), ""),
                None => (effective_base.clone(), bound.action.path.as_str()),
            };
            Parts::new(
                &bound.app.name,
                &bound.action.name,
                bound.action.method,
                &base,
                path,
                &params.values,
                &self.opts.redactor,
            )
        });
        Ok(Prepared {
            request,
            deferred: params.deferred,
            parts,
        })
    }

    /// What the journal says about this request of `step`: done (its
    /// outputs reused), to run, or refused (a completed POST or PATCH whose
    /// request changed, a POST or PATCH whose outputs are gone).
    fn resume(
        &self,
        step: &Step,
        key: &str,
        label: &str,
        parts: &Parts,
    ) -> Result<Resume, Failure> {
        if self.past.is_empty() {
            return Ok(Resume::Run);
        }
        let journal = |m: String| Failure::new(FailureKind::Journal, m);
        let fingerprint = parts.fingerprint();
        let method = parts.method.clone();
        let unsafe_method = matches!(method.as_str(), "POST" | "PATCH");
        let mut claimed = self.claimed.borrow_mut();
        let found = self
            .past
            .exact(key, &fingerprint, &claimed)
            .or_else(|| self.past.moved(&fingerprint, &claimed, &self.reserved));
        if let Some((i, record)) = found {
            match record.state {
                State::Ok if !record.complete && referenced_later(self.wf, step) => {
                    if unsafe_method && !self.opts.rerun_changed {
                        return Err(journal(format!(
                            "{label} ({method}) completed in the journalled run, but its response held secrets, which the journal never stores, and a later step uses it; sending it again would repeat it. \
                             Start a new run, or pass `--rerun-changed` to send it again"
                        )));
                    }
                    self.warn(format!(
                        "{label}: its journalled outputs held secrets, which are never stored, and a later step uses them; running it again"
                    ));
                    claimed.insert(i);
                    return Ok(Resume::Run);
                }
                State::Ok => {
                    claimed.insert(i);
                    return Ok(Resume::Done(Box::new(record.clone())));
                }
                State::Started => {
                    // In flight when the run stopped: refused before the run
                    // for POST and PATCH without `--rerun-uncertain`.
                    self.warn(format!(
                        "{label}: it was in flight when the journalled run stopped; sending it again"
                    ));
                    claimed.insert(i);
                    return Ok(Resume::Run);
                }
                State::Failed => {
                    claimed.insert(i);
                    return Ok(Resume::Run);
                }
            }
        }
        // A loop's items are told apart by their requests: a new request is
        // a new item, not a changed one.
        if step.each.is_none()
            && step.paginate.is_none()
            && let Some(earlier) = self.past.latest(key)
            && earlier.state == State::Ok
        {
            let changes = parts.changes_since(&earlier.parts).join(", ");
            if unsafe_method && !self.opts.rerun_changed {
                return Err(journal(format!(
                    "{label} ({method}) completed in the journalled run, and its request changed since ({changes}); it is not sent again. \
                     Check, then resume with `--rerun-changed` to send it"
                )));
            }
            self.warn(format!(
                "{label}: its request changed since the journalled run; running it again (changed: {changes})"
            ));
        }
        Ok(Resume::Run)
    }
}

/// Whether two URLs share scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

enum NextPage {
    Url(url::Url),
    Cursor(String, Value),
}

/// The `rel="next"` target of the `Link` headers (RFC 8288), resolved
/// against the request's URL.
fn next_link(headers: &BTreeMap<String, String>, base: &str) -> Option<url::Url> {
    let link = headers.get("link")?;
    let base = url::Url::parse(base).ok()?;
    for part in split_links(link) {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return base.join(target.trim()).ok();
        }
    }
    None
}

/// The link-values of a `Link` header: split at commas outside `<...>`
/// and quotes.
fn split_links(header: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_url, mut in_quote, mut start) = (false, false, 0);
    for (i, c) in header.char_indices() {
        match c {
            '<' if !in_quote => in_url = true,
            '>' if !in_quote => in_url = false,
            '"' if !in_url => in_quote = !in_quote,
            ',' if !in_url && !in_quote => {
                out.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&header[start..]);
    out
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// What later templates see of a step that did not run: no status, no
/// response, no outputs (and no items or pages), like a skipped item.
fn skipped_value(step: &Step, why: SkipReason) -> Value {
    let mut value = Unit {
        skipped: Some(why),
        ..Unit::default()
    }
    .value();
    if step.each.is_some() || step.paginate.is_some() {
        value["items"] = json!([]);
    }
    if step.paginate.is_some() {
        value["pages"] = json!(0);
    }
    value
}

/// A unit done in an earlier run, from its journal record.
fn from_record(record: &Record) -> Unit {
    let outputs = record.outputs.clone().unwrap_or(Value::Null);
    Unit {
        http_status: record.http_status,
        headers: outputs
            .get("headers")
            .and_then(|h| serde_json::from_value(h.clone()).ok())
            .unwrap_or_default(),
        response: outputs.get("response").cloned(),
        resumed: true,
        ..Unit::default()
    }
}

/// A condition or template as messages show it.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The report of a step that ran once (no loop).
fn fill(report: &mut StepReport, unit: Unit) {
    report.http_status = unit.http_status;
    report.reason = unit.reason;
    report.response = unit.response;
    report.outputs = unit.outputs;
    report.resumed = unit.resumed;
    report.retries = unit.retries;
    report.pages = unit.pages;
    report.steps = unit.steps;
    report.duration = unit.duration;
    if let Some(why) = unit.skipped {
        report.status = StepStatus::Skipped;
        report.skip_reason = Some(why);
    }
    if let Some(f) = unit.failure {
        report.fail(f);
    }
}

/// The API's own words about an error, from the usual fields.
fn api_message(body: &Value, redactor: &crate::redact::Redactor) -> Option<String> {
    let excerpt = |s: &str| http::excerpt(s, redactor);
    match body {
        Value::Object(map) => [
            "message",
            "error_description",
            "errorMessage",
            "error",
            "detail",
            "title",
        ]
        .iter()
        .find_map(|k| match map.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(excerpt(s)),
            Some(v @ Value::Object(_)) => api_message(v, redactor),
            _ => None,
        })
        .or_else(|| Some(excerpt(&body.to_string()))),
        Value::String(s) if !s.trim().is_empty() => Some(excerpt(s)),
        _ => None,
    }
}

/// An error message an API put in its answer's usual fields, if any.
fn api_words(body: &Value, redactor: &crate::redact::Redactor) -> Option<String> {
    let map = body.as_object()?;
    [
        "error",
        "message",
        "error_description",
        "errorMessage",
        "detail",
    ]
    .iter()
    .find_map(|k| match map.get(*k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(http::excerpt(s, redactor)),
        _ => None,
    })
}

/// Whether a step after `step` (in its workflow) uses its outputs.
fn referenced_later(wf: &Workflow, step: &Step) -> bool {
    let Some(id) = &step.id else { return false };
    wf.flows.iter().any(|flow| {
        flow.steps
            .iter()
            .position(|s| std::ptr::eq(s, step))
            .is_some_and(|at| {
                flow.steps[at + 1..].iter().any(|later| {
                    let mut values: Vec<Value> =
                        later.params.values().map(|p| p.value.clone()).collect();
                    values.extend(later.with.values().map(|w| w.value.clone()));
                    if let Some(auth) = &later.auth {
                        values.extend(
                            auth.parameters
                                .iter()
                                .map(|p| Value::String(p.value.clone())),
                        );
                    }
                    if let Some(c) = &later.condition {
                        values.push(c.value.clone());
                    }
                    if let Some(e) = &later.each {
                        values.push(e.list.value.clone());
                    }
                    values.iter().any(|v| {
                        let refs = wf.templates.refs_in(v);
                        refs.steps.iter().any(|(s, _)| s == id) || refs.dynamic.contains("steps")
                    })
                }) || flow.outputs.values().any(|o| {
                    wf.templates
                        .refs(&o.value)
                        .is_some_and(|r| r.steps.iter().any(|(s, _)| s == id))
                })
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let h = |v: &str| BTreeMap::from([("link".to_string(), v.to_string())]);
        let base = "https://api.example/items?page=1";
        let next = next_link(
            &h(
                r#"<https://api.example/items?page=2>; rel="next", <https://api.example/items?page=9>; rel="last""#,
            ),
            base,
        );
        assert_eq!(next.unwrap().as_str(), "https://api.example/items?page=2");
        let relative = next_link(&h(r#"</items?page=3>; rel="prev next""#), base);
        assert_eq!(
            relative.unwrap().as_str(),
            "https://api.example/items?page=3"
        );
        assert!(next_link(&h(r#"<https://x/?a=1,2>; rel="last""#), base).is_none());
        assert_eq!(
            split_links(r#"<a,b>; title="x, y"; rel=next, <c>"#).len(),
            2
        );
    }
}
