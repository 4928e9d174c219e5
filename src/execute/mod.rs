//! Running a workflow: `plan` renders every request without sending any;
//! `apply` checks everything it can first (so a bad spec, a missing
//! variable or a journal that forbids it sends nothing), then runs the
//! steps in order, each seeing the responses of the ones before, journalled
//! as it goes, resumable, and stoppable by Ctrl-C or SIGTERM without lying
//! in the journal. Both go through the one walk in [`walk`].

mod journal;
mod outcome;
mod retry;
mod send;
mod walk;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::check::Workflow;
use crate::error::{Error, Result, did_you_mean};
use crate::http::{self, Clients};
use crate::render::{self, PLAN_SECRET, Taint};
use crate::resolve::Sources;
use crate::secret::Secret;
use crate::spec::Timeouts;
use crate::template::{Live, to_value};

pub use journal::default_path as default_journal_path;
pub use outcome::{
    Failure, FailureKind, Plan, PlannedStep, Reporter, RetryNote, RunReport, StepReport,
    StepStatus,
};
use walk::{Mode, Walker};

/// How to run: everything that comes from outside the spec.
#[derive(Clone, Default)]
pub struct Options {
    /// The environment templates see as `env`.
    pub env: Arc<BTreeMap<String, String>>,
    /// `--var NAME=VALUE`, overriding the spec's vars.
    pub vars: Vec<(String, String)>,
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
    /// Where to journal the run; `None`: no journal.
    pub journal: Option<PathBuf>,
    /// Continue the journal: skip the steps it records as done.
    pub resume: bool,
    /// On resume, send again a POST or PATCH that was in flight when the
    /// journalled run stopped.
    pub rerun_uncertain: bool,
    /// On resume, send again a completed POST or PATCH whose request changed.
    pub rerun_changed: bool,
}

impl Options {
    /// The `--base-url` override for an app, if any.
    pub fn base_url(&self, app: &str) -> Option<&str> {
        self.base_urls
            .iter()
            .rev()
            .find(|(name, _)| name == app)
            .map(|(_, url)| url.as_str())
    }
}

/// `--var` and `--base-url` name things the spec has.
fn check_overrides(wf: &Workflow, opts: &Options) -> Result<()> {
    for (name, _) in &opts.vars {
        if !wf.spec.vars.contains_key(name) {
            let help = did_you_mean(name, wf.spec.vars.keys().map(String::as_str))
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(Error::Usage(format!(
                "`--var {name}=...` names no var of the spec{help}"
            )));
        }
    }
    for (app, url) in &opts.base_urls {
        if !wf.spec.apps.contains_key(app) {
            let help = did_you_mean(app, wf.spec.apps.keys().map(String::as_str))
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
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

/// Runs `future`, which must not wait on anything (the plan walk sends
/// nothing and sleeps never), to completion on this thread: `plan` stays
/// usable without an async runtime.
fn now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => unreachable!("the plan walk never waits"),
    }
}

/// Renders every request without sending anything or reading any secret
/// source but the environment.
pub fn plan(wf: &Workflow, opts: &Options) -> Result<Plan> {
    check_overrides(wf, opts)?;
    let vars = render::vars(wf, opts.env.clone(), &opts.vars, true)?;
    opts.redactor.register(&Secret::new(PLAN_SECRET));
    let mut warnings: Vec<String> = wf
        .env_refs
        .iter()
        .filter(|(name, _)| !opts.env.contains_key(*name))
        .map(|(name, loc)| format!("env `{name}` is not set; `apply` will need it (used at {loc})"))
        .collect();
    let clients = Clients::new(opts.http.clone()).map_err(Error::Environment)?;
    let sources = Sources::new();
    let past = journal::Past::default();
    let walker = walker(wf, opts, Mode::Plan, vars.value, vars.taint, &sources, &clients, &past);
    now(walker.check_all())?;
    for w in walker.warnings.borrow().iter() {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    Ok(Plan {
        steps: walker.planned.into_inner(),
        warnings,
    })
}

#[allow(clippy::too_many_arguments)]
fn walker<'a>(
    wf: &'a Workflow,
    opts: &'a Options,
    mode: Mode,
    vars: serde_json::Value,
    taint: Taint,
    sources: &'a Sources,
    clients: &'a Clients,
    past: &'a journal::Past,
) -> Walker<'a> {
    Walker {
        wf,
        opts,
        mode,
        vars: to_value(&vars),
        taint,
        sources,
        clients,
        steps: Live::new(),
        past,
        claimed: RefCell::new(HashSet::new()),
        journal: RefCell::new(None),
        warnings: RefCell::new(Vec::new()),
        reported: std::cell::Cell::new(0),
        planned: RefCell::new(Vec::new()),
    }
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
            e.to_string().to_lowercase()
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
pub async fn apply(
    wf: &Workflow,
    opts: &Options,
    reporter: &mut dyn Reporter,
) -> Result<RunReport> {
    check_overrides(wf, opts)?;
    let missing: Vec<String> = wf
        .env_refs
        .iter()
        .filter(|(name, _)| !opts.env.contains_key(*name))
        .map(|(name, loc)| format!("environment variable `{name}` is not set (used at {loc})"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Environment(missing.join("\nerror: ")));
    }
    // A resumed journal is locked and read first: the checks match steps
    // against it. A new one is emptied only once the checks pass.
    let (mut journal, past) = match (&opts.journal, opts.resume) {
        (Some(path), true) => {
            let (j, past) = journal::Journal::open(path, true).map_err(|e| journal_error(path, true, e))?;
            (Some(j), past)
        }
        _ => (None, journal::Past::default()),
    };
    check_uncertain(&past, opts.rerun_uncertain)?;
    let clients = Clients::new(opts.http.clone()).map_err(Error::Environment)?;
    let sources = Sources::new();
    let vars = render::vars(wf, opts.env.clone(), &opts.vars, false)?;
    let preflight = walker(
        wf,
        opts,
        Mode::Preflight,
        vars.value.clone(),
        vars.taint.clone(),
        &sources,
        &clients,
        &past,
    );
    preflight.check_all().await?;
    if journal.is_none()
        && let Some(path) = &opts.journal
    {
        journal = Some(
            journal::Journal::open(path, false)
                .map_err(|e| journal_error(path, false, e))?
                .0,
        );
    }
    let mut signals = Signals::new()?;
    if opts.http.insecure {
        reporter.warn("`--insecure`: TLS certificates are not checked; anyone on the path can read and change this run's traffic, credentials included");
    }
    for w in preflight.warnings.borrow().iter() {
        reporter.warn(w);
    }
    let walker = walker(
        wf,
        opts,
        Mode::Apply,
        vars.value,
        vars.taint,
        &sources,
        &clients,
        &past,
    );
    *walker.journal.borrow_mut() = journal;
    // Said already: the walk must not say them again.
    let said = preflight.warnings.take();
    walker.reported.set(said.len());
    *walker.warnings.borrow_mut() = said;
    let reporter = RefCell::new(reporter);
    Ok(walker.run(&reporter, &mut signals).await)
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
