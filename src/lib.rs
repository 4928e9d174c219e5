//! `runner` executes API actions described in YAML.
//!
//! The modules, each importing only from the ones listed before it:
//!
//! - [`units`]: durations and sizes as written in specs.
//! - [`fsio`]: files read whole within a size cap; I/O errors in words.
//! - [`secret`]: the [`Secret`] type.
//! - [`source`]: spec files' text and the positions of their nodes.
//! - [`error`]: the one [`Error`] type, diagnostics, exit codes.
//! - [`redact`]: the redactor every byte of output passes through.
//! - [`http`]: HTTP plumbing shared by steps and credential sources.
//! - [`template`]: compiled templates, their scope, their bounds.
//! - [`spec`]: files and includes into a located model.
//! - [`catalog`]: listing and describing the actions of app catalogs.
//! - [`check`]: static validation into a runnable [`Workflow`].
//! - [`render`]: templates into values, values into requests.
//! - [`resolve`]: the environment and credential sources.
//! - [`execute`]: the walk over the steps: plan, checks, apply, journal.
//! - [`report`]: text and JSON output.
//! - [`import`]: OpenAPI descriptions into app catalogs.
//! - [`cli`]: the command line.
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

pub mod units;
pub mod fsio;
pub mod secret;
pub mod source;
pub mod error;
pub mod redact;
pub mod http;
pub mod template;
pub mod spec;
pub mod catalog;
pub mod check;
pub mod render;
pub mod resolve;
pub mod execute;
pub mod report;
pub mod import;
pub mod cli;

use std::path::Path;

/// The README's examples, compiled as doctests so they keep working.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use check::Workflow;
pub use error::{Error, Result};
pub use execute::{Options, Plan, apply, plan};
pub use secret::Secret;
pub use spec::LoadOptions;

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
