//! `apply`: the steps in order, each with its retries, journalled as it
//! goes, resumable, and stoppable by Ctrl-C or SIGTERM without lying in the
//! journal.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::{self, Clients, Failure, Limits};
use super::journal::{self, Journal, Past, Record, State};
use super::retry::{self, Outcome, Policy};
use super::{Options, descope_settings, preflight, prepare, register, status_error};
use crate::check::{Bound, Workflow};
use crate::error::{Error, Result};
use crate::render::{self, Renderer, Scope, Token};
use crate::report::{Reporter, RetryNote, RunReport, StepReport, StepStatus};
use crate::resolve::descope::{self, TokenRequest};
use crate::spec::{Descope, Step};

/// Runs the steps in order. `Err` means nothing was sent.
pub async fn apply(
    wf: &Workflow,
    opts: &Options,
    reporter: &mut dyn Reporter,
) -> Result<RunReport> {
    let vars = preflight(wf, opts)?;
    let past = match (&opts.journal, opts.resume) {
        (Some(path), true) => Some(Past::read(path).map_err(|e| journal_error("read", path, &e))?),
        _ => None,
    };
    if let Some(past) = &past {
        check_uncertain(wf, past, opts.rerun_uncertain)?;
    }
    let journal = match &opts.journal {
        Some(path) => {
            Some(Journal::open(path, opts.resume).map_err(|e| journal_error("write", path, &e))?)
        }
        None => None,
    };
    let clients =
        Clients::new(&opts.resolve, &opts.cacerts, opts.insecure).map_err(Error::Environment)?;
    if opts.insecure {
        reporter.warn("`--insecure`: TLS certificates are not checked; anyone on the path can read and change this run's traffic, credentials included");
    }
    let mut signals = Signals::new()?;
    let mut run = Run {
        wf,
        opts,
        clients,
        vars: render::to_template_value(&vars),
        steps: BTreeMap::new(),
        tokens: HashMap::new(),
        warnings: Vec::new(),
        journal,
        past,
    };
    let started = Instant::now();
    let mut report = RunReport {
        ok: true,
        steps: Vec::new(),
        duration: Duration::ZERO,
        interrupted: None,
    };
    let mut stopped = false;
    for (step, bound) in wf.spec.steps.iter().zip(&wf.bound) {
        if stopped {
            let skipped = StepReport::new(step, &bound.action.name, StepStatus::Skipped);
            reporter.step(&skipped);
            report.steps.push(skipped);
            continue;
        }
        let outcome = tokio::select! {
            r = run.step(step, bound, reporter) => Ok(r),
            signal = signals.next() => Err(signal),
        };
        for w in run.warnings.drain(..) {
            reporter.warn(&w);
        }
        let mut step_report = match outcome {
            Ok(r) => r,
            Err((code, name)) => {
                // The step in flight is abandoned; its journal shows it started
                // and never ended, which is the truth.
                report.interrupted = Some(code);
                let mut r = StepReport::new(step, &bound.action.name, StepStatus::Failed);
                r.error = Some(format!(
                    "interrupted by {name}; the request may or may not have reached the server"
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
        reporter.step(&step_report);
        report.steps.push(step_report);
    }
    report.duration = started.elapsed();
    Ok(report)
}

fn journal_error(verb: &str, path: &std::path::Path, e: &std::io::Error) -> Error {
    Error::Environment(format!(
        "cannot {verb} the journal `{}`: {}",
        path.display(),
        e.to_string().to_lowercase()
    ))
}

/// A POST or PATCH that was in flight when the journalled run stopped may
/// have happened: resuming would repeat it, so it takes an explicit yes.
fn check_uncertain(wf: &Workflow, past: &Past, rerun: bool) -> Result<()> {
    if rerun {
        return Ok(());
    }
    for record in past.uncertain() {
        let Some(bound) = wf.bound.get(record.step) else {
            continue;
        };
        if !retry::idempotent(bound.action.method) {
            let step = &wf.spec.steps[record.step];
            return Err(Error::Environment(format!(
                "{} (`{}`, {:?}) was in flight when the journalled run stopped: it may or may not have happened. \
                 Check, then resume with `--rerun-uncertain` to send it again",
                step.label(),
                bound.action.name,
                bound.action.method
            )));
        }
    }
    Ok(())
}

/// SIGINT and SIGTERM, as exit code and name.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind| {
                signal(kind)
                    .map_err(|e| Error::Environment(format!("cannot listen for signals: {e}")))
            };
            Ok(Signals {
                int: listen(SignalKind::interrupt())?,
                term: listen(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) -> (u8, &'static str) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => (130, "SIGINT"),
                _ = self.term.recv() => (143, "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            (130, "Ctrl-C")
        }
    }
}

struct Run<'a> {
    wf: &'a Workflow,
    opts: &'a Options,
    clients: Clients,
    vars: minijinja::Value,
    /// Each earlier step's outputs, converted once for templates.
    steps: BTreeMap<String, minijinja::Value>,
    /// Tokens fetched this run, by where and what was asked.
    tokens: HashMap<(String, String, TokenRequest), Token>,
    warnings: Vec<String>,
    journal: Option<Journal>,
    past: Option<Past>,
}

impl Run<'_> {
    async fn step(
        &mut self,
        step: &Step,
        bound: &Bound,
        reporter: &mut dyn Reporter,
    ) -> StepReport {
        let begin = Instant::now();
        let mut report = StepReport::new(step, &bound.action.name, StepStatus::Ok);
        if let Err(e) = self.try_step(step, bound, reporter, &mut report).await {
            report.status = StepStatus::Failed;
            report.error = Some(e);
        }
        report.duration = begin.elapsed();
        report
    }

    async fn try_step(
        &mut self,
        step: &Step,
        bound: &Bound,
        reporter: &mut dyn Reporter,
        report: &mut StepReport,
    ) -> std::result::Result<(), String> {
        let steps = minijinja::Value::from(self.steps.clone());
        let scope = Scope::from_values(self.opts.env.clone(), self.vars.clone(), steps);
        let r = Renderer {
            templates: &self.wf.templates,
            scope: &scope,
            plan: false,
        };
        let params = render::params(step, bound, &r)?;
        let fingerprint = journal::fingerprint(&bound.app.name, &bound.action.name, &params.values);
        if self.resumed(step, &fingerprint, report) {
            return Ok(());
        }
        let token = match bound.auth.as_ref().and_then(|a| a.descope.as_ref()) {
            Some(d) => Some(self.token(d, &r, reporter).await?),
            None => None,
        };
        let prepared = prepare(bound, &params, &r, token.as_ref(), self.opts)?;
        register(&self.opts.redactor, &prepared.secrets, &mut self.warnings);
        let policy = Policy::from(step.retry.or(bound.app.retry));
        let timeouts = step.timeouts.or(bound.app.timeouts).or(self.opts.timeouts);
        let limits = Limits {
            connect: timeouts.connect.unwrap_or(http::CONNECT_TIMEOUT),
            request: timeouts.request.unwrap_or(http::REQUEST_TIMEOUT),
            max_body: self.opts.max_response_size.unwrap_or(http::MAX_BODY),
        };
        let record = |state, http_status, outputs: Option<Value>, complete| Record {
            step: step.index,
            id: step.id.clone(),
            action: bound.action.name.clone(),
            request: fingerprint.clone(),
            state,
            http_status,
            outputs,
            complete,
        };
        // A client that cannot be built means nothing was sent: fail before
        // the journal says otherwise.
        self.clients.get(limits.connect)?;
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
            let client = self.clients.get(limits.connect)?;
            let result = http::send(client, &prepared.request, limits).await;
            let outcome = match &result {
                Ok(resp) if accepts(resp.status) => break result,
                Ok(resp) => Outcome::Answered {
                    status: resp.status,
                    retry_after: resp.headers.get("retry-after").map(String::as_str),
                },
                Err(Failure::NotSent(_)) => Outcome::NotSent,
                Err(Failure::MaybeSent(_)) => Outcome::MaybeSent,
                Err(Failure::Final(_)) => Outcome::Final,
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
                    reporter.retry(&report.name, &note);
                    report.retries.push(note);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Ok(None) => break result,
                Err(why) => {
                    self.warnings
                        .push(format!("{}: not retried: {why}", step.label()));
                    break result;
                }
            }
        };
        let response = match result {
            Ok(response) => response,
            Err(failure) => {
                let state = match failure {
                    // Nothing reached the server: the step is cleanly not done.
                    Failure::NotSent(_) => State::Failed,
                    _ => State::Started,
                };
                if state == State::Failed {
                    self.journal(&record(State::Failed, None, None, true))?;
                }
                let mut message = failure.message().to_string();
                if attempt > 1 {
                    message.push_str(&format!(" (after {attempt} tries)"));
                }
                return Err(message);
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
            self.steps
                .insert(id.clone(), render::to_template_value(&outputs));
        }
        if !ok {
            let mut message = status_error(step, &response);
            if attempt > 1 {
                message.push_str(&format!(" (after {attempt} tries)"));
            }
            return Err(message);
        }
        Ok(())
    }

    fn journal(&mut self, record: &Record) -> std::result::Result<(), String> {
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        journal.record(record).map_err(|e| {
            format!(
                "cannot write the journal `{}`: {}; stopping before anything else is sent",
                journal.path.display(),
                e.to_string().to_lowercase()
            )
        })
    }

    /// On `--resume`, reuses what the journal records as done with the same
    /// request; says why when it cannot.
    fn resumed(&mut self, step: &Step, fingerprint: &str, report: &mut StepReport) -> bool {
        let Some(record) = self.past.as_ref().and_then(|p| p.last(step.index)) else {
            return false;
        };
        match record.state {
            State::Ok if record.request != fingerprint => {
                self.warnings.push(format!(
                    "{}: its request changed since the journalled run; running it again",
                    step.label()
                ));
                false
            }
            State::Ok if !record.complete && referenced_later(self.wf, step) => {
                self.warnings.push(format!(
                    "{}: its journalled outputs held secrets, which are never stored, and a later step uses them; running it again",
                    step.label()
                ));
                false
            }
            State::Ok => {
                let outputs = record.outputs.clone().unwrap_or(Value::Null);
                report.resumed = true;
                report.http_status = record.http_status;
                report.response = outputs.get("response").cloned();
                if let Some(id) = &step.id {
                    self.steps
                        .insert(id.clone(), render::to_template_value(&outputs));
                }
                true
            }
            State::Started => {
                self.warnings.push(format!(
                    "{}: it was in flight when the journalled run stopped; sending it again",
                    step.label()
                ));
                false
            }
            State::Failed => false,
        }
    }

    async fn token(
        &mut self,
        d: &Descope,
        r: &Renderer<'_>,
        reporter: &mut dyn Reporter,
    ) -> std::result::Result<Token, String> {
        let text = |f: &crate::spec::Located<String>| {
            render::text(&f.value, r).map_err(|e| format!("descope: {e}"))
        };
        let request = TokenRequest {
            app_id: text(&d.app_id)?,
            user_id: d.user_id.as_ref().map(text).transpose()?,
            tenant_id: d.tenant_id.as_ref().map(text).transpose()?,
            scopes: match &d.scopes {
                Some(scopes) if !scopes.is_empty() => Some(
                    scopes
                        .iter()
                        .map(text)
                        .collect::<std::result::Result<_, _>>()?,
                ),
                _ => None,
            },
        };
        let settings = descope_settings(d, r, self.opts)?;
        let key = (
            settings.base_url.clone(),
            settings.project_id.clone(),
            request,
        );
        if let Some(token) = self.tokens.get(&key) {
            return Ok(token.clone());
        }
        register(
            &self.opts.redactor,
            std::slice::from_ref(&settings.management_key),
            &mut self.warnings,
        );
        let client = self.clients.get(http::CONNECT_TIMEOUT)?;
        let fetched = descope::fetch(
            client,
            &settings,
            &key.2,
            descope::DEFAULT_TIMEOUT,
            &mut |reason, wait| {
                reporter.warn(&format!("{reason}; retrying in {} ms", wait.as_millis()))
            },
        )
        .await?;
        let mut secrets = vec![fetched.token.access_token.clone()];
        secrets.extend(fetched.refresh_token);
        register(&self.opts.redactor, &secrets, &mut self.warnings);
        self.tokens.insert(key, fetched.token.clone());
        Ok(fetched.token)
    }
}

/// Whether a step after `step` uses its outputs.
fn referenced_later(wf: &Workflow, step: &Step) -> bool {
    let Some(id) = &step.id else { return false };
    wf.spec.steps[step.index + 1..].iter().any(|later| {
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
