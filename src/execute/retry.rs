//! When a try is worth repeating, and how long to wait first.
//!
//! Only what is safe to repeat is repeated: GET, HEAD, OPTIONS, PUT and
//! DELETE on connection failures and on 429, 502, 503, 504; POST and PATCH
//! only when the request never left (a failure to connect) or was refused
//! unprocessed — a 429, or a 403 saying the rate limit is spent (GitHub's
//! secondary limit) — unless the step says `unsafe: true`.

use std::time::Duration;

use crate::http::parse_retry_after;

use crate::spec::{Method, Retry};

pub(super) const DEFAULT_ATTEMPTS: u32 = 3;
pub(super) const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between tries, `Retry-After` included.
pub(super) const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(30);

/// A step's retry settings with every default filled in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_wait: Duration,
    pub unsafe_methods: bool,
}

impl Policy {
    pub(super) fn from(retry: Retry) -> Policy {
        Policy {
            attempts: retry.attempts.unwrap_or(DEFAULT_ATTEMPTS).max(1),
            backoff: retry.backoff.unwrap_or(DEFAULT_BACKOFF),
            max_wait: retry.max_wait.unwrap_or(DEFAULT_MAX_WAIT),
            unsafe_methods: retry.unsafe_methods.unwrap_or(false),
        }
    }
}

/// What a try came to, as far as retrying goes.
pub(super) enum Outcome<'a> {
    /// The request never reached the server.
    NotSent,
    /// It may have reached the server (a timeout, a reset).
    MaybeSent,
    /// Not worth another try (a refused redirect, an oversized body).
    Final,
    /// The server answered with this status and `Retry-After`, if any;
    /// `quota`: how long its rate-limit fields say the quota stays spent.
    Answered {
        status: u16,
        retry_after: Option<&'a str>,
        quota: Option<Duration>,
    },
}

pub(super) fn idempotent(method: Method) -> bool {
    matches!(
        method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// A retry the server asked for, refused: it asked to wait longer than
/// `retry.max_wait`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server asked to wait {} before retrying, longer than the {} allowed (`retry.max_wait`)",
    show_wait(*.asked),
    crate::units::show(*.max_wait)
)]
pub(super) struct WaitTooLong {
    pub asked: Duration,
    pub max_wait: Duration,
}

/// A wait as messages show it; `Duration::MAX` is what a `Retry-After` too
/// large to count becomes.
fn show_wait(wait: Duration) -> String {
    if wait == Duration::MAX {
        "longer than can be counted".to_string()
    } else {
        crate::units::show(wait)
    }
}

/// Why and how long to wait before try `attempt + 1`, or `Err` with the
/// reason not to when a retry was asked for but cannot be honoured.
pub(super) fn next(
    policy: &Policy,
    method: Method,
    outcome: &Outcome,
    attempt: u32,
) -> Result<Option<Duration>, WaitTooLong> {
    if attempt >= policy.attempts {
        return Ok(None);
    }
    let repeatable = idempotent(method) || policy.unsafe_methods;
    let (retry, asked) = match *outcome {
        Outcome::NotSent => (true, None),
        Outcome::MaybeSent => (repeatable, None),
        Outcome::Final => (false, None),
        // Refused unprocessed: a 429, or a 403 that says the rate limit
        // is spent.
        Outcome::Answered {
            status: 429,
            retry_after,
            quota,
        }
        | Outcome::Answered {
            status: 403,
            retry_after,
            quota: quota @ Some(_),
        } => (true, retry_after.and_then(parse_retry_after).or(quota)),
        Outcome::Answered {
            status: 502..=504,
            retry_after,
            ..
        } => (repeatable, retry_after.and_then(parse_retry_after)),
        Outcome::Answered { .. } => (false, None),
    };
    if !retry {
        return Ok(None);
    }
    if let Some(asked) = asked {
        if asked > policy.max_wait {
            return Err(WaitTooLong {
                asked,
                max_wait: policy.max_wait,
            });
        }
        return Ok(Some(asked));
    }
    Ok(Some(backoff(policy, attempt)))
}

/// Exponential backoff with jitter: between half and all of
/// `backoff * 2^(attempt-1)`, never more than `max_wait`.
pub(super) fn backoff(policy: &Policy, attempt: u32) -> Duration {
    let exp = policy
        .backoff
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(policy.max_wait);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from(Retry::default())
    }

    #[test]
    fn only_what_is_safe_is_repeated() {
        let p = policy();
        let answered = |status| Outcome::Answered {
            status,
            retry_after: None,
            quota: None,
        };
        assert!(next(&p, Method::GET, &answered(503), 1).unwrap().is_some());
        assert!(next(&p, Method::POST, &answered(503), 1).unwrap().is_none());
        assert!(next(&p, Method::POST, &answered(429), 1).unwrap().is_some());
        assert!(
            next(&p, Method::POST, &Outcome::NotSent, 1)
                .unwrap()
                .is_some()
        );
        assert!(
            next(&p, Method::PATCH, &Outcome::MaybeSent, 1)
                .unwrap()
                .is_none()
        );
        assert!(
            next(&p, Method::PUT, &Outcome::MaybeSent, 1)
                .unwrap()
                .is_some()
        );
        assert!(next(&p, Method::GET, &answered(500), 1).unwrap().is_none());
        assert!(next(&p, Method::GET, &answered(403), 1).unwrap().is_none());
        // GitHub's secondary limit refused it: any method is tried again.
        let secondary = Outcome::Answered {
            status: 403,
            retry_after: Some("1"),
            quota: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            next(&p, Method::POST, &secondary, 1).unwrap(),
            Some(Duration::from_secs(1))
        );
        assert!(next(&p, Method::GET, &answered(503), 3).unwrap().is_none());
        let unsafe_ok = Policy {
            unsafe_methods: true,
            ..p
        };
        assert!(
            next(&unsafe_ok, Method::POST, &answered(503), 1)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let p = policy();
        let asked = |v| Outcome::Answered {
            status: 429,
            retry_after: Some(v),
            quota: None,
        };
        assert_eq!(
            next(&p, Method::GET, &asked("2"), 1).unwrap(),
            Some(Duration::from_secs(2))
        );
        assert!(next(&p, Method::GET, &asked("3600"), 1).is_err());
        let huge = next(&p, Method::GET, &asked("99999999999999999999999"), 1).unwrap_err();
        assert!(
            huge.to_string().contains("longer than can be counted"),
            "{huge}"
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        let p = Policy {
            backoff: Duration::from_millis(100),
            max_wait: Duration::from_millis(350),
            ..policy()
        };
        for _ in 0..50 {
            let first = backoff(&p, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = backoff(&p, 3);
            assert!(third >= Duration::from_millis(175) && third <= Duration::from_millis(350));
        }
    }
}
