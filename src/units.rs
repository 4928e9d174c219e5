//! Durations (`500ms`, `10s`, `2m`, `1m30s`) and sizes (`16MiB`), as written
//! in specs and on the command line.

use std::time::Duration;

/// Text that is no duration; it holds the text, to show it back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a duration like `500ms`, `10s` or `2m`, found `{0}`")]
pub(crate) struct BadDuration(pub String);

/// Text that is no size; it holds the text, to show it back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a size like `16MiB`, `512KiB` or a number of bytes, found `{0}`")]
pub(crate) struct BadSize(pub String);

/// Parses `500ms`, `10s`, `2m`, `1h`, `7d` and sums of them (`1m30s`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let bad = || BadDuration(text.to_string());
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
            "d" => Duration::from_secs(n.checked_mul(86_400).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Parses a byte size: `1048576`, `512KiB`, `16MiB`, `1GiB` (also `KB`, `MB`).
pub(crate) fn parse_size(text: &str) -> Result<usize, BadSize> {
    let bad = || BadSize(text.to_string());
    let s = text.trim();
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let n: usize = s[..digits].parse().map_err(|_| bad())?;
    let factor: usize = match s[digits..].trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "k" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

/// `1500ms` as `1.5 s`, `250ms` as `250 ms`: how messages show a duration.
pub(crate) fn show(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        }
    }
}

/// `12.3 KiB`, `3.0 MiB`, `512 bytes`: how messages and plans show a size.
pub(crate) fn show_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        for bad in [
            "",
            "10",
            "s",
            "10 sec",
            "-1s",
            "1.5s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(show(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(show(Duration::from_secs(30)), "30 s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
        assert_eq!(show_size(12), "12 bytes");
        assert_eq!(show_size(12_595), "12.3 KiB");
        assert_eq!(show_size(3 << 20), "3.0 MiB");
        assert_eq!(show_size(100 << 20), "100.0 MiB");
    }
}
