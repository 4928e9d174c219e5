//! The integration tests, as one test binary (`suite`): each module covers
//! one part of the command line and runs the real `runner` binary (see
//! [`harness`] for which one, and how to point the suite at another build).
//! One binary links once after a change, where a binary per file linked once
//! per file.
//!
//! - [`harness`]: the scaffolding: workspaces, runs and their assertions,
//!   mock servers, spec builders, leak checks, held requests.
//! - [`apply`], [`bodies`], [`faults`], [`tls`]: what reaches the server,
//!   in what shape, over what network.
//! - [`cli`], [`catalog`], [`github_catalog`], [`fidelity`], [`search`],
//!   [`examples`]: the commands, imported catalogs, finding actions in them,
//!   and the shipped specs.
//! - [`credentials`], [`secrets`], [`descope`]: where credentials come from
//!   and that they are never printed; [`env`]: set but empty is missing.
//! - [`trace`]: `-v` and `-vv`, and network errors that name the URL.
//! - [`ci`]: JUnit, `validate --output json`, GitHub Actions annotations,
//!   step summary and outputs, untrusted text kept inert.
//! - [`terminal`]: colour, progress and heartbeat, aligned step lines.
//! - [`journal`], [`workflow`]: resuming, and workflows beyond a straight
//!   line.
//! - [`limits`]: apps' shared limits and rate-limit answers, measured at
//!   the server.
//! - [`aliases`]: an action's other names, in steps, journals and listings.
//! - [`schema`]: the JSON Schema of spec files (plain, and specialised to
//!   catalogs), shell completions and the man page.
//! - [`safety`]: the safety promises, one file per subject (resume, files,
//!   uploads, masking, env secrets, exit codes, reach, bounds, writes).
//! - [`errors`]: the error gallery and its snapshots.
//! - [`release`], [`action`]: installing without building: the release's
//!   archives as `cargo binstall` finds them, and the GitHub Action's steps
//!   run here with fake GitHub files.
//! - [`architecture`], [`fuzz_corpus`]: the crate's shape, and the fuzz
//!   corpora replayed.
//!
//! Run one area with a filter on its module: `cargo test journal::`,
//! `cargo test safety::masking::`.

mod harness;

mod action;
mod aliases;
mod apply;
mod architecture;
mod bodies;
mod catalog;
mod ci;
mod cli;
mod credentials;
mod descope;
mod env;
mod errors;
mod examples;
mod faults;
mod fidelity;
mod fuzz_corpus;
mod github_catalog;
mod journal;
mod limits;
mod release;
mod safety;
mod schema;
mod search;
mod secrets;
mod terminal;
mod tls;
mod trace;
mod workflow;
