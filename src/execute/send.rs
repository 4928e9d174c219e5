//! Sending one request: redirects followed by hand (so auth never follows
//! one to another origin, and a body carrying credentials is never sent
//! there), each hop traced at `-v`, and the response read within its size
//! cap. A request that fails names the host and the URL it was sending to.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::trace::Trace;
use super::upload;
use crate::http::{self, TooLarge};
use crate::render::{Body, Request};
use crate::spec::Method;
use crate::units::show;

const MAX_REDIRECTS: usize = 10;

/// The limits one request is sent under.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub connect: Duration,
    pub request: Duration,
    pub max_body: usize,
}

/// Why a request got no usable response.
#[derive(Debug)]
pub(super) enum Transport {
    /// It never reached the server: any method may be tried again.
    NotSent(String),
    /// It may have reached the server.
    MaybeSent(String),
    /// Trying again would not help.
    Final(String),
}

impl Transport {
    pub(super) fn message(&self) -> &str {
        match self {
            Transport::NotSent(m) | Transport::MaybeSent(m) | Transport::Final(m) => m,
        }
    }
}

/// What a step's response left for later steps and for the report.
#[derive(Debug, Clone)]
pub(super) struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: BTreeMap<String, String>,
    /// The JSON body when the response is JSON, else its text.
    pub body: Value,
}

fn method(m: Method) -> reqwest::Method {
    match m {
        Method::GET => reqwest::Method::GET,
        Method::HEAD => reqwest::Method::HEAD,
        Method::POST => reqwest::Method::POST,
        Method::PUT => reqwest::Method::PUT,
        Method::PATCH => reqwest::Method::PATCH,
        Method::DELETE => reqwest::Method::DELETE,
        Method::OPTIONS => reqwest::Method::OPTIONS,
    }
}

/// Sends `request`, following redirects, each hop traced.
pub(super) async fn send(
    client: &reqwest::Client,
    request: &Request,
    limits: Limits,
    trace: &Trace<'_>,
) -> Result<Response, Transport> {
    let mut url = request.target.clone();
    let started = std::time::Instant::now();
    let mut verb = method(request.method);
    let mut headers = request.headers.clone();
    let mut body = request.body.as_ref();
    let origin = url.clone();
    for hop in 0..=MAX_REDIRECTS {
        let sending = Sending {
            method: &verb,
            url: &url,
            auth_query: &request.auth_query,
        };
        let left = limits.request.saturating_sub(started.elapsed());
        let mut builder = client.request(verb.clone(), url.clone()).timeout(left);
        // A multipart body sets its own type, with its boundary.
        let multipart = matches!(body, Some(Body::Multipart(_)));
        for (name, value) in &headers {
            if multipart && name.eq_ignore_ascii_case("content-type") {
                continue;
            }
            builder = builder.header(name, value);
        }
        if let Some(b) = body {
            builder = upload::attach(builder, b)
                .await
                .map_err(|e| Transport::Final(e.to_string()))?;
        }
        let built = builder.build().map_err(|e| failure(&e, limits, &sending))?;
        trace.request(request, &built, body, hop);
        http::mark_sent();
        let response = client
            .execute(built)
            .await
            .map_err(|e| failure(&e, limits, &sending))?;
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let (true, Some(location)) = (status.is_redirection(), location) else {
            return read(response, limits, &sending, trace, hop).await;
        };
        if trace.responses() {
            trace.response(
                hop,
                status,
                Some(response.headers()),
                Err("a redirect: its body is not read"),
            );
        }
        let next = url.join(&location).map_err(|_| {
            Transport::Final(format!(
                "the server redirected ({status}) to an invalid location{}",
                sending.suffix()
            ))
        })?;
        if url.scheme() == "https" && next.scheme() == "http" {
            return Err(Transport::Final(format!(
                "refused a redirect ({status}) from https to plain http{}",
                sending.suffix()
            )));
        }
        let code = status.as_u16();
        if code == 303 || ((code == 301 || code == 302) && verb == reqwest::Method::POST) {
            verb = if verb == reqwest::Method::HEAD {
                verb
            } else {
                reqwest::Method::GET
            };
            body = None;
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        if !http::same_origin(&origin, &next) {
            // Credentials stay with the origin they were meant for.
            if body.is_some() && request.body_carries_auth {
                return Err(Transport::Final(format!(
                    "refused to send a body carrying credentials (auth `body`) to another origin ({status} to `{}`)",
                    next.host_str().unwrap_or_default()
                )));
            }
            headers.retain(|(n, _)| {
                !request
                    .auth_headers
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(n))
            });
            headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case("authorization") && !n.eq_ignore_ascii_case("cookie")
            });
            let kept: Vec<(String, String)> = next
                .query_pairs()
                .filter(|(k, _)| !request.auth_query.iter().any(|a| a == k))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url = next;
            url.set_query(None);
            if !kept.is_empty() {
                url.query_pairs_mut().extend_pairs(&kept);
            }
        } else {
            url = next;
        }
    }
    Err(Transport::Final(format!(
        "more than {MAX_REDIRECTS} redirects, the last to {} {}",
        verb,
        http::shown_url(&url, &request.auth_query)
    )))
}

async fn read(
    mut response: reqwest::Response,
    limits: Limits,
    sending: &Sending<'_>,
    trace: &Trace<'_>,
    hop: usize,
) -> Result<Response, Transport> {
    let status = response.status();
    // Kept as they came only for `-vv`.
    let wire_headers = trace.responses().then(|| response.headers().clone());
    let mut headers = BTreeMap::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let bytes = match http::read_capped(&mut response, limits.max_body).await {
        Ok(bytes) => bytes,
        Err(Ok(too_large)) => {
            trace.response(
                hop,
                status,
                wire_headers.as_ref(),
                Err("the body is too large to read"),
            );
            return Err(too_large_failure(status, &too_large, sending));
        }
        Err(Err(e)) => {
            trace.response(
                hop,
                status,
                wire_headers.as_ref(),
                Err("the body broke off"),
            );
            return Err(failure(&e, limits, sending));
        }
    };
    trace.response(hop, status, wire_headers.as_ref(), Ok(&bytes));
    let is_json = headers
        .get("content-type")
        .is_some_and(|ct| ct.contains("json"));
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = if is_json {
        serde_json::from_slice(&bytes).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    Ok(Response {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("").to_string(),
        headers,
        body,
    })
}

fn too_large_failure(
    status: reqwest::StatusCode,
    too_large: &TooLarge,
    sending: &Sending<'_>,
) -> Transport {
    Transport::Final(format!(
        "the response ({status}) is larger than {}; raise `--max-response-size` if it is expected{}",
        too_large.size(),
        sending.suffix()
    ))
}

/// Where a request was going, for the messages of network errors.
struct Sending<'a> {
    method: &'a reqwest::Method,
    url: &'a url::Url,
    /// Auth's query parameters: masked in the URL shown.
    auth_query: &'a [String],
}

impl Sending<'_> {
    /// `, sending GET https://host/path` (auth's query values masked).
    fn suffix(&self) -> String {
        format!(
            ", sending {} {}",
            self.method,
            http::shown_url(self.url, self.auth_query)
        )
    }
}

/// Classifies a transport error and says which limit, if any, was hit,
/// naming the host and the URL it was sending to.
fn failure(e: &reqwest::Error, limits: Limits, sending: &Sending<'_>) -> Transport {
    let host = http::show_host(sending.url);
    let to = sending.suffix();
    if e.is_timeout() && e.is_connect() {
        return Transport::NotSent(format!(
            "connecting to `{host}` timed out after {} (the connect timeout; set `timeout: {{connect: ...}}` or `--connect-timeout`){to}",
            show(limits.connect)
        ));
    }
    if e.is_timeout() {
        return Transport::MaybeSent(format!(
            "no complete response within {} from `{host}` (the request timeout; set `timeout:` or `--timeout`){to}",
            show(limits.request)
        ));
    }
    let chain = http::error_chain(e);
    let why = if chain.is_empty() {
        String::new()
    } else {
        format!(": {chain}")
    };
    if e.is_connect() {
        return Transport::NotSent(format!("cannot connect to `{host}`{why}{to}"));
    }
    let what = if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "the request failed"
    };
    Transport::MaybeSent(format!("{what} (`{host}`){why}{to}"))
}
