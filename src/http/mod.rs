//! HTTP plumbing shared by every stage that talks to a server (steps and
//! credential sources alike): client construction with the run's proxy,
//! `--resolve` and TLS settings; header validity; reading a body within a
//! size cap; transport errors in words; `Retry-After` and the other
//! rate-limit fields; excerpts; `-v` traces.
//!
//! Nothing here knows about specs or steps.

mod client;
pub(crate) mod encode;
mod errors;
pub(crate) mod header;
pub(crate) mod ratelimit;
mod read;
pub(crate) mod trace;

use std::time::Duration;

pub use client::Config;
pub(crate) use client::ProxyPolicy;
pub(crate) use client::{ClientError, Clients};
pub(crate) use errors::{error_chain, excerpt, parse_retry_after};
pub(crate) use read::{TooLarge, read_capped};
pub(crate) use trace::Tracer;
pub use trace::Verbosity;

/// The largest response body read unless `--max-response-size` says otherwise.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
/// The largest file uploaded unless `--max-upload-size` says otherwise.
pub(crate) const MAX_UPLOAD: u64 = 100 * 1024 * 1024;
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `runner/<version>`: every request says who sends it.
pub(crate) fn user_agent() -> String {
    format!("runner/{}", env!("CARGO_PKG_VERSION"))
}

/// Whether this process has sent any request yet: what decides between exit
/// codes 1 and 2 when the run must stop abruptly.
pub(crate) static SENT_ANY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Marks that a request is about to leave.
pub(crate) fn mark_sent() {
    SENT_ANY.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether any request has left this process.
pub(crate) fn sent_any() -> bool {
    SENT_ANY.load(std::sync::atomic::Ordering::Relaxed)
}

/// `scheme://host[:port]` of a URL, the port only when it is not the
/// scheme's default.
pub(crate) fn show_origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// A URL as messages and traces show it: the values of `secret_query`
/// parameters (auth's `in: query`) and any password masked whatever
/// the redactor knows, so even a secret too short to register never shows.
pub(crate) fn shown_url(url: &url::Url, secret_query: &[String]) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    if url
        .query_pairs()
        .any(|(k, _)| secret_query.iter().any(|s| *s == k))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let masked = secret_query.iter().any(|s| *s == k);
                let v = if masked { "***".into() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        shown.set_query(None);
        shown.query_pairs_mut().extend_pairs(&pairs);
    }
    shown.to_string()
}

/// `host[:port]` of a URL, the port only when written out: the host a
/// network error names.
pub(crate) fn show_host(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Whether two URLs share scheme, host and port (a default port written
/// out or not): where credentials may follow a redirect or a next page.
pub(crate) fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// [`same_origin`] for URLs as written; one that does not parse shares no
/// origin with anything.
pub(crate) fn same_origin_str(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => same_origin(&a, &b),
        _ => false,
    }
}

/// The origin of `target` when it differs from `origin`'s (scheme, host or
/// port); `None` when they match, or when `target` is no http(s) URL at
/// all (which other checks refuse).
pub(crate) fn outside_origin(target: &str, origin: &url::Url) -> Option<String> {
    let target = url::Url::parse(target)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))?;
    (target.origin() != origin.origin()).then(|| show_origin(&target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_is_scheme_host_and_port() {
        assert!(same_origin_str(
            "https://api.example.com/a",
            "https://api.example.com:443/b?c"
        ));
        assert!(!same_origin_str(
            "https://api.example.com",
            "http://api.example.com"
        ));
        assert!(!same_origin_str(
            "https://api.example.com",
            "https://api.example.com:8443"
        ));
        assert!(!same_origin_str(
            "https://a.example.com",
            "https://b.example.com"
        ));
        assert!(!same_origin_str("not a url", "not a url"));
    }

    #[test]
    fn shown_urls_mask_auth_query_values_and_passwords() {
        let url = url::Url::parse("https://u:pw@api.example.com:8443/a?key=k1&page=2").unwrap();
        assert_eq!(
            shown_url(&url, &["key".to_string()]),
            "https://u:***@api.example.com:8443/a?key=***&page=2"
        );
        assert_eq!(show_host(&url), "api.example.com:8443");
        let plain = url::Url::parse("https://api.example.com/a?page=2").unwrap();
        assert_eq!(shown_url(&plain, &[]), "https://api.example.com/a?page=2");
        assert_eq!(show_host(&plain), "api.example.com");
    }
}
