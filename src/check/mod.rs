//! Static validation: everything that can be known about a spec without the
//! environment or the network. Turns a [`Spec`] into a [`Workflow`] whose
//! steps are bound to what they run (an action with its app and auth, or a
//! sub-workflow), with every template compiled and every success criterion
//! compiled.

mod action;
pub(crate) mod credentials;
pub(crate) mod expect;
mod liveness;
mod secrets;
mod shape;
mod site;
mod steps;
pub(crate) mod uploads;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Diagnostic, Error, Loc, Result, did_you_mean};
use crate::http::header;
use crate::spec::coerce::coerce;
use crate::spec::{Action, App, Auth, Located, Placement, Spec};
use crate::template::{Templates, is_template, visit_strings};

pub(crate) use expect::Expect;
pub(crate) use liveness::Needed;
pub(crate) use site::RESPONSE_NAMES;
use site::Site;

/// A checked spec: safe to render and run.
#[derive(Debug)]
pub struct Workflow {
    /// Apps, actions, auth and vars (the steps are in [`Workflow::flows`]).
    pub spec: Spec,
    pub templates: Templates,
    /// The root spec's workflow first, then each sub-workflow.
    pub flows: Vec<Flow>,
    /// Every `env.NAME` the templates read, with the first place that reads it.
    pub env_refs: BTreeMap<String, Loc>,
    /// What is allowed but unwise (a POST step without an `id`).
    pub warnings: Vec<Diagnostic>,
}

impl Workflow {
    /// The root spec's workflow.
    pub fn root(&self) -> &Flow {
        &self.flows[0]
    }

    /// The root spec's steps.
    pub fn steps(&self) -> &[Step] {
        &self.flows[0].steps
    }
}

/// Steps that run together, bound, with the inputs they are given and the
/// outputs they give.
pub(crate) type Flow = crate::spec::Flow<Step>;

/// A step bound to what it runs.
#[derive(Debug)]
pub struct Step {
    pub def: crate::spec::Step,
    pub run: Run,
    /// Its success criteria, with its app's and action's merged in, when
    /// there are any (see [`Step::expect`]).
    criteria: Criteria,
    /// A later step's auth reads its results: they may hold a credential,
    /// so the journal never stores them.
    pub feeds_auth: bool,
    /// Until when later templates read its results.
    pub needed: liveness::Needed,
    /// The earlier steps whose results no template reads once this one has
    /// run: their ids.
    pub expires: Vec<String>,
}

/// What a step runs.
#[derive(Debug)]
pub enum Run {
    Action(Bound),
    /// The workflow at this index of [`Workflow::flows`].
    Uses(usize),
}

/// An action with the app behind it and the auth in force.
#[derive(Debug, Clone)]
pub struct Bound {
    pub app: Arc<App>,
    pub action: Arc<Action>,
    pub auth: Option<Arc<Auth>>,
}

/// A step's success criteria, when it has any.
type Criteria = Option<Box<Expect>>;

/// What a step without success criteria of its own expects: a 2xx.
static ANY_SUCCESS: Expect = Expect {
    status: Vec::new(),
    body: Vec::new(),
    headers: Vec::new(),
    that: Vec::new(),
    schema: None,
};

impl Step {
    /// Its success criteria, with its app's and action's merged in.
    pub fn expect(&self) -> &Expect {
        self.criteria.as_deref().unwrap_or(&ANY_SUCCESS)
    }

    /// The action it runs, if it runs one.
    pub fn bound(&self) -> Option<&Bound> {
        match &self.run {
            Run::Action(b) => Some(b),
            Run::Uses(_) => None,
        }
    }

    /// What reports show it runs: the action, `uses <file>`, or `steps`
    /// (a loop's inline ones).
    pub fn target(&self) -> String {
        match &self.run {
            Run::Action(b) => b.action.name.clone(),
            Run::Uses(_) => match self.def.uses.as_deref() {
                Some(u) if u.inline => "steps".to_string(),
                u => format!("uses {}", u.map(|u| u.path.value.as_str()).unwrap_or("")),
            },
        }
    }
}

pub(crate) fn check(mut spec: Spec) -> Result<Workflow> {
    let flows = std::mem::take(&mut spec.flows);
    let mut checker = Checker {
        spec: &spec,
        flows: &flows,
        templates: Templates::new(),
        diagnostics: Vec::new(),
        warnings: Vec::new(),
        env_refs: BTreeMap::new(),
        responses: std::collections::HashMap::new(),
    };
    checker.definitions();
    checker.recursion();
    let runs = checker.flows();
    checker.uploads();
    // Literal credentials, once every template (vars' included) is compiled.
    let found = literal_credentials(&spec, &flows, &checker.templates);
    let Checker {
        templates,
        diagnostics,
        warnings,
        env_refs,
        ..
    } = checker;
    // Each mistake is said once, however many steps meet it (an app's
    // criteria are compiled for every step of the app).
    let diagnostics = unique(diagnostics.into_iter().chain(found));
    if !diagnostics.is_empty() {
        return Err(Error::Spec(diagnostics));
    }
    let mut warnings = warnings;
    warnings.extend(unread_env(&spec, &env_refs));
    let flows = bind(flows, runs, &templates);
    let mut wf = Workflow {
        spec,
        templates,
        flows,
        env_refs,
        warnings,
    };
    let (laundering, hints) = secrets::check(&wf);
    if !laundering.is_empty() {
        return Err(Error::Spec(unique(laundering)));
    }
    wf.warnings.extend(hints);
    Ok(wf)
}

/// An `env:` declaration no template reads: a typo, most likely, which
/// leaves the variable it meant refused when empty.
fn unread_env(spec: &Spec, env_refs: &BTreeMap<String, Loc>) -> Vec<Diagnostic> {
    spec.env_allow_empty
        .iter()
        .filter(|(name, _)| !env_refs.contains_key(*name))
        .map(|(name, loc)| {
            Diagnostic::warning(
                format!("env `{name}` is declared, but no template reads `env.{name}`"),
                Some(loc.clone()),
            )
            .with_help(did_you_mean(name, env_refs.keys().map(String::as_str)))
        })
        .collect()
}

/// `diagnostics` without repeats, in the order first met.
fn unique(diagnostics: impl IntoIterator<Item = Diagnostic>) -> Vec<Diagnostic> {
    let mut unique: Vec<Diagnostic> = Vec::new();
    for d in diagnostics {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique
}

/// Every literal credential in an auth object, the spec's or a step's.
fn literal_credentials(
    spec: &Spec,
    flows: &[crate::spec::Flow],
    templates: &Templates,
) -> Vec<Diagnostic> {
    let pieces = credentials::Pieces {
        templates,
        vars: &spec.vars,
    };
    let mut found = Vec::new();
    for auth in spec.auth.values() {
        found.extend(credentials::auth(auth, &pieces));
    }
    for flow in flows {
        for auth in flow.steps.iter().filter_map(|s| s.auth.as_ref()) {
            found.extend(credentials::auth(auth, &pieces));
        }
    }
    found
}

/// The checked flows: each step with what it runs and its criteria, and
/// whether a later step's auth reads it.
fn bind(
    flows: Vec<crate::spec::Flow>,
    runs: Vec<Vec<Option<(Run, Criteria)>>>,
    templates: &Templates,
) -> Vec<Flow> {
    flows
        .into_iter()
        .zip(runs)
        .map(|(flow, runs)| {
            let feeding = steps_feeding_auth(templates, &flow.steps);
            let needed = liveness::needed(templates, &flow);
            let mut expires = vec![Vec::new(); flow.steps.len()];
            for (i, n) in needed.iter().enumerate() {
                if let (liveness::Needed::Until(j), Some(id)) = (n, &flow.steps[i].id) {
                    expires[*j].push(id.clone());
                }
            }
            Flow {
                file: flow.file,
                inputs: flow.inputs,
                outputs: flow.outputs,
                ids: flow.ids,
                item: flow.item,
                steps: flow
                    .steps
                    .into_iter()
                    .zip(runs)
                    .zip(needed.into_iter().zip(expires))
                    .map(|((def, run), (needed, expires))| {
                        let (run, expect) = run.expect("a step that checked has what it runs");
                        let feeds_auth = def.id.as_ref().is_some_and(|id| feeding.contains(id));
                        Step {
                            def,
                            run,
                            criteria: expect,
                            feeds_auth,
                            needed,
                            expires,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

pub(crate) struct Checker<'a> {
    spec: &'a Spec,
    flows: &'a [crate::spec::Flow],
    templates: Templates,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    env_refs: BTreeMap<String, Loc>,
    /// Each action's response schema compiled once, however many steps
    /// check their answer against it (`expect: {schema: response}`).
    responses: std::collections::HashMap<String, expect::Response>,
}

impl Checker<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// The validator of `action`'s response schema, compiled on first use.
    fn response(&mut self, app: &App, action: &Action) -> expect::Response {
        self.responses
            .entry(action.name.clone())
            .or_insert_with(|| expect::response(app, action))
            .clone()
    }

    /// What the spec defines, whether or not a step uses it: apps and
    /// their actions, vars, app headers, auth.
    fn definitions(&mut self) {
        let spec = self.spec;
        for app in spec.apps.values() {
            // An app's and an action's own criteria compile whether or not a
            // step uses them (each step compiles them again, merged with its own).
            if let Some(e) = &app.expect {
                expect::compile(&[e], None, &mut self.diagnostics);
            }
            for action in app.actions.values() {
                self.action(action);
                if let Some(e) = &action.expect {
                    let response = expect::wants_response(&[e]).then(|| self.response(app, action));
                    expect::compile(&[e], response, &mut self.diagnostics);
                }
            }
        }
        for (i, var) in spec.vars.values().enumerate() {
            let site = Site {
                vars_before: Some(i),
                ..Site::default()
            };
            self.value(&var.value, &var.loc, site);
        }
        for app in spec.apps.values() {
            self.diagnostics.extend(
                app.headers
                    .iter()
                    .filter_map(|h| credentials::header(app, h)),
            );
        }
        for (app_name, auth) in &spec.auth {
            if !spec.apps.contains_key(app_name) {
                let help = did_you_mean(app_name, spec.apps.keys().map(String::as_str));
                self.error(
                    Diagnostic::new(
                        format!("auth for unknown app `{app_name}`"),
                        Some(auth.loc.clone()),
                    )
                    .with_help(help),
                );
            }
            self.auth(auth, Site::default());
        }
    }

    /// Every flow's inputs, steps and outputs; for each step, what it runs
    /// and its criteria, when it can run at all.
    fn flows(&mut self) -> Vec<Vec<Option<(Run, Criteria)>>> {
        let mut runs = Vec::with_capacity(self.flows.len());
        for (f, flow) in self.flows.iter().enumerate() {
            self.inputs(flow);
            let mut bound = Vec::with_capacity(flow.steps.len());
            for step in &flow.steps {
                // Most steps expect only a 2xx: nothing to hold.
                let step = self.step(f, step);
                bound.push(step.map(|(run, e)| (run, (!e.is_empty()).then(|| Box::new(e)))));
            }
            let site = Site {
                flow: f,
                steps_before: Some(flow.steps.len()),
                inputs: true,
                shard: true,
                item: flow.item.as_deref(),
                ..Site::default()
            };
            for output in flow.outputs.values() {
                self.template(&output.value, &output.loc, site);
            }
            runs.push(bound);
        }
        runs
    }

    fn value(&mut self, value: &Value, loc: &Loc, site: Site) {
        let mut sources = Vec::new();
        visit_strings(value, &mut |s| sources.push(s.to_string()));
        for s in sources {
            self.template(&s, loc, site);
        }
    }

    /// A value that must be a boolean: a literal one, or a template.
    fn condition(&mut self, value: &Located<Value>, what: &str, site: Site) {
        match &value.value {
            Value::Bool(_) => {}
            Value::String(s) if is_template(s) => self.template(s, &value.loc, site),
            other => self.error(
                Diagnostic::new(
                    format!(
                        "`{what}` must be a boolean or a template that renders one, found {}",
                        crate::spec::coerce::describe(other)
                    ),
                    Some(value.loc.clone()),
                )
                .with_help(Some(match what {
                    "expect.that" => "each entry is a template over the step's own response that renders true or false: `that: [\"{{ response.total > 0 }}\"]`".to_string(),
                    "until" => "write a template over the step's own response: `until: \"{{ response.status == 'completed' }}\"`".to_string(),
                    _ => format!(
                        "write `{what}: \"{{{{ steps.check.status == 200 }}}}\"`, or `true`/`false` (unquoted)"
                    ),
                })),
            ),
        }
    }

    fn auth(&mut self, auth: &Auth, site: Site) {
        let site = Site {
            source: auth.source.as_ref().map(|s| s.name()),
            ..site
        };
        for p in &auth.parameters {
            self.template(&p.value, &p.value_loc, site);
            if p.placement == Placement::Header {
                if let Err(e) = header::check_name(&p.name) {
                    self.error(Diagnostic::new(e.to_string(), Some(p.loc.clone())));
                }
                if !is_template(&p.value)
                    && let Err(e) = header::check_value(&p.name, &p.value, "the value of header")
                {
                    self.error(Diagnostic::new(e.to_string(), Some(p.loc.clone())));
                }
            }
        }
        // The source's own settings and the base URL are rendered before
        // the token is fetched, so they cannot use it.
        let without_source = Site {
            source: None,
            ..site
        };
        if let Some(base) = &auth.base_url {
            self.template(&base.value, &base.loc, without_source);
        }
        if let Some(body) = &auth.body {
            self.value(&Value::Object(body.value.clone()), &body.loc, site);
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

    /// A workflow's inputs: defaults and allowed values of the right type.
    fn inputs(&mut self, flow: &crate::spec::Flow) {
        for input in flow.inputs.values() {
            if let Some(allowed) = &input.allowed {
                for v in allowed {
                    if let Err(e) = coerce(input.ty, v.clone()) {
                        self.error(Diagnostic::new(
                            format!("`enum` of input `{}`: {e}", input.name),
                            Some(input.loc.clone()),
                        ));
                    }
                }
            }
            if let Some(default) = &input.default {
                match coerce(input.ty, default.clone()) {
                    Err(e) => self.error(Diagnostic::new(
                        format!("default of input `{}`: {e}", input.name),
                        Some(input.loc.clone()),
                    )),
                    Ok(v) => {
                        if let Some(allowed) = &input.allowed
                            && !allowed.contains(&v)
                        {
                            let shown: Vec<String> =
                                allowed.iter().map(|a| a.to_string()).collect();
                            self.error(
                                Diagnostic::new(
                                    format!(
                                        "default of input `{}` is {v}, which is not one of its `enum` values",
                                        input.name
                                    ),
                                    Some(input.loc.child("default")),
                                )
                                .with_help(Some(format!(
                                    "use one of {}, or add {v} to `enum`",
                                    shown.join(", ")
                                ))),
                            );
                        }
                    }
                }
            }
        }
    }

    /// A workflow may not use itself, directly or through others.
    fn recursion(&mut self) {
        let edges: Vec<Vec<(usize, Loc)>> = self
            .flows
            .iter()
            .map(|f| {
                f.steps
                    .iter()
                    .filter_map(|s| {
                        let u = s.uses.as_ref()?;
                        Some((u.flow?, u.path.loc.clone()))
                    })
                    .collect()
            })
            .collect();
        // Depth-first search from each flow; a flow found on its own path is
        // a cycle, reported once at the `uses` that closes it.
        let mut reported = std::collections::BTreeSet::new();
        for start in 0..edges.len() {
            let mut stack = vec![(start, vec![start])];
            while let Some((at, path)) = stack.pop() {
                for (next, loc) in &edges[at] {
                    if *next == start {
                        let names: Vec<String> = path
                            .iter()
                            .chain(std::iter::once(next))
                            .map(|f| format!("`{}`", self.flows[*f].file.name))
                            .collect();
                        let mut key = path.clone();
                        key.sort();
                        if reported.insert(key) {
                            self.error(Diagnostic::new(
                                format!(
                                    "sub-workflows use each other in a cycle: {}",
                                    names.join(" -> ")
                                ),
                                Some(loc.clone()),
                            ));
                        }
                    } else if !path.contains(next) {
                        let mut longer = path.clone();
                        longer.push(*next);
                        stack.push((*next, longer));
                    }
                }
            }
        }
    }
}

/// The ids of the steps whose results a step's auth reads.
fn steps_feeding_auth(
    templates: &Templates,
    steps: &[crate::spec::Step],
) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for auth in steps.iter().filter_map(|s| s.auth.as_ref()) {
        let mut values: Vec<Value> = auth
            .parameters
            .iter()
            .map(|p| Value::String(p.value.clone()))
            .collect();
        values.extend(auth.base_url.iter().map(|b| Value::String(b.value.clone())));
        values.extend(auth.body.iter().map(|b| Value::Object(b.value.clone())));
        for v in &values {
            let refs = templates.refs_in(v);
            out.extend(refs.steps.into_iter().map(|(id, _)| id));
            if refs.dynamic.contains("steps") {
                out.extend(steps.iter().filter_map(|s| s.id.clone()));
            }
        }
    }
    out
}

/// The authority part of a URL template (`{ws}.example.com:8080`).
pub(crate) fn host_part(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}
