//! Alertmanager's webhook (exactly its `version: "4"` payload, or a body template) and pushing
//! alerts to a real Alertmanager's `POST /api/v2/alerts` the way Prometheus does.

use serde_json::{Value, json};

use super::{am_time, post_json, templated, truncated};
use crate::alerts::config::{AlertmanagerConfig, WebhookConfig};
use crate::alerts::model::{AlertStatus, Delivery, Notification};
use crate::clock::rfc3339;

/// Alertmanager's webhook message.
pub fn payload(n: &Notification) -> Value {
    json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": n.truncated_alerts,
        "status": n.status.as_str(),
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels,
        "commonAnnotations": n.common_annotations,
        "externalURL": n.external_url,
        "alerts": n.alerts.iter().map(|a| json!({
            "status": a.status.as_str(),
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": rfc3339(a.starts_at_ms),
            "endsAt": am_time(a.ends_at_ms),
            "generatorURL": a.generator_url,
            "fingerprint": a.fingerprint,
        })).collect::<Vec<_>>(),
    })
}

pub fn webhook(c: &WebhookConfig, n: &Notification) -> Result<Vec<Delivery>, String> {
    let n = truncated(n, c.max_alerts);
    let mut req = post_json(c.url(), &payload(&n), &c.http_config);
    req.timeout_ms = c.timeout().map(|t| t.as_millis() as u64);
    if let Some(t) = &c.template {
        templated(&mut req, t, &n)?;
    }
    Ok(vec![Delivery::Http(req)])
}

/// How long a pushed firing alert stays firing in Alertmanager without being pushed again
/// (Prometheus uses four times its resend delay); Panoptes pushes again every minute.
pub const RESEND_MS: u64 = 60_000;

pub fn alertmanager(
    c: &AlertmanagerConfig,
    n: &Notification,
    now: u64,
) -> Result<Vec<Delivery>, String> {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            let ends = match a.status {
                AlertStatus::Firing => now + 4 * RESEND_MS,
                AlertStatus::Resolved => a.ends_at_ms.unwrap_or(now),
            };
            json!({
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at_ms),
                "endsAt": rfc3339(ends),
                "generatorURL": a.generator_url,
            })
        })
        .collect();
    let url = format!("{}/api/v2/alerts", c.url.trim_end_matches('/'));
    Ok(vec![Delivery::Http(post_json(
        &url,
        &Value::Array(alerts),
        &c.http_config,
    ))])
}
