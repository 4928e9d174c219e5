//! Running a workflow: `plan` renders every request without sending any;
//! `apply` checks everything it can first (so a bad spec or a missing
//! variable sends nothing), then runs the steps strictly in order, each
//! seeing the responses of the ones before.

mod http;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::check::{Bound, Workflow};
use crate::error::{Error, Result};
use crate::redact::{Redactor, Registered};
use crate::render::{self, PLAN_SECRET, Renderer, Request, Scope, Token};
use crate::report::{Reporter, RunReport, StepReport, StepStatus};
use crate::resolve::descope::{self, TokenRequest};
use crate::secret::Secret;
use crate::spec::{Descope, Step};

pub use http::{describe as describe_transport_error, error_chain};

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
    for (step, bound) in wf.spec.steps.iter().zip(&wf.bound) {
        let scope = Scope::new(opts.env.clone(), &vars, &Value::Null);
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
        let prepared =
            prepare(step, bound, &r, token.as_ref(), opts).map_err(|e| step_error(step, e))?;
        register(&opts.redactor, &prepared.secrets, &mut warnings);
        steps.push(PlannedStep {
            name: step.name(),
            label: step.label(),
            action: bound.action.name.clone(),
            request: prepared.request,
            deferred: prepared.deferred,
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
    deferred: Vec<String>,
}

/// Renders a step's auth and params and builds its request.
fn prepare(
    step: &Step,
    bound: &Bound,
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
    let params = render::params(step, bound, r)?;
    let base = opts
        .base_urls
        .iter()
        .find(|(app, _)| *app == bound.app.name)
        .map(|(_, url)| url.as_str());
    let request = render::build_request(&bound.app, &bound.action, &params, auth.as_ref(), base)?;
    if request.carries_auth && !opts.allow_http {
        insecure_auth(&request.url)?;
    }
    Ok(Prepared {
        request,
        secrets,
        deferred: params.deferred,
    })
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

/// Runs the steps in order. `Err` means nothing was sent.
pub async fn apply(
    wf: &Workflow,
    opts: &Options,
    reporter: &mut dyn Reporter,
) -> Result<RunReport> {
    let vars = preflight(wf, opts)?;
    let client = http::client(&opts.resolve).map_err(Error::Environment)?;
    let mut run = Run {
        wf,
        opts,
        client,
        vars,
        steps: serde_json::Map::new(),
        tokens: HashMap::new(),
        warnings: Vec::new(),
    };
    let started = Instant::now();
    let mut report = RunReport {
        ok: true,
        steps: Vec::new(),
        duration: Duration::ZERO,
    };
    let mut stopped = false;
    for (step, bound) in wf.spec.steps.iter().zip(&wf.bound) {
        if stopped {
            let skipped = StepReport::skipped(step, &bound.action.name);
            reporter.step(&skipped);
            report.steps.push(skipped);
            continue;
        }
        let begin = Instant::now();
        let outcome = run.step(step, bound, reporter).await;
        for w in run.warnings.drain(..) {
            reporter.warn(&w);
        }
        let mut step_report = StepReport {
            id: step.id.clone(),
            name: step.name(),
            action: bound.action.name.clone(),
            status: StepStatus::Ok,
            http_status: None,
            reason: None,
            duration: begin.elapsed(),
            response: None,
            error: None,
            continued: false,
        };
        match outcome {
            Ok(response) => {
                step_report.http_status = Some(response.status);
                step_report.reason = Some(response.reason.clone());
                let accepted = if step.expect_status.is_empty() {
                    (200..300).contains(&response.status)
                } else {
                    step.expect_status.contains(&response.status)
                };
                if !accepted {
                    step_report.status = StepStatus::Failed;
                    step_report.error = Some(status_error(step, &response));
                }
                step_report.response = Some(response.body.clone());
                if let Some(id) = &step.id {
                    run.steps.insert(
                        id.clone(),
                        json!({"status": response.status, "headers": response.headers, "response": response.body}),
                    );
                }
            }
            Err(message) => {
                step_report.status = StepStatus::Failed;
                step_report.error = Some(message);
            }
        }
        if step_report.status == StepStatus::Failed {
            if step.continue_on_error {
                step_report.continued = true;
            } else {
                report.ok = false;
                stopped = true;
            }
        }
        reporter.step(&step_report);
        report.steps.push(step_report);
    }
    report.duration = started.elapsed();
    Ok(report)
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

struct Run<'a> {
    wf: &'a Workflow,
    opts: &'a Options,
    client: reqwest::Client,
    vars: Value,
    steps: serde_json::Map<String, Value>,
    /// Tokens fetched this run, by where and what was asked.
    tokens: HashMap<(String, String, TokenRequest), Token>,
    warnings: Vec<String>,
}

impl Run<'_> {
    async fn step(
        &mut self,
        step: &Step,
        bound: &Bound,
        reporter: &mut dyn Reporter,
    ) -> std::result::Result<http::Response, String> {
        let scope = Scope::new(
            self.opts.env.clone(),
            &self.vars,
            &Value::Object(self.steps.clone()),
        );
        let r = Renderer {
            templates: &self.wf.templates,
            scope: &scope,
            plan: false,
        };
        let token = match bound.auth.as_ref().and_then(|a| a.descope.as_ref()) {
            Some(d) => Some(self.token(d, &r, reporter).await?),
            None => None,
        };
        let prepared = prepare(step, bound, &r, token.as_ref(), self.opts)?;
        register(&self.opts.redactor, &prepared.secrets, &mut self.warnings);
        http::send(&self.client, &prepared.request).await
    }

    async fn token(
        &mut self,
        d: &Descope,
        r: &Renderer<'_>,
        reporter: &mut dyn Reporter,
    ) -> std::result::Result<Token, String> {
        let text = |f: &crate::spec::Located<String>| {
            render::text(&f.value, r).map_err(|e| format!("descope: {e}"))
        };
        let request = TokenRequest {
            app_id: text(&d.app_id)?,
            user_id: d.user_id.as_ref().map(text).transpose()?,
            tenant_id: d.tenant_id.as_ref().map(text).transpose()?,
            scopes: match &d.scopes {
                Some(scopes) if !scopes.is_empty() => Some(
                    scopes
                        .iter()
                        .map(text)
                        .collect::<std::result::Result<_, _>>()?,
                ),
                _ => None,
            },
        };
        let settings = descope_settings(d, r, self.opts)?;
        let key = (
            settings.base_url.clone(),
            settings.project_id.clone(),
            request,
        );
        if let Some(token) = self.tokens.get(&key) {
            return Ok(token.clone());
        }
        let request = &key.2;
        register(
            &self.opts.redactor,
            std::slice::from_ref(&settings.management_key),
            &mut self.warnings,
        );
        let fetched = descope::fetch(
            &self.client,
            &settings,
            request,
            descope::DEFAULT_TIMEOUT,
            &mut |reason, wait| {
                reporter.warn(&format!("{reason}; retrying in {} ms", wait.as_millis()))
            },
        )
        .await?;
        let mut secrets = vec![fetched.token.access_token.clone()];
        secrets.extend(fetched.refresh_token);
        register(&self.opts.redactor, &secrets, &mut self.warnings);
        self.tokens.insert(key, fetched.token.clone());
        Ok(fetched.token)
    }
}
