//! HTTP(S): one request, bounded body read, status, remote IP and (for HTTPS) the certificate's
//! expiry from the TLS session.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use futures_util::StreamExt;

use super::{Outcome, cert_expiry_ms};
use crate::probe::condition::Observation;
use crate::probe::config::HttpCheck;

#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    verify_tls: bool,
    ca_file: Option<PathBuf>,
    follow_redirects: bool,
}

/// reqwest clients shared by all monitors with the same TLS and redirect settings, so thousands
/// of monitors share a handful of connection pools.
pub struct Clients {
    user_agent: String,
    clients: Mutex<HashMap<ClientKey, reqwest::Client>>,
}

impl Clients {
    pub fn new(user_agent: &str) -> Clients {
        Clients {
            user_agent: user_agent.to_string(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, h: &HttpCheck) -> Result<reqwest::Client, String> {
        let key = ClientKey {
            verify_tls: h.verify_tls,
            ca_file: h.ca_file.clone(),
            follow_redirects: h.follow_redirects,
        };
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let mut b = reqwest::Client::builder()
            .user_agent(&self.user_agent)
            .tls_info(true)
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .redirect(if h.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .tls_danger_accept_invalid_certs(!h.verify_tls);
        if let Some(ca) = &h.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| format!("http client: {e}"))?;
        map.insert(key, client.clone());
        Ok(client)
    }
}

pub async fn check(clients: &Clients, h: &HttpCheck) -> Outcome {
    let started = Instant::now();
    let client = match clients.get(h) {
        Ok(c) => c,
        Err(e) => return Outcome::failed(started, e),
    };
    let method = reqwest::Method::from_bytes(h.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = client.request(method, &h.url);
    for (k, v) in &h.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(a) = &h.basic_auth {
        req = req.basic_auth(&a.username, Some(&a.password));
    }
    if let Some(t) = &h.bearer_token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = &h.body {
        req = req.body(b.clone());
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::failed(started, describe(&e)),
    };
    let status = resp.status().as_u16();
    let ip = resp.remote_addr().map(|a| a.ip().to_string());
    let cert = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .and_then(cert_expiry_ms);
    // Headers arrived: that is the response time users compare with other tools.
    let response_time_ms = started.elapsed().as_millis() as u64;
    let limit = h.max_body_bytes as usize;
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    let mut error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&c[..c.len().min(room)]);
                if body.len() >= limit {
                    // Stop reading: a huge body must not cost memory or time.
                    break;
                }
            }
            Err(e) => {
                error = Some(format!("reading body: {}", describe(&e)));
                break;
            }
        }
    }
    Outcome {
        obs: Observation {
            status: Some(status),
            response_time_ms,
            body: Some(String::from_utf8_lossy(&body).into_owned()),
            certificate_expiration_ms: cert,
            connected: true,
            dns_rcode: None,
            ip,
        },
        error,
    }
}

/// reqwest's Display hides the cause; walk the chain for a useful one-liner.
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}
