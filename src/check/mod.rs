//! Static validation: everything that can be known about a spec without the
//! environment or the network. Turns a [`Spec`] into a [`Workflow`] whose
//! steps are bound to their actions and auth, with every template compiled.

mod action;
pub mod credentials;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Diagnostic, Error, Loc, Result, did_you_mean, ticked};
use crate::http::header;
use crate::spec::{
    Action, App, Auth, Method, ParamIn, Placement, Spec, path_placeholders, placeholders,
};
use crate::template::{Templates, is_template, visit_strings};

/// A checked spec: safe to render and run.
#[derive(Debug)]
pub struct Workflow {
    /// Apps, actions, auth and vars (the steps are in [`Workflow::steps`]).
    pub spec: Spec,
    pub templates: Templates,
    /// The steps, each bound to what it runs, in order.
    pub steps: Vec<Step>,
    /// Every `env.NAME` the templates read, with the first place that reads it.
    pub env_refs: BTreeMap<String, Loc>,
    /// What is allowed but unwise (a POST step without an `id`).
    pub warnings: Vec<Diagnostic>,
}

/// A step bound to what it runs: its action, the app behind it and the
/// auth in force.
#[derive(Debug)]
pub struct Step {
    pub def: crate::spec::Step,
    pub app: Arc<App>,
    pub action: Arc<Action>,
    pub auth: Option<Arc<Auth>>,
}

impl std::ops::Deref for Step {
    type Target = crate::spec::Step;
    fn deref(&self) -> &crate::spec::Step {
        &self.def
    }
}

/// Names a template may use besides `env`, `vars`, `steps` and a credential source.
const GLOBALS: &[&str] = &["range", "dict", "namespace", "loop"];
const STEP_FIELDS: &[&str] = &["status", "headers", "response"];

/// What a template at some place may refer to.
#[derive(Clone, Copy)]
struct Allowed {
    /// Steps before this index may be referred to; `None`: no `steps` at all.
    steps_before: Option<usize>,
    /// Vars before this index; `None`: all.
    vars_before: Option<usize>,
    /// The credential source whose token is in scope (`descope`), if any.
    source: Option<&'static str>,
}

pub fn check(mut spec: Spec) -> Result<Workflow> {
    let steps = std::mem::take(&mut spec.steps);
    let mut checker = Checker {
        spec: &spec,
        templates: Templates::new(),
        diagnostics: Vec::new(),
        warnings: Vec::new(),
        env_refs: BTreeMap::new(),
        step_ids: steps
            .iter()
            .filter_map(|s| Some((s.id.clone()?, s.index)))
            .collect(),
        steps: &steps,
    };
    for app in spec.apps.values() {
        for action in app.actions.values() {
            checker.action(action);
        }
    }
    for (i, (name, var)) in spec.vars.iter().enumerate() {
        let _ = name;
        let allowed = Allowed {
            steps_before: None,
            vars_before: Some(i),
            source: None,
        };
        checker.value(&var.value, &var.loc, allowed);
    }
    for app in spec.apps.values() {
        checker.diagnostics.extend(
            app.headers
                .iter()
                .filter_map(|h| credentials::header(app, h)),
        );
    }
    for (app_name, auth) in &spec.auth {
        if !spec.apps.contains_key(app_name) {
            let help = did_you_mean(app_name, spec.apps.keys().map(String::as_str));
            checker.error(
                Diagnostic::new(
                    format!("auth for unknown app `{app_name}`"),
                    Some(auth.loc.clone()),
                )
                .with_help(help),
            );
        }
        checker.auth(auth, None);
    }
    let mut bound = Vec::new();
    for step in &steps {
        if let Some(auth) = &step.auth {
            checker.auth(auth, Some(step.index));
        }
        let Some(action) = spec.action(&step.action.value) else {
            let help = did_you_mean(&step.action.value, spec.actions.keys().map(String::as_str));
            checker.error(
                Diagnostic::new(
                    format!("unknown action `{}`", step.action.value),
                    Some(step.action.loc.clone()),
                )
                .with_help(help),
            );
            continue;
        };
        let app = spec.apps[&action.app].clone();
        let auth = step
            .auth
            .clone()
            .or_else(|| spec.auth.get(&action.app).cloned());
        checker.step_params(step, action);
        checker.placements(step, &app, action, auth.as_deref());
        if step.id.is_none() && matches!(action.method, Method::POST | Method::PATCH) {
            checker.warnings.push(
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
        bound.push((app, action.clone(), auth));
    }
    // Literal credentials, once every template (vars' included) is compiled.
    let pieces = credentials::Pieces {
        templates: &checker.templates,
        vars: &spec.vars,
    };
    let mut found = Vec::new();
    for auth in spec.auth.values() {
        found.extend(credentials::auth(auth, &pieces));
    }
    for auth in steps.iter().filter_map(|s| s.auth.as_ref()) {
        found.extend(credentials::auth(auth, &pieces));
    }
    let Checker {
        templates,
        mut diagnostics,
        warnings,
        env_refs,
        ..
    } = checker;
    for d in found {
        if !diagnostics.contains(&d) {
            diagnostics.push(d);
        }
    }
    if !diagnostics.is_empty() {
        return Err(Error::Spec(diagnostics));
    }
    let steps = steps
        .into_iter()
        .zip(bound)
        .map(|(def, (app, action, auth))| Step {
            def,
            app,
            action,
            auth,
        })
        .collect();
    Ok(Workflow {
        spec,
        templates,
        steps,
        env_refs,
        warnings,
    })
}

struct Checker<'a> {
    spec: &'a Spec,
    steps: &'a [crate::spec::Step],
    templates: Templates,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    env_refs: BTreeMap<String, Loc>,
    step_ids: HashMap<String, usize>,
}

impl Checker<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn value(&mut self, value: &Value, loc: &Loc, allowed: Allowed) {
        let mut sources = Vec::new();
        visit_strings(value, &mut |s| sources.push(s.to_string()));
        for s in sources {
            self.template(&s, loc, allowed);
        }
    }

    fn template(&mut self, source: &str, loc: &Loc, allowed: Allowed) {
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
        let var_names: Vec<&str> = match allowed.vars_before {
            Some(n) => self.spec.vars.keys().take(n).map(String::as_str).collect(),
            None => self.spec.vars.keys().map(String::as_str).collect(),
        };
        for var in &refs.vars {
            if var_names.contains(&var.as_str()) {
                continue;
            }
            let itself = allowed
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
        for (id, field) in &refs.steps {
            self.step_ref(id, field.as_deref(), loc, allowed);
        }
        if refs.dynamic.contains("steps") && allowed.steps_before.is_none() {
            self.error(Diagnostic::new(
                "`steps` cannot be used here: no step has run yet",
                Some(loc.clone()),
            ));
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
        for input in &refs.inputs {
            self.error(Diagnostic::new(
                format!("unknown input `{input}`: the spec declares no `inputs`"),
                Some(loc.clone()),
            ));
        }
        for name in &refs.other {
            let known = GLOBALS.contains(&name.as_str()) || allowed.source == Some(name.as_str());
            if !known {
                let mut names = vec!["env", "vars"];
                if allowed.steps_before.is_some() {
                    names.push("steps");
                }
                if let Some(source) = allowed.source {
                    names.push(source);
                }
                let help = did_you_mean(name, names.iter().copied())
                    .or_else(|| Some(format!("templates here can use {}", ticked(&names))));
                self.error(
                    Diagnostic::new(format!("unknown variable `{name}`"), Some(loc.clone()))
                        .with_help(help),
                );
            }
        }
    }

    fn step_ref(&mut self, id: &str, field: Option<&str>, loc: &Loc, allowed: Allowed) {
        let Some(before) = allowed.steps_before else {
            let help = if allowed.vars_before.is_some() {
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
            return;
        };
        match self.step_ids.get(id) {
            None => {
                let earlier = self
                    .spec
                    .steps
                    .iter()
                    .take(before)
                    .filter_map(|s| s.id.as_deref());
                let help = did_you_mean(id, earlier);
                self.error(
                    Diagnostic::new(format!("unknown step `{id}`"), Some(loc.clone()))
                        .with_help(help),
                );
            }
            Some(&index) if index >= before => {
                let what = if index == before {
                    "is this step itself"
                } else {
                    "runs later"
                };
                self.error(Diagnostic::new(
                    format!(
                        "step `{id}` {what} ({}); a step can only use earlier steps",
                        self.steps[index].label()
                    ),
                    Some(loc.clone()),
                ));
            }
            Some(_) => {
                if let Some(field) = field
                    && !STEP_FIELDS.contains(&field)
                {
                    let help = did_you_mean(field, STEP_FIELDS.iter().copied()).or_else(|| {
                        Some("a step has `status`, `headers` and `response`".to_string())
                    });
                    self.error(
                        Diagnostic::new(
                            format!("unknown field `{field}` of `steps.{id}`"),
                            Some(loc.clone()),
                        )
                        .with_help(help),
                    );
                }
            }
        }
    }

    fn auth(&mut self, auth: &Auth, step: Option<usize>) {
        let allowed = Allowed {
            steps_before: step,
            vars_before: None,
            source: auth.source.as_ref().map(|s| s.name()),
        };
        for p in &auth.parameters {
            self.template(&p.value, &p.value_loc, allowed);
            if p.placement == Placement::Header {
                if let Err(e) = header::check_name(&p.name) {
                    self.error(Diagnostic::new(e, Some(p.loc.clone())));
                }
                if !is_template(&p.value)
                    && let Err(e) = header::check_value(&p.name, &p.value, "the value of header")
                {
                    self.error(Diagnostic::new(e, Some(p.loc.clone())));
                }
            }
        }
        // The source's own settings and the base URL are rendered before
        // the token is fetched, so they cannot use it.
        let without_source = Allowed {
            source: None,
            ..allowed
        };
        if let Some(base) = &auth.base_url {
            self.template(&base.value, &base.loc, without_source);
        }
        if let Some(body) = &auth.body {
            self.value(&Value::Object(body.value.clone()), &body.loc, allowed);
        }
        if let Some(source) = &auth.source {
            for f in source.templates() {
                self.template(&f.value, &f.loc, without_source);
            }
        }
    }

    /// Checks of an action alone, once however many steps use it.
    fn action(&mut self, action: &Action) {
        self.diagnostics.extend(action::check(action));
    }

    fn step_params(&mut self, step: &crate::spec::Step, action: &Action) {
        let allowed = Allowed {
            steps_before: Some(step.index),
            vars_before: None,
            source: None,
        };
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
            self.value(&given.value, &given.loc, allowed);
            let mut templated = false;
            visit_strings(&given.value, &mut |s| templated |= is_template(s));
            if !templated && let Some(e) = action::value_error(param, &given.value) {
                self.error(Diagnostic::new(
                    format!("param `{name}`: {e}"),
                    Some(given.loc.clone()),
                ));
            }
        }
        for (name, param) in &action.params {
            if param.required && param.default.is_none() && !step.params.contains_key(name) {
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

/// The authority part of a URL template (`{ws}.example.com:8080`).
pub fn host_part(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}
