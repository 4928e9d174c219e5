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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn throttles(limits: &str) -> Throttles {
        let text = format!(
            "version: 1\napps:\n  api:\n    base_url: https://api.example.com\n    limits: {limits}\n    actions: {{}}\n"
        );
        let spec = crate::spec::load_str("t.yaml", &text, Default::default()).expect("a spec");
        Throttles::new(&spec)
    }

    const MAX_WAIT: Duration = Duration::from_secs(30);

    async fn admit(t: &Throttles) -> Admitted<'_> {
        t.admit("api", MAX_WAIT, |_| {})
            .await
            .ok()
            .expect("admitted")
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_spaces_starts_evenly() {
        let t = throttles("{rate: 10/s}");
        let begin = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..4 {
            drop(admit(&t).await);
            starts.push(Instant::now() - begin);
        }
        let ms = |n| Duration::from_millis(n);
        assert_eq!(starts, [ms(0), ms(100), ms(200), ms(300)]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_holds_places_until_they_are_given_back() {
        let t = throttles("{concurrency: 2}");
        let first = admit(&t).await;
        let _second = admit(&t).await;
        let third = tokio::time::timeout(Duration::from_secs(60), admit(&t)).await;
        assert!(third.is_err(), "a third place while two are held");
        drop(first);
        drop(admit(&t).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_quota_holds_requests_until_the_reset_and_says_so_once() {
        let t = throttles("{}");
        let said = RefCell::new(Vec::new());
        let say = |line: String| said.borrow_mut().push(line);
        t.exhausted(
            "api",
            &Exhausted {
                wait: Duration::from_secs(5),
                fields: "Retry-After: 5".into(),
            },
        );
        let begin = Instant::now();
        let (a, b) = tokio::join!(t.admit("api", MAX_WAIT, say), t.admit("api", MAX_WAIT, say));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(Instant::now() - begin, Duration::from_secs(5));
        assert_eq!(
            *said.borrow(),
            [
                "app `api`: the API says its rate limit is spent (Retry-After: 5); waiting 5 s before sending more"
            ]
        );
        // Open again: no wait, nothing said.
        drop(admit(&t).await);
        assert_eq!(Instant::now() - begin, Duration::from_secs(5));
        assert_eq!(said.borrow().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_beyond_max_wait_is_refused_at_once() {
        let t = throttles("{}");
        let spent = Exhausted {
            wait: Duration::from_secs(60),
            fields: "X-RateLimit-Remaining: 0, X-RateLimit-Reset: 1733364060".into(),
        };
        t.exhausted("api", &spent);
        // A shorter reset does not open it sooner.
        t.exhausted(
            "api",
            &Exhausted {
                wait: Duration::from_secs(1),
                fields: "Retry-After: 1".into(),
            },
        );
        let begin = Instant::now();
        let Err(refused) = t.admit("api", MAX_WAIT, |_| {}).await else {
            panic!("admitted");
        };
        assert_eq!(Instant::now(), begin);
        assert_eq!(refused.fields, spent.fields);
        assert_eq!(refused.wait, Duration::from_secs(60));
        assert_eq!(show_wait(refused.wait), "60 s");
        assert_eq!(show_wait(Duration::from_millis(1200)), "2 s");
        // An app the spec does not have is never held.
        assert!(t.admit("other", MAX_WAIT, |_| {}).await.is_ok());
    }
}
