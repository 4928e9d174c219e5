//! The one walk over a workflow's steps, shared by `plan`, the checks
//! before a run, and `apply`: conditions, loops (with their concurrency and
//! shards), sub-workflows, each request rendered in the scope of the steps
//! before it, its credential fetched, its request built and checked, then
//! shown (plan), matched against the journal (the checks), or sent with
//! its polling, pages, retries and success criteria (apply). A new kind of
//! step changes this one place.

mod link;
mod request;
mod resume;

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
    /// Where the text of each input comes from, for the file paths it names.
    origins: BTreeMap<String, render::Origin>,
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
    /// What requests may upload.
    pub uploads: super::files::Uploads,
    /// Where the root workflow's inputs come from.
    pub input_origins: BTreeMap<String, render::Origin>,
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
    /// Whether to collect them (the first pass of a resumed run).
    pub collect: bool,
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
    /// When the root step running now began (apply only): a run stopped
    /// by a signal reports how long it ran.
    pub began: std::cell::Cell<Option<Instant>>,
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

    /// Where the values that may name files come from, in `frame`.
    fn origins<'s>(&'s self, frame: &'s Frame) -> render::Origins<'s> {
        render::Origins {
            vars: &self.wf.spec.vars,
            given_vars: &self.opts.vars,
            inputs: &frame.origins,
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

    /// Whether requests need what identifies them (for a journal to read,
    /// to write, or to collect before a resumed run).
    fn identifies(&self) -> bool {
        match self.mode {
            Mode::Plan => false,
            Mode::Preflight => !self.past.is_empty() || self.collect,
            Mode::Apply => !self.past.is_empty() || self.journal.borrow().is_some(),
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
            origins: self.input_origins.clone(),
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
                if top {
                    self.began.set(Some(begin));
                }
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
            match self.holds(condition, &scope, frame) {
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

    /// A step's `if`: `Some(holds)`, or `None` when it waits for the run
    /// (plan), as whether an earlier step failed always does there.
    fn holds(
        &self,
        condition: &crate::spec::Located<Value>,
        scope: &Scope,
        frame: &Frame,
    ) -> Result<Option<bool>, Failure> {
        if self.waits_for_failure(condition) {
            return Ok(None);
        }
        self.condition(&condition.value, scope, frame)
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
            match self.holds(condition, &scope, frame) {
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
        // A sub-workflow's input comes from where the caller's `with:`
        // value does, or (not given, or null) from the file that declares
        // its default.
        let caller = self.origins(frame);
        let origins = sub_inputs
            .iter()
            .filter_map(|(name, input)| {
                let with = step
                    .with
                    .get(name)
                    .filter(|_| given.get(name).is_none_or(|v| !v.is_null()));
                let origin = match with {
                    Some(given) => {
                        caller.of(&given.value, given.loc.file_name(), step.each.as_ref())?
                    }
                    None => {
                        input.default.as_ref()?;
                        render::Origin::Spec(input.loc.file_name().to_string())
                    }
                };
                Some((name.clone(), origin))
            })
            .collect();
        let sub = Frame {
            flow,
            inputs: to_value(&inputs),
            origins,
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
