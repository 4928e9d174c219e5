//! Outbound-app tokens from Descope's management API.
//!
//! One POST per distinct (app, user, tenant, scopes) per run: the caller
//! memoizes, nothing is cached across runs (Descope refreshes the provider
//! token when it is fetched). TLS is always verified.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::render::Token;
use crate::secret::Secret;

pub const DEFAULT_BASE_URL: &str = "https://api.descope.com";
pub const PROJECT_ID_VAR: &str = "DESCOPE_PROJECT_ID";
pub const MANAGEMENT_KEY_VAR: &str = "DESCOPE_MANAGEMENT_KEY";
pub const BASE_URL_VAR: &str = "DESCOPE_BASE_URL";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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
pub struct Settings {
    pub project_id: String,
    pub management_key: Secret,
    pub base_url: String,
}

/// Descope's base URL: explicit, else derived from the project id the way
/// Descope's SDKs do for regional projects, else the global one.
pub fn base_url(explicit: Option<String>, project_id: &str) -> String {
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
pub struct TokenRequest {
    pub app_id: String,
    pub user_id: Option<String>,
    pub tenant_id: Option<String>,
    /// `None`: the latest token, whatever its scopes.
    pub scopes: Option<Vec<String>>,
}

impl TokenRequest {
    /// The endpoint and JSON body, exactly as Descope documents them.
    pub fn endpoint(&self) -> (&'static str, Value) {
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
    pub fn describe(&self) -> String {
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

/// A fetched token and every secret that came with it.
pub struct Fetched {
    pub token: Token,
    pub refresh_token: Option<Secret>,
}

/// Fetches one token, retrying as Descope's SDKs do; `on_retry` hears of each wait.
pub async fn fetch(
    client: &reqwest::Client,
    settings: &Settings,
    request: &TokenRequest,
    timeout: Duration,
    on_retry: &mut dyn FnMut(&str, Duration),
) -> Result<Fetched, String> {
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
        let sent = client
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, auth.expose())
            .header(reqwest::header::USER_AGENT, crate::render::user_agent())
            .json(&body)
            .timeout(timeout)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err(format!(
                    "descope did not answer within {}s when fetching the token of {what}",
                    timeout.as_secs_f64()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "cannot reach descope at `{}` to fetch the token of {what}: {}",
                    settings.base_url,
                    crate::execute::error_chain(&e)
                ));
            }
        };
        let status = response.status();
        let mut asked_wait = None;
        if status.as_u16() == 429 && rate_limited < 3 {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::execute::parse_retry_after)
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
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            let parsed: TokenResponse = serde_json::from_str(&text).map_err(|_| {
                format!("descope answered {status} for {what} without a `token.accessToken`")
            })?;
            return Ok(Fetched {
                token: Token {
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
        let err: ErrorBody = serde_json::from_str(&text).unwrap_or_default();
        let mut message = format!("descope answered {status} when fetching the token of {what}");
        let details: Vec<&str> = [&err.error_code, &err.error_description, &err.error_message]
            .into_iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if !details.is_empty() {
            message.push_str(&format!(": {}", details.join(": ")));
        } else if !text.trim().is_empty() {
            message.push_str(&format!(": {}", crate::execute::excerpt(&text)));
        }
        if status.as_u16() == 404 {
            message.push_str(&format!(
                "; the user never connected app `{}`, or connected it with other scopes",
                request.app_id
            ));
            if request.scopes.is_some() {
                message.push_str(" (drop `scopes` to get the latest token whatever its scopes)");
            }
        }
        if status.as_u16() == 401 || status.as_u16() == 403 {
            message.push_str(&format!(
                "; check `{PROJECT_ID_VAR}` and `{MANAGEMENT_KEY_VAR}`"
            ));
        }
        if let Some(wait) = asked_wait.filter(|w| *w > MAX_RETRY_AFTER) {
            message.push_str(&format!(
                "; rate limited, and descope asked to wait {} s (more than {} s)",
                wait.as_secs(),
                MAX_RETRY_AFTER.as_secs()
            ));
        } else if status.as_u16() == 429 {
            message.push_str("; rate limited, retries ran out");
        } else if RETRY_STATUSES.contains(&status.as_u16()) {
            message.push_str(&format!("; gave up after {} retries", RETRY_WAITS.len()));
        }
        return Err(message);
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
