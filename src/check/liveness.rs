//! How long each step's results are needed: the last step of its workflow
//! whose templates read `steps.<id>`, or the workflow's end when its
//! outputs do. The walk keeps a step's results only until then, so a long
//! workflow holds what later templates read, not every response.

use serde_json::Value;

use crate::spec::{self, Flow};
use crate::template::{Refs, Templates};

/// Until when a step's results are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// No later template reads them.
    Never,
    /// Until the step at this index of the workflow has run.
    Until(usize),
    /// Until the workflow ends (its outputs read them, or a template picks
    /// steps by a computed name).
    End,
}

/// Every template string of `step`, in any of its settings.
fn templates_of(step: &spec::Step) -> Vec<&str> {
    let mut values: Vec<&Value> = step.params.values().map(|p| &p.value).collect();
    values.extend(step.with.values().map(|w| &w.value));
    values.extend(step.condition.iter().map(|c| &c.value));
    values.extend(step.each.iter().map(|e| &e.list.value));
    values.extend(step.until.iter().map(|u| &u.condition.value));
    values.extend(step.expect.iter().flat_map(|e| &e.that).map(|t| &t.value));
    let mut out: Vec<&str> = Vec::new();
    for v in values {
        strings(v, &mut out);
    }
    out.extend(step.url.iter().map(|u| u.value.as_str()));
    out.extend(step.outputs.values().map(|o| o.value.as_str()));
    if let Some(p) = &step.paginate {
        if let spec::Next::Cursor(c) = &p.next {
            out.push(&c.value.value);
        }
        out.extend(p.items.iter().map(|i| i.value.as_str()));
    }
    if let Some(auth) = &step.auth {
        out.extend(auth.parameters.iter().map(|p| p.value.as_str()));
        out.extend(auth.base_url.iter().map(|b| b.value.as_str()));
        if let Some(body) = &auth.body {
            for v in body.value.values() {
                strings(v, &mut out);
            }
        }
        if let Some(source) = &auth.source {
            out.extend(source.templates().into_iter().map(|t| t.value.as_str()));
        }
    }
    out
}

/// Every string inside `value`.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// What `sources` read, merged.
fn refs_of(templates: &Templates, sources: &[&str]) -> Refs {
    let mut refs = Refs::default();
    for s in sources {
        if let Some(r) = templates.refs(s) {
            refs.merge(r);
        }
    }
    refs
}

/// For each step of `flow`, until when its results are needed.
pub(super) fn needed(templates: &Templates, flow: &Flow) -> Vec<Needed> {
    let mut needed = vec![Needed::Never; flow.steps.len()];
    for (j, step) in flow.steps.iter().enumerate() {
        let refs = refs_of(templates, &templates_of(step));
        if refs.dynamic.contains("steps") {
            // A computed step name: any step before may be read.
            for n in &mut needed[..j] {
                *n = Needed::End;
            }
        }
        for (id, _) in &refs.steps {
            if let Some(i) = flow.step_index(id).filter(|&i| i < j)
                && needed[i] != Needed::End
            {
                needed[i] = Needed::Until(j);
            }
        }
    }
    let mut sources: Vec<&str> = flow.outputs.values().map(|o| o.value.as_str()).collect();
    sources.retain(|s| crate::template::is_template(s));
    let refs = refs_of(templates, &sources);
    for (id, _) in &refs.steps {
        if let Some(i) = flow.step_index(id) {
            needed[i] = Needed::End;
        }
    }
    if refs.dynamic.contains("steps") {
        needed.iter_mut().for_each(|n| *n = Needed::End);
    }
    needed
}
