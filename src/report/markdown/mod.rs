//! Markdown, as a report format: the summary of a run or a plan that
//! GitHub shows on the job's page (`$GITHUB_STEP_SUMMARY`). Text from a
//! spec or an API goes through [`escape`], so it cannot close a table
//! cell, open a code span, inject HTML or mention anyone.

use crate::execute::{Plan, RunReport, SkipReason, StepReport, StepStatus};
use crate::redact::Redactor;

/// GitHub refuses a step summary over 1 MiB.
pub(crate) const LIMIT: usize = 1 << 20;

/// `text`, shown as it is in a Markdown table cell: `|`, backticks, HTML,
/// the `]` of a link, backslashes and `@` become character references (an
/// `@mention` then notifies no one); line breaks become `<br>`. Emphasis
/// (`*`, `_`) is left alone: it changes how text looks, not what it does,
/// and the redactor's `***` stays readable.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '@' => out.push_str("&#64;"),
            // `](` and `][` make a link: `[steps[0]]` stays as it reads.
            ']' if matches!(chars.peek(), Some('(' | '[')) => out.push_str("&#93;"),
            '\\' => out.push_str("&#92;"),
            '\r' => {}
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// `text` redacted, then escaped: escaping first could split a secret
/// (`p@ss` as `p&#64;ss`) where the redactor would not see it.
fn esc(r: &Redactor, text: &str) -> String {
    escape(&r.redact(text))
}

fn seconds(d: std::time::Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn icon(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Ok => "✅",
        StepStatus::Failed => "❌",
        StepStatus::Skipped => "⏭️",
    }
}

/// Rows and details added while they fit in `limit` bytes; then a line
/// saying how many were left out.
struct Capped {
    text: String,
    limit: usize,
    left_out: usize,
}

impl Capped {
    fn push(&mut self, line: String) {
        // Room is kept for the closing line.
        if self.left_out == 0 && self.text.len() + line.len() + 1 + 200 <= self.limit {
            self.text.push_str(&line);
            self.text.push('\n');
        } else {
            self.left_out += 1;
        }
    }

    fn finish(mut self, what: &str) -> String {
        if self.left_out > 0 {
            self.text.push_str(&format!(
                "\n… and {} more {what}, left out: GitHub takes summaries of at most 1 MiB; the log has them all.\n",
                self.left_out
            ));
        }
        self.text
    }
}

/// The summary of a run of `spec`, at most `limit` bytes.
pub(crate) fn run(report: &RunReport, spec: &str, limit: usize, r: &Redactor) -> String {
    let count = |st: StepStatus| report.steps.iter().filter(|s| s.status == st).count();
    let mut counts = vec![format!("{} ok", count(StepStatus::Ok))];
    for (st, word) in [
        (StepStatus::Failed, "failed"),
        (StepStatus::Skipped, "skipped"),
    ] {
        if count(st) > 0 {
            counts.push(format!("{} {word}", count(st)));
        }
    }
    let mut out = Capped {
        text: format!(
            "### {} runner apply {}: {} in {}\n\n| | Step | Action | Result | Time |\n|---|---|---|---|---|\n",
            if report.ok { "✅" } else { "❌" },
            esc(r, spec),
            counts.join(", "),
            seconds(report.duration)
        ),
        limit,
        left_out: 0,
    };
    let mut failures = Vec::new();
    for s in &report.steps {
        out.push(row(s, r));
        collect_failures(s, &s.name, &mut failures, r);
    }
    if !failures.is_empty() {
        out.push(String::new());
        out.push("#### Failures\n".into());
        for f in failures {
            out.push(f);
        }
    }
    if !report.outputs.is_empty() {
        out.push(String::new());
        out.push("#### Outputs\n".into());
        out.push("| Output | Value |\n|---|---|".into());
        for (name, value) in &report.outputs {
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push(format!("| {} | {} |", esc(r, name), esc(r, &shown)));
        }
    }
    out.finish("lines")
}

fn row(s: &StepReport, r: &Redactor) -> String {
    let mut result = match (s.http_status, &s.reason) {
        (Some(code), Some(reason)) => format!("{code} {reason}"),
        (Some(code), None) => code.to_string(),
        _ => s.status.as_str().to_string(),
    };
    if let Some(items) = &s.items {
        let ok = items.iter().filter(|i| i.status == StepStatus::Ok).count();
        result.push_str(&format!(", {ok} of {} items ok", items.len()));
    }
    if s.resumed {
        result.push_str(" (done in an earlier run)");
    } else if s.skip_reason == Some(SkipReason::Condition) {
        result.push_str(" (its `if` is false)");
    } else if s.skip_reason == Some(SkipReason::EarlierFailure) {
        result.push_str(" (an earlier step failed)");
    }
    format!(
        "| {} | {} | {} | {} | {} |",
        icon(s.status),
        esc(r, &s.name),
        esc(r, &s.action),
        esc(r, &result),
        seconds(s.duration)
    )
}

/// One list item per failure: the step's, its items', its inner steps'.
fn collect_failures(s: &StepReport, name: &str, out: &mut Vec<String>, r: &Redactor) {
    if let Some(e) = &s.error {
        out.push(format!(
            "- **{}** ({}): {}",
            esc(r, name),
            e.kind.as_str(),
            esc(r, &e.message)
        ));
    }
    for item in s.items.iter().flatten() {
        let item_name = format!("{name}[{}]", item.index);
        if let Some(e) = &item.error
            && s.error.as_ref().is_none_or(|own| own.message != e.message)
        {
            out.push(format!(
                "- **{}** ({}): {}",
                esc(r, &item_name),
                e.kind.as_str(),
                esc(r, &e.message)
            ));
        }
        for inner in &item.steps {
            collect_failures(inner, &inner.name, out, r);
        }
    }
    for inner in &s.steps {
        collect_failures(inner, &inner.name, out, r);
    }
}

/// The summary of a plan of `spec`, at most `limit` bytes.
pub(crate) fn plan(plan: &Plan, spec: &str, limit: usize, r: &Redactor) -> String {
    let requests = plan.steps.iter().filter(|s| s.request.is_some()).count();
    let mut out = Capped {
        text: format!(
            "### runner plan {}: {requests} request(s) planned, none sent\n\n| Step | Action | Request | Notes |\n|---|---|---|---|\n",
            esc(r, spec)
        ),
        limit,
        left_out: 0,
    };
    for s in &plan.steps {
        let request = s
            .request
            .as_ref()
            .map(|r| format!("{:?} {}", r.method, r.url))
            .unwrap_or_default();
        let mut notes = s.notes.clone();
        if !s.deferred.is_empty() {
            notes.push(format!(
                "known after earlier steps run: {}",
                s.deferred.join(", ")
            ));
        }
        out.push(format!(
            "| {} | {} | {} | {} |",
            esc(r, &s.label),
            esc(r, &s.action),
            esc(r, &request),
            esc(r, &notes.join("\n"))
        ));
    }
    for w in &plan.warnings {
        out.push(format!("\n> ⚠️ {}", esc(r, w)));
    }
    out.finish("lines")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_stays_text() {
        assert_eq!(
            escape("a|b `x` <img src=y> @octocat [l](u) steps[0]\n_c_"),
            "a&#124;b &#96;x&#96; &lt;img src=y&gt; &#64;octocat [l&#93;(u) steps[0]<br>_c_"
        );
    }

    #[test]
    fn a_summary_over_the_limit_says_what_it_left_out() {
        let mut capped = Capped {
            text: String::new(),
            limit: 300,
            left_out: 0,
        };
        for i in 0..10 {
            capped.push(format!("| row {i} |{}", " ".repeat(20)));
        }
        let text = capped.finish("lines");
        assert!(text.len() <= 400, "{}", text.len());
        assert!(text.contains("| row 0 |"));
        assert!(text.contains("more lines, left out"), "{text}");
    }
}
