//! The run's HTTP clients and where their connections go: proxies (from
//! the environment, never for loopback targets), `--resolve` overrides,
//! extra CAs, `--insecure` — and whether credentials may travel over a
//! connection in clear text.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use url::{Host, Url};

/// Everything from outside the spec that shapes connections.
#[derive(Clone, Default)]
pub struct Config {
    /// `--resolve HOST:PORT:ADDR`.
    pub resolve: Vec<(String, SocketAddr)>,
    /// `--cacert`: extra CA certificates (PEM).
    pub cacerts: Vec<Vec<u8>>,
    /// `--insecure`: step requests accept any certificate. Credential
    /// sources never do.
    pub insecure: bool,
    pub proxies: ProxyPolicy,
}

impl Config {
    /// Whether a request to `url` stays on this machine: its host is a
    /// loopback name or address, and the address connected to is loopback
    /// too — a `--resolve` override is judged by its address, so
    /// `localhost` pointed at another machine is not loopback, and a public
    /// name pointed at loopback is not either (credentials for it stay on
    /// TLS).
    pub fn is_loopback(&self, url: &Url) -> bool {
        let named_loopback = match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        let port = url.port_or_known_default();
        let bare = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let resolved = self
            .resolve
            .iter()
            .find(|(h, a)| h.eq_ignore_ascii_case(bare) && Some(a.port()) == port)
            .map(|(_, a)| a.ip());
        named_loopback && resolved.is_none_or(|ip: IpAddr| ip.is_loopback())
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn proxy_for(&self, url: &Url) -> Option<Url> {
        if self.is_loopback(url) {
            return None;
        }
        self.proxies.for_url(url)
    }

    /// Why credentials must not go to `url`, when the connection would carry
    /// them in clear text to another machine: plain http to a host that is
    /// not loopback, or through a proxy that is not.
    pub fn clear_text_exposure(&self, url: &Url) -> Option<String> {
        if url.scheme() != "http" {
            return None;
        }
        if !self.is_loopback(url) {
            return Some(format!(
                "refusing to send credentials over plain http to `{}`; use https, or pass `--allow-http` if you mean it",
                url.host_str().unwrap_or_default()
            ));
        }
        let proxy = self.proxy_for(url)?;
        if self.is_loopback(&proxy) {
            return None;
        }
        Some(format!(
            "refusing to send credentials over plain http through the proxy `{}`; use https, or pass `--allow-http` if you mean it",
            proxy.host_str().unwrap_or_default()
        ))
    }
}

/// Why the run's HTTP clients cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A proxy variable, by its upper-case name.
    #[error("`{0}` is not a valid proxy URL")]
    Proxy(&'static str),
    #[error("cannot read the CA certificate: {0}")]
    CaCert(reqwest::Error),
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
}

/// `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case),
/// read once. Loopback targets never use a proxy, whatever `NO_PROXY` says.
#[derive(Clone, Default, Debug)]
pub struct ProxyPolicy {
    http: Option<Url>,
    https: Option<Url>,
    no_proxy: Vec<String>,
}

impl ProxyPolicy {
    /// Reads the variables through `var` (the process environment, usually).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<ProxyPolicy, ClientError> {
        let read = |upper: &str| {
            var(&upper.to_lowercase())
                .or_else(|| var(upper))
                .filter(|v| !v.trim().is_empty())
        };
        let parse = |name: &'static str| -> Result<Option<Url>, ClientError> {
            let Some(value) = read(name) else {
                return Ok(None);
            };
            let value = if value.contains("://") {
                value
            } else {
                format!("http://{value}")
            };
            Url::parse(&value)
                .map(Some)
                .map_err(|_| ClientError::Proxy(name))
        };
        let all = parse("ALL_PROXY")?;
        Ok(ProxyPolicy {
            http: parse("HTTP_PROXY")?.or_else(|| all.clone()),
            https: parse("HTTPS_PROXY")?.or(all),
            no_proxy: read("NO_PROXY")
                .map(|v| {
                    v.split([',', ' '])
                        .map(|e| e.trim().trim_start_matches('.').to_lowercase())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Whether any proxy is set.
    fn any(&self) -> bool {
        self.http.is_some() || self.https.is_some()
    }

    fn for_url(&self, url: &Url) -> Option<Url> {
        let proxy = match url.scheme() {
            "http" => self.http.clone(),
            "https" => self.https.clone(),
            _ => None,
        }?;
        let host = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let host = host.to_lowercase();
        let excluded = self.no_proxy.iter().any(|entry| {
            let entry = entry.trim_start_matches('[');
            let entry = entry.split(']').next().unwrap_or(entry);
            entry == "*"
                || host == entry
                || host.ends_with(&format!(".{entry}"))
                || in_network(&host, entry)
        });
        (!excluded).then_some(proxy)
    }
}

/// Whether `host` is an IP inside the CIDR block `entry` (`10.0.0.0/8`).
fn in_network(host: &str, entry: &str) -> bool {
    let (Ok(ip), Some((net, bits))) = (host.parse::<IpAddr>(), entry.split_once('/')) else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The run's clients: one per (connect timeout, whether certificates are
/// checked) — in practice one or two — each reused for every request.
pub(crate) struct Clients {
    config: Config,
    roots: Vec<reqwest::Certificate>,
    built: Mutex<HashMap<(Duration, bool), reqwest::Client>>,
}

impl Clients {
    /// The clients for `config`; its CA certificates are read here.
    pub(crate) fn create(config: Config) -> Result<Clients, ClientError> {
        let roots = config
            .cacerts
            .iter()
            .map(|pem| reqwest::Certificate::from_pem_bundle(pem).map_err(ClientError::CaCert))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        Ok(Clients {
            config,
            roots,
            built: Mutex::default(),
        })
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The client for steps: `--insecure` applies.
    pub(crate) fn for_steps(
        &self,
        connect_timeout: Duration,
    ) -> Result<reqwest::Client, ClientError> {
        self.build(connect_timeout, !self.config.insecure)
    }

    /// The client for credential sources: certificates are always checked.
    pub(crate) fn verified(
        &self,
        connect_timeout: Duration,
    ) -> Result<reqwest::Client, ClientError> {
        self.build(connect_timeout, true)
    }

    fn build(
        &self,
        connect_timeout: Duration,
        verify: bool,
    ) -> Result<reqwest::Client, ClientError> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = built.get(&(connect_timeout, verify)) {
            return Ok(client.clone());
        }
        let config = self.config.clone();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .user_agent(super::user_agent())
            .no_proxy();
        // A proxy matcher costs a URL parse or three per request: none
        // when no proxy is set.
        if config.proxies.any() {
            builder = builder.proxy(reqwest::Proxy::custom(move |url| config.proxy_for(url)));
        }
        for (host, addr) in &self.config.resolve {
            builder = builder.resolve(host, *addr);
        }
        for root in &self.roots {
            builder = builder.add_root_certificate(root.clone());
        }
        if !verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder.build().map_err(ClientError::Build)?;
        built.insert((connect_timeout, verify), client.clone());
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)], resolve: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config {
            proxies: ProxyPolicy::from_env(|n| vars.get(n).cloned()).unwrap(),
            resolve: resolve
                .iter()
                .map(|(h, a)| (h.to_string(), a.parse().unwrap()))
                .collect(),
            ..Config::default()
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_is_never_proxied() {
        let c = config(&[("HTTP_PROXY", "http://proxy.example:3128")], &[]);
        for target in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]:8/x",
            "http://127.8.9.10/",
        ] {
            assert_eq!(c.proxy_for(&url(target)), None, "{target}");
            assert_eq!(c.clear_text_exposure(&url(target)), None, "{target}");
        }
        assert!(c.proxy_for(&url("http://api.example/x")).is_some());
    }

    #[test]
    fn resolve_is_judged_by_the_address_connected_to() {
        let c = config(
            &[],
            &[
                ("localhost", "10.1.2.3:80"),
                ("api.example", "127.0.0.1:80"),
            ],
        );
        assert!(c.clear_text_exposure(&url("http://localhost/")).is_some());
        // A mapping for another port does not apply.
        assert!(
            c.clear_text_exposure(&url("http://localhost:81/"))
                .is_none()
        );
        // A public name stays on TLS even when pointed at loopback.
        assert!(c.clear_text_exposure(&url("http://api.example/")).is_some());
        assert!(
            c.clear_text_exposure(&url("https://api.example/"))
                .is_none()
        );
    }

    #[test]
    fn no_proxy_domains_and_networks() {
        let c = config(
            &[
                ("https_proxy", "proxy:8080"),
                ("NO_PROXY", ".internal.example, 10.0.0.0/8"),
            ],
            &[],
        );
        assert!(c.proxy_for(&url("https://a.internal.example/")).is_none());
        assert!(c.proxy_for(&url("https://10.2.3.4/")).is_none());
        assert_eq!(
            c.proxy_for(&url("https://api.example/"))
                .map(|u| u.to_string()),
            Some("http://proxy:8080/".to_string())
        );
        assert!(c.proxy_for(&url("http://api.example/")).is_none());
    }
}
