//! Leak checks: whether a text (a run's output, a journal) holds any form
//! of a secret: raw, folded, percent-, form-, JSON- or base64-encoded, cut
//! short by an excerpt, or as part of a longer base64 text. Tests that
//! promise "never printed" assert it with [`assert_clean`] and
//! [`assert_hidden`]; the self-test below proves each form is caught.

use super::Run;

/// Every form in which `secret` could reach the output whole: raw, with its
/// whitespace folded, percent-encoded (only what must be, or every byte; in
/// upper and lower case), form-encoded, JSON-escaped (short escapes, or
/// `\uXXXX` for every character that is not a letter or digit, in both
/// cases), and base64 (standard and URL-safe, padded or not).
pub fn forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let percent = |every: bool, lower: bool| -> String {
        secret
            .bytes()
            .map(|b| {
                let plain = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
                match (plain && !every, lower) {
                    (true, _) => (b as char).to_string(),
                    (false, false) => format!("%{b:02X}"),
                    (false, true) => format!("%{b:02x}"),
                }
            })
            .collect()
    };
    let unicode = |lower: bool| -> String {
        secret
            .chars()
            .map(|c| match (c.is_ascii_alphanumeric(), lower) {
                (true, _) => c.to_string(),
                (false, false) => format!("\\u{:04X}", c as u32),
                (false, true) => format!("\\u{:04x}", c as u32),
            })
            .collect()
    };
    let json = serde_json::to_string(secret).expect("a string is JSON");
    let mut out = vec![
        secret.to_string(),
        secret.split_whitespace().collect::<Vec<_>>().join(" "),
        percent(false, false),
        percent(false, true),
        percent(true, false),
        percent(true, true),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        json[1..json.len() - 1].to_string(),
        unicode(false),
        unicode(true),
    ];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(secret));
    }
    out.sort();
    out.dedup();
    out
}

/// The first run of `text` that decodes as base64 (at any offset, either
/// alphabet) to bytes holding 8 consecutive bytes of `secret`: what is left
/// of a secret that sat inside a longer encoded text (`Basic
/// base64(user:password)`) when only part of that text was masked.
fn base64_fragment(text: &str, secret: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const WINDOW: usize = 8;
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let secret = secret.as_bytes();
    if secret.len() < WINDOW {
        return None;
    }
    let runs = text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/-_".contains(c)));
    for run in runs.filter(|r| r.len() >= WINDOW) {
        let normal: String = run
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        for shift in 0..4.min(normal.len()) {
            let part = &normal[shift..];
            let part = &part[..part.len() - part.len() % 4];
            let Ok(bytes) = engine.decode(part) else {
                continue;
            };
            if secret
                .windows(WINDOW)
                .any(|w| bytes.windows(WINDOW).any(|b| b == w))
            {
                return Some(run.to_string());
            }
        }
    }
    None
}

/// `text` holds no form of any of `secrets`: none of [`forms`], no 10
/// characters in a row of one (a secret cut short by an excerpt, or with
/// its whitespace folded), and no base64 text that decodes to a piece of one.
#[track_caller]
pub fn assert_hidden(text: &str, secrets: &[&str]) {
    const WINDOW: usize = 10;
    for secret in secrets {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "secret `{secret}` leaked as `{form}`:\n{text}"
            );
        }
        for variant in [
            secret.to_string(),
            secret.split_whitespace().collect::<Vec<_>>().join(" "),
        ] {
            let chars: Vec<char> = variant.chars().collect();
            for window in chars.windows(WINDOW) {
                let piece: String = window.iter().collect();
                assert!(
                    !text.contains(&piece),
                    "`{piece}` of secret `{secret}` leaked:\n{text}"
                );
            }
        }
        if let Some(run) = base64_fragment(text, secret) {
            panic!("`{run}` decodes to a piece of secret `{secret}`:\n{text}");
        }
    }
    assert!(!text.contains("panicked"), "{text}");
}

/// [`assert_hidden`] over everything a run printed.
#[track_caller]
pub fn assert_clean(out: &Run, secrets: &[&str]) {
    assert_hidden(&out.all(), secrets);
}

/// The self-test of the leak checks: each form of a secret is caught.
#[test]
fn the_leak_checks_catch_every_form() {
    use base64::Engine as _;
    let secret = "pa ss\"wo\\rd~Z9/x+y";
    for form in forms(secret) {
        let text = format!("before {form} after");
        let caught = std::panic::catch_unwind(|| assert_hidden(&text, &[secret]));
        assert!(caught.is_err(), "not caught: {form}");
    }
    for user in ["a", "ab", "abc", "acme12"] {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        // As an exact-match redactor that missed the offset would leave it.
        let tail = &basic[8..];
        assert!(
            base64_fragment(&format!("Basic ***{tail}"), secret).is_some(),
            "{user}"
        );
    }
    assert!(base64_fragment("Basic *** and nothing else", secret).is_none());
    let cut = format!("error: {}...", &secret[..12]);
    assert!(std::panic::catch_unwind(|| assert_hidden(&cut, &[secret])).is_err());
    assert_hidden("error: *** was rejected", &[secret]);
}
