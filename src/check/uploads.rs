//! Who may name a file to upload: the spec's author (literal text) or
//! whoever runs the spec (an input, a `--var`), never an API. The value of
//! a `type: file` param, and of a sub-workflow input that ends up as one,
//! is literal text, or exactly one input, one var whose spec value is
//! literal text, or the item of a loop over a literal list, an input or
//! such a var. Anything computed, or taken from a response, is refused.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::{Diagnostic, Loc};
use crate::spec::{Each, ParamType, Step};
use crate::template::{is_template, visit_strings, whole_expression};

use super::Checker;

/// How a value that names a file (or a list of files) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form<'a> {
    /// Literal text, or a literal list or mapping: no template in it.
    Literal,
    /// Exactly `{{ inputs.NAME }}`.
    Input(&'a str),
    /// Exactly `{{ vars.NAME }}`.
    Var(&'a str),
    /// Exactly the loop's item: `{{ item }}`, or the `as` name.
    Item,
    /// Anything else: a template that computes the value.
    Computed,
}

/// How `value` is written; `item` is the loop item's name, inside a loop.
pub(crate) fn form<'a>(value: &'a Value, item: Option<&str>) -> Form<'a> {
    let source = match value {
        Value::String(s) => s,
        other => {
            let mut templated = false;
            visit_strings(other, &mut |s| templated |= is_template(s));
            return if templated {
                Form::Computed
            } else {
                Form::Literal
            };
        }
    };
    if !is_template(source) {
        return Form::Literal;
    }
    let Some(expression) = whole_expression(source) else {
        return Form::Computed;
    };
    let name = |s: &'a str| {
        let mut chars = s.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        valid.then_some(s)
    };
    match expression.split_once('.') {
        Some(("inputs", n)) => name(n).map_or(Form::Computed, Form::Input),
        Some(("vars", n)) => name(n).map_or(Form::Computed, Form::Var),
        None if item.is_some_and(|i| i == expression) => Form::Item,
        _ => Form::Computed,
    }
}

/// Whether a var's spec value is literal text: no template anywhere in it.
pub(crate) fn literal(value: &Value) -> bool {
    let mut templated = false;
    visit_strings(value, &mut |s| templated |= is_template(s));
    !templated
}

/// What is allowed, said once for every refusal.
pub(crate) const HELP: &str = "a file to upload is named by the spec or by whoever runs it: write a literal path, or exactly `{{ inputs.NAME }}`, `{{ vars.NAME }}` (a var whose value is literal text) or the item of a loop over a literal list, an input or such a var (`{{ item }}`)";

/// A value that names a file to upload, and what messages call it.
struct Named<'s> {
    subject: String,
    value: &'s Value,
    loc: &'s Loc,
}

impl Checker<'_> {
    /// Every value naming a file to upload is written in an allowed form.
    pub(super) fn uploads(&mut self) {
        let file_inputs = self.file_inputs();
        for flow in self.flows {
            for step in &flow.steps {
                let item = step.each.as_ref().map(|e| e.name.value.as_str());
                for named in self.named_files(step, &file_inputs) {
                    if let Some(why) = self.refusal(named.value, item, step.each.as_deref()) {
                        self.error(
                            Diagnostic::new(
                                format!("{}, but {why}", named.subject),
                                Some(named.loc.clone()),
                            )
                            .with_help(Some(HELP.to_string())),
                        );
                    }
                }
                self.cursor_on_file(step);
            }
        }
    }

    /// A page's cursor comes from a response: it may not set a file param.
    fn cursor_on_file(&mut self, step: &Step) {
        let Some(crate::spec::Next::Cursor(cursor)) = step.paginate.as_ref().map(|p| &p.next)
        else {
            return;
        };
        let Some(action) = step
            .action
            .as_ref()
            .and_then(|a| self.spec.action(&a.value))
        else {
            return;
        };
        let param = &cursor.param.value;
        if action
            .params
            .get(param)
            .is_some_and(|p| p.ty == ParamType::File)
        {
            self.error(
                Diagnostic::new(
                    format!(
                        "`paginate.next.param` is `{param}`, which names a file to upload: a cursor is taken from a response, and a response can never name a local file"
                    ),
                    Some(cursor.param.loc.clone()),
                )
                .with_help(Some("page with a param that is not `type: file`".to_string())),
            );
        }
    }

    /// The values of `step` that name files: its `type: file` params, and
    /// what its `with:` gives the inputs of a sub-workflow that name files.
    fn named_files<'s>(&self, step: &'s Step, file_inputs: &[BTreeSet<String>]) -> Vec<Named<'s>> {
        let mut out = Vec::new();
        if let Some(action) = step
            .action
            .as_ref()
            .and_then(|a| self.spec.action(&a.value))
        {
            for (name, given) in &step.params {
                if action
                    .params
                    .get(name)
                    .is_some_and(|p| p.ty == ParamType::File)
                {
                    out.push(Named {
                        subject: format!("param `{name}` names a file to upload"),
                        value: &given.value,
                        loc: &given.loc,
                    });
                }
            }
        }
        if let Some(target) = step.uses.as_ref().and_then(|u| u.flow) {
            let file = &self.flows[target].file.name;
            for (name, given) in &step.with {
                if file_inputs[target].contains(name) {
                    out.push(Named {
                        subject: format!("input `{name}` of `{file}` names a file to upload there"),
                        value: &given.value,
                        loc: &given.loc,
                    });
                }
            }
        }
        out
    }

    /// The inputs of each flow whose values name files to upload (or
    /// lists of them, for a loop): found until nothing more is.
    fn file_inputs(&self) -> Vec<BTreeSet<String>> {
        let mut out = vec![BTreeSet::new(); self.flows.len()];
        loop {
            let mut found = Vec::new();
            for (f, flow) in self.flows.iter().enumerate() {
                for step in &flow.steps {
                    let item = step.each.as_ref().map(|e| e.name.value.as_str());
                    for named in self.named_files(step, &out) {
                        let input = match form(named.value, item) {
                            Form::Input(name) => Some(name),
                            Form::Item => {
                                match step.each.as_ref().map(|e| form(&e.list.value, None)) {
                                    Some(Form::Input(name)) => Some(name),
                                    _ => None,
                                }
                            }
                            _ => None,
                        };
                        if let Some(name) = input
                            && !out[f].contains(name)
                        {
                            found.push((f, name.to_string()));
                        }
                    }
                }
            }
            if found.is_empty() {
                return out;
            }
            for (f, name) in found {
                out[f].insert(name);
            }
        }
    }

    /// Why `value` may not name a file, if it may not.
    fn refusal(&self, value: &Value, item: Option<&str>, each: Option<&Each>) -> Option<String> {
        match form(value, item) {
            Form::Literal | Form::Input(_) => None,
            Form::Var(name) => self.computed_var(name),
            Form::Item => {
                let each = each?;
                let list = &each.list.value;
                match form(list, None) {
                    Form::Literal | Form::Input(_) => None,
                    Form::Var(name) => self.computed_var(name).map(|why| {
                        format!(
                            "{} is an item of a loop over var `{name}`, and {why}",
                            shown(value)
                        )
                    }),
                    Form::Item | Form::Computed => Some(format!(
                        "{} is an item of the list {}, which {}",
                        shown(value),
                        shown(list),
                        self.computes(list, "its items")
                    )),
                }
            }
            // A bare name outside a loop (`{{ item }}`) is an error of its
            // own, said where names are checked; it names no file either.
            Form::Computed if each.is_none() && bare_name(value) => None,
            Form::Computed => Some(format!("{} {}", shown(value), self.computes(value, "it"))),
        }
    }

    /// Why var `name` may not name a file: its spec value is a template.
    fn computed_var(&self, name: &str) -> Option<String> {
        let var = self.spec.vars.get(name)?;
        (!literal(&var.value)).then(|| {
            format!(
                "var `{name}` is computed ({}); only a var whose value is literal text may name a file",
                shown(&var.value)
            )
        })
    }

    /// What a computed value does to `what` it names, in words.
    fn computes(&self, value: &Value, what: &str) -> String {
        let mut from_response = false;
        let mut from_env = false;
        visit_strings(value, &mut |s| {
            if let Some(refs) = self.templates.refs(s) {
                from_response |= refs.uses_steps() || refs.uses_any(super::RESPONSE_NAMES);
                from_env |= !refs.env.is_empty();
            }
        });
        if from_response {
            format!("takes {what} from a response, and a response can never name a local file")
        } else if from_env {
            format!("takes {what} from the environment")
        } else {
            format!("computes {what}")
        }
    }
}

/// Whether `value` is exactly `{{ NAME }}`, one bare name.
fn bare_name(value: &Value) -> bool {
    value
        .as_str()
        .and_then(whole_expression)
        .is_some_and(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// A value as messages quote it.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}
