//! `runner` executes API actions described in YAML.
//!
//! The modules, each importing only from the ones listed before it:
//!
//! - `units`: durations and sizes as written in specs.
//! - `fsio`: files read whole within a size cap; I/O errors in words.
//! - `secret`: the [`Secret`] type.
//! - `source`: spec files' text and the positions of their nodes.
//! - `error`: the one [`Error`] type, diagnostics, exit codes.
//! - `redact`: the redactor every byte of output passes through.
//! - `http`: HTTP plumbing shared by steps and credential sources.
//! - `template`: compiled templates, their scope, their bounds.
//! - `spec`: files and includes into a located model.
//! - `catalog`: listing and describing the actions of app catalogs.
//! - `check`: static validation into a runnable [`Workflow`].
//! - `render`: templates into values, values into requests.
//! - `resolve`: the environment and credential sources.
//! - `execute`: the walk over the steps: plan, checks, apply, journal.
//! - `report`: text and JSON output.
//! - `import`: OpenAPI descriptions into app catalogs.
//! - `cli`: the command line.
//!
//! Templates are bounded by fuel, value-size and depth checks; a few
//! minijinja operations do work fuel cannot meter, so a program that renders
//! untrusted specs should start [`template::watchdog`] as the command line does.
//!
//! ```no_run
//! # async fn run() -> Result<(), runner::Error> {
//! let workflow = runner::load(std::path::Path::new("specs/github.yaml"))?;
//! let env = runner::resolve::environment(None)?;
//! let options = runner::Options {
//!     env: env.vars,
//!     env_file_names: env.from_file,
//!     ..Default::default()
//! };
//! let out = runner::report::Out::new(options.redactor.clone());
//! let mut sink = runner::report::sink(runner::report::Format::Text, &out, Some(&workflow));
//! let report = runner::apply(&workflow, &options, sink.as_mut()).await?;
//! sink.finish(&report);
//! assert!(report.ok);
//! # Ok(()) }
//! ```

// What the crate does not export is `pub(crate)`: `pub` means API.
#![warn(unreachable_pub)]

pub(crate) mod units;
pub(crate) mod fsio;
pub(crate) mod secret;
pub(crate) mod source;
pub mod error;
pub(crate) mod redact;
pub(crate) mod http;
pub mod template;
pub(crate) mod spec;
pub(crate) mod catalog;
pub(crate) mod check;
pub(crate) mod render;
pub mod resolve;
pub(crate) mod execute;
pub mod report;
pub mod import;
pub mod cli;

use std::path::Path;

/// The README's examples, compiled as doctests so they keep working.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// The library's API: the pipeline's entry points and what they take and
// give. The modules above are the crate's own but for `error`, `template`
// (for programs that render templates, like the fuzz targets), `resolve`
// (the environment), `report` (the output sinks), `import` and `cli`.
pub use check::Workflow;
pub use error::{Error, Result};
pub use execute::{
    Failure, FailureKind, Inputs, ItemReport, Options, Plan, PlannedStep, Progress, Reporter,
    RetryNote, RunReport, SkipReason, StepReport, StepStatus, Verbosity, apply, plan,
};
pub use http::Config as HttpConfig;
pub use redact::Redactor;
pub use secret::Secret;
pub use spec::{JournalSync, LoadOptions, Timeouts};

/// Reads and checks a spec: everything `validate` does.
pub fn load(path: &Path) -> Result<Workflow> {
    load_with(path, LoadOptions::default())
}

/// [`load`], with options from the command line.
pub fn load_with(path: &Path, options: LoadOptions) -> Result<Workflow> {
    check::check(spec::load(path, options)?)
}

/// Checks a spec given as text (includes are read relative to the current
/// directory): for tools and fuzzing.
pub fn load_str(name: &str, source: &str) -> Result<Workflow> {
    check::check(spec::load_str(name, source, LoadOptions::default())?)
}
