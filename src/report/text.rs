//! Text output: a line per step as it finishes, in aligned columns
//! (coloured on a terminal); a summary; warnings and errors on stderr;
//! progress while a step runs long ([`super::live`]).

use anstyle::{AnsiColor, Style};

use super::live::{Live, Terminal};
use super::{Out, Sink};
use crate::check::Workflow;
use crate::error::Error;
use crate::execute::{Plan, Progress, Reporter, RunReport, SkipReason, StepReport, StepStatus};

fn millis(d: std::time::Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// The status column: as wide as `skipped` and a space.
const STATUS_WIDTH: usize = 8;
/// The HTTP status column: `201 Created`, `204 No Content`, `404 Not
/// Found` fit; a longer reason pushes the rest of its line along.
const HTTP_WIDTH: usize = 14;

fn style(status: StepStatus) -> Style {
    let colour = match status {
        StepStatus::Ok => AnsiColor::Green,
        StepStatus::Failed => AnsiColor::Red,
        StepStatus::Skipped => AnsiColor::Yellow,
    };
    Style::new().fg_color(Some(colour.into())).bold()
}

pub(crate) struct TextSink<'a> {
    out: &'a Out,
    name_width: usize,
    action_width: usize,
    colour: bool,
    live: Live<'a>,
}

impl<'a> TextSink<'a> {
    pub(crate) fn new(out: &'a Out, wf: Option<&Workflow>) -> Self {
        let terminal = Terminal::detect();
        let steps = wf.map(|wf| wf.steps()).unwrap_or_default();
        TextSink {
            out,
            name_width: steps.iter().map(|s| s.def.name().len()).max().unwrap_or(0),
            action_width: steps.iter().map(|s| s.target().len()).max().unwrap_or(0),
            colour: terminal.colour,
            live: Live::new(out, terminal),
        }
    }
}

impl Reporter for TextSink<'_> {
    fn step(&self, s: &StepReport) {
        let word = s.status.as_str();
        let mut line = if self.colour {
            // Padded outside the colour codes, which take no room.
            let style = style(s.status);
            let pad = STATUS_WIDTH.saturating_sub(word.len());
            format!("{style}{word}{style:#}{:pad$}", "")
        } else {
            format!("{word:<STATUS_WIDTH$}")
        };
        let http = s
            .http_status
            .map(|code| format!("{code} {}", s.reason.as_deref().unwrap_or("")))
            .unwrap_or_default();
        line.push_str(&format!(
            "{:<nw$}  {:<aw$}  {:<hw$}",
            s.name,
            s.action,
            http.trim_end(),
            nw = self.name_width,
            aw = self.action_width,
            hw = HTTP_WIDTH
        ));
        if let Some(items) = &s.items {
            let ok = items.iter().filter(|i| i.status == StepStatus::Ok).count();
            let word = if items.len() == 1 { "item" } else { "items" };
            if ok == items.len() {
                line.push_str(&format!("  {} {word}", items.len()));
            } else {
                line.push_str(&format!("  {ok} of {} {word} ok", items.len()));
            }
        }
        if let Some(pages) = s.pages {
            line.push_str(&format!(
                "  {pages} page{}",
                if pages == 1 { "" } else { "s" }
            ));
        }
        if s.resumed {
            line.push_str("  (done in an earlier run, per the journal)");
        } else if s.skip_reason == Some(SkipReason::Condition) {
            line.push_str("  (its `if` is false)");
        } else if s.status != StepStatus::Skipped {
            line.push_str(&format!("  {}", millis(s.duration)));
        }
        // Columns are padded for what may follow them; nothing did.
        line.truncate(line.trim_end().len());
        if let Some(e) = &s.error {
            line.push_str(&format!("\n        error: {}", e.message));
            if s.continued {
                line.push_str(" (continuing: `continue_on_error`)");
            }
            if let Some(loc) = &e.loc {
                line.push_str(&format!("\n          --> {loc}"));
            }
        }
        // The step's error names its first failed item; the others follow.
        for item in s
            .items
            .iter()
            .flatten()
            .filter(|i| i.error.is_some())
            .skip(1)
        {
            if let Some(e) = &item.error {
                line.push_str(&format!("\n        [{}] error: {}", item.index, e.message));
            }
        }
        self.live.print(|| self.out.stdout(&line));
    }

    fn warn(&self, message: &str) {
        self.live
            .print(|| self.out.stderr(&format!("warning: {message}")));
    }

    fn trace(&self, block: &str) {
        self.live.print(|| self.out.stderr(block));
    }

    fn pulse_every(&self, long: bool) -> Option<std::time::Duration> {
        self.live.pulse_every(long)
    }

    fn progress(&self, event: Progress<'_>) {
        self.live.progress(event);
    }

    fn pulse(&self) {
        self.live.pulse();
    }
}

impl Sink for TextSink<'_> {
    fn plan(&mut self, plan: &Plan) {
        for w in &plan.warnings {
            self.warn(w);
        }
        self.out.stdout(&super::plan::text(plan));
    }

    fn finish(&mut self, report: &RunReport) {
        let count = |st: StepStatus| report.steps.iter().filter(|s| s.status == st).count();
        let mut parts = vec![format!("{} ok", count(StepStatus::Ok))];
        for (st, word) in [
            (StepStatus::Failed, "failed"),
            (StepStatus::Skipped, "skipped"),
        ] {
            if count(st) > 0 {
                parts.push(format!("{} {word}", count(st)));
            }
        }
        self.out.stdout(&format!(
            "{} in {}",
            parts.join(", "),
            millis(report.duration)
        ));
        for (name, value) in &report.outputs {
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            self.out.stdout(&format!("{name} = {shown}"));
        }
    }

    fn error(&mut self, error: &Error) {
        self.out.stderr(&error.to_string());
    }

    fn actions(&mut self, entries: &[&crate::catalog::Entry]) {
        self.out.stdout(&crate::catalog::list_text(entries));
    }

    fn describe(&mut self, entry: &crate::catalog::Entry) {
        self.out.stdout(&crate::catalog::describe_text(entry));
    }

    fn valid(&mut self, path: &std::path::Path, wf: &Workflow) {
        for w in &wf.warnings {
            self.out.stderr(&w.to_string());
        }
        self.out.stdout(&format!(
            "ok  {}  ({} apps, {} actions, {} steps)",
            path.display(),
            wf.spec.apps.len(),
            wf.spec.actions.len(),
            wf.steps().len()
        ));
    }

    fn stopped(&mut self, message: &str) {
        self.out.stderr(message);
    }
}
