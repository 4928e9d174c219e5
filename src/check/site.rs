//! What a template may refer to where it is written, and the check of
//! every reference it makes: vars defined before it, steps that ran before
//! it (in its own workflow), the loop item only inside its loop, the
//! response only where there is one, `success()`/`failure()`/`always()`
//! only in `if`.

use crate::error::{Diagnostic, Loc, did_you_mean, ticked};
use crate::template::STATUS_FUNCTIONS;

use super::Checker;

/// Names a template may use besides the ones a [`Site`] allows.
const GLOBALS: &[&str] = &["range", "dict", "namespace", "loop", "now"];
/// What `steps.<id>` holds.
const STEP_FIELDS: &[&str] = &["status", "headers", "response", "outputs", "items", "pages"];
/// The names of the response a step's own templates see.
pub(crate) const RESPONSE_NAMES: &[&str] = &["response", "status", "headers"];

/// Where a template is: what is in scope there.
#[derive(Clone, Copy, Default)]
pub(super) struct Site<'a> {
    /// The workflow whose steps `steps` means.
    pub flow: usize,
    /// Steps before this index may be referred to; `None`: no `steps` at all.
    pub steps_before: Option<usize>,
    /// Vars before this index; `None`: all.
    pub vars_before: Option<usize>,
    /// The credential source whose token is in scope (`descope`), if any.
    pub source: Option<&'static str>,
    /// The loop item's name (and `index`), inside a `for_each` step.
    pub item: Option<&'a str>,
    /// The item of the inline `steps:` a loop step is in, which it sees too.
    pub outer_item: Option<&'a str>,
    /// `response`, `status`, `headers` of the step's own response.
    pub response: bool,
    /// `success()`, `failure()`, `always()`: in `if` only.
    pub status_functions: bool,
    /// `inputs` of the workflow.
    pub inputs: bool,
    /// `shard.index`, `shard.count`.
    pub shard: bool,
}

/// The names a template at `site` may start from, as help lists them.
fn in_scope<'a>(site: Site<'a>) -> Vec<&'a str> {
    let mut names = vec!["env", "vars"];
    if site.inputs {
        names.push("inputs");
    }
    if site.steps_before.is_some() {
        names.push("steps");
    }
    if site.shard {
        names.push("shard");
    }
    if let Some(source) = site.source {
        names.push(source);
    }
    if let Some(item) = site.item {
        names.push(item);
        names.push("index");
    }
    if let Some(outer) = site.outer_item.filter(|o| site.item != Some(*o)) {
        names.push(outer);
    }
    if site.response {
        names.extend(RESPONSE_NAMES);
    }
    names
}

impl Checker<'_> {
    /// Compiles `source` and checks every name it uses against what
    /// `site` puts in scope.
    pub(super) fn template(&mut self, source: &str, loc: &Loc, site: Site) {
        let refs = match self.templates.add(source) {
            Ok(refs) => refs,
            Err(e) => {
                self.error(Diagnostic::new(
                    format!("invalid template: {e}"),
                    Some(loc.clone()),
                ));
                return;
            }
        };
        for name in &refs.env {
            self.env_refs
                .entry(name.clone())
                .or_insert_with(|| loc.clone());
        }
        if refs.dynamic.contains("env") {
            self.error(
                Diagnostic::new(
                    "`env` can only be read by name here (`env.NAME`), so that every variable a run needs is known before it starts",
                    Some(loc.clone()),
                )
                .with_help(Some(
                    "to pick a variable by a var's value, list the choices: `{{ env.A if vars.which == 'a' else env.B }}`".into(),
                )),
            );
        }
        for var in &refs.vars {
            self.var_ref(var, loc, site);
        }
        self.input_refs(&refs.inputs, refs.dynamic.contains("inputs"), loc, site);
        for (id, field) in &refs.steps {
            self.step_ref(id, field.as_deref(), loc, site);
        }
        for (id, name) in &refs.step_outputs {
            self.step_output_ref(id, name, loc, site);
        }
        if refs.dynamic.contains("steps") && site.steps_before.is_none() {
            self.error(Diagnostic::new(
                "`steps` cannot be used here: no step has run yet",
                Some(loc.clone()),
            ));
        }
        for name in &refs.other {
            self.other_ref(name, loc, site);
        }
    }

    /// `vars.<var>`: defined, and before the var that uses it.
    fn var_ref(&mut self, var: &str, loc: &Loc, site: Site) {
        let var_names: Vec<&str> = match site.vars_before {
            Some(n) => self.spec.vars.keys().take(n).map(String::as_str).collect(),
            None => self.spec.vars.keys().map(String::as_str).collect(),
        };
        if var_names.contains(&var) {
            return;
        }
        let itself = site
            .vars_before
            .and_then(|n| self.spec.vars.get_index(n))
            .is_some_and(|(name, _)| name == var);
        let message = if itself {
            format!("var `{var}` refers to itself")
        } else if self.spec.vars.contains_key(var) {
            format!("var `{var}` is defined after this one; a var can only use earlier vars")
        } else {
            format!("unknown var `{var}`")
        };
        let help = did_you_mean(var, var_names.iter().copied());
        self.error(Diagnostic::new(message, Some(loc.clone())).with_help(help));
    }

    /// A name outside `env`, `vars`, `inputs` and `steps`: one the site
    /// puts in scope, or a mistake said in the words that fit it.
    fn other_ref(&mut self, name: &str, loc: &Loc, site: Site) {
        let known = GLOBALS.contains(&name)
            || site.source == Some(name)
            || (site.item.is_some() && (site.item == Some(name) || name == "index"))
            || site.outer_item == Some(name)
            || (site.response && RESPONSE_NAMES.contains(&name))
            || (site.status_functions && STATUS_FUNCTIONS.contains(&name))
            || (site.shard && name == "shard");
        if known {
            return;
        }
        if STATUS_FUNCTIONS.contains(&name) {
            self.error(
                Diagnostic::new(
                    format!("`{name}()` can only be used in a step's `if`"),
                    Some(loc.clone()),
                )
                .with_help(Some(
                    "`if: \"{{ failure() }}\"` runs a step after an earlier one failed".into(),
                )),
            );
            return;
        }
        if let (Some(item), "item") = (site.item, name) {
            self.error(
                Diagnostic::new("unknown variable `item`", Some(loc.clone())).with_help(Some(
                    format!("this loop names its item `{item}` (`as: {item}`)"),
                )),
            );
            return;
        }
        if name == "index" || name == "item" {
            self.error(
                Diagnostic::new(
                    format!("`{name}` is only defined inside a step with `for_each`"),
                    Some(loc.clone()),
                )
                .with_help(Some("a step's `for_each` names its item with `as` (default `item`) and its position `index`".into())),
            );
            return;
        }
        if RESPONSE_NAMES.contains(&name) {
            self.error(
                Diagnostic::new(
                    format!("`{name}` is only defined in a step's `expect.that`, `until`, `outputs` and `paginate`, which see its own response"),
                    Some(loc.clone()),
                )
                .with_help(Some("to use an earlier step's response, give it an `id` and write `steps.<id>.response`".into())),
            );
            return;
        }
        let names = in_scope(site);
        // `now()` is everywhere; listed only when it is what was meant.
        let help = did_you_mean(name, names.iter().copied().chain(["now"]))
            .or_else(|| Some(format!("templates here can use {}", ticked(&names))));
        self.error(
            Diagnostic::new(format!("unknown variable `{name}`"), Some(loc.clone()))
                .with_help(help),
        );
    }

    fn input_refs(
        &mut self,
        used: &std::collections::BTreeSet<String>,
        dynamic: bool,
        loc: &Loc,
        site: Site,
    ) {
        if !site.inputs {
            if !used.is_empty() || dynamic {
                self.error(Diagnostic::new(
                    "`inputs` cannot be used here: vars and app-level auth are the same for every workflow",
                    Some(loc.clone()),
                ));
            }
            return;
        }
        let declared = &self.flows[site.flow].inputs;
        for input in used {
            if !declared.contains_key(input) {
                let help = did_you_mean(input, declared.keys().map(String::as_str)).or_else(|| {
                    Some(if declared.is_empty() {
                        "the workflow declares no `inputs`".to_string()
                    } else {
                        format!("its inputs are {}", ticked(declared.keys()))
                    })
                });
                self.error(
                    Diagnostic::new(format!("unknown input `{input}`"), Some(loc.clone()))
                        .with_help(help),
                );
            }
        }
    }

    /// The step `steps.<id>` names, when `site` may see it.
    fn earlier_step(&mut self, id: &str, loc: &Loc, site: Site) -> Option<usize> {
        let Some(before) = site.steps_before else {
            let help = if site.vars_before.is_some() {
                format!("use `{{{{ steps.{id}... }}}}` in the params of a later step")
            } else {
                "use the step's own `auth:` to pass an earlier step's output".to_string()
            };
            self.error(
                Diagnostic::new(
                    format!("`steps.{id}` cannot be used here: app-level auth and vars are rendered before any step runs"),
                    Some(loc.clone()),
                )
                .with_help(Some(help)),
            );
            return None;
        };
        let steps = &self.flows[site.flow].steps;
        match self.flows[site.flow].step_index(id) {
            None => {
                let earlier = steps.iter().take(before).filter_map(|s| s.id.as_deref());
                let help = did_you_mean(id, earlier);
                self.error(
                    Diagnostic::new(format!("unknown step `{id}`"), Some(loc.clone()))
                        .with_help(help),
                );
                None
            }
            Some(index) if index >= before => {
                let what = if index == before {
                    "is this step itself"
                } else {
                    "runs later"
                };
                self.error(Diagnostic::new(
                    format!(
                        "step `{id}` {what} ({}); a step can only use earlier steps",
                        steps[index].label()
                    ),
                    Some(loc.clone()),
                ));
                None
            }
            Some(index) => Some(index),
        }
    }

    fn step_ref(&mut self, id: &str, field: Option<&str>, loc: &Loc, site: Site) {
        let Some(index) = self.earlier_step(id, loc, site) else {
            return;
        };
        let Some(field) = field else { return };
        if !STEP_FIELDS.contains(&field) {
            let help = did_you_mean(field, STEP_FIELDS.iter().copied()).or_else(|| {
                Some("a step has `status`, `headers`, `response`, `outputs` and, when it loops or pages, `items`".to_string())
            });
            self.error(
                Diagnostic::new(
                    format!("unknown field `{field}` of `steps.{id}`"),
                    Some(loc.clone()),
                )
                .with_help(help),
            );
            return;
        }
        let step = &self.flows[site.flow].steps[index];
        let problem = match field {
            "status" | "headers" | "response" | "outputs" if step.each.is_some() => Some(format!(
                "`steps.{id}.{field}` is not set for a step with `for_each`: each item has its own, in `steps.{id}.items[i].{field}`"
            )),
            "items" if step.each.is_none() && step.paginate.is_none() => Some(format!(
                "`steps.{id}.items` is only set for a step with `for_each` or `paginate`"
            )),
            "pages" if step.paginate.is_none() => Some(format!(
                "`steps.{id}.pages` is only set for a step with `paginate`"
            )),
            "outputs" if step.outputs.is_empty() && step.uses.is_none() => {
                Some(format!("step `{id}` declares no `outputs`"))
            }
            _ => None,
        };
        if let Some(message) = problem {
            let help = match field {
                "items" | "pages" => Some(format!(
                    "`steps.{id}.response` is its body; to collect a list over several pages, give `{id}` a `paginate:`"
                )),
                "outputs" => Some(format!(
                    "read `steps.{id}.response`, or give `{id}` `outputs:` (templates over its response)"
                )),
                _ => None,
            };
            self.error(Diagnostic::new(message, Some(loc.clone())).with_help(help));
        }
    }

    fn step_output_ref(&mut self, id: &str, name: &str, loc: &Loc, site: Site) {
        let Some(before) = site.steps_before else {
            return;
        };
        let flow = &self.flows[site.flow];
        let Some(step) = flow
            .step_index(id)
            .filter(|&i| i < before)
            .map(|i| &flow.steps[i])
        else {
            return;
        };
        let declared: Vec<&str> = match step.uses.as_ref().and_then(|u| u.flow) {
            Some(flow) => self.flows[flow]
                .outputs
                .keys()
                .map(String::as_str)
                .collect(),
            None => step.outputs.keys().map(String::as_str).collect(),
        };
        if !declared.is_empty() && !declared.contains(&name) {
            let help = did_you_mean(name, declared.iter().copied())
                .or_else(|| Some(format!("its outputs are {}", ticked(&declared))));
            self.error(
                Diagnostic::new(
                    format!("step `{id}` has no output `{name}`"),
                    Some(loc.clone()),
                )
                .with_help(help),
            );
        }
    }
}
