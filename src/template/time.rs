//! Time in templates: `now()`, the one instant a run is fixed to (the
//! walk binds it under [`NOW`]; a resumed run binds the journal's), and the
//! filters that read, shift and write times. Formatting is minijinja-contrib's
//! `datetimeformat`.
//!
//! Times travel as text, RFC 3339 in UTC to the second
//! (`2026-12-05T01:37:00Z`): what a JSON body can hold, and text two of
//! which compare as the instants they name, so `a < b` in an `if` works on
//! what `now()`, `shift` and `parse_time` return.

use std::str::FromStr;

use jiff::{SignedDuration, Timestamp, civil, tz::TimeZone};
use minijinja::value::Value;
use minijinja::{Error, ErrorKind, State};

/// The context name holding the run's `now()`.
pub(crate) const NOW: &str = "__runner_now";

/// `ts` as templates see times.
pub(crate) fn show(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The current instant, as [`show`] writes it: a run's `now()`.
pub(crate) fn current() -> String {
    show(Timestamp::now())
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// `now()`: the run's instant; outside a run (a tool rendering templates
/// itself), the current one.
pub(super) fn now(state: &State) -> String {
    state
        .lookup(NOW)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(current)
}

/// A time as text (RFC 3339 or ISO 8601, with an offset or taken as UTC,
/// or a date: its midnight in UTC) or as a number of seconds since 1970.
fn read(value: &Value, filter: &str) -> Result<Timestamp, Error> {
    if let Some(text) = value.as_str() {
        return parse_text(text).ok_or_else(|| {
            invalid(format!(
                "{filter}: expected a time like `2026-12-05T01:37:00Z` or a date like `2026-12-05`, found `{text}`"
            ))
        });
    }
    if let Ok(seconds) = f64::try_from(value.clone())
        && seconds.is_finite()
    {
        return Timestamp::from_nanosecond((seconds * 1e9) as i128)
            .map_err(|e| invalid(format!("{filter}: {e}")));
    }
    Err(invalid(format!(
        "{filter}: expected a time (text or seconds since 1970), found {}",
        value.kind()
    )))
}

/// `--now`: a time as [`show`] writes it, or why the text is none.
pub(crate) fn parse_instant(text: &str) -> Result<String, String> {
    parse_text(text).map(show).ok_or_else(|| {
        format!("expected a time like `2026-12-05T01:37:00Z` or a date like `2026-12-05`, found `{text}`")
    })
}

fn parse_text(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = Timestamp::from_str(text) {
        return Some(ts);
    }
    if let Ok(dt) = civil::DateTime::from_str(text) {
        return dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp());
    }
    let date = civil::Date::from_str(text).ok()?;
    date.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// A signed duration: `-7d`, `+2h`, `30m`, `1h30m` (see `units`).
pub(crate) fn parse_shift(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let duration = crate::units::parse_duration(rest).ok()?;
    let duration = SignedDuration::try_from(duration).ok()?;
    Some(if negative { -duration } else { duration })
}

/// `{{ now() | shift('-7d') }}`: the time moved by a duration.
pub(super) fn shift(value: Value, by: &str) -> Result<String, Error> {
    let ts = read(&value, "shift")?;
    let by_duration = parse_shift(by).ok_or_else(|| {
        invalid(format!(
            "shift: expected a duration like `-7d`, `+2h`, `30m` or `1h30m`, found `{by}`"
        ))
    })?;
    let shifted = ts
        .checked_add(by_duration)
        .map_err(|_| invalid(format!("shift: `{by}` moves the time out of range")))?;
    Ok(show(shifted))
}

/// `{{ x | parse_time }}`: a time in the form templates compare; with a
/// `strftime`-style format, text written in that form (taken as UTC when
/// it has no offset).
pub(super) fn parse_time(value: Value, format: Option<&str>) -> Result<String, Error> {
    let Some(format) = format else {
        return read(&value, "parse_time").map(show);
    };
    let text = value
        .as_str()
        .ok_or_else(|| invalid(format!("parse_time: expected text, found {}", value.kind())))?;
    let bad = |e: jiff::Error| {
        invalid(format!(
            "parse_time: `{text}` does not match the format `{format}`: {e}"
        ))
    };
    let parsed = jiff::fmt::strtime::parse(format, text).map_err(bad)?;
    if let Ok(ts) = parsed.to_timestamp() {
        return Ok(show(ts));
    }
    let datetime = match parsed.to_datetime() {
        Ok(dt) => dt,
        Err(_) => parsed
            .to_date()
            .map_err(bad)?
            .to_datetime(civil::Time::midnight()),
    };
    let zoned = datetime.to_zoned(TimeZone::UTC).map_err(bad)?;
    Ok(show(zoned.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_are_signed_durations() {
        let secs = |s: &str| parse_shift(s).map(|d| d.as_secs());
        assert_eq!(secs("-7d"), Some(-7 * 86_400));
        assert_eq!(secs("+2h"), Some(7_200));
        assert_eq!(secs("30m"), Some(1_800));
        assert_eq!(secs("1d12h"), Some(129_600));
        assert_eq!(secs("-1h30m"), Some(-5_400));
        assert_eq!(secs(" 45s "), Some(45));
        for bad in ["", "-", "7", "d", "7y", "--7d", "+-1h", "1.5h"] {
            assert_eq!(parse_shift(bad), None, "{bad}");
        }
    }

    #[test]
    fn shift_reads_text_and_seconds() {
        let t = Value::from("2026-12-05T01:37:00Z");
        assert_eq!(shift(t.clone(), "-7d").unwrap(), "2026-11-28T01:37:00Z");
        assert_eq!(shift(t, "+90m").unwrap(), "2026-12-05T03:07:00Z");
        assert_eq!(
            shift(Value::from("2026-12-05T03:37:00+02:00"), "0s").unwrap(),
            "2026-12-05T01:37:00Z"
        );
        assert_eq!(
            shift(Value::from("2026-12-05"), "1d").unwrap(),
            "2026-12-06T00:00:00Z"
        );
        assert_eq!(shift(Value::from(0), "1h").unwrap(), "1970-01-01T01:00:00Z");
        let e = shift(Value::from("yesterday"), "1d").unwrap_err();
        assert!(e.to_string().contains("found `yesterday`"), "{e}");
        let e = shift(Value::from("2026-12-05"), "1 week").unwrap_err();
        assert!(e.to_string().contains("expected a duration"), "{e}");
    }

    #[test]
    fn parse_time_normalises() {
        assert_eq!(
            parse_time(Value::from("2026-12-05T01:37:00.123-05:00"), None).unwrap(),
            "2026-12-05T06:37:00Z"
        );
        assert_eq!(
            parse_time(Value::from("05/12/2026 14:30"), Some("%d/%m/%Y %H:%M")).unwrap(),
            "2026-12-05T14:30:00Z"
        );
        assert_eq!(
            parse_time(Value::from("05/12/2026"), Some("%d/%m/%Y")).unwrap(),
            "2026-12-05T00:00:00Z"
        );
        assert!(parse_time(Value::from("5 Dec"), Some("%d/%m/%Y")).is_err());
    }
}
