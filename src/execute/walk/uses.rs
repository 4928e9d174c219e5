//! Sub-workflows: a `uses` step's inputs rendered from `with:` (those that
//! wait for the run left unbound while checking), its steps walked in a
//! frame of their own, and its outputs and first failure as the step's. A
//! loop's inline `steps:` are one too, lowered so (see `spec::lower`): their
//! item and `index` come in as inputs, and the frame's scope binds them by
//! name.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Frame, Mode, Turn, Unit, Walk, digest};
use crate::check::Step;
use crate::error::Error;
use crate::execute::outcome::{Failure, FailureKind, PlannedStep, StepStatus};
use crate::render;
use crate::template::{Live, to_value};

impl<M: Mode> Walk<'_, M> {
    /// A sub-workflow: its inputs from `with`, its steps in a frame of
    /// their own, its outputs as the step's.
    pub(super) async fn uses(
        &self,
        turn: &Turn<'_>,
        flow: usize,
        notes: Vec<String>,
    ) -> Result<Unit, Error> {
        let (step, frame, label) = (turn.step, turn.frame, turn.label.as_str());
        let r = self.renderer(turn.scope, frame);
        let mut given = indexmap::IndexMap::new();
        let mut unknown = Vec::new();
        for (name, value) in &step.def.with {
            let mut sources = Vec::new();
            crate::template::visit_strings(&value.value, &mut |t| sources.push(t.to_string()));
            if sources.iter().any(|s| r.deferred(s)) {
                unknown.push(name.clone());
                continue;
            }
            match r.render(&value.value) {
                Ok(v) => {
                    given.insert(name.clone(), v.value);
                }
                Err(e) => {
                    let f = Failure::new(FailureKind::Render, format!("with.{name}: {e}"))
                        .at(Some(value.loc.clone()));
                    return self.fail(f, &step.def.loc);
                }
            }
        }
        // Inputs that wait for the run (plan and the checks) stay unbound,
        // and the templates using them wait too; the others are bound.
        let sub_inputs = &self.setup.wf.flows[flow].inputs;
        let inputs = match render::bind_known_inputs(sub_inputs, &given, &unknown) {
            Ok(v) => v,
            Err(e) => {
                let f = Failure::new(
                    FailureKind::Render,
                    format!("uses `{}`: {e}", self.setup.wf.flows[flow].file.name),
                );
                return self.fail(f, &step.def.loc);
            }
        };
        if !notes.is_empty() {
            self.mode.show(PlannedStep {
                name: step.def.name(),
                label: label.to_string(),
                action: step.target(),
                request: None,
                deferred: unknown.clone(),
                notes,
            });
        }
        let identity = match turn.item {
            Some((_, _)) => format!("[{}]", &digest(&inputs.to_string())[..12]),
            None => String::new(),
        };
        let sub = Frame {
            flow,
            inputs: to_value(&inputs),
            origins: self.sub_origins(step, frame, flow, &given),
            unknown_inputs: unknown,
            steps: Live::new(),
            key: format!("{}{}{identity}.", frame.key, step.def.key),
            label: format!("{label}."),
        };
        let end = self.flow(&sub, false).await?;
        let mut unit = Unit {
            outputs: Some(Value::Object(end.outputs)),
            resumed: !end.reports.is_empty()
                && end
                    .reports
                    .iter()
                    .all(|s| s.resumed || s.status == StepStatus::Skipped),
            ..Unit::default()
        };
        if end.failed {
            let first = end
                .reports
                .iter()
                .find(|s| s.status == StepStatus::Failed && !s.continued)
                .and_then(|s| s.error.clone().map(|e| (s.name.clone(), e)));
            if let Some((name, e)) = first {
                unit.failure = Some(Failure {
                    kind: e.kind,
                    message: format!("{name}: {}", e.message),
                    loc: e.loc,
                });
            }
        }
        unit.steps = end.reports;
        Ok(unit)
    }

    /// Where each input of a sub-workflow comes from: where the caller's
    /// `with:` value does, or (not given, or null) the file that declares
    /// its default.
    fn sub_origins(
        &self,
        step: &Step,
        frame: &Frame,
        flow: usize,
        given: &indexmap::IndexMap<String, Value>,
    ) -> BTreeMap<String, render::Origin> {
        let caller = self.origins(frame);
        self.setup.wf.flows[flow]
            .inputs
            .iter()
            .filter_map(|(name, input)| {
                let with = step
                    .def
                    .with
                    .get(name)
                    .filter(|_| given.get(name).is_none_or(|v| !v.is_null()));
                let origin = match with {
                    Some(given) => caller.of(
                        &given.value,
                        given.loc.file_name(),
                        step.def.each.as_deref(),
                    )?,
                    None => {
                        input.default.as_ref()?;
                        render::Origin::Spec(input.loc.file_name().to_string())
                    }
                };
                Some((name.clone(), origin))
            })
            .collect()
    }
}
