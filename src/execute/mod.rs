//! Running a workflow: `plan` renders every request without sending any;
//! `apply` checks everything it can first (so a bad spec, a missing
//! variable or a journal that forbids it sends nothing), then runs the
//! steps in order, each seeing the responses of the ones before, journalled
//! as it goes, resumable, and stoppable by Ctrl-C or SIGTERM without lying
//! in the journal. Both go through the one walk in [`walk`].

mod assert;
mod failpoint;
mod files;
mod journal;
mod outcome;
mod retry;
mod send;
mod throttle;
mod trace;
mod upload;
mod walk;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::check::Workflow;
use crate::error::{Error, Result};
use crate::http::{self, Clients};
use crate::render::{self, PLAN_SECRET, Taint};
use crate::resolve::Sources;
use crate::secret::Secret;
use crate::spec::Timeouts;
use crate::template::to_value;

pub use crate::http::Verbosity;
pub(crate) use journal::default_path as default_journal_path;
pub use outcome::{
    Failure, FailureKind, ItemReport, Plan, PlannedStep, Progress, Reporter, RetryNote, RunReport,
    SkipReason, StepReport, StepStatus,
};
use walk::{Apply, Collect, Journalled, Preflight, Walk};

/// How to run: everything that comes from outside the spec.
#[derive(Clone, Default)]
pub struct Options {
    /// The environment templates see as `env`. Every value a template
    /// reads from it is a secret.
    pub env: Arc<BTreeMap<String, String>>,
    /// The names an env file set (`.env`, `--env-file`): their values are
    /// secrets whether or not a template reads them.
    pub env_file_names: Vec<String>,
    /// `--var NAME=VALUE`, overriding the spec's vars.
    pub vars: Vec<(String, String)>,
    /// `--env-file`: never uploaded.
    pub env_file: Option<PathBuf>,
    /// `--allow-upload PATH`: files a request may upload wherever they are
    /// and whatever they are (compared with symbolic links resolved).
    pub allow_upload: Vec<PathBuf>,
    /// `--base-url APP=URL`: send an app's requests elsewhere (a stand-in, say).
    pub base_urls: Vec<(String, String)>,
    /// Proxies, `--resolve`, `--cacert`, `--insecure`.
    pub http: http::Config,
    /// Allow auth over plain `http://` to hosts other than loopback.
    pub allow_http: bool,
    /// Where every secret is registered as soon as it is known.
    pub redactor: crate::redact::Redactor,
    /// `--timeout` / `--connect-timeout`: below a step's and an app's own.
    pub timeouts: Timeouts,
    /// `--max-response-size`, in bytes.
    pub max_response_size: Option<usize>,
    /// `--max-upload-size`, in bytes: the largest file a request uploads
    /// (default 100 MiB).
    pub max_upload_size: Option<u64>,
    /// Where to journal the run; `None`: no journal.
    pub journal: Option<PathBuf>,
    /// Continue the journal: skip the steps it records as done.
    pub resume: bool,
    /// On resume, send again a POST or PATCH that was in flight when the
    /// journalled run stopped.
    pub rerun_uncertain: bool,
    /// On resume, send again a completed POST or PATCH whose request changed.
    pub rerun_changed: bool,
    /// Keep no response bodies in the run's report (text output shows
    /// none): a long run then holds only what later templates read.
    pub drop_responses: bool,
    /// `--journal-sync strict`: sync each POST or PATCH's `started` record
    /// before it is sent (a spec's `journal: {sync: strict}` does too).
    pub journal_sync: crate::spec::JournalSync,
    /// `--shard I/N`: (I, N). Loops marked `shard: true` run the items whose
    /// index is I modulo N.
    pub shard: Option<(usize, usize)>,
    /// `--now`: the instant `now()` gives, as `template::time` writes it;
    /// `None`: when the run starts.
    pub now: Option<String>,
    /// The root workflow's inputs, by name: `--input` (as YAML text), then
    /// `--inputs-file`, then the environment (`RUNNER_INPUT_<NAME>`).
    pub inputs: Inputs,
    /// `-v`, `-vv`: trace requests (and responses) to the reporter.
    pub verbosity: Verbosity,
}

/// Inputs given from outside, before they are typed.
#[derive(Clone, Default, Debug)]
pub struct Inputs {
    /// `--input name=value`: YAML text of the input's type.
    pub args: Vec<(String, String)>,
    /// `--inputs-file FILE`, parsed.
    pub file: serde_json::Map<String, serde_json::Value>,
}

/// The root workflow's inputs, typed: `--input`, then `--inputs-file`, then
/// `RUNNER_INPUT_<NAME>`, then the default. A missing required input, a
/// wrong type or a value outside `enum` is an error: nothing is sent.
pub(crate) fn inputs(wf: &Workflow, opts: &Options) -> Result<serde_json::Value> {
    let declared = &wf.root().inputs;
    let parse = |name: &str, text: &str| -> Result<serde_json::Value> {
        let input = declared.get(name).ok_or_else(|| {
            let help = crate::error::suggest(name, declared.keys().map(String::as_str));
            Error::Usage(format!(
                "`--input {name}=...` names no input of the spec{help}"
            ))
        })?;
        // Text for a string input is the string itself: `--input title=yes`.
        if input.ty == crate::spec::ParamType::String {
            return Ok(serde_json::Value::String(text.to_string()));
        }
        serde_yaml::from_str::<serde_json::Value>(text).map_err(|_| {
            Error::Usage(format!(
                "input `{name}`: `{text}` is not valid YAML for {}",
                input.ty.described()
            ))
        })
    };
    let mut given = indexmap::IndexMap::new();
    for (name, input) in declared {
        let var = format!("RUNNER_INPUT_{}", name.to_uppercase());
        if let Some((_, text)) = opts.inputs.args.iter().rev().find(|(n, _)| n == name) {
            given.insert(name.clone(), parse(name, text)?);
        } else if let Some(v) = opts.inputs.file.get(name) {
            given.insert(name.clone(), v.clone());
        } else if let Some(text) = opts.env.get(&var) {
            given.insert(name.clone(), parse(name, text)?);
        }
        let _ = input;
    }
    for (name, _) in &opts.inputs.args {
        if !declared.contains_key(name) {
            parse(name, "")?;
        }
    }
    for name in opts.inputs.file.keys() {
        if !declared.contains_key(name) {
            return Err(Error::Usage(format!(
                "the inputs file gives `{name}`, which is no input of the spec"
            )));
        }
    }
    render::bind_known_inputs(declared, &given, &[]).map_err(|e| Error::Usage(e.to_string()))
}

/// Where the root workflow's inputs come from: whoever runs it
/// (`--input`, `--inputs-file`, `RUNNER_INPUT_<NAME>`), or the spec that
/// declares their defaults. A file path an input names is relative to the
/// current directory, or to that spec.
pub(crate) fn input_origins(wf: &Workflow, opts: &Options) -> BTreeMap<String, render::Origin> {
    wf.root()
        .inputs
        .iter()
        .filter_map(|(name, input)| {
            let given = opts.inputs.args.iter().any(|(n, _)| n == name)
                || opts.inputs.file.get(name).is_some_and(|v| !v.is_null())
                || opts
                    .env
                    .contains_key(&format!("RUNNER_INPUT_{}", name.to_uppercase()));
            let origin = if given {
                render::Origin::Outside
            } else {
                input.default.as_ref()?;
                render::Origin::Spec(input.loc.file_name().to_string())
            };
            Some((name.clone(), origin))
        })
        .collect()
}

impl Options {
    /// The largest file a request may upload.
    pub fn max_upload(&self) -> u64 {
        self.max_upload_size.unwrap_or(http::MAX_UPLOAD)
    }

    /// The `--base-url APP=URL` override for an app, if any.
    pub fn base_url(&self, app: &str) -> Option<&str> {
        self.base_urls
            .iter()
            .rev()
            .find(|(name, _)| name == app)
            .map(|(_, url)| url.as_str())
    }

    /// The base URL an action's requests go to when it is not the app's
    /// (or auth's) own: the action's own server, the `--base-url APP=URL`
    /// override of the app (which an action's own server is not subject
    /// to), or a `--base-url ORIGIN=URL` override of whichever of these
    /// has that origin (its path kept).
    pub(crate) fn base_override(
        &self,
        app: &crate::spec::App,
        action: &crate::spec::Action,
        auth_base: Option<&str>,
    ) -> Option<String> {
        let natural = match &action.base_url {
            Some(own) => own.as_str(),
            None => match self.base_url(&app.name) {
                Some(url) => return Some(url.to_string()),
                None => auth_base.unwrap_or(&app.base_url),
            },
        };
        self.origin_override(natural)
            .or_else(|| action.base_url.clone())
    }

    /// `base` with its origin replaced by a `--base-url ORIGIN=URL` naming it.
    fn origin_override(&self, base: &str) -> Option<String> {
        // Most runs have no origin override: no URL is parsed per request.
        if !self.base_urls.iter().any(|(from, _)| is_origin_key(from)) {
            return None;
        }
        let base = url::Url::parse(base).ok()?;
        let (_, to) = self.base_urls.iter().rev().find(|(from, _)| {
            is_origin_key(from)
                && url::Url::parse(from).is_ok_and(|from| from.origin() == base.origin())
        })?;
        let path = base.path().trim_end_matches('/');
        Some(format!("{}{path}", to.trim_end_matches('/')))
    }
}

/// Whether a `--base-url` key names an origin (`https://uploads.github.com`)
/// rather than an app.
fn is_origin_key(key: &str) -> bool {
    key.contains("://")
}

/// Registers every env value a template reads, and every value an env file
/// set, as a secret, before anything is rendered; says which are too short
/// to mask.
fn register_env(wf: &Workflow, opts: &Options) -> Vec<String> {
    let names = wf.env_refs.keys().chain(
        opts.env_file_names
            .iter()
            .filter(|name| !name.starts_with("RUNNER_INPUT_")),
    );
    let mut short = std::collections::BTreeSet::new();
    for name in names {
        let Some(value) = opts.env.get(name) else {
            continue;
        };
        let registered = opts.redactor.register(&Secret::new(value.as_str()));
        if registered == crate::redact::Registered::TooShort && !value.trim().is_empty() {
            short.insert(name.clone());
        }
    }
    short
        .into_iter()
        .map(|name| {
            format!(
                "env `{name}` is shorter than {} characters, too short to mask in output; env values are secrets: pass configuration as an input (`RUNNER_INPUT_{}`) or a `--var`",
                crate::redact::MIN_SECRET_LEN,
                name.to_ascii_uppercase()
            )
        })
        .collect()
}

/// Whether env `name` is set but empty, which counts as missing (what CI
/// gives for a secret it does not have) unless the spec allows it.
fn empty(wf: &Workflow, opts: &Options, name: &str) -> bool {
    opts.env.get(name).is_some_and(String::is_empty) && !wf.spec.env_allow_empty.contains_key(name)
}

/// What to do about an empty env variable.
fn empty_help(name: &str) -> String {
    format!(
        "empty counts as missing, since CI sets a secret it does not have to the empty string: set it, or declare `env: {{{name}: {{allow_empty: true}}}}` in the spec if empty is meant"
    )
}

/// `--var` and `--base-url` name things the spec has.
fn check_overrides(wf: &Workflow, opts: &Options) -> Result<()> {
    for (name, _) in &opts.vars {
        if !wf.spec.vars.contains_key(name) {
            let help = crate::error::suggest(name, wf.spec.vars.keys().map(String::as_str));
            return Err(Error::Usage(format!(
                "`--var {name}=...` names no var of the spec{help}"
            )));
        }
    }
    for (app, url) in &opts.base_urls {
        if is_origin_key(app) {
            check_origin_override(wf, app, url)?;
            continue;
        }
        if !wf.spec.apps.contains_key(app) {
            let help = crate::error::suggest(app, wf.spec.apps.keys().map(String::as_str));
            return Err(Error::Usage(format!(
                "`--base-url {app}=...` names no app of the spec{help}; its apps are {}",
                crate::error::ticked(wf.spec.apps.keys())
            )));
        }
        let valid = url::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !valid {
            return Err(Error::Usage(format!(
                "`--base-url {app}={url}`: expected an http or https URL"
            )));
        }
    }
    Ok(())
}

/// `--base-url ORIGIN=URL`: the origin is one of the spec's base URLs'
/// (an app's or an action's own), and the replacement a URL.
fn check_origin_override(wf: &Workflow, from: &str, to: &str) -> Result<()> {
    let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
    let bases: Vec<&str> = wf
        .spec
        .apps
        .values()
        .flat_map(|app| {
            std::iter::once(app.base_url.as_str())
                .chain(app.actions.values().filter_map(|a| a.base_url.as_deref()))
        })
        .collect();
    let Some(wanted) = origin(from).filter(|o| o.is_tuple()) else {
        return Err(Error::Usage(format!(
            "`--base-url {from}=...`: expected an app's name or an origin like `https://uploads.example.com`"
        )));
    };
    if !bases.iter().any(|b| origin(b).as_ref() == Some(&wanted)) {
        let mut origins: Vec<String> = bases
            .iter()
            .filter_map(|b| origin(b).filter(|o| o.is_tuple()))
            .map(|o| o.ascii_serialization())
            .collect();
        origins.sort();
        origins.dedup();
        return Err(Error::Usage(format!(
            "`--base-url {from}=...` names no base URL of the spec; its origins are {}",
            crate::error::ticked(origins.iter())
        )));
    }
    let valid = url::Url::parse(to)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !valid {
        return Err(Error::Usage(format!(
            "`--base-url {from}={to}`: expected an http or https URL"
        )));
    }
    Ok(())
}

/// What every command's walk reads, set up once: the overrides checked,
/// every env value a template reads registered as a secret, the vars
/// rendered, the inputs typed, one HTTP client pool and the credential
/// sources.
pub(crate) struct Setup<'a> {
    pub wf: &'a Workflow,
    pub opts: &'a Options,
    pub vars: minijinja::Value,
    /// Which vars come from outside the spec (auth masks what they give).
    pub taint: Taint,
    /// The root workflow's inputs.
    pub inputs: serde_json::Value,
    /// Where the root workflow's inputs come from.
    pub input_origins: BTreeMap<String, render::Origin>,
    /// What requests may upload.
    pub uploads: files::Uploads,
    pub sources: Sources,
    pub clients: Clients,
    /// What the set-up found to warn about (values too short to mask).
    pub warnings: Vec<String>,
    /// The run's `now()`: fixed when it starts, or the resumed run's.
    pub now: String,
}

impl<'a> Setup<'a> {
    /// With `waiting` (plan), values that need an unset env variable wait
    /// for the run; otherwise an unset one is an error.
    fn new(wf: &'a Workflow, opts: &'a Options, waiting: bool, now: String) -> Result<Setup<'a>> {
        check_overrides(wf, opts)?;
        let missing: Vec<String> = wf
            .env_refs
            .iter()
            .filter(|_| !waiting)
            .filter_map(|(name, loc)| match opts.env.get(name) {
                None => Some(format!(
                    "environment variable `{name}` is not set (used at {loc})"
                )),
                Some(_) if empty(wf, opts, name) => Some(format!(
                    "environment variable `{name}` is set but empty (used at {loc}); {}",
                    empty_help(name)
                )),
                Some(_) => None,
            })
            .collect();
        if !missing.is_empty() {
            return Err(Error::Environment(missing.join("\nerror: ")));
        }
        let warnings = register_env(wf, opts);
        let vars = render::vars(wf, opts.env.clone(), &opts.vars, waiting, &now)?;
        let inputs = inputs(wf, opts)?;
        Ok(Setup {
            wf,
            opts,
            vars: to_value(&vars.value),
            taint: vars.taint,
            inputs,
            input_origins: input_origins(wf, opts),
            uploads: files::Uploads::new(wf, opts),
            sources: Sources::new(),
            clients: Clients::create(opts.http.clone())
                .map_err(|e| Error::Environment(e.to_string()))?,
            warnings,
            now,
        })
    }
}

/// Renders every request without sending anything or reading any secret
/// source but the environment. Needs no async runtime.
pub fn plan(wf: &Workflow, opts: &Options) -> Result<Plan> {
    opts.redactor.register(&Secret::new(PLAN_SECRET));
    let now = opts
        .now
        .clone()
        .unwrap_or_else(crate::template::time::current);
    let setup = Setup::new(wf, opts, true, now)?;
    let mut warnings = setup.warnings.clone();
    warnings.extend(
        wf.env_refs
            .iter()
            .filter(|(name, _)| !opts.env.contains_key(*name))
            .map(|(name, loc)| {
                format!("env `{name}` is not set; `apply` will need it (used at {loc})")
            }),
    );
    warnings.extend(
        wf.env_refs
            .iter()
            .filter(|(name, _)| empty(wf, opts, name))
            .map(|(name, loc)| {
                format!(
                    "env `{name}` is set but empty; `apply` will refuse it (used at {loc}); {}",
                    empty_help(name)
                )
            }),
    );
    let (steps, walked) = walk::Plan::walk(&setup)?;
    for w in walked {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    Ok(Plan { steps, warnings })
}

fn journal_error(path: &std::path::Path, resume: bool, e: journal::OpenError) -> Error {
    let message = match e {
        journal::OpenError::Locked => format!(
            "the journal `{}` is in use by another run; wait for it to end, or give this run its own with `--journal`",
            path.display()
        ),
        journal::OpenError::Symlink => format!(
            "the journal `{}` is a symbolic link; journals are never written through one",
            path.display()
        ),
        journal::OpenError::Io(e) => format!(
            "cannot {} the journal `{}`: {}",
            if resume { "read" } else { "write" },
            path.display(),
            crate::fsio::io_words(&e)
        ),
    };
    Error::Environment(message)
}

/// A POST or PATCH that was in flight when the journalled run stopped may
/// have happened: resuming would repeat it, so it takes an explicit yes.
fn check_uncertain(past: &journal::Past, rerun: bool) -> Result<()> {
    if rerun {
        return Ok(());
    }
    if let Some(record) = past.uncertain().find(|r| r.is_unsafe()) {
        return Err(Error::Environment(format!(
            "{} (`{}`, {}) was in flight when the journalled run stopped: it may or may not have happened. \
             Check, then resume with `--rerun-uncertain` to send it again",
            record.label,
            record.parts.action,
            record.method()
        )));
    }
    Ok(())
}

/// Runs the steps in order. `Err` means nothing was sent.
pub async fn apply(wf: &Workflow, opts: &Options, reporter: &dyn Reporter) -> Result<RunReport> {
    if let Some(path) = &opts.journal
        && let Some(dir) = journal::linked_dir(path, &wf.spec.root.dir)
    {
        return Err(Error::Environment(format!(
            "the journal `{}` would be written through `{}`, a symbolic link; journals are never written through one (give `--journal` a path without links, or `--no-journal`)",
            path.display(),
            dir.display()
        )));
    }
    // The strictest of the command line's and the spec's.
    let sync = opts.journal_sync.max(wf.spec.journal_sync);
    // A resumed journal is locked and read first: the checks match steps
    // against it. A new one is emptied only once the checks pass.
    let (journal, past) = match (&opts.journal, opts.resume) {
        (Some(path), true) => {
            let (j, mut past) = journal::Journal::open(path, true, sync)
                .map_err(|e| journal_error(path, true, e))?;
            past.rename_aliases(|action| wf.spec.aliases.get(action).cloned());
            (Some(j), past)
        }
        _ => (None, journal::Past::default()),
    };
    // A resumed run is at the instant the journal began: the requests it
    // renders are those the first run sent.
    let now = (past.now.clone().or_else(|| opts.now.clone()))
        .unwrap_or_else(crate::template::time::current);
    let setup = Setup::new(wf, opts, false, now)?;
    check_uncertain(&past, opts.rerun_uncertain)?;
    // Resuming: first the requests known before the run, so a journal
    // record is kept for the step that matches it exactly (by key and
    // request) rather than claimed by an earlier step sending the same.
    let reserved = if past.is_empty() {
        HashSet::new()
    } else {
        past.matching(&Collect::walk(&setup).await?)
    };
    let said = Preflight::walk(&setup, &Journalled::new(&past, reserved.clone())).await?;
    let journal = match (journal, &opts.journal) {
        (Some(j), _) => Some(j),
        (None, Some(path)) => Some(
            journal::Journal::open(path, false, sync)
                .map_err(|e| journal_error(path, false, e))?
                .0,
        ),
        (None, None) => None,
    };
    let mut signals = Signals::new()?;
    if opts.http.insecure {
        reporter.warn("`--insecure`: TLS certificates are not checked; anyone on the path can read and change this run's traffic, credentials included");
    }
    for w in setup.warnings.iter().chain(&said) {
        reporter.warn(w);
    }
    let journalled = Journalled::new(&past, reserved);
    // What the checks warned about is not said again when the run meets it.
    let walk = Walk::new(
        &setup,
        Apply::new(&journalled, journal, reporter, wf.root().steps.len())
            .throttled(throttle::Throttles::new(&wf.spec)),
    )
    .saying_once(said);
    let started = std::time::Instant::now();
    let outcome = tokio::select! {
        r = walk.root_flow() => Ok(r),
        signal = signals.next() => Err(signal),
    };
    let mut report = RunReport {
        ok: true,
        steps: walk.mode.done.take(),
        duration: std::time::Duration::ZERO,
        interrupted: None,
        outputs: serde_json::Map::new(),
        shard: opts.shard,
    };
    match outcome {
        Ok(end) => report.outputs = end?.outputs,
        Err((code, name)) => {
            // The request in flight is abandoned; its journal shows it
            // started and never ended, which is the truth.
            report.interrupted = Some(code);
            reporter.progress(Progress::Ended);
            let steps = wf.steps();
            if let Some(step) = steps.get(report.steps.len()) {
                let mut r = StepReport::new(step, StepStatus::Failed);
                // It ran until the signal came.
                r.duration = walk
                    .mode
                    .began
                    .get()
                    .map(|t| t.elapsed())
                    .unwrap_or_default();
                r.fail(Failure::new(
                    FailureKind::MaybeSent,
                    format!(
                        "interrupted by {name}; the request may or may not have reached the server"
                    ),
                ));
                reporter.step(&r);
                report.steps.push(r);
            }
            for step in &steps[report.steps.len()..] {
                let mut r = StepReport::new(step, StepStatus::Skipped);
                r.skip_reason = Some(SkipReason::EarlierFailure);
                reporter.step(&r);
                report.steps.push(r);
            }
        }
    }
    walk.flush_warnings();
    // The journal is on disk when the run ends, however it ended.
    let Walk { mode, .. } = walk;
    if let Some(journal) = mode.journal
        && let Err(e) = journal.close()
    {
        reporter.warn(&format!(
            "cannot sync the journal at the end of the run: {e}"
        ));
    }
    report.ok = report.interrupted.is_none()
        && !report
            .steps
            .iter()
            .any(|s| s.status == StepStatus::Failed && !s.continued);
    report.duration = started.elapsed();
    Ok(report)
}

/// SIGINT and SIGTERM, as exit code and name.
pub(crate) struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind| {
                signal(kind)
                    .map_err(|e| Error::Environment(format!("cannot listen for signals: {e}")))
            };
            Ok(Signals {
                int: listen(SignalKind::interrupt())?,
                term: listen(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) -> (u8, &'static str) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => (130, "SIGINT"),
                _ = self.term.recv() => (143, "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            (130, "Ctrl-C")
        }
    }
}
