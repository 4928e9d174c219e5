//! The run journal: one JSON line per request event, written before the
//! run goes on, so a crash or kill at any point leaves a journal that is
//! true. `--resume` reads it to skip what already succeeded.
//!
//! A POST or PATCH (the requests resume protects) is journalled as
//! `started` before it is sent and as `ok` or `failed` when it ends; a
//! `started` with no end means it may or may not have reached the server.
//! Other requests are journalled when they end. Records belong to a step by
//! its key (its `id`, else a key derived from its action) and by the
//! fingerprint of the whole request (app, action, method, base URL, path,
//! rendered params; never a secret), never by position: inserting,
//! removing or reordering steps cannot make a record stand for another
//! step. A record written under an alias of an action (by an older catalog
//! or workflow) is read as written under the action's name. When records
//! reach the disk is [`syncer`]'s.
//!
//! One run at a time holds a journal (an OS file lock); the journal is never
//! written through a symbolic link, and is readable by its owner only.

mod syncer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::redact::Redactor;
use crate::spec::JournalSync;
use crate::spec::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum State {
    Started,
    Ok,
    Failed,
    /// A send that was in flight when a run stopped, sent again by a later
    /// run with `--rerun-uncertain`: whether it reached the server stays
    /// unknown, but it no longer stops a resume.
    Abandoned,
}

/// What identifies a request, and what is shown when it changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Parts {
    pub app: String,
    pub action: String,
    pub method: String,
    /// Digest of the base URL, which may hold a secret.
    pub base_url: String,
    /// The base URL as output shows it (masked).
    pub base_url_shown: String,
    /// The action's path template (`/repos/{owner}/{repo}`).
    pub path: String,
    /// Digest of each rendered param, by name.
    pub params: BTreeMap<String, String>,
}

impl Parts {
    pub(super) fn new(
        app: &str,
        action: &str,
        method: Method,
        base_url: &str,
        path: &str,
        params: &[(String, Value)],
        redactor: &Redactor,
    ) -> Parts {
        Parts {
            app: app.to_string(),
            action: action.to_string(),
            method: format!("{method:?}"),
            base_url: digest(base_url.as_bytes()),
            base_url_shown: redactor.redact(base_url),
            path: path.to_string(),
            params: params
                .iter()
                .map(|(n, v)| (n.clone(), digest(v.to_string().as_bytes())))
                .collect(),
        }
    }

    /// `sha256:` of everything that identifies the request.
    pub(super) fn fingerprint(&self) -> String {
        /// The fields in the order journals have always hashed them.
        #[derive(Serialize)]
        struct Canonical<'a> {
            app: &'a str,
            action: &'a str,
            method: &'a str,
            base_url: &'a str,
            path: &'a str,
            params: &'a BTreeMap<String, String>,
        }
        let canonical = Canonical {
            app: &self.app,
            action: &self.action,
            method: &self.method,
            base_url: &self.base_url,
            path: &self.path,
            params: &self.params,
        };
        // Serializing plain strings into memory cannot fail.
        digest(&serde_json::to_vec(&canonical).unwrap_or_default())
    }

    /// What differs from `earlier`, in words.
    pub(super) fn changes_since(&self, earlier: &Parts) -> Vec<String> {
        let mut out = Vec::new();
        if self.app != earlier.app || self.action != earlier.action {
            out.push(format!("action `{}` → `{}`", earlier.action, self.action));
        }
        if self.method != earlier.method {
            out.push(format!("method {} → {}", earlier.method, self.method));
        }
        if self.base_url != earlier.base_url {
            out.push(format!(
                "base URL `{}` → `{}`",
                earlier.base_url_shown, self.base_url_shown
            ));
        }
        if self.path != earlier.path {
            out.push(format!("path `{}` → `{}`", earlier.path, self.path));
        }
        let names: std::collections::BTreeSet<&String> =
            self.params.keys().chain(earlier.params.keys()).collect();
        for name in names {
            match (earlier.params.get(name), self.params.get(name)) {
                (Some(a), Some(b)) if a != b => out.push(format!("param `{name}`")),
                (None, Some(_)) => out.push(format!("param `{name}` (added)")),
                (Some(_), None) => out.push(format!("param `{name}` (removed)")),
                _ => {}
            }
        }
        out
    }
}

fn digest(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in Sha256::digest(bytes) {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    /// Where the step was in the run that wrote the record: for people
    /// reading the journal; records are matched by key and request.
    #[serde(default)]
    pub step: usize,
    /// The step's key: its `id`, else `<ACTION>` or `<ACTION>#n`.
    pub key: String,
    /// The step's `id`, if it has one.
    #[serde(default)]
    pub id: Option<String>,
    pub action: String,
    /// How messages name the step (`steps[1] (create)`).
    pub label: String,
    pub request: String,
    pub parts: Parts,
    pub state: State,
    #[serde(default)]
    pub http_status: Option<u16>,
    /// `{status, headers, response}`, redacted.
    #[serde(default)]
    pub outputs: Option<Value>,
    /// False when redaction changed the outputs: they are not the real ones.
    #[serde(default)]
    pub complete: bool,
    /// The `now()` of the run: a resumed run takes the first record's, so
    /// what it renders is what the first run sent.
    #[serde(default)]
    pub now: Option<String>,
}

/// A record as it is written: borrowed from the request it describes, so
/// writing one copies nothing. Read back, it is a [`Record`].
#[derive(Debug, Serialize)]
pub(super) struct Entry<'a> {
    pub step: usize,
    pub key: &'a str,
    pub id: Option<&'a str>,
    pub action: &'a str,
    pub label: &'a str,
    pub request: &'a str,
    pub parts: &'a Parts,
    pub state: State,
    pub http_status: Option<u16>,
    pub outputs: Option<Outputs<'a>>,
    pub complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<&'a str>,
}

/// A record's `outputs`: `{status, headers, response}`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Outputs<'a> {
    /// As answered.
    Answer {
        status: Option<u16>,
        headers: &'a BTreeMap<String, String>,
        response: Option<&'a Value>,
    },
    /// The object, built: redacted, or as a journal holds it.
    Object(&'a Value),
}

impl Record {
    /// The record, to write again (with another state, say).
    pub(super) fn entry(&self) -> Entry<'_> {
        Entry {
            step: self.step,
            key: &self.key,
            id: self.id.as_deref(),
            action: &self.action,
            label: &self.label,
            request: &self.request,
            parts: &self.parts,
            state: self.state,
            http_status: self.http_status,
            outputs: self.outputs.as_ref().map(Outputs::Object),
            complete: self.complete,
            now: self.now.as_deref(),
        }
    }

    pub(super) fn method(&self) -> &str {
        &self.parts.method
    }

    /// Whether sending it again could repeat a side effect.
    pub(super) fn is_unsafe(&self) -> bool {
        matches!(self.method(), "POST" | "PATCH")
    }
}

/// The default journal of a spec: `.runner/<file>.jsonl` beside it, or
/// `.runner/<file>.shard-I-of-N.jsonl` for one shard of a run.
pub(crate) fn default_path(spec: &Path, shard: Option<(usize, usize)>) -> PathBuf {
    let dir = spec.parent().unwrap_or(Path::new("")).join(".runner");
    let name = spec
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match shard {
        Some((i, n)) => dir.join(format!("{name}.shard-{i}-of-{n}.jsonl")),
        None => dir.join(format!("{name}.jsonl")),
    }
}

/// The first directory on the way to the journal at `path` that is a
/// symbolic link inside the project `root` (a canonical path): a committed
/// `.runner -> ../../elsewhere` would put the journal outside the tree.
/// Directories above the root are the user's business, and those that do
/// not exist yet are created as plain directories.
pub(super) fn linked_dir(path: &Path, root: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let mut prefix = PathBuf::new();
    for component in dir.components() {
        prefix.push(component);
        let std::path::Component::Normal(name) = component else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(&prefix) else {
            // Neither it nor anything below it exists yet.
            return None;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let parent = match prefix.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let inside = parent
            .canonicalize()
            .is_ok_and(|p| p.join(name).starts_with(root));
        if inside {
            return Some(prefix);
        }
    }
    None
}

/// Why a journal cannot be used.
#[derive(Debug)]
pub(super) enum OpenError {
    /// Another run holds it.
    Locked,
    /// It is a symbolic link.
    Symlink,
    Io(std::io::Error),
}

pub(super) struct Journal {
    file: File,
    pub path: PathBuf,
    syncer: syncer::Syncer,
    sync: JournalSync,
}

impl Journal {
    /// Opens and locks the journal at `path`: a new one (an old one is
    /// emptied), or with `resume` the continuation of one, with what it
    /// recorded.
    pub(super) fn open(
        path: &Path,
        resume: bool,
        sync: JournalSync,
    ) -> Result<(Journal, Past), OpenError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let fresh = !dir.exists();
            std::fs::create_dir_all(dir).map_err(OpenError::Io)?;
            if fresh && dir.file_name().is_some_and(|n| n == ".runner") {
                // Journals hold responses: keep them out of git.
                std::fs::write(dir.join(".gitignore"), "*\n").map_err(OpenError::Io)?;
            }
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(OpenError::Symlink);
        }
        let mut options = OpenOptions::new();
        // A resumed journal must exist; a new one is created.
        options.create(!resume).read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Journals hold responses: readable by their owner only. And
            // never through a link planted between the check and the open.
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let mut file = options.open(path).map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return OpenError::Symlink;
            }
            OpenError::Io(e)
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Locked),
            Err(std::fs::TryLockError::Error(e)) => return Err(OpenError::Io(e)),
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(OpenError::Io)?;
        }
        let past = if resume {
            let past = Past::read(&file).map_err(OpenError::Io)?;
            let end = file.seek(SeekFrom::End(0)).map_err(OpenError::Io)?;
            // A line torn by a kill mid-write is ended, so the records this
            // run adds start on a line of their own.
            if end > 0 {
                let mut last = [0u8];
                file.seek(SeekFrom::End(-1)).map_err(OpenError::Io)?;
                std::io::Read::read_exact(&mut file, &mut last).map_err(OpenError::Io)?;
                if last[0] != b'\n' {
                    file.write_all(b"\n").map_err(OpenError::Io)?;
                }
            }
            past
        } else {
            file.set_len(0).map_err(OpenError::Io)?;
            file.seek(SeekFrom::Start(0)).map_err(OpenError::Io)?;
            Past::default()
        };
        let syncer = syncer::Syncer::start(file.try_clone().map_err(OpenError::Io)?)
            .map_err(OpenError::Io)?;
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                syncer,
                sync,
            },
            past,
        ))
    }

    /// Appends one record in one `write(2)`: when this returns, the kernel
    /// has it, and a process that dies now loses none of it. Its number,
    /// for [`Journal::guard`].
    pub(super) fn record(&self, record: &Entry<'_>) -> std::io::Result<u64> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if record.state != State::Started && super::failpoint::reached("completion-write") {
            // A kill while the line is half written: a torn last line.
            (&self.file).write_all(&line[..line.len() / 2])?;
            super::failpoint::stop("completion-write");
        }
        (&self.file).write_all(&line)?;
        Ok(self.syncer.written())
    }

    /// Before the request that record `seq` guards is sent: in strict mode,
    /// waits until the record is on disk (with every record written before
    /// it, so loop items waiting at once share one sync).
    pub(super) async fn guard(&self, seq: u64) -> Result<(), String> {
        match self.sync {
            JournalSync::Default => Ok(()),
            JournalSync::Strict => self.syncer.synced(seq).await,
        }
    }

    /// Syncs what is left: the end of the run.
    pub(super) fn close(mut self) -> Result<(), String> {
        self.syncer.finish()
    }
}

/// What a journal says: each time a request was sent (a `started` record
/// and the record that ended it), in order. The same request may have been
/// sent several times (two identical loop items), and each counts once.
#[derive(Debug, Default)]
pub(super) struct Past {
    /// The `now()` of the run that began the journal.
    pub now: Option<String>,
    entries: Vec<Record>,
    by_request: HashMap<(String, String), Vec<usize>>,
}

impl Past {
    /// Reads a journal; a torn last line (a kill mid-write) is ignored.
    fn read(file: &File) -> std::io::Result<Past> {
        let mut past = Past::default();
        for line in BufReader::new(file).lines() {
            let line = line?;
            if let Ok(record) = serde_json::from_str::<Record>(&line) {
                if past.now.is_none() {
                    past.now.clone_from(&record.now);
                }
                past.add(record);
            }
        }
        Ok(past)
    }

    fn add(&mut self, record: Record) {
        let key = (record.key.clone(), record.request.clone());
        let sent = self.by_request.entry(key).or_default();
        // An end belongs to the earliest send of the same request still open.
        let open = sent
            .iter()
            .copied()
            .find(|&i| self.entries[i].state == State::Started);
        match open {
            // An end, or a send given up on, closes it.
            Some(i) if record.state != State::Started => self.entries[i] = record,
            _ => {
                sent.push(self.entries.len());
                self.entries.push(record);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records written under an alias of an action (by a workflow, or a
    /// catalog, that named it so), as if written under its name: which name
    /// a request was sent under does not make it another request.
    pub(super) fn rename_aliases(&mut self, name_of: impl Fn(&str) -> Option<String>) {
        let mut renamed = false;
        for record in &mut self.entries {
            if let Some(name) = name_of(&record.parts.action) {
                record.parts.action = name.clone();
                record.action = name;
                record.request = record.parts.fingerprint();
                renamed = true;
            }
        }
        if renamed {
            self.by_request.clear();
            for (i, record) in self.entries.iter().enumerate() {
                self.by_request
                    .entry((record.key.clone(), record.request.clone()))
                    .or_default()
                    .push(i);
            }
        }
    }

    /// A send of exactly this step and request not yet claimed by this run:
    /// a completed one first, else one in flight, else a failed one.
    pub(super) fn exact(
        &self,
        key: &str,
        request: &str,
        claimed: &HashSet<usize>,
    ) -> Option<(usize, &Record)> {
        let sent = self
            .by_request
            .get(&(key.to_string(), request.to_string()))?;
        [State::Ok, State::Started, State::Failed]
            .into_iter()
            .find_map(|state| {
                sent.iter()
                    .copied()
                    .find(|i| !claimed.contains(i) && self.entries[*i].state == state)
            })
            .map(|i| (i, &self.entries[i]))
    }

    /// A completed send of the same request under another key, not yet
    /// claimed by this run, nor `reserved` for the step it exactly matches.
    pub(super) fn moved(
        &self,
        request: &str,
        claimed: &HashSet<usize>,
        reserved: &HashSet<usize>,
    ) -> Option<(usize, &Record)> {
        self.entries.iter().enumerate().find(|(i, r)| {
            r.request == request
                && r.state == State::Ok
                && !claimed.contains(i)
                && !reserved.contains(i)
        })
    }

    /// The sends that exactly match one of `requests` (key, request).
    pub(super) fn matching(&self, requests: &[(String, String)]) -> HashSet<usize> {
        requests
            .iter()
            .filter_map(|key| self.by_request.get(key))
            .flatten()
            .copied()
            .collect()
    }

    /// The latest send of the step `key` (any request).
    pub(super) fn latest(&self, key: &str) -> Option<&Record> {
        self.entries.iter().rev().find(|r| r.key == key)
    }

    /// Sends whose end was never recorded.
    pub(super) fn uncertain(&self) -> impl Iterator<Item = &Record> {
        self.entries.iter().filter(|r| r.state == State::Started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(n: i64) -> Parts {
        Parts::new(
            "app",
            "X",
            Method::POST,
            "https://api.example",
            "/x",
            &[("n".into(), serde_json::json!(n))],
            &Redactor::new(),
        )
    }

    fn record(key: &str, p: &Parts, state: State) -> Record {
        Record {
            step: 0,
            key: key.into(),
            id: Some(key.into()),
            action: "X".into(),
            label: key.into(),
            request: p.fingerprint(),
            parts: p.clone(),
            state,
            http_status: None,
            outputs: None,
            complete: true,
            now: None,
        }
    }

    #[test]
    fn records_survive_a_torn_line_and_the_file_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".runner/spec.yaml.jsonl");
        let (j, past) = Journal::open(&path, false, JournalSync::Default).unwrap();
        assert!(past.is_empty());
        j.record(&record("a", &parts(1), State::Started).entry())
            .unwrap();
        j.record(&record("a", &parts(1), State::Ok).entry())
            .unwrap();
        assert!(matches!(
            Journal::open(&path, true, JournalSync::Default),
            Err(OpenError::Locked)
        ));
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"key\": \"b\", \"tor")
            .unwrap();
        let (_j, past) = Journal::open(&path, true, JournalSync::Default).unwrap();
        let fp = parts(1).fingerprint();
        let none = HashSet::new();
        assert_eq!(
            past.exact("a", &fp, &none).map(|(_, r)| r.state),
            Some(State::Ok)
        );
        assert!(past.latest("b").is_none());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".runner/.gitignore")).unwrap(),
            "*\n"
        );
    }

    #[test]
    fn identical_sends_count_once_each() {
        let mut past = Past::default();
        let p = parts(1);
        for state in [State::Started, State::Started, State::Ok, State::Failed] {
            past.add(record("a", &p, state));
        }
        past.add(record("a", &p, State::Started));
        past.add(record("a", &p, State::Ok));
        let fp = p.fingerprint();
        let mut claimed = HashSet::new();
        let (first, r) = past.exact("a", &fp, &claimed).unwrap();
        assert_eq!(r.state, State::Ok);
        claimed.insert(first);
        let (second, r) = past.exact("a", &fp, &claimed).unwrap();
        assert_eq!(r.state, State::Ok);
        claimed.insert(second);
        assert_eq!(
            past.exact("a", &fp, &claimed).unwrap().1.state,
            State::Failed
        );
        assert_eq!(past.uncertain().count(), 0);
    }

    #[test]
    fn records_under_an_alias_are_found_under_the_name() {
        let mut past = Past::default();
        let old = parts(1);
        past.add(record("a", &old, State::Started));
        past.add(record("a", &old, State::Ok));
        let mut renamed = old.clone();
        renamed.action = "Y".into();
        let none = HashSet::new();
        assert!(past.exact("a", &renamed.fingerprint(), &none).is_none());
        past.rename_aliases(|action| (action == "X").then(|| "Y".to_string()));
        let (_, r) = past.exact("a", &renamed.fingerprint(), &none).unwrap();
        assert_eq!((r.state, r.action.as_str()), (State::Ok, "Y"));
        assert!(past.exact("a", &old.fingerprint(), &none).is_none());
        assert_eq!(past.uncertain().count(), 0);
    }

    #[test]
    fn fingerprints_and_changes() {
        let a = parts(1);
        let b = parts(2);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(a.fingerprint().starts_with("sha256:"));
        assert_eq!(b.changes_since(&a), vec!["param `n`".to_string()]);
        let mut c = parts(1);
        c.method = "PUT".into();
        assert_eq!(c.changes_since(&a), vec!["method POST → PUT".to_string()]);
        assert_ne!(c.fingerprint(), a.fingerprint());
    }

    #[test]
    fn fingerprints_hash_what_journals_always_hashed() {
        // Journals written by earlier versions resume only if the same
        // request hashes the same: the JSON object of these fields, in
        // this order, params by name.
        let mut p = parts(1);
        p.params.insert("a\"b".into(), "sha256:x".into());
        let canonical = serde_json::json!({
            "app": p.app,
            "action": p.action,
            "method": p.method,
            "base_url": p.base_url,
            "path": p.path,
            "params": p.params,
        });
        assert_eq!(p.fingerprint(), digest(canonical.to_string().as_bytes()));
    }

    #[cfg(unix)]
    #[test]
    fn linked_directories_inside_the_root_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("project");
        std::fs::create_dir_all(root.join("specs")).unwrap();
        std::fs::create_dir_all(base.join("outside/real")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("specs/.runner")).unwrap();
        std::os::unix::fs::symlink("outside/real", base.join("link")).unwrap();
        let journal = root.join("specs/.runner/spec.yaml.jsonl");
        assert_eq!(
            linked_dir(&journal, &root),
            Some(root.join("specs/.runner"))
        );
        // Below the link, where nothing exists yet.
        let deeper = root.join("specs/.runner/a/b/j.jsonl");
        assert_eq!(linked_dir(&deeper, &root), Some(root.join("specs/.runner")));
        // Links above the root, and paths that do not exist yet, are fine.
        assert_eq!(linked_dir(&base.join("link/j.jsonl"), &root), None);
        assert_eq!(linked_dir(&root.join("new/.runner/j.jsonl"), &root), None);
        assert_eq!(linked_dir(&root.join("specs/j.jsonl"), &root), None);
    }

    #[cfg(unix)]
    #[test]
    fn never_through_a_symlink_and_reset_to_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("journal.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            Journal::open(&link, false, JournalSync::Default),
            Err(OpenError::Symlink)
        ));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let open = dir.path().join("open.jsonl");
        std::fs::write(&open, "").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _ = Journal::open(&open, false, JournalSync::Default).unwrap();
        let mode = std::fs::metadata(&open).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn strict_mode_waits_for_the_sync_and_the_default_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let record = record("k", &parts(1), State::Started);
        let (j, _) = Journal::open(&path, false, JournalSync::Default).unwrap();
        let seq = j.record(&record.entry()).unwrap();
        j.guard(seq).await.unwrap();
        assert!(
            j.syncer.synced_count() < seq,
            "the default waited for a sync"
        );
        j.close().unwrap();
        let (j, _) = Journal::open(&path, false, JournalSync::Strict).unwrap();
        let seq = j.record(&record.entry()).unwrap();
        j.guard(seq).await.unwrap();
        assert!(
            j.syncer.synced_count() >= seq,
            "strict sent before the sync"
        );
        j.close().unwrap();
    }

    #[test]
    fn a_torn_last_line_is_ended_before_a_resumed_run_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let line = serde_json::to_string(&record("k", &parts(1), State::Ok)).unwrap();
        std::fs::write(&path, format!("{line}\n{}", &line[..10])).unwrap();
        let (j, past) = Journal::open(&path, true, JournalSync::Default).unwrap();
        assert_eq!(past.entries.len(), 1);
        j.record(&record("k", &parts(2), State::Ok).entry())
            .unwrap();
        j.close().unwrap();
        let (_, past) = Journal::open(&path, true, JournalSync::Default).unwrap();
        assert_eq!(
            past.entries.len(),
            2,
            "the new record was lost to the torn line"
        );
    }
}
