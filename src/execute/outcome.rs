//! What a run produces, as data: each step's outcome (with a typed failure
//! when it failed), the run's, the plan, and the interface through which a
//! report hears about a run as it happens. Formatting is `report`'s.

use std::time::Duration;

use serde_json::Value;

use crate::error::Loc;
use crate::render::Request;

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

/// Why a step did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Its `if` did not hold.
    Condition,
    /// An earlier step failed (and its `if` does not call `failure()` or `always()`).
    EarlierFailure,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Condition => "condition",
            SkipReason::EarlierFailure => "earlier_failure",
        }
    }
}

/// Why a step failed, as machines see it (`error_kind` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// A template or a value failed.
    Render,
    /// A credential source failed.
    Token,
    /// Transport failed before the request left.
    NotSent,
    /// Transport failed after the request may have been received.
    MaybeSent,
    /// An unexpected HTTP status.
    Status,
    /// The journal could not be written, or forbids sending.
    Journal,
    /// A success criterion did not hold.
    Assertion,
    /// Polling ran out of time.
    Timeout,
    /// The app's rate limit is spent for longer than `retry.max_wait`.
    RateLimited,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Render => "render",
            FailureKind::Token => "token",
            FailureKind::NotSent => "not_sent",
            FailureKind::MaybeSent => "maybe_sent",
            FailureKind::Status => "status",
            FailureKind::Journal => "journal",
            FailureKind::Assertion => "assertion",
            FailureKind::Timeout => "timeout",
            FailureKind::RateLimited => "rate_limited",
        }
    }
}

/// A step failure: its kind, what happened, and where in the spec, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub loc: Option<Loc>,
}

impl Failure {
    /// A template, a value or a request that could not be rendered.
    pub fn render(error: impl std::fmt::Display) -> Failure {
        Failure::new(FailureKind::Render, error.to_string())
    }

    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            loc: None,
        }
    }

    pub fn at(mut self, loc: Option<Loc>) -> Failure {
        if self.loc.is_none() {
            self.loc = loc;
        }
        self
    }
}

/// One retry: which try comes next, why, and after how long.
#[derive(Debug, Clone)]
pub struct RetryNote {
    pub attempt: u32,
    pub of: u32,
    pub reason: String,
    pub wait: Duration,
}

#[derive(Debug, Clone)]
pub struct StepReport {
    pub id: Option<String>,
    /// The id, else `#N`.
    pub name: String,
    /// The action it ran, or `uses <file>`.
    pub action: String,
    pub status: StepStatus,
    pub skip_reason: Option<SkipReason>,
    pub http_status: Option<u16>,
    pub reason: Option<String>,
    pub duration: Duration,
    pub response: Option<Value>,
    pub error: Option<Failure>,
    /// Failed, but `continue_on_error` let the run go on.
    pub continued: bool,
    /// Done in an earlier run, per the journal: not sent again.
    pub resumed: bool,
    pub retries: Vec<RetryNote>,
    /// Each item of a `for_each` loop, in order.
    pub items: Option<Vec<ItemReport>>,
    /// The step's `outputs` (a sub-workflow's outputs for `uses`).
    pub outputs: Option<Value>,
    /// Pages read, for a step that paginates.
    pub pages: Option<usize>,
    /// The steps of a sub-workflow it ran (without a loop).
    pub steps: Vec<StepReport>,
}

impl StepReport {
    /// Forgets the response bodies it holds (its items' and inner steps'
    /// too): for a report that shows none.
    pub fn drop_responses(&mut self) {
        self.response = None;
        for item in self.items.iter_mut().flatten() {
            item.response = None;
            item.steps.iter_mut().for_each(StepReport::drop_responses);
        }
        self.steps.iter_mut().for_each(StepReport::drop_responses);
    }
}

/// One item of a loop.
#[derive(Debug, Clone)]
pub struct ItemReport {
    pub index: usize,
    pub status: StepStatus,
    pub skip_reason: Option<SkipReason>,
    pub http_status: Option<u16>,
    pub duration: Duration,
    pub response: Option<Value>,
    /// Boxed: a loop of 10,000 items keeps 10,000 of these.
    pub error: Option<Box<Failure>>,
    pub outputs: Option<Value>,
    pub resumed: bool,
    /// The steps of a sub-workflow it ran.
    pub steps: Vec<StepReport>,
}

impl StepReport {
    pub fn new(step: &crate::check::Step, status: StepStatus) -> Self {
        StepReport {
            id: step.def.id.clone(),
            name: step.def.name(),
            action: step.target(),
            status,
            skip_reason: None,
            items: None,
            outputs: None,
            pages: None,
            steps: Vec::new(),
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

    pub fn fail(&mut self, failure: Failure) {
        self.status = StepStatus::Failed;
        self.error = Some(failure);
    }
}

#[derive(Debug)]
pub struct RunReport {
    pub ok: bool,
    pub steps: Vec<StepReport>,
    pub duration: Duration,
    /// Stopped by a signal: the exit code it calls for (130, 143).
    pub interrupted: Option<u8>,
    /// The workflow's `outputs`.
    pub outputs: serde_json::Map<String, Value>,
    /// `--shard I/N`: (I, N).
    pub shard: Option<(usize, usize)>,
}

impl RunReport {
    pub fn exit_code(&self) -> u8 {
        match self.interrupted {
            Some(code) => code,
            None if self.ok => crate::error::exit::OK,
            None => crate::error::exit::STEP_FAILED,
        }
    }
}

/// Hears about a run as it happens.
pub trait Reporter {
    fn step(&self, step: &StepReport);
    fn warn(&self, message: &str);
    /// A try failed and another follows after `note.wait`.
    fn retry(&self, step: &str, note: &RetryNote) {
        self.warn(&format!(
            "{step}: try {} of {} in {}: {}",
            note.attempt,
            note.of,
            crate::units::show(note.wait),
            note.reason
        ));
    }
    /// A request as sent or a response as received (`-v`, `-vv`): lines
    /// for standard error, whatever the output format.
    fn trace(&self, _block: &str) {}
    /// How often to be told [`Reporter::pulse`] while a root step runs
    /// (`long`: a loop, a poll or pages); `None`, never, and then no
    /// [`Progress`] either: a run costs nothing more per step.
    fn pulse_every(&self, _long: bool) -> Option<Duration> {
        None
    }
    /// The root step running now got somewhere.
    fn progress(&self, _event: Progress<'_>) {}
    /// The root step is still running, `pulse_every` later.
    fn pulse(&self) {}
}

/// What the root step running now is doing, for a progress line or a
/// heartbeat. Only a reporter that asks for pulses hears it.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A root step began: its name and what it runs.
    Began { name: &'a str, action: &'a str },
    /// A loop: `done` of `total` items ended.
    Items { done: usize, total: usize },
    /// A poll's try `attempt` of about `of`, and what its `until` looked
    /// at (`status=queued`), when it names a value of the response.
    Try {
        attempt: u32,
        of: u32,
        looked: Option<&'a str>,
    },
    /// A paginated step read its page `page`.
    Page { page: usize },
    /// The root step ended.
    Ended,
}

/// One request as `plan` shows it (a step, or one item of a loop).
#[derive(Debug)]
pub struct PlannedStep {
    pub name: String,
    pub label: String,
    pub action: String,
    /// `None` for a step that sends nothing itself (a skipped one).
    pub request: Option<Request>,
    /// Params that wait for an earlier step's response.
    pub deferred: Vec<String>,
    /// Conditions, loops, polling and pagination, in words.
    pub notes: Vec<String>,
}

/// What `plan` found: the requests, and what `apply` will still need.
#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    pub warnings: Vec<String>,
}
