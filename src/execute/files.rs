//! The files a request uploads, looked at before anything is sent (in
//! plan, in the checks before a run, and before each step): allowed by
//! [`Uploads`] (decided on the path with every symbolic link resolved),
//! regular files that can be opened, and no larger than
//! `--max-upload-size`. Their contents are not read here:
//! [`super::upload`] streams them when the request is sent, from the very
//! file checked here.

use std::path::{Component, Path, PathBuf};

use crate::check::Workflow;
use crate::fsio::io_words;
use crate::render::{Checked, Request};
use crate::spec::display;
use crate::units::show_size;

/// Why a path may not be uploaded; it names the path and the flag that
/// lifts the rule. `named` is the path as the spec gives it, with its
/// resolved form after it when that differs; `resolved` as `--allow-upload`
/// takes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum Refused {
    /// One of the files refused everywhere; `what` says which.
    #[error(
        "{named} is {what}, which is never uploaded, even with `--allow-outside-root`; to send this exact file, pass `--allow-upload {resolved}`"
    )]
    Always {
        named: String,
        what: &'static str,
        resolved: String,
    },
    #[error(
        "{named} is outside the project root `{root}` (the git work tree of the root spec or, outside git, its directory); to send this exact file, pass `--allow-upload {resolved}`, or `--allow-outside-root` to allow any file"
    )]
    OutsideRoot {
        named: String,
        root: String,
        resolved: String,
    },
}

/// Why the file of a param cannot be sent, from the checks before a step
/// or as it is opened to send. `shown` is the path as the spec gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("param `{param}`: {problem}")]
pub(super) struct FileError {
    pub param: String,
    pub problem: FileProblem,
}

/// What is wrong with a param's file: [`FileError`] names the param.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum FileProblem {
    #[error("file {0}")]
    Refused(Refused),
    /// `why` is [`io_words`]'.
    #[error("cannot read file `{shown}`: {why}")]
    Unreadable { shown: String, why: String },
    #[error("`{shown}` is not a regular file")]
    NotRegular { shown: String },
    #[error(
        "file `{shown}` is {}, larger than the upload limit of {}; raise `--max-upload-size` if it is expected",
        show_size(*.size),
        show_size(*.max)
    )]
    TooLarge { shown: String, size: u64, max: u64 },
    #[error("file `{shown}` changed while it was checked")]
    ChangedWhileChecked { shown: String },
    #[error("file `{shown}` was never checked")]
    NeverChecked { shown: String },
    #[error("file `{shown}` was replaced since it was checked; nothing was sent")]
    Replaced { shown: String },
    #[error(
        "file `{shown}` changed size since it was checked ({checked} bytes, now {now}); nothing was sent"
    )]
    Resized {
        shown: String,
        checked: u64,
        now: u64,
    },
    #[error("`{0}` is not a valid content type")]
    ContentType(String),
}

impl FileProblem {
    /// An I/O error reading the file shown as `shown`.
    pub(super) fn unreadable(shown: &str, e: &std::io::Error) -> FileProblem {
        FileProblem::Unreadable {
            shown: shown.to_string(),
            why: io_words(e),
        }
    }
}

/// What a run may upload. Every path is compared resolved: absolute, with
/// every symbolic link resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct Uploads {
    /// The project root: the git work tree of the root spec or, outside
    /// git, its directory.
    root: PathBuf,
    /// `--allow-outside-root`: anywhere but the files refused everywhere.
    allow_outside: bool,
    /// `--allow-upload`: these exact files, wherever they are, whatever
    /// they are.
    allowed: Vec<PathBuf>,
    /// Files refused everywhere (unless `--allow-upload` names them), with
    /// what they are: the journal, the env file, files auth sources read.
    refused: Vec<(PathBuf, &'static str)>,
}

/// Directories whose files are refused everywhere, with what they hold.
const REFUSED_DIRS: &[(&str, &str)] = &[
    (".git", "inside a `.git` directory"),
    (
        ".runner",
        "inside a `.runner` directory, where journals are kept",
    ),
];

impl Uploads {
    /// The rules for running `wf` with `opts`.
    pub(crate) fn new(wf: &Workflow, opts: &super::Options) -> Uploads {
        let resolve = |p: &PathBuf| crate::spec::resolve(p);
        let mut refused: Vec<(PathBuf, &'static str)> = Vec::new();
        if let Some(journal) = &opts.journal {
            refused.push((resolve(journal), "the run's journal"));
        }
        if let Some(env_file) = &opts.env_file {
            refused.push((resolve(env_file), "the env file (`--env-file`)"));
        }
        let step_auth = wf
            .flows
            .iter()
            .flat_map(|f| f.steps.iter())
            .filter_map(|s| s.def.auth.as_deref());
        for auth in wf.spec.auth.values().map(|a| &**a).chain(step_auth) {
            for file in auth.source.iter().flat_map(|s| s.files()) {
                refused.push((resolve(&file), "a file an auth source reads"));
            }
        }
        Uploads {
            root: wf.spec.root.dir.clone(),
            allow_outside: wf.spec.root.allow_outside,
            allowed: opts.allow_upload.iter().map(resolve).collect(),
            refused,
        }
    }

    /// `path` resolved, if a request may upload it; else why not, naming
    /// the path and the flag that lifts the rule.
    fn admit(&self, path: &Path, shown: &str) -> Result<PathBuf, Refused> {
        let lexical = lexical(path);
        let resolved = crate::spec::resolve(path);
        if self.allowed.contains(&resolved) {
            return Ok(resolved);
        }
        let named = if shown == display(&resolved) {
            format!("`{shown}`")
        } else {
            format!("`{shown}` (`{}`)", display(&resolved))
        };
        if let Some(what) = self.refused_as(&lexical, &resolved) {
            return Err(Refused::Always {
                named,
                what,
                resolved: display(&resolved),
            });
        }
        if !self.allow_outside && !resolved.starts_with(&self.root) {
            return Err(Refused::OutsideRoot {
                named,
                root: display(&self.root),
                resolved: display(&resolved),
            });
        }
        Ok(resolved)
    }

    /// What a file refused everywhere is, if `path` (as named, and
    /// resolved) is one.
    fn refused_as(&self, lexical: &Path, resolved: &Path) -> Option<&'static str> {
        for path in [lexical, resolved] {
            for part in path.components() {
                if let Component::Normal(name) = part
                    && let Some((_, what)) = REFUSED_DIRS.iter().find(|(dir, _)| name == *dir)
                {
                    return Some(what);
                }
            }
            let env_file = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == ".env" || n.starts_with(".env."));
            if env_file {
                return Some("an env file (`.env` or `.env.*`)");
            }
        }
        self.refused
            .iter()
            .find(|(p, _)| p == resolved)
            .map(|(_, what)| *what)
    }
}

/// `path` made absolute with `.` and `..` folded, as named: no symbolic
/// link resolved.
fn lexical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// How output shows a resolved path: relative to the current directory
/// when it is inside it, else absolute.
fn from_cwd(path: &Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok());
    match cwd.as_deref().and_then(|c| path.strip_prefix(c).ok()) {
        Some(relative) if !relative.as_os_str().is_empty() => display(relative),
        _ => display(path),
    }
}

/// Which file `meta` describes (device and inode), where that is known.
pub(super) fn file_id(meta: &std::fs::Metadata) -> Option<crate::render::FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(crate::render::FileId {
            device: meta.dev(),
            inode: meta.ino(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Checks every file `request` uploads and records which file it is.
/// `Err` names the param whose file is refused, and why.
pub(super) fn inspect(request: &mut Request, uploads: &Uploads, max: u64) -> Result<(), FileError> {
    let Some(body) = &mut request.body else {
        return Ok(());
    };
    for file in body.files_mut() {
        if file.deferred {
            continue;
        }
        check(file, uploads, max).map_err(|problem| FileError {
            param: file.param.clone(),
            problem,
        })?;
    }
    Ok(())
}

/// Checks one file: allowed, a regular file, not too large, openable.
fn check(file: &mut crate::render::Upload, uploads: &Uploads, max: u64) -> Result<(), FileProblem> {
    let shown = display(&file.path);
    let resolved = uploads
        .admit(&file.path, &shown)
        .map_err(FileProblem::Refused)?;
    let cannot = |e: std::io::Error| FileProblem::unreadable(&shown, &e);
    // The resolved path has no link left in it: one that appears now is
    // not followed.
    let meta = std::fs::symlink_metadata(&resolved).map_err(cannot)?;
    if !meta.is_file() {
        return Err(FileProblem::NotRegular { shown });
    }
    if meta.len() > max {
        return Err(FileProblem::TooLarge {
            shown,
            size: meta.len(),
            max,
        });
    }
    // Opened, not read: an unreadable file stops the run before it
    // starts. What was opened is what was looked at.
    let opened = open_options()
        .open(&resolved)
        .and_then(|f| f.metadata())
        .map_err(cannot)?;
    let id = file_id(&meta);
    if file_id(&opened) != id || opened.len() != meta.len() {
        return Err(FileProblem::ChangedWhileChecked { shown });
    }
    file.checked = Some(Checked {
        shown: from_cwd(&resolved),
        path: resolved,
        size: meta.len(),
        id,
    });
    Ok(())
}

/// How a checked file is opened: for reading, never through a symbolic
/// link, and without waiting on a FIFO put in its place (Unix).
pub(super) fn open_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options
}
