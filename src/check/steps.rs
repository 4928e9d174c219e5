//! The checks of one step: what it runs (an action and its params and
//! placements, or a sub-workflow and its inputs), its loop, condition,
//! polling and pagination, its success criteria and outputs.

use crate::error::{Diagnostic, did_you_mean, ticked};
use crate::spec::coerce::coerce;
use crate::spec::{
    Action, App, Auth, Method, Next, ParamIn, Placement, path_placeholders, placeholders,
};
use crate::template::{is_template, visit_strings};

use super::site::Site;
use super::{Bound, Checker, Expect, Run, expect, host_part};

impl Checker<'_> {
    /// Checks `step` of workflow `flow`; what it runs and its criteria when
    /// it can run at all.
    pub(super) fn step(&mut self, flow: usize, step: &crate::spec::Step) -> Option<(Run, Expect)> {
        // A loop's own item, else the one an inline `steps:` runs for.
        let flows = self.flows;
        let item = step
            .each
            .as_ref()
            .map(|e| e.name.value.as_str())
            .or(flows[flow].item.as_deref());
        let site = Site {
            outer_item: flows[flow].item.as_deref(),
            flow,
            steps_before: Some(step.index),
            inputs: true,
            shard: true,
            item,
            ..Site::default()
        };
        if let Some(each) = &step.each {
            self.each(step, each, site);
        }
        if let Some(condition) = &step.condition {
            let site = Site {
                status_functions: true,
                ..site
            };
            self.condition(condition, "if", site);
        }
        if let Some(auth) = &step.auth {
            self.auth(auth, site);
        }
        let response_site = Site {
            response: true,
            ..site
        };
        for output in step.outputs.values() {
            self.template(&output.value, &output.loc, response_site);
        }
        if let Some(uses) = &step.uses {
            return Some(self.uses_step(step, uses.flow?, site));
        }
        self.action_step(step, step.action.as_ref()?, site)
    }

    /// `for_each:` and its item's name, in the loop's `site`.
    fn each(&mut self, step: &crate::spec::Step, each: &crate::spec::Each, site: Site) {
        let name = each.name.value.as_str();
        if ["env", "vars", "inputs", "steps", "shard", "index"].contains(&name) {
            self.error(Diagnostic::new(
                format!("`as: {name}` would hide `{name}`; choose another name for the item"),
                Some(each.name.loc.clone()),
            ));
        }
        // The list sees the item of the inline `steps:` it is in, if any.
        let flows = self.flows;
        let outer = flows[site.flow].item.as_deref();
        match &each.list.value {
            serde_json::Value::Array(_) => self.value(
                &each.list.value,
                &each.list.loc,
                Site {
                    item: outer,
                    ..site
                },
            ),
            serde_json::Value::String(s) if is_template(s) => self.template(
                s,
                &each.list.loc,
                Site {
                    item: outer,
                    ..site
                },
            ),
            other => self.error(
                Diagnostic::new(
                    format!(
                        "`for_each` must be a list or a template that renders one, found {}",
                        crate::spec::coerce::describe(other)
                    ),
                    Some(each.list.loc.clone()),
                )
                .with_help(Some(
                    "write `for_each: \"{{ inputs.repos }}\"` or a YAML list".into(),
                )),
            ),
        }
        if each.shard && site.flow != 0 {
            self.error(Diagnostic::new(
                "`shard: true` only applies to a loop of the root spec",
                Some(step.loc.clone()),
            ));
        }
    }

    /// A step that runs the sub-workflow `target`: its inputs and its own
    /// criteria; what only a request has is refused.
    fn uses_step(&mut self, step: &crate::spec::Step, target: usize, site: Site) -> (Run, Expect) {
        if let Some(until) = &step.until {
            self.error(Diagnostic::new(
                "`until` repeats a request; a step that `uses` a sub-workflow sends none itself",
                Some(until.condition.loc.clone()),
            ));
        }
        if let Some(p) = &step.paginate {
            self.error(Diagnostic::new(
                "`paginate` follows a request's pages; a step that `uses` a sub-workflow sends none itself",
                Some(p.loc.clone()),
            ));
        }
        self.with(step, target, site);
        let (expect, _) = self.criteria(&[step.expect.as_deref()], None, site);
        (Run::Uses(target), expect)
    }

    /// A step's success criteria from the layers that say any (the app's,
    /// the action's, its own; later ones win), with each `expect.that`
    /// checked where the response is in scope; and that site.
    fn criteria<'s>(
        &mut self,
        layers: &[Option<&crate::spec::Expect>],
        bound: Option<(&crate::spec::App, &crate::spec::Action)>,
        site: Site<'s>,
    ) -> (Expect, Site<'s>) {
        let layers: Vec<&crate::spec::Expect> = layers.iter().copied().flatten().collect();
        let response = expect::wants_response(&layers).then(|| match bound {
            Some((app, action)) => self.response(app, action),
            None => Err("`schema: response` is the schema of an action's answer, and a `uses:` step runs no action of its own".to_string()),
        });
        let expect = expect::compile(&layers, response, &mut self.diagnostics);
        let response_site = Site {
            response: true,
            ..site
        };
        for that in &expect.that {
            self.condition(that, "expect.that", response_site);
        }
        (expect, response_site)
    }

    /// A step that runs the action `name`: its params, where they go, its
    /// criteria (the app's, the action's, its own), polling and pages.
    fn action_step(
        &mut self,
        step: &crate::spec::Step,
        name: &crate::spec::Located<String>,
        site: Site,
    ) -> Option<(Run, Expect)> {
        let Some(action) = self.spec.action(&name.value) else {
            let names = self.spec.actions.keys().chain(self.spec.aliases.keys());
            let help = did_you_mean(&name.value, names.map(String::as_str));
            self.error(
                Diagnostic::new(
                    format!("unknown action `{}`", name.value),
                    Some(name.loc.clone()),
                )
                .with_help(help),
            );
            return None;
        };
        let app = self.spec.apps[&action.app].clone();
        let auth = step
            .auth
            .clone()
            .or_else(|| self.spec.auth.get(&action.app).cloned());
        self.step_params(step, action, site);
        match &step.url {
            Some(url) => self.step_url(step, url, site),
            None => self.placements(step, &app, action, auth.as_deref()),
        }
        let (expect, response_site) = self.criteria(
            &[
                app.expect.as_ref(),
                action.expect.as_ref(),
                step.expect.as_deref(),
            ],
            Some((&app, action)),
            site,
        );
        if let Some(until) = &step.until {
            self.until(step, until, action, &app, response_site);
        }
        if let Some(p) = &step.paginate {
            self.step_paginate(p, action, response_site);
        }
        self.without_id(step, action);
        Some((
            Run::Action(Bound {
                app,
                action: action.clone(),
                auth,
            }),
            expect,
        ))
    }

    /// A step's own `url:`: absolute http(s) when written out, inside its
    /// `url_origin`; a warning when its own auth follows an answer's URL.
    fn step_url(
        &mut self,
        step: &crate::spec::Step,
        url: &crate::spec::Located<String>,
        site: Site,
    ) {
        self.template(&url.value, &url.loc, site);
        if !is_template(&url.value) {
            let valid = url::Url::parse(&url.value)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !valid {
                self.error(Diagnostic::new(
                    format!(
                        "`url` must be an absolute http or https URL, found `{}`",
                        url.value
                    ),
                    Some(url.loc.clone()),
                ));
            } else if let Some(origin) = &step.url_origin
                && let Some(outside) = crate::http::outside_origin(&url.value, &origin.value)
            {
                self.error(Diagnostic::new(
                    format!(
                        "`url` leads to `{outside}`, outside `url_origin` (`{}`)",
                        crate::http::show_origin(&origin.value)
                    ),
                    Some(url.loc.clone()),
                ));
            }
        } else if step.auth.is_some()
            && step.url_origin.is_none()
            && self
                .templates
                .refs(&url.value)
                .is_some_and(|r| !r.steps.is_empty() || r.dynamic.contains("steps"))
        {
            // The step's own auth goes wherever an answer says.
            self.warnings.push(
                Diagnostic::warning(
                    format!(
                        "{} sends its own `auth:` to the `url` an earlier response gives, whatever origin that is",
                        step.label()
                    ),
                    Some(url.loc.clone()),
                )
                .with_help(Some(
                    "pin the origin the answer may name: `url_origin: https://uploads.example.com`".into(),
                )),
            );
        }
    }

    /// `until:`: a condition on the response, for a request that may be
    /// repeated.
    fn until(
        &mut self,
        step: &crate::spec::Step,
        until: &crate::spec::Until,
        action: &Action,
        app: &App,
        response_site: Site,
    ) {
        self.condition(&until.condition, "until", response_site);
        let repeatable = !matches!(action.method, Method::POST | Method::PATCH)
            || step.retry().or(app.retry).unsafe_methods == Some(true);
        if !repeatable {
            self.error(
                Diagnostic::new(
                    format!(
                        "`until` repeats the request, and `{}` is a {:?}: repeating it could repeat its effect",
                        action.name, action.method
                    ),
                    Some(until.condition.loc.clone()),
                )
                .with_help(Some("if repeating it is safe, say so with `retry: {unsafe: true}`".into())),
            );
        }
    }

    /// `paginate:`: its templates, and a cursor sent as one of the
    /// action's params.
    fn step_paginate(&mut self, p: &crate::spec::Paginate, action: &Action, response_site: Site) {
        if let Next::Cursor(cursor) = &p.next {
            let (param, value) = (&cursor.param, &cursor.value);
            self.template(&value.value, &value.loc, response_site);
            if !action.params.contains_key(&param.value) {
                let help = did_you_mean(&param.value, action.params.keys().map(String::as_str));
                self.error(
                    Diagnostic::new(
                        format!(
                            "`paginate.next.param`: `{}` is not a param of `{}`",
                            param.value, action.name
                        ),
                        Some(param.loc.clone()),
                    )
                    .with_help(help),
                );
            }
        }
        if let Some(items) = &p.items {
            self.template(&items.value, &items.loc, response_site);
        }
    }

    /// A warning for a POST or PATCH step without an `id`: the journal
    /// knows it by a key that moves when steps are added.
    fn without_id(&mut self, step: &crate::spec::Step, action: &Action) {
        if step.id.is_none() && matches!(action.method, Method::POST | Method::PATCH) {
            self.warnings.push(
                Diagnostic::warning(
                    format!(
                        "{} sends a {:?} but has no `id`; resuming a journalled run matches it by the derived id `{}`, which changes when steps using `{}` are added or removed before it",
                        step.label(),
                        action.method,
                        step.key,
                        action.name
                    ),
                    Some(step.loc.clone()),
                )
                .with_help(Some("give the step an `id`".to_string())),
            );
        }
    }

    /// A sub-workflow's inputs, given with `with:`.
    fn with(&mut self, step: &crate::spec::Step, target: usize, site: Site) {
        let inputs = &self.flows[target].inputs;
        let file = self.flows[target].file.name.clone();
        for (name, given) in &step.with {
            self.value(&given.value, &given.loc, site);
            let Some(input) = inputs.get(name) else {
                let help = did_you_mean(name, inputs.keys().map(String::as_str)).or_else(|| {
                    Some(if inputs.is_empty() {
                        format!("`{file}` declares no inputs")
                    } else {
                        format!("`{file}` takes {}", ticked(inputs.keys()))
                    })
                });
                self.error(
                    Diagnostic::new(
                        format!("unknown input `{name}` for `{file}`"),
                        Some(given.loc.clone()),
                    )
                    .with_help(help),
                );
                continue;
            };
            let mut templated = false;
            visit_strings(&given.value, &mut |s| templated |= is_template(s));
            if !templated && let Err(e) = coerce(input.ty, given.value.clone()) {
                self.error(Diagnostic::new(
                    format!("input `{name}`: {e}"),
                    Some(given.loc.clone()),
                ));
            }
        }
        let missing: Vec<(String, Option<String>)> = inputs
            .values()
            .filter(|i| i.required && i.default.is_none() && !step.with.contains_key(&i.name))
            .map(|i| (i.name.clone(), i.description.clone()))
            .collect();
        for (name, description) in missing {
            let what = description.map(|d| format!(" ({d})")).unwrap_or_default();
            self.error(
                Diagnostic::new(
                    format!("missing required input `{name}` for `{file}`"),
                    Some(step.loc.clone()),
                )
                .with_help(Some(format!("add `{name}`{what} to `with:`"))),
            );
        }
    }

    fn step_params(&mut self, step: &crate::spec::Step, action: &Action, site: Site) {
        for (name, given) in &step.params {
            let Some(param) = action.params.get(name) else {
                let help =
                    did_you_mean(name, action.params.keys().map(String::as_str)).or_else(|| {
                        Some(format!(
                            "`{}` takes {}",
                            action.name,
                            if action.params.is_empty() {
                                "no params".to_string()
                            } else {
                                ticked(action.params.keys())
                            }
                        ))
                    });
                self.error(
                    Diagnostic::new(
                        format!("unknown param `{name}` for action `{}`", action.name),
                        Some(given.loc.clone()),
                    )
                    .with_help(help),
                );
                continue;
            };
            self.value(&given.value, &given.loc, site);
            let mut templated = false;
            visit_strings(&given.value, &mut |s| templated |= is_template(s));
            if !templated && let Some(e) = super::action::value_error(param, &given.value) {
                self.error(Diagnostic::new(
                    format!("param `{name}`: {e}"),
                    Some(given.loc.clone()),
                ));
            }
        }
        for (name, param) in &action.params {
            // A step's `url` has its own path: path params are not needed.
            let unused = step.url.is_some() && param.placement == ParamIn::Path;
            if param.required
                && param.default.is_none()
                && !unused
                && !step.params.contains_key(name)
            {
                self.error(Diagnostic::new(
                    format!(
                        "missing required param `{name}` for action `{}`",
                        action.name
                    ),
                    Some(step.loc.clone()),
                ));
            }
        }
    }

    /// Every `{placeholder}` is filled by exactly something, and every
    /// path or subdomain auth parameter has a placeholder to fill.
    fn placements(
        &mut self,
        step: &crate::spec::Step,
        app: &App,
        action: &Action,
        auth: Option<&Auth>,
    ) {
        let params = auth.map(|a| a.parameters.as_slice()).unwrap_or_default();
        let auth_in = |placement: Placement| {
            params
                .iter()
                .filter(move |p| p.placement == placement)
                .map(|p| p.name.as_str())
        };
        let path_holes = path_placeholders(&action.path);
        for hole in &path_holes {
            let by_param = action
                .params
                .get(*hole)
                .filter(|p| p.placement == ParamIn::Path)
                .map(|p| p.default.is_some() || step.params.contains_key(*hole));
            let by_auth = auth_in(Placement::Path).any(|n| n == *hole);
            if !by_auth && by_param != Some(true) {
                let why = match by_param {
                    Some(false) => format!("param `{hole}` is not given"),
                    _ => "no path param or `in: path` auth parameter fills it".to_string(),
                };
                let reserved = format!("{{+{hole}}}");
                let shown = match action.path.contains(&reserved) {
                    true => reserved,
                    false => format!("{{{hole}}}"),
                };
                self.error(Diagnostic::new(
                    format!(
                        "placeholder `{shown}` in `{}` is not filled: {why}",
                        action.path
                    ),
                    Some(step.loc.clone()),
                ));
            }
        }
        for p in params.iter().filter(|p| p.placement == Placement::Path) {
            if !path_holes.contains(&p.name.as_str()) {
                self.error(Diagnostic::new(
                    format!(
                        "auth parameter `{}` is `in: path` but the path of `{}` (`{}`) has no `{{{}}}`",
                        p.name, action.name, action.path, p.name
                    ),
                    Some(p.loc.clone()),
                ));
            }
        }
        let base = auth
            .and_then(|a| a.base_url.as_ref())
            .map(|b| b.value.as_str())
            .unwrap_or(&app.base_url);
        let host_holes = placeholders(host_part(base));
        for hole in &host_holes {
            if !auth_in(Placement::Subdomain).any(|n| n == *hole) {
                self.error(Diagnostic::new(
                    format!("placeholder `{{{hole}}}` in base URL `{base}` is not filled: no `in: subdomain` auth parameter named `{hole}`"),
                    Some(step.loc.clone()),
                ));
            }
        }
        for p in params
            .iter()
            .filter(|p| p.placement == Placement::Subdomain)
        {
            if !host_holes.contains(&p.name.as_str()) {
                self.error(Diagnostic::new(
                    format!("auth parameter `{}` is `in: subdomain` but the base URL `{base}` has no `{{{}}}` in its host", p.name, p.name),
                    Some(p.loc.clone()),
                ));
            }
        }
    }
}
