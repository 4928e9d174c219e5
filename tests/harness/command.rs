//! Running the binary: [`Cmd`] says how (arguments, environment, standard
//! input, directory), [`Run`] is what came out.

use std::ffi::{OsStr, OsString};
use std::future::{Future, IntoFuture};
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use serde_json::Value;

/// One run of the binary, built up call by call: `.run()` it in a test
/// without a server, `.await` it in a test with one.
#[must_use = "a Cmd does nothing until it is run or awaited"]
pub struct Cmd {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    dir: Option<PathBuf>,
}

impl Cmd {
    /// The binary under test (see [`super::binary`]) with an environment
    /// holding only `PATH`, so a developer's own tokens, proxies or Descope
    /// settings never reach a test; in the test's own directory until
    /// [`Cmd::current_dir`] says otherwise. Standard input is empty.
    pub fn new() -> Self {
        Cmd {
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            dir: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets one environment variable (the last value given wins).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// What the binary reads on standard input.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Runs to the end and returns what came out. For tests without a
    /// server of their own: it blocks the calling thread.
    pub fn run(self) -> Run {
        let child = self.spawn();
        child
            .child
            .wait_with_output()
            .expect("wait for runner")
            .into()
    }

    /// Starts the binary with its output captured, for a test that acts on
    /// the process while it runs (signals).
    pub fn spawn(self) -> Running {
        let mut cmd = Command::new(super::binary());
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", super::binary().display()));
        if let (Some(input), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            // On its own thread: a large input fills the pipe before the
            // binary reads it. A binary that exits without reading it is
            // not this writer's failure, so errors are ignored.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        Running { child }
    }
}

impl Cmd {
    /// Runs it and checks the promise of exit 2: the run exited 2, saying
    /// `why` on stderr, and `server` received nothing (each failure prints
    /// the run).
    pub async fn refused(self, server: &super::Server, why: &str) -> Run {
        let out = self.await.code(2).stderr_has(why);
        let sent = server.requests().await;
        assert!(sent.is_empty(), "exit 2, yet it sent {sent:?}: {out:?}");
        out
    }

    /// Runs it, asserting that it succeeded and that `server` had
    /// received `count` requests by then (each failure prints the run).
    pub async fn sends(self, server: &super::Server, count: usize) -> Run {
        let out = self.await.code(0);
        let sent = server.requests().await;
        assert_eq!(sent.len(), count, "it sent {sent:?}: {out:?}");
        out
    }
}

/// Awaiting a [`Cmd`] runs it on a blocking thread, so servers on the
/// test's runtime keep serving while the binary talks to them.
impl IntoFuture for Cmd {
    type Output = Run;
    type IntoFuture = Pin<Box<dyn Future<Output = Run> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.run())
                .await
                .expect("join")
        })
    }
}

/// The binary, started by [`Cmd::spawn`].
pub struct Running {
    child: Child,
}

impl Running {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most 30 s) until the binary says `marker` on stderr;
    /// what it said until then. The rest of its stderr is not collected.
    pub async fn said(&mut self, marker: &str) -> String {
        use std::io::BufRead;
        let stderr = self.child.stderr.take().expect("stderr is captured");
        let marker = marker.to_string();
        let reading = tokio::task::spawn_blocking(move || {
            let mut seen = String::new();
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(&marker) {
                    return (true, seen);
                }
            }
            (false, seen)
        });
        let (found, seen) = tokio::time::timeout(std::time::Duration::from_secs(30), reading)
            .await
            .expect("the marker within 30 s")
            .expect("join");
        assert!(found, "the binary never said the marker:\n{seen}");
        seen
    }

    /// Waits for the end on a blocking thread (servers keep serving).
    pub async fn wait(self) -> Run {
        let output = tokio::task::spawn_blocking(move || self.child.wait_with_output())
            .await
            .expect("join")
            .expect("wait for runner");
        output.into()
    }
}

/// The result of one run, with helpers for asserting on it. Its `Debug`
/// form shows everything, for assertion messages.
pub struct Run {
    pub status: ExitStatus,
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Which case of a table this run is (see [`Run::code_for`]), said
    /// first by every failed assertion in the chain.
    case: Option<String>,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            status: output.status,
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            case: None,
        }
    }
}

impl Run {
    /// Stdout as one JSON document (`--output json`).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    /// `steps[i]` of the JSON document.
    pub fn step(&self, i: usize) -> Value {
        self.json()["steps"][i].clone()
    }

    /// The `error` of `steps[i]`, empty when it has none.
    pub fn step_error(&self, i: usize) -> String {
        self.step(i)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Stdout and stderr together, for "appears nowhere" checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    // ------------------------------------------------ assertions in the chain
    //
    // Each checks one thing and hands the run back, so a test reads
    // `let out = ws.runner([...]).await.code(2).stderr_has("...");`. A
    // failure names the test's line and prints the whole run.

    /// Asserts that the run exited with `expected` (-1: ended by a signal).
    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        if self.code != expected {
            self.fail(format_args!("expected exit {expected}, got"));
        }
        self
    }

    /// [`Run::code`] for one case of a table (`format_args!("{command}
    /// {arg}")`), which this and every later assertion in the chain name
    /// first when they fail.
    #[track_caller]
    pub fn code_for(mut self, expected: i32, case: impl std::fmt::Display) -> Self {
        self.case = Some(case.to_string());
        self.code(expected)
    }

    /// Asserts that standard error holds `needle`.
    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        let held = self.stderr.contains(needle);
        self.holds(held, "stderr", needle)
    }

    /// Asserts that standard error holds each of `needles`.
    #[track_caller]
    pub fn stderr_has_all(mut self, needles: &[&str]) -> Self {
        for needle in needles {
            self = self.stderr_has(needle);
        }
        self
    }

    /// Asserts that standard output holds `needle`.
    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Self {
        let held = self.stdout.contains(needle);
        self.holds(held, "stdout", needle)
    }

    /// Asserts that standard error does not hold `needle`.
    #[track_caller]
    pub fn stderr_lacks(self, needle: &str) -> Self {
        let lacks = !self.stderr.contains(needle);
        self.lacks(lacks, "stderr", needle)
    }

    /// `self`, if `stream` lacked `needle`.
    #[track_caller]
    fn lacks(self, lacked: bool, stream: &str, needle: &str) -> Self {
        if !lacked {
            self.fail(format_args!("expected no `{needle}` on {stream}"));
        }
        self
    }

    /// `self`, if `stream` held `needle`.
    #[track_caller]
    fn holds(self, held: bool, stream: &str, needle: &str) -> Self {
        if !held {
            self.fail(format_args!("expected `{needle}` on {stream}"));
        }
        self
    }

    /// Panics with `what`, the case (if any) before it, the run after it.
    #[track_caller]
    fn fail(&self, what: std::fmt::Arguments) -> ! {
        match &self.case {
            Some(case) => panic!("{case}: {what}: {self:?}"),
            None => panic!("{what}: {self:?}"),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status.code() {
            Some(code) => write!(f, "exit {code}")?,
            None => write!(f, "{}", self.status)?,
        }
        write!(
            f,
            "\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        )
    }
}
