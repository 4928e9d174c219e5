//! A loop's inline `steps:`: lowered into a flow of their own, as a file
//! a step `uses` is, so checking and the walk treat them as a sub-workflow
//! run per item. Its inputs are the item (under its `as` name), `index`
//! and the step's `with:`, which the step passes per item; its outputs are
//! the step's `outputs:`; its step ids are its own.

use super::step::StepAt;
use super::*;

impl Lower {
    /// The inline sub-workflow of a step with `for_each` and `steps`.
    pub(super) fn inline(
        &mut self,
        steps: Vec<raw::Step>,
        each: Option<&Each>,
        with: &mut IndexMap<String, Located<Value>>,
        outputs: raw::Map<String>,
        at: &StepAt,
    ) -> Uses {
        let here = at.labelled("steps");
        if each.is_none() {
            self.diagnostics.push(
                Diagnostic::new(
                    "`steps` only applies to a step with `for_each`: they run once per item",
                    Some(here.clone()),
                )
                .with_help(Some(
                    "add `for_each:`, or move these steps into the workflow's own `steps`".into(),
                )),
            );
        }
        let name = each.map_or("item", |e| e.name.value.as_str()).to_string();
        let file = self.file.clone();
        let flow = self.begin_flow(&file);
        for given in [name.as_str(), "index"] {
            if let Some(clash) = with.get(given) {
                self.diagnostics.push(Diagnostic::new(
                    format!("`with.{given}` would hide the loop's `{given}`, which the steps see already"),
                    Some(clash.loc.clone()),
                ));
            }
        }
        let mut passed: Vec<(String, Loc)> = vec![
            (name.clone(), here.clone()),
            ("index".to_string(), here.clone()),
        ];
        passed.extend(with.iter().map(|(n, v)| (n.clone(), v.loc.clone())));
        for (input, loc) in passed {
            self.flows[flow].inputs.insert(
                input.clone(),
                Input {
                    name: input,
                    ty: ParamType::Any,
                    required: false,
                    default: None,
                    allowed: None,
                    description: None,
                    loc,
                },
            );
        }
        for given in [name.as_str(), "index"] {
            with.insert(
                given.to_string(),
                Located {
                    value: Value::String(format!("{{{{ {given} }}}}")),
                    loc: here.clone(),
                },
            );
        }
        self.flows[flow].item = Some(name);
        for (output, value) in outputs {
            let loc = at.labelled(&format!("outputs.{output}"));
            self.flows[flow]
                .outputs
                .insert(output, Located { value, loc });
        }
        let base = child(&at.path, "steps");
        let outer = std::mem::replace(&mut self.step_prefix, format!("{}.", at.label()));
        self.flows[flow].steps.reserve_exact(steps.len());
        for (i, raw) in steps.into_iter().enumerate() {
            let step = self.step(flow, i, &item(&base, i), raw);
            let pending = self.pending_uses(flow, i, &step);
            self.inline_pending.extend(pending);
            self.flows[flow].steps.push(step);
        }
        self.step_prefix = outer;
        Uses {
            path: Located {
                value: "steps".to_string(),
                loc: here,
            },
            flow: Some(flow),
            inline: true,
        }
    }
}
