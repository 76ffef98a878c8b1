//! HTTP(S): one request, bounded body read, status, remote IP and (for HTTPS) the certificate's
//! expiry from the TLS session.

use std::time::Instant;

use futures_util::StreamExt;

use super::{Outcome, cert_not_after_ms};
use crate::outbound::{ClientFactory, ClientOptions, Redirects, Tls};
use crate::probe::condition::Observation;
use crate::probe::config::HttpCheck;

/// The client options of an HTTP monitor.
fn options(user_agent: &str, source: Option<std::net::IpAddr>, h: &HttpCheck) -> ClientOptions {
    ClientOptions {
        user_agent: user_agent.to_string(),
        tls: Tls {
            insecure: !h.verify_tls,
            ca_file: h.ca_file.clone(),
            ca_only: false,
        },
        // Custom headers and credentials are for this URL's host: a redirect to another host is
        // not followed with them (reqwest drops `Authorization` itself, not `X-Api-Key`).
        redirects: match (
            h.follow_redirects,
            h.headers.0.is_empty() && h.basic_auth.is_none() && h.bearer_token.is_none(),
        ) {
            (false, _) => Redirects::None,
            (true, true) => Redirects::Limited(10),
            (true, false) => Redirects::SameOrigin(10),
        },
        tls_info: true,
        local_address: source,
        ..ClientOptions::default()
    }
}

pub async fn check(
    clients: &dyn ClientFactory,
    user_agent: &str,
    source: Option<std::net::IpAddr>,
    h: &HttpCheck,
) -> Outcome {
    let started = Instant::now();
    let client = match clients.client(&options(user_agent, source, h)) {
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
        .and_then(cert_not_after_ms);
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
            certificate_expiration_ms: None,
            certificate_not_after_ms: cert,
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
