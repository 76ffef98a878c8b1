//! Paging services that track each alert: PagerDuty Events API v2 (trigger and resolve with
//! `dedup_key` = the fingerprint) and Opsgenie (create, and close by alias = the fingerprint).
//! One request per alert; both deduplicate, so a retry after a restart is harmless.

use serde_json::json;

use super::{post_json, text_or};
use crate::alerts::config::{GlobalConfig, OpsgenieConfig, PagerdutyConfig};
use crate::alerts::model::{Alert, AlertStatus, Delivery, Notification};
use crate::clock::rfc3339;

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn summary(a: &Alert) -> String {
    a.annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| a.name().to_string())
}

/// PagerDuty's severities; others map by their usual meaning.
pub fn pd_severity(s: &str) -> &'static str {
    match s.to_ascii_lowercase().as_str() {
        "critical" | "page" | "fatal" | "emergency" | "p1" => "critical",
        "error" | "high" | "major" | "p2" => "error",
        "warning" | "warn" | "medium" | "minor" | "p3" => "warning",
        _ => "info",
    }
}

pub fn pagerduty(
    c: &PagerdutyConfig,
    g: &GlobalConfig,
    n: &Notification,
) -> Result<Vec<Delivery>, String> {
    let url = c.url.clone().unwrap_or_else(|| g.pagerduty_url.clone());
    let mut out = Vec::new();
    for a in &n.alerts {
        // Each alert is rendered with itself as the notification, so `.CommonLabels` are
        // its labels.
        let one = Notification {
            alerts: vec![a.clone()],
            common_labels: a.labels.clone(),
            common_annotations: a.annotations.clone(),
            status: a.status,
            ..n.clone()
        };
        let body = match a.status {
            AlertStatus::Firing => {
                let severity = c
                    .severity
                    .as_deref()
                    .map(pd_severity)
                    .unwrap_or_else(|| pd_severity(a.severity()));
                let description = text_or(c.description.as_ref(), &one, || summary(a))?;
                let mut details = json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                });
                for (k, v) in &c.details {
                    details[k] = json!(text_or(Some(v), &one, String::new)?);
                }
                let mut links = Vec::new();
                if !a.generator_url.is_empty() {
                    links.push(json!({"href": a.generator_url, "text": "Open in Panoptes"}));
                }
                for l in &c.links {
                    links.push(json!({
                        "href": text_or(Some(&l.href), &one, String::new)?,
                        "text": text_or(Some(&l.text), &one, String::new)?,
                    }));
                }
                json!({
                    "routing_key": c.key(),
                    "event_action": "trigger",
                    "dedup_key": a.fingerprint,
                    "payload": {
                        "summary": clip(&description, 1024),
                        "source": a.labels.get("monitor").or(a.labels.get("service"))
                            .cloned().unwrap_or_else(|| "panoptes".into()),
                        "severity": severity,
                        "timestamp": rfc3339(a.starts_at_ms),
                        "component": a.labels.get("monitor").cloned(),
                        "group": a.labels.get("group").cloned(),
                        "class": a.name(),
                        "custom_details": details,
                    },
                    "client": c.client,
                    "client_url": c.client_url.clone().unwrap_or_else(|| format!("{}/alerts", n.external_url)),
                    "links": links,
                })
            }
            AlertStatus::Resolved => json!({
                "routing_key": c.key(),
                "event_action": "resolve",
                "dedup_key": a.fingerprint,
            }),
        };
        out.push(Delivery::Http(post_json(&url, &body, &c.http_config)));
    }
    Ok(out)
}

pub fn opsgenie(
    c: &OpsgenieConfig,
    g: &GlobalConfig,
    n: &Notification,
) -> Result<Vec<Delivery>, String> {
    let base = c
        .api_url
        .clone()
        .unwrap_or_else(|| g.opsgenie_api_url.clone());
    let base = base.trim_end_matches('/');
    let key = c
        .api_key
        .clone()
        .or_else(|| g.opsgenie_api_key.clone())
        .ok_or("opsgenie_configs needs `api_key` (or `global.opsgenie_api_key`)")?;
    let mut out = Vec::new();
    for a in &n.alerts {
        let one = Notification {
            alerts: vec![a.clone()],
            common_labels: a.labels.clone(),
            common_annotations: a.annotations.clone(),
            status: a.status,
            ..n.clone()
        };
        let mut req = match a.status {
            AlertStatus::Firing => {
                let message = text_or(c.message.as_ref(), &one, || summary(a))?;
                let description =
                    text_or(c.description.as_ref(), &one, || super::default_text(&one))?;
                let tags: Vec<String> = c
                    .tags
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .map(|t| clip(t.trim(), 50))
                    .filter(|t| !t.is_empty())
                    .take(20)
                    .collect();
                let mut details: std::collections::BTreeMap<String, String> = a.labels.clone();
                for (k, v) in &c.details {
                    details.insert(k.clone(), text_or(Some(v), &one, String::new)?);
                }
                let priority = c.priority.clone().unwrap_or_else(|| {
                    match pd_severity(a.severity()) {
                        "critical" => "P1",
                        "error" => "P2",
                        "warning" => "P3",
                        _ => "P4",
                    }
                    .to_string()
                });
                let mut body = json!({
                        "message": clip(&message, 130),
                        "alias": a.fingerprint,
                        "description": clip(&description, 15_000),
                        "tags": tags,
                        "details": details,
                        "priority": priority,
                        "source": "Panoptes",
                        "entity": a.labels.get("monitor").or(a.labels.get("service")).cloned(),
                });
                if !c.responders.is_empty() {
                    let r: Vec<_> = c.responders.iter().flat_map(|r| r.to_json()).collect();
                    body["responders"] = json!(r);
                }
                if let Some(note) = &c.note {
                    body["note"] = json!(clip(&text_or(Some(note), &one, String::new)?, 25_000));
                }
                post_json(&format!("{base}/v2/alerts"), &body, &c.http_config)
            }
            AlertStatus::Resolved => post_json(
                &format!(
                    "{base}/v2/alerts/{}/close?identifierType=alias",
                    a.fingerprint
                ),
                &json!({"source": "Panoptes", "note": "Resolved in Panoptes"}),
                &c.http_config,
            ),
        };
        req.headers.retain(|(k, _)| k != "authorization");
        req.headers
            .push(("authorization".into(), format!("GenieKey {key}")));
        out.push(Delivery::Http(req));
    }
    Ok(out)
}
