//! Lowering an app's `limits`: how many of its requests may be in flight at
//! once, and how fast they may start (`10/s`, `600/min`, `5000/h`,
//! `100/15min`).

use super::*;

/// The most requests of one app in flight at once that `limits` accepts.
const MAX_APP_CONCURRENCY: u64 = 1024;

impl Lower {
    pub(super) fn limits(&mut self, path: &str, raw: Option<raw::Limits>) -> Limits {
        let Some(raw) = raw else {
            return Limits::default();
        };
        let concurrency = raw.concurrency.filter(|n| {
            let ok = (1..=MAX_APP_CONCURRENCY).contains(n);
            if !ok {
                self.diagnostics.push(Diagnostic::new(
                    format!(
                        "`limits.concurrency` must be between 1 and {MAX_APP_CONCURRENCY}, found {n}"
                    ),
                    Some(self.loc(&child(path, "concurrency"))),
                ));
            }
            ok
        });
        let rate = raw.rate.and_then(|value| {
            let at = child(path, "rate");
            let parsed = match &value {
                serde_yaml::Value::String(text) => parse_rate(text),
                serde_yaml::Value::Number(n) => Err(RateError {
                    found: format!("`{n}`"),
                    help: Some(format!("a rate says per what: `{n}/s`, `{n}/min`?")),
                }),
                other => Err(RateError {
                    found: crate::spec::coerce::describe(&self.json(&at, other.clone())?),
                    help: None,
                }),
            };
            parsed
                .map_err(|e| {
                    self.diagnostics.push(
                        Diagnostic::new(
                            format!(
                                "expected a rate like `10/s`, `600/min` or `5000/h`, found {}",
                                e.found
                            ),
                            Some(self.loc(&at)),
                        )
                        .with_help(e.help),
                    )
                })
                .ok()
        });
        Limits {
            concurrency: concurrency.map(|n| n as usize),
            rate,
        }
    }
}

/// Why a rate's text is no rate: the text as messages show it, and a hint.
#[derive(Debug, PartialEq)]
struct RateError {
    found: String,
    help: Option<String>,
}

/// `COUNT/PERIOD`: the period a unit (`s`, `min`, `h`, with their long
/// names) or a number of them (`15min`, `10s`).
fn parse_rate(text: &str) -> Result<Rate, RateError> {
    let bad = |help: Option<String>| RateError {
        found: format!("`{text}`"),
        help,
    };
    let Some((count, period)) = text.split_once('/') else {
        let help = text
            .split_once(" per ")
            .map(|(n, unit)| format!("write it `{}/{}`", n.trim(), unit.trim()));
        return Err(bad(help));
    };
    let count: u32 = count.trim().parse().map_err(|_| bad(None))?;
    if count == 0 {
        return Err(bad(Some(
            "a rate of 0 would let no request start; leave `rate` out for no limit".into(),
        )));
    }
    let period = period.trim();
    let digits = period.chars().take_while(char::is_ascii_digit).count();
    let times: u64 = if digits == 0 {
        1
    } else {
        period[..digits].parse().map_err(|_| bad(None))?
    };
    let unit = match period[digits..].trim() {
        "ms" => Duration::from_millis(1),
        "s" | "sec" | "second" | "seconds" => Duration::from_secs(1),
        "m" | "min" | "minute" | "minutes" => Duration::from_secs(60),
        "h" | "hour" | "hours" => Duration::from_secs(3600),
        "d" | "day" | "days" => Duration::from_secs(86_400),
        _ => {
            return Err(bad(Some(
                "the period is `s`, `min`, `h` or `d`, or a number of them (`15min`)".into(),
            )));
        }
    };
    let per = u32::try_from(times)
        .ok()
        .and_then(|t| unit.checked_mul(t))
        .filter(|p| !p.is_zero())
        .ok_or_else(|| bad(None))?;
    Ok(Rate { count, per })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(count: u32, secs: u64) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn rates_as_written() {
        assert_eq!(parse_rate("10/s"), Ok(rate(10, 1)));
        assert_eq!(parse_rate("600/min"), Ok(rate(600, 60)));
        assert_eq!(parse_rate("5000/h"), Ok(rate(5000, 3600)));
        assert_eq!(parse_rate("900 / 15min"), Ok(rate(900, 900)));
        assert_eq!(parse_rate("5/second"), Ok(rate(5, 1)));
        assert_eq!(parse_rate("1/d"), Ok(rate(1, 86_400)));
        assert_eq!(
            parse_rate("600/min").unwrap().interval(),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn what_is_no_rate() {
        for text in ["10", "x/s", "-1/s", "10/0s", "10/fortnight", "10/s/s"] {
            assert!(parse_rate(text).is_err(), "{text}");
        }
        assert_eq!(
            parse_rate("10 per s").unwrap_err().help.as_deref(),
            Some("write it `10/s`")
        );
        assert!(
            parse_rate("0/s")
                .unwrap_err()
                .help
                .unwrap()
                .contains("no request")
        );
    }
}
