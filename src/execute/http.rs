//! The one HTTP seam: a client per run, requests sent with redirects
//! followed by hand (so auth never follows one to another origin), and
//! responses read within a size cap.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::render::Request;
use crate::spec::Method;

const MAX_REDIRECTS: usize = 10;
pub const MAX_BODY: usize = 16 * 1024 * 1024;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether this process has sent any request yet: what decides between exit
/// codes 1 and 2 when the run must stop abruptly.
pub static SENT_ANY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

use crate::spec::duration::show;

/// How the run's clients are built: one per distinct connect timeout
/// (in practice one), each reused across steps.
pub struct Clients {
    resolve: Vec<(String, SocketAddr)>,
    roots: Vec<reqwest::Certificate>,
    insecure: bool,
    built: HashMap<Duration, reqwest::Client>,
}

impl Clients {
    pub fn new(
        resolve: &[(String, SocketAddr)],
        cacerts: &[Vec<u8>],
        insecure: bool,
    ) -> Result<Clients, String> {
        let roots = cacerts
            .iter()
            .map(|pem| {
                reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| format!("cannot read the CA certificate: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        Ok(Clients {
            resolve: resolve.to_vec(),
            roots,
            insecure,
            built: HashMap::new(),
        })
    }

    /// The client for `connect_timeout`: proxies from `HTTPS_PROXY`/`NO_PROXY`,
    /// `--resolve` overrides, extra CAs, and no automatic redirects.
    pub fn get(&mut self, connect_timeout: Duration) -> Result<&reqwest::Client, String> {
        if !self.built.contains_key(&connect_timeout) {
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(connect_timeout)
                .user_agent(crate::render::user_agent());
            for (host, addr) in &self.resolve {
                builder = builder.resolve(host, *addr);
            }
            for root in &self.roots {
                builder = builder.add_root_certificate(root.clone());
            }
            if self.insecure {
                builder = builder.danger_accept_invalid_certs(true);
            }
            let client = builder
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
            self.built.insert(connect_timeout, client);
        }
        Ok(&self.built[&connect_timeout])
    }
}

/// The limits one request is sent under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    pub request: Duration,
    pub max_body: usize,
}

/// Why a request got no usable response.
#[derive(Debug)]
pub enum Failure {
    /// It never reached the server: any method may be tried again.
    NotSent(String),
    /// It may have reached the server.
    MaybeSent(String),
    /// Trying again would not help.
    Final(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::NotSent(m) | Failure::MaybeSent(m) | Failure::Final(m) => m,
        }
    }
}

/// What a step's response left for later steps and for the report.
#[derive(Debug, Clone)]
pub struct Response {
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

fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

pub async fn send(
    client: &reqwest::Client,
    request: &Request,
    limits: Limits,
) -> Result<Response, Failure> {
    let mut url =
        url::Url::parse(&request.url).map_err(|e| Failure::Final(format!("invalid URL: {e}")))?;
    let started = std::time::Instant::now();
    let mut verb = method(request.method);
    let mut headers = request.headers.clone();
    let mut body = request.body.as_ref().map(|b| b.to_bytes());
    let origin = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let left = limits.request.saturating_sub(started.elapsed());
        let mut builder = client.request(verb.clone(), url.clone()).timeout(left);
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        if let Some(bytes) = &body {
            builder = builder.body(bytes.clone());
        }
        SENT_ANY.store(true, std::sync::atomic::Ordering::Relaxed);
        let response = builder.send().await.map_err(|e| failure(&e, limits))?;
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let (true, Some(location)) = (status.is_redirection(), location) else {
            return read(response, limits).await;
        };
        let next = url.join(&location).map_err(|_| {
            Failure::Final(format!(
                "the server redirected ({status}) to an invalid location"
            ))
        })?;
        if url.scheme() == "https" && next.scheme() == "http" {
            return Err(Failure::Final(format!(
                "refused a redirect ({status}) from https to plain http"
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
        if !same_origin(&origin, &next) {
            // Credentials stay with the origin they were meant for.
            if body.is_some() && request.body_carries_auth {
                return Err(Failure::Final(format!(
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
    Err(Failure::Final(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

async fn read(mut response: reqwest::Response, limits: Limits) -> Result<Response, Failure> {
    let status = response.status();
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
    let mut bytes = Vec::new();
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_body as u64)
    {
        return Err(too_large(status, limits.max_body));
    }
    while let Some(chunk) = response.chunk().await.map_err(|e| failure(&e, limits))? {
        if bytes.len() + chunk.len() > limits.max_body {
            return Err(too_large(status, limits.max_body));
        }
        bytes.extend_from_slice(&chunk);
    }
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

fn too_large(status: reqwest::StatusCode, max: usize) -> Failure {
    let size = if max >= 1 << 20 && max.is_multiple_of(1 << 20) {
        format!("{} MiB", max >> 20)
    } else {
        format!("{max} bytes")
    };
    Failure::Final(format!(
        "the response ({status}) is larger than {size}; raise `--max-response-size` if it is expected"
    ))
}

/// Classifies a transport error and says which limit, if any, was hit.
fn failure(e: &reqwest::Error, limits: Limits) -> Failure {
    if e.is_timeout() && e.is_connect() {
        return Failure::NotSent(format!(
            "connecting timed out after {} (the connect timeout; set `timeout: {{connect: ...}}` or `--connect-timeout`)",
            show(limits.connect)
        ));
    }
    if e.is_timeout() {
        return Failure::MaybeSent(format!(
            "no complete response within {} (the request timeout; set `timeout:` or `--timeout`)",
            show(limits.request)
        ));
    }
    if e.is_connect() {
        return Failure::NotSent(describe(e));
    }
    Failure::MaybeSent(describe(e))
}

/// A transport error in words, without the URL (which may hold a secret).
pub fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "the request failed"
    };
    let chain = error_chain(e);
    if chain.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {chain}")
    }
}

/// The innermost cause of an error, in words, without reqwest's URL-bearing
/// top line or the OS error number.
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut innermost = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    let text = innermost.unwrap_or_default();
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}
