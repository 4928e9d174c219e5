//! Rendering: templates into values, values into typed params, and params
//! plus auth into the exact HTTP request a step sends. Pure: the
//! environment, earlier responses and credentials come in through a
//! [`Scope`] and a [`Token`].
//!
//! Rendering auth also says what is secret in it: every rendered auth
//! value that holds anything from outside the spec, and each such piece
//! (an env value, a response field, a credential, a var derived from
//! them), whatever route it took. Literal text of the spec is public.

mod body;
pub(crate) mod form;
mod request;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

pub(crate) use body::{Body, Checked, FileId, PartContent, Raw, Upload};
pub(crate) use request::{Request, build_request};

use crate::secret::Secret;
use crate::spec::coerce::{ValueError, coerce};
use crate::spec::{Auth, ParamType, Placement};
use crate::template::{Live, Scope, TemplateError, Templates, to_value, visit_strings};

/// Shown in plan wherever a secret would go; registered with the redactor so
/// it prints as `***` like a real secret.
pub(crate) const PLAN_SECRET: &str = "runner-plan-secret-placeholder";

/// The scope name listing the inputs of a sub-workflow whose values wait
/// for the run (plan and the checks before a run): templates using them
/// wait too.
pub(crate) const UNKNOWN_INPUTS: &str = "__runner_unknown_inputs";

/// Renders templates either for real (`apply`) or for `plan`, where values
/// that need an earlier response or an unset env var stay as their source.
pub(crate) struct Renderer<'a> {
    pub templates: &'a Templates,
    pub scope: &'a Scope,
    pub plan: bool,
    /// In plan, the steps whose results are known already (resumed from a
    /// journal); templates using any other step wait for the run.
    pub known_steps: Option<&'a Live>,
    /// Plan shows what waits for the run with what is known filled in
    /// ([`Renderer::partial`]); the checks before a run show nothing, so
    /// they skip that work.
    pub show_known: bool,
}

/// A rendered value, and whether some of it was left as source text (plan only).
pub(crate) struct Rendered {
    pub value: Value,
    pub deferred: bool,
}

impl Renderer<'_> {
    /// Whether `source` must wait for the run (plan only).
    pub(crate) fn deferred(&self, source: &str) -> bool {
        self.plan && self.templates.refs(source).is_some_and(|r| self.waits(r))
    }

    /// Whether a template reading `r` must wait for the run (plan only).
    fn waits(&self, r: &crate::template::Refs) -> bool {
        let unknown_step = |id: &str| self.known_steps.is_none_or(|known| known.get(id).is_none());
        // A name the scope does not bind yet (a loop item whose list is not
        // known, a response) waits for the run.
        let unbound = |name: &str| {
            self.scope.get(name).is_none()
                && !crate::template::BUILTINS.contains(&name)
                && !crate::template::STATUS_FUNCTIONS.contains(&name)
        };
        // Inputs of a sub-workflow given values that wait for the run.
        let unknown_inputs = self.scope.get(UNKNOWN_INPUTS);
        let unknown_input = |name: &str| {
            unknown_inputs.is_some_and(|names| {
                names
                    .try_iter()
                    .is_ok_and(|mut names| names.any(|n| n.as_str() == Some(name)))
            })
        };
        r.dynamic.contains("steps")
            || r.inputs.iter().any(|n| unknown_input(n))
            || (r.dynamic.contains("inputs") && unknown_inputs.is_some())
            || r.steps.iter().any(|(id, _)| unknown_step(id))
            || r.dynamic.contains("env")
            || r.env.iter().any(|n| !self.scope.has_env(n))
            || r.other.iter().any(|n| unbound(n))
    }

    /// A template that waits for the run (plan) as plan shows it: each
    /// expression known before the run replaced by its value, the rest as
    /// written. What reads `env` stays a reference: a secret is shown by
    /// name, never by value.
    pub(crate) fn partial(&self, source: &str) -> String {
        if !self.show_known {
            return source.to_string();
        }
        self.templates
            .partial(source, self.scope, &|r| self.waits(r) || !r.env.is_empty())
    }

    pub(crate) fn render(&self, value: &Value) -> Result<Rendered, TemplateError> {
        let mut sources = Vec::new();
        visit_strings(value, &mut |s| sources.push(s.to_string()));
        if sources.iter().any(|s| self.deferred(s)) {
            return Ok(Rendered {
                value: self.defer(value),
                deferred: true,
            });
        }
        Ok(Rendered {
            value: self.templates.render_value(value, self.scope)?,
            deferred: false,
        })
    }

    /// `value` with its deferred strings kept as source and the rest rendered
    /// where possible.
    fn defer(&self, value: &Value) -> Value {
        match value {
            Value::String(s) if self.deferred(s) => Value::String(self.partial(s)),
            Value::String(s) => self
                .templates
                .render(s, self.scope)
                .unwrap_or_else(|_| Value::String(s.clone())),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.defer(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.defer(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Renders a template that must yield text.
    pub(crate) fn text(&self, source: &str) -> Result<String, TemplateError> {
        Ok(
            match self.render(&Value::String(source.to_string()))?.value {
                Value::String(s) => s,
                other => other.to_string(),
            },
        )
    }

    fn with_scope<'b>(&'b self, scope: &'b Scope) -> Renderer<'b> {
        Renderer {
            templates: self.templates,
            scope,
            plan: self.plan,
            known_steps: self.known_steps,
            show_known: self.show_known,
        }
    }
}

/// A step's params after rendering, typing and defaults; optional params
/// that were not given (or rendered to null) are left out.
pub(crate) struct Params {
    pub values: Vec<(String, Value)>,
    /// Names of params whose value is still a template (plan only).
    pub deferred: Vec<String>,
    /// Where the file of each `type: file` param is, by param name
    /// (deferred ones left out).
    pub files: Vec<(String, FileParam)>,
}

/// The file a `type: file` param names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FileParam {
    /// The value, resolved against its [`Origin`]: beside the spec file
    /// whose literal text it is, or from the current directory when
    /// whoever runs the spec gave it.
    pub path: PathBuf,
    pub origin: Origin,
}

/// Where the text naming a file comes from, which says what a relative
/// path is relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Literal text of this spec file (a param, a literal var, a literal
    /// loop list, a `with:`, a default): relative to the file's directory.
    Spec(String),
    /// Given by whoever runs the spec (`--var`, `--input`,
    /// `--inputs-file`, `RUNNER_INPUT_*`): relative to the current directory.
    Outside,
}

impl Origin {
    /// `value`, a path, resolved against this origin.
    pub(crate) fn resolve(&self, value: &str) -> PathBuf {
        match self {
            Origin::Spec(file) => beside(file, value),
            Origin::Outside => PathBuf::from(value),
        }
    }
}

/// Where the values that may name files come from, in one workflow run:
/// what [`crate::check::uploads`] allows (literal text, one input, one
/// var, a loop item over those) traced to its [`Origin`].
pub(crate) struct Origins<'a> {
    pub vars: &'a indexmap::IndexMap<String, crate::spec::Var>,
    /// `--var NAME=VALUE`.
    pub given_vars: &'a [(String, String)],
    /// The workflow's inputs that have an origin, by name.
    pub inputs: &'a BTreeMap<String, Origin>,
}

impl Origins<'_> {
    /// The origin of var `name`: the command line when `--var` gives it,
    /// else the spec file that defines it.
    pub(crate) fn var(&self, name: &str) -> Option<Origin> {
        if self.given_vars.iter().any(|(n, _)| n == name) {
            return Some(Origin::Outside);
        }
        self.vars
            .get(name)
            .filter(|v| crate::check::uploads::literal(&v.value))
            .map(|v| Origin::Spec(v.loc.file_name().to_string()))
    }

    /// The origin of `value`, written in the spec file `written_in` in a
    /// step with the loop `each`; `None` when the value is computed.
    pub(crate) fn of(
        &self,
        value: &Value,
        written_in: &str,
        each: Option<&crate::spec::Each>,
    ) -> Option<Origin> {
        use crate::check::uploads::{Form, form};
        match form(value, each.map(|e| e.name.value.as_str())) {
            Form::Literal => Some(Origin::Spec(written_in.to_string())),
            Form::Input(name) => self.inputs.get(name).cloned(),
            Form::Var(name) => self.var(name),
            Form::Item => {
                let each = each?;
                self.of(&each.list.value, each.list.loc.file_name(), None)
            }
            Form::Computed => None,
        }
    }
}

/// `value` relative to the directory of the spec file `file`.
fn beside(file: &str, value: &str) -> PathBuf {
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    dir.join(value)
}

/// Why a step's param has no value to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParamError {
    /// A file param whose path was computed, by param name.
    #[error(
        "param `{0}` names a file to upload, and its value is not literal text, one input or one var; {help}",
        help = crate::check::uploads::HELP
    )]
    ComputedFile(String),
    #[error("param `{param}`: {error}")]
    Template { param: String, error: TemplateError },
    #[error("param `{param}`: {error}")]
    Value { param: String, error: ValueError },
    #[error("param `{0}` is required but rendered to null")]
    RequiredNull(String),
}

/// Renders a step's params for `action`; `set` replaces one param's value
/// (a pagination cursor). `origins` says where the text naming each file
/// comes from.
pub(crate) fn params(
    step: &crate::spec::Step,
    action: &crate::spec::Action,
    r: &Renderer,
    origins: &Origins,
    set: Option<(&str, &Value)>,
) -> Result<Params, ParamError> {
    let mut out = Params {
        values: Vec::new(),
        deferred: Vec::new(),
        files: Vec::new(),
    };
    let computed = |name: &str| ParamError::ComputedFile(name.to_string());
    let value_error = |name: &str| {
        let param = name.to_string();
        move |error| ParamError::Value { param, error }
    };
    for (name, param) in &action.params {
        if let Some((set_name, value)) = set
            && set_name == name
        {
            if param.ty == ParamType::File {
                return Err(computed(name));
            }
            let value = coerce(param.ty, value.clone()).map_err(value_error(name))?;
            out.values.push((name.clone(), value));
            continue;
        }
        // Where the text naming a file comes from.
        let origin;
        let rendered = match step.params.get(name) {
            Some(given) => {
                origin = origins.of(&given.value, given.loc.file_name(), step.each.as_deref());
                r.render(&given.value)
                    .map_err(|error| ParamError::Template {
                        param: name.clone(),
                        error,
                    })?
            }
            None => match &param.default {
                Some(d) => {
                    origin = Some(Origin::Spec(param.loc.file_name().to_string()));
                    Rendered {
                        value: d.clone(),
                        deferred: false,
                    }
                }
                None => continue,
            },
        };
        if rendered.deferred {
            out.deferred.push(name.clone());
            out.values.push((name.clone(), rendered.value));
            continue;
        }
        if rendered.value.is_null() {
            if param.required {
                return Err(ParamError::RequiredNull(name.clone()));
            }
            continue;
        }
        let value = param.conform(rendered.value).map_err(value_error(name))?;
        if param.ty == ParamType::File
            && let Value::String(path) = &value
        {
            let origin = origin.ok_or_else(|| computed(name))?;
            out.files.push((
                name.clone(),
                FileParam {
                    path: origin.resolve(path),
                    origin,
                },
            ));
        }
        out.values.push((name.clone(), value));
    }
    Ok(out)
}

/// A credential from a source, as auth templates see it
/// (`descope.access_token`, `descope.token_type`).
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The name templates see it under (`descope`).
    pub source: &'static str,
    pub access_token: Secret,
    pub token_type: String,
}

/// Auth after rendering.
#[derive(Debug, Default)]
pub(crate) struct RenderedAuth {
    pub params: Vec<(String, Placement, Secret)>,
    pub base_url: Option<String>,
    pub body: Option<serde_json::Map<String, Value>>,
}

/// What in the scope comes from outside the spec, beyond `env` and step
/// responses: vars derived from them (or given with `--var`), and inputs.
#[derive(Debug, Default, Clone)]
pub(crate) struct Taint {
    pub vars: BTreeSet<String>,
}

/// An auth value whose template failed: `what` names the value (`auth
/// parameter `Authorization``, `auth `base_url``).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {error}")]
pub(crate) struct AuthValueError {
    pub what: String,
    pub error: TemplateError,
}

/// Renders auth. Everything secret in it is pushed to `secrets` as soon as
/// it is known, even when rendering fails later, so the caller can register
/// it before anything could print it.
pub(crate) fn auth(
    auth: &Auth,
    token: Option<&Token>,
    r: &Renderer,
    taint: &Taint,
    secrets: &mut Vec<Secret>,
) -> Result<RenderedAuth, AuthValueError> {
    let mut scope = r.scope.clone();
    if let Some(t) = token {
        scope.set(
            t.source,
            to_value(&serde_json::json!({
                "access_token": t.access_token.expose(),
                "token_type": t.token_type,
            })),
        );
        secrets.push(t.access_token.clone());
    }
    let fallback = r.plan.then_some(PLAN_SECRET);
    // Renders one auth value, noting what in it came from outside the spec.
    let mut render = |source: &str, what: &str| -> Result<Value, AuthValueError> {
        let (tracked, leaves) = scope.tracking(&["steps", "vars", "inputs"], fallback);
        let ar = r.with_scope(&tracked);
        let value = if ar.deferred(source) {
            Value::String(PLAN_SECRET.to_string())
        } else {
            ar.render(&Value::String(source.to_string()))
                .map_err(|error| AuthValueError {
                    what: what.to_string(),
                    error,
                })?
                .value
        };
        let mut pieces: Vec<String> = tracked.env_used().into_iter().map(|(_, v)| v).collect();
        for (root, seen) in &leaves {
            let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            for (name, leaf) in seen.iter() {
                if root != "vars" || taint.vars.contains(name) {
                    pieces.push(leaf.clone());
                }
            }
        }
        let uses_token = token.is_some_and(|t| {
            r.templates
                .refs(source)
                .is_some_and(|refs| refs.other.contains(t.source))
        });
        let outside = !pieces.is_empty() || uses_token || r.plan && value_is_placeholder(&value);
        for piece in pieces {
            secrets.push(Secret::new(piece));
        }
        if outside {
            visit_strings(&value, &mut |s| secrets.push(credential_part(s)));
        }
        Ok(value)
    };
    let mut params = Vec::new();
    if auth.parameters.is_empty()
        && let Some(t) = token
    {
        let value = format!("Bearer {}", t.access_token.expose());
        params.push((
            "Authorization".to_string(),
            Placement::Header,
            Secret::new(value),
        ));
    }
    for p in &auth.parameters {
        let value = match render(&p.value, &format!("auth parameter `{}`", p.name))? {
            Value::String(s) => s,
            other => other.to_string(),
        };
        params.push((p.name.clone(), p.placement, Secret::new(value)));
    }
    let base_url = match &auth.base_url {
        // Waiting for the run (plan): the app's base URL stands in.
        Some(b) if r.deferred(&b.value) => None,
        Some(b) => Some(match render(&b.value, "auth `base_url`")? {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        None => None,
    };
    let body = match &auth.body {
        Some(b) => {
            let mut map = serde_json::Map::new();
            for (field, value) in &b.value {
                map.insert(field.clone(), render_tree(value, &mut render, field)?);
            }
            Some(map)
        }
        None => None,
    };
    Ok(RenderedAuth {
        params,
        base_url,
        body,
    })
}

/// Renders every string of an auth `body` field through `render`.
fn render_tree(
    value: &Value,
    render: &mut impl FnMut(&str, &str) -> Result<Value, AuthValueError>,
    field: &str,
) -> Result<Value, AuthValueError> {
    Ok(match value {
        Value::String(s) => render(s, &format!("auth `body` field `{field}`"))?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_tree(v, render, field))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_tree(v, render, field)?)))
                .collect::<Result<_, AuthValueError>>()?,
        ),
        other => other.clone(),
    })
}

fn value_is_placeholder(value: &Value) -> bool {
    let mut found = false;
    visit_strings(value, &mut |s| found |= s.contains(PLAN_SECRET));
    found
}

/// The secret part of an auth value: the text after a scheme word
/// (`Bearer`, `Basic`, `token`), so it prints as `Bearer ***`; else all of it.
fn credential_part(value: &str) -> Secret {
    let trimmed = value.trim();
    if let Some((scheme, rest)) = trimmed.split_once(' ') {
        let is_scheme = !scheme.is_empty()
            && scheme.len() <= 12
            && scheme.chars().all(|c| c.is_ascii_alphabetic());
        if is_scheme && !rest.trim().is_empty() {
            return Secret::new(rest.trim());
        }
    }
    Secret::new(value)
}

/// Why a workflow's inputs cannot be bound to the values given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InputError {
    /// `help` is [`crate::error::suggest`]'s, or empty.
    #[error("unknown input `{name}`{help}")]
    Unknown { name: String, help: String },
    #[error("input `{name}`: {error}")]
    Value { name: String, error: ValueError },
    #[error("input `{0}` is required but not given")]
    Missing(String),
    /// Not one of the input's `enum`; `allowed` as messages list them,
    /// `found` as [`crate::spec::coerce::describe`] shows it.
    #[error("input `{name}` must be one of {allowed}, found {found}")]
    NotAllowed {
        name: String,
        allowed: String,
        found: String,
    },
}

/// Binds a workflow's `inputs` to the values `given` (from the command line
/// or a caller's `with:`): each converted to its type, checked against its
/// `enum`, defaults filled in, required ones present. The inputs named in
/// `unknown` are left out: their values wait for the run (plan: a
/// sub-workflow given an earlier response).
pub(crate) fn bind_known_inputs(
    inputs: &indexmap::IndexMap<String, crate::spec::Input>,
    given: &indexmap::IndexMap<String, Value>,
    unknown: &[String],
) -> Result<Value, InputError> {
    let mut out = serde_json::Map::new();
    for name in given.keys() {
        if !inputs.contains_key(name) {
            return Err(InputError::Unknown {
                name: name.clone(),
                help: crate::error::suggest(name, inputs.keys().map(String::as_str)),
            });
        }
    }
    for (name, input) in inputs {
        if unknown.contains(name) {
            continue;
        }
        let value = match given.get(name).filter(|v| !v.is_null()) {
            Some(v) => coerce(input.ty, v.clone()).map_err(|error| InputError::Value {
                name: name.clone(),
                error,
            })?,
            None => match &input.default {
                Some(d) => d.clone(),
                None if input.required => return Err(InputError::Missing(name.clone())),
                None => continue,
            },
        };
        if let Some(allowed) = &input.allowed
            && !allowed.contains(&value)
        {
            return Err(InputError::NotAllowed {
                name: name.clone(),
                allowed: allowed
                    .iter()
                    .map(|v| {
                        format!(
                            "`{}`",
                            v.as_str().map(str::to_string).unwrap_or(v.to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                found: crate::spec::coerce::describe(&value),
            });
        }
        out.insert(name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// The vars after rendering, and which of them come from outside the spec.
pub(crate) struct Vars {
    pub value: Value,
    pub taint: Taint,
}

/// Renders every var in order, each seeing the ones before it. A `--var`
/// overriding a list or object var is read as YAML and must have that
/// shape; other overrides are text.
pub(crate) fn vars(
    wf: &crate::check::Workflow,
    env: Arc<std::collections::BTreeMap<String, String>>,
    overrides: &[(String, String)],
    plan: bool,
    now: &str,
) -> Result<Vars, crate::error::Error> {
    use crate::error::{Diagnostic, Error};
    let mut vars = serde_json::Map::new();
    let mut taint = Taint::default();
    for (name, var) in &wf.spec.vars {
        if let Some((_, v)) = overrides.iter().rev().find(|(n, _)| n == name) {
            vars.insert(name.clone(), override_value(name, &var.value, v)?);
            taint.vars.insert(name.clone());
            continue;
        }
        let scope = Scope::new(env.clone())
            .with("vars", to_value(&Value::Object(vars.clone())))
            .with(crate::template::time::NOW, now.into());
        let r = Renderer {
            templates: &wf.templates,
            scope: &scope,
            plan,
            known_steps: None,
            show_known: plan,
        };
        let value = r.render(&var.value).map_err(|e| {
            Error::spec(Diagnostic::new(
                format!("var `{name}`: {e}"),
                Some(var.loc.clone()),
            ))
        })?;
        let refs = wf.templates.refs_in(&var.value);
        if !refs.env.is_empty()
            || !refs.dynamic.is_empty()
            || !refs.inputs.is_empty()
            || refs.vars.iter().any(|v| taint.vars.contains(v))
        {
            taint.vars.insert(name.clone());
        }
        vars.insert(name.clone(), value.value);
    }
    Ok(Vars {
        value: Value::Object(vars),
        taint,
    })
}

/// The value of `--var name=text` for a var whose spec value is `spec`.
fn override_value(name: &str, spec: &Value, text: &str) -> Result<Value, crate::error::Error> {
    let shape = match spec {
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
        _ => return Ok(Value::String(text.to_string())),
    };
    let parsed: Option<Value> = serde_yaml::from_str::<serde_yaml::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_value(v).ok());
    match parsed {
        Some(v @ Value::Array(_)) if shape == "a list" => Ok(v),
        Some(v @ Value::Object(_)) if shape == "a mapping" => Ok(v),
        _ => Err(crate::error::Error::Usage(format!(
            "`--var {name}=...`: var `{name}` is {shape} in the spec, so its value must be {shape} in YAML (like `{}`)",
            if shape == "a list" {
                "[a, b]"
            } else {
                "{key: value}"
            }
        ))),
    }
}
