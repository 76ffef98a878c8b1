//! E-mail over SMTP with `lettre`: one message per group, text and HTML parts. STARTTLS
//! (required unless `require_tls: false`), implicit TLS on port 465, plain only when TLS is
//! not required (a local relay), AUTH when a username is set.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{default_text, text_or};
use crate::alerts::config::{EmailConfig, GlobalConfig};
use crate::alerts::model::{Delivery, EmailMessage, Notification, SmtpSettings, Verdict};

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(n: &Notification) -> String {
    let mut rows = String::new();
    for a in &n.alerts {
        let summary = a
            .annotations
            .get("summary")
            .map_or(a.name(), String::as_str);
        let labels: Vec<String> = a
            .labels
            .iter()
            .map(|(k, v)| format!("{}={}", html_escape(k), html_escape(v)))
            .collect();
        rows.push_str(&format!(
            "<tr><td><b>{}</b></td><td>{}<br><small>{}</small>{}</td><td><a href=\"{}\">open</a></td></tr>",
            a.status.as_str().to_ascii_uppercase(),
            html_escape(summary),
            labels.join(", "),
            a.annotations
                .get("description")
                .map(|d| format!("<br>{}", html_escape(d)))
                .unwrap_or_default(),
            html_escape(&a.generator_url),
        ));
    }
    // A page's message leads with its one-click acknowledge link.
    let mut links = String::new();
    if let Some(u) = n.common_annotations.get("ack_url") {
        links.push_str(&format!(
            "<p><a href=\"{}\"><b>Acknowledge</b></a></p>",
            html_escape(u)
        ));
    }
    if let Some(u) = n.common_annotations.get("page_url") {
        links.push_str(&format!(
            "<p><a href=\"{}\">Open the page</a></p>",
            html_escape(u)
        ));
    }
    format!(
        "<!doctype html><html><body><h2>{}</h2>{links}<table cellpadding=\"6\">{rows}</table>\
         <p><a href=\"{}/alerts\">Open Panoptes</a></p></body></html>",
        html_escape(&n.title()),
        html_escape(&n.external_url)
    )
}

pub fn render(
    c: &EmailConfig,
    g: &GlobalConfig,
    n: &Notification,
) -> Result<Vec<Delivery>, String> {
    let from = c
        .from
        .clone()
        .or_else(|| g.smtp_from.clone())
        .ok_or("email_configs needs `from` (or `global.smtp_from`)")?;
    let smarthost = c
        .smarthost
        .clone()
        .or_else(|| g.smtp_smarthost.clone())
        .ok_or("email_configs needs `smarthost` (or `global.smtp_smarthost`)")?;
    let to: Vec<String> =
        c.to.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    if to.is_empty() {
        return Err("email_configs `to` names no recipient".into());
    }
    // Header values are templates; `Subject` (any case) replaces the subject, as in
    // Alertmanager.
    let mut subject = n.title();
    let mut headers = Vec::new();
    for (k, v) in &c.headers {
        let value = text_or(Some(v), n, String::new)?;
        if k.eq_ignore_ascii_case("subject") {
            subject = value;
        } else {
            headers.push((k.clone(), value));
        }
    }
    Ok(vec![Delivery::Email(EmailMessage {
        from,
        to,
        subject,
        text: default_text(n),
        html: Some(html(n)),
        headers,
        smtp: SmtpSettings {
            smarthost,
            require_tls: c.require_tls.unwrap_or(g.smtp_require_tls),
            username: c
                .auth_username
                .clone()
                .or_else(|| g.smtp_auth_username.clone()),
            password: c
                .auth_password
                .clone()
                .or_else(|| g.smtp_auth_password.clone()),
            ca_file: c
                .tls_config
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string()),
            insecure_skip_verify: c.tls_config.insecure_skip_verify,
            hello: c.hello.clone().or_else(|| g.smtp_hello.clone()),
        },
    })])
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

/// One SMTP attempt: delivered, retried on transient (4xx) and connection errors, failed on
/// permanent (5xx) replies.
pub async fn send(m: &EmailMessage, timeout: Duration) -> (Verdict, Option<u16>) {
    let msg = match build(m) {
        Ok(x) => x,
        Err(e) => return (Verdict::Failed { reason: e }, None),
    };
    let t = match transport(&m.smtp, timeout) {
        Ok(t) => t,
        Err(e) => return (Verdict::Failed { reason: e }, None),
    };
    match t.send(msg).await {
        Ok(r) => (Verdict::Delivered, r.code().to_string().parse().ok()),
        Err(e) => {
            let code = e.status().and_then(|c| c.to_string().parse::<u16>().ok());
            let reason = crate::outbound::error_chain(&e);
            if e.is_permanent() {
                (Verdict::Failed { reason }, code)
            } else {
                (
                    Verdict::Retry {
                        after_ms: None,
                        reason,
                    },
                    code,
                )
            }
        }
    }
}
