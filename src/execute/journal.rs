//! The run journal: one JSON line per step event, each written and synced
//! before the run goes on, so a crash or kill at any point leaves a journal
//! that is true. `--resume` reads it to skip what already succeeded.
//!
//! A step is journalled as `started` before its request is sent and as `ok`
//! or `failed` when it ends; a `started` with no end means the request may
//! or may not have reached the server.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Started,
    Ok,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub step: usize,
    pub id: Option<String>,
    pub action: String,
    /// `sha256:` of the rendered request (app, action, params; no secrets).
    pub request: String,
    pub state: State,
    #[serde(default)]
    pub http_status: Option<u16>,
    /// `{status, headers, response}`, redacted.
    #[serde(default)]
    pub outputs: Option<Value>,
    /// False when redaction changed the outputs: they are not the real ones.
    #[serde(default)]
    pub complete: bool,
}

/// The default journal of a spec: `.runner/<file>.jsonl` beside it.
pub fn default_path(spec: &Path) -> PathBuf {
    let dir = spec.parent().unwrap_or(Path::new("")).join(".runner");
    let name = spec
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!("{name}.jsonl"))
}

/// The fingerprint of a step's request.
pub fn fingerprint(app: &str, action: &str, params: &[(String, Value)]) -> String {
    let canonical = serde_json::json!({ "app": app, "action": action, "params": params });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

pub struct Journal {
    file: File,
    pub path: PathBuf,
}

impl Journal {
    /// A new journal (an old one at `path` is replaced), or with `append`
    /// the continuation of one (for `--resume`).
    pub fn open(path: &Path, append: bool) -> std::io::Result<Journal> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let fresh = !dir.exists();
            std::fs::create_dir_all(dir)?;
            if fresh && dir.file_name().is_some_and(|n| n == ".runner") {
                // Journals hold responses: keep them out of git.
                std::fs::write(dir.join(".gitignore"), "*\n")?;
            }
        }
        let mut options = OpenOptions::new();
        options
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append);
        // Journals hold responses: readable by their owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record and syncs it to disk before returning.
    pub fn record(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

/// What a journal says about each step: its last record.
#[derive(Debug, Default)]
pub struct Past {
    last: HashMap<usize, Record>,
}

impl Past {
    /// Reads a journal; a torn last line (a kill mid-write) is ignored.
    pub fn read(path: &Path) -> std::io::Result<Past> {
        let file = File::open(path)?;
        let mut past = Past::default();
        for line in BufReader::new(file).lines() {
            let line = line?;
            if let Ok(record) = serde_json::from_str::<Record>(&line) {
                past.last.insert(record.step, record);
            }
        }
        Ok(past)
    }

    pub fn last(&self, step: usize) -> Option<&Record> {
        self.last.get(&step)
    }

    /// Steps whose request was sent but whose end was never recorded.
    pub fn uncertain(&self) -> impl Iterator<Item = &Record> {
        self.last.values().filter(|r| r.state == State::Started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".runner/spec.yaml.jsonl");
        let mut j = Journal::open(&path, false).unwrap();
        let rec = |state| Record {
            step: 0,
            id: Some("a".into()),
            action: "X".into(),
            request: fingerprint("app", "X", &[]),
            state,
            http_status: None,
            outputs: None,
            complete: true,
        };
        j.record(&rec(State::Started)).unwrap();
        j.record(&rec(State::Ok)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"step\": 1, \"tor")
            .unwrap();
        let past = Past::read(&path).unwrap();
        assert_eq!(past.last(0).map(|r| r.state), Some(State::Ok));
        assert!(past.last(1).is_none());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".runner/.gitignore")).unwrap(),
            "*\n"
        );
    }

    #[test]
    fn fingerprints_depend_on_params() {
        let a = fingerprint("gh", "X", &[("n".into(), serde_json::json!(1))]);
        let b = fingerprint("gh", "X", &[("n".into(), serde_json::json!(2))]);
        assert_ne!(a, b);
        assert!(a.starts_with("sha256:"));
    }
}
