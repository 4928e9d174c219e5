//! The integration tests, as one test binary (`suite`): each module covers
//! one part of the command line and runs the real `runner` binary (see
//! [`harness`] for which one, and how to point the suite at another build).
//! One binary links once after a change, where a binary per file linked once
//! per file.
//!
//! Run one area with a filter on its module: `cargo nextest run journal::`.

mod harness;

mod apply;
mod bodies;
mod catalog;
mod architecture;
mod cli;
mod credentials;
mod descope;
mod env_secrets;
mod errors;
mod examples;
mod faults;
mod fuzz_corpus;
mod github_catalog;
mod journal;
mod secrets;
mod tls;
mod trust;
mod uploads;
mod workflow;
mod writes;
