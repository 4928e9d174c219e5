//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) and the saved crashes
//! (`fuzz/regressions/`) through the code of the fuzz targets, and runs a
//! small seeded mutation fuzzer over the corpora, so that stable
//! `cargo test` catches what the fuzzer found. See `fuzz/README.md`.
//!
//! Corpus and mutated inputs each run on their own thread, named after the
//! input (so a stack overflow names its culprit), with the stack of a main
//! thread, and must finish within [`PER_INPUT`]. Regressions each run in a
//! child process (this test binary, `regression_child`), so one that aborts or
//! hangs is killed without taking the others down; there, as in the command
//! line, a watchdog stops a render that runs past [`RENDER_LIMIT`].

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod targets;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::files_under;

/// How long one input may take (debug build, a loaded 2-core machine).
const PER_INPUT: Duration = Duration::from_secs(5);
/// Inputs slower than this are listed, not failed.
const SLOW: Duration = Duration::from_millis(500);
/// The stack of a program's main thread, where `runner` and libFuzzer run.
const STACK: usize = 8 << 20;
/// Mutated inputs per target.
const MUTATIONS: usize = 1500;
const SEED: u64 = 0x5eed_f00d_cafe_d00d;
/// How long the command line lets one render run before its watchdog stops
/// the process; `regression_child` does the same.
const RENDER_LIMIT: Duration = Duration::from_secs(2);
/// How `regression_child` exits when the watchdog stops a render.
const STOPPED_BY_WATCHDOG: i32 = 86;
/// How `regressions_replay_cleanly` tells `regression_child` what to run: a
/// test-name filter that matches no test.
const CHILD_ARG: &str = "fuzz-regression-input=";
/// What `regression_child` prints before it replays its input: a child that
/// exits 0 without it ran no test (its name filter matched nothing), which
/// must not pass for a clean replay.
const CHILD_STARTED: &str = "regression_child: replaying";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    SpecLoad,
    TemplateRender,
}

impl Target {
    const ALL: [Target; 2] = [Target::SpecLoad, Target::TemplateRender];

    fn name(self) -> &'static str {
        match self {
            Target::SpecLoad => "spec_load",
            Target::TemplateRender => "template_render",
        }
    }

    fn named(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    fn run(self, data: &[u8]) {
        match self {
            Target::SpecLoad => targets::spec_load(data),
            Target::TemplateRender => targets::template_render(data),
        }
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Where failing inputs are written, under `target/tmp/`.
fn scratch(parts: &[&str]) -> PathBuf {
    let mut path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_corpus");
    for part in parts {
        path.push(part);
    }
    path
}

fn corpus(target: Target) -> Vec<(String, Vec<u8>)> {
    let entries: Vec<_> = files_under(&fuzz_dir().join("corpus").join(target.name()))
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("read corpus file"))
        })
        .collect();
    assert!(!entries.is_empty(), "empty corpus for {}", target.name());
    entries
}

fn preview(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(&data[..data.len().min(300)]).into_owned();
    format!("{text:?}")
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs one input on its own thread. `Err` says how it failed.
fn run_thread(target: Target, label: &str, data: Vec<u8>) -> Result<Duration, String> {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let handle = thread::Builder::new()
        .name(format!("{}:{label}", target.name()))
        .stack_size(STACK)
        .spawn(move || {
            target.run(&data);
            let _ = tx.send(());
        })
        .expect("spawn");
    match rx.recv_timeout(PER_INPUT) {
        Ok(()) => {
            let _ = handle.join();
            Ok(start.elapsed())
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(format!(
            "panicked: {}",
            handle
                .join()
                .err()
                .map(|p| panic_message(&*p))
                .unwrap_or_default()
        )),
        // The thread cannot be stopped: it runs on until the process ends.
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("still running after {PER_INPUT:?}")),
    }
}

/// Runs every input on a thread, then fails listing each that panicked or
/// hung. Stops at the first hang, which keeps a core busy.
fn run_threads(test: &str, inputs: Vec<(Target, String, Vec<u8>)>) {
    let started = Instant::now();
    let count = inputs.len();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    let mut inputs = inputs.into_iter();
    for (target, label, data) in inputs.by_ref() {
        let shown = format!("{}:{label}", target.name());
        let saved = scratch(&[test, target.name(), &label]);
        let kept = data.clone();
        match run_thread(target, &label, data) {
            Ok(took) => {
                if took > SLOW {
                    eprintln!("slow: {shown} took {took:?}");
                }
                if took > slowest.0 {
                    slowest = (took, shown);
                }
            }
            Err(why) => {
                let _ = std::fs::create_dir_all(saved.parent().unwrap());
                let _ = std::fs::write(&saved, &kept);
                failures.push(format!(
                    "{shown}: {why}\n  input (saved as {}): {}",
                    saved.display(),
                    preview(&kept)
                ));
                if why.starts_with("still running") {
                    break;
                }
            }
        }
    }
    let skipped: Vec<String> = inputs
        .map(|(t, l, _)| format!("{}:{l}", t.name()))
        .collect();
    if !skipped.is_empty() {
        failures.push(format!("not run after the hang: {}", skipped.join(", ")));
    }
    eprintln!(
        "{test}: {count} inputs in {:?}; slowest {} ({:?})",
        started.elapsed(),
        slowest.1,
        slowest.0
    );
    assert!(
        failures.is_empty(),
        "{} failing input(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_replays_cleanly() {
    let mut inputs = Vec::new();
    for target in Target::ALL {
        for (name, data) in corpus(target) {
            inputs.push((target, name, data));
        }
    }
    run_threads("corpus", inputs);
}

/// `fuzz/regressions/<target>/<name>` runs through that target; a file
/// directly in `fuzz/regressions/` through both. Each in its own process,
/// all at once (a hang costs [`PER_INPUT`] once, not once per input).
#[test]
fn regressions_replay_cleanly() {
    let dir = fuzz_dir().join("regressions");
    let exe = std::env::current_exe().expect("test binary");
    let mut children = Vec::new();
    for path in files_under(&dir) {
        let relative = path.strip_prefix(&dir).unwrap().to_path_buf();
        let first = relative.components().next().unwrap().as_os_str();
        let targets = match Target::named(&first.to_string_lossy()) {
            Some(target) if relative.components().count() > 1 => vec![target],
            _ => Target::ALL.to_vec(),
        };
        for target in targets {
            let shown = format!("{}:{}", target.name(), relative.display());
            children.push((shown, path.clone(), spawn_child(&exe, target, &path)));
        }
    }
    let started = Instant::now();
    let mut failures = Vec::new();
    for (shown, path, (mut child, log)) in children {
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > PER_INPUT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let why = match status {
            Some(s) if s.success() || s.code() == Some(STOPPED_BY_WATCHDOG) => {
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                if output.contains(CHILD_STARTED) {
                    continue;
                }
                format!(
                    "exited ({s}) without replaying it: the filter `{}` ran no test",
                    child_test_name()
                )
            }
            Some(s) => format!("failed ({s}): {}", child_failure(&log)),
            None => format!("still running after {PER_INPUT:?}, killed"),
        };
        let data = std::fs::read(&path).unwrap_or_default();
        failures.push(format!("{shown}: {why}\n  input: {}", preview(&data)));
    }
    assert!(
        failures.is_empty(),
        "{} failing regression(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The test-name filter that selects `regression_child` alone: its path in
/// the suite (`fuzz_corpus::regression_child`), which libtest names without
/// the crate. Derived, so moving this module cannot break it silently.
fn child_test_name() -> String {
    let module = module_path!()
        .split_once("::")
        .map_or("", |(_crate, module)| module);
    format!("{module}::regression_child")
}

/// Starts `regression_child` on one input; its output goes to the returned log.
fn spawn_child(exe: &Path, target: Target, input: &Path) -> (std::process::Child, PathBuf) {
    let log = scratch(&["regressions", &format!("{}.log", sanitized(target, input))]);
    std::fs::create_dir_all(log.parent().unwrap()).expect("scratch dir");
    let out = std::fs::File::create(&log).expect("log file");
    let child = Command::new(exe)
        .arg(child_test_name())
        .args(["--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .arg(format!("{CHILD_ARG}{}={}", target.name(), input.display()))
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .expect("run the test binary");
    (child, log)
}

/// The lines of a child's output that say why it failed.
fn child_failure(log: &Path) -> String {
    let output = std::fs::read_to_string(log).unwrap_or_default();
    // The test binary's own report names the test; it says nothing new.
    let own_report = format!("'{}'", child_test_name());
    let mut why: Vec<&str> = Vec::new();
    for line in output.lines() {
        let telling = [
            "panicked",
            "overflow",
            "memory allocation",
            "fatal",
            "fuel",
            "env value",
        ]
        .iter()
        .any(|w| line.contains(w));
        if telling && !why.contains(&line) && !line.contains(&own_report) {
            why.push(line);
        }
    }
    why.truncate(4);
    why.join(" | ")
}

fn sanitized(target: Target, input: &Path) -> String {
    let name: String = input
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}-{name}", target.name())
}

/// The child side of `regressions_replay_cleanly`: does nothing unless given
/// an input, as when every ignored test is run. Like the command line, it
/// has a watchdog end the process when one render runs too long.
#[test]
#[ignore = "run by regressions_replay_cleanly, one input per process"]
fn regression_child() {
    let Some(arg) = std::env::args().find_map(|a| a.strip_prefix(CHILD_ARG).map(str::to_string))
    else {
        return;
    };
    let (name, path) = arg.split_once('=').expect("target=path");
    let target = Target::named(name).expect("known target");
    let data = std::fs::read(path).expect("read regression");
    eprintln!("{CHILD_STARTED} {name}:{path}");
    runner::template::watchdog::arm(RENDER_LIMIT, || {
        eprintln!("stopped by the watchdog after {RENDER_LIMIT:?}");
        std::process::exit(STOPPED_BY_WATCHDOG);
    });
    let file = Path::new(path).file_name().unwrap_or_default();
    let label = format!("{name}:{}", file.to_string_lossy());
    let child = thread::Builder::new()
        .name(label)
        .stack_size(STACK)
        .spawn(move || target.run(&data))
        .expect("spawn");
    if let Err(panic) = child.join() {
        panic!("{}", panic_message(&*panic));
    }
}

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// The tokens of `fuzz/dict/<target>.dict` (libFuzzer's format: one
/// `"quoted"` token a line, `\xNN`, `\\` and `\"` escapes).
fn dictionary(target: Target) -> Vec<Vec<u8>> {
    let path = fuzz_dir()
        .join("dict")
        .join(format!("{}.dict", target.name()));
    let text = std::fs::read_to_string(&path).expect("read dictionary");
    let mut tokens = Vec::new();
    for line in text.lines() {
        let Some(quoted) = line
            .trim()
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
        else {
            continue;
        };
        let bytes = quoted.as_bytes();
        let mut token = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], bytes.get(i + 1)) {
                (b'\\', Some(b'x')) if i + 3 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap_or("");
                    token.push(u8::from_str_radix(hex, 16).expect("\\xNN escape"));
                    i += 4;
                }
                (b'\\', Some(&c)) => {
                    token.push(c);
                    i += 2;
                }
                (c, _) => {
                    token.push(c);
                    i += 1;
                }
            }
        }
        tokens.push(token);
    }
    assert!(!tokens.is_empty(), "empty dictionary {}", path.display());
    tokens
}

fn mutate(
    rng: &mut Rng,
    input: &[u8],
    others: &[(String, Vec<u8>)],
    dictionary: &[Vec<u8>],
) -> Vec<u8> {
    const BYTES: &[u8] = b"{}%#[]()'\":-|~*\n \t0\xff";
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            // Flip a bit.
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            // Replace a byte with an interesting one.
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = BYTES[rng.below(BYTES.len())];
            }
            // Truncate.
            2 => data.truncate(rng.below(len + 1)),
            // Delete a range.
            3 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(16)).min(len);
                data.drain(from..to);
            }
            // Duplicate a range in place.
            4 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(64)).min(len);
                let chunk = data[from..to].to_vec();
                for _ in 0..1 + rng.below(8) {
                    data.splice(to..to, chunk.iter().copied());
                }
            }
            // Splice in part of another entry.
            5 => {
                let other = &others[rng.below(others.len())].1;
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let to = (from + 1 + rng.below(128)).min(other.len());
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[from..to].iter().copied());
                }
            }
            // Insert a dictionary token.
            _ => {
                let token = &dictionary[rng.below(dictionary.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data.truncate(64 * 1024);
    data
}

/// A bounded, reproducible stand-in for `cargo fuzz run` on stable: mutates
/// corpus entries and runs them. A failing input is saved under
/// `target/tmp/fuzz_corpus/mutants/`; minimize it and add it to
/// `fuzz/regressions/<target>/`.
#[test]
fn mutated_corpus_runs_cleanly() {
    let mut rng = Rng(SEED);
    let mut inputs = Vec::new();
    for target in Target::ALL {
        let entries = corpus(target);
        let dictionary = dictionary(target);
        for i in 0..MUTATIONS {
            let base = &entries[rng.below(entries.len())];
            let data = mutate(&mut rng, &base.1, &entries, &dictionary);
            inputs.push((target, format!("mutant-{i}-of-{}", base.0), data));
        }
    }
    run_threads("mutants", inputs);
}
