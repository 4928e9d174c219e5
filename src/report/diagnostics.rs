//! Diagnostics as data, for `validate --output json` and for annotations:
//! each one's level, file, line, column, YAML path, message and help.

use serde_json::{Value, json};

use crate::error::{Diagnostic, Error, Level};

/// One diagnostic, flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) level: Level,
    pub(crate) file: String,
    pub(crate) line: Option<usize>,
    pub(crate) column: Option<usize>,
    pub(crate) path: Option<String>,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

impl Found {
    /// `d`, found while reading `spec` (the file when `d` names none).
    pub(crate) fn from_diagnostic(d: &Diagnostic, spec: &str) -> Found {
        let loc = d.loc.as_ref();
        let line_col = loc.and_then(|l| l.line_col());
        Found {
            level: d.level,
            file: loc.map_or_else(|| spec.to_string(), |l| l.file_name().to_string()),
            line: line_col.map(|lc| lc.line),
            column: line_col.map(|lc| lc.col),
            path: loc.map(|l| l.path().to_string()).filter(|p| !p.is_empty()),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }

    /// What `error` says about `spec`: its diagnostics, or one without a
    /// place for an error of the command line or the environment.
    pub(crate) fn from_error(error: &Error, spec: &str) -> Vec<Found> {
        match error {
            Error::Spec(diagnostics) => diagnostics
                .iter()
                .map(|d| Found::from_diagnostic(d, spec))
                .collect(),
            Error::Usage(message) | Error::Environment(message) => vec![Found {
                level: Level::Error,
                file: spec.to_string(),
                line: None,
                column: None,
                path: None,
                message: message.clone(),
                help: None,
            }],
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "level": match self.level {
                Level::Error => "error",
                Level::Warning => "warning",
            },
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "help": self.help,
        })
    }

    /// As a GitHub annotation: the message, then its help.
    pub(crate) fn annotation(&self) -> super::github::Annotation {
        let mut message = self.message.clone();
        if let Some(help) = &self.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        super::github::Annotation {
            level: self.level,
            file: Some(self.file.clone()),
            line: self.line,
            col: self.column,
            title: match (&self.path, self.level) {
                (Some(path), _) => format!("runner: {path}"),
                (None, Level::Error) => "runner: invalid spec".into(),
                (None, Level::Warning) => "runner: warning".into(),
            },
            message,
        }
    }
}

/// `validate --output json`: whether every spec checked out, and what
/// was found in them, errors and warnings.
pub(crate) fn document(found: &[Found]) -> Value {
    json!({
        "ok": !found.iter().any(|f| f.level == Level::Error),
        "diagnostics": found.iter().map(Found::to_json).collect::<Vec<_>>(),
    })
}
