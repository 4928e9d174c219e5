//! A scratch directory holding the specs of one test; the binary runs
//! inside it, so no stray `.env` or journal of another test is picked up.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::Cmd;

pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A workspace holding `text` as `main.yaml`, the spec most tests run.
    pub fn main(text: &str) -> Self {
        Workspace::new().file("main.yaml", text)
    }

    /// Builder form of [`Workspace::write`].
    pub fn file(self, name: &str, content: &str) -> Self {
        self.write(name, content);
        self
    }

    /// An env file `name` (read as `.env` by default, or via `--env-file`)
    /// holding one `KEY=value` line per pair.
    pub fn env_file(self, name: &str, vars: &[(&str, &str)]) -> Self {
        let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        self.file(name, &text)
    }

    /// Writes `content` to `name` (parents created, an existing file
    /// replaced) and returns its path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(&path, content).expect("write file");
        path
    }

    /// Writes `bytes` to `name` (parents created) and returns its path.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.write(name, "");
        std::fs::write(&path, bytes).expect("write file");
        path
    }

    /// The text of `name`, which must exist.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    }

    /// The directory itself, for what the builders do not make (links,
    /// permissions).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A symbolic link `name` (parents created, an existing one replaced)
    /// pointing at `target`, as written: relative to the link's directory,
    /// or absolute. Unix only.
    #[cfg(unix)]
    pub fn symlink(&self, name: &str, target: impl AsRef<Path>) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(target, &path).expect("symlink");
        path
    }

    pub fn exists(&self, name: &str) -> bool {
        self.dir.path().join(name).exists()
    }

    /// The binary with `args`, run in this directory.
    pub fn runner<I>(&self, args: I) -> Cmd
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        Cmd::new().current_dir(self.dir.path()).args(args)
    }
}
