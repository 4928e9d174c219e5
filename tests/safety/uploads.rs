//! A file to upload is named by the spec's author or by whoever runs the
//! spec, never by an API. Attacks by class: paths from responses (params,
//! loops, sub-workflows, page cursors), paths computed by templates,
//! symbolic links at every level, the files refused everywhere (`.env*`,
//! `.git/`, `.runner/`, journals, `--env-file`), and what `--allow-upload`
//! and `--allow-outside-root` do and do not lift. Each against a server on
//! 127.0.0.1 that records what it received: "nothing was sent" is checked
//! there.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::harness::specs::Spec;
use crate::harness::{Server, Workspace, json_reply};

/// A GET that names files, and three ways to upload one.
const ACTIONS: &str = include_str!("../fixtures/catalogs/uploads.yaml");

/// The actions of these tests, pointed at `base`.
fn catalog(base: &str) -> String {
    Spec::app("api", base).actions(ACTIONS).build()
}

/// A server whose `GET /meta` names files an attacker wants, answering
/// 200 to everything else.
async fn server() -> Server {
    Server::build()
        .reply(
            "GET /meta",
            json_reply(
                200,
                json!({"path": "../.env", "files": ["../.env", "../.git/config"], "next": "x"}),
            ),
        )
        .reply("", ResponseTemplate::new(200))
        .start()
        .await
}

/// A project in a git work tree (a `.git` directory at the top, so the
/// project root is the workspace), holding the secrets an attacker wants
/// (`.env`, `.git/config`), the catalog in `specs/api.yaml` and
/// `specs/main.yaml` with `top` (YAML keys) and `steps`.
fn project(server: &Server, top: &str, steps: &str) -> Workspace {
    let ws = Workspace::new()
        .file(".git/config", "[remote \"origin\"]\n\turl = git@private\n")
        .file(".git/HEAD", "ref: refs/heads/main\n")
        .file(".env", "API_TOKEN=dotenv-secret-1234\n")
        .file("specs/api.yaml", &catalog(&server.uri()));
    write_main(&ws, top, steps);
    ws
}

fn write_main(ws: &Workspace, top: &str, steps: &str) {
    ws.write(
        "specs/main.yaml",
        &format!("version: 1\ninclude: [api.yaml]\n{top}\nsteps:\n{steps}"),
    );
}

/// The bodies the server received, as text.
async fn bodies(server: &Server) -> Vec<String> {
    server
        .each_received(|r| String::from_utf8_lossy(&r.body).into_owned())
        .await
}

/// `validate`, `plan` and `apply` all refuse the spec with exit 2, the
/// message holding each of `expected`; the server receives nothing.
async fn refused_everywhere(ws: &Workspace, server: &Server, args: &[&str], expected: &[&str]) {
    for command in ["validate", "plan", "apply"] {
        let mut argv = vec![command, "specs/main.yaml"];
        if command != "validate" {
            argv.extend(args);
        }
        let out = ws
            .runner(&argv)
            .await
            .code_for(2, format_args!("{command}"))
            .stderr_has_all(expected);
        assert!(!out.all().contains("dotenv-secret"), "{out:?}");
    }
    assert!(server.received().await.is_empty(), "nothing is sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_never_names_a_file_to_upload() {
    let server = server().await;
    let ws = project(
        &server,
        "",
        r#"  - id: meta
    action: META
    outputs: {p: "{{ response.path }}"}
  - action: PUT_FILE
    params: {f: "{{ steps.meta.response.path }}"}
  - action: UPLOAD
    params: {title: t, file: "{{ steps.meta.outputs.p }}"}
  - action: PUT_FILE
    params: {f: "{{ steps.meta.response.files[1] }}"}
"#,
    );
    refused_everywhere(
        &ws,
        &server,
        &[],
        &["takes it from a response, and a response can never name a local file"],
    )
    .await;
    let out = ws
        .runner(["validate", "specs/main.yaml"])
        .await
        .stderr_has("3 errors")
        .stderr_has("help: a file to upload is named by the spec or by whoever runs it");
    for (line, param) in [(9, "f"), (11, "file"), (13, "f")] {
        assert!(
            out.stderr.contains(&format!(
                "error: param `{param}` names a file to upload, but `{{{{ steps.meta."
            )) && out.stderr.contains(&format!("specs/main.yaml:{line}:")),
            "line {line}: {out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loop_over_a_response_list_never_uploads_its_items() {
    let server = server().await;
    let ws = project(
        &server,
        "",
        r#"  - id: meta
    action: META
  - action: PUT_FILE
    for_each: "{{ steps.meta.response.files }}"
    params: {f: "{{ item }}"}
  - action: UPLOAD
    for_each: "{{ steps.meta.response.files | reverse | list }}"
    as: path
    params: {title: t, file: "{{ path }}"}
  - action: PUT_FILE
    for_each: ["a.txt", "{{ steps.meta.response.path }}"]
    params: {f: "{{ item }}"}
"#,
    );
    refused_everywhere(
        &ws,
        &server,
        &[],
        &[
            "is an item of the list",
            "which takes its items from a response",
        ],
    )
    .await;
    ws.runner(["validate", "specs/main.yaml"])
        .await
        .stderr_has("3 errors")
        .stderr_has("but `{{ path }}` is an item of the list `{{ steps.meta.response.files | reverse | list }}`");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_passed_to_a_sub_workflow_never_names_a_file() {
    let server = server().await;
    let ws = project(
        &server,
        "",
        r#"  - id: meta
    action: META
  - uses: flows/put.yaml
    with: {f: "{{ steps.meta.response.path }}"}
  - uses: flows/relay.yaml
    with: {g: "{{ steps.meta.response.path }}"}
  - uses: flows/each.yaml
    with: {files: "{{ steps.meta.response.files }}"}
  - for_each: "{{ steps.meta.response.files }}"
    uses: flows/put.yaml
    with: {f: "{{ item }}"}
"#,
    )
    .file(
        "specs/flows/put.yaml",
        "version: 1\ninputs:\n  f: {type: string, required: true}\nsteps:\n  - action: PUT_FILE\n    params: {f: \"{{ inputs.f }}\"}\n",
    )
    .file(
        "specs/flows/relay.yaml",
        "version: 1\ninputs:\n  g: {type: string, required: true}\nsteps:\n  - uses: put.yaml\n    with: {f: \"{{ inputs.g }}\"}\n",
    )
    .file(
        "specs/flows/each.yaml",
        "version: 1\ninputs:\n  files: {type: array, required: true}\nsteps:\n  - for_each: \"{{ inputs.files }}\"\n    uses: put.yaml\n    with: {f: \"{{ item }}\"}\n",
    );
    refused_everywhere(
        &ws,
        &server,
        &[],
        &[
            "input `f` of `specs/flows/put.yaml` names a file to upload there, but `{{ steps.meta.response.path }}` takes it from a response",
            "input `g` of `specs/flows/relay.yaml` names a file to upload there",
            "input `files` of `specs/flows/each.yaml` names a file to upload there",
        ],
    )
    .await;
    let out = ws
        .runner(["validate", "specs/main.yaml"])
        .await
        .stderr_has("4 errors");
    for line in [8, 10, 12, 15] {
        assert!(
            out.stderr.contains(&format!("specs/main.yaml:{line}:")),
            "line {line}: {out:?}"
        );
    }
    // The same flows, given what the spec or the command line names, are fine.
    ws.write("specs/a.txt", "a");
    write_main(
        &ws,
        "inputs:\n  files: {type: array, default: [a.txt]}\n",
        r#"  - uses: flows/put.yaml
    with: {f: a.txt}
  - uses: flows/relay.yaml
    with: {g: a.txt}
  - uses: flows/each.yaml
    with: {files: "{{ inputs.files }}"}
"#,
    );
    ws.runner(["apply", "specs/main.yaml"]).await.code(0);
    assert_eq!(bodies(&server).await, ["a", "a", "a"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_cursor_never_sets_a_file() {
    let server = server().await;
    let ws = project(
        &server,
        "",
        r#"  - action: PAGED
    params: {f: a.txt}
    paginate:
      next: {param: f, value: "{{ response.next }}"}
      items: "{{ [] }}"
"#,
    );
    ws.write("specs/a.txt", "a");
    refused_everywhere(
        &ws,
        &server,
        &[],
        &["`paginate.next.param` is `f`, which names a file to upload: a cursor is taken from a response"],
    )
    .await;
    // A cursor in another param is fine.
    write_main(
        &ws,
        "",
        r#"  - action: PAGED
    params: {f: a.txt}
    paginate:
      next: {param: cursor, value: "{{ none }}"}
      items: "{{ [] }}"
"#,
    );
    ws.runner(["apply", "specs/main.yaml"]).await.code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn computed_paths_are_refused_whatever_their_shape() {
    let server = server().await;
    let shapes = [
        ("{{ '/etc/passwd' if vars.owner else 'x' }}", "computes it"),
        (
            "{{ vars.owner }}/../../../../../../etc/passwd",
            "computes it",
        ),
        (
            "{{ vars.owner ~ '/../../../../../../etc/passwd' }}",
            "computes it",
        ),
        (
            "{{ vars.owner | replace('acme', '/etc/passwd') }}",
            "computes it",
        ),
        ("{{ '/etc/' ~ 'passwd' }}", "computes it"),
        ("/etc/{{ 'passwd' }}", "computes it"),
        ("{{ vars['owner'] }}", "computes it"),
        ("{{ inputs.dir }}/passwd", "computes it"),
        ("{{ inputs.dir ~ '/passwd' }}", "computes it"),
        ("{{ env.UPLOAD }}", "takes it from the environment"),
        (
            "{{ vars.computed }}",
            "var `computed` is computed (`{{ vars.owner }}/../../../../../../etc/passwd`); only a var whose value is literal text may name a file",
        ),
    ];
    for (shape, why) in shapes {
        let ws = project(
            &server,
            "vars: {owner: x, computed: \"{{ vars.owner }}/../../../../../../etc/passwd\"}\ninputs:\n  dir: {type: string, default: data}",
            &format!("  - action: PUT_FILE\n    params: {{f: \"{shape}\"}}\n"),
        );
        refused_everywhere(
            &ws,
            &server,
            &["--var", "owner=acme", "--input", "dir=/etc"],
            &[
                "error: param `f` names a file to upload, but ",
                why,
                "specs/main.yaml:8:17",
            ],
        )
        .await;
        ws.runner([
            "apply",
            "specs/main.yaml",
            "--var",
            "owner=acme",
            "--allow-outside-root",
        ])
        .env("UPLOAD", "/etc/passwd")
        .await
        .code_for(2, format_args!("{shape}"));
    }
    // A loop over a computed list, or over a computed var.
    for (list, why) in [
        (
            "\"{{ [vars.owner ~ '/../../../../../etc/passwd'] }}\"",
            "which computes its items",
        ),
        (
            "\"{{ vars.computed_list }}\"",
            "var `computed_list` is computed",
        ),
    ] {
        let ws = project(
            &server,
            "vars: {owner: x, computed_list: \"{{ [vars.owner] }}\"}",
            &format!(
                "  - action: PUT_FILE\n    for_each: {list}\n    params: {{f: \"{{{{ item }}}}\"}}\n"
            ),
        );
        refused_everywhere(&ws, &server, &["--var", "owner=/etc/passwd"], &[why]).await;
    }
    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn each_allowed_form_resolves_where_its_text_was_written() {
    let server = server().await;
    let ws = project(
        &server,
        r#"vars: {given: unused.txt}
inputs:
  up: {type: string, required: true}
  dflt: {type: string, default: files/default.txt}
  many: {type: array, required: true}"#,
        r#"  - action: PUT_FILE
    params: {f: files/literal.txt}
  - action: PUT_FILE
    params: {f: "{{ vars.doc }}"}
  - action: PUT_FILE
    params: {f: "{{ vars.given }}"}
  - action: PUT_FILE
    params: {f: "{{ inputs.up }}"}
  - action: PUT_FILE
    params: {f: "{{ inputs.dflt }}"}
  - action: UPLOAD
    for_each: [files/l1.txt, files/l2.txt]
    params: {title: t, file: "{{ item }}"}
  - action: PUT_FILE
    for_each: "{{ inputs.many }}"
    as: f
    params: {f: "{{ f }}"}
  - action: PUT_FILE
    for_each: "{{ vars.docs }}"
    params: {f: "{{ item }}"}
  - uses: flows/put.yaml
    with: {f: files/with.txt}
  - uses: flows/put.yaml
    with: {f: "{{ inputs.up }}"}
"#,
    )
    .file(
        "specs/lib/vars.yaml",
        "version: 1\nvars: {doc: docs/var.txt, docs: [docs/v1.txt]}\n",
    )
    .file(
        "specs/flows/put.yaml",
        "version: 1\ninputs:\n  f: {type: string, required: true}\n  g: {type: string, default: own.txt}\nsteps:\n  - action: PUT_FILE\n    params: {f: \"{{ inputs.f }}\"}\n  - action: PUT_FILE\n    params: {f: \"{{ inputs.g }}\"}\n",
    );
    // The vars of an included file: their paths are relative to it.
    let main = ws.read("specs/main.yaml");
    ws.write(
        "specs/main.yaml",
        &main.replace("include: [api.yaml]", "include: [api.yaml, lib/vars.yaml]"),
    );
    for name in [
        "specs/files/literal.txt",
        "specs/lib/docs/var.txt",
        "specs/lib/docs/v1.txt",
        "data/given.txt",
        "data/input.txt",
        "specs/files/default.txt",
        "specs/files/l1.txt",
        "specs/files/l2.txt",
        "data/m1.txt",
        "data/m2.txt",
        "specs/files/with.txt",
        "specs/flows/own.txt",
    ] {
        ws.write(name, name);
    }
    ws.runner(["validate", "specs/main.yaml"]).await.code(0);
    let args = [
        "apply",
        "specs/main.yaml",
        "--var",
        "given=data/given.txt",
        "--input",
        "many=[data/m1.txt, data/m2.txt]",
    ];
    ws.runner(args)
        .args(["--input", "up=data/input.txt"])
        .await
        .code(0);
    let sent = bodies(&server).await;
    let raw: Vec<&str> = sent
        .iter()
        .filter(|b| !b.contains("Content-Disposition"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        raw,
        [
            "specs/files/literal.txt",
            "specs/lib/docs/var.txt",
            "data/given.txt",
            "data/input.txt",
            "specs/files/default.txt",
            "data/m1.txt",
            "data/m2.txt",
            "specs/lib/docs/v1.txt",
            "specs/files/with.txt",
            "specs/flows/own.txt",
            "data/input.txt",
            "specs/flows/own.txt",
        ]
    );
    let parts: Vec<&String> = sent
        .iter()
        .filter(|b| b.contains("Content-Disposition"))
        .collect();
    assert!(parts[0].contains("specs/files/l1.txt") && parts[1].contains("specs/files/l2.txt"));
    // An input given in the environment is the command line's too.
    ws.runner(args)
        .env("RUNNER_INPUT_UP", "data/input.txt")
        .await
        .code(0);
    assert_eq!(bodies(&server).await[sent.len() + 3], "data/input.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_from_the_command_line_are_confined_too() {
    let server = server().await;
    let ws = project(
        &server,
        "vars: {f: a.txt}\ninputs:\n  up: {type: string, default: a.txt}",
        "  - action: PUT_FILE\n    params: {f: \"{{ vars.f }}\"}\n  - action: PUT_FILE\n    params: {f: \"{{ inputs.up }}\"}\n",
    );
    ws.write("specs/a.txt", "inside");
    let elsewhere = Workspace::new().file("secret.txt", "outside-secret");
    let absolute = elsewhere.path().join("secret.txt");
    let absolute = absolute.to_str().unwrap();
    let sibling = format!(
        "../{}/secret.txt",
        elsewhere.path().file_name().unwrap().to_str().unwrap()
    );
    for given in [
        vec!["--var".to_string(), format!("f={absolute}")],
        vec!["--var".to_string(), format!("f={sibling}")],
        vec!["--input".to_string(), format!("up={absolute}")],
        vec!["--input".to_string(), format!("up={sibling}")],
    ] {
        for command in ["plan", "apply"] {
            ws.runner([command, "specs/main.yaml"])
                .args(&given)
                .await
                .code_for(2, format_args!("{given:?}"))
                .stderr_has("is outside the project root")
                .stderr_has("pass `--allow-upload ")
                .stderr_has("secret.txt");
        }
    }
    assert!(server.received().await.is_empty(), "nothing is sent");
    // Either flag lets it go.
    for lift in [
        vec!["--allow-upload", absolute],
        vec!["--allow-outside-root"],
    ] {
        ws.runner(["apply", "specs/main.yaml", "--var", &format!("f={sibling}")])
            .args(&lift)
            .await
            .code(0);
    }
    assert_eq!(
        bodies(&server).await,
        ["outside-secret", "inside", "outside-secret", "inside"]
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn confinement_is_decided_after_symbolic_links() {
    let server = server().await;
    let ws = project(&server, "", "");
    let elsewhere = Workspace::new().file("secret.txt", "outside-secret");
    ws.write("data/real.txt", "real");
    // A file link out, a directory link in the middle, links to the files
    // refused everywhere, a link to the `.git` directory.
    ws.symlink("files/out.txt", elsewhere.path().join("secret.txt"));
    ws.symlink("mid", elsewhere.path());
    ws.symlink("files/notes.txt", "../.env");
    ws.symlink("files/cfg", "../.git/config");
    ws.symlink("gitdir", ".git");
    ws.symlink("files/ok.txt", "../data/real.txt");
    let cases = [
        ("files/out.txt", "is outside the project root"),
        ("mid/secret.txt", "is outside the project root"),
        ("files/notes.txt", "is an env file"),
        ("files/cfg", "is inside a `.git` directory"),
        ("gitdir/config", "is inside a `.git` directory"),
    ];
    for (path, why) in cases {
        let outside = why.contains("outside");
        // Written in the spec (relative to it), and given on the command
        // line (relative to the current directory).
        let ways: [(String, Vec<String>); 2] = [
            (format!("../{path}"), vec![]),
            (
                "\"{{ vars.f }}\"".to_string(),
                vec!["--var".to_string(), format!("f={path}")],
            ),
        ];
        for (value, args) in ways {
            write_main(
                &ws,
                "vars: {f: x}",
                &format!("  - action: PUT_FILE\n    params: {{f: {value}}}\n"),
            );
            for command in ["plan", "apply"] {
                let out = ws
                    .runner([command, "specs/main.yaml"])
                    .args(&args)
                    .await
                    .code_for(2, format_args!("{path}"))
                    .stderr_has(why)
                    .stderr_has("pass `--allow-upload ");
                assert!(!out.all().contains("dotenv-secret"), "{out:?}");
                // `--allow-outside-root` lifts the root, never the rest.
                if !outside {
                    ws.runner([command, "specs/main.yaml", "--allow-outside-root"])
                        .args(&args)
                        .await
                        .code_for(2, format_args!("{path}"))
                        .stderr_has(why);
                }
            }
        }
    }
    assert!(server.received().await.is_empty(), "nothing is sent");
    // A link that stays inside the root is followed; plan says what it reads.
    write_main(
        &ws,
        "",
        "  - action: PUT_FILE\n    params: {f: ../files/ok.txt}\n",
    );
    ws.runner(["plan", "specs/main.yaml"])
        .await
        .code(0)
        .stdout_has("  | @../files/ok.txt -> data/real.txt (text/plain, 4 bytes)\n");
    ws.runner(["apply", "specs/main.yaml"]).await.code(0);
    assert_eq!(bodies(&server).await, ["real"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_never_uploaded_even_with_allow_outside_root() {
    let server = server().await;
    let ws = project(&server, "", "");
    ws.write("specs/.env.local", "LOCAL=dotenv-secret-5678");
    ws.write("sub/.git/HEAD", "ref: refs/heads/dotenv-secret");
    ws.write(".runner/main.yaml.jsonl", "{\"dotenv-secret\": 1}\n");
    ws.write("logs/run.jsonl", "{\"dotenv-secret\": 2}\n");
    ws.write("conf/secrets.env", "TOKEN=dotenv-secret-9\n");
    let cases: [(&str, &[&str], &str); 7] = [
        ("../.env", &[], "is an env file (`.env` or `.env.*`)"),
        (".env.local", &[], "is an env file"),
        ("../.git/config", &[], "is inside a `.git` directory"),
        ("../sub/.git/HEAD", &[], "is inside a `.git` directory"),
        (
            "../.runner/main.yaml.jsonl",
            &[],
            "is inside a `.runner` directory",
        ),
        (
            "../logs/run.jsonl",
            &["--journal", "logs/run.jsonl"],
            "is the run's journal",
        ),
        (
            "../conf/secrets.env",
            &["--env-file", "conf/secrets.env"],
            "is the env file (`--env-file`)",
        ),
    ];
    for (path, flags, why) in cases {
        write_main(
            &ws,
            "",
            &format!("  - action: UPLOAD\n    params: {{title: t, file: {path}}}\n"),
        );
        for command in ["plan", "apply"] {
            for lift in [&[][..], &["--allow-outside-root"][..]] {
                let out = ws
                    .runner([command, "specs/main.yaml"])
                    .args(flags)
                    .args(lift)
                    .await
                    .code_for(2, format_args!("{path} {lift:?}"));
                assert!(
                    out.stderr.contains(why)
                        && out
                            .stderr
                            .contains("which is never uploaded, even with `--allow-outside-root`; to send this exact file, pass `--allow-upload "),
                    "{path}: {out:?}"
                );
                assert!(!out.all().contains("dotenv-secret"), "{out:?}");
            }
        }
    }
    assert!(server.received().await.is_empty(), "nothing is sent");
    // `--allow-upload` names the one file that may go.
    write_main(
        &ws,
        "",
        "  - action: PUT_FILE\n    params: {f: ../.git/config}\n  - action: PUT_FILE\n    params: {f: .env.local}\n",
    );
    ws.runner([
        "apply",
        "specs/main.yaml",
        "--allow-upload",
        ".git/config",
        "--allow-upload",
        "specs/.env.local",
    ])
    .sends(&server, 2)
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn allow_upload_admits_that_exact_file_only() {
    let server = server().await;
    let ws = project(
        &server,
        "vars: {f: x}",
        "  - action: PUT_FILE\n    params: {f: \"{{ vars.f }}\"}\n",
    );
    let elsewhere = Workspace::new()
        .file("a.txt", "file a")
        .file("b.txt", "file b");
    let dir = elsewhere.path().to_str().unwrap().to_string();
    let a = format!("{dir}/a.txt");
    let b = format!("{dir}/b.txt");
    for command in ["plan", "apply"] {
        ws.runner([command, "specs/main.yaml", "--var", &format!("f={b}")])
            .args(["--allow-upload", &a])
            .await
            .code(2)
            .stderr_has("is outside the project root");
    }
    assert!(server.received().await.is_empty());
    // The same file however it is written: as given, spelled otherwise,
    // through a link to it.
    let name = elsewhere.path().file_name().unwrap().to_str().unwrap();
    let spelled = format!("{dir}/../{name}/./a.txt");
    ws.symlink("links/a", &a);
    for allowed in [a.as_str(), spelled.as_str(), "links/a"] {
        for command in ["plan", "apply"] {
            ws.runner([command, "specs/main.yaml", "--var", &format!("f={a}")])
                .args(["--allow-upload", allowed])
                .await
                .code_for(0, format_args!("{allowed}"));
        }
    }
    assert_eq!(bodies(&server).await, ["file a", "file a", "file a"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_the_file_each_upload_reads_and_its_size_never_its_content() {
    let server = server().await;
    let ws = project(
        &server,
        "vars: {f: docs/report.txt}",
        "  - action: UPLOAD\n    params: {title: t, file: \"{{ vars.f }}\"}\n  - action: PUT_FILE\n    params: {f: docs/report.txt}\n",
    );
    ws.write("specs/docs/report.txt", "the report's own words");
    ws.write("data/given.txt", "given words");
    ws.runner(["plan", "specs/main.yaml"])
        .await
        .code(0)
        .stdout_has("  | file: @docs/report.txt -> specs/docs/report.txt (text/plain, 22 bytes)\n")
        .stdout_has("  | @docs/report.txt -> specs/docs/report.txt (text/plain, 22 bytes)\n");
    let out = ws
        .runner([
            "plan",
            "specs/main.yaml",
            "--var",
            "f=data/given.txt",
            "--output",
            "json",
        ])
        .await
        .code(0);
    assert_eq!(
        out.step(0)["body"][1],
        json!({"name": "file", "file": "data/given.txt", "reads": "data/given.txt", "content_type": "text/plain", "size": 11})
    );
    assert_eq!(
        out.step(1)["body"],
        json!({"file": "docs/report.txt", "reads": "specs/docs/report.txt", "content_type": "text/plain", "size": 22})
    );
    assert!(!out.all().contains("words"), "{out:?}");
    assert!(server.received().await.is_empty());
}

/// Answers 503 once, after putting another file of the same size where
/// the upload's file was; 200 after that.
struct SwapOnce {
    calls: AtomicUsize,
    from: std::path::PathBuf,
    to: std::path::PathBuf,
}

impl Respond for SwapOnce {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::fs::rename(&self.from, &self.to).expect("swap");
            return ResponseTemplate::new(503);
        }
        ResponseTemplate::new(200)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_sent_is_the_file_that_was_checked() {
    let ws = Workspace::new();
    let server = Server::answering(
        "PUT /raw",
        SwapOnce {
            calls: AtomicUsize::new(0),
            from: ws.path().join("specs/other.txt"),
            to: ws.path().join("specs/data.txt"),
        },
    )
    .await;
    ws.write("specs/api.yaml", &catalog(&server.uri()));
    ws.write("specs/data.txt", "checked bytes");
    ws.write("specs/other.txt", "swapped bytes");
    write_main(
        &ws,
        "",
        "  - action: PUT_FILE\n    params: {f: data.txt}\n    retry: {attempts: 2, backoff: 1ms}\n",
    );
    let out = ws
        .runner(["apply", "specs/main.yaml", "--output", "json"])
        .await
        .code(1);
    assert!(
        out.step_error(0).contains(
            "param `f`: file `specs/data.txt` was replaced since it was checked; nothing was sent"
        ),
        "{out:?}"
    );
    assert_eq!(bodies(&server).await, ["checked bytes"]);
}

/// Points the link `link` at `target` when called, then answers `{}`.
#[cfg(unix)]
struct Retarget {
    link: std::path::PathBuf,
    target: &'static str,
    calls: Arc<AtomicUsize>,
}

#[cfg(unix)]
impl Respond for Retarget {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(self.target, &self.link).expect("symlink");
        json_reply(200, json!({}))
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_link_moved_during_the_run_fails_its_step_and_sends_nothing() {
    let ws = Workspace::new()
        .file(".git/HEAD", "ref: refs/heads/main\n")
        .file(".env", "API_TOKEN=dotenv-secret-1234\n")
        .file("data/ok.txt", "fine");
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::build()
        .reply(
            "GET /meta",
            Retarget {
                link: ws.path().join("files/link.txt"),
                target: "../.env",
                calls: calls.clone(),
            },
        )
        .reply("", ResponseTemplate::new(200))
        .start()
        .await;
    ws.write("specs/api.yaml", &catalog(&server.uri()));
    ws.symlink("files/link.txt", "../data/ok.txt");
    write_main(
        &ws,
        "",
        "  - action: META\n  - action: PUT_FILE\n    params: {f: ../files/link.txt}\n",
    );
    let out = ws
        .runner(["apply", "specs/main.yaml", "--output", "json"])
        .await
        .code(1);
    assert!(out.step_error(1).contains("is an env file"), "{out:?}");
    assert_eq!(server.requests().await, ["GET /meta"]);
    assert!(!out.all().contains("dotenv-secret"), "{out:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
