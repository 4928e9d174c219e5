//! CI reports beside the output chosen with `--output`: a JUnit file
//! (`--report-junit`), and under GitHub Actions annotations for
//! diagnostics and failed steps, the Markdown summary appended to
//! `$GITHUB_STEP_SUMMARY`, the workflow outputs appended to
//! `$GITHUB_OUTPUT` (`--github-output`). A [`CiSink`] wraps the sink of
//! the chosen format and passes everything on to it.

use std::path::PathBuf;

use super::diagnostics::Found;
use super::github;
pub(crate) use super::github::Annotation;
use super::{Out, Sink};
use crate::error::{Error, Level, Loc};
use crate::execute::{Plan, Reporter, RetryNote, RunReport, StepReport, StepStatus};

/// Which CI reports to write.
#[derive(Debug, Default, Clone)]
pub(crate) struct Ci {
    /// `--report-junit FILE`.
    pub(crate) junit: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`: annotations on stderr.
    pub(crate) github: bool,
    /// `$GITHUB_STEP_SUMMARY`, under GitHub Actions.
    pub(crate) step_summary: Option<PathBuf>,
    /// `$GITHUB_OUTPUT`, with `--github-output`.
    pub(crate) github_output: Option<PathBuf>,
}

impl Ci {
    /// Whether there is anything to add to the chosen output.
    pub(crate) fn any(&self) -> bool {
        self.junit.is_some()
            || self.github
            || self.step_summary.is_some()
            || self.github_output.is_some()
    }
}

/// `inner`, with the CI reports `ci` asks for about the spec `spec`.
pub(crate) fn sink<'a>(
    inner: Box<dyn Sink + 'a>,
    out: &'a Out,
    ci: Ci,
    spec: &str,
    wf: Option<&crate::check::Workflow>,
) -> Box<dyn Sink + 'a> {
    if !ci.any() {
        return inner;
    }
    let warnings = wf
        .map(|wf| {
            wf.warnings
                .iter()
                .map(|w| Found::from_diagnostic(w, spec).annotation())
                .collect()
        })
        .unwrap_or_default();
    let step_locs = wf
        .map(|wf| {
            wf.steps()
                .iter()
                .map(|s| (s.def.name(), s.def.loc.clone()))
                .collect()
        })
        .unwrap_or_default();
    Box::new(CiSink {
        inner,
        out,
        ci,
        spec: spec.to_string(),
        annotations: warnings,
        step_locs,
    })
}

pub(crate) struct CiSink<'a> {
    inner: Box<dyn Sink + 'a>,
    out: &'a Out,
    ci: Ci,
    spec: String,
    /// Printed when the command is done, most important first.
    annotations: Vec<Annotation>,
    /// Where each of the root spec's steps is: the place of a failure
    /// that has none of its own (an unexpected status).
    step_locs: std::collections::HashMap<String, Loc>,
}

impl CiSink<'_> {
    fn write(&self, what: &str, path: &std::path::Path, text: &str) {
        if let Err(e) = github::append(path, text) {
            self.out.stderr(&format!(
                "warning: cannot write the {what} `{}`: {}",
                path.display(),
                crate::fsio::io_words(&e)
            ));
        }
    }

    fn junit(&self, document: &str) {
        if let Some(path) = &self.ci.junit
            && let Err(e) = std::fs::write(path, document)
        {
            self.out.stderr(&format!(
                "warning: cannot write the JUnit report `{}`: {}",
                path.display(),
                crate::fsio::io_words(&e)
            ));
        }
    }

    /// Annotations for the failed steps: those that stopped the run
    /// before those that `continue_on_error` let pass.
    fn failed_steps(&mut self, report: &RunReport) {
        let mut found = Vec::new();
        for s in &report.steps {
            let at = self.step_locs.get(&s.name);
            self.step_failures(s, &s.name, at, false, &mut found);
        }
        let (continued, stopped): (Vec<_>, Vec<_>) = found.into_iter().partition(|(c, _)| *c);
        // Before the warnings already collected: errors come first anyway,
        // and among errors the failed steps before the diagnostics.
        self.annotations
            .splice(0..0, stopped.into_iter().chain(continued).map(|(_, a)| a));
    }

    fn step_failures(
        &self,
        s: &StepReport,
        name: &str,
        at: Option<&Loc>,
        continued: bool,
        found: &mut Vec<(bool, Annotation)>,
    ) {
        let redactor = self.out.redactor();
        let annotate = |name: &str, e: &crate::execute::Failure| {
            let loc = e.loc.as_ref().or(at);
            let line_col = loc.and_then(|l| l.line_col());
            Annotation {
                level: Level::Error,
                file: Some(loc.map_or_else(|| self.spec.clone(), |l| l.file_name().to_string())),
                line: line_col.map(|lc| lc.line),
                col: line_col.map(|lc| lc.col),
                title: redactor
                    .redact(&format!("runner: step {name} failed ({})", e.kind.as_str())),
                message: redactor.redact(&e.message),
            }
        };
        let continued = continued || s.continued;
        if let Some(e) = &s.error {
            found.push((continued, annotate(name, e)));
        }
        for item in s.items.iter().flatten() {
            let item_name = format!("{name}[{}]", item.index);
            if let Some(e) = &item.error
                && s.error.as_ref().is_none_or(|own| own.message != e.message)
            {
                found.push((continued, annotate(&item_name, e)));
            }
            for inner in item.steps.iter().filter(|i| i.status == StepStatus::Failed) {
                self.step_failures(inner, &inner.name, at, continued, found);
            }
        }
        for inner in s.steps.iter().filter(|i| i.status == StepStatus::Failed) {
            self.step_failures(inner, &inner.name, at, continued, found);
        }
    }
}

/// The annotations, when the command is done: GitHub shows only so many
/// of each kind, so all of them must be known to choose.
impl Drop for CiSink<'_> {
    fn drop(&mut self) {
        if !self.ci.github {
            return;
        }
        annotate(self.out, &self.annotations);
    }
}

/// Prints `annotations` as workflow commands, at most so many of each
/// kind, then how many were left out. Their text is redacted before it
/// is escaped: escaping first could split a secret where the redactor
/// would not see it.
pub(crate) fn annotate(out: &Out, annotations: &[Annotation]) {
    let redactor = out.redactor();
    let redacted: Vec<Annotation> = annotations
        .iter()
        .map(|a| Annotation {
            file: a.file.as_deref().map(|f| redactor.redact(f)),
            title: redactor.redact(&a.title),
            message: redactor.redact(&a.message),
            ..a.clone()
        })
        .collect();
    let (commands, notes) = github::commands(&redacted);
    for c in &commands {
        out.command(c);
    }
    for n in &notes {
        out.stderr(n);
    }
}

impl Reporter for CiSink<'_> {
    fn step(&self, step: &StepReport) {
        self.inner.step(step);
    }

    fn warn(&self, message: &str) {
        self.inner.warn(message);
    }

    fn retry(&self, step: &str, note: &RetryNote) {
        self.inner.retry(step, note);
    }

    fn trace(&self, block: &str) {
        self.inner.trace(block);
    }

    fn pulse_every(&self, long: bool) -> Option<std::time::Duration> {
        self.inner.pulse_every(long)
    }

    fn progress(&self, event: crate::execute::Progress<'_>) {
        self.inner.progress(event);
    }

    fn pulse(&self) {
        self.inner.pulse();
    }
}

impl Sink for CiSink<'_> {
    fn plan(&mut self, plan: &Plan) {
        self.inner.plan(plan);
        if let Some(path) = &self.ci.step_summary {
            let text = super::markdown::plan(
                plan,
                &self.spec,
                super::markdown::LIMIT,
                self.out.redactor(),
            );
            self.write("step summary", path, &text);
        }
    }

    fn finish(&mut self, report: &RunReport) {
        self.inner.finish(report);
        let redactor = self.out.redactor();
        self.junit(&super::junit::document(report, &self.spec, redactor));
        if let Some(path) = &self.ci.step_summary {
            let text = super::markdown::run(report, &self.spec, super::markdown::LIMIT, redactor);
            self.write("step summary", path, &text);
        }
        if let Some(path) = &self.ci.github_output {
            let outputs =
                match redactor.redact_json(&serde_json::Value::Object(report.outputs.clone())) {
                    serde_json::Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                };
            self.write("workflow outputs to", path, &github::outputs(&outputs));
        }
        self.failed_steps(report);
    }

    fn error(&mut self, error: &Error) {
        self.inner.error(error);
        self.junit(&super::junit::failed(
            &self.spec,
            &error.to_string(),
            self.out.redactor(),
        ));
        let found = Found::from_error(error, &self.spec);
        let errors: Vec<Annotation> = found.iter().map(Found::annotation).collect();
        self.annotations.splice(0..0, errors);
    }

    fn actions(&mut self, entries: &[&crate::catalog::Entry]) {
        self.inner.actions(entries);
    }

    fn describe(&mut self, entry: &crate::catalog::Entry) {
        self.inner.describe(entry);
    }

    fn valid(&mut self, path: &std::path::Path, wf: &crate::check::Workflow) {
        self.inner.valid(path, wf);
    }

    fn stopped(&mut self, message: &str) {
        self.inner.stopped(message);
    }
}
