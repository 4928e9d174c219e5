//! Reading an answer's rate-limit fields: whether the API says its quota is
//! spent, by which field, and for how long. The forms read:
//!
//! - `Retry-After` on a 429, or on a 403 (GitHub's secondary limit);
//! - `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` (GitHub: epoch
//!   seconds; a number below a billion is taken as seconds from now, as
//!   other APIs send it);
//! - the IETF fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit:
//!   "default";r=0;t=30`, its reset taken from `RateLimit-Policy`'s window
//!   `w` when it gives none; the earlier drafts' `RateLimit: limit=10,
//!   remaining=0, reset=30`, and `RateLimit-Remaining: 0` with
//!   `RateLimit-Reset` (seconds from now).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::parse_retry_after;

/// An answer saying the quota is spent until `wait` from now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exhausted {
    pub wait: Duration,
    /// The fields that say so, as received (`X-RateLimit-Remaining: 0,
    /// X-RateLimit-Reset: 1733364000`).
    pub fields: String,
}

/// Below this, an `X-RateLimit-Reset` counts seconds from now, not since 1970.
const EPOCH_FLOOR: u64 = 1_000_000_000;

/// What the answer (`status`, `headers` with lower-case names) says about
/// the quota, at `now`: `None` unless it says the quota is spent and when
/// it comes back.
pub(crate) fn exhausted(
    status: u16,
    headers: &BTreeMap<String, String>,
    now: SystemTime,
) -> Option<Exhausted> {
    let get = |name: &str| headers.get(name).map(|v| v.trim());
    let found = |wait, names: &[&str]| {
        let fields = names
            .iter()
            .filter_map(|n| Some(format!("{}: {}", shown(n), get(n)?)))
            .collect::<Vec<_>>()
            .join(", ");
        Some(Exhausted { wait, fields })
    };
    if matches!(status, 429 | 403)
        && let Some(wait) = get("retry-after").and_then(parse_retry_after)
    {
        return found(wait, &["retry-after"]);
    }
    if get("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = get("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())
    {
        let wait = if reset < EPOCH_FLOOR {
            Duration::from_secs(reset)
        } else {
            let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
            Duration::from_secs(reset).saturating_sub(since)
        };
        return found(wait, &["x-ratelimit-remaining", "x-ratelimit-reset"]);
    }
    if let Some(field) = get("ratelimit")
        && let Some(wait) = structured(field, get("ratelimit-policy"))
    {
        return found(wait, &["ratelimit", "ratelimit-policy"]);
    }
    if get("ratelimit-remaining") == Some("0")
        && let Some(reset) = get("ratelimit-reset").and_then(|v| v.parse::<u64>().ok())
    {
        return found(
            Duration::from_secs(reset),
            &["ratelimit-remaining", "ratelimit-reset"],
        );
    }
    None
}

/// A field name as the drafts and GitHub write it.
fn shown(name: &str) -> &str {
    match name {
        "retry-after" => "Retry-After",
        "x-ratelimit-remaining" => "X-RateLimit-Remaining",
        "x-ratelimit-reset" => "X-RateLimit-Reset",
        "ratelimit" => "RateLimit",
        "ratelimit-policy" => "RateLimit-Policy",
        "ratelimit-remaining" => "RateLimit-Remaining",
        "ratelimit-reset" => "RateLimit-Reset",
        other => other,
    }
}

/// One member of a structured-field list: its item (a quoted or bare
/// name, or `key=value` in the earlier drafts' dictionary) and its
/// parameters.
fn members(field: &str) -> impl Iterator<Item = (&str, Vec<(&str, &str)>)> {
    field.split(',').map(|member| {
        let mut parts = member.split(';').map(str::trim);
        let item = parts.next().unwrap_or_default();
        let params = parts.filter_map(|p| p.split_once('=')).collect();
        (item, params)
    })
}

/// The wait a `RateLimit` field asks for: the reset of a policy with no
/// requests remaining.
fn structured(field: &str, policy: Option<&str>) -> Option<Duration> {
    let number = |v: &str| v.trim().parse::<u64>().ok();
    let param = |params: &[(&str, &str)], key: &str| {
        params
            .iter()
            .find(|(k, _)| k.trim() == key)
            .and_then(|(_, v)| number(v))
    };
    // The earlier drafts: `limit=10, remaining=0, reset=30`.
    let old = |key: &str| {
        members(field).find_map(|(item, _)| {
            let (k, v) = item.split_once('=')?;
            (k.trim() == key).then(|| number(v)).flatten()
        })
    };
    if old("remaining") == Some(0) {
        return old("reset").map(Duration::from_secs);
    }
    for (item, params) in members(field) {
        if item.contains('=') || param(&params, "r") != Some(0) {
            continue;
        }
        let reset = param(&params, "t").or_else(|| {
            members(policy?)
                .find(|(p, _)| *p == item)
                .and_then(|(_, params)| param(&params, "w"))
        });
        if let Some(reset) = reset {
            return Some(Duration::from_secs(reset));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, fields: &[(&str, &str)]) -> Option<Exhausted> {
        let headers = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        exhausted(
            status,
            &headers,
            UNIX_EPOCH + Duration::from_secs(1_733_364_000),
        )
    }

    fn wait(status: u16, fields: &[(&str, &str)]) -> Option<Duration> {
        answer(status, fields).map(|e| e.wait)
    }

    #[test]
    fn retry_after_on_a_refusal() {
        let secondary = answer(403, &[("retry-after", "60")]).unwrap();
        assert_eq!(secondary.wait, Duration::from_secs(60));
        assert_eq!(secondary.fields, "Retry-After: 60");
        assert_eq!(
            wait(429, &[("retry-after", "2")]),
            Some(Duration::from_secs(2))
        );
        // On a 503 it is a retry's business, not the quota's.
        assert_eq!(wait(503, &[("retry-after", "2")]), None);
    }

    #[test]
    fn github_remaining_and_reset() {
        let spent = answer(
            200,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1733364090"),
            ],
        )
        .unwrap();
        assert_eq!(spent.wait, Duration::from_secs(90));
        assert_eq!(
            spent.fields,
            "X-RateLimit-Remaining: 0, X-RateLimit-Reset: 1733364090"
        );
        let relative = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "20")];
        assert_eq!(wait(200, &relative), Some(Duration::from_secs(20)));
        let past = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1733363000"),
        ];
        assert_eq!(wait(200, &past), Some(Duration::ZERO));
        let left = [
            ("x-ratelimit-remaining", "1"),
            ("x-ratelimit-reset", "1733364090"),
        ];
        assert_eq!(wait(200, &left), None);
    }

    #[test]
    fn ietf_fields() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            wait(200, &[("ratelimit", "\"default\";r=0;t=30")]),
            secs(30)
        );
        assert_eq!(wait(200, &[("ratelimit", "\"default\";r=5;t=30")]), None);
        // The policy that ran out is the one whose reset counts.
        let two = "\"burst\";r=3;t=1, \"day\";r=0;t=3600";
        assert_eq!(wait(200, &[("ratelimit", two)]), secs(3600));
        // No `t`: the policy's window.
        let windowed = [
            ("ratelimit", "\"hour\";r=0"),
            (
                "ratelimit-policy",
                "\"minute\";q=10;w=60, \"hour\";q=100;w=3600",
            ),
        ];
        assert_eq!(wait(200, &windowed), secs(3600));
        assert_eq!(
            wait(200, &[("ratelimit", "limit=10, remaining=0, reset=7")]),
            secs(7)
        );
        assert_eq!(
            wait(
                200,
                &[("ratelimit-remaining", "0"), ("ratelimit-reset", "5")]
            ),
            secs(5)
        );
        assert_eq!(wait(200, &[("ratelimit", "garbage;;=,")]), None);
    }
}
