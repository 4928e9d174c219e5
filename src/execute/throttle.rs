//! Run-wide limits per app, held by every request to it wherever it comes
//! from (a step, any item of any loop, a sub-workflow, a retry, a page):
//! the app's `limits` — at most `concurrency` requests in flight, starts no
//! closer together than `rate` allows — and its quota, closed by an answer
//! that says it is spent (see [`crate::http::ratelimit`]) until the reset
//! it names.
//!
//! A `tokio` semaphore and a few lines of pacing rather than a crate such
//! as `governor`: evenly spaced starts need one `Instant` per app, and the
//! walk runs on one thread. An app without `limits` costs one lookup and
//! one comparison per request.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::http::ratelimit::Exhausted;
use crate::spec::Spec;

/// One per app of the spec, for the whole run.
#[derive(Default)]
pub(in crate::execute) struct Throttles {
    apps: HashMap<String, Throttle>,
}

#[derive(Default)]
struct Throttle {
    in_flight: Option<Semaphore>,
    /// The least time between two starts, and when the next may start.
    pace: Option<(Duration, Cell<Instant>)>,
    /// Until when the quota is spent, and what said so.
    closed: RefCell<Option<Closed>>,
}

struct Closed {
    until: Instant,
    fields: String,
    /// Whether a request has said it waits for it.
    said: bool,
}

/// A request's place among the app's requests in flight: held while it is
/// sent and its answer read.
pub(super) struct Admitted<'a> {
    _permit: Option<SemaphorePermit<'a>>,
}

/// Why a request may not wait for the app's quota.
pub(super) struct TooLong {
    pub fields: String,
    pub wait: Duration,
}

impl Throttles {
    pub(super) fn new(spec: &Spec) -> Throttles {
        let apps = spec
            .apps
            .values()
            .map(|app| {
                let limits = app.limits;
                let throttle = Throttle {
                    in_flight: limits.concurrency.map(Semaphore::new),
                    pace: limits
                        .rate
                        .map(|rate| (rate.interval(), Cell::new(Instant::now()))),
                    closed: RefCell::default(),
                };
                (app.name.clone(), throttle)
            })
            .collect();
        Throttles { apps }
    }

    /// Waits until `app` may start a request: its quota open again (for at
    /// most `max_wait`; `say` tells the first request that waits for it), a
    /// place among its requests in flight, and its next start under `rate`.
    pub(super) async fn admit(
        &self,
        app: &str,
        max_wait: Duration,
        say: impl Fn(String),
    ) -> Result<Admitted<'_>, TooLong> {
        let Some(throttle) = self.apps.get(app) else {
            return Ok(Admitted { _permit: None });
        };
        loop {
            if let Some(wait) = throttle.closed_for(max_wait, |fields, wait| {
                say(format!(
                    "app `{app}`: the API says its rate limit is spent ({fields}); waiting {} before sending more",
                    show_wait(wait)
                ))
            })? {
                tokio::time::sleep(wait).await;
                continue;
            }
            let permit = match &throttle.in_flight {
                // Never closed: the semaphore lives as long as the run.
                Some(s) => Some(s.acquire().await.expect("an open semaphore")),
                None => None,
            };
            if let Some((interval, next)) = &throttle.pace {
                let slot = next.get().max(Instant::now());
                next.set(slot + *interval);
                tokio::time::sleep_until(slot).await;
            }
            // The quota may have closed while this request waited its turn.
            if throttle.closed_for(max_wait, |_, _| ())?.is_none() {
                return Ok(Admitted { _permit: permit });
            }
        }
    }

    /// An answer from `app` said its quota is spent: no request to it
    /// starts before the reset.
    pub(super) fn exhausted(&self, app: &str, answer: &Exhausted) {
        let Some(throttle) = self.apps.get(app) else {
            return;
        };
        let until = Instant::now() + answer.wait.min(FOREVER);
        let mut closed = throttle.closed.borrow_mut();
        if closed.as_ref().is_none_or(|c| c.until < until) {
            *closed = Some(Closed {
                until,
                fields: answer.fields.clone(),
                said: false,
            });
        }
    }
}

/// A wait for a quota as messages show it: in whole seconds, rounded up,
/// as resets are given.
pub(super) fn show_wait(wait: Duration) -> String {
    if wait >= Duration::from_secs(365 * 86_400) {
        return "longer than a year".to_string();
    }
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    crate::units::show(Duration::from_secs(secs))
}

/// Longer than any `max_wait`; a reset beyond it is as good as never.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);

impl Throttle {
    /// How long the quota stays closed, `None` when open; `say` is told
    /// once per closing. Longer than `max_wait` is an error.
    fn closed_for(
        &self,
        max_wait: Duration,
        say: impl FnOnce(&str, Duration),
    ) -> Result<Option<Duration>, TooLong> {
        let mut closed = self.closed.borrow_mut();
        let Some(c) = closed.as_mut() else {
            return Ok(None);
        };
        let wait = c.until.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            *closed = None;
            return Ok(None);
        }
        if wait > max_wait {
            return Err(TooLong {
                fields: c.fields.clone(),
                wait,
            });
        }
        if !c.said {
            c.said = true;
            say(&c.fields, wait);
        }
        Ok(Some(wait))
    }
}
