//! Issue #13, "Writes go only where the user asked" and "Smaller gaps":
//! one submodule per promise, each with several examples of its class.
//!
//! - [`outputs`]: `--outputs-file` is checked before the first request
//!   (exit 2, nothing sent), never written through a symbolic link, and
//!   written whole (a new file renamed over it), owner-only.
//! - [`journal_dirs`]: no directory on the journal's path inside the
//!   project is a symbolic link (exit 2, nothing sent).
//! - [`schemas`]: a file that is not a valid JSON Schema is described by
//!   place and keyword, never by what it holds.
//! - [`url_origin`]: `url_origin:` pins where a step's `url` may lead;
//!   `validate` warns about a step's own auth sent where an answer says.
//! - [`pages`]: a same-origin `Link` next page keeps the query auth the
//!   link leaves out; another origin still gets none.
//! - [`signals`]: a step stopped by SIGTERM reports how long it ran.
//!
//! Every server is a mock on 127.0.0.1; a test that acts while a request
//! is in flight waits for the server to announce it, never sleeps.

use std::path::Path;

use serde_json::json;

use crate::harness::{Run, Server, Workspace, json_reply};

/// The token the `api` app's auth reads from `API_TOKEN`.
const TOKEN: &str = "api_Writes0123456789abcdef";

/// One app, `api`, at `BASE` with bearer auth from `API_TOKEN` (unless
/// `auth` replaces it) and no retries; then `rest` (steps, outputs).
fn spec_with_auth(base: &str, auth: &str, rest: &str) -> String {
    format!(
        r#"version: 1
apps:
  api:
    base_url: {base}
    retry: {{attempts: 1}}
    actions:
      CREATE:
        method: POST
        path: /items
        params:
          name: {{type: string, required: true}}
      LIST:
        method: GET
        path: /items
      START_UPLOAD:
        method: POST
        path: /uploads
      UPLOAD:
        method: PUT
        path: /unused
        params:
          name: {{type: string}}
      STATUS:
        method: GET
        path: /status
auth:
  api:
    parameters:
{auth}
{rest}"#
    )
}

fn spec(base: &str, rest: &str) -> String {
    spec_with_auth(
        base,
        r#"      - {name: Authorization, in: header, value: "Bearer {{ env.API_TOKEN }}"}"#,
        rest,
    )
}

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
        Server::build()
            .reply("POST /items", json_reply(201, json!({"id": 7})))
            .start()
            .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_outputs_file_that_cannot_be_written_stops_the_run_before_anything_is_sent() {
        use std::os::unix::fs::PermissionsExt;
        let server = api().await;
        let ws = Workspace::new()
            .file("main.yaml", &spec(&server.uri(), CREATE))
            .file("a-file", "not a directory\n");
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
                let out = runner(&ws, command, "main.yaml", &["--outputs-file", path])
                    .await
                    .code_for(2, format_args!("{command} {path}"));
                assert!(
                    out.stderr
                        .contains(&format!("cannot write the outputs file `{path}`: {why}")),
                    "{command} {path}: {out:?}"
                );
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
        let ws = Workspace::new()
            .file("main.yaml", &spec(&server.uri(), CREATE))
            .file("kept.json", "keep\n");
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
                let out = runner(&ws, command, "main.yaml", &["--outputs-file", link])
                    .await
                    .code_for(2, format_args!("{command} {link}"));
                assert!(
                    out.stderr.contains(&format!(
                        "cannot write the outputs file `{link}`: it is a symbolic link"
                    )),
                    "{command} {link}: {out:?}"
                );
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
        let ws = Workspace::new()
            .file("main.yaml", &spec(&server.uri(), CREATE))
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
        let failing = Server::build()
            .reply("POST /items", json_reply(500, json!({"message": "down"})))
            .start()
            .await;
        let ws = Workspace::new().file("main.yaml", &spec(&failing.uri(), CREATE));
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
        Server::build()
            .reply("POST /items", json_reply(201, json!({"id": 7})))
            .start()
            .await
    }

    /// `apply` is refused with exit 2, nothing sent, naming `dir`.
    fn refused(out: Run, dir: &str, what: &str) {
        let out = out.code_for(2, what);
        assert!(
            out.stderr.contains(&format!(
                "would be written through `{dir}`, a symbolic link"
            )),
            "{what}: {out:?}"
        );
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
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri(), CREATE));
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
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri(), CREATE));
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
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri(), CREATE));
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

// =================================================================== schemas

mod schemas {
    use super::*;

    /// What the schema files hold that must never be shown.
    const SECRET: &str = "SECRETVALUE-4f1c9a";

    #[test]
    fn a_file_that_is_not_a_valid_schema_is_named_by_place_and_keyword_only() {
        let cases = [
            (
                r#"{"type": "object", "properties": {"n": {"type": "SECRET"}}}"#,
                "at `/properties/n/type`: keyword `type` is invalid",
            ),
            (
                r#"{"properties": {"n": {"minimum": "SECRET"}}}"#,
                "at `/properties/n/minimum`: keyword `minimum` is invalid",
            ),
            (
                r#"{"required": ["a", {"k": "SECRET"}]}"#,
                "at `/required/1`: keyword `required` is invalid",
            ),
            (
                r#"{"properties": {"s": {"pattern": "SECRET("}}}"#,
                "at `/properties/s/pattern`: keyword `pattern` is invalid",
            ),
            (
                r#"{"enum": "SECRET"}"#,
                "at `/enum`: keyword `enum` is invalid",
            ),
            (
                r##"{"$ref": "#/$defs/SECRET"}"##,
                "keyword `$ref` names nothing in the file",
            ),
            (
                r#"{"$schema": "SECRET"}"#,
                "keyword `$schema` names no draft this runner knows",
            ),
            (r#""SECRET""#, "the document must be an object or a boolean"),
        ];
        for (i, (schema, expected)) in cases.iter().enumerate() {
            let file = format!("schemas/bad-{i}.json");
            let steps = format!(
                "steps:\n  - id: list\n    action: LIST\n    expect:\n      schema: {file}\n"
            );
            let ws = Workspace::new()
                .file("main.yaml", &spec("https://api.example.com", &steps))
                .file(&file, &schema.replace("SECRET", SECRET));
            let out = ws
                .runner(["validate", "main.yaml"])
                .run()
                .code_for(2, format_args!("{schema}"));
            assert!(
                out.stderr.contains(&format!(
                    "error: schema `{file}` is not a valid JSON Schema: {expected}"
                )),
                "{schema}: {out:?}"
            );
            assert!(
                !out.all().contains("SECRETVALUE"),
                "{schema}: the file's content was shown: {out:?}"
            );
        }
    }
}

// ================================================================ url_origin

mod url_origin {
    use super::*;

    /// `start` asks for an upload URL; `put` sends to it, with its own
    /// auth (`UPLOAD_TOKEN`) when `own_auth`, pinned by `origin` when given.
    fn upload_steps(url: &str, origin: Option<&str>, own_auth: bool) -> String {
        let origin = origin
            .map(|o| format!("    url_origin: {o}\n"))
            .unwrap_or_default();
        let auth = if own_auth {
            "    auth:\n      parameters:\n        - {name: Authorization, in: header, value: \"Bearer {{ env.UPLOAD_TOKEN }}\"}\n"
        } else {
            ""
        };
        format!(
            r#"steps:
  - id: start
    action: START_UPLOAD
  - id: put
    action: UPLOAD
    url: "{url}"
{origin}    params: {{name: report.csv}}
{auth}"#
        )
    }

    const FROM_ANSWER: &str = "{{ steps.start.response.upload_url }}";
    const UPLOAD_TOKEN: &str = "upload_Writes0123456789";

    async fn apply(ws: &Workspace) -> Run {
        ws.runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
            .env("API_TOKEN", TOKEN)
            .env("UPLOAD_TOKEN", UPLOAD_TOKEN)
            .await
    }

    /// An API whose `start` answers with `upload_url`.
    async fn api(upload_url: &str) -> Server {
        Server::build()
            .reply(
                "POST /uploads",
                json_reply(200, json!({"upload_url": upload_url})),
            )
            .start()
            .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_url_outside_url_origin_fails_its_step_with_nothing_sent() {
        let uploads = Server::build()
            .reply("PUT /u/1", json_reply(200, json!({"ok": true})))
            .start()
            .await;
        let port = uploads.port();
        let upload_url = format!("http://127.0.0.1:{port}/u/1?sig=abc");
        let api = api(&upload_url).await;
        for (origin, own_auth, leads_to) in [
            // Another port: the API's own origin.
            (api.uri(), true, format!("http://127.0.0.1:{port}")),
            // Another host name for the same socket.
            (
                format!("http://localhost:{port}"),
                true,
                format!("http://127.0.0.1:{port}"),
            ),
            // Another scheme, and the app's auth rather than the step's.
            (
                format!("https://127.0.0.1:{port}"),
                false,
                format!("http://127.0.0.1:{port}"),
            ),
        ] {
            let ws = Workspace::new().file(
                "main.yaml",
                &spec(
                    &api.uri(),
                    &upload_steps(FROM_ANSWER, Some(&origin), own_auth),
                ),
            );
            let out = apply(&ws).await.code_for(1, format_args!("{origin}"));
            assert_eq!(out.step(1)["error_kind"], json!("render"), "{out:?}");
            let shown = origin.trim_end_matches('/');
            assert!(
                out.step_error(1).contains(&format!(
                    "`url` leads to `{leads_to}`, outside `url_origin` (`{shown}`); nothing was sent"
                )),
                "{origin}: {out:?}"
            );
            assert!(
                uploads.received().await.is_empty(),
                "{origin}: the upload server was sent to"
            );
        }
        assert_eq!(
            api.requests().await,
            ["POST /uploads", "POST /uploads", "POST /uploads"]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_url_known_before_the_run_outside_url_origin_stops_it_with_exit_2() {
        let other = Server::start().await;
        let api = api("unused").await;
        let url = format!("{}/u/1", other.uri());
        let message = format!(
            "`url` leads to `{}`, outside `url_origin` (`https://uploads.example.com`)",
            other.uri()
        );
        // Written out (`validate` refuses it), or from a var (the checks
        // before the run do).
        for (written, vars, validated) in [
            (url.clone(), String::new(), 2),
            (
                "{{ vars.upload }}".to_string(),
                format!("vars:\n  upload: {url}\n"),
                0,
            ),
        ] {
            for own_auth in [true, false] {
                let steps = upload_steps(&written, Some("https://uploads.example.com"), own_auth);
                let ws = Workspace::new()
                    .file("main.yaml", &spec(&api.uri(), &format!("{vars}{steps}")));
                let out = apply(&ws).await.code_for(2, format_args!("{written}"));
                assert!(out.all().contains(&message), "{written}: {out:?}");
                ws.runner(["validate", "main.yaml"])
                    .run()
                    .code_for(validated, format_args!("{written}"));
            }
        }
        assert!(api.received().await.is_empty(), "exit 2 must send nothing");
        assert!(other.received().await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_url_inside_url_origin_is_sent_with_the_steps_auth() {
        let uploads = Server::build()
            .reply("PUT /u/1", json_reply(200, json!({"ok": true})))
            .start()
            .await;
        let api = api(&format!("{}/u/1?sig=abc", uploads.uri())).await;
        let origin = uploads.uri();
        for pinned in [origin.clone(), format!("{origin}/")] {
            let ws = Workspace::new().file(
                "main.yaml",
                &spec(&api.uri(), &upload_steps(FROM_ANSWER, Some(&pinned), true)),
            );
            apply(&ws).await.code_for(0, format_args!("{pinned}"));
        }
        let got = uploads.received().await;
        assert_eq!(got.len(), 2);
        for put in &got {
            assert_eq!(put.url.query(), Some("sig=abc"));
            assert_eq!(
                put.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok()),
                Some(&*format!("Bearer {UPLOAD_TOKEN}"))
            );
        }
    }

    #[test]
    fn validate_warns_when_a_steps_own_auth_goes_where_an_answer_says() {
        let warning =
            "sends its own `auth:` to the `url` an earlier response gives, whatever origin that is";
        let validate = |steps: &str| {
            Workspace::new()
                .file("main.yaml", &spec("https://api.example.com", steps))
                .runner(["validate", "main.yaml"])
                .run()
        };
        for url in [
            FROM_ANSWER,
            "https://{{ steps.start.response.bucket }}.files.example.com/upload",
        ] {
            let out = validate(&upload_steps(url, None, true)).code(0);
            assert!(
                out.stderr
                    .contains(&format!("warning: steps[1] (put) {warning}")),
                "{url}: {out:?}"
            );
            assert!(
                out.stderr.contains(
                    "= help: pin the origin the answer may name: `url_origin: https://uploads.example.com`"
                ),
                "{url}: {out:?}"
            );
        }
        for (steps, why) in [
            (
                upload_steps(FROM_ANSWER, Some("https://uploads.example.com"), true),
                "pinned by url_origin",
            ),
            (
                upload_steps(FROM_ANSWER, None, false),
                "the app's auth, which stays on its origin",
            ),
            (
                upload_steps("https://uploads.example.com/u/1", None, true),
                "a URL written in the spec",
            ),
        ] {
            let out = validate(&steps).code_for(0, format_args!("{why}"));
            assert!(!out.stderr.contains(warning), "{why}: {out:?}");
        }
    }
}

// ===================================================================== pages

mod pages {
    use wiremock::matchers::query_param;
    use wiremock::{Mock, ResponseTemplate};

    use super::*;

    const KEY: &str = "key_Writes0123456789abcdef";
    const SIG: &str = "sig_Writes0123456789abcdef";

    /// Auth by two query parameters, `api_key` and `sig`.
    const QUERY_AUTH: &str = r#"      - {name: api_key, in: query, value: "{{ env.API_KEY }}"}
      - {name: sig, in: query, value: "{{ env.API_SIG }}"}"#;

    const PAGED: &str = r#"steps:
  - id: all
    action: LIST
    paginate: {next: link}
outputs:
  ns: "{{ steps.all.items | map(attribute='n') | list }}"
"#;

    fn page(n: u64, link: Option<String>) -> ResponseTemplate {
        let reply = json_reply(200, json!([{"n": n}]));
        match link {
            Some(link) => reply.insert_header("Link", format!(r#"<{link}>; rel="next""#).as_str()),
            None => reply,
        }
    }

    /// The query pairs of every request `server` received, in order.
    async fn queries(server: &Server) -> Vec<Vec<(String, String)>> {
        server
            .received()
            .await
            .iter()
            .map(|r| r.url.query_pairs().into_owned().collect())
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    async fn apply(ws: &Workspace) -> Run {
        ws.runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
            .env("API_KEY", KEY)
            .env("API_SIG", SIG)
            .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_same_origin_next_page_keeps_the_query_auth_its_link_leaves_out() {
        let server = Server::start().await;
        let base = server.uri();
        // An API that authenticates by query: without both, 401.
        let authed = |n: &str| {
            Mock::given(wiremock::matchers::method("GET"))
                .and(wiremock::matchers::path("/items"))
                .and(query_param("api_key", KEY))
                .and(query_param("sig", SIG))
                .and(query_param("page", n))
        };
        // Page 2's link (relative) carries neither; page 3's (absolute)
        // carries `api_key` and another param; page 4's carries `sig` only.
        authed("2")
            .respond_with(page(
                2,
                Some(format!("{base}/items?page=3&api_key={KEY}&per=1")),
            ))
            .mount(&server)
            .await;
        authed("3")
            .respond_with(page(3, Some(format!("/items?sig={SIG}&page=4"))))
            .mount(&server)
            .await;
        authed("4").respond_with(page(4, None)).mount(&server).await;
        Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path("/items"))
            .and(query_param("api_key", KEY))
            .and(query_param("sig", SIG))
            .respond_with(page(1, Some("/items?page=2".into())))
            .with_priority(10)
            .mount(&server)
            .await;
        Server::given("GET /items")
            .respond_with(json_reply(401, json!({"message": "no key"})))
            .with_priority(20)
            .mount(&server)
            .await;
        let ws = Workspace::new().file("main.yaml", &spec_with_auth(&base, QUERY_AUTH, PAGED));
        let out = apply(&ws).await.code(0);
        assert_eq!(out.json()["outputs"]["ns"], json!([1, 2, 3, 4]));
        assert_eq!(
            queries(&server).await,
            [
                pairs(&[("api_key", KEY), ("sig", SIG)]),
                pairs(&[("page", "2"), ("api_key", KEY), ("sig", SIG)]),
                pairs(&[("page", "3"), ("api_key", KEY), ("per", "1"), ("sig", SIG)]),
                pairs(&[("sig", SIG), ("page", "4"), ("api_key", KEY)]),
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_next_page_at_another_origin_gets_no_query_auth() {
        let other = Server::start().await;
        for link in [
            format!("{}/items?page=2", other.uri()),
            // A link that names the key itself loses it too.
            format!("{}/items?page=2&api_key={KEY}", other.uri()),
        ] {
            other.reset().await;
            other.reply("GET /items", page(2, None)).await;
            let first = Server::build()
                .reply("GET /items", page(1, Some(link.clone())))
                .start()
                .await;
            let ws = Workspace::new().file(
                "main.yaml",
                &spec_with_auth(&first.uri(), QUERY_AUTH, PAGED),
            );
            let out = apply(&ws).await.code_for(0, format_args!("{link}"));
            assert_eq!(out.json()["outputs"]["ns"], json!([1, 2]));
            assert_eq!(
                queries(&first).await,
                [pairs(&[("api_key", KEY), ("sig", SIG)])]
            );
            assert_eq!(queries(&other).await, [pairs(&[("page", "2")])], "{link}");
        }
    }
}

// =================================================================== signals

#[cfg(unix)]
mod signals {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::mpsc;
    use wiremock::{Request, Respond, ResponseTemplate};

    use super::*;

    /// How long the server holds the request before announcing it.
    const HOLD: Duration = Duration::from_millis(600);

    /// Holds the first request it matches for [`HOLD`], then announces it
    /// on `arrived` and keeps it in flight for 30 s more, long enough for
    /// the test to stop the runner meanwhile.
    struct Hold {
        arrived: mpsc::UnboundedSender<()>,
        seen: AtomicUsize,
    }

    impl Respond for Hold {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let reply = json_reply(200, json!({"ok": true}));
            if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
                std::thread::sleep(HOLD);
                let _ = self.arrived.send(());
                reply.set_delay(Duration::from_secs(30))
            } else {
                reply
            }
        }
    }

    /// Runs `steps` against a server holding `held`, and sends SIGTERM
    /// once the server announces it has held the request for [`HOLD`].
    async fn terminated(held: &str, steps: &str) -> Run {
        let (arrived, mut rx) = mpsc::unbounded_channel();
        let server = Server::build()
            .reply(
                held,
                Hold {
                    arrived,
                    seen: AtomicUsize::new(0),
                },
            )
            .reply("POST /items", json_reply(201, json!({"id": 7})))
            .start()
            .await;
        let ws = Workspace::new().file("main.yaml", &spec(&server.uri(), steps));
        let running = ws
            .runner(["apply", "main.yaml", "--no-journal", "--output", "json"])
            .env("API_TOKEN", TOKEN)
            .spawn();
        let pid = running.id().to_string();
        let waited = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let out = running.wait().await;
        assert!(
            matches!(waited, Ok(Some(()))),
            "the held request never arrived: {out:?}"
        );
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
