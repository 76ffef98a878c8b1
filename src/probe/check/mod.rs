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

/// Shared resources of the executors (HTTP clients are pooled by TLS/redirect settings).
pub struct Checkers {
    http: http::Clients,
}

impl Checkers {
    pub fn new(user_agent: &str) -> Checkers {
        // reqwest is built without a default TLS provider; ring is the one (no C toolchain for
        // aws-lc). Installing twice is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Checkers {
            http: http::Clients::new(user_agent),
        }
    }

    /// Runs one check. The caller applies the timeout; this only does the I/O.
    pub async fn run(&self, m: &MonitorConfig) -> Outcome {
        match &m.kind {
            CheckKind::Http(h) => http::check(&self.http, h).await,
            CheckKind::Tcp(t) => tcp::check(t).await,
            CheckKind::Dns(d) => dns::check(d, m.timeout.get()).await,
            CheckKind::Tls(t) => tls::check(t).await,
            CheckKind::Icmp(i) => icmp::check(i, m.timeout.get()).await,
            CheckKind::Push(_) => Outcome::failed(Instant::now(), "push monitors are not polled"),
        }
    }
}

/// Milliseconds from now until a certificate's `notAfter` (negative once expired).
pub fn cert_expiry_ms(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some((not_after - now) * 1000)
}
