//! Outbound e-mail: one message over SMTP with `lettre` (alert e-mails, on-call contacts,
//! status page subscribers). STARTTLS when required, implicit TLS on port 465, plain only when
//! TLS is not required (a local relay), AUTH when a username is set.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

/// An e-mail a channel sends (over the SMTP settings named by `smtp`, resolved at sending time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Extra headers (e.g. `List-Unsubscribe`).
    pub headers: Vec<(String, String)>,
    pub smtp: SmtpSettings,
}

/// Where and how an e-mail is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpSettings {
    /// `host:port`.
    pub smarthost: String,
    /// STARTTLS required (port 587 style); with port 465, implicit TLS.
    pub require_tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Trust this PEM CA file for the server's certificate (tests, private CAs).
    pub ca_file: Option<String>,
    /// Accept any certificate (only for test servers).
    pub insecure_skip_verify: bool,
    /// EHLO name; default `localhost`.
    pub hello: Option<String>,
}

/// Settings several senders fall back to (`alerts.global`'s `smtp_*`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmtpDefaults {
    pub from: Option<String>,
    pub smarthost: Option<String>,
    pub require_tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub hello: Option<String>,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        code: Option<u16>,
    },
    /// A 4xx reply or no connection: worth trying again.
    Transient {
        reason: String,
        code: Option<u16>,
    },
    /// A 5xx reply or a message that cannot be built: never.
    Permanent {
        reason: String,
        code: Option<u16>,
    },
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn build(m: &EmailMessage) -> Result<Message, String> {
    let from: Mailbox = m
        .from
        .parse()
        .map_err(|e| format!("from `{}`: {e}", m.from))?;
    let mut b = Message::builder().from(from).subject(&m.subject);
    for t in &m.to {
        b = b.to(t.parse().map_err(|e| format!("to `{t}`: {e}"))?);
    }
    for (k, v) in &m.headers {
        let name =
            HeaderName::new_from_ascii(k.clone()).map_err(|e| format!("header `{k}`: {e}"))?;
        b = b.raw_header(HeaderValue::new(name, v.clone()));
    }
    let body = match &m.html {
        Some(h) => MultiPart::alternative_plain_html(m.text.clone(), h.clone()),
        None => MultiPart::alternative_plain_html(m.text.clone(), html_escape(&m.text)),
    };
    b.multipart(body).map_err(|e| format!("message: {e}"))
}

fn transport(
    s: &SmtpSettings,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let (host, port) = match s.smarthost.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse::<u16>()
                .map_err(|_| format!("smarthost `{}`: bad port", s.smarthost))?,
        ),
        None => (s.smarthost.clone(), 25),
    };
    let tls = || -> Result<TlsParameters, String> {
        let mut p = TlsParameters::builder(host.clone())
            .dangerous_accept_invalid_certs(s.insecure_skip_verify);
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("CA file {ca}: {e}"))?;
            p = p.add_root_certificate(
                Certificate::from_pem(&pem).map_err(|e| format!("CA file {ca}: {e}"))?,
            );
        }
        p.build_rustls().map_err(|e| format!("TLS: {e}"))
    };
    // As Alertmanager: `require_tls: false` talks plain SMTP (a local relay, often with a
    // certificate nobody could verify), never half-trying TLS.
    let mode = if port == 465 {
        Tls::Wrapper(tls()?)
    } else if s.require_tls {
        Tls::Required(tls()?)
    } else {
        Tls::None
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(mode)
        .timeout(Some(timeout));
    if let Some(h) = &s.hello {
        b = b.hello_name(ClientId::Domain(h.clone()));
    }
    if let Some(u) = &s.username {
        b = b.credentials(Credentials::new(
            u.clone(),
            s.password.clone().unwrap_or_default(),
        ));
    }
    Ok(b.build())
}

/// One SMTP attempt.
pub async fn send(m: &EmailMessage, timeout: Duration) -> Outcome {
    let msg = match build(m) {
        Ok(x) => x,
        Err(reason) => return Outcome::Permanent { reason, code: None },
    };
    let t = match transport(&m.smtp, timeout) {
        Ok(t) => t,
        Err(reason) => return Outcome::Permanent { reason, code: None },
    };
    match t.send(msg).await {
        Ok(r) => Outcome::Sent {
            code: r.code().to_string().parse().ok(),
        },
        Err(e) => {
            let code = e.status().and_then(|c| c.to_string().parse::<u16>().ok());
            let reason = super::error_chain(&e);
            if e.is_permanent() {
                Outcome::Permanent { reason, code }
            } else {
                Outcome::Transient { reason, code }
            }
        }
    }
}
