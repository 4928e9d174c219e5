//! `apply`: the walk that sends. A prepared request is sent once, polled
//! `until` a condition holds, or followed page after page; its success
//! criteria and outputs are checked; each root step is reported as it
//! ends. Sending itself, with retries and journal records, is
//! [`super::exchange`]'s.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::link::next_link;
use super::resume::Journalled;
use super::{Act, Mode, Prepared, Unit, Walk, response_scope};
use crate::check::Step;
use crate::error::Error;
use crate::execute::journal::{Journal, Parts};
use crate::execute::outcome::{Failure, FailureKind, Progress, Reporter, StepReport};
use crate::execute::throttle::Throttles;
use crate::render::{Renderer, Token};
use crate::spec::{Next, Paginate, Source};

/// Apply's state: the journal it writes, whom it reports to, and what has
/// ended so far (a run stopped by a signal reports it).
pub(in crate::execute) struct Apply<'a> {
    pub journalled: &'a Journalled<'a>,
    /// `None` with `--no-journal`.
    pub journal: Option<Journal>,
    pub reporter: &'a dyn Reporter,
    /// The root steps that have ended.
    pub done: RefCell<Vec<StepReport>>,
    /// When the root step running now began.
    pub began: Cell<Option<Instant>>,
    /// Each app's limits and quota, for every request of the run.
    pub throttles: Throttles,
    /// Where `-v` traces go: the reporter.
    trace_out: Box<dyn Fn(&str) + 'a>,
}

impl<'a> Apply<'a> {
    pub(crate) fn new(
        journalled: &'a Journalled<'a>,
        journal: Option<Journal>,
        reporter: &'a dyn Reporter,
        root_steps: usize,
    ) -> Self {
        Apply {
            journalled,
            journal,
            reporter,
            // One report per root step: room for exactly those.
            done: RefCell::new(Vec::with_capacity(root_steps)),
            began: Cell::default(),
            throttles: Throttles::default(),
            trace_out: Box::new(move |block| reporter.trace(block)),
        }
    }

    /// Traces at `verbosity` (`-v`, `-vv`) to the reporter.
    pub(crate) fn tracer(&self, verbosity: crate::http::Verbosity) -> crate::http::Tracer<'_> {
        crate::http::Tracer {
            verbosity,
            out: &*self.trace_out,
        }
    }

    /// With the apps' limits, which are none by default.
    pub(crate) fn throttled(self, throttles: Throttles) -> Self {
        Apply { throttles, ..self }
    }
}

impl Walk<'_, Apply<'_>> {
    /// Reports the warnings not reported yet.
    pub(crate) fn flush_warnings(&self) {
        for w in self.warnings.take() {
            self.mode.reporter.warn(&w);
        }
    }
}

impl Mode for Apply<'_> {
    const SENDS: bool = true;

    fn identifies(&self) -> bool {
        !self.journalled.past.is_empty() || self.journal.is_some()
    }

    async fn token(
        &self,
        walk: &Walk<'_, Self>,
        source: &Source,
        r: &Renderer<'_>,
    ) -> Result<Token, Failure> {
        let notes = |note| walk.warn(note);
        let mut ctx = walk.context(&notes);
        ctx.tracer = self.tracer(walk.setup.opts.verbosity);
        walk.setup
            .sources
            .fetch(source, r, &ctx)
            .await
            .map_err(|e| Failure::new(FailureKind::Token, e.to_string()))
    }

    async fn action(
        &self,
        walk: &Walk<'_, Self>,
        act: &Act<'_>,
        prepared: Prepared,
        _notes: Vec<String>,
    ) -> Result<Unit, Error> {
        let step = &act.step.def;
        let mut unit = if let Some(paginate) = &step.paginate {
            walk.pages(act, prepared, paginate).await
        } else if step.until.is_some() {
            walk.poll(act, prepared).await
        } else {
            walk.once(act, &prepared).await
        };
        if unit.failure.is_none() && !unit.resumed {
            if let Err(f) = walk.outputs(act, &mut unit) {
                unit.failure = Some(f);
            }
        } else if unit.resumed && unit.failure.is_none() {
            // Outputs of a resumed request are computed again from what the
            // journal kept.
            let _ = walk.outputs(act, &mut unit);
        }
        Ok(unit)
    }

    fn begins(&self) {
        self.began.set(Some(Instant::now()));
    }

    async fn watched<T>(&self, step: &Step, run: impl Future<Output = T>) -> T {
        let def = &step.def;
        let long = def.each.is_some() || def.until.is_some() || def.paginate.is_some();
        let Some(every) = self.reporter.pulse_every(long) else {
            return run.await;
        };
        self.reporter.progress(Progress::Began {
            name: &def.name(),
            action: &step.target(),
        });
        let out = pulsing(self.reporter, every, run).await;
        self.reporter.progress(Progress::Ended);
        out
    }

    fn progress(&self, event: Progress<'_>) {
        self.reporter.progress(event);
    }

    fn ended(&self, walk: &Walk<'_, Self>, mut report: StepReport) {
        walk.flush_warnings();
        self.reporter.step(&report);
        if walk.setup.opts.drop_responses {
            report.drop_responses();
        }
        self.done.borrow_mut().push(report);
    }
}

/// `run`, with `reporter` told every `every` that it is still running; no
/// thread and no task: the ticks are polled beside the run.
async fn pulsing<T>(reporter: &dyn Reporter, every: Duration, run: impl Future<Output = T>) -> T {
    let mut run = std::pin::pin!(run);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut run => return out,
            _ = ticks.tick() => reporter.pulse(),
        }
    }
}

/// What an `until` condition looks at, for progress: the first value of
/// the response it names (`status=queued`), else the HTTP status.
struct Looked {
    path: Vec<String>,
}

impl Looked {
    fn new(condition: &Value) -> Looked {
        let path = match condition {
            Value::String(s) => crate::template::taint::paths(s, "response")
                .0
                .into_iter()
                .next()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Looked { path }
    }

    fn show(&self, unit: &Unit) -> String {
        if self.path.is_empty() {
            return format!("status={}", unit.http_status.unwrap_or_default());
        }
        let mut at = unit.response.as_ref();
        for seg in &self.path {
            at = at.and_then(|v| match v {
                Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                other => other.get(seg),
            });
        }
        let shown = match at {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "(none)".to_string(),
        };
        format!("{}={shown}", self.path.join("."))
    }
}

/// Where the next page is.
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

impl Walk<'_, Apply<'_>> {
    /// One request, then its success criteria.
    async fn once(&self, act: &Act<'_>, prepared: &Prepared) -> Unit {
        let mut unit = Unit::default();
        if let Err(f) = self.request(act, prepared, &mut unit).await {
            unit.failure = Some(f);
        }
        unit
    }

    /// `until`: the request again, `every` so often, until the condition
    /// holds or `timeout` passes. The success criteria apply to the last
    /// response only.
    async fn poll(&self, act: &Act<'_>, prepared: Prepared) -> Unit {
        let until = act.step.def.until.as_ref().expect("a polled step");
        let started = Instant::now();
        let mut attempts = 0;
        // A loop's items poll at once: progress counts its items instead.
        let watched = act.frame.flow == 0
            && act.step.def.each.is_none()
            && self.mode.reporter.pulse_every(true).is_some();
        let looked = watched.then(|| Looked::new(&until.condition.value));
        let of = (until.timeout.as_millis() / until.every.as_millis().max(1)) as u32 + 1;
        loop {
            attempts += 1;
            let mut unit = Unit::default();
            // Each try is one request; the journal records the step's end.
            if let Err(f) = self.exchange(act, &prepared, &mut unit).await {
                unit.failure = Some(f);
                return unit;
            }
            if let Some(looked) = &looked {
                self.mode.reporter.progress(Progress::Try {
                    attempt: attempts,
                    of: of.max(attempts),
                    looked: Some(&looked.show(&unit)),
                });
            }
            if let Some(refused) = unit.throttled.take() {
                unit.failure = Some(refused);
                self.journal_end(act, &prepared, &unit);
                return unit;
            }
            let scope = response_scope(act.scope, &unit);
            match self.condition(&until.condition.value, &scope, act.frame) {
                Ok(Some(true)) => {
                    if let Err(f) = self.criteria(act, &unit, &scope) {
                        unit.failure = Some(f);
                    }
                    self.journal_end(act, &prepared, &unit);
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
                self.journal_end(act, &prepared, &unit);
                return unit;
            }
            tokio::time::sleep(until.every.min(left)).await;
        }
    }

    /// Pages: the first request, then each next page (by `Link` or by a
    /// cursor) until there is none, a page is empty, or `max_pages`.
    async fn pages(&self, act: &Act<'_>, first: Prepared, paginate: &Paginate) -> Unit {
        let r = self.renderer(act.scope, act.frame);
        let origins = self.origins(act.frame);
        let mut items = Vec::new();
        let mut prepared = first;
        let mut pages = 0;
        let mut last;
        loop {
            let mut unit = Unit::default();
            let page = Act {
                label: format!("{} page {}", act.label, pages + 1),
                key: act.key.clone(),
                ..*act
            };
            if let Err(f) = self.request(&page, &prepared, &mut unit).await {
                unit.failure = Some(f);
                unit.pages = Some(pages);
                unit.items = Some(items);
                return unit;
            }
            pages += 1;
            if act.frame.flow == 0 && act.step.def.each.is_none() {
                self.mode.reporter.progress(Progress::Page { page: pages });
            }
            let response_scope = response_scope(act.scope, &unit);
            let contributed = match self.page_items(&unit, paginate, &response_scope) {
                Ok(v) => v,
                Err(f) => {
                    unit.failure = Some(f);
                    return unit;
                }
            };
            let empty = contributed.is_empty();
            items.extend(contributed);
            last = unit;
            if empty {
                break;
            }
            let next = match &paginate.next {
                Next::Link => next_link(&last.headers, &prepared.request.url).map(NextPage::Url),
                Next::Cursor(c) => {
                    let (param, value) = (&c.param, &c.value);
                    match self
                        .setup
                        .wf
                        .templates
                        .render_or_missing(&value.value, &response_scope)
                    {
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
                    "{}: stopped after `max_pages` ({}) pages; there are more",
                    act.label, paginate.max_pages
                ));
                break;
            }
            let following = match next {
                NextPage::Url(url) => self.follow(&prepared, &url),
                NextPage::Cursor(param, value) => {
                    self.prepare(act, &r, &origins, Some((&param, &value)))
                        .await
                }
            };
            prepared = match following {
                Ok(p) => p,
                Err(f) => {
                    last.failure = Some(f);
                    break;
                }
            };
        }
        last.pages = Some(pages);
        last.items = Some(items);
        last
    }

    /// What one page contributes to the step's `items`: `paginate.items`
    /// over its response, or the body when it is a list.
    fn page_items(
        &self,
        unit: &Unit,
        paginate: &Paginate,
        response_scope: &crate::template::Scope,
    ) -> Result<Vec<Value>, Failure> {
        let contributed = match &paginate.items {
            Some(items) => {
                let ir = Renderer {
                    templates: &self.setup.wf.templates,
                    scope: response_scope,
                    plan: false,
                    known_steps: None,
                    show_known: false,
                };
                ir.render(&Value::String(items.value.clone()))
                    .map_err(|e| {
                        Failure::new(FailureKind::Render, format!("paginate.items: {e}"))
                            .at(Some(items.loc.clone()))
                    })?
                    .value
            }
            None => unit.response.clone().unwrap_or(Value::Null),
        };
        match contributed {
            Value::Array(v) => Ok(v),
            other => Err(Failure::new(
                FailureKind::Render,
                format!(
                    "paginate: a page must contribute a list, found {}; say what each page contributes with `items:`",
                    crate::spec::coerce::describe(&other)
                ),
            )
            .at(Some(paginate.loc.clone()))),
        }
    }

    /// The request for a `Link` next page: the same headers, the new URL;
    /// auth dropped when the link leads to another origin, as for
    /// redirects, and the auth query parameters the link left out added
    /// back when it stays on the same origin.
    fn follow(&self, from: &Prepared, next: &url::Url) -> Result<Prepared, Failure> {
        let mut request = from.request.clone();
        let origin = request.target.clone();
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
        let same = crate::http::same_origin(&origin, next);
        let mut url = next.clone();
        if !same {
            let auth_headers = request.auth_headers.clone();
            request.headers.retain(|(n, _)| {
                !auth_headers.iter().any(|a| a.eq_ignore_ascii_case(n))
                    && !n.eq_ignore_ascii_case("authorization")
                    && !n.eq_ignore_ascii_case("cookie")
            });
            request.carries_auth = false;
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
        if same {
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
        request.target = url;
        request.body = None;
        let redactor = &self.setup.opts.redactor;
        let parts = from.parts.as_ref().map(|p| {
            let mut p = p.clone();
            p.base_url_shown = redactor.redact(&identity);
            p.base_url = Parts::new(
                &p.app,
                &p.action,
                request.method,
                &identity,
                &p.path,
                &[],
                redactor,
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
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Looked, Unit};

    #[test]
    fn until_looks_at_the_first_response_value_it_names() {
        let unit = Unit {
            http_status: Some(202),
            response: Some(json!({"job": {"state": "queued", "steps": [{"n": 3}]}})),
            ..Unit::default()
        };
        let looked = |until: &str| Looked::new(&json!(until)).show(&unit);
        assert_eq!(
            looked("{{ response.job.state == 'done' and status == 200 }}"),
            "job.state=queued"
        );
        assert_eq!(
            looked("{{ response.job.steps[0].n > 2 }}"),
            "job.steps.0.n=3"
        );
        assert_eq!(looked("{{ response.gone == 1 }}"), "gone=(none)");
        assert_eq!(looked("{{ status == 200 }}"), "status=202");
    }
}
