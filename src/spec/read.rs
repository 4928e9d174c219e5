//! Reading spec files: the root spec and everything it includes, each read
//! once, within limits (regular files, at most 8 MiB, UTF-8, nesting at
//! most 128 deep), and only from inside the project root. The only I/O of
//! loading happens here.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::lower::Lower;
use super::{Spec, diagnose};
use crate::error::{Diagnostic, Error, Loc, Result};
use crate::fsio::{self, ReadError};
use crate::source::{File, item};

/// Where files named by a spec may be read from: the git work tree that
/// holds the root spec or, outside git, the root spec's directory. Files a
/// spec names as part of its structure (includes, sub-workflows, schemas)
/// resolve only inside it, so a spec from a pull request cannot make the
/// runner read, and print, a local file.
#[derive(Debug, Clone)]
pub struct Root {
    pub dir: PathBuf,
    /// `--allow-outside-root`.
    pub allow_outside: bool,
}

impl Root {
    /// The root for a spec at `spec`.
    pub fn of(spec: &Path, allow_outside: bool) -> Root {
        let absolute = resolve(spec);
        let start = absolute.parent().unwrap_or(Path::new("/")).to_path_buf();
        let dir = start
            .ancestors()
            .find(|d| d.join(".git").exists())
            .map(Path::to_path_buf)
            .unwrap_or(start);
        Root { dir, allow_outside }
    }

    /// `path` if it is inside the root (or reading outside is allowed), else
    /// an error naming the path, never anything it holds.
    pub fn check(&self, path: &Path, shown: &str) -> std::result::Result<(), OutsideRoot> {
        if self.allow_outside || resolve(path).starts_with(&self.dir) {
            return Ok(());
        }
        Err(OutsideRoot {
            shown: shown.to_string(),
        })
    }

    pub const HELP: &str = "specs may only name files inside the git work tree of the root spec (or, outside git, its directory); pass `--allow-outside-root` to lift this";
}

/// A file a spec names lies outside the project [`Root`]; [`Root::HELP`]
/// says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is outside the project root")]
pub struct OutsideRoot {
    /// The path as messages show it.
    pub shown: String,
}

/// Why a JSON document a spec names (a schema) cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JsonFileError {
    #[error(transparent)]
    Outside(#[from] OutsideRoot),
    #[error("cannot read the schema `{shown}`: {why}")]
    Read { shown: String, why: ReadError },
    #[error("the schema `{shown}` is not valid JSON (line {line}, column {column})")]
    NotJson {
        shown: String,
        line: usize,
        column: usize,
    },
}

/// `path` made absolute with symlinks resolved as far as it exists, and
/// `.`/`..` folded in the rest.
pub(crate) fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut out = canonical;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// How the user named a path in messages (`/` separators everywhere).
pub(crate) fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

pub(super) struct Reader {
    root: Root,
    /// Files being loaded, for cycle detection.
    stack: Vec<PathBuf>,
    /// Files already loaded: an include reached twice is read once.
    seen: HashSet<PathBuf>,
    files: Vec<Arc<File>>,
    /// Files loaded as flows (the root, and each file a step `uses`).
    flows: HashMap<PathBuf, usize>,
    lower: Option<Lower>,
    diagnostics: Vec<Diagnostic>,
}

impl Reader {
    pub(super) fn new(root: Root) -> Reader {
        Reader {
            root,
            stack: Vec::new(),
            seen: HashSet::new(),
            files: Vec::new(),
            flows: HashMap::new(),
            lower: None,
            diagnostics: Vec::new(),
        }
    }

    pub(super) fn finish(mut self, file: String) -> Result<Spec> {
        let lower = self.lower.take();
        if let Some(lower) = &lower {
            self.diagnostics.extend(lower.diagnostics.iter().cloned());
        }
        if !self.diagnostics.is_empty() {
            return Err(Error::Spec(self.diagnostics));
        }
        let lower = lower.expect("a spec that loaded has a model");
        Ok(Spec {
            file,
            files: self.files,
            root: self.root,
            apps: lower.apps,
            actions: lower.actions,
            aliases: lower.aliases,
            auth: lower.auth,
            vars: lower.vars,
            flows: lower.flows,
            journal_sync: lower.journal_sync,
            env_allow_empty: lower.env_allow_empty,
        })
    }

    /// Reads the file at `path` (named `shown` in messages) and what it
    /// includes. Its steps join `flow`; `None` makes it a flow of its own
    /// (the root spec, or a file a step `uses`).
    pub(super) fn file(
        &mut self,
        path: &Path,
        shown: &str,
        included_from: Option<Loc>,
        flow: Option<usize>,
    ) {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            let chain = self
                .stack
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| format!("`{}`", p.file_name().unwrap_or_default().to_string_lossy()))
                .collect::<Vec<_>>()
                .join(" -> ");
            self.diagnostics.push(Diagnostic::new(
                format!("include cycle: {chain}"),
                included_from,
            ));
            return;
        }
        if !self.seen.insert(canonical.clone()) {
            return;
        }
        match read_spec(path) {
            Ok(text) => self.source(path, shown, text, Some(canonical), flow),
            Err(what) => {
                let message = match (&included_from, flow) {
                    (Some(_), Some(_)) => format!("cannot read included file `{shown}`: {what}"),
                    (Some(_), None) => format!("cannot read sub-workflow `{shown}`: {what}"),
                    (None, _) => format!("cannot read spec `{shown}`: {what}"),
                };
                self.diagnostics
                    .push(Diagnostic::new(message, included_from));
            }
        }
    }

    /// Parses one file's text, reads what it includes, then lowers it;
    /// `canonical` marks it as being loaded, for cycles.
    pub(super) fn source(
        &mut self,
        path: &Path,
        shown: &str,
        text: String,
        canonical: Option<PathBuf>,
        flow: Option<usize>,
    ) {
        let (file, raw) = match diagnose::parse(shown, text) {
            Ok(parsed) => parsed,
            Err(diagnostics) => {
                self.diagnostics.extend(diagnostics);
                return;
            }
        };
        self.files.push(file.clone());
        let lower = self
            .lower
            .get_or_insert_with(|| Lower::new(&file, self.root.clone()));
        let flow = match flow {
            Some(flow) => flow,
            None => {
                let flow = lower.begin_flow(&file);
                let key = canonical.clone().unwrap_or_else(|| resolve(path));
                self.flows.insert(key, flow);
                flow
            }
        };
        if raw.version != 1 {
            self.diagnostics.push(Diagnostic::new(
                format!("unsupported spec version `{}`, expected `1`", raw.version),
                Some(Loc::value(&file, "version")),
            ));
            return;
        }
        let pushed = canonical.is_some();
        self.stack.extend(canonical);
        let base = path.parent().unwrap_or(Path::new(""));
        for (i, include) in raw.include.iter().enumerate() {
            let include_path = base.join(include);
            let shown = display(&include_path);
            let at = Loc::value(&file, item("include", i));
            if let Err(outside) = self.root.check(&include_path, &shown) {
                self.diagnostics.push(
                    Diagnostic::new(outside.to_string(), Some(at))
                        .with_help(Some(Root::HELP.to_string())),
                );
                continue;
            }
            self.file(&include_path, &shown, Some(at), Some(flow));
        }
        if pushed {
            self.stack.pop();
        }
        let pending = match &mut self.lower {
            Some(lower) => lower.merge(&file, base, raw, flow),
            None => Vec::new(),
        };
        for uses in pending {
            if let Err(outside) = self.root.check(&uses.path, &uses.shown) {
                self.diagnostics.push(
                    Diagnostic::new(outside.to_string(), Some(uses.loc))
                        .with_help(Some(Root::HELP.to_string())),
                );
                continue;
            }
            let key = uses
                .path
                .canonicalize()
                .unwrap_or_else(|_| resolve(&uses.path));
            if !self.flows.contains_key(&key) {
                if self.seen.contains(&key) {
                    self.diagnostics.push(Diagnostic::new(
                        format!(
                            "`{}` is included, so it cannot also be a sub-workflow",
                            uses.shown
                        ),
                        Some(uses.loc),
                    ));
                    continue;
                }
                self.file(&uses.path, &uses.shown, Some(uses.loc.clone()), None);
            }
            if let (Some(&target), Some(lower)) = (self.flows.get(&key), &mut self.lower)
                && let Some(u) = lower.flows[uses.flow].steps[uses.step].uses.as_mut()
            {
                u.flow = Some(target);
            }
        }
    }
}

/// The largest spec file read: far above any real spec, far below harm.
const MAX_SPEC_BYTES: u64 = 8 << 20;

/// Reads a spec file: a regular file (not `/dev/zero`, not a FIFO) of at
/// most [`MAX_SPEC_BYTES`], in UTF-8.
fn read_spec(path: &Path) -> std::result::Result<String, ReadError> {
    fsio::text(fsio::read_regular(path, MAX_SPEC_BYTES)?)
}

/// The largest JSON document (a schema) a spec may name.
const MAX_JSON_BYTES: u64 = 8 << 20;

/// Reads a JSON document a spec names (a schema): inside the project root,
/// a regular file of at most 8 MiB. Messages never quote the file.
pub(super) fn read_json(
    root: &Root,
    path: &Path,
    shown: &str,
) -> std::result::Result<serde_json::Value, JsonFileError> {
    root.check(path, shown)?;
    let text = fsio::read_regular(path, MAX_JSON_BYTES)
        .and_then(fsio::text)
        .map_err(|why| JsonFileError::Read {
            shown: shown.to_string(),
            why,
        })?;
    serde_json::from_str(&text).map_err(|e| JsonFileError::NotJson {
        shown: shown.to_string(),
        line: e.line(),
        column: e.column(),
    })
}
