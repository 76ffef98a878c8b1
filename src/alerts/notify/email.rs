//! E-mail over SMTP with `lettre`: one message per group, text and HTML parts. STARTTLS
//! (required unless `require_tls: false`), implicit TLS on port 465, plain only when TLS is
//! not required (a local relay), AUTH when a username is set.

use std::time::Duration;

use super::{default_text, text_or};
use crate::alerts::config::{EmailConfig, GlobalConfig};
use crate::alerts::model::{Delivery, EmailMessage, Notification, SmtpSettings, Verdict};
use crate::outbound::smtp;

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
        text: text_or(c.text.as_ref(), n, || default_text(n))?,
        html: Some(text_or(c.html.as_ref(), n, || html(n))?),
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

/// One SMTP attempt: delivered, retried on transient (4xx) and connection errors, failed on
/// permanent (5xx) replies.
pub async fn send(m: &EmailMessage, timeout: Duration) -> (Verdict, Option<u16>) {
    match smtp::send(m, timeout).await {
        smtp::Outcome::Sent { code } => (Verdict::Delivered, code),
        smtp::Outcome::Transient { reason, code } => (
            Verdict::Retry {
                after_ms: None,
                reason,
            },
            code,
        ),
        smtp::Outcome::Permanent { reason, code } => (Verdict::Failed { reason }, code),
    }
}
