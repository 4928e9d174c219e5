//! The GitHub Action (`action.yml`, issue #17): its shape, and its shell
//! steps run here as a runner would run them: each step's `run` and `env`
//! read from `action.yml`, `${{ inputs.* }}` and `${{ github.* }}` filled in,
//! with fake `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, `GITHUB_PATH`,
//! `RUNNER_TEMP` and `GITHUB_ACTION_PATH` (this checkout), the binary under
//! test as `runner` on `PATH`, against servers on 127.0.0.1: an API, and a
//! stand-in for the releases the install step downloads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use wiremock::ResponseTemplate;

use crate::harness::{Server, Workspace, json_reply};
use crate::workflow::{TOKEN, spec};

/// The checkout: `GITHUB_ACTION_PATH`.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> Yaml {
    let text = std::fs::read_to_string(root().join("action.yml")).expect("read action.yml");
    serde_yaml::from_str(&text).expect("action.yml is YAML")
}

/// Every `${{ … }}` in `text`, trimmed.
fn expressions(text: &str) -> Vec<String> {
    text.split("${{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(e, _)| e.trim().to_string()))
        .collect()
}

/// Every string in a YAML value, keys and values.
fn strings(value: &Yaml, into: &mut Vec<String>) {
    match value {
        Yaml::String(s) => into.push(s.clone()),
        Yaml::Sequence(items) => items.iter().for_each(|v| strings(v, into)),
        Yaml::Mapping(map) => map.iter().for_each(|(k, v)| {
            strings(k, into);
            strings(v, into);
        }),
        _ => {}
    }
}

/// One run of the action's steps: the fake files a runner provides, the
/// inputs given, and where runner's specs live.
struct Job {
    dir: tempfile::TempDir,
    inputs: BTreeMap<String, String>,
    github: BTreeMap<String, String>,
    env: Vec<(String, String)>,
}

/// What a step did.
struct Step {
    output: Output,
    outputs: BTreeMap<String, String>,
    summary: String,
    path: String,
}

impl Step {
    fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn out(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .unwrap_or_else(|| panic!("no output {name}: {:?}", self.outputs))
    }
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}\n--- outputs\n{:?}\n--- summary\n{}",
            self.code(),
            self.stdout(),
            String::from_utf8_lossy(&self.output.stderr),
            self.outputs,
            self.summary
        )
    }
}

impl Job {
    fn new() -> Job {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["temp", "bin", "work"] {
            std::fs::create_dir(dir.path().join(sub)).expect("create dir");
        }
        // The binary under test, as the install step would leave it.
        #[cfg(unix)]
        std::os::unix::fs::symlink(crate::harness::binary(), dir.path().join("bin/runner"))
            .expect("symlink runner");
        Job {
            dir,
            inputs: BTreeMap::new(),
            github: BTreeMap::new(),
            env: Vec::new(),
        }
    }

    fn input(mut self, name: &str, value: &str) -> Job {
        self.inputs.insert(name.into(), value.into());
        self
    }

    fn github(mut self, name: &str, value: &str) -> Job {
        self.github.insert(name.into(), value.into());
        self
    }

    fn env(mut self, name: &str, value: &str) -> Job {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Writes `name` in the directory the steps run in.
    fn file(self, name: &str, text: &str) -> Job {
        std::fs::write(self.dir.path().join("work").join(name), text).expect("write file");
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An `${{ … }}` expression of the steps: an input (declared, else
    /// an error), a `github.*` value, or a step output.
    fn evaluate(&self, expr: &str, outputs: &BTreeMap<String, String>) -> String {
        let declared = action();
        if let Some(name) = expr.strip_prefix("inputs.") {
            let spec = &declared["inputs"][name];
            assert!(spec.is_mapping(), "input {name} is not declared");
            return self
                .inputs
                .get(name)
                .cloned()
                .or_else(|| spec["default"].as_str().map(str::to_string))
                .unwrap_or_default();
        }
        if let Some(name) = expr.strip_prefix("github.") {
            return self.github.get(name).cloned().unwrap_or_default();
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (_, name) = rest.split_once(".outputs.").expect("steps.ID.outputs.NAME");
            return outputs.get(name).cloned().unwrap_or_default();
        }
        panic!("an expression the test does not know: {expr}")
    }

    fn fill(&self, text: &str, outputs: &BTreeMap<String, String>) -> String {
        let mut filled = text.to_string();
        for expr in expressions(text) {
            let value = self.evaluate(&expr, outputs);
            filled = filled
                .replace(&format!("${{{{ {expr} }}}}"), &value)
                .replace(&format!("${{{{{expr}}}}}"), &value);
        }
        filled
    }

    /// Runs the action's step `id` with bash, as a runner would run it:
    /// its `run`, its `env` and `working-directory` filled in, the fake
    /// files fresh for it.
    fn step(&self, id: &str) -> Step {
        let action = action();
        let steps = action["runs"]["steps"].as_sequence().expect("steps");
        let step = steps
            .iter()
            .find(|s| s["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("no step {id} in action.yml"));
        assert_eq!(step["shell"].as_str(), Some("bash"), "step {id}'s shell");
        let none = BTreeMap::new();
        let run = self.fill(step["run"].as_str().expect("run"), &none);
        let workdir = match step["working-directory"].as_str() {
            Some(dir) => self.path("work").join(self.fill(dir, &none)),
            None => self.path("work"),
        };
        for file in ["output", "summary", "github_path"] {
            std::fs::write(self.path(file), "").expect("reset file");
        }
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(&run)
            .current_dir(&workdir)
            .env_clear()
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.path("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", root())
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary"))
            .env("GITHUB_PATH", self.path("github_path"))
            .env("RUNNER_TEMP", self.path("temp"));
        if let Some(env) = step["env"].as_mapping() {
            for (k, v) in env {
                let value = self.fill(v.as_str().unwrap_or_default(), &none);
                cmd.env(k.as_str().expect("env name"), value);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = cmd.output().expect("run bash");
        let read = |name: &str| std::fs::read_to_string(self.path(name)).expect("read file");
        Step {
            output,
            outputs: parse_outputs(&read("output")),
            summary: read("summary"),
            path: read("github_path"),
        }
    }
}

/// `$GITHUB_OUTPUT` read as GitHub reads it: `name=value` lines and
/// `name<<DELIMITER` … `DELIMITER` blocks; a name given twice is an error
/// here (one step, one value per output).
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, value) = if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                let line = lines.next().unwrap_or_else(|| panic!("{name} never ends"));
                if line == delimiter {
                    break;
                }
                value.push(line);
            }
            (name, value.join("\n"))
        } else {
            let (name, value) = line.split_once('=').expect("name=value");
            (name, value.to_string())
        };
        assert!(
            outputs.insert(name.to_string(), value).is_none(),
            "output {name} written twice:\n{text}"
        );
    }
    outputs
}

const STEPS: &str = r#"inputs:
  title: {type: string}
  labels: {type: array}
vars:
  suffix: ""
steps:
  - id: create
    action: CREATE_ITEM
    params:
      name: "{{ inputs.title }}{{ vars.suffix }}"
      tag: "{{ inputs.labels | join(',') }}"
outputs:
  number: "{{ steps.create.response.number }}"
  title: "{{ inputs.title }}"
"#;

/// A job whose `main.yaml` creates an item at `server`.
fn job(server: &Server) -> Job {
    Job::new()
        .file("main.yaml", &spec(&server.uri(), STEPS))
        .env("API_TOKEN", TOKEN)
        .input("spec", "main.yaml")
}

#[test]
fn action_yml_is_a_composite_action_wired_to_its_inputs_steps_and_scripts() {
    let action = action();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    assert!(action["name"].is_string() && action["description"].is_string());
    assert_eq!(action["inputs"]["spec"]["required"].as_bool(), Some(true));
    for name in ["command", "inputs", "args"] {
        assert!(
            action["inputs"][name]["description"].is_string(),
            "input {name}"
        );
    }
    let steps = action["runs"]["steps"].as_sequence().expect("steps");
    let ids: Vec<&str> = steps.iter().filter_map(|s| s["id"].as_str()).collect();
    for step in steps {
        // A composite step either runs a shell (which it must name) or uses an action.
        match (step["run"].as_str(), step["uses"].as_str()) {
            (Some(run), None) => {
                assert!(step["shell"].is_string(), "a run step without shell: {run}");
                let script = run
                    .split('"')
                    .find(|w| w.starts_with("$GITHUB_ACTION_PATH/"))
                    .unwrap_or_else(|| panic!("a run step not in a script: {run}"));
                let script = script.trim_start_matches("$GITHUB_ACTION_PATH/");
                assert!(root().join(script).is_file(), "{script} is missing");
            }
            (None, Some(uses)) => assert!(uses.contains('@'), "{uses} is not pinned"),
            _ => panic!("a step must run or use: {step:?}"),
        }
    }
    let mut all = Vec::new();
    strings(&action, &mut all);
    for expr in all.iter().flat_map(|s| expressions(s)) {
        if let Some(name) = expr.strip_prefix("inputs.") {
            assert!(action["inputs"][name].is_mapping(), "{expr}: no such input");
        }
        // `steps.X.outputs.Y` in an expression (conditions included).
        for part in expr.split_whitespace() {
            if let Some(rest) = part.strip_prefix("steps.") {
                let id = rest.split('.').next().unwrap_or_default();
                assert!(ids.contains(&id), "{expr}: no step {id}");
            }
        }
    }
    for (name, output) in action["outputs"].as_mapping().expect("outputs") {
        let value = output["value"].as_str().unwrap_or_default();
        assert!(
            value.starts_with("${{ steps."),
            "output {name:?} comes from no step: {value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_gives_the_inputs_and_args_and_writes_outputs_and_summary() {
    let server = Server::answering("POST /items", json_reply(201, json!({"number": 42}))).await;
    let step = job(&server)
        .input("command", "apply")
        .input(
            "inputs",
            "title: Weekly\nlabels: [bug, 'good first issue']\n",
        )
        .input("args", r#"--no-journal --var 'suffix= (a "b") $HOME'"#)
        .step("run");
    assert_eq!(step.code(), 0, "{step:?}");
    let sent = server.received().await;
    assert_eq!(sent.len(), 1, "{step:?}");
    assert_eq!(
        serde_json::from_slice::<Value>(&sent[0].body).expect("JSON body"),
        json!({"name": "Weekly (a \"b\") $HOME", "tag": "bug,good first issue"})
    );
    let outputs: Value = serde_json::from_str(step.out("outputs")).expect("outputs are JSON");
    assert_eq!(outputs, json!({"number": 42, "title": "Weekly"}));
    assert_eq!(step.out("exit-code"), "0");
    assert!(step.out("version").starts_with("runner "), "{step:?}");
    assert!(
        step.stdout().contains("create"),
        "runner's output in the log: {step:?}"
    );
    // runner's own summary of the run, once.
    assert_eq!(
        step.summary.matches("runner apply main.yaml").count(),
        1,
        "{step:?}"
    );
    assert!(step.summary.contains("| number | 42 |"), "{step:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_sends_nothing_and_puts_the_plan_in_the_summary() {
    let server = Server::answering("POST /items", json_reply(201, json!({"number": 1}))).await;
    let step = job(&server)
        .input("inputs", "title: \"``` <b>@here</b>\"\nlabels: []\n")
        .step("run");
    assert_eq!(step.code(), 0, "{step:?}");
    assert!(server.received().await.is_empty());
    assert_eq!(step.out("outputs"), "{}");
    // The plan itself is runner's own summary, written once, its text
    // from the spec escaped.
    assert!(
        step.summary.contains("POST"),
        "the plan is in the summary: {step:?}"
    );
    assert_eq!(step.summary.matches("POST").count(), 1, "{step:?}");
    assert!(!step.summary.contains("<b>"), "{step:?}");
    assert!(!step.summary.contains("```text"), "{step:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spec_that_stops_before_running_gets_a_heading_saying_so() {
    let server = Server::start().await;
    let step = Job::new()
        .file("main.yaml", "version: 1\nstepz: [\"``` <b>@here</b>\"]\n")
        .input("spec", "main.yaml")
        .input("command", "plan")
        .step("run");
    assert_eq!(step.code(), 2, "{step:?}");
    // runner wrote no summary: the action says what happened, and the
    // annotation on the spec's line says why.
    assert!(
        step.summary
            .contains("### runner plan main.yaml: stopped before anything was sent (exit 2)"),
        "{step:?}"
    );
    assert!(
        step.stderr().contains("::error file=main.yaml,line=2"),
        "{step:?}"
    );
    assert!(server.received().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_step_exits_1_with_its_exit_code_and_summary_written() {
    let server = Server::answering("POST /items", json_reply(500, json!({"error": "down"}))).await;
    let step = job(&server)
        .input("command", "apply")
        .input("inputs", "{title: T, labels: []}")
        .input("args", "--no-journal")
        .step("run");
    assert_eq!(step.code(), 1, "{step:?}");
    assert_eq!(step.out("exit-code"), "1");
    assert!(step.summary.contains("failed"), "{step:?}");
    assert_eq!(
        step.summary.matches("runner apply main.yaml").count(),
        1,
        "{step:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_checks_the_spec_without_its_environment_and_refuses_inputs() {
    let server = Server::start().await;
    let step = job(&server)
        .input("command", "validate")
        .env("API_TOKEN", "")
        .step("run");
    assert_eq!(step.code(), 0, "{step:?}");
    assert!(
        step.summary
            .contains("### runner validate main.yaml: done\n"),
        "{step:?}"
    );
    let step = job(&server)
        .input("command", "validate")
        .input("inputs", "title: T")
        .step("run");
    assert_eq!(step.code(), 2, "{step:?}");
    assert!(
        step.stdout().contains("validate takes no inputs"),
        "{step:?}"
    );
    let broken = Job::new()
        .file("main.yaml", "version: 1\nstepz: []\n")
        .input("spec", "main.yaml")
        .input("command", "validate")
        .step("run");
    assert_eq!(broken.code(), 2, "{broken:?}");
    assert_eq!(broken.out("exit-code"), "2");
    assert!(
        broken
            .summary
            .contains("stopped before anything was sent (exit 2)"),
        "{broken:?}"
    );
    assert!(server.received().await.is_empty());
}

#[test]
fn bad_command_and_unclosed_quote_stop_before_runner_runs() {
    let step = Job::new()
        .input("spec", "main.yaml")
        .input("command", "destroy")
        .step("run");
    assert_eq!(step.code(), 2, "{step:?}");
    assert!(
        step.stdout()
            .contains("::error title=runner::the command input"),
        "{step:?}"
    );
    let step = Job::new()
        .input("spec", "main.yaml")
        .input("args", "--var 'x=1")
        .step("run");
    assert_eq!(step.code(), 2, "{step:?}");
    assert!(
        step.stdout().contains("cannot split the args input"),
        "{step:?}"
    );
    assert!(step.outputs.is_empty(), "{step:?}");
}

/// A release of runner `tag` for x86_64 Linux as release.yml would publish
/// it (packed by its own script), holding a stand-in binary; `checksum`
/// replaces the published SHA-256 when given.
async fn releases(tag: &str, checksum: Option<&str>) -> Server {
    let ws = Workspace::new().file("runner", "#!/bin/sh\necho stand-in runner\n");
    let target = "x86_64-unknown-linux-musl";
    let packed = Command::new("bash")
        .arg(root().join(".github/release/package.sh"))
        .args([target, tag])
        .arg(ws.path().join("runner"))
        .arg(ws.path().join("dist"))
        .output()
        .expect("run package.sh");
    assert!(packed.status.success(), "{packed:?}");
    let name = format!("runner-{tag}-{target}.tar.gz");
    let archive = std::fs::read(ws.path().join("dist").join(&name)).expect("archive");
    let sum = match checksum {
        Some(sum) => format!("{sum}  {name}\n"),
        None => ws.read(&format!("dist/{name}.sha256")),
    };
    Server::build()
        .reply(
            &format!("GET /{tag}/{name}"),
            ResponseTemplate::new(200).set_body_bytes(archive),
        )
        .reply(
            &format!("GET /{tag}/{name}.sha256"),
            ResponseTemplate::new(200).set_body_string(sum),
        )
        .start()
        .await
}

fn install_job(server: &Server, tag: &str) -> Job {
    Job::new()
        .github("action_ref", tag)
        .github("action_repository", "owner/runner")
        .env("RUNNER_RELEASES_URL", &server.uri())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
}

#[tokio::test(flavor = "multi_thread")]
async fn install_puts_the_release_binary_on_path_once_its_checksum_matches() {
    let server = releases("v9.8.7", None).await;
    let job = install_job(&server, "v9.8.7");
    let step = job.step("install");
    assert_eq!(step.code(), 0, "{step:?}");
    assert_eq!(step.out("installed"), "true");
    let bin = job.path("temp/runner-bin");
    assert_eq!(step.path.trim_end(), bin.display().to_string());
    let run = Command::new(bin.join("runner")).output().expect("run it");
    assert_eq!(String::from_utf8_lossy(&run.stdout), "stand-in runner\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn install_refuses_a_release_binary_whose_checksum_differs() {
    let server = releases("v9.8.7", Some(&"0".repeat(64))).await;
    let job = install_job(&server, "v9.8.7");
    let step = job.step("install");
    assert_eq!(step.code(), 1, "{step:?}");
    assert!(
        step.stdout()
            .contains("does not match its published SHA-256"),
        "{step:?}"
    );
    assert!(step.outputs.is_empty() && step.path.is_empty(), "{step:?}");
    assert!(!job.path("temp/runner-bin/runner").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn install_falls_back_to_a_cached_build_for_a_branch_or_a_missing_release() {
    let server = releases("v9.8.7", None).await;
    for (tag, asks) in [("main", false), ("v1.0.0", true)] {
        let job = install_job(&server, tag);
        let before = server.received().await.len();
        let step = job.step("install");
        assert_eq!(step.code(), 0, "{tag}: {step:?}");
        assert_eq!(step.out("installed"), "false", "{tag}");
        assert_eq!(
            step.out("cargo-root"),
            job.path("temp/runner-cargo").display().to_string()
        );
        let key = step.out("cache-key");
        assert!(
            key.starts_with(&format!("runner-Linux-X64-{tag}-")),
            "{key}"
        );
        assert!(step.path.is_empty(), "{tag}: nothing on PATH yet");
        assert_eq!(server.received().await.len() > before, asks, "{tag}");
    }
}

/// The workflows of `docs/github-action.md` (its ```yaml blocks), each
/// parsed (scripts/release-check also runs actionlint on them).
fn documented_workflows() -> Vec<Yaml> {
    let text =
        std::fs::read_to_string(root().join("docs/github-action.md")).expect("read the guide");
    text.split("```yaml\n")
        .skip(1)
        .map(|rest| {
            let block = rest.split("```").next().unwrap_or_default();
            serde_yaml::from_str(block).unwrap_or_else(|e| panic!("{e}:\n{block}"))
        })
        .collect()
}

#[test]
fn the_documented_workflows_give_the_action_only_what_it_declares() {
    let action = action();
    let workflows = documented_workflows();
    assert!(workflows.len() >= 2, "the guide shows its workflows");
    let mut uses = 0;
    for workflow in &workflows {
        for job in workflow["jobs"].as_mapping().expect("jobs").values() {
            let steps = job["steps"].as_sequence().expect("steps");
            for step in steps {
                if !step["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("OWNER/runner@"))
                {
                    continue;
                }
                uses += 1;
                for (name, _) in step["with"].as_mapping().expect("with") {
                    let name = name.as_str().expect("input name");
                    assert!(action["inputs"][name].is_mapping(), "no input {name}");
                }
            }
            let mut all = Vec::new();
            strings(job, &mut all);
            for expr in all.iter().flat_map(|s| expressions(s)) {
                for (id, output) in expr
                    .split(|c: char| !(c.is_alphanumeric() || "._-".contains(c)))
                    .filter_map(|w| w.strip_prefix("steps."))
                    .filter_map(|w| w.split_once(".outputs."))
                {
                    let step = steps
                        .iter()
                        .find(|s| s["id"].as_str() == Some(id))
                        .unwrap_or_else(|| panic!("{expr}: no step {id}"));
                    if step["uses"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("OWNER/runner@"))
                    {
                        assert!(action["outputs"][output].is_mapping(), "no output {output}");
                    }
                }
            }
        }
    }
    assert!(
        uses >= 4,
        "the guide validates, plans and applies with the action"
    );
}
