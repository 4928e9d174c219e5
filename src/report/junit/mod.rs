//! JUnit XML, as a report format, for CI test tabs: a `<testsuite>` per
//! spec file (a `uses:` file gets its own), a `<testcase>` per step (a
//! loop's items as `id[index]`, a sub-workflow's steps named as text
//! output names them),
//! classname the action or the `uses:` file. A status, assertion or
//! timeout failure is a `<failure>` (the API said no); anything else is
//! an `<error>` (the run could not ask); a skipped step is `<skipped>`.
//! Every string is redacted before it becomes XML, so escaping cannot
//! hide a secret from the redactor.

use indexmap::IndexMap;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Out, Sink};
use crate::error::Error;
use crate::execute::{
    Failure, FailureKind, Plan, Reporter, RunReport, SkipReason, StepReport, StepStatus,
};
use crate::redact::Redactor;

/// The document for a run of the spec `spec`.
pub(crate) fn document(report: &RunReport, spec: &str, redactor: &Redactor) -> String {
    let mut suites = Suites {
        suites: IndexMap::new(),
        redactor,
    };
    suites.suite(spec);
    for s in &report.steps {
        suites.step(s, spec, &s.name);
    }
    let mut doc = Report::new("runner");
    doc.set_time(report.duration);
    doc.add_test_suites(suites.suites.into_values());
    serialize(&doc, redactor)
}

/// The document for a run that could not start: one `<error>`.
pub(crate) fn failed(spec: &str, message: &str, redactor: &Redactor) -> String {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    let message = redactor.redact(message);
    status
        .set_message(first_line(&message))
        .set_type("invalid")
        .set_description(message);
    let mut case = TestCase::new("load", status);
    case.set_classname(redactor.redact(spec));
    let mut suite = TestSuite::new(redactor.redact(spec));
    suite.add_test_case(case);
    let mut doc = Report::new("runner");
    doc.add_test_suite(suite);
    serialize(&doc, redactor)
}

fn serialize(doc: &Report, redactor: &Redactor) -> String {
    // Serializing to a string fails only on I/O, which a string has none of.
    inert(&redactor.redact(&doc.to_string().unwrap_or_default()))
}

/// The document with no line that starts (after blanks) with `::` or
/// `##[`, which a GitHub Actions log would take for a workflow command
/// (a message quoting an API's `::add-mask::`): such a line's first
/// character becomes a character reference. Tags start with `<`, so the
/// line is inside a text or an attribute, and the parsed document is the
/// same.
fn inert(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    for line in xml.split_inclusive('\n') {
        let body = line.trim_start();
        let blanks = &line[..line.len() - body.len()];
        if body.starts_with("::") {
            out.push_str(blanks);
            out.push_str("&#58;");
            out.push_str(&body[1..]);
        } else if body.starts_with("##[") {
            out.push_str(blanks);
            out.push_str("&#35;");
            out.push_str(&body[1..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

struct Suites<'r> {
    suites: IndexMap<String, TestSuite>,
    redactor: &'r Redactor,
}

impl Suites<'_> {
    fn suite(&mut self, file: &str) -> &mut TestSuite {
        let name = self.redactor.redact(file);
        self.suites
            .entry(name.clone())
            .or_insert_with(|| TestSuite::new(name))
    }

    /// `s` in the suite of `file`, named `name`: the step itself, or the
    /// items and inner steps it ran (and itself too when it failed and
    /// none of them did, so no failure is lost or counted twice).
    fn step(&mut self, s: &StepReport, file: &str, name: &str) {
        // Inner steps live in the file they are written in.
        let inner_file = s.action.strip_prefix("uses ").unwrap_or(file);
        let mut children_failed = false;
        let mut children = false;
        for item in s.items.iter().flatten() {
            children = true;
            let item_name = format!("{name}[{}]", item.index);
            if item.steps.is_empty() {
                children_failed |= item.status == StepStatus::Failed;
                let status = status(item.status, item.error.as_deref(), item.skip_reason);
                self.case(file, &item_name, &s.action, item.duration, status);
            }
            for inner in &item.steps {
                children_failed |= inner.status == StepStatus::Failed;
                self.step(inner, inner_file, &inner.name);
            }
        }
        for inner in &s.steps {
            children = true;
            children_failed |= inner.status == StepStatus::Failed;
            self.step(inner, inner_file, &inner.name);
        }
        if !children || (s.status == StepStatus::Failed && !children_failed) {
            let status = status(s.status, s.error.as_ref(), s.skip_reason);
            self.case(file, name, &s.action, s.duration, status);
        }
    }

    fn case(
        &mut self,
        file: &str,
        name: &str,
        action: &str,
        duration: std::time::Duration,
        mut status: TestCaseStatus,
    ) {
        redact_status(&mut status, self.redactor);
        let mut case = TestCase::new(self.redactor.redact(name), status);
        let classname = action.strip_prefix("uses ").unwrap_or(action);
        case.set_classname(self.redactor.redact(classname))
            .set_time(duration);
        self.suite(file).add_test_case(case);
    }
}

/// Messages go in redacted already; this covers the status's own strings.
fn redact_status(status: &mut TestCaseStatus, redactor: &Redactor) {
    if let TestCaseStatus::NonSuccess {
        message,
        description,
        ..
    }
    | TestCaseStatus::Skipped {
        message,
        description,
        ..
    } = status
    {
        if let Some(m) = message {
            *m = redactor.redact(m.as_str()).into();
        }
        if let Some(d) = description {
            *d = redactor.redact(d.as_str()).into();
        }
    }
}

fn status(status: StepStatus, error: Option<&Failure>, skip: Option<SkipReason>) -> TestCaseStatus {
    match status {
        StepStatus::Ok => TestCaseStatus::success(),
        StepStatus::Skipped => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(match skip {
                Some(SkipReason::Condition) => "its `if` is false",
                Some(SkipReason::EarlierFailure) => "an earlier step failed",
                None => "skipped",
            });
            st
        }
        StepStatus::Failed => {
            let kind = error.map(|e| e.kind);
            let junit_kind = match kind {
                Some(FailureKind::Status | FailureKind::Assertion | FailureKind::Timeout) => {
                    NonSuccessKind::Failure
                }
                _ => NonSuccessKind::Error,
            };
            let mut st = TestCaseStatus::non_success(junit_kind);
            st.set_type(kind.map_or("failed", FailureKind::as_str));
            if let Some(e) = error {
                let mut text = e.message.clone();
                if let Some(loc) = &e.loc {
                    text.push_str(&format!("\n  --> {loc}"));
                }
                st.set_message(first_line(&e.message)).set_description(text);
            }
            st
        }
    }
}

/// `--output junit`: quiet while the run goes (warnings on stderr), the
/// document on stdout at the end. Commands without steps print as text.
pub(crate) struct JunitSink<'a> {
    out: &'a Out,
    spec: String,
    text: super::TextSink<'a>,
}

impl<'a> JunitSink<'a> {
    pub(crate) fn new(out: &'a Out, wf: Option<&crate::check::Workflow>) -> Self {
        JunitSink {
            out,
            spec: wf.map_or_else(|| "runner".to_string(), |wf| wf.spec.file.clone()),
            text: super::TextSink::new(out, wf),
        }
    }

    /// For a run of `spec` that could not load it.
    pub(crate) fn named(out: &'a Out, spec: &str) -> Self {
        JunitSink {
            spec: spec.to_string(),
            ..JunitSink::new(out, None)
        }
    }
}

impl Reporter for JunitSink<'_> {
    fn step(&self, _: &StepReport) {}

    fn warn(&self, message: &str) {
        self.text.warn(message);
    }

    fn trace(&self, block: &str) {
        self.text.trace(block);
    }

    // A long step's heartbeat, on stderr, as with text output.
    fn pulse_every(&self, long: bool) -> Option<std::time::Duration> {
        self.text.pulse_every(long)
    }

    fn progress(&self, event: crate::execute::Progress<'_>) {
        self.text.progress(event);
    }

    fn pulse(&self) {
        self.text.pulse();
    }
}

impl Sink for JunitSink<'_> {
    fn plan(&mut self, plan: &Plan) {
        self.text.plan(plan);
    }

    fn finish(&mut self, report: &RunReport) {
        self.out
            .document(&document(report, &self.spec, self.out.redactor()));
    }

    fn error(&mut self, error: &Error) {
        self.out.stderr(&error.to_string());
        self.out
            .document(&failed(&self.spec, &error.to_string(), self.out.redactor()));
    }

    fn actions(&mut self, entries: &[&crate::catalog::Entry]) {
        self.text.actions(entries);
    }

    fn describe(&mut self, entry: &crate::catalog::Entry) {
        self.text.describe(entry);
    }

    fn valid(&mut self, path: &std::path::Path, wf: &crate::check::Workflow) {
        self.text.valid(path, wf);
    }

    fn stopped(&mut self, message: &str) {
        self.out.stderr(message);
        self.out
            .document(&failed(&self.spec, message, self.out.redactor()));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_line_a_github_log_would_run() {
        assert_eq!(
            super::inert("<a m=\"x\n  ::add-mask::y\">\n::error::z\n##[set-output]w</a>\n"),
            "<a m=\"x\n  &#58;:add-mask::y\">\n&#58;:error::z\n&#35;#[set-output]w</a>\n"
        );
    }
}
