//! The one error type of the program, its user-facing diagnostics (with the
//! offending source line and a caret, as rustc and just show them), and the
//! exit codes. Every variant is something a user can act on.

use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;

use crate::source::{File, LineCol};

/// Exit codes, defined once.
pub mod exit {
    /// Every step succeeded (or failed with `continue_on_error`).
    pub const OK: u8 = 0;
    /// A step failed.
    pub const STEP_FAILED: u8 = 1;
    /// The spec, the command line or the environment is invalid; nothing was sent.
    pub const INVALID: u8 = 2;
}

/// Where in a spec file something is. The line and column are looked up
/// only when shown.
///
/// Every value of a spec carries one, and a workflow of 10,000 steps has
/// tens of thousands of values: a `Loc` is one pointer, and cloning it
/// copies no string.
#[derive(Clone)]
pub struct Loc(Arc<Place>);

#[derive(Clone)]
struct Place {
    file: Arc<File>,
    /// The YAML path looked up in the file's positions.
    yaml_path: Box<str>,
    /// How messages name the place when not by its YAML path
    /// (`steps[1] (comment).params.issue_number`).
    label: Option<Box<str>>,
    at: At,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Value,
    Key,
    Fixed(LineCol),
    Nowhere,
}

impl Loc {
    /// The value at `yaml_path` in `file`.
    pub fn value(file: &Arc<File>, yaml_path: impl Into<String>) -> Loc {
        Loc::new(file, yaml_path.into(), At::Value)
    }

    /// The key of the mapping entry at `yaml_path` (its value when it has no key).
    pub fn key(file: &Arc<File>, yaml_path: impl Into<String>) -> Loc {
        Loc::new(file, yaml_path.into(), At::Key)
    }

    /// A place whose position is already known (a parser error).
    pub fn at(file: &Arc<File>, yaml_path: impl Into<String>, line_col: Option<LineCol>) -> Loc {
        let at = line_col.map_or(At::Nowhere, At::Fixed);
        Loc::new(file, yaml_path.into(), at)
    }

    /// A whole file, with no position.
    pub fn file(file: &Arc<File>) -> Loc {
        Loc::new(file, String::new(), At::Nowhere)
    }

    fn new(file: &Arc<File>, yaml_path: String, at: At) -> Loc {
        Loc(Arc::new(Place {
            file: file.clone(),
            yaml_path: yaml_path.into(),
            label: None,
            at,
        }))
    }

    /// The same place, named `label` in messages.
    pub fn labelled(mut self, label: impl Into<String>) -> Loc {
        Arc::make_mut(&mut self.0).label = Some(label.into().into());
        self
    }

    /// The file, as the user named it.
    pub fn file_name(&self) -> &str {
        &self.0.file.name
    }

    pub fn source(&self) -> &Arc<File> {
        &self.0.file
    }

    /// How messages name the place: `steps[1] (comment).params.x`.
    pub fn path(&self) -> &str {
        self.0.label.as_deref().unwrap_or(&self.0.yaml_path)
    }

    /// The YAML path of the place.
    pub fn yaml_path(&self) -> &str {
        &self.0.yaml_path
    }

    /// 1-based line and column, when known.
    pub fn line_col(&self) -> Option<LineCol> {
        let place = &*self.0;
        match place.at {
            At::Value => place.file.positions().value(&place.yaml_path),
            At::Key => place.file.positions().key(&place.yaml_path),
            At::Fixed(lc) => Some(lc),
            At::Nowhere => None,
        }
    }

    /// The place `sub` below this one (`params` → `params.title`).
    pub fn child(&self, sub: &str) -> Loc {
        let place = &*self.0;
        let yaml_path = crate::source::child(&place.yaml_path, sub);
        let label = place.label.as_ref().map(|l| crate::source::child(l, sub));
        Loc(Arc::new(Place {
            file: place.file.clone(),
            yaml_path: yaml_path.into(),
            label: label.map(String::into_boxed_str),
            at: At::Value,
        }))
    }
}

impl PartialEq for Loc {
    fn eq(&self, other: &Loc) -> bool {
        self.file_name() == other.file_name()
            && self.path() == other.path()
            && self.line_col() == other.line_col()
    }
}

impl Eq for Loc {}

impl fmt::Debug for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file_name())?;
        if let Some(LineCol { line, col }) = self.line_col() {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path().is_empty() {
            write!(f, ": {}", self.path())?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// One problem found in a spec, pointing at where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub message: String,
    pub loc: Option<Loc>,
    pub help: Option<String>,
    /// Text masked in the source line shown (a literal credential found there).
    pub masks: Vec<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, loc: Option<Loc>) -> Self {
        Diagnostic {
            level: Level::Error,
            message: message.into(),
            loc,
            help: None,
            masks: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>, loc: Option<Loc>) -> Self {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::new(message, loc)
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Masks `text` wherever the source line shows it.
    pub fn masking(mut self, text: impl Into<String>) -> Self {
        self.masks.push(text.into());
        self
    }

    /// The offending line, masked, and a caret line under the node.
    fn snippet(&self) -> Option<(usize, String, String)> {
        let loc = self.loc.as_ref()?;
        let LineCol { line: line_no, col } = loc.line_col()?;
        let mut line = loc.source().line(line_no)?.to_string();
        let mut col = col.max(1);
        for mask in self.masks.iter().filter(|m| !m.is_empty()) {
            while let Some(at) = line.find(mask.as_str()) {
                let start = line[..at].chars().count() + 1;
                let len = mask.chars().count();
                if start + len <= col {
                    col -= len - 3;
                } else if start < col {
                    col = start;
                }
                line.replace_range(at..at + mask.len(), "***");
            }
        }
        let chars: Vec<char> = line.chars().collect();
        if col > chars.len() + 1 {
            return None;
        }
        let prefix: String = chars[..col - 1]
            .iter()
            .map(|c| if *c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = caret_width(&chars[col - 1..]);
        Some((line_no, line, format!("{prefix}{}", "^".repeat(width))))
    }
}

/// How many characters of the node that starts `rest` to underline: a
/// quoted scalar to its closing quote, a plain one to the end of its text,
/// a collection by its opening bracket.
fn caret_width(rest: &[char]) -> usize {
    match rest.first() {
        None => 1,
        Some('[' | '{' | '|' | '>') => 1,
        Some(&q @ ('"' | '\'')) => {
            let mut i = 1;
            while i < rest.len() {
                if rest[i] == '\\' && q == '"' {
                    i += 2;
                    continue;
                }
                if rest[i] == q && q == '\'' && rest.get(i + 1) == Some(&'\'') {
                    i += 2;
                    continue;
                }
                if rest[i] == q {
                    return i + 1;
                }
                i += 1;
            }
            rest.len()
        }
        Some(_) => {
            let mut end = rest.len();
            for i in 0..rest.len() {
                let next_is_space = rest.get(i + 1).is_none_or(|c| c.is_whitespace());
                let stop = match rest[i] {
                    ':' => next_is_space,
                    '#' => i > 0 && rest[i - 1].is_whitespace(),
                    ',' | ']' | '}' => true,
                    _ => false,
                };
                if stop {
                    end = i;
                    break;
                }
            }
            let trimmed = rest[..end]
                .iter()
                .rposition(|c| !c.is_whitespace())
                .map_or(0, |p| p + 1);
            trimmed.max(1)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, "{level}: {}", self.message)?;
        if let Some(loc) = &self.loc {
            write!(f, "\n  --> {loc}")?;
        }
        if let Some((line_no, line, carets)) = self.snippet() {
            let width = line_no.to_string().len() + 1;
            write!(
                f,
                "\n{:width$} |\n{line_no:>width$} | {line}\n{:width$} | {carets}",
                "", ""
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// Everything that stops a run before (or instead of) its steps.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec files are invalid: one entry per problem.
    #[error("{}", display_all(.0))]
    Spec(Vec<Diagnostic>),
    /// The command line is invalid.
    #[error("error: {0}")]
    Usage(String),
    /// The environment lacks something the spec needs (a variable, a file).
    #[error("error: {0}")]
    Environment(String),
}

/// Diagnostics one after another, with a count when there are several errors.
pub fn display_all(diagnostics: &[Diagnostic]) -> String {
    let mut out = diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n");
    let errors = diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .count();
    if errors > 1 {
        out.push_str(&format!("\n\n{errors} errors"));
    }
    out
}

impl Error {
    pub fn spec(diagnostic: Diagnostic) -> Self {
        Error::Spec(vec![diagnostic])
    }

    /// Every `Error` means nothing was sent: failures after the first request
    /// are reported as failed steps instead.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(exit::INVALID)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `` `a`, `b`, `c` ``: how messages list names.
pub fn ticked<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` (did you mean `x`?)` when a candidate is close to `found`, else
/// nothing: for the end of a one-line message.
pub fn suggest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(found, candidates)
        .map(|h| format!(" ({h})"))
        .unwrap_or_default()
}

/// `did you mean `x`?` for the closest candidate to `found`, if one is close
/// enough to be a typo: a diagnostic's help line.
pub fn did_you_mean<'a>(
    found: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(found, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// How alike two names must be (Jaro-Winkler, 0 to 1) for one to be
/// offered as a typo of the other: below this, suggestions are noise.
const TYPO_SIMILARITY: f64 = 0.8;

/// The candidate closest to `found`, if one is close enough to be a typo:
/// every "did you mean" of the program goes through here, so they all
/// agree. Case is ignored (`getuser` finds `getUser`); of equally close
/// candidates the alphabetically first wins, so the answer does not depend
/// on the order they come in.
pub fn closest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let found = found.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&found, &c.to_lowercase()), c))
        .filter(|(score, _)| *score > TYPO_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Arc<File> {
        File::new("s.yaml", text.to_string(), true)
    }

    #[test]
    fn shows_the_line_with_a_caret_under_the_node() {
        let file = spec("version: 1\nsteps:\n  - action: GITHUB_CREAT\n");
        let d = Diagnostic::new("unknown action", Some(Loc::value(&file, "steps[0].action")))
            .with_help(Some("did you mean `GITHUB_CREATE`?".into()));
        assert_eq!(
            d.to_string(),
            "error: unknown action\n  --> s.yaml:3:13: steps[0].action\n   |\n 3 |   - action: GITHUB_CREAT\n   |             ^^^^^^^^^^^^\n  = help: did you mean `GITHUB_CREATE`?"
        );
    }

    #[test]
    fn masks_and_quoted_values() {
        let file = spec("version: 1\nx: {value: \"ghp_abcdefghij\", y: 1}\n");
        let d = Diagnostic::new("literal", Some(Loc::value(&file, "x.value")))
            .masking("ghp_abcdefghij");
        let shown = d.to_string();
        assert!(!shown.contains("ghp_"), "{shown}");
        assert!(
            shown.contains("x: {value: \"***\", y: 1}\n   |            ^^^^^"),
            "{shown}"
        );
    }

    #[test]
    fn no_line_from_a_file_that_is_not_a_spec() {
        let file = File::new(".env", "TOKEN=ghp_abc\n".into(), false);
        let d = Diagnostic::new(
            "not a spec",
            Some(Loc::at(&file, "", Some(LineCol { line: 1, col: 1 }))),
        );
        assert_eq!(d.to_string(), "error: not a spec\n  --> .env:1:1");
    }

    #[test]
    fn one_did_you_mean_ignoring_case_and_order() {
        assert_eq!(
            closest("getuser", ["getUser", "listUsers"]),
            Some("getUser")
        );
        assert_eq!(
            closest("GITHUB_CREAT", ["GITHUB_CREATE"]),
            Some("GITHUB_CREATE")
        );
        assert_eq!(closest("zzz", ["getUser"]), None);
        // Equally close: the first by name, whatever the order given.
        assert_eq!(closest("abcde", ["abcdz", "abcdy"]), Some("abcdy"));
        assert_eq!(closest("abcde", ["abcdy", "abcdz"]), Some("abcdy"));
        assert_eq!(
            suggest("tittle", ["title"]),
            " (did you mean `title`?)".to_string()
        );
    }

    #[test]
    fn caret_widths() {
        let w = |s: &str| caret_width(&s.chars().collect::<Vec<_>>());
        assert_eq!(w("title: x"), 5);
        assert_eq!(w("abc def # note"), 7);
        assert_eq!(w("'it''s' x"), 7);
        assert_eq!(w("[1, 2]"), 1);
        assert_eq!(w("a, b]"), 1);
    }
}
