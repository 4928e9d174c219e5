//! Writes go only where the user asked: one submodule per promise, each
//! with several examples of its class.
//!
//! - [`outputs`]: `--outputs-file` is checked before the first request
//!   (exit 2, nothing sent), never written through a symbolic link, and
//!   written whole (a new file renamed over it), owner-only.
//! - [`journal_dirs`]: no directory on the journal's path inside the
//!   project is a symbolic link (exit 2, nothing sent).
//! - [`signals`]: a step stopped by SIGTERM reports how long it ran.
//!
//! Every server is a mock on 127.0.0.1; a test that acts while a request
//! is in flight waits for the server to announce it, never sleeps.

use std::path::Path;

use serde_json::json;

use crate::harness::specs::{ITEMS_TOKEN as TOKEN, items_api as spec};
use crate::harness::{Run, Server, Workspace, json_reply};

/// One POST, and an output from its answer.
const CREATE: &str = r#"steps:
  - id: create
    action: CREATE
    params: {name: first}
outputs:
  id: "{{ steps.create.response.id }}"
"#;

/// `runner COMMAND SPEC ARGS`, with the token set.
async fn runner(ws: &Workspace, command: &str, spec: &str, args: &[&str]) -> Run {
    ws.runner([command, spec])
        .args(args)
        .env("API_TOKEN", TOKEN)
        .await
}

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

// =================================================================== outputs

#[cfg(unix)]
mod outputs {
    use super::*;

    /// A server that answers the POST.
    async fn api() -> Server {
        Server::answering("POST /items", json_reply(201, json!({"id": 7}))).await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_outputs_file_that_cannot_be_written_stops_the_run_before_anything_is_sent() {
        use std::os::unix::fs::PermissionsExt;
        let server = api().await;
        let ws = Workspace::main(&spec(&server.uri(), CREATE)).file("a-file", "not a directory\n");
        let mut cases = vec![
            (
                "missing/outputs.json".to_string(),
                "its directory `missing` does not exist",
            ),
            (
                "a/b/c/outputs.json".to_string(),
                "its directory `a/b/c` does not exist",
            ),
            (
                "a-file/outputs.json".to_string(),
                "`a-file` is not a directory",
            ),
            ("new-dir/".to_string(), "it names a directory"),
        ];
        // A directory without write permission binds only a process that
        // permissions bind (not root); /sys takes no new file from anyone.
        let locked = ws.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::File::create(locked.join("probe")).is_ok() {
            std::fs::remove_file(locked.join("probe")).unwrap();
        } else {
            cases.push((
                "locked/outputs.json".to_string(),
                "its directory `locked` is not writable",
            ));
        }
        if Path::new("/sys").is_dir() && std::fs::File::create("/sys/runner-probe").is_err() {
            cases.push((
                "/sys/outputs.json".to_string(),
                "its directory `/sys` is not writable",
            ));
        }
        for (path, why) in &cases {
            for command in ["apply", "plan"] {
                runner(&ws, command, "main.yaml", &["--outputs-file", path])
                    .await
                    .code_for(2, format_args!("{command} {path}"))
                    .stderr_has(&format!("cannot write the outputs file `{path}`: {why}"));
                assert!(
                    server.received().await.is_empty(),
                    "{command} {path}: exit 2 must send nothing"
                );
            }
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(listing(&locked), Vec::<String>::new());
        assert!(!ws.exists("missing") && !ws.exists("a") && !ws.exists("new-dir"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_symbolic_link_as_the_outputs_file_is_refused_and_what_it_names_is_untouched() {
        let server = api().await;
        let ws = Workspace::main(&spec(&server.uri(), CREATE)).file("kept.json", "keep\n");
        let outside = tempfile::tempdir().unwrap();
        let elsewhere = outside.path().join("elsewhere.json");
        std::fs::write(&elsewhere, "keep\n").unwrap();
        symlink(ws.path().join("kept.json"), ws.path().join("inside.json"));
        symlink(&elsewhere, ws.path().join("outside.json"));
        symlink("kept.json", ws.path().join("relative.json"));
        symlink(
            ws.path().join("never.json"),
            ws.path().join("dangling.json"),
        );
        for link in [
            "inside.json",
            "outside.json",
            "relative.json",
            "dangling.json",
        ] {
            for command in ["apply", "plan"] {
                runner(&ws, command, "main.yaml", &["--outputs-file", link])
                    .await
                    .code_for(2, format_args!("{command} {link}"))
                    .stderr_has(&format!(
                        "cannot write the outputs file `{link}`: it is a symbolic link"
                    ));
                assert!(server.received().await.is_empty(), "{command} {link}");
            }
            let meta = std::fs::symlink_metadata(ws.path().join(link)).unwrap();
            assert!(meta.file_type().is_symlink(), "{link} was replaced");
        }
        assert_eq!(ws.read("kept.json"), "keep\n");
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "keep\n");
        assert!(!ws.exists("never.json"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_outputs_file_is_replaced_whole_and_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let server = api().await;
        let ws = Workspace::main(&spec(&server.uri(), CREATE))
            .file("out/outputs.json", "the last run's\n");
        let old = ws.path().join("out/outputs.json");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();

        // An existing file, in a directory of its own; a new one beside the spec.
        for path in ["out/outputs.json", "fresh.json"] {
            runner(&ws, "apply", "main.yaml", &["--outputs-file", path])
                .await
                .code_for(0, format_args!("{path}"));
            let written: serde_json::Value = serde_json::from_str(&ws.read(path)).unwrap();
            assert_eq!(written, json!({"id": 7}), "{path}");
            assert_eq!(mode(&ws.path().join(path)), 0o600, "{path}");
        }
        // No temporary file is left behind.
        assert_eq!(listing(&ws.path().join("out")), ["outputs.json"]);
        assert_eq!(
            listing(ws.path()),
            [".runner", "fresh.json", "main.yaml", "out"]
        );

        // A failed run still writes its outputs, owner-only too.
        let failing =
            Server::answering("POST /items", json_reply(500, json!({"message": "down"}))).await;
        let ws = Workspace::main(&spec(&failing.uri(), CREATE));
        runner(
            &ws,
            "apply",
            "main.yaml",
            &["--outputs-file", "failed.json"],
        )
        .await
        .code(1);
        let written: serde_json::Value = serde_json::from_str(&ws.read("failed.json")).unwrap();
        assert_eq!(written, json!({"id": null}));
        assert_eq!(mode(&ws.path().join("failed.json")), 0o600);
    }
}

// ============================================================== journal dirs

#[cfg(unix)]
mod journal_dirs {
    use super::*;

    async fn api() -> Server {
        Server::answering("POST /items", json_reply(201, json!({"id": 7}))).await
    }

    /// `apply` is refused with exit 2, nothing sent, naming `dir`.
    fn refused(out: Run, dir: &str, what: &str) {
        out.code_for(2, what).stderr_has(&format!(
            "would be written through `{dir}`, a symbolic link"
        ));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_runner_directory_that_is_a_symbolic_link_is_refused() {
        let server = api().await;
        let outside = tempfile::tempdir().unwrap();

        // Outside git the project is the spec's directory: `../outside`
        // leaves it.
        let ws = Workspace::new().file("specs/main.yaml", &spec(&server.uri(), CREATE));
        std::fs::create_dir(ws.path().join("outside")).unwrap();
        symlink("../outside", ws.path().join("specs/.runner"));
        let out = runner(&ws, "apply", "specs/main.yaml", &[]).await;
        refused(out, "specs/.runner", "relative link out of the project");
        assert_eq!(listing(&ws.path().join("outside")), Vec::<String>::new());

        // Resuming through it is refused too, even with a journal there.
        std::fs::write(ws.path().join("outside/main.yaml.jsonl"), "").unwrap();
        let out = runner(
            &ws,
            "apply",
            "specs/main.yaml",
            &["--resume", "specs/.runner/main.yaml.jsonl"],
        )
        .await;
        refused(out, "specs/.runner", "--resume through the link");
        assert_eq!(ws.read("outside/main.yaml.jsonl"), "");

        // An absolute link, from the spec's own directory.
        let ws = Workspace::main(&spec(&server.uri(), CREATE));
        symlink(outside.path(), ws.path().join(".runner"));
        let out = runner(&ws, "apply", "main.yaml", &[]).await;
        refused(out, ".runner", "absolute link");
        assert_eq!(listing(outside.path()), Vec::<String>::new());

        // In a git work tree, a link that stays inside it is refused too.
        let ws = Workspace::new().file("specs/main.yaml", &spec(&server.uri(), CREATE));
        std::fs::create_dir(ws.path().join(".git")).unwrap();
        std::fs::create_dir(ws.path().join("state")).unwrap();
        symlink("../state", ws.path().join("specs/.runner"));
        let out = runner(&ws, "apply", "specs/main.yaml", &[]).await;
        refused(out, "specs/.runner", "link inside a git work tree");
        assert_eq!(listing(&ws.path().join("state")), Vec::<String>::new());

        assert!(
            server.received().await.is_empty(),
            "exit 2 must send nothing"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_symbolic_link_deeper_on_a_journal_path_is_refused() {
        let server = api().await;
        let outside = tempfile::tempdir().unwrap();
        let ws = Workspace::main(&spec(&server.uri(), CREATE));
        std::fs::create_dir(ws.path().join("logs")).unwrap();
        symlink(outside.path(), ws.path().join("logs/deep"));
        std::fs::create_dir(ws.path().join("elsewhere")).unwrap();
        std::fs::create_dir(ws.path().join("state")).unwrap();
        symlink("../elsewhere", ws.path().join("state/link"));
        let absolute = ws.path().join("logs/deep/run.jsonl");
        let absolute_dir = ws.path().join("logs/deep");
        for (journal, dir) in [
            ("logs/deep/run.jsonl".to_string(), "logs/deep".to_string()),
            // Directories that do not exist yet below the link.
            (
                "state/link/more/run.jsonl".to_string(),
                "state/link".to_string(),
            ),
            (
                absolute.display().to_string(),
                absolute_dir.display().to_string(),
            ),
        ] {
            let out = runner(&ws, "apply", "main.yaml", &["--journal", &journal]).await;
            refused(out, &dir, &journal);
        }
        assert_eq!(listing(outside.path()), Vec::<String>::new());
        assert_eq!(listing(&ws.path().join("elsewhere")), Vec::<String>::new());
        assert!(
            server.received().await.is_empty(),
            "exit 2 must send nothing"
        );
    }

    /// A journal the user puts outside the project may sit behind links:
    /// where it goes is theirs to say.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_journal_outside_the_project_may_sit_behind_links() {
        let server = api().await;
        let ws = Workspace::main(&spec(&server.uri(), CREATE));
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("real")).unwrap();
        symlink("real", outside.path().join("link"));
        let journal = outside.path().join("link/run.jsonl");
        runner(
            &ws,
            "apply",
            "main.yaml",
            &["--journal", &journal.display().to_string()],
        )
        .await
        .code(0);
        assert_eq!(listing(&outside.path().join("real")), ["run.jsonl"]);
    }
}

// =================================================================== signals

#[cfg(unix)]
mod signals {
    use std::time::Duration;

    use super::*;
    use crate::harness::hold::{HoldFirst, signal_when_held};

    /// How long the server holds the request before announcing it.
    const HOLD: Duration = Duration::from_millis(600);

    /// Runs `steps` against a server holding `held`, and sends SIGTERM
    /// once the server announces it has held the request for [`HOLD`].
    async fn terminated(held: &str, steps: &str) -> Run {
        // Held for [`HOLD`], then announced, and kept in flight for 30 s
        // more, long enough for the test to stop the runner meanwhile.
        let (hold, mut rx) = HoldFirst::new(json_reply(200, json!({"ok": true})));
        let hold = hold.announced_after(HOLD).holding(Duration::from_secs(30));
        let server = Server::build()
            .reply(held, hold)
            .reply("POST /items", json_reply(201, json!({"id": 7})))
            .start()
            .await;
        let ws = Workspace::main(&spec(&server.uri(), steps));
        let running = ws
            .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
            .env("API_TOKEN", TOKEN)
            .spawn();
        let out = signal_when_held(running, &mut rx, "-TERM").await;
        out.code(143)
    }

    fn at_least_held(out: &Run, i: usize) {
        let step = out.step(i);
        assert_eq!(step["status"], json!("failed"), "{out:?}");
        assert_eq!(step["error_kind"], json!("maybe_sent"), "{out:?}");
        let ms = step["duration_ms"].as_u64().expect("duration_ms");
        assert!(
            ms >= HOLD.as_millis() as u64,
            "steps[{i}] ran at least {} ms, reported {ms}: {out:?}",
            HOLD.as_millis()
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_first_step_stopped_by_sigterm_reports_how_long_it_ran() {
        let out = terminated(
            "GET /status",
            "steps:\n  - id: status\n    action: STATUS\n",
        )
        .await;
        at_least_held(&out, 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_later_step_stopped_by_sigterm_reports_its_own_duration() {
        let steps = r#"steps:
  - id: create
    action: CREATE
    params: {name: first}
  - id: put
    action: UPLOAD
    params: {name: second}
  - id: status
    action: STATUS
"#;
        let out = terminated("PUT /unused", steps).await;
        assert_eq!(out.step(0)["status"], json!("ok"), "{out:?}");
        at_least_held(&out, 1);
        assert_eq!(out.step(2)["status"], json!("skipped"), "{out:?}");
        assert_eq!(out.step(2)["duration_ms"], json!(0), "{out:?}");
    }
}
