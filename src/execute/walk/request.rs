//! One action's requests: prepared (params, credential, auth, URL and the
//! checks every request must pass), then shown (plan), matched against the
//! journal (the checks before a run), or sent — once, polled `until` a
//! condition holds, or page after page — with retries, journal records and
//! the step's success criteria and outputs.

use super::link::next_link;
use super::resume::from_record;
use super::*;

impl Walker<'_> {
    /// An action: its request prepared, then shown (plan), matched against
    /// the journal (checks) or sent, polled or paged, and checked against
    /// its success criteria (apply).
    pub(super) async fn action(
        &self,
        step: &Step,
        bound: &Bound,
        frame: &Frame,
        scope: &Scope,
        label: &str,
        mut notes: Vec<String>,
    ) -> Result<Unit, Error> {
        let r = self.renderer(scope, frame);
        let origins = self.origins(frame);
        let prepared = match self.prepare(step, bound, &r, &origins, None).await {
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
            self.pages(step, bound, &r, &origins, prepared, paginate, &key, label)
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
    pub(super) fn outputs(
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
    pub(super) fn response_scope(&self, scope: &Scope, unit: &Unit) -> Scope {
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
    pub(super) async fn once(
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
    pub(super) async fn poll(
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
    pub(super) async fn pages(
        &self,
        step: &Step,
        bound: &Bound,
        r: &Renderer<'_>,
        origins: &render::Origins<'_>,
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
                    match self
                        .prepare(step, bound, r, origins, Some((&param, &value)))
                        .await
                    {
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
    /// auth dropped when the link leads to another origin, as for redirects,
    /// and the auth query parameters the link left out added back when it
    /// stays on the same origin.
    pub(super) fn follow(&self, from: &Prepared, next: &url::Url) -> Result<Prepared, Failure> {
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
        // What identifies the page: its URL without the auth added back.
        let identity = url.to_string();
        if same_origin {
            // An API that authenticates by query links to its next page
            // without the key: the same origin gets it again, as sent.
            let carried: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            let missing: Vec<(String, String)> = origin
                .query_pairs()
                .filter(|(k, _)| {
                    request.auth_query.iter().any(|a| a == k) && !carried.iter().any(|c| c == k)
                })
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if !missing.is_empty() {
                url.query_pairs_mut().extend_pairs(&missing);
            }
        }
        request.url = url.to_string();
        request.body = None;
        let parts = from.parts.as_ref().map(|p| {
            let mut p = p.clone();
            p.base_url_shown = self.opts.redactor.redact(&identity);
            p.base_url = Parts::new(
                &p.app,
                &p.action,
                request.method,
                &identity,
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
    pub(super) async fn request(
        &self,
        step: &Step,
        bound: &Bound,
        prepared: &Prepared,
        key: &str,
        label: &str,
        unit: &mut Unit,
        scope: &Scope,
    ) -> Result<(), Failure> {
        // Without a journal to read or write, nothing identifies requests.
        let parts = prepared.parts.as_ref();
        if let Some(parts) = parts {
            if let Resume::Done(record) = self.resume(step, key, label, parts)? {
                let from = from_record(&record);
                unit.http_status = from.http_status;
                unit.headers = from.headers;
                unit.response = from.response;
                unit.resumed = true;
                return Ok(());
            }
            self.journal_record(step, bound, parts, key, label, State::Started, None, None)?;
        }
        let sent = self.exchange(step, bound, prepared, label, unit).await;
        if let Err(f) = sent {
            if f.kind == FailureKind::NotSent
                && let Some(parts) = parts
            {
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
        if let Some(parts) = parts {
            self.journal_response(step, bound, parts, key, label, state, unit)?;
        }
        checked
    }

    /// The step's success criteria on the unit's response: status, body,
    /// headers, schema, `that`.
    pub(super) fn criteria(&self, step: &Step, unit: &Unit, scope: &Scope) -> Result<(), Failure> {
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
    pub(super) fn journal_end(
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
        let _ = self.journal_response(step, bound, parts, key, label, state, unit);
    }

    /// The journal record of a request that was answered: its state and
    /// what it answered (`status`, `headers`, `response`).
    #[allow(clippy::too_many_arguments)]
    fn journal_response(
        &self,
        step: &Step,
        bound: &Bound,
        parts: &Parts,
        key: &str,
        label: &str,
        state: State,
        unit: &Unit,
    ) -> Result<(), Failure> {
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
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn journal_record(
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
    pub(super) async fn exchange(
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
    pub(super) async fn prepare(
        &self,
        step: &Step,
        bound: &Bound,
        r: &Renderer<'_>,
        origins: &render::Origins<'_>,
        set: Option<(&str, &Value)>,
    ) -> Result<Prepared, Failure> {
        let render_failure = |m: String| Failure::new(FailureKind::Render, m);
        let params =
            render::params(step, &bound.action, r, origins, set).map_err(render_failure)?;
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
        // `url_origin`: a `url` anywhere else is refused before anything
        // (a credential source's token included) is fetched or sent.
        if let (Some(t), Some(origin)) = (&target, &step.url_origin)
            && let Some(outside) = http::outside_origin(t, &origin.value)
        {
            return Err(Failure::new(
                FailureKind::Render,
                format!(
                    "`url` leads to `{outside}`, outside `url_origin` (`{}`); nothing was sent",
                    http::show_origin(&origin.value)
                ),
            )
            .at(step.url.as_ref().map(|u| u.loc.clone())));
        }
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
        crate::execute::files::inspect(&mut request, &self.uploads, self.opts.max_upload())
            .map_err(|(param, message)| {
                // Said at the value that names the file.
                let loc = step
                    .params
                    .get(&param)
                    .map(|p| p.loc.clone())
                    .or_else(|| bound.action.params.get(&param).map(|p| p.loc.clone()));
                render_failure(message).at(loc)
            })?;
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
        let parts = (params.deferred.is_empty() && self.identifies()).then(|| {
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

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
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
