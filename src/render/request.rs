//! Placing params and auth into an HTTP request: the path, the query, the
//! headers, the host and the body. Values are encoded here, so nothing a
//! value contains can change the request's shape.

use serde_json::Value;

use crate::http::encode::{encode_component, encode_reserved_path};
use crate::http::header::HeaderError;
use crate::render::body::{self, Body, BodyError};
use crate::render::form;
use crate::render::{Params, RenderedAuth};
use crate::secret::Secret;
use crate::spec::{Action, App, Method, ParamIn, Placement, holes};

/// A request ready to send (or to show, in `plan`).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The URL as output shows it (`plan` shows values that wait for the
    /// run as they are written).
    pub url: String,
    /// The URL that is checked and sent, parsed once.
    pub target: url::Url,
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

/// Why the request of a step cannot be built from its rendered params.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RequestError {
    /// An auth parameter `in: subdomain`, by name.
    #[error(
        "auth parameter `{0}` is `in: subdomain` but its value is not a DNS label (letters, digits and `-`, at most 63)"
    )]
    Subdomain(String),
    /// A step's `url:`, as rendered.
    #[error("`url` must be an absolute http or https URL, found `{0}`")]
    Target(String),
    #[error("invalid base URL `{base}`: {error}")]
    BaseUrl {
        base: String,
        error: url::ParseError,
    },
    /// A path placeholder, as written (`{owner}`).
    #[error("placeholder `{0}` has no value")]
    NoValue(String),
    #[error(transparent)]
    PathValue(#[from] PathValueError),
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// The request of `action` with `params` and `auth`; `target` (a step's
/// `url:`) replaces the base URL and the path.
pub(crate) fn build_request(
    app: &App,
    action: &Action,
    params: &Params,
    auth: Option<&RenderedAuth>,
    base_override: Option<&str>,
    target: Option<&str>,
) -> Result<Request, RequestError> {
    let auth_params = auth.map(|a| a.params.as_slice()).unwrap_or_default();
    let names = |placement: Placement| {
        auth_params
            .iter()
            .filter(|(_, p, _)| *p == placement)
            .map(|(n, _, _)| n.clone())
            .collect::<Vec<_>>()
    };
    let base = base_url(app, auth, base_override)?;
    let mut url = match target {
        Some(target) => url::Url::parse(target)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| RequestError::Target(target.to_string()))?,
        None => url::Url::parse(&base).map_err(|error| RequestError::BaseUrl { base, error })?,
    };
    // A step's `url` has its own path.
    if target.is_none() {
        let path = path(action, params, auth_params)?;
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
    }
    let query = query(action, params, auth_params);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(&query);
    }
    let (mut headers, param_content_type) = headers(app, action, params, auth_params)?;
    // Body: body params, with auth's `body` merged over them.
    let body = body::build(action, params, auth.and_then(|a| a.body.as_ref()))?;
    if let Some(b) = &body {
        body_content_type(b, &mut headers, param_content_type);
    }
    Ok(Request {
        method: action.method,
        url: show_deferred(url.to_string(), params),
        target: url,
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

/// The host: the override, else auth's base URL, else the app's; then
/// auth's subdomains put in (checked even when a step's `url` replaces it).
fn base_url(
    app: &App,
    auth: Option<&RenderedAuth>,
    base_override: Option<&str>,
) -> Result<String, RequestError> {
    let auth_params = auth.map(|a| a.params.as_slice()).unwrap_or_default();
    let mut base = base_override
        .map(str::to_string)
        .or_else(|| auth.and_then(|a| a.base_url.clone()))
        .unwrap_or_else(|| app.base_url.clone());
    for (name, placement, value) in auth_params {
        if *placement == Placement::Subdomain {
            let v = value.expose();
            if !is_dns_label(v) && v != crate::render::PLAN_SECRET {
                return Err(RequestError::Subdomain(name.clone()));
            }
            base = base.replace(&format!("{{{name}}}"), v);
        }
    }
    Ok(base)
}

/// The action's path, each placeholder filled by an encoded value (a
/// param's, else an auth parameter's `in: path`); `{+name}` keeps the
/// value's `/`.
fn path(
    action: &Action,
    params: &Params,
    auth_params: &[(String, Placement, Secret)],
) -> Result<String, RequestError> {
    let mut path = action.path.clone();
    for hole in holes(&action.path) {
        let fill = |value: &str| match hole.reserved {
            true => segments(hole.text, value),
            false => segment(hole.name, value),
        };
        let param = params.values.iter().find(|(n, _)| n == hole.name);
        let value = match param {
            Some((name, v)) if params.deferred.contains(name) => text(v),
            Some((_, v)) => fill(&text(v))?,
            None => match auth_params
                .iter()
                .find(|(n, p, _)| n == hole.name && *p == Placement::Path)
            {
                Some((_, _, secret)) => fill(secret.expose())?,
                None => return Err(RequestError::NoValue(hole.text.to_string())),
            },
        };
        path = path.replacen(hole.text, &value, 1);
    }
    Ok(path)
}

/// The query: params, then auth; arrays and objects as form fields
/// (`tag=a&tag=b`, `filter[state]=open`).
fn query(
    action: &Action,
    params: &Params,
    auth_params: &[(String, Placement, Secret)],
) -> Vec<(String, String)> {
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
    query
}

/// The headers: the app's, then header params, then auth (which wins);
/// and whether a header param set the `Content-Type`.
fn headers(
    app: &App,
    action: &Action,
    params: &Params,
    auth_params: &[(String, Placement, Secret)],
) -> Result<(Vec<(String, String)>, bool), RequestError> {
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
    Ok((headers, param_content_type))
}

/// The body's own type, unless the app or a header param set one. A
/// multipart body's type carries its boundary, so it is always its own; a
/// raw body's is the action's, unless a header param says otherwise.
fn body_content_type(body: &Body, headers: &mut Vec<(String, String)>, param_content_type: bool) {
    let has = |headers: &[(String, String)]| {
        headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    };
    let own = match body {
        Body::Multipart(_) => true,
        Body::Raw { .. } => !param_content_type,
        Body::Json(_) | Body::Form(_) => !has(headers),
    };
    if own {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        headers.push(("Content-Type".to_string(), body.content_type().to_string()));
    }
}

/// `url` with the values that wait for an earlier step (plan) shown as
/// their expression, not encoded.
fn show_deferred(mut url: String, params: &Params) -> String {
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
    url
}

/// A value that cannot go into the path where its placeholder is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PathValueError {
    /// In a `{+name}` placeholder (`hole`, as written).
    #[error(
        "path value `{value}` for `{hole}` has a `{part}` segment, which would change the path"
    )]
    DotSegment {
        value: String,
        hole: String,
        part: String,
    },
    #[error(
        "path value `{value}` for `{hole}` has an empty segment (a leading, trailing or double `/`)"
    )]
    EmptySegment { value: String, hole: String },
    /// `.` or `..` for a `{name}` placeholder.
    #[error("path value `{value}` for `{{{name}}}` would change the path")]
    Dot { value: String, name: String },
    #[error("path value for `{{{name}}}` is empty")]
    Empty { name: String },
}

/// The value of a `{+name}` placeholder (written `hole`): its `/` kept,
/// every segment encoded, and none of them empty, `.` or `..`.
fn segments(hole: &str, value: &str) -> Result<String, PathValueError> {
    for part in value.split('/') {
        if part == "." || part == ".." {
            return Err(PathValueError::DotSegment {
                value: value.to_string(),
                hole: hole.to_string(),
                part: part.to_string(),
            });
        }
        if part.is_empty() {
            return Err(PathValueError::EmptySegment {
                value: value.to_string(),
                hole: hole.to_string(),
            });
        }
    }
    Ok(encode_reserved_path(value))
}

/// One path segment: encoded, and never `.` or `..`.
fn segment(name: &str, value: &str) -> Result<String, PathValueError> {
    if value == "." || value == ".." {
        return Err(PathValueError::Dot {
            value: value.to_string(),
            name: name.to_string(),
        });
    }
    if value.is_empty() {
        return Err(PathValueError::Empty {
            name: name.to_string(),
        });
    }
    Ok(encode_component(value))
}
