//! Rendering: templates into values, values into typed params, and params
//! plus auth into the exact HTTP request a step sends. Pure: the
//! environment and earlier responses come in through a [`Scope`].

mod coerce;
mod request;
mod templates;
pub mod watchdog;

use serde_json::Value;

pub use coerce::{coerce, describe, type_name};
pub use request::{Body, Request, build_request, user_agent};
pub use templates::{
    Refs, Scope, TemplateError, Templates, is_template, to_template_value, visit_strings,
};

use crate::check::{Bound, Workflow};
use crate::secret::Secret;
use crate::spec::{Auth, Placement, Step};

/// Shown in plan wherever a secret would go; registered with the redactor so
/// it prints as `***` like a real secret.
pub const PLAN_SECRET: &str = "runner-plan-secret-placeholder";

/// Renders templates either for real (`apply`) or for `plan`, where values
/// that need an earlier response or an unset env var stay as their source.
pub struct Renderer<'a> {
    pub templates: &'a Templates,
    pub scope: &'a Scope,
    pub plan: bool,
}

/// A rendered value, and whether some of it was left as source text (plan only).
pub struct Rendered {
    pub value: Value,
    pub deferred: bool,
}

impl Renderer<'_> {
    fn deferred(&self, source: &str) -> bool {
        self.plan
            && self.templates.refs(source).is_some_and(|r| {
                r.uses_steps()
                    || r.dynamic.contains("env")
                    || r.env.iter().any(|n| !self.scope.has_env(n))
            })
    }

    pub fn render(&self, value: &Value) -> Result<Rendered, TemplateError> {
        let mut deferred = false;
        let mut sources = Vec::new();
        visit_strings(value, &mut |s| sources.push(s.to_string()));
        if sources.iter().any(|s| self.deferred(s)) {
            deferred = true;
            return Ok(Rendered {
                value: self.defer(value),
                deferred,
            });
        }
        Ok(Rendered {
            value: self.templates.render_value(value, self.scope)?,
            deferred,
        })
    }

    /// `value` with its deferred strings kept as source and the rest rendered
    /// where possible.
    fn defer(&self, value: &Value) -> Value {
        match value {
            Value::String(s) if self.deferred(s) => Value::String(s.clone()),
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

    fn string(&self, source: &str) -> Result<String, TemplateError> {
        Ok(
            match self.render(&Value::String(source.to_string()))?.value {
                Value::String(s) => s,
                other => other.to_string(),
            },
        )
    }
}

/// A step's params after rendering, typing and defaults; optional params
/// that were not given (or rendered to null) are left out.
pub struct Params {
    pub values: Vec<(String, Value)>,
    /// Names of params whose value is still a template (plan only).
    pub deferred: Vec<String>,
}

pub fn params(step: &Step, bound: &Bound, r: &Renderer) -> Result<Params, String> {
    let mut out = Params {
        values: Vec::new(),
        deferred: Vec::new(),
    };
    for (name, param) in &bound.action.params {
        let rendered = match step.params.get(name) {
            Some(given) => r
                .render(&given.value)
                .map_err(|e| format!("param `{name}`: {e}"))?,
            None => match &param.default {
                Some(d) => Rendered {
                    value: d.clone(),
                    deferred: false,
                },
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
                return Err(format!("param `{name}` is required but rendered to null"));
            }
            continue;
        }
        let value = coerce(param.ty, rendered.value).map_err(|e| format!("param `{name}`: {e}"))?;
        out.values.push((name.clone(), value));
    }
    Ok(out)
}

/// An outbound-app token, as auth templates see it (`descope.access_token`).
#[derive(Debug, Clone)]
pub struct Token {
    pub access_token: Secret,
    pub token_type: String,
}

/// Auth after rendering: every parameter value is a secret.
#[derive(Debug, Default)]
pub struct RenderedAuth {
    pub params: Vec<(String, Placement, Secret)>,
    pub base_url: Option<String>,
    pub body: Option<serde_json::Map<String, Value>>,
    /// Env values the auth read: secrets too.
    pub env_secrets: Vec<Secret>,
}

pub fn auth(auth: &Auth, token: Option<&Token>, r: &Renderer) -> Result<RenderedAuth, String> {
    let descope_value = token.map(|t| {
        serde_json::json!({
            "access_token": t.access_token.expose(),
            "token_type": t.token_type,
        })
    });
    let scope = r
        .scope
        .for_auth(descope_value.as_ref(), r.plan.then_some(PLAN_SECRET));
    let ar = Renderer {
        templates: r.templates,
        scope: &scope,
        plan: r.plan,
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
        let value = if ar.deferred(&p.value) {
            PLAN_SECRET.to_string()
        } else {
            ar.string(&p.value)
                .map_err(|e| format!("auth parameter `{}`: {e}", p.name))?
        };
        params.push((p.name.clone(), p.placement, Secret::new(value)));
    }
    let base_url = match &auth.base_url {
        Some(b) => Some(
            ar.string(&b.value)
                .map_err(|e| format!("auth `base_url`: {e}"))?,
        ),
        None => None,
    };
    let body = match &auth.body {
        Some(b) => match ar
            .render(&Value::Object(b.value.clone()))
            .map_err(|e| format!("auth `body`: {e}"))?
            .value
        {
            Value::Object(map) => Some(map),
            _ => None,
        },
        None => None,
    };
    Ok(RenderedAuth {
        params,
        base_url,
        body,
        env_secrets: scope
            .env_used()
            .into_iter()
            .map(|(_, v)| Secret::new(v))
            .collect(),
    })
}

/// Renders a template that must yield text (Descope settings, say).
pub fn text(source: &str, r: &Renderer) -> Result<String, TemplateError> {
    r.string(source)
}

/// Renders every var in order, each seeing the ones before it.
pub fn vars(
    wf: &Workflow,
    r_env: std::sync::Arc<std::collections::BTreeMap<String, String>>,
    overrides: &[(String, String)],
    plan: bool,
) -> Result<Value, crate::error::Error> {
    let mut vars = serde_json::Map::new();
    for (name, var) in &wf.spec.vars {
        if let Some((_, v)) = overrides.iter().rev().find(|(n, _)| n == name) {
            vars.insert(name.clone(), Value::String(v.clone()));
            continue;
        }
        let scope = Scope::new(r_env.clone(), &Value::Object(vars.clone()), &Value::Null);
        let r = Renderer {
            templates: &wf.templates,
            scope: &scope,
            plan,
        };
        let value = r.render(&var.value).map_err(|e| {
            crate::error::Error::spec(crate::error::Diagnostic::new(
                format!("var `{name}`: {e}"),
                Some(var.loc.clone()),
            ))
        })?;
        vars.insert(name.clone(), value.value);
    }
    Ok(Value::Object(vars))
}
