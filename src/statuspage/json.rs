//! Atlassian Statuspage's public API v2, field for field (`summary.json`, `status.json`,
//! `components.json`, `incidents*.json`, `scheduled-maintenances*.json`), so Grafana's
//! Statuspage data source, Backstage plugins and status aggregators read Panoptes unchanged.

use serde_json::{Value, json};

use super::html::rfc3339;
use super::model::{Incident, IncidentStatus};
use super::view::{ComponentView, PageView};

/// The files under `/status/{slug}/api/v2/`.
pub const FILES: [&str; 8] = [
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
];

/// Most incidents and maintenances in a list (Statuspage's own limit).
const LIMIT: usize = 50;

fn page(p: &PageView) -> Value {
    json!({
        "id": p.config.slug,
        "name": p.config.title,
        "url": p.url,
        "time_zone": p.config.time_zone.name(),
        "updated_at": rfc3339(p.updated_ms),
    })
}

fn opt_time(ms: Option<u64>) -> Value {
    ms.map(|m| Value::String(rfc3339(m))).unwrap_or(Value::Null)
}

fn component(c: &ComponentView, p: &PageView) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "status": c.status.as_str(),
        "created_at": rfc3339(p.updated_ms),
        "updated_at": rfc3339(p.updated_ms),
        "position": c.position,
        "description": if c.description.is_empty() { Value::Null } else { Value::String(c.description.clone()) },
        "showcase": true,
        "start_date": Value::Null,
        "group_id": c.group_id,
        "page_id": p.config.slug,
        "group": false,
        "only_show_if_degraded": false,
    })
}

fn components(p: &PageView) -> Vec<Value> {
    let mut out: Vec<Value> = p.components.iter().map(|c| component(c, p)).collect();
    for g in &p.groups {
        let worst = g.components.iter().map(|c| c.status).max();
        out.push(json!({
            "id": g.id,
            "name": g.name,
            "status": worst.map(|s| s.as_str()).unwrap_or("operational"),
            "created_at": rfc3339(p.updated_ms),
            "updated_at": rfc3339(p.updated_ms),
            "position": g.position,
            "description": if g.description.is_empty() { Value::Null } else { Value::String(g.description.clone()) },
            "showcase": false,
            "start_date": Value::Null,
            "group_id": Value::Null,
            "page_id": p.config.slug,
            "group": true,
            "only_show_if_degraded": false,
            "components": g.components.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        }));
        out.extend(g.components.iter().map(|c| component(c, p)));
    }
    out
}

fn incident(i: &Incident, p: &PageView) -> Value {
    let id = i.id.to_string();
    let updates: Vec<Value> = i
        .updates
        .iter()
        .rev()
        .map(|u| {
            json!({
                "id": format!("{}-{}", i.id, u.id),
                "status": u.status.as_str(),
                "body": u.body,
                "incident_id": id,
                "created_at": rfc3339(u.created_ms),
                "updated_at": rfc3339(u.created_ms),
                "display_at": rfc3339(u.created_ms),
                "affected_components": if u.affected.is_empty() {
                    Value::Null
                } else {
                    Value::Array(u.affected.iter().map(|a| json!({
                        "code": a.code,
                        "name": a.name,
                        "old_status": a.old_status.as_str(),
                        "new_status": a.new_status.as_str(),
                    })).collect())
                },
                "deliver_notifications": true,
                "custom_tweet": Value::Null,
                "tweet_id": Value::Null,
            })
        })
        .collect();
    // Every component any update touched.
    let mut touched: Vec<&str> = i
        .updates
        .iter()
        .flat_map(|u| u.affected.iter().map(|a| a.code.as_str()))
        .chain(i.components.keys().map(String::as_str))
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let comps: Vec<Value> = touched
        .iter()
        .filter_map(|code| p.all().find(|c| c.id == *code))
        .map(|c| component(c, p))
        .collect();
    let mut v = json!({
        "id": id,
        "name": i.name,
        "status": i.status.as_str(),
        "impact": i.impact.as_str(),
        "created_at": rfc3339(i.created_ms),
        "updated_at": rfc3339(i.updated_ms),
        "monitoring_at": opt_time(i.monitoring_ms),
        "resolved_at": opt_time(i.resolved_ms),
        "started_at": rfc3339(i.started_ms),
        "shortlink": format!("{}/history#incident-{}", p.url, i.id),
        "page_id": p.config.slug,
        "incident_updates": updates,
        "components": comps,
    });
    if i.is_maintenance() {
        v["scheduled_for"] = opt_time(i.scheduled_for_ms);
        v["scheduled_until"] = opt_time(i.scheduled_until_ms);
    }
    v
}

fn incidents<'a>(p: &'a PageView, keep: impl Fn(&Incident) -> bool + 'a) -> Vec<Value> {
    p.incidents
        .iter()
        .chain(p.windows.iter())
        .filter(|i| keep(i))
        .take(LIMIT)
        .map(|i| incident(i, p))
        .collect()
}

fn unresolved(i: &Incident) -> bool {
    !i.is_maintenance() && i.status.is_open()
}

fn upcoming(i: &Incident) -> bool {
    i.status == IncidentStatus::Scheduled
}

fn active(i: &Incident) -> bool {
    matches!(
        i.status,
        IncidentStatus::InProgress | IncidentStatus::Verifying
    )
}

/// The body of one file of [`FILES`].
pub fn file(name: &str, p: &PageView) -> Option<Value> {
    let status = json!({"indicator": p.indicator.as_str(), "description": p.description});
    Some(match name {
        "summary.json" => json!({
            "page": page(p),
            "components": components(p),
            "incidents": incidents(p, unresolved),
            "scheduled_maintenances": incidents(p, |i| upcoming(i) || active(i)),
            "status": status,
        }),
        "status.json" => json!({"page": page(p), "status": status}),
        "components.json" => json!({"page": page(p), "components": components(p)}),
        "incidents.json" => {
            json!({"page": page(p), "incidents": incidents(p, |i| !i.is_maintenance())})
        }
        "incidents/unresolved.json" => {
            json!({"page": page(p), "incidents": incidents(p, unresolved)})
        }
        "scheduled-maintenances.json" => json!({
            "page": page(p),
            "scheduled_maintenances": incidents(p, Incident::is_maintenance),
        }),
        "scheduled-maintenances/upcoming.json" => json!({
            "page": page(p),
            "scheduled_maintenances": incidents(p, upcoming),
        }),
        "scheduled-maintenances/active.json" => json!({
            "page": page(p),
            "scheduled_maintenances": incidents(p, active),
        }),
        _ => return None,
    })
}

/// One incident in the shape above (the management API's answer).
pub fn one(i: &Incident, p: &PageView) -> Value {
    incident(i, p)
}
