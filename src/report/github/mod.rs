//! GitHub Actions, as a report format: workflow commands (`::error`,
//! `::warning` annotations) for diagnostics and failed steps, the
//! `::stop-commands::` fence that keeps untrusted text inert in the log,
//! and the entries appended to `$GITHUB_OUTPUT`. It only formats; `Out`
//! prints and the CI sink decides when.
//!
//! The escaping is GitHub's own (`@actions/core`'s `escapeData` and
//! `escapeProperty`): `%`, `\r`, `\n` in messages, and `:` and `,` too in
//! properties.

use crate::error::Level;

/// GitHub shows at most this many annotations of one kind (errors,
/// warnings) per job step; more are dropped without a word.
pub(crate) const SHOWN_PER_KIND: usize = 10;

/// A fresh random token (128 bits, hex), from the operating system: a
/// fence or delimiter nobody can guess from the text it encloses.
pub(crate) fn token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness (never seen on the platforms GitHub runs):
        // fastrand's seed still comes from a per-process random state.
        bytes.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` fenced so GitHub runs no workflow command found in it (an API
/// answering `::add-mask::` or `::error::`): `token` ends the fence, and
/// a text that happens to hold it gets a fence of its own.
pub(crate) fn inert(text: &str, token: &str) -> String {
    let fresh;
    let token = if text.contains(token) {
        fresh = self::token();
        fresh.as_str()
    } else {
        token
    };
    format!("::stop-commands::{token}\n{text}\n::{token}::")
}

/// One annotation: a diagnostic or a failed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Annotation {
    pub(crate) level: Level,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<usize>,
    pub(crate) col: Option<usize>,
    pub(crate) title: String,
    pub(crate) message: String,
}

impl Annotation {
    /// The workflow command: `::error file=…,line=…,col=…,title=…::message`.
    pub(crate) fn command(&self) -> String {
        let kind = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(file) = &self.file {
            properties.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            properties.push(format!("line={line}"));
        }
        if let Some(col) = self.col {
            properties.push(format!("col={col}"));
        }
        properties.push(format!("title={}", escape_property(&self.title)));
        format!(
            "::{kind} {}::{}",
            properties.join(","),
            escape_data(&self.message)
        )
    }
}

/// The commands for `annotations`, at most [`SHOWN_PER_KIND`] of each
/// kind, in the order given (the caller puts the most important first),
/// and for each kind cut short a line saying how many were left out.
pub(crate) fn commands(annotations: &[Annotation]) -> (Vec<String>, Vec<String>) {
    let mut commands = Vec::new();
    let mut notes = Vec::new();
    for (level, word) in [(Level::Error, "error"), (Level::Warning, "warning")] {
        let of_kind: Vec<&Annotation> = annotations.iter().filter(|a| a.level == level).collect();
        commands.extend(of_kind.iter().take(SHOWN_PER_KIND).map(|a| a.command()));
        let left = of_kind.len().saturating_sub(SHOWN_PER_KIND);
        if left > 0 {
            notes.push(format!(
                "{left} more {word}{} not annotated (GitHub shows {SHOWN_PER_KIND} per kind per step); all are in the log above",
                if left == 1 { "" } else { "s" }
            ));
        }
    }
    (commands, notes)
}

/// A message as GitHub reads one: `%`, `\r` and `\n` percent-encoded.
pub(crate) fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: a message's escapes, and `:` and `,` too, which
/// would end the property.
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `$GITHUB_OUTPUT` entries for the workflow's outputs: each one
/// `name<<ghadelimiter_<random>` … `ghadelimiter_<random>`, so a value of
/// many lines (or one holding a delimiter-like line) stays one value.
/// Strings are written as they are, other values as JSON.
pub(crate) fn outputs(outputs: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let delimiter = loop {
            let d = format!("ghadelimiter_{}", token());
            if !value.contains(&d) && !name.contains(&d) {
                break d;
            }
        };
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    text
}

/// Appends `text` to the file at `path` (the runner creates the files it
/// names; one that is missing is created).
pub(crate) fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(message: &str) -> Annotation {
        Annotation {
            level: Level::Error,
            file: Some("a,b:c.yaml".into()),
            line: Some(3),
            col: Some(5),
            title: "step `x` failed".into(),
            message: message.into(),
        }
    }

    #[test]
    fn escapes_messages_and_properties_as_github_does() {
        assert_eq!(
            error("50% done\r\n::add-mask::x").command(),
            "::error file=a%2Cb%3Ac.yaml,line=3,col=5,title=step `x` failed::50%25 done%0D%0A::add-mask::x"
        );
    }

    #[test]
    fn ten_per_kind_then_a_count() {
        let mut all: Vec<Annotation> = (0..12).map(|i| error(&format!("e{i}"))).collect();
        all.push(Annotation {
            level: Level::Warning,
            ..error("w")
        });
        let (commands, notes) = commands(&all);
        assert_eq!(commands.len(), 11);
        assert!(commands[9].ends_with("::e9"), "{commands:?}");
        assert!(commands[10].starts_with("::warning "));
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("2 more errors not annotated"),
            "{notes:?}"
        );
    }

    #[test]
    fn a_fence_the_text_cannot_close() {
        let token = token();
        assert_eq!(token.len(), 32);
        assert_ne!(token, super::token());
        let fenced = inert("::error::x", &token);
        assert_eq!(
            fenced,
            format!("::stop-commands::{token}\n::error::x\n::{token}::")
        );
        let sneaky = format!("::{token}::\n::error::x");
        assert!(!inert(&sneaky, &token).starts_with(&format!("::stop-commands::{token}\n")));
    }

    #[test]
    fn outputs_in_heredocs_with_random_delimiters() {
        let map = serde_json::json!({"url": "a\nb", "n": 2});
        let text = outputs(map.as_object().unwrap());
        let lines: Vec<&str> = text.lines().collect();
        let delimiter = lines[0].strip_prefix("url<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_") && delimiter.len() > 20);
        assert_eq!(&lines[1..4], ["a", "b", delimiter]);
        assert!(lines[4].starts_with("n<<ghadelimiter_"));
        assert_ne!(lines[4].strip_prefix("n<<").unwrap(), delimiter);
        assert_eq!(lines[5], "2");
    }
}
