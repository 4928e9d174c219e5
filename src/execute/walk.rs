//! The one walk over a workflow's steps, shared by `plan`, the checks
//! before a run, and `apply`: each step rendered in the scope of the steps
//! before it, its credential fetched, its request built and checked, then
//! shown (plan), matched against the journal (the checks), or sent
//! (apply). A new kind of step changes this one place.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::journal::{Journal, Parts, Past, Record, State};
use super::outcome::{
    Failure, FailureKind, PlannedStep, Reporter, RetryNote, StepReport, StepStatus,
};
use super::retry::{self, Outcome, Policy};
use super::send::{self, Limits, Response, Transport};
use super::{Options, Signals};
use crate::check::{Step, Workflow};
use crate::error::{Diagnostic, Error};
use crate::http::{self, Clients};
use crate::redact::Registered;
use crate::render::{self, PLAN_SECRET, Renderer, Request, Taint, Token};
use crate::resolve::{Context, Sources};
use crate::secret::Secret;
use crate::template::{Live, Scope, to_value};

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

/// A step's request, ready to show or send.
struct Prepared {
    request: Request,
    /// Params still templates (plan only).
    deferred: Vec<String>,
    /// What identifies the request in the journal; `None` while it is not
    /// fully known.
    parts: Option<Parts>,
}

/// What the journal says about a step that is about to run.
enum Resume {
    /// Done in the earlier run: these are its outputs.
    Done(Record),
    /// Not done, or safe to do again.
    Run,
}

pub(super) struct Walker<'a> {
    pub wf: &'a Workflow,
    pub opts: &'a Options,
    pub mode: Mode,
    pub vars: minijinja::Value,
    pub taint: Taint,
    pub sources: &'a Sources,
    pub clients: &'a Clients,
    /// Results of the steps so far, as templates see them.
    pub steps: Arc<Live>,
    pub past: &'a Past,
    /// Journal records already matched to a step of this run.
    pub claimed: RefCell<HashSet<usize>>,
    pub journal: RefCell<Option<Journal>>,
    pub warnings: RefCell<Vec<String>>,
    /// How many of `warnings` have been reported (apply): each is said once
    /// a run, even when the checks before it said it already.
    pub reported: std::cell::Cell<usize>,
    pub planned: RefCell<Vec<PlannedStep>>,
}

impl Walker<'_> {
    fn warn(&self, message: String) {
        let mut warnings = self.warnings.borrow_mut();
        if !warnings.contains(&message) {
            warnings.push(message);
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

    fn scope(&self) -> Scope {
        Scope::new(self.opts.env.clone())
            .with("vars", self.vars.clone())
            .with("steps", self.steps.value())
    }

    /// Walks every step without sending (plan and the checks before a
    /// run). `Err` for what makes the run invalid: nothing was sent.
    pub async fn check_all(&self) -> Result<(), Error> {
        for step in &self.wf.steps {
            self.check_step(step).await?;
        }
        Ok(())
    }

    async fn check_step(&self, step: &Step) -> Result<(), Error> {
        let invalid = |message: String| {
            Error::spec(Diagnostic::new(message, Some(step.loc.clone())))
        };
        let scope = self.scope();
        let r = self.renderer(&scope);
        let prepared = self
            .prepare(step, &r, None)
            .await
            .map_err(|f| invalid(f.message))?;
        if self.mode == Mode::Plan {
            self.planned.borrow_mut().push(PlannedStep {
                name: step.name(),
                label: step.label(),
                action: step.action.name.clone(),
                request: prepared.request,
                deferred: prepared.deferred,
            });
            return Ok(());
        }
        // The checks before a run: a step known now is matched against the
        // journal now, so a changed POST stops the run before it starts.
        let Some(parts) = &prepared.parts else {
            return Ok(());
        };
        match self.resume(step, parts) {
            Ok(Resume::Done(record)) => {
                if let Some(id) = &step.id {
                    let outputs = record.outputs.clone().unwrap_or(Value::Null);
                    self.steps.insert(id.clone(), to_value(&outputs));
                }
                Ok(())
            }
            Ok(Resume::Run) => Ok(()),
            Err(f) => Err(Error::Environment(f.message)),
        }
    }

    fn renderer<'s>(&'s self, scope: &'s Scope) -> Renderer<'s> {
        Renderer {
            templates: &self.wf.templates,
            scope,
            plan: self.mode != Mode::Apply,
            known_steps: (self.mode != Mode::Apply).then_some(&*self.steps),
        }
    }

    /// Renders a step's params and auth and builds its request, with every
    /// check a request must pass before it may leave. Secrets are
    /// registered as soon as they are known.
    async fn prepare(
        &self,
        step: &Step,
        r: &Renderer<'_>,
        token: Option<&Token>,
    ) -> Result<Prepared, Failure> {
        let render_failure = |m: String| Failure::new(FailureKind::Render, m);
        let params = render::params(step, r).map_err(render_failure)?;
        let mut secrets = Vec::new();
        let source = step.auth.as_ref().and_then(|a| a.source.as_ref());
        let notes = |note| self.warn(note);
        let placeholder;
        let fetched;
        let token = match (token, source) {
            (Some(t), _) => Some(t),
            (None, None) => None,
            (None, Some(source)) => match self.mode {
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
        let auth = match &step.auth {
            Some(a) => {
                let rendered = render::auth(a, token, r, &self.taint, &mut secrets);
                self.register(&secrets);
                Some(rendered.map_err(render_failure)?)
            }
            None => None,
        };
        let base_override = self.opts.base_url(&step.app.name);
        let request = render::build_request(
            &step.app,
            &step.action,
            &params,
            auth.as_ref(),
            base_override,
        )
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
            let base = base_override
                .map(str::to_string)
                .or_else(|| auth.as_ref().and_then(|a| a.base_url.clone()))
                .unwrap_or_else(|| step.app.base_url.clone());
            Parts::new(
                &step.app.name,
                &step.action.name,
                step.action.method,
                &base,
                &step.action.path,
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

    /// What the journal says about `step` with this request: done (its
    /// outputs reused), to run, or refused (a completed POST or PATCH whose
    /// request changed, a POST or PATCH whose outputs are gone).
    fn resume(&self, step: &Step, parts: &Parts) -> Result<Resume, Failure> {
        if self.past.is_empty() {
            return Ok(Resume::Run);
        }
        let journal = |m: String| Failure::new(FailureKind::Journal, m);
        let fingerprint = parts.fingerprint();
        let unsafe_method = !retry::idempotent(step.action.method);
        let mut claimed = self.claimed.borrow_mut();
        let found = self
            .past
            .exact(&step.key, &fingerprint)
            .filter(|(i, _)| !claimed.contains(i))
            .or_else(|| self.past.moved(&fingerprint, &claimed));
        if let Some((i, record)) = found {
            match record.state {
                State::Ok if !record.complete && referenced_later(self.wf, step) => {
                    if unsafe_method && !self.opts.rerun_changed {
                        return Err(journal(format!(
                            "{} ({:?}) completed in the journalled run, but its response held secrets, which the journal never stores, and a later step uses it; sending it again would repeat it. \
                             Start a new run, or pass `--rerun-changed` to send it again",
                            step.label(),
                            step.action.method
                        )));
                    }
                    self.warn(format!(
                        "{}: its journalled outputs held secrets, which are never stored, and a later step uses them; running it again",
                        step.label()
                    ));
                    return Ok(Resume::Run);
                }
                State::Ok => {
                    claimed.insert(i);
                    return Ok(Resume::Done(record.clone()));
                }
                State::Started => {
                    // In flight when the run stopped: refused before the run
                    // for POST and PATCH without `--rerun-uncertain`.
                    self.warn(format!(
                        "{}: it was in flight when the journalled run stopped; sending it again",
                        step.label()
                    ));
                    claimed.insert(i);
                    return Ok(Resume::Run);
                }
                State::Failed => return Ok(Resume::Run),
            }
        }
        if let Some(earlier) = self.past.latest(&step.key)
            && earlier.state == State::Ok
        {
            let changes = parts.changes_since(&earlier.parts).join(", ");
            if unsafe_method && !self.opts.rerun_changed {
                return Err(journal(format!(
                    "{} ({:?}) completed in the journalled run, and its request changed since ({changes}); it is not sent again. \
                     Check, then resume with `--rerun-changed` to send it",
                    step.label(),
                    step.action.method
                )));
            }
            self.warn(format!(
                "{}: its request changed since the journalled run; running it again (changed: {changes})",
                step.label()
            ));
        }
        Ok(Resume::Run)
    }

    /// Runs every step in order (apply). `Err` only when the journal cannot
    /// be opened; step failures are in the report.
    pub async fn run(
        &self,
        reporter: &RefCell<&mut dyn Reporter>,
        signals: &mut Signals,
    ) -> super::RunReport {
        let started = Instant::now();
        let mut report = super::RunReport {
            ok: true,
            steps: Vec::new(),
            duration: Duration::ZERO,
            interrupted: None,
        };
        let mut stopped = false;
        for step in &self.wf.steps {
            if stopped {
                let skipped = StepReport::new(step, StepStatus::Skipped);
                reporter.borrow_mut().step(&skipped);
                report.steps.push(skipped);
                continue;
            }
            let outcome = tokio::select! {
                r = self.apply_step(step, reporter) => Ok(r),
                signal = signals.next() => Err(signal),
            };
            {
                let warnings = self.warnings.borrow();
                for w in &warnings[self.reported.get()..] {
                    reporter.borrow_mut().warn(w);
                }
                self.reported.set(warnings.len());
            }
            let mut step_report = match outcome {
                Ok(r) => r,
                Err((code, name)) => {
                    // The request in flight is abandoned; its journal shows
                    // it started and never ended, which is the truth.
                    report.interrupted = Some(code);
                    let mut r = StepReport::new(step, StepStatus::Failed);
                    r.fail(Failure::new(
                        FailureKind::MaybeSent,
                        format!(
                            "interrupted by {name}; the request may or may not have reached the server"
                        ),
                    ));
                    r
                }
            };
            if step_report.status == StepStatus::Failed {
                if step.continue_on_error && report.interrupted.is_none() {
                    step_report.continued = true;
                } else {
                    report.ok = false;
                    stopped = true;
                }
            }
            reporter.borrow_mut().step(&step_report);
            report.steps.push(step_report);
        }
        report.duration = started.elapsed();
        report
    }

    async fn apply_step(&self, step: &Step, reporter: &RefCell<&mut dyn Reporter>) -> StepReport {
        let begin = Instant::now();
        let mut report = StepReport::new(step, StepStatus::Ok);
        if let Err(f) = self.try_step(step, reporter, &mut report).await {
            // A failure of the spec's making points at the step.
            let loc = matches!(f.kind, FailureKind::Render | FailureKind::Token)
                .then(|| step.loc.clone());
            report.fail(f.at(loc));
        }
        report.duration = begin.elapsed();
        report
    }

    async fn try_step(
        &self,
        step: &Step,
        reporter: &RefCell<&mut dyn Reporter>,
        report: &mut StepReport,
    ) -> Result<(), Failure> {
        let scope = self.scope();
        let r = self.renderer(&scope);
        let prepared = self.prepare(step, &r, None).await?;
        let parts = prepared
            .parts
            .expect("a request in `apply` is fully rendered");
        if let Resume::Done(record) = self.resume(step, &parts)? {
            let outputs = record.outputs.clone().unwrap_or(Value::Null);
            report.resumed = true;
            report.http_status = record.http_status;
            report.response = outputs.get("response").cloned();
            if let Some(id) = &step.id {
                self.steps.insert(id.clone(), to_value(&outputs));
            }
            return Ok(());
        }
        let policy = Policy::from(step.retry.or(step.app.retry));
        let timeouts = step.timeouts.or(step.app.timeouts).or(self.opts.timeouts);
        let limits = Limits {
            connect: timeouts.connect.unwrap_or(http::CONNECT_TIMEOUT),
            request: timeouts.request.unwrap_or(http::REQUEST_TIMEOUT),
            max_body: self.opts.max_response_size.unwrap_or(http::MAX_BODY),
        };
        let record = |state, http_status, outputs: Option<Value>, complete| Record {
            step: step.index,
            key: step.key.clone(),
            id: step.id.clone(),
            action: step.action.name.clone(),
            label: step.label(),
            request: parts.fingerprint(),
            parts: parts.clone(),
            state,
            http_status,
            outputs,
            complete,
        };
        // A client that cannot be built means nothing was sent: fail before
        // the journal says otherwise.
        let client = self
            .clients
            .client(limits.connect)
            .map_err(|e| Failure::new(FailureKind::NotSent, e))?;
        self.journal(&record(State::Started, None, None, true))?;
        let accepts = |status: u16| {
            if step.expect_status.is_empty() {
                (200..300).contains(&status)
            } else {
                step.expect_status.contains(&status)
            }
        };
        let mut attempt = 1;
        let result = loop {
            let result = send::send(&client, &prepared.request, limits).await;
            let outcome = match &result {
                Ok(resp) if accepts(resp.status) => break result,
                Ok(resp) => Outcome::Answered {
                    status: resp.status,
                    retry_after: resp.headers.get("retry-after").map(String::as_str),
                },
                Err(Transport::NotSent(_)) => Outcome::NotSent,
                Err(Transport::MaybeSent(_)) => Outcome::MaybeSent,
                Err(Transport::Final(_)) => Outcome::Final,
            };
            match retry::next(&policy, step.action.method, &outcome, attempt) {
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
                    reporter.borrow_mut().retry(&report.name, &note);
                    report.retries.push(note);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Ok(None) => break result,
                Err(why) => {
                    self.warn(format!("{}: not retried: {why}", step.label()));
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
        let response = match result {
            Ok(response) => response,
            Err(transport) => {
                let kind = match transport {
                    // Nothing reached the server: the step is cleanly not done.
                    Transport::NotSent(_) => {
                        self.journal(&record(State::Failed, None, None, true))?;
                        FailureKind::NotSent
                    }
                    _ => FailureKind::MaybeSent,
                };
                return Err(Failure::new(kind, tries(transport.message().to_string())));
            }
        };
        report.http_status = Some(response.status);
        report.reason = Some(response.reason.clone());
        report.response = Some(response.body.clone());
        let outputs = json!({"status": response.status, "headers": response.headers, "response": response.body});
        let redacted = self.opts.redactor.redact_json(&outputs);
        let complete = redacted == outputs;
        let ok = accepts(response.status);
        let state = if ok { State::Ok } else { State::Failed };
        self.journal(&record(
            state,
            Some(response.status),
            Some(redacted),
            complete,
        ))?;
        if let Some(id) = &step.id {
            self.steps.insert(id.clone(), to_value(&outputs));
        }
        if !ok {
            return Err(Failure::new(
                FailureKind::Status,
                tries(self.status_error(step, &response)),
            ));
        }
        Ok(())
    }

    fn journal(&self, record: &Record) -> Result<(), Failure> {
        let mut journal = self.journal.borrow_mut();
        let Some(journal) = journal.as_mut() else {
            return Ok(());
        };
        journal.record(record).map_err(|e| {
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

    fn status_error(&self, step: &Step, response: &Response) -> String {
        let expected = if step.expect_status.is_empty() {
            "a 2xx status".to_string()
        } else {
            step.expect_status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let mut message = format!(
            "expected {expected}, got {} {}",
            response.status, response.reason
        );
        if let Some(detail) = api_message(&response.body, &self.opts.redactor) {
            message.push_str(&format!(": {detail}"));
        }
        message
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

/// Whether a step after `step` uses its outputs.
fn referenced_later(wf: &Workflow, step: &Step) -> bool {
    let Some(id) = &step.id else { return false };
    wf.steps[step.index + 1..].iter().any(|later| {
        let mut values: Vec<Value> = later.params.values().map(|p| p.value.clone()).collect();
        if let Some(auth) = &later.auth {
            values.extend(
                auth.parameters
                    .iter()
                    .map(|p| Value::String(p.value.clone())),
            );
        }
        values.iter().any(|v| {
            let refs = wf.templates.refs_in(v);
            refs.steps.iter().any(|(s, _)| s == id) || refs.dynamic.contains("steps")
        })
    })
}
