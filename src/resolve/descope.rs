//! Outbound-app tokens from Descope's management API: the settings (from
//! the spec, else `DESCOPE_*`), the per-run cache, the secrets registered
//! (the management key, every token), and the HTTP calls.
//!
//! One POST per distinct (project, app, user, tenant, scopes) per run,
//! however many steps or loop items need it; nothing is cached across runs
//! (Descope refreshes the provider token when it is fetched). TLS is always
//! verified, whatever `--insecure` says, and the response is read within
//! the same size cap as a step's.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::Context;
use crate::http;
use crate::render::{Renderer, Token};
use crate::secret::Secret;
use crate::spec::Located;
use crate::template::TemplateError;

pub(crate) use crate::spec::Descope as Spec;

pub(crate) const DEFAULT_BASE_URL: &str = "https://api.descope.com";
pub(crate) const PROJECT_ID_VAR: &str = Spec::PROJECT_ID_VAR;
pub(crate) const MANAGEMENT_KEY_VAR: &str = Spec::MANAGEMENT_KEY_VAR;
pub(crate) const BASE_URL_VAR: &str = Spec::BASE_URL_VAR;
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Statuses Descope's SDKs retry, and the waits before each retry.
const RETRY_STATUSES: &[u16] = &[503, 520, 521, 522, 524, 530];
const RETRY_WAITS: &[Duration] = &[
    Duration::from_millis(100),
    Duration::from_secs(5),
    Duration::from_secs(5),
];
/// Longest `Retry-After` honoured on a 429 before giving up.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where and as whom to call Descope.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) project_id: String,
    pub(crate) management_key: Secret,
    pub(crate) base_url: String,
}

/// Descope's base URL: explicit, else derived from the project id the way
/// Descope's SDKs do for regional projects, else the global one.
pub(crate) fn base_url(explicit: Option<String>, project_id: &str) -> String {
    if let Some(url) = explicit.filter(|u| !u.is_empty()) {
        return url.trim_end_matches('/').to_string();
    }
    if project_id.len() >= 32
        && let Some(region) = project_id.get(1..5)
    {
        return format!("https://api.{region}.descope.com");
    }
    DEFAULT_BASE_URL.to_string()
}

/// Which token to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenRequest {
    pub(crate) app_id: String,
    pub(crate) user_id: Option<String>,
    pub(crate) tenant_id: Option<String>,
    /// `None`: the latest token, whatever its scopes.
    pub(crate) scopes: Option<Vec<String>>,
}

impl TokenRequest {
    /// The endpoint and JSON body, exactly as Descope documents them.
    pub(crate) fn endpoint(&self) -> (&'static str, Value) {
        let mut body = json!({ "appId": self.app_id });
        let path = match (&self.user_id, &self.scopes) {
            (Some(user), scopes) => {
                body["userId"] = json!(user);
                if let Some(tenant) = &self.tenant_id {
                    body["tenantId"] = json!(tenant);
                }
                match scopes {
                    Some(scopes) => {
                        body["scopes"] = json!(scopes);
                        "/v1/mgmt/outbound/app/user/token"
                    }
                    None => "/v1/mgmt/outbound/app/user/token/latest",
                }
            }
            (None, scopes) => {
                body["tenantId"] = json!(self.tenant_id.clone().unwrap_or_default());
                match scopes {
                    Some(scopes) => {
                        body["scopes"] = json!(scopes);
                        "/v1/mgmt/outbound/app/tenant/token"
                    }
                    None => "/v1/mgmt/outbound/app/tenant/token/latest",
                }
            }
        };
        (path, body)
    }

    /// `app `github` for user `u1``: how errors name the request (never the key).
    pub(crate) fn describe(&self) -> String {
        let mut s = format!("app `{}`", self.app_id);
        if let Some(u) = &self.user_id {
            s.push_str(&format!(" for user `{u}`"));
        }
        if let Some(t) = &self.tenant_id {
            s.push_str(&format!(" in tenant `{t}`"));
        }
        s
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: TokenBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    access_token_type: Option<String>,
    /// A number in some API versions, an RFC 3339 string in others.
    #[serde(default)]
    #[allow(dead_code)]
    access_token_expiry: Option<Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_message: String,
}

/// Why Descope gave no token: its settings, the call, or its answer.
/// Messages name the request (never the key).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DescopeError {
    /// A setting's template failed; `what` is its field (`project_id`).
    #[error("descope `{what}`: {error}")]
    Setting {
        what: &'static str,
        error: TemplateError,
    },
    #[error("the Descope project id is not set: set `{PROJECT_ID_VAR}` or `descope.project_id`")]
    NoProjectId,
    #[error(
        "the Descope management key is not set: set `{MANAGEMENT_KEY_VAR}` or `descope.management_key`"
    )]
    NoManagementKey,
    #[error("descope: `base_url` is not a valid URL (`{0}`)")]
    BadBaseUrl(String),
    #[error("descope: `base_url` must be an http or https URL, found `{0}`")]
    BaseUrlScheme(String),
    /// The key would cross the network in clear text; why, in words.
    #[error("descope: {0}")]
    ClearText(String),
    /// A field of the token request (`app_id`, `scopes`) failed to render.
    #[error("descope: {0}")]
    Request(TemplateError),
    #[error(transparent)]
    Client(#[from] http::ClientError),
    #[error(
        "descope did not answer within {}s when fetching the token of {what}",
        .timeout.as_secs_f64()
    )]
    Timeout { what: String, timeout: Duration },
    /// `chain` is [`http::error_chain`]'s.
    #[error("cannot reach descope at `{base_url}` to fetch the token of {what}: {chain}")]
    Unreachable {
        base_url: String,
        what: String,
        chain: String,
    },
    /// `size` as [`http::TooLarge::size`] shows it.
    #[error("descope answered {status} for {what} with a body larger than {size}")]
    TooLarge {
        status: reqwest::StatusCode,
        what: String,
        size: String,
    },
    #[error("descope's answer ({status}) for {what} broke off: {chain}")]
    BrokeOff {
        status: reqwest::StatusCode,
        what: String,
        chain: String,
    },
    #[error("descope answered {status} for {what} without a `token.accessToken`")]
    NoToken {
        status: reqwest::StatusCode,
        what: String,
    },
    /// An error status: what Descope said about it (`detail`), then what
    /// to do (`hints`, each after `; `).
    #[error(
        "descope answered {status} when fetching the token of {what}{}{}",
        .detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default(),
        .hints.iter().map(|h| format!("; {h}")).collect::<String>()
    )]
    Refused {
        status: reqwest::StatusCode,
        what: String,
        detail: Option<String>,
        hints: Vec<String>,
    },
}

/// A fetched token and every secret that came with it.
pub(crate) struct Fetched {
    pub(crate) token: Token,
    pub(crate) refresh_token: Option<Secret>,
}

/// Fetches one token, retrying as Descope's SDKs do; `on_retry` hears of
/// each wait; `tracer` of each request (its answers' bodies, which hold
/// tokens, are never traced).
pub(crate) async fn fetch(
    client: &reqwest::Client,
    settings: &Settings,
    request: &TokenRequest,
    timeout: Duration,
    redactor: &crate::redact::Redactor,
    on_retry: &mut dyn FnMut(&str, Duration),
    tracer: &http::Tracer<'_>,
) -> Result<Fetched, DescopeError> {
    let (path, body) = request.endpoint();
    let url = format!("{}{}", settings.base_url.trim_end_matches('/'), path);
    let auth = Secret::new(format!(
        "Bearer {}:{}",
        settings.project_id,
        settings.management_key.expose()
    ));
    let what = request.describe();
    let mut retries = RETRY_WAITS.iter();
    let mut rate_limited = 0;
    loop {
        let built = client
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, auth.expose())
            .header(reqwest::header::USER_AGENT, http::user_agent())
            .json(&body)
            .timeout(timeout)
            .build();
        if let Ok(built) = &built
            && tracer.requests()
        {
            let body = serde_json::to_vec(&body).unwrap_or_default();
            tracer.request(
                &format!("descope: the token of {what}"),
                built,
                &[],
                &[],
                Some(http::trace::text_lines(&body)),
            );
        }
        http::mark_sent();
        let sent = match built {
            Ok(built) => client.execute(built).await,
            Err(e) => Err(e),
        };
        let mut response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(DescopeError::Timeout { what, timeout }),
            Err(e) => {
                return Err(DescopeError::Unreachable {
                    base_url: settings.base_url.clone(),
                    what,
                    chain: http::error_chain(&e),
                });
            }
        };
        let status = response.status();
        tracer.response(
            &format!("descope: the token of {what}"),
            status,
            response.headers(),
            Err("descope's answer is not shown: it holds tokens"),
        );
        let mut asked_wait = None;
        if status.as_u16() == 429 && rate_limited < 3 {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(http::parse_retry_after)
                .unwrap_or(Duration::from_secs(1));
            asked_wait = Some(wait);
            if wait <= MAX_RETRY_AFTER {
                rate_limited += 1;
                on_retry(&format!("descope rate limited ({status})"), wait);
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        if RETRY_STATUSES.contains(&status.as_u16())
            && let Some(wait) = retries.next()
        {
            on_retry(&format!("descope answered {status}"), *wait);
            tokio::time::sleep(*wait).await;
            continue;
        }
        let text = match http::read_capped(&mut response, http::MAX_BODY).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(Ok(too_large)) => {
                return Err(DescopeError::TooLarge {
                    status,
                    what,
                    size: too_large.size(),
                });
            }
            Err(Err(e)) => {
                return Err(DescopeError::BrokeOff {
                    status,
                    what,
                    chain: http::error_chain(&e),
                });
            }
        };
        if status.is_success() {
            let parsed: TokenResponse =
                serde_json::from_str(&text).map_err(|_| DescopeError::NoToken { status, what })?;
            return Ok(Fetched {
                token: Token {
                    source: "descope",
                    access_token: Secret::new(parsed.token.access_token),
                    token_type: parsed
                        .token
                        .access_token_type
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "Bearer".to_string()),
                },
                refresh_token: parsed.token.refresh_token.map(Secret::new),
            });
        }
        return Err(refusal(status, what, &text, request, asked_wait, redactor));
    }
}

/// Descope's answer to a call that failed, in words: what it said (its
/// error fields, else an excerpt of its body) and what to do about it.
fn refusal(
    status: reqwest::StatusCode,
    what: String,
    text: &str,
    request: &TokenRequest,
    asked_wait: Option<Duration>,
    redactor: &crate::redact::Redactor,
) -> DescopeError {
    let err: ErrorBody = serde_json::from_str(text).unwrap_or_default();
    let details: Vec<&str> = [&err.error_code, &err.error_description, &err.error_message]
        .into_iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let detail = if !details.is_empty() {
        Some(details.join(": "))
    } else if !text.trim().is_empty() {
        Some(http::excerpt(text, redactor))
    } else {
        None
    };
    let mut hints = Vec::new();
    if status.as_u16() == 404 {
        let mut hint = format!(
            "the user never connected app `{}`, or connected it with other scopes",
            request.app_id
        );
        if request.scopes.is_some() {
            hint.push_str(" (drop `scopes` to get the latest token whatever its scopes)");
        }
        hints.push(hint);
    }
    if status.as_u16() == 401 || status.as_u16() == 403 {
        hints.push(format!(
            "check `{PROJECT_ID_VAR}` and `{MANAGEMENT_KEY_VAR}`"
        ));
    }
    if let Some(wait) = asked_wait.filter(|w| *w > MAX_RETRY_AFTER) {
        let asked = if wait == Duration::MAX {
            "longer than can be counted".to_string()
        } else {
            format!("{} s", wait.as_secs())
        };
        hints.push(format!(
            "rate limited, and descope asked to wait {asked} (more than {} s)",
            MAX_RETRY_AFTER.as_secs()
        ));
    } else if status.as_u16() == 429 {
        hints.push("rate limited, retries ran out".to_string());
    } else if RETRY_STATUSES.contains(&status.as_u16()) {
        hints.push(format!("gave up after {} retries", RETRY_WAITS.len()));
    }
    DescopeError::Refused {
        status,
        what,
        detail,
        hints,
    }
}

/// The per-run state: tokens fetched so far, by where and what was asked.
/// The lock is held across a fetch, so loop items that need the same
/// token wait for one call instead of making several.
#[derive(Default)]
pub(crate) struct Descope {
    tokens: tokio::sync::Mutex<HashMap<(String, String, TokenRequest), Token>>,
}

impl Descope {
    /// The settings, from the spec first, then the environment: what
    /// `plan` and the checks before a run need, without calling Descope.
    pub(crate) fn settings(
        d: &Spec,
        r: &Renderer,
        ctx: &Context,
    ) -> Result<Settings, DescopeError> {
        let setting = |field: &Option<Located<String>>,
                       var: &str,
                       what: &'static str|
         -> Result<Option<String>, DescopeError> {
            match field {
                Some(f) => r
                    .text(&f.value)
                    .map(Some)
                    .map_err(|error| DescopeError::Setting { what, error }),
                None => Ok(ctx.env.get(var).filter(|v| !v.is_empty()).cloned()),
            }
        };
        let project_id = setting(&d.project_id, PROJECT_ID_VAR, "project_id")?
            .ok_or(DescopeError::NoProjectId)?;
        let key = setting(&d.management_key, MANAGEMENT_KEY_VAR, "management_key")?
            .ok_or(DescopeError::NoManagementKey)?;
        let management_key = Secret::new(key);
        // Registered at once: nothing printed from here on may show it.
        ctx.register(&management_key);
        let base = setting(&d.base_url, BASE_URL_VAR, "base_url")?;
        let base_url = base_url(base, &project_id);
        let parsed =
            url::Url::parse(&base_url).map_err(|_| DescopeError::BadBaseUrl(base_url.clone()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DescopeError::BaseUrlScheme(base_url));
        }
        if !ctx.allow_http
            && let Some(why) = ctx.clients.config().clear_text_exposure(&parsed)
        {
            return Err(DescopeError::ClearText(why));
        }
        Ok(Settings {
            base_url,
            project_id,
            management_key,
        })
    }

    /// The token `d` asks for: from this run's cache, else fetched.
    pub(crate) async fn token(
        &self,
        d: &Spec,
        r: &Renderer<'_>,
        ctx: &Context<'_>,
    ) -> Result<Token, DescopeError> {
        let text = |f: &Located<String>| r.text(&f.value).map_err(DescopeError::Request);
        let request = TokenRequest {
            app_id: text(&d.app_id)?,
            user_id: d.user_id.as_ref().map(text).transpose()?,
            tenant_id: d.tenant_id.as_ref().map(text).transpose()?,
            scopes: match &d.scopes {
                Some(scopes) if !scopes.is_empty() => {
                    Some(scopes.iter().map(text).collect::<Result<_, _>>()?)
                }
                _ => None,
            },
        };
        let settings = Descope::settings(d, r, ctx)?;
        let key = (
            settings.base_url.clone(),
            settings.project_id.clone(),
            request,
        );
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(&key) {
            return Ok(token.clone());
        }
        let client = ctx.clients.verified(http::CONNECT_TIMEOUT)?;
        let fetched = fetch(
            &client,
            &settings,
            &key.2,
            DEFAULT_TIMEOUT,
            ctx.redactor,
            &mut |reason, wait| {
                (ctx.notes)(format!("{reason}; retrying in {} ms", wait.as_millis()))
            },
            &ctx.tracer,
        )
        .await?;
        ctx.register(&fetched.token.access_token);
        if let Some(refresh) = &fetched.refresh_token {
            ctx.register(refresh);
        }
        tokens.insert(key, fetched.token.clone());
        Ok(fetched.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_base_url_follows_the_sdks() {
        let long = "Peuc12vGJBZcQBCVnTp9C8ZSiQVL0LYK";
        assert_eq!(base_url(None, long), "https://api.euc1.descope.com");
        assert_eq!(base_url(None, "P123"), DEFAULT_BASE_URL);
        assert_eq!(
            base_url(Some("http://127.0.0.1:9/".into()), long),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn latest_endpoints_never_carry_scopes() {
        let r = TokenRequest {
            app_id: "github".into(),
            user_id: Some("u1".into()),
            tenant_id: None,
            scopes: None,
        };
        let (path, body) = r.endpoint();
        assert_eq!(path, "/v1/mgmt/outbound/app/user/token/latest");
        assert_eq!(body, json!({"appId": "github", "userId": "u1"}));
        let t = TokenRequest {
            user_id: None,
            tenant_id: Some("t1".into()),
            scopes: Some(vec!["repo".into()]),
            ..r
        };
        let (path, body) = t.endpoint();
        assert_eq!(path, "/v1/mgmt/outbound/app/tenant/token");
        assert_eq!(
            body,
            json!({"appId": "github", "tenantId": "t1", "scopes": ["repo"]})
        );
    }
}
