//! Sending one request as apply does: matched against the journal being
//! resumed (and taken from it when it was done), journalled `started`
//! before it leaves, sent with its retries, journalled with its answer, and
//! checked against the step's success criteria.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::apply::Apply;
use super::resume::{Resume, from_record};
use super::{Act, Prepared, Unit, Walk, show};
use crate::execute::assert;
use crate::execute::journal::{Entry, Journal, Outputs, Parts, Record, State};
use crate::execute::outcome::{Failure, FailureKind, RetryNote};
use crate::execute::retry::{self, Outcome, Policy};
use crate::execute::send::{self, Limits, Transport};
use crate::execute::throttle::{self, TooLong};
use crate::execute::trace::Trace;
use crate::http::{self, ratelimit};
use crate::render::Renderer;
use crate::spec::Method;
use crate::template::Scope;

impl Walk<'_, Apply<'_>> {
    /// Sends a request (or takes it from the journal), then checks the
    /// step's success criteria on the response.
    pub(super) async fn request(
        &self,
        act: &Act<'_>,
        prepared: &Prepared,
        unit: &mut Unit,
    ) -> Result<(), Failure> {
        // Without a journal to read or write, nothing identifies requests.
        let parts = prepared.parts.as_ref();
        // Computed once: for the journal being resumed, and for the records.
        let fingerprint = parts.map(Parts::fingerprint);
        let parts = parts.zip(fingerprint.as_deref());
        if let Some(parts) = parts {
            match self.mode.journalled.resume(self, act, parts)? {
                Resume::Done(record) => {
                    let from = from_record(&record);
                    unit.http_status = from.http_status;
                    unit.headers = from.headers;
                    unit.response = from.response;
                    unit.resumed = true;
                    return Ok(());
                }
                Resume::Again(old) => self.abandon(*old)?,
                Resume::Run => {}
            }
        }
        // A POST or PATCH, which resume must never repeat by accident, is
        // journalled as started before it leaves (and, in strict mode,
        // synced); other methods only when they end.
        let guarded =
            parts.filter(|_| matches!(act.bound.action.method, Method::POST | Method::PATCH));
        if let Some(parts) = guarded
            && let Some((journal, seq)) =
                self.journal_record(act, parts, State::Started, None, None)?
        {
            journal.guard(seq).await.map_err(|e| {
                Failure::new(
                    FailureKind::Journal,
                    format!(
                        "cannot sync the journal `{}`: {e}; stopping before anything else is sent",
                        journal.path.display()
                    ),
                )
            })?;
        }
        crate::execute::failpoint::pause("before-send");
        let sent = self.exchange(act, prepared, unit).await;
        crate::execute::failpoint::pause("answered");
        if let Err(f) = sent {
            // Nothing reached the server (or the app's spent quota kept the
            // request back): it is cleanly not done.
            if matches!(f.kind, FailureKind::NotSent | FailureKind::RateLimited)
                && let Some(parts) = guarded
            {
                self.journal_record(act, parts, State::Failed, None, None)?;
            }
            return Err(f);
        }
        let scope = super::response_scope(act.scope, unit);
        let checked = match unit.throttled.take() {
            Some(refused) => Err(refused),
            None => self.criteria(act, unit, &scope),
        };
        let state = if checked.is_ok() {
            State::Ok
        } else {
            State::Failed
        };
        if let Some(parts) = parts {
            self.journal_response(act, parts, state, unit)?;
        }
        checked
    }

    /// The step's success criteria on the unit's response: status, body,
    /// headers, schema, `that`.
    pub(super) fn criteria(
        &self,
        act: &Act<'_>,
        unit: &Unit,
        scope: &Scope,
    ) -> Result<(), Failure> {
        let expect = act.step.expect();
        let redactor = &self.setup.opts.redactor;
        let status = unit.http_status.unwrap_or_default();
        if !expect.accepts(status) {
            let mut message = format!(
                "expected {}, got {status} {}",
                expect.expected_status(),
                unit.reason.clone().unwrap_or_default()
            );
            if let Some(detail) = unit
                .response
                .as_ref()
                .and_then(|b| api_message(b, redactor))
            {
                message.push_str(&format!(": {detail}"));
            }
            return Err(Failure::new(FailureKind::Status, message));
        }
        let body = unit.response.as_ref().unwrap_or(&Value::Null);
        assert::response(expect, &unit.headers, body, redactor).map_err(|mut f| {
            // Slack's `{"ok": false, "error": "channel_not_found"}`: say why.
            if let Some(words) = api_words(body, redactor)
                && !f.message.contains(&words)
            {
                f.message
                    .push_str(&format!(" (the response says \"{words}\")"));
            }
            f
        })?;
        let r = Renderer {
            templates: &self.setup.wf.templates,
            scope,
            plan: false,
            known_steps: None,
            show_known: false,
        };
        for that in &expect.that {
            let holds = r
                .render(&that.value)
                .map_err(|e| {
                    Failure::new(FailureKind::Render, format!("expect.that: {e}"))
                        .at(Some(that.loc.clone()))
                })?
                .value;
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

    /// Journals that the send `old`, in flight when an earlier run stopped,
    /// is given up on: this run sends it again.
    fn abandon(&self, mut old: Record) -> Result<(), Failure> {
        let Some(journal) = &self.mode.journal else {
            return Ok(());
        };
        old.state = State::Abandoned;
        journal.record(&old.entry()).map(|_| ()).map_err(|e| {
            Failure::new(
                FailureKind::Journal,
                format!(
                    "cannot write the journal `{}`: {}; stopping before anything else is sent",
                    journal.path.display(),
                    crate::fsio::io_words(&e)
                ),
            )
        })
    }

    /// The journal record that ends a polled step.
    pub(super) fn journal_end(&self, act: &Act<'_>, prepared: &Prepared, unit: &Unit) {
        let Some(parts) = &prepared.parts else { return };
        let fingerprint = parts.fingerprint();
        let parts = (parts, fingerprint.as_str());
        let state = if unit.failure.is_none() {
            State::Ok
        } else {
            State::Failed
        };
        let _ = self.journal_response(act, parts, state, unit);
    }

    /// The journal record of a request that was answered: its state and
    /// what it answered (`status`, `headers`, `response`).
    fn journal_response(
        &self,
        act: &Act<'_>,
        parts: (&Parts, &str),
        state: State,
        unit: &Unit,
    ) -> Result<(), Failure> {
        self.journal_record(act, parts, state, unit.http_status, Some(unit))
            .map(|_| ())
    }

    /// Writes a record, with what `answered` answered; the journal and the
    /// record's number, when there is a journal.
    fn journal_record(
        &self,
        act: &Act<'_>,
        (parts, fingerprint): (&Parts, &str),
        state: State,
        http_status: Option<u16>,
        answered: Option<&Unit>,
    ) -> Result<Option<(&Journal, u64)>, Failure> {
        let Some(journal) = &self.mode.journal else {
            return Ok(None);
        };
        let redactor = &self.setup.opts.redactor;
        let redacted: Option<Value>;
        let (outputs, complete) = match answered {
            // What a later step's auth reads may be a credential: never stored.
            Some(_) if act.step.feeds_auth => (None, false),
            // Most answers hold no secret: written as they are, uncopied.
            Some(unit) if !reveals(redactor, unit) => (
                Some(Outputs::Answer {
                    status: unit.http_status,
                    headers: &unit.headers,
                    response: unit.response.as_ref(),
                }),
                true,
            ),
            Some(unit) => {
                redacted = Some(redactor.redact_json(&json!({
                    "status": unit.http_status,
                    "headers": unit.headers,
                    "response": unit.response,
                })));
                (redacted.as_ref().map(Outputs::Object), false)
            }
            None => (None, true),
        };
        let record = Entry {
            step: act.step.def.index,
            key: &act.key,
            id: act.step.def.id.as_deref(),
            action: &act.bound.action.name,
            label: &act.label,
            request: fingerprint,
            parts,
            state,
            http_status,
            outputs,
            complete,
            now: Some(&self.setup.now),
        };
        journal
            .record(&record)
            .map(|seq| Some((journal, seq)))
            .map_err(|e| {
                Failure::new(
                    FailureKind::Journal,
                    format!(
                        "cannot write the journal `{}`: {}; stopping before anything else is sent",
                        journal.path.display(),
                        crate::fsio::io_words(&e)
                    ),
                )
            })
    }

    /// Sends a request with its retries; fills the unit's response.
    pub(super) async fn exchange(
        &self,
        act: &Act<'_>,
        prepared: &Prepared,
        unit: &mut Unit,
    ) -> Result<(), Failure> {
        let (step, bound) = (act.step, act.bound);
        let opts = self.setup.opts;
        let policy = Policy::from(step.def.retry().or(bound.app.retry));
        let timeouts = step.def.timeouts().or(bound.app.timeouts).or(opts.timeouts);
        let limits = Limits {
            connect: timeouts.connect.unwrap_or(http::CONNECT_TIMEOUT),
            request: timeouts.request.unwrap_or(http::REQUEST_TIMEOUT),
            max_body: opts.max_response_size.unwrap_or(http::MAX_BODY),
        };
        // A client that cannot be built means nothing was sent.
        let client = self
            .setup
            .clients
            .for_steps(limits.connect)
            .map_err(|e| Failure::new(FailureKind::NotSent, e.to_string()))?;
        let app = bound.app.name.as_str();
        let throttles = &self.mode.throttles;
        let mut attempt = 1;
        let result = loop {
            // Every try, retries included, holds the app's limits.
            let admitted = throttles
                .admit(app, policy.max_wait, |line| self.mode.reporter.warn(&line))
                .await
                .map_err(|too_long| {
                    Failure::new(
                        FailureKind::RateLimited,
                        spent(app, &too_long, policy.max_wait),
                    )
                })?;
            let trace = Trace {
                tracer: self.mode.tracer(opts.verbosity),
                label: &act.label,
                attempt,
                attempts: policy.attempts,
            };
            let result = send::send(&client, &prepared.request, limits, &trace).await;
            drop(admitted);
            let quota = result.as_ref().ok().and_then(|resp| {
                ratelimit::exhausted(resp.status, &resp.headers, SystemTime::now())
            });
            if let Some(spent) = &quota {
                throttles.exhausted(app, spent);
            }
            let outcome = match &result {
                Ok(resp) if step.expect().accepts(resp.status) => break result,
                Ok(resp) => Outcome::Answered {
                    status: resp.status,
                    retry_after: resp.headers.get("retry-after").map(String::as_str),
                    quota: quota.as_ref().map(|q| q.wait),
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
                    self.mode.reporter.retry(&step.def.name(), &note);
                    unit.retries.push(note);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Ok(None) => break result,
                Err(why) => {
                    self.warn(format!("{}: not retried: {why}", act.label));
                    // Refused for a rate limit spent too long: the step
                    // fails saying so, whatever its criteria would say.
                    unit.throttled = quota.map(|q| {
                        let too_long = TooLong {
                            fields: q.fields,
                            wait: why.asked,
                        };
                        Failure::new(
                            FailureKind::RateLimited,
                            spent(app, &too_long, policy.max_wait),
                        )
                    });
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
                if attempt > 1 && !step.expect().accepts(response.status) {
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
}

/// The failure of a request to `app` that would wait longer than `max_wait`
/// for the quota its answers said was spent.
fn spent(app: &str, too_long: &TooLong, max_wait: Duration) -> String {
    format!(
        "app `{app}`: the API says its rate limit is spent ({}) for {} more, longer than the {} a request may wait (`retry.max_wait`)",
        too_long.fields,
        throttle::show_wait(too_long.wait),
        crate::units::show(max_wait)
    )
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

/// Whether a secret shows anywhere in what `unit` answered: what the
/// journal's redaction would mask.
fn reveals(redactor: &crate::redact::Redactor, unit: &Unit) -> bool {
    // The object's own keys too: redaction masks keys as well as values.
    ["status", "headers", "response"]
        .iter()
        .any(|key| redactor.reveals(key))
        || unit
            .http_status
            .is_some_and(|s| redactor.reveals(&s.to_string()))
        || unit
            .headers
            .iter()
            .any(|(k, v)| redactor.reveals(k) || redactor.reveals(v))
        || unit
            .response
            .as_ref()
            .is_some_and(|r| redactor.reveals_json(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redactor;
    use crate::secret::Secret;

    #[test]
    fn an_answer_reveals_what_its_redaction_would_mask() {
        let unit = Unit {
            http_status: Some(200),
            response: Some(json!({"id": 7})),
            ..Unit::default()
        };
        let redactor = Redactor::new();
        assert!(!reveals(&redactor, &unit));
        // A secret short enough to sit inside the object's own keys.
        redactor.register(&Secret::new("resp"));
        assert!(reveals(&redactor, &unit));
        let object = json!({"status": 200, "headers": {}, "response": {"id": 7}});
        assert_ne!(redactor.redact_json(&object), object);
    }
}
