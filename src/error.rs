//! The one error type of the program, its user-facing diagnostics, and the
//! exit codes. Every variant is something a user can act on.

use std::fmt;
use std::process::ExitCode;

/// Exit codes, defined once.
pub mod exit {
    /// Every step succeeded (or failed with `continue_on_error`).
    pub const OK: u8 = 0;
    /// A step failed.
    pub const STEP_FAILED: u8 = 1;
    /// The spec, the command line or the environment is invalid; nothing was sent.
    pub const INVALID: u8 = 2;
}

/// Where in a spec file something is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file, as the user named it (relative paths stay relative).
    pub file: String,
    /// The YAML path, e.g. `steps[1] (comment).params.issue_number`.
    pub path: String,
    /// 1-based line and column, when the parser knows them.
    pub line_col: Option<(usize, usize)>,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, col)) = self.line_col {
            write!(f, ":{line}:{col}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        Ok(())
    }
}

/// One problem found in a spec, pointing at where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub loc: Option<Loc>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, loc: Option<Loc>) -> Self {
        Diagnostic {
            message: message.into(),
            loc,
            help: None,
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(loc) = &self.loc {
            write!(f, "\n  --> {loc}")?;
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

fn display_all(diagnostics: &[Diagnostic]) -> String {
    let mut out = diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n");
    if diagnostics.len() > 1 {
        out.push_str(&format!("\n\n{} errors", diagnostics.len()));
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

/// The closest candidate to `found`, if one is close enough to be a typo.
pub fn did_you_mean<'a>(
    found: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let found_lower = found.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&found_lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
