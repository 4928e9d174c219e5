//! Placing params and auth into an HTTP request: the path, the query, the
//! headers, the host and the body. Values are encoded here, so nothing a
//! value contains can change the request's shape.

use serde_json::Value;

use crate::http::encode::encode_component;
use crate::render::{Params, RenderedAuth};
use crate::spec::{Action, App, BodyFormat, Method, ParamIn, Placement, placeholders};

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

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    Form(Vec<(String, String)>),
}

impl Body {
    pub fn content_type(&self) -> &'static str {
        match self {
            Body::Json(_) => "application/json",
            Body::Form(_) => "application/x-www-form-urlencoded",
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(v) => serde_json::to_vec(v).unwrap_or_default(),
            Body::Form(pairs) => url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes(),
        }
    }

    /// How reports show the body.
    pub fn to_json(&self) -> Value {
        match self {
            Body::Json(v) => v.clone(),
            Body::Form(_) => Value::String(String::from_utf8_lossy(&self.to_bytes()).into_owned()),
        }
    }
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

pub fn build_request(
    app: &App,
    action: &Action,
    params: &Params,
    auth: Option<&RenderedAuth>,
    base_override: Option<&str>,
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
    let mut url = url::Url::parse(&base).map_err(|e| format!("invalid base URL `{base}`: {e}"))?;

    // Path: each placeholder filled by an encoded value.
    let mut path = action.path.clone();
    for hole in placeholders(&action.path) {
        let param = params.values.iter().find(|(n, _)| n == hole);
        let value = match param {
            Some((name, v)) if deferred(name) => text(v),
            Some((_, v)) => segment(hole, &text(v))?,
            None => match auth_params
                .iter()
                .find(|(n, p, _)| n == hole && *p == Placement::Path)
            {
                Some((_, _, secret)) => segment(hole, secret.expose())?,
                None => return Err(format!("placeholder `{{{hole}}}` has no value")),
            },
        };
        path = path.replacen(&format!("{{{hole}}}"), &value, 1);
    }
    let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
    url.set_path(&joined);

    // Query: params, then auth; arrays repeat the key.
    let mut query: Vec<(String, String)> = Vec::new();
    for (name, value) in &params.values {
        if action.params[name].placement == ParamIn::Query {
            match value {
                Value::Array(items) => query.extend(items.iter().map(|i| (name.clone(), text(i)))),
                v => query.push((name.clone(), text(v))),
            }
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
    for (name, value) in &params.values {
        if action.params[name].placement == ParamIn::Header {
            let v = text(value);
            crate::http::header::check_value(name, &v, "header param")?;
            set(name, v);
        }
    }
    for (name, placement, value) in auth_params {
        if *placement == Placement::Header {
            crate::http::header::check_value(name, value.expose(), "auth header")?;
            set(name, value.expose().to_string());
        }
    }

    // Body: body params, with auth's `body` merged over them.
    let mut fields = serde_json::Map::new();
    for (name, value) in &params.values {
        if action.params[name].placement == ParamIn::Body {
            fields.insert(name.clone(), value.clone());
        }
    }
    if let Some(extra) = auth.and_then(|a| a.body.as_ref()) {
        fields.extend(extra.clone());
    }
    let body = if fields.is_empty() {
        None
    } else {
        Some(match action.body_format {
            BodyFormat::Json => Body::Json(Value::Object(fields)),
            BodyFormat::Form => Body::Form(
                fields
                    .iter()
                    .flat_map(|(k, v)| match v {
                        Value::Array(items) => items.iter().map(|i| (k.clone(), text(i))).collect(),
                        v => vec![(k.clone(), text(v))],
                    })
                    .collect(),
            ),
        })
    };
    // The body's own type, unless the app or a header param set one.
    if let Some(b) = &body
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".to_string(), b.content_type().to_string()));
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
