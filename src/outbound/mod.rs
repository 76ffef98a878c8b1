//! Outbound HTTP: the one factory for every client Panoptes makes (HTTP probes, Periskop scrapes,
//! notifiers, forwarding, agents); and outbound e-mail (`smtp.rs`).
//!
//! Owns: the rustls provider (installed once), CA files, TLS verification, timeouts, proxies, the
//! redirect policy and connection pools. Depends on: nothing else in the crate.
//!
//! It is injected like the clock (`Server::start` takes one), so tests and benchmarks can supply
//! their own. Clients are cached by their options, so thousands of monitors with the same
//! settings share a handful of connection pools.

pub mod smtp;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a client follows redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Redirects {
    /// Never: a 3xx is the answer.
    None,
    /// Up to this many hops. Credentials (`Authorization`, cookies) are dropped when a hop
    /// leaves the original host, and a hop from https to http is refused.
    Limited(usize),
    /// Up to this many hops within the first URL's scheme, host and port; a redirect elsewhere
    /// is not followed (its 3xx is the answer). For requests that carry credentials or custom
    /// headers, which would otherwise travel to whatever host the redirect names.
    SameOrigin(usize),
}

/// Which certificates a client trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Tls {
    /// Accept any certificate (a monitor's `verify_tls: false`).
    pub insecure: bool,
    /// Extra PEM CA certificates.
    pub ca_file: Option<PathBuf>,
    /// Trust only `ca_file`, not the system roots.
    pub ca_only: bool,
}

/// Everything that distinguishes one client from another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientOptions {
    pub user_agent: String,
    pub tls: Tls,
    pub redirects: Redirects,
    /// Bound on connecting; the caller bounds the whole exchange.
    pub connect_timeout: Option<Duration>,
    /// Bound on the whole exchange, when the caller does not bound it itself.
    pub timeout: Option<Duration>,
    /// Keep the peer certificate so the caller can read its expiry.
    pub tls_info: bool,
    pub pool_max_idle_per_host: Option<usize>,
    /// Source address for connections (an agent bound to one interface).
    pub local_address: Option<IpAddr>,
    /// `http://host:port` proxy for every request of this client.
    pub proxy: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            user_agent: concat!("panoptes/", env!("CARGO_PKG_VERSION")).to_string(),
            tls: Tls::default(),
            redirects: Redirects::Limited(5),
            connect_timeout: None,
            timeout: None,
            tls_info: false,
            pool_max_idle_per_host: None,
            local_address: None,
            proxy: None,
        }
    }
}

/// Builds (or hands out a cached) HTTP client for a set of options.
pub trait ClientFactory: Send + Sync {
    fn client(&self, options: &ClientOptions) -> Result<reqwest::Client, String>;
}

pub type SharedClients = Arc<dyn ClientFactory>;

/// Installs the ring crypto provider for rustls once per process (reqwest is built without a
/// default provider, so no C toolchain is needed for aws-lc). Installing again is a no-op.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The production factory: rustls with the system roots plus any configured CA file.
pub struct DefaultClients {
    cache: Mutex<HashMap<ClientOptions, reqwest::Client>>,
}

/// The factory `panoptes serve` uses.
pub fn default_clients() -> SharedClients {
    install_crypto_provider();
    Arc::new(DefaultClients {
        cache: Mutex::new(HashMap::new()),
    })
}

impl ClientFactory for DefaultClients {
    fn client(&self, o: &ClientOptions) -> Result<reqwest::Client, String> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(o) {
            return Ok(c.clone());
        }
        let client = build(o)?;
        cache.insert(o.clone(), client.clone());
        Ok(client)
    }
}

fn build(o: &ClientOptions) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .user_agent(&o.user_agent)
        .tls_info(o.tls_info)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(redirect_policy(o.redirects))
        .tls_danger_accept_invalid_certs(o.tls.insecure);
    if let Some(t) = o.connect_timeout {
        b = b.connect_timeout(t);
    }
    if let Some(t) = o.timeout {
        b = b.timeout(t);
    }
    if let Some(n) = o.pool_max_idle_per_host {
        b = b.pool_max_idle_per_host(n);
    }
    if let Some(ip) = o.local_address {
        b = b.local_address(ip);
    }
    if let Some(p) = &o.proxy {
        let proxy = reqwest::Proxy::all(p).map_err(|e| format!("proxy `{p}`: {e}"))?;
        b = b.proxy(proxy);
    }
    if let Some(ca) = &o.tls.ca_file {
        let pem =
            std::fs::read(ca).map_err(|e| format!("cannot read CA file {}: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA file {}: not PEM certificates: {e}", ca.display()))?;
        b = if o.tls.ca_only {
            b.tls_certs_only(certs)
        } else {
            b.tls_certs_merge(certs)
        };
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// reqwest drops `Authorization`, `Cookie` and `Proxy-Authorization` itself when a redirect
/// leaves the host; on top of that, a downgrade from https to http is never followed (the
/// credentials of the next request would travel in clear).
fn redirect_policy(r: Redirects) -> reqwest::redirect::Policy {
    match r {
        Redirects::None => reqwest::redirect::Policy::none(),
        Redirects::SameOrigin(max) => reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max {
                return attempt.error(format!("more than {max} redirects"));
            }
            let same = attempt.previous().first().is_some_and(|first| {
                first.scheme() == attempt.url().scheme()
                    && first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }),
        Redirects::Limited(max) => reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max {
                return attempt.error(format!("more than {max} redirects"));
            }
            let downgrade = attempt.url().scheme() == "http"
                && attempt
                    .previous()
                    .last()
                    .is_some_and(|u| u.scheme() == "https");
            if downgrade {
                return attempt.error("refusing a redirect from https to http");
            }
            attempt.follow()
        }),
    }
}

/// reqwest's top-level message is vague ("error sending request"); the causes say what failed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_shared_per_options() {
        let f = DefaultClients {
            cache: Mutex::new(HashMap::new()),
        };
        install_crypto_provider();
        let a = ClientOptions::default();
        let b = ClientOptions {
            redirects: Redirects::None,
            ..ClientOptions::default()
        };
        f.client(&a).expect("a");
        f.client(&a).expect("a again");
        f.client(&b).expect("b");
        assert_eq!(f.cache.lock().expect("lock").len(), 2);
    }

    #[test]
    fn a_missing_ca_file_is_an_error_naming_it() {
        install_crypto_provider();
        let o = ClientOptions {
            tls: Tls {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..Tls::default()
            },
            ..ClientOptions::default()
        };
        let e = build(&o).expect_err("no file");
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
