//! Placing params and auth into an HTTP request: the path, the query, the
//! headers, the host and the body. Values are encoded here, so nothing a
//! value contains can change the request's shape.

use serde_json::Value;

use crate::http::encode::{encode_component, encode_reserved_path};
use crate::render::body::{self, Body};
use crate::render::form;
use crate::render::{Params, RenderedAuth};
use crate::spec::{Action, App, Method, ParamIn, Placement, holes};

/// A request ready to send (or to show, in `plan`).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    /// Names of the headers and query parameters that carry auth: they never
    /// follow a redirect to another origin.
    pub auth_headers: Vec<String>,
    pub auth_query: Vec<String>,
    /// Whether any auth parameter (in any placement) rides on this request.
    pub carries_auth: bool,
    /// Whether auth's `body` fields were merged into the body.
    pub body_carries_auth: bool,
}

/// A scalar as text for a URL or header; arrays and objects as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The request of `action` with `params` and `auth`; `target` (a step's
/// `url:`) replaces the base URL and the path.
pub fn build_request(
    app: &App,
    action: &Action,
    params: &Params,
    auth: Option<&RenderedAuth>,
    base_override: Option<&str>,
    target: Option<&str>,
) -> Result<Request, String> {
    let auth_params = auth.map(|a| a.params.as_slice()).unwrap_or_default();
    let names = |placement: Placement| {
        auth_params
            .iter()
            .filter(|(_, p, _)| *p == placement)
            .map(|(n, _, _)| n.clone())
            .collect::<Vec<_>>()
    };
    let deferred = |name: &str| params.deferred.iter().any(|d| d == name);

    // Host: the override, else auth's base URL, else the app's; then subdomains.
    let mut base = base_override
        .map(str::to_string)
        .or_else(|| auth.and_then(|a| a.base_url.clone()))
        .unwrap_or_else(|| app.base_url.clone());
    for (name, placement, value) in auth_params {
        if *placement == Placement::Subdomain {
            let v = value.expose();
            if !is_dns_label(v) && v != crate::render::PLAN_SECRET {
                return Err(format!(
                    "auth parameter `{name}` is `in: subdomain` but its value is not a DNS label (letters, digits and `-`, at most 63)"
                ));
            }
            base = base.replace(&format!("{{{name}}}"), v);
        }
    }
    let mut url = match target {
        Some(target) => {
            let parsed = url::Url::parse(target)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            parsed.ok_or_else(|| {
                format!("`url` must be an absolute http or https URL, found `{target}`")
            })?
        }
        None => url::Url::parse(&base).map_err(|e| format!("invalid base URL `{base}`: {e}"))?,
    };

    // Path: each placeholder filled by an encoded value; `{+name}` keeps
    // the value's `/`. A step's `url` has its own path.
    let mut path = action.path.clone();
    let fill_path = target.is_none();
    for hole in holes(&action.path).into_iter().filter(|_| fill_path) {
        let fill = |value: &str| match hole.reserved {
            true => segments(hole.text, value),
            false => segment(hole.name, value),
        };
        let param = params.values.iter().find(|(n, _)| n == hole.name);
        let value = match param {
            Some((name, v)) if deferred(name) => text(v),
            Some((_, v)) => fill(&text(v))?,
            None => match auth_params
                .iter()
                .find(|(n, p, _)| n == hole.name && *p == Placement::Path)
            {
                Some((_, _, secret)) => fill(secret.expose())?,
                None => return Err(format!("placeholder `{}` has no value", hole.text)),
            },
        };
        path = path.replacen(hole.text, &value, 1);
    }
    if fill_path {
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
    }

    // Query: params, then auth; arrays and objects as form fields
    // (`tag=a&tag=b`, `filter[state]=open`).
    let mut query: Vec<(String, String)> = Vec::new();
    for (name, value) in &params.values {
        let param = &action.params[name];
        if param.placement == ParamIn::Query {
            form::fields(param.wire(), value, param.array_style(), &mut query);
        }
    }
    for (name, placement, value) in auth_params {
        if *placement == Placement::Query {
            query.push((name.clone(), value.expose().to_string()));
        }
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(&query);
    }

    // Headers: the app's, then header params, then auth (which wins).
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut set = |name: &str, value: String| {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.to_string(), value));
    };
    if !app
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("user-agent"))
    {
        set("User-Agent", crate::http::user_agent());
    }
    for h in &app.headers {
        set(&h.name, h.value.clone());
    }
    let mut param_content_type = false;
    for (name, value) in &params.values {
        let param = &action.params[name];
        if param.placement == ParamIn::Header {
            let v = text(value);
            let wire = param.wire();
            crate::http::header::check_value(wire, &v, "header param")?;
            param_content_type |= wire.eq_ignore_ascii_case("content-type");
            set(wire, v);
        }
    }
    for (name, placement, value) in auth_params {
        if *placement == Placement::Header {
            crate::http::header::check_value(name, value.expose(), "auth header")?;
            set(name, value.expose().to_string());
        }
    }

    // Body: body params, with auth's `body` merged over them.
    let body = body::build(action, params, auth.and_then(|a| a.body.as_ref()))?;
    // The body's own type, unless the app or a header param set one. A
    // multipart body's type carries its boundary, so it is always its own;
    // a raw body's is the action's, unless a header param says otherwise.
    if let Some(b) = &body {
        let has = |headers: &[(String, String)]| {
            headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        };
        let own = match b {
            Body::Multipart(_) => true,
            Body::Raw { .. } => !param_content_type,
            Body::Json(_) | Body::Form(_) => !has(&headers),
        };
        if own {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            headers.push(("Content-Type".to_string(), b.content_type().to_string()));
        }
    }
    let mut url = url.to_string();
    // Plan shows values that wait for an earlier step as their expression.
    for name in &params.deferred {
        if let Some((_, v)) = params.values.iter().find(|(n, _)| n == name) {
            let t = text(v);
            url = url.replace(&encode_component(&t), &t);
            url = url.replace(
                &url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>(),
                &t,
            );
        }
    }
    Ok(Request {
        method: action.method,
        url,
        headers,
        body,
        auth_headers: names(Placement::Header),
        auth_query: names(Placement::Query),
        body_carries_auth: auth
            .and_then(|a| a.body.as_ref())
            .is_some_and(|b| !b.is_empty()),
        carries_auth: !auth_params.is_empty(),
    })
}

/// The value of a `{+name}` placeholder (written `hole`): its `/` kept,
/// every segment encoded, and none of them empty, `.` or `..`.
fn segments(hole: &str, value: &str) -> Result<String, String> {
    for part in value.split('/') {
        if part == "." || part == ".." {
            return Err(format!(
                "path value `{value}` for `{hole}` has a `{part}` segment, which would change the path"
            ));
        }
        if part.is_empty() {
            return Err(format!(
                "path value `{value}` for `{hole}` has an empty segment (a leading, trailing or double `/`)"
            ));
        }
    }
    Ok(encode_reserved_path(value))
}

/// One path segment: encoded, and never `.` or `..`.
fn segment(name: &str, value: &str) -> Result<String, String> {
    if value == "." || value == ".." {
        return Err(format!(
            "path value `{value}` for `{{{name}}}` would change the path"
        ));
    }
    if value.is_empty() {
        return Err(format!("path value for `{{{name}}}` is empty"));
    }
    Ok(encode_component(value))
}
