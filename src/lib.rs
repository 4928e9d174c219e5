//! `runner` executes API actions described in YAML.
//!
//! The pipeline, one module per stage:
//! [`spec`] reads the files into a located model, [`check`] validates it
//! into a [`Workflow`], [`render`] turns templates into requests,
//! [`resolve`] supplies secrets (env, Descope), [`execute`] sends the
//! requests in order, and [`report`] prints results through the redactor.
//!
//! Templates are bounded by fuel, value-size and depth checks; a few
//! minijinja operations do work fuel cannot meter, so a program that renders
//! untrusted specs should start [`render::watchdog`] as the command line does.
//!
//! ```no_run
//! # async fn run() -> Result<(), runner::Error> {
//! let workflow = runner::load(std::path::Path::new("specs/github.yaml"))?;
//! let options = runner::Options {
//!     env: runner::resolve::environment(None)?,
//!     ..Default::default()
//! };
//! let out = runner::report::Out::new(options.redactor.clone());
//! let mut reporter = runner::report::TextReporter::new(&out, &workflow);
//! let report = runner::apply(&workflow, &options, &mut reporter).await?;
//! assert!(report.ok);
//! # Ok(()) }
//! ```

pub mod check;
pub mod cli;
pub mod error;
pub mod execute;
pub mod import;
pub mod redact;
pub mod render;
pub mod report;
pub mod resolve;
pub mod secret;
pub mod spec;
mod url;

use std::path::Path;

pub use check::Workflow;
pub use error::{Error, Result};
pub use execute::{Options, Plan, apply, plan};
pub use secret::Secret;

/// Reads and checks a spec: everything `validate` does.
pub fn load(path: &Path) -> Result<Workflow> {
    check::check(spec::load(path)?)
}

/// Checks a spec given as text (includes are read relative to the current
/// directory): for tools and fuzzing.
pub fn load_str(name: &str, source: &str) -> Result<Workflow> {
    check::check(spec::load_str(name, source)?)
}
