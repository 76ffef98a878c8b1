//! Check executors: each turns one monitor's config into an [`Observation`] (what was seen) and
//! an optional error. They never decide UP or DOWN; conditions and the state machine do.
//!
//! Every executor runs under the monitor's timeout (enforced by the caller), reads bounded
//! amounts, and reports failures as values, never panics.

pub mod dns;
pub mod http;
pub mod icmp;
pub mod tcp;
pub mod tls;

use std::time::Instant;

use super::condition::Observation;
use super::config::{CheckKind, MonitorConfig};

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub obs: Observation,
    /// Why the check could not complete (connection refused, timeout, bad certificate, ...).
    pub error: Option<String>,
}

impl Outcome {
    pub fn failed(started: Instant, error: impl Into<String>) -> Outcome {
        Outcome {
            obs: Observation {
                response_time_ms: started.elapsed().as_millis() as u64,
                ..Default::default()
            },
            error: Some(error.into()),
        }
    }
}

/// Shared resources of the executors: HTTP clients come from the shared factory (pooled by
/// TLS and redirect settings).
pub struct Checkers {
    user_agent: String,
    clients: crate::outbound::SharedClients,
    /// `probing.source_address`: HTTP, TCP and TLS checks connect from it, DNS queries leave
    /// from it (ICMP does not bind).
    source: Option<std::net::IpAddr>,
}

impl Checkers {
    pub fn new(user_agent: &str, clients: crate::outbound::SharedClients) -> Checkers {
        Checkers {
            user_agent: user_agent.to_string(),
            clients,
            source: None,
        }
    }

    /// Binds HTTP, TCP, TLS and DNS checks to a local address (a multi-homed host, an agent).
    pub fn with_source(mut self, source: Option<std::net::IpAddr>) -> Checkers {
        self.source = source;
        self
    }

    /// Runs one check. The caller applies the timeout; this only does the I/O.
    pub async fn run(&self, m: &MonitorConfig) -> Outcome {
        match &m.kind {
            CheckKind::Http(h) => {
                http::check(&*self.clients, &self.user_agent, self.source, h).await
            }
            CheckKind::Tcp(t) => tcp::check(t, self.source).await,
            CheckKind::Dns(d) => dns::check(d, m.timeout.get(), self.source).await,
            CheckKind::Tls(t) => tls::check(t, self.source).await,
            CheckKind::Icmp(i) => icmp::check(i, m.timeout.get()).await,
            CheckKind::Push(_) => Outcome::failed(Instant::now(), "push monitors are not polled"),
        }
    }
}

/// A certificate's `notAfter` in Unix milliseconds. How far away that is depends on "now",
/// which the judge reads from the injected clock, not the system's.
pub fn cert_not_after_ms(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    cert.validity().not_after.timestamp().checked_mul(1000)
}

#[cfg(test)]
mod source_tests;
