//! Reports for CI: JUnit XML (`--output junit`, `--report-junit`),
//! `validate --output json`, and under `GITHUB_ACTIONS=true` annotations,
//! the step summary, workflow outputs and the fence that keeps untrusted
//! text from issuing workflow commands.

mod github;
mod junit;
mod validate;
