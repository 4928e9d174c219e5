//! The one walk over a workflow's steps, shared by every command: each
//! step's condition, then its body — an action's request rendered in the
//! scope of the steps before it and prepared ([`prepare`]), a loop's items
//! ([`each`]), a sub-workflow's steps ([`uses`]). What becomes of each
//! prepared request is the [`Mode`]'s: [`plan::Plan`] shows it,
//! [`preflight::Preflight`] matches it against the journal before a run
//! (and [`preflight::Collect`] lists what is known before a resumed one),
//! [`apply::Apply`] sends it ([`exchange`]). Each mode owns its state, so a
//! reporter in plan, or collecting outside the checks, cannot be written.
//!
//! The walk takes `&self` throughout, because apply runs a loop's items
//! concurrently on one thread: what a mode records as it goes sits in a
//! cell of its own.

mod apply;
mod each;
mod exchange;
mod link;
mod plan;
mod preflight;
mod prepare;
mod resume;
mod uses;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(super) use apply::Apply;
pub(super) use plan::Plan;
pub(super) use preflight::{Collect, Preflight};
pub(super) use resume::Journalled;

use super::Setup;
use super::journal::Parts;
use super::outcome::{
    Failure, FailureKind, PlannedStep, Progress, RetryNote, SkipReason, StepReport, StepStatus,
};
use crate::check::{Bound, Needed, Run, Step};
use crate::error::{Diagnostic, Error, Loc};
use crate::render::{self, Renderer, Request, Token};
use crate::spec::{Located, Source};
use crate::template::time::NOW;
use crate::template::{FAILED, Live, Scope, to_value};

/// What becomes of the requests a walk prepares, and what else differs
/// between plan, the checks before a run, and apply.
pub(super) trait Mode: Sized {
    /// Apply sends. Plan and the checks send nothing: values that need an
    /// earlier response wait for the run, every step is walked whether or
    /// not an earlier one would fail, and a failure is invalid input
    /// (exit 2, nothing sent) rather than a failed step.
    const SENDS: bool;

    /// Plan shows its requests: what waits for the run is shown with what
    /// is known filled in, work the others skip.
    const SHOWS: bool = false;

    /// Whether requests need what identifies them in a journal (to read,
    /// write or collect).
    fn identifies(&self) -> bool;

    /// Plan cannot know whether an earlier step will fail, so it shows an
    /// `if` that asks rather than evaluating it.
    fn shows_failure_conditions(&self) -> bool {
        false
    }

    /// The credential of `source` for a request: fetched (apply), its
    /// settings checked (the checks), or a placeholder (plan).
    async fn token(
        &self,
        walk: &Walk<'_, Self>,
        source: &Source,
        r: &Renderer<'_>,
    ) -> Result<Token, Failure>;

    /// What becomes of an action's prepared request.
    async fn action(
        &self,
        walk: &Walk<'_, Self>,
        act: &Act<'_>,
        prepared: Prepared,
        notes: Vec<String>,
    ) -> Result<Unit, Error>;

    /// What plan shows of a step it does not prepare a request for (one
    /// skipped by its `if`, a sub-workflow with notes); others ignore it.
    fn show(&self, _planned: PlannedStep) {}

    /// A root step begins.
    fn begins(&self) {}

    /// A root step's run, watched while it lasts (apply: pulses and
    /// progress for the reporter, when it asks for them).
    async fn watched<T>(&self, _step: &Step, run: impl Future<Output = T>) -> T {
        run.await
    }

    /// What the root step running now got to (apply tells the reporter).
    fn progress(&self, _event: Progress<'_>) {}

    /// A root step ended, with its report.
    fn ended(&self, _walk: &Walk<'_, Self>, _report: StepReport) {}
}

/// The warnings of a run, each said once: those said before (by the checks
/// before the run) are not said again. Shared by the loop items apply runs
/// at once, hence the cell.
#[derive(Default)]
pub(super) struct Warnings(RefCell<Said>);

#[derive(Default)]
struct Said {
    said: HashSet<String>,
    pending: Vec<String>,
}

impl Warnings {
    /// Warnings already said: the run does not say them again.
    pub(super) fn said(said: impl IntoIterator<Item = String>) -> Warnings {
        Warnings(RefCell::new(Said {
            said: said.into_iter().collect(),
            pending: Vec::new(),
        }))
    }

    pub(super) fn add(&self, message: String) {
        let mut w = self.0.borrow_mut();
        if !w.said.contains(&message) && !w.pending.contains(&message) {
            w.pending.push(message);
        }
    }

    /// The warnings not said yet, now said.
    pub(super) fn take(&self) -> Vec<String> {
        let mut w = self.0.borrow_mut();
        let taken: Vec<String> = std::mem::take(&mut w.pending);
        w.said.extend(taken.iter().cloned());
        taken
    }
}

/// One walk of a workflow in mode `M`.
pub(super) struct Walk<'a, M> {
    pub setup: &'a Setup<'a>,
    pub mode: M,
    pub warnings: Warnings,
}

/// One run of a workflow: whose steps, with which inputs, and where its
/// steps' results go. Journal keys and labels of a sub-workflow's steps
/// start with the path of the step that used it (`each[3f2a…].create`,
/// shown `each[2].create`).
pub(super) struct Frame {
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

/// One action step (or loop item) as its requests see it: what it runs,
/// where, and how the journal and messages name it.
pub(super) struct Act<'s> {
    pub step: &'s Step,
    pub bound: &'s Bound,
    pub frame: &'s Frame,
    pub scope: &'s Scope,
    /// The journal's key: the frame's path and the step's key.
    pub key: String,
    /// How messages name it: `steps[1] (create)`, `each[2].create`.
    pub label: String,
}

/// One execution of a step's body (the step, or one item of its loop):
/// where it runs and how messages name it.
struct Turn<'s> {
    step: &'s Step,
    frame: &'s Frame,
    scope: &'s Scope,
    /// Inside a loop: the item's index and value.
    item: Option<(usize, &'s Value)>,
    label: String,
}

/// A step's request, ready to show or send.
pub(super) struct Prepared {
    request: Request,
    /// Params still templates (plan only).
    deferred: Vec<String>,
    /// What identifies the request in the journal; `None` while it is not
    /// fully known.
    parts: Option<Parts>,
}

/// One execution of a step's body: a request (with its polls or pages), or
/// a sub-workflow. A loop has one per item.
#[derive(Default)]
pub(super) struct Unit {
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
    /// Refused for a rate limit spent longer than a request may wait: the
    /// failure, whatever the success criteria say.
    throttled: Option<Failure>,
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

/// How a workflow's steps ended.
pub(super) struct FlowEnd {
    pub reports: Vec<StepReport>,
    /// A step failed without `continue_on_error`: the run exits 1.
    pub failed: bool,
    pub outputs: serde_json::Map<String, Value>,
}

impl<'a, M: Mode> Walk<'a, M> {
    pub(super) fn new(setup: &'a Setup<'a>, mode: M) -> Self {
        Walk {
            setup,
            mode,
            warnings: Warnings::default(),
        }
    }

    /// With the warnings the checks before the run already said.
    pub(super) fn saying_once(mut self, said: Vec<String>) -> Self {
        self.warnings = Warnings::said(said);
        self
    }

    fn warn(&self, message: String) {
        self.warnings.add(message);
    }

    fn renderer<'s>(&'s self, scope: &'s Scope, frame: &'s Frame) -> Renderer<'s> {
        Renderer {
            templates: &self.setup.wf.templates,
            scope,
            plan: !M::SENDS,
            known_steps: (!M::SENDS).then_some(&*frame.steps),
            show_known: M::SHOWS,
        }
    }

    /// Where the values that may name files come from, in `frame`.
    fn origins<'s>(&'s self, frame: &'s Frame) -> render::Origins<'s> {
        render::Origins {
            vars: &self.setup.wf.spec.vars,
            given_vars: &self.setup.opts.vars,
            inputs: &frame.origins,
        }
    }

    /// A failure found while checking is invalid input (nothing is sent);
    /// while applying it fails the step.
    fn fail(&self, failure: Failure, loc: &Loc) -> Result<Unit, Error> {
        if !M::SENDS {
            let loc = failure.loc.clone().unwrap_or_else(|| loc.clone());
            return Err(Error::spec(Diagnostic::new(failure.message, Some(loc))));
        }
        Ok(Unit::failed(failure))
    }

    /// The root frame.
    fn root(&self) -> Frame {
        Frame {
            flow: 0,
            inputs: to_value(&self.setup.inputs),
            origins: self.setup.input_origins.clone(),
            unknown_inputs: Vec::new(),
            steps: Live::new(),
            key: String::new(),
            label: String::new(),
        }
    }

    fn scope(&self, frame: &Frame) -> Scope {
        let (index, count) = self.setup.opts.shard.unwrap_or((0, 1));
        let mut scope = Scope::new(self.setup.opts.env.clone())
            .with("vars", self.setup.vars.clone())
            .with("inputs", frame.inputs.clone())
            .with("steps", frame.steps.value())
            .with("shard", to_value(&json!({"index": index, "count": count})))
            .with(NOW, self.setup.now.as_str().into());
        // Inline `steps:` see their loop's item and index by name.
        if let Some(item) = &self.setup.wf.flows[frame.flow].item {
            for name in [item.as_str(), "index"] {
                if let Ok(value) = frame.inputs.get_attr(name)
                    && !value.is_undefined()
                {
                    scope.set(name, value);
                }
            }
        }
        if frame.unknown_inputs.is_empty() {
            scope
        } else {
            scope.with(
                render::UNKNOWN_INPUTS,
                to_value(&json!(frame.unknown_inputs)),
            )
        }
    }

    /// Walks the root workflow. `Err` for what makes the run invalid:
    /// nothing was sent.
    pub(super) async fn root_flow(&self) -> Result<FlowEnd, Error> {
        let root = self.root();
        self.flow(&root, true).await
    }

    /// Runs `frame`'s steps in order.
    fn flow<'s>(&'s self, frame: &'s Frame, top: bool) -> Local<'s, Result<FlowEnd, Error>> {
        Box::pin(async move {
            let flow = &self.setup.wf.flows[frame.flow];
            let mut failed = false;
            let mut reports = Vec::new();
            for step in &flow.steps {
                let begin = Instant::now();
                if top {
                    self.mode.begins();
                }
                let run = self.step(step, frame, failed);
                let (mut report, value) = if top {
                    self.mode.watched(step, run).await
                } else {
                    run.await
                }?;
                report.duration = begin.elapsed();
                if report.status == StepStatus::Failed {
                    if step.def.continue_on_error {
                        report.continued = true;
                    } else {
                        failed = true;
                    }
                }
                // While checking, only a step resumed from the journal has
                // results later templates may use; the others wait.
                let known = M::SENDS || report.resumed;
                if let Some(id) = step.def.id.as_ref().filter(|_| known)
                    && step.needed != Needed::Never
                {
                    frame.steps.insert(id.clone(), to_value(&value));
                }
                // What no later template reads is let go.
                for id in &step.expires {
                    frame.steps.remove(id);
                }
                // A root step's report goes to the mode; a sub-workflow's
                // steps are the calling step's.
                if top {
                    self.mode.ended(self, report);
                } else {
                    reports.push(report);
                }
            }
            let outputs = self.flow_outputs(frame)?;
            Ok(FlowEnd {
                reports,
                failed,
                outputs,
            })
        })
    }

    /// A workflow's `outputs`, rendered over its steps and inputs.
    fn flow_outputs(&self, frame: &Frame) -> Result<serde_json::Map<String, Value>, Error> {
        let flow = &self.setup.wf.flows[frame.flow];
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
                Err(e) if !M::SENDS => {
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
            .def
            .condition
            .as_ref()
            .map(|c| self.setup.wf.templates.refs_in(&c.value))
            .unwrap_or_default();
        let runs_after_failure = refs.uses_any(&["failure", "always"]);
        if M::SENDS && failed && !runs_after_failure {
            return Ok(skipped(report, SkipReason::EarlierFailure));
        }
        let scope = self
            .scope(frame)
            .with(FAILED, minijinja::Value::from(failed));
        let per_item = step
            .def
            .each
            .as_ref()
            .is_some_and(|e| refs.uses_any(&[e.name.value.as_str(), "index"]));
        let mut notes = Vec::new();
        if let Some(condition) = step.def.condition.as_ref().filter(|_| !per_item) {
            match self.condition(&condition.value, &scope, frame) {
                Ok(Some(true)) => {}
                Ok(Some(false)) => {
                    let label = format!("{}{}", frame.label, step.def.label());
                    self.mode.show(skipped_note(step, &label, condition));
                    return Ok(skipped(report, SkipReason::Condition));
                }
                Ok(None) => notes.push(format!("if {}", show(&condition.value))),
                Err(f) => {
                    let unit = self.fail(f.at(Some(condition.loc.clone())), &step.def.loc)?;
                    report.fail(unit.failure.expect("a failed unit"));
                    return Ok((report, json!({})));
                }
            }
        }
        if step.def.each.is_some() {
            return self.each(step, frame, &scope, report, notes).await;
        }
        let unit = self.unit(step, frame, &scope, None, notes).await?;
        let value = unit.value();
        fill(&mut report, unit);
        Ok((report, value))
    }

    /// Renders a condition (an `if`, an `until`): `Some(holds)`, or `None`
    /// when it waits for the run (plan).
    fn condition(
        &self,
        value: &Value,
        scope: &Scope,
        frame: &Frame,
    ) -> Result<Option<bool>, Failure> {
        let r = self.renderer(scope, frame);
        if self.mode.shows_failure_conditions()
            && self
                .setup
                .wf
                .templates
                .refs_in(value)
                .uses_any(&["failure"])
        {
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
        if let (Some((index, value)), Some(each)) = (item, &step.def.each) {
            scope.set(&each.name.value, to_value(value));
            scope.set("index", minijinja::Value::from(index));
        }
        let label = match item {
            Some((index, _)) => format!("{}{}[{index}]", frame.label, step.def.label()),
            None => format!("{}{}", frame.label, step.def.label()),
        };
        if let (Some(condition), Some(_)) = (&step.def.condition, item) {
            match self.condition(&condition.value, &scope, frame) {
                Ok(Some(true)) => {}
                Ok(Some(false)) => {
                    self.mode.show(skipped_note(step, &label, condition));
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
                Err(f) => return self.fail(f.at(Some(condition.loc.clone())), &step.def.loc),
            }
        }
        let turn = Turn {
            step,
            frame,
            scope: &scope,
            item,
            label,
        };
        let mut unit = match &step.run {
            Run::Uses(flow) => self.uses(&turn, *flow, notes).await?,
            Run::Action(bound) => {
                let act = Act {
                    step,
                    bound,
                    frame,
                    scope: &scope,
                    key: format!("{}{}", frame.key, step.def.key),
                    label: turn.label,
                };
                self.action(&act, notes).await?
            }
        };
        unit.duration = begin.elapsed();
        Ok(unit)
    }

    /// An action: its request prepared, then handed to the mode.
    async fn action(&self, act: &Act<'_>, notes: Vec<String>) -> Result<Unit, Error> {
        let r = self.renderer(act.scope, act.frame);
        let origins = self.origins(act.frame);
        let prepared = match self.prepare(act, &r, &origins, None).await {
            Ok(p) => p,
            Err(f) => return self.fail(f, &act.step.def.loc),
        };
        self.mode.action(self, act, prepared, notes).await
    }

    /// The step's `outputs`, over its own response.
    fn outputs(&self, act: &Act<'_>, unit: &mut Unit) -> Result<(), Failure> {
        let step = act.step;
        if step.def.outputs.is_empty() {
            return Ok(());
        }
        let scope = response_scope(act.scope, unit);
        let r = self.renderer(&scope, act.frame);
        let mut out = serde_json::Map::new();
        for (name, output) in &step.def.outputs {
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
}

/// `scope` with the unit's own response bound: `response`, `status`,
/// `headers`.
fn response_scope(scope: &Scope, unit: &Unit) -> Scope {
    scope
        .clone()
        .with(
            "response",
            to_value(unit.response.as_ref().unwrap_or(&Value::Null)),
        )
        .with("status", to_value(&json!(unit.http_status)))
        .with("headers", to_value(&json!(unit.headers)))
}

/// What plan shows of a step its `if` skips.
fn skipped_note(step: &Step, label: &str, condition: &Located<Value>) -> PlannedStep {
    PlannedStep {
        name: step.def.name(),
        label: label.to_string(),
        action: step.target(),
        request: None,
        deferred: Vec::new(),
        notes: vec![format!("skipped: if {} is false", show(&condition.value))],
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
    if step.def.each.is_some() || step.def.paginate.is_some() {
        value["items"] = json!([]);
    }
    if step.def.paginate.is_some() {
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
