//! Loops: a `for_each` step's list rendered and bounded, its items run
//! one after the other while checking, `concurrency` at a time when
//! sending, and gathered back in the list's order.

use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};

use super::{Frame, Mode, Unit, Walk, fill, show};
use crate::check::{Needed, Step};
use crate::error::Error;
use crate::execute::outcome::{Failure, FailureKind, ItemReport, Progress, SkipReason, StepReport};
use crate::template::Scope;

/// An item that ended, as the loop keeps it.
struct Finished {
    report: ItemReport,
    /// What `steps.<id>.items[i]` reads, when a later template reads it.
    value: Option<Value>,
}

impl<M: Mode> Walk<'_, M> {
    /// A `for_each` step: its items, `concurrency` at a time, in order.
    pub(super) async fn each(
        &self,
        step: &Step,
        frame: &Frame,
        scope: &Scope,
        mut report: StepReport,
        mut notes: Vec<String>,
    ) -> Result<(StepReport, Value), Error> {
        let each = step.def.each.as_ref().expect("a loop");
        let r = self.renderer(scope, frame);
        let list = match &each.list.value {
            Value::String(s) if r.deferred(s) => {
                // Plan: the list is known only when the run gets there.
                notes.push(format!("for each {} of {s}", each.name.value));
                if let Some(c) = &step.def.condition
                    && self
                        .setup
                        .wf
                        .templates
                        .refs_in(&c.value)
                        .uses_any(&[each.name.value.as_str(), "index"])
                {
                    notes.push(format!("if {}", show(&c.value)));
                }
                let unit = self.unit(step, frame, scope, None, notes).await?;
                fill(&mut report, unit);
                return Ok((report, json!({"items": []})));
            }
            other => match r.render(other) {
                Ok(v) => v.value,
                Err(e) => {
                    let f = Failure::new(FailureKind::Render, format!("for_each: {e}"))
                        .at(Some(each.list.loc.clone()));
                    report.fail(self.fail(f, &step.def.loc)?.failure.expect("failed"));
                    return Ok((report, json!({"items": []})));
                }
            },
        };
        let items = match self.items(list, each) {
            Ok(items) => items,
            Err(f) => {
                report.fail(self.fail(f, &step.def.loc)?.failure.expect("failed"));
                return Ok((report, json!({"items": []})));
            }
        };
        let (shard, count) = self.setup.opts.shard.unwrap_or((0, 1));
        let sharded = each.shard && frame.flow == 0 && count > 1;
        let indices: Vec<usize> = (0..items.len())
            .filter(|i| !sharded || i % count == shard)
            .collect();
        if !M::SENDS {
            let mut note = format!("for each {} of {} items", each.name.value, items.len());
            if sharded {
                note.push_str(&format!(
                    " (shard {shard} of {count}: items {})",
                    indices
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            notes.push(note);
        }
        let done = self
            .items_run(step, frame, scope, &items, &indices, notes)
            .await?;
        let mut item_reports = Vec::with_capacity(done.len());
        let mut values = Vec::new();
        let mut failures = Vec::new();
        for (pos, finished) in done.into_iter().enumerate() {
            let index = indices[pos];
            let finished = finished.unwrap_or_else(|| {
                self.finished(
                    step,
                    index,
                    &items[index],
                    Unit {
                        skipped: Some(SkipReason::EarlierFailure),
                        ..Unit::default()
                    },
                )
            });
            values.extend(finished.value);
            if let Some(f) = &finished.report.error {
                failures.push((index, f.clone()));
            }
            item_reports.push(finished.report);
        }
        if let Some((index, first)) = failures.first() {
            let more = if failures.len() > 1 {
                format!(" ({} items failed)", failures.len())
            } else {
                String::new()
            };
            report.fail(Failure {
                kind: first.kind,
                message: format!("item {index}: {}{more}", first.message),
                loc: first.loc.clone(),
            });
        }
        // Done in an earlier run: every item that ran then, whatever its
        // `if` skipped now.
        report.resumed = item_reports.iter().any(|i| i.resumed)
            && item_reports
                .iter()
                .all(|i| i.resumed || i.skip_reason == Some(SkipReason::Condition));
        report.items = Some(item_reports);
        Ok((report, json!({ "items": values })))
    }

    /// What is kept of an item that ended: its report (without its
    /// response when the report shows none), and what later templates read
    /// of it, if any does.
    fn finished(&self, step: &Step, index: usize, item: &Value, unit: Unit) -> Finished {
        let value = (step.needed != Needed::Never).then(|| {
            let mut value = unit.value();
            value["index"] = json!(index);
            value["item"] = item.clone();
            value
        });
        let mut report = ItemReport {
            index,
            status: unit.status(),
            skip_reason: unit.skipped,
            http_status: unit.http_status,
            duration: unit.duration,
            response: unit.response,
            error: unit.failure.map(Box::new),
            outputs: unit.outputs,
            resumed: unit.resumed,
            steps: unit.steps,
        };
        if M::SENDS && self.setup.opts.drop_responses {
            report.response = None;
            report.steps.iter_mut().for_each(StepReport::drop_responses);
        }
        Finished { report, value }
    }

    /// A loop's rendered list, within `max_items`.
    fn items(&self, list: Value, each: &crate::spec::Each) -> Result<Vec<Value>, Failure> {
        let at = Some(each.list.loc.clone());
        match list {
            Value::Array(items) if items.len() <= each.max_items => Ok(items),
            Value::Array(items) => Err(Failure::new(
                FailureKind::Render,
                format!(
                    "for_each: the list has {} items, more than `max_items` ({}); nothing was sent for this step",
                    items.len(),
                    each.max_items
                ),
            )
            .at(at)),
            other => Err(Failure::new(
                FailureKind::Render,
                format!(
                    "for_each must render to a list, found {}",
                    crate::spec::coerce::describe(&other)
                ),
            )
            .at(at)),
        }
    }

    /// The loop's items at `indices`: one after the other while checking;
    /// `concurrency` at a time when sending, and after a failure (without
    /// `continue_on_error`) no new one starts. `None` for an item never
    /// started.
    async fn items_run(
        &self,
        step: &Step,
        frame: &Frame,
        scope: &Scope,
        items: &[Value],
        indices: &[usize],
        notes: Vec<String>,
    ) -> Result<Vec<Option<Finished>>, Error> {
        let mut results: Vec<Option<Finished>> = (0..indices.len()).map(|_| None).collect();
        if !M::SENDS {
            for (pos, &i) in indices.iter().enumerate() {
                let unit = self
                    .unit(step, frame, scope, Some((i, &items[i])), notes.clone())
                    .await?;
                results[pos] = Some(self.finished(step, i, &items[i], unit));
            }
            return Ok(results);
        }
        let each = step.def.each.as_ref().expect("a loop");
        let mut pending = FuturesUnordered::new();
        let mut next = 0;
        let mut stop = false;
        // Progress is the root step's: a loop inside a sub-workflow is a
        // part of it.
        let root = frame.flow == 0;
        if root {
            self.mode.progress(Progress::Items {
                done: 0,
                total: indices.len(),
            });
        }
        let mut ended = 0;
        loop {
            while !stop && pending.len() < each.concurrency && next < indices.len() {
                let pos = next;
                let i = indices[pos];
                let item = &items[i];
                pending.push(async move {
                    let begin = Instant::now();
                    let unit = self
                        .unit(step, frame, scope, Some((i, item)), Vec::new())
                        .await;
                    (pos, unit, begin.elapsed())
                });
                next += 1;
            }
            let Some((pos, unit, elapsed)) = pending.next().await else {
                break;
            };
            let mut unit = unit?;
            unit.duration = elapsed;
            if unit.failure.is_some() && !step.def.continue_on_error {
                // Items in flight finish; no new one starts.
                stop = true;
            }
            // Kept as its report, and as what later templates read, at once:
            // a long loop holds no more than that.
            let i = indices[pos];
            results[pos] = Some(self.finished(step, i, &items[i], unit));
            ended += 1;
            if root {
                self.mode.progress(Progress::Items {
                    done: ended,
                    total: indices.len(),
                });
            }
        }
        Ok(results)
    }
}
