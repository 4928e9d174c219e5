//! Running a workflow: `plan` renders every request without sending any;
//! `apply` checks everything it can first (so a bad spec or a missing
//! variable sends nothing), then runs the steps strictly in order, each
//! seeing the responses of the ones before.

mod http;
mod journal;
mod retry;
mod run;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::check::{Bound, Workflow};
use crate::error::{Error, Result};
use crate::redact::{Redactor, Registered};
use crate::render::{self, PLAN_SECRET, Renderer, Request, Scope, Token};
use crate::resolve::descope;
use crate::secret::Secret;
use crate::spec::{Descope, Step, Timeouts};

pub use http::{SENT_ANY, error_chain};
pub use journal::default_path as default_journal_path;
pub use retry::parse_retry_after;
pub use run::apply;

/// How to run: everything that comes from outside the spec.
#[derive(Clone, Default)]
pub struct Options {
    /// The environment templates see as `env`.
    pub env: Arc<BTreeMap<String, String>>,
    /// `--var NAME=VALUE`, overriding the spec's vars.
    pub vars: Vec<(String, String)>,
    /// `--base-url APP=URL`: send an app's requests elsewhere (a stand-in, say).
    pub base_urls: Vec<(String, String)>,
    /// `--resolve HOST:PORT:ADDR`.
    pub resolve: Vec<(String, SocketAddr)>,
    /// Allow auth over plain `http://` to hosts other than loopback.
    pub allow_http: bool,
    /// Where every secret is registered as soon as it is known.
    pub redactor: Redactor,
    /// `--timeout` / `--connect-timeout`: below a step's and an app's own.
    pub timeouts: Timeouts,
    /// `--max-response-size`, in bytes.
    pub max_response_size: Option<usize>,
    /// Where to journal the run; `None`: no journal.
    pub journal: Option<PathBuf>,
    /// Continue the journal: skip the steps it records as done.
    pub resume: bool,
    /// On resume, send again a POST or PATCH that was in flight when the
    /// journalled run stopped.
    pub rerun_uncertain: bool,
    /// Extra CA certificates (PEM), for private CAs.
    pub cacerts: Vec<Vec<u8>>,
    /// Accept any certificate (`--insecure`; warned about on every run).
    pub insecure: bool,
}

/// One step as `plan` shows it.
#[derive(Debug)]
pub struct PlannedStep {
    pub name: String,
    pub label: String,
    pub action: String,
    pub request: Request,
    /// Params that wait for an earlier step's response.
    pub deferred: Vec<String>,
}

/// What `plan` found: the requests, and what `apply` will still need.
#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    pub warnings: Vec<String>,
}

/// Renders every request without sending anything or reading any secret
/// source but the environment.
pub fn plan(wf: &Workflow, opts: &Options) -> Result<Plan> {
    check_var_overrides(wf, opts)?;
    let vars = render::vars(wf, opts.env.clone(), &opts.vars, true)?;
    opts.redactor.register(&Secret::new(PLAN_SECRET));
    let mut warnings: Vec<String> = wf
        .env_refs
        .iter()
        .filter(|(name, _)| !opts.env.contains_key(*name))
        .map(|(name, loc)| format!("env `{name}` is not set; `apply` will need it (used at {loc})"))
        .collect();
    let mut steps = Vec::new();
    let vars = render::to_template_value(&vars);
    for (step, bound) in wf.spec.steps.iter().zip(&wf.bound) {
        let scope = Scope::from_values(opts.env.clone(), vars.clone(), minijinja::Value::UNDEFINED);
        let r = Renderer {
            templates: &wf.templates,
            scope: &scope,
            plan: true,
        };
        let token = bound
            .auth
            .as_ref()
            .and_then(|a| a.descope.as_ref())
            .map(|_| Token {
                access_token: Secret::new(PLAN_SECRET),
                token_type: "Bearer".to_string(),
            });
        let params = render::params(step, bound, &r).map_err(|e| step_error(step, e))?;
        let prepared =
            prepare(bound, &params, &r, token.as_ref(), opts).map_err(|e| step_error(step, e))?;
        register(&opts.redactor, &prepared.secrets, &mut warnings);
        steps.push(PlannedStep {
            name: step.name(),
            label: step.label(),
            action: bound.action.name.clone(),
            request: prepared.request,
            deferred: params.deferred,
        });
    }
    Ok(Plan { steps, warnings })
}

fn step_error(step: &Step, message: String) -> Error {
    Error::spec(crate::error::Diagnostic::new(
        message,
        Some(step.loc.clone()),
    ))
}

fn check_var_overrides(wf: &Workflow, opts: &Options) -> Result<()> {
    for (name, _) in &opts.vars {
        if !wf.spec.vars.contains_key(name) {
            let help = crate::error::did_you_mean(name, wf.spec.vars.keys().map(String::as_str))
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(Error::Usage(format!(
                "`--var {name}=...` names no var of the spec{help}"
            )));
        }
    }
    Ok(())
}

struct Prepared {
    request: Request,
    secrets: Vec<Secret>,
}

/// The base URL override for an app (`--base-url`), if any.
fn base_override<'a>(opts: &'a Options, app: &str) -> Option<&'a str> {
    opts.base_urls
        .iter()
        .find(|(name, _)| name == app)
        .map(|(_, url)| url.as_str())
}

/// Renders a step's auth and builds its request from its rendered params.
fn prepare(
    bound: &Bound,
    params: &render::Params,
    r: &Renderer,
    token: Option<&Token>,
    opts: &Options,
) -> std::result::Result<Prepared, String> {
    let mut secrets = Vec::new();
    let auth = match &bound.auth {
        Some(a) => {
            let rendered = render::auth(a, token, r)?;
            secrets = auth_secrets(&rendered, token);
            Some(rendered)
        }
        None => None,
    };
    let base = base_override(opts, &bound.app.name);
    let request = render::build_request(&bound.app, &bound.action, params, auth.as_ref(), base)?;
    if request.carries_auth && !opts.allow_http {
        insecure_auth(&request.url)?;
    }
    Ok(Prepared { request, secrets })
}

/// What to mask for a rendered auth: the env values and token it used, and
/// each whole value that does not simply contain one of them (a `Basic`
/// header built with `b64encode`, say). So `Bearer <token>` prints as
/// `Bearer ***`, and a transformed value still prints as `***`.
fn auth_secrets(auth: &render::RenderedAuth, token: Option<&Token>) -> Vec<Secret> {
    let mut parts: Vec<Secret> = auth.env_secrets.clone();
    parts.extend(token.map(|t| t.access_token.clone()));
    parts.push(Secret::new(PLAN_SECRET));
    let maskable =
        |part: &Secret| part.expose().trim().chars().count() >= crate::redact::MIN_SECRET_LEN;
    let mut secrets = parts.clone();
    for (_, _, value) in &auth.params {
        let covered = parts
            .iter()
            .any(|p| maskable(p) && value.expose().contains(p.expose()));
        if !covered {
            secrets.push(value.clone());
        }
    }
    secrets.retain(|s| s.expose() != PLAN_SECRET);
    secrets
}

/// Auth goes over plain http only to loopback, unless `--allow-http`.
fn insecure_auth(url: &str) -> std::result::Result<(), String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(());
    };
    if parsed.scheme() != "http" {
        return Ok(());
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if loopback {
        return Ok(());
    }
    Err(format!(
        "refusing to send credentials over plain http to `{}`; use https, or pass `--allow-http` if you mean it",
        parsed.host_str().unwrap_or_default()
    ))
}

fn register(redactor: &Redactor, secrets: &[Secret], warnings: &mut Vec<String>) {
    for s in secrets {
        if redactor.register(s) == Registered::TooShort && !s.expose().is_empty() {
            let w = format!(
                "a secret value is shorter than {} characters and cannot be masked in output",
                crate::redact::MIN_SECRET_LEN
            );
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
}

/// Checks everything that can be checked before the first request.
fn preflight(wf: &Workflow, opts: &Options) -> Result<Value> {
    let missing: Vec<String> = wf
        .env_refs
        .iter()
        .filter(|(name, _)| !opts.env.contains_key(*name))
        .map(|(name, loc)| format!("environment variable `{name}` is not set (used at {loc})"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Environment(missing.join("\nerror: ")));
    }
    let vars = render::vars(wf, opts.env.clone(), &opts.vars, false)?;
    for (step, bound) in wf.spec.steps.iter().zip(&wf.bound) {
        if let Some(d) = bound.auth.as_ref().and_then(|a| a.descope.as_ref()) {
            let scope = Scope::new(opts.env.clone(), &vars, &Value::Null);
            let r = Renderer {
                templates: &wf.templates,
                scope: &scope,
                plan: true,
            };
            descope_settings(d, &r, opts)
                .map_err(|e| Error::Environment(format!("{}: {e}", step.label())))?;
        }
    }
    plan(wf, opts)?;
    Ok(vars)
}

fn descope_settings(
    d: &Descope,
    r: &Renderer,
    opts: &Options,
) -> std::result::Result<descope::Settings, String> {
    let setting = |field: &Option<crate::spec::Located<String>>,
                   var: &str,
                   what: &str|
     -> std::result::Result<Option<String>, String> {
        match field {
            Some(f) => render::text(&f.value, r)
                .map(Some)
                .map_err(|e| format!("descope `{what}`: {e}")),
            None => Ok(opts.env.get(var).filter(|v| !v.is_empty()).cloned()),
        }
    };
    let project_id =
        setting(&d.project_id, descope::PROJECT_ID_VAR, "project_id")?.ok_or_else(|| {
            format!(
                "the Descope project id is not set: set `{}` or `descope.project_id`",
                descope::PROJECT_ID_VAR
            )
        })?;
    let key = setting(
        &d.management_key,
        descope::MANAGEMENT_KEY_VAR,
        "management_key",
    )?
    .ok_or_else(|| {
        format!(
            "the Descope management key is not set: set `{}` or `descope.management_key`",
            descope::MANAGEMENT_KEY_VAR
        )
    })?;
    let base = setting(&d.base_url, descope::BASE_URL_VAR, "base_url")?;
    let base_url = descope::base_url(base, &project_id);
    if !opts.allow_http {
        insecure_auth(&base_url).map_err(|e| format!("descope: {e}"))?;
    }
    Ok(descope::Settings {
        base_url,
        project_id,
        management_key: Secret::new(key),
    })
}

fn status_error(step: &Step, response: &http::Response) -> String {
    let expected = if step.expect_status.is_empty() {
        "a 2xx status".to_string()
    } else {
        step.expect_status
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut message = format!(
        "expected {expected}, got {} {}",
        response.status, response.reason
    );
    if let Some(detail) = api_message(&response.body) {
        message.push_str(&format!(": {detail}"));
    }
    message
}

/// The API's own words about an error, from the usual fields.
fn api_message(body: &Value) -> Option<String> {
    match body {
        Value::Object(map) => [
            "message",
            "error_description",
            "errorMessage",
            "error",
            "detail",
            "title",
        ]
        .iter()
        .find_map(|k| match map.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(excerpt(s)),
            Some(v @ Value::Object(_)) => api_message(v),
            _ => None,
        })
        .or_else(|| Some(excerpt(&body.to_string()))),
        Value::String(s) if !s.trim().is_empty() => Some(excerpt(s)),
        _ => None,
    }
}

/// At most 300 characters of `text`, on one line.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 300 {
        one_line.chars().take(297).collect::<String>() + "..."
    } else {
        one_line
    }
}
