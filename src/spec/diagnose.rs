//! Parsing one file into its raw structs, and turning serde's messages into
//! ours: what was expected and what was found, at `file:line:col`, with a
//! suggestion for typos.
//!
//! A file that does not parse as a spec (an included `.env`, a file of
//! another tool) is described only by its type and the place of the
//! problem: nothing it holds is ever quoted, and its lines are never shown.

use serde::Deserialize as _;
use std::sync::Arc;

use super::raw;
use crate::error::{Diagnostic, Loc, did_you_mean, ticked};
use crate::source::{File, LineCol};

/// Top-level keys of a spec: a mapping of only these is a spec that lacks
/// its `version`, not some other file.
const SPEC_KEYS: &[&str] = &[
    "version", "include", "apps", "auth", "vars", "steps", "inputs", "outputs",
];

/// How deeply flow collections (`[...]`, `{...}`) may nest.
pub(super) const MAX_DEPTH: usize = 128;

/// Parses `text` (read from the file named `name`).
pub(super) fn parse(name: &str, text: String) -> Result<(Arc<File>, raw::File), Vec<Diagnostic>> {
    if text.trim().is_empty() {
        let file = File::new(name, text, false);
        return Err(vec![
            Diagnostic::new("the file is empty", Some(Loc::file(&file)))
                .with_help(Some("start the file with `version: 1`".into())),
        ]);
    }
    if let Some(at) = super::depth::too_deep(&text, MAX_DEPTH) {
        let file = File::new(name, text, false);
        return Err(vec![Diagnostic::new(
            format!("the document nests deeper than {MAX_DEPTH} levels"),
            Some(Loc::at(&file, "", Some(at))),
        )]);
    }
    // Tracking the path costs a fifth of the parse, and only a failure
    // needs it: a file that fails is parsed again, with tracking.
    if let Ok(raw) = raw::File::deserialize(serde_yaml::Deserializer::from_str(&text)) {
        return Ok((File::new(name, text, true), raw));
    }
    let de = serde_yaml::Deserializer::from_str(&text);
    let err = match serde_path_to_error::deserialize::<_, raw::File>(de) {
        Ok(raw) => return Ok((File::new(name, text, true), raw)),
        Err(err) => err,
    };
    let path = err.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = err.into_inner();
    let line_col = inner.location().map(|l| LineCol {
        line: l.line(),
        col: l.column(),
    });
    let mut message = inner.to_string();
    // serde_yaml prefixes the path and appends positions; we show both apart.
    if let Some((prefix, rest)) = message.split_once(": ")
        && !prefix.contains(' ')
    {
        message = rest.to_string();
    }
    let message = strip_positions(&message, line_col);
    let kind = Kind::of(&text);
    if let Kind::NotSpec(found) = &kind {
        let file = File::new(name, text, false);
        let message = match found {
            Some(found) => format!("expected a mapping starting with `version: 1`, found {found}"),
            // Not YAML at all: the parser's own words about the syntax quote
            // nothing, but the deserializer may have met a key or a value
            // before the syntax broke, and its words would quote the file.
            None if !message.contains(['`', '"']) => humanize(&message).0,
            None => "expected a mapping starting with `version: 1`, found text that is not one YAML document".to_string(),
        };
        return Err(vec![Diagnostic::new(
            message,
            Some(Loc::at(&file, "", line_col)),
        )]);
    }
    let file = File::new(name, text, true);
    if message.contains(raw::DUPLICATE_KEY)
        || message.starts_with("duplicate entry")
        || message.starts_with("duplicate field")
    {
        let duplicates: Vec<Diagnostic> = file
            .positions()
            .duplicates
            .iter()
            .map(|(path, first, again)| {
                let key = path.rsplit('.').next().unwrap_or(path);
                Diagnostic::new(
                    format!(
                        "key `{key}` appears twice in one mapping (first at line {}, column {})",
                        first.line, first.col
                    ),
                    Some(Loc::at(&file, path.clone(), Some(*again))),
                )
            })
            .collect();
        if !duplicates.is_empty() {
            return Err(duplicates);
        }
    }
    let mut path = path
        .trim_end_matches(".?")
        .trim_end_matches('?')
        .to_string();
    if path.chars().count() > 80 {
        path = path.chars().take(77).collect::<String>() + "...";
    }
    let (mut message, mut help) = humanize(&message);
    let tab_on_line = line_col.is_some_and(|LineCol { line, .. }| {
        file.text()
            .lines()
            .nth(line.saturating_sub(1))
            .is_some_and(|l| l.contains('\t'))
    });
    if message.starts_with("found character that cannot start any token") && tab_on_line {
        message = "tabs cannot be used for indentation in YAML".to_string();
        help = Some("indent with spaces".to_string());
    }
    Err(vec![
        Diagnostic::new(message, Some(Loc::at(&file, path, line_col))).with_help(help),
    ])
}

/// Whether a file that failed to load is a spec with a mistake or some
/// other file.
enum Kind {
    Spec,
    /// Not a spec: what it is instead, when it is YAML at all.
    NotSpec(Option<&'static str>),
}

impl Kind {
    fn of(text: &str) -> Kind {
        use serde_yaml::Value;
        match serde_yaml::from_str::<Value>(text) {
            Ok(Value::Mapping(map)) => {
                let spec_like = map.contains_key("version")
                    || map
                        .keys()
                        .all(|k| k.as_str().is_some_and(|k| SPEC_KEYS.contains(&k)));
                if spec_like {
                    Kind::Spec
                } else {
                    Kind::NotSpec(Some("a mapping without `version`"))
                }
            }
            Ok(Value::Sequence(_)) => Kind::NotSpec(Some("a list")),
            Ok(Value::String(_)) => Kind::NotSpec(Some("a string")),
            Ok(Value::Number(_)) => Kind::NotSpec(Some("a number")),
            Ok(Value::Bool(_)) => Kind::NotSpec(Some("a boolean")),
            Ok(Value::Null) => Kind::NotSpec(Some("nothing")),
            Ok(Value::Tagged(_)) => Kind::NotSpec(Some("a tagged value")),
            // A spec being written: the first thing in it is its version.
            Err(_) if first_key_is_version(text) => Kind::Spec,
            Err(_) => Kind::NotSpec(None),
        }
    }
}

fn first_key_is_version(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .is_some_and(|l| l.starts_with("version:"))
}

/// `message` without serde_yaml's ` at line N column M` (the first is shown
/// apart; later ones, for an opening quote or bracket, stay in words).
fn strip_positions(message: &str, shown: Option<LineCol>) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " at line ".len()..];
        let line: String = after.chars().take_while(char::is_ascii_digit).collect();
        let tail = &after[line.len()..];
        let Some(tail) = tail.strip_prefix(" column ") else {
            out.push_str(" at line ");
            rest = after;
            continue;
        };
        let col: String = tail.chars().take_while(char::is_ascii_digit).collect();
        let position = LineCol {
            line: line.parse().unwrap_or(0),
            col: col.parse().unwrap_or(0),
        };
        if Some(position) != shown {
            out.push_str(&format!(" (line {line}, column {col})"));
        }
        rest = &tail[col.len()..];
    }
    out.push_str(rest);
    out
}

/// A nested value (`timeout:`) parsed on its own, its serde message in our words.
pub(super) fn nested_message(e: &serde_yaml::Error) -> (String, Option<String>) {
    humanize(&strip_positions(&e.to_string(), None))
}

/// Rewrites serde's wording into ours, with a suggestion for typos.
fn humanize(message: &str) -> (String, Option<String>) {
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let expected = |found: &str| {
        let candidates = &quoted[1..];
        did_you_mean(found, candidates.iter().copied()).or_else(|| {
            (!candidates.is_empty())
                .then(|| format!("expected one of {}", ticked(candidates.iter())))
        })
    };
    if let Some(found) = quoted.first() {
        if message.starts_with("unknown field") && *found == "<<" {
            return (
                "unknown key `<<`".to_string(),
                Some("YAML merge keys are not supported; repeat the keys".to_string()),
            );
        }
        if message.starts_with("unknown field") {
            return (format!("unknown key `{found}`"), expected(found));
        }
        if message.starts_with("duplicate field") {
            return (format!("key `{found}` appears twice"), None);
        }
        if message.starts_with("missing field `version`") {
            return (
                "missing key `version`".to_string(),
                Some("start the file with `version: 1`".to_string()),
            );
        }
        if message.starts_with("invalid type: integer") && message.contains(" as u128") {
            return (
                format!("number `{found}` is too large (at most 64 bits)"),
                Some("quote it if it is text".to_string()),
            );
        }
        if message.starts_with("unknown variant") {
            return (format!("unknown value `{found}`"), expected(found));
        }
        if message.starts_with("missing field") {
            return (format!("missing key `{found}`"), None);
        }
    }
    let mut message = message
        .replace("u64", "a whole number")
        .replace("a YAML mapping", "a mapping")
        .replace("a map,", "a mapping,")
        .replace("struct File", "a mapping starting with `version: 1`")
        .replace("sequence", "list");
    if message.ends_with("a map") {
        message.push_str("ping");
    }
    let message = match message.split_once("struct ") {
        Some((before, _)) => format!("{before}a mapping"),
        None => message,
    };
    // serde says "invalid type: FOUND, expected EXPECTED"; we say it the other way round.
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            let found = match found {
                "list" => "a list".to_string(),
                "map" | "mapping" => "a mapping".to_string(),
                other => other
                    .replacen("string ", "a string ", 1)
                    .replacen("floating point ", "a number ", 1)
                    .replacen("integer ", "an integer ", 1),
            };
            let help = ["\"true\"", "\"false\""]
                .iter()
                .any(|b| found.ends_with(b))
                .then(|| "write `true` or `false` without quotes".to_string());
            return (format!("expected {expected}, found {found}"), help);
        }
    }
    (message, None)
}
