//! The error gallery: every file in `tests/errors/` is a spec with one
//! problem, and its snapshot is what `runner validate` tells the user about
//! it. Review the snapshots as prose: each message should say what was
//! expected and what was found, and point at `file:line:col`.
//!
//! Files only included by the cases live in `tests/errors/included/`.

use std::path::{Path, PathBuf};

use crate::harness::{Cmd, Run};

/// The `tests/` directory: the binary runs there so paths in messages read
/// `errors/<case>.yaml` whatever the machine.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// `runner validate <spec>` in `dir`, with an environment holding only `PATH`.
fn validate(dir: &Path, spec: &Path) -> Run {
    Cmd::new().current_dir(dir).arg("validate").arg(spec).run()
}

#[test]
fn error_gallery() {
    let dir = tests_dir();
    insta::glob!("errors/*.yaml", |path| {
        let relative = path.strip_prefix(&dir).expect("case under tests/");
        let out = validate(&dir, relative);
        let (code, stdout, stderr) = (out.code, out.stdout, out.stderr);
        let shown = relative.display();
        assert!(
            !stderr.contains("panicked"),
            "{shown}: runner panicked:\n{stderr}"
        );
        assert_eq!(
            code, 2,
            "{shown}: expected exit 2\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        assert!(stdout.is_empty(), "{shown}: unexpected stdout:\n{stdout}");
        insta::assert_snapshot!(format!("exit: {code}\n{stderr}"));
    });
}

/// Every `.yaml` file under `dir`, recursively, sorted.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn shipped_specs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["specs", "examples"] {
        yaml_files(&root.join(dir), &mut files);
    }
    files.sort();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(root).expect("file under the crate");
            let out = validate(root, relative);
            let (code, stderr) = (out.code, out.stderr);
            (code != 0).then(|| format!("{} (exit {code}):\n{stderr}", relative.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} shipped specs are invalid:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
