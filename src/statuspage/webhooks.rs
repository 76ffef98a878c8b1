//! What webhook subscribers receive: Atlassian Statuspage's webhook body — `meta`
//! (`unsubscribe`, `documentation`), `page` (`id`, `status_indicator`, `status_description`)
//! and `incident` in the public API's incident shape — so receivers written for Statuspage
//! work unchanged. Pure: the engine queues the bodies in the outbox.

use serde_json::json;

use super::model::{self, ComponentStatus, Incident};
use super::view::PageView;

/// Where `meta.documentation` points.
pub const DOCUMENTATION: &str =
    "https://support.atlassian.com/statuspage/docs/enable-webhook-notifications/";

/// The page's indicator once `incident` (new or just updated) is counted in: the view was
/// gathered before the change.
fn indicator_with(p: &PageView, incident: &Incident) -> (model::Impact, &'static str) {
    let others = || p.incidents.iter().filter(|i| i.id != incident.id);
    let all = || others().chain(std::iter::once(incident));
    let statuses: Vec<ComponentStatus> = p
        .all()
        .map(|c| model::with_incidents(&c.id, c.derived, all()))
        .collect();
    let open: Vec<model::Impact> = all()
        .filter(|i| i.status.is_open())
        .map(|i| i.impact)
        .collect();
    model::indicator(&statuses, &open)
}

/// The body of one incident (or maintenance) notification.
pub fn incident_body(p: &PageView, incident: &Incident, unsubscribe: Option<&str>) -> String {
    let (indicator, description) = indicator_with(p, incident);
    let key = if incident.is_maintenance() {
        "scheduled_maintenance"
    } else {
        "incident"
    };
    let mut v = json!({
        "meta": {"unsubscribe": unsubscribe, "documentation": DOCUMENTATION},
        "page": {
            "id": p.config.slug,
            "status_indicator": indicator.as_str(),
            "status_description": description,
            "url": p.url,
        },
    });
    v[key] = super::json::one(incident, p);
    // Statuspage treats maintenance as an incident (`impact: maintenance`) under `incident`;
    // `scheduled_maintenance` repeats it for receivers that look for that key.
    if key != "incident" {
        v["incident"] = v[key].clone();
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statuspage::model::{Impact, IncidentStatus, Update};
    use crate::statuspage::view::ComponentView;
    use std::collections::BTreeMap;

    fn view() -> PageView {
        let c = |id: &str, name: &str| ComponentView {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            status: ComponentStatus::Operational,
            derived: ComponentStatus::Operational,
            position: 1,
            group_id: None,
            days: Vec::new(),
            uptime: [None; 4],
            hourly_ms: Vec::new(),
            daily_ms: Vec::new(),
            details: None,
        };
        let config = crate::config::root::parse(
            "monitors:\n  - {name: a, type: tcp, host: 127.0.0.1, port: 1}\nstatus_pages:\n  - {slug: public, title: T, components: [{name: API, monitor: a}]}\n",
            "t.yaml",
            &|_| None,
        )
        .expect("config")
        .status_pages
        .remove(0);
        PageView {
            config,
            url: "http://x/status/public".into(),
            now_ms: 0,
            updated_ms: 0,
            indicator: Impact::None,
            description: "All Systems Operational",
            components: vec![c("c1", "API"), c("c2", "Web")],
            groups: Vec::new(),
            incidents: Vec::new(),
            windows: Vec::new(),
        }
    }

    fn incident(status: IncidentStatus, impact: Impact, comp: ComponentStatus) -> Incident {
        Incident {
            id: 7,
            page: "public".into(),
            name: "API errors".into(),
            status,
            impact,
            created_ms: 1_000,
            updated_ms: 2_000,
            started_ms: 1_000,
            monitoring_ms: None,
            resolved_ms: None,
            scheduled_for_ms: None,
            scheduled_until_ms: None,
            components: BTreeMap::from([("c1".to_string(), comp)]),
            updates: vec![Update {
                id: 1,
                status,
                body: "Looking <b>into</b> it".into(),
                created_ms: 2_000,
                affected: Vec::new(),
                by: "alice".into(),
            }],
            draft: false,
            alert: None,
        }
    }

    #[test]
    fn the_body_has_statuspages_fields_and_the_indicator_after_the_change() {
        let p = view();
        let i = incident(
            IncidentStatus::Investigating,
            Impact::Major,
            ComponentStatus::MajorOutage,
        );
        let v: serde_json::Value =
            serde_json::from_str(&incident_body(&p, &i, Some("http://x/u/1"))).expect("json");
        assert_eq!(v["meta"]["unsubscribe"], "http://x/u/1");
        assert_eq!(v["meta"]["documentation"], DOCUMENTATION);
        assert_eq!(v["page"]["id"], "public");
        // The view said all was well; the new incident makes it a major outage.
        assert_eq!(v["page"]["status_indicator"], "major");
        assert_eq!(v["page"]["status_description"], "Partial System Outage");
        assert_eq!(v["incident"]["id"], "7");
        assert_eq!(v["incident"]["status"], "investigating");
        assert_eq!(v["incident"]["impact"], "major");
        assert_eq!(
            v["incident"]["incident_updates"][0]["body"],
            "Looking <b>into</b> it"
        );
        assert!(v.get("scheduled_maintenance").is_none());

        // Resolved: back to operational, whatever the (older) view said.
        let mut p = view();
        p.incidents = vec![i.clone()];
        let r = incident(
            IncidentStatus::Resolved,
            Impact::Major,
            ComponentStatus::Operational,
        );
        let v: serde_json::Value =
            serde_json::from_str(&incident_body(&p, &r, None)).expect("json");
        assert_eq!(v["page"]["status_indicator"], "none");
        assert!(v["meta"]["unsubscribe"].is_null());
    }

    #[test]
    fn maintenance_goes_under_both_keys() {
        let p = view();
        let mut m = incident(
            IncidentStatus::InProgress,
            Impact::Maintenance,
            ComponentStatus::UnderMaintenance,
        );
        m.scheduled_for_ms = Some(1_000);
        m.scheduled_until_ms = Some(9_000);
        let v: serde_json::Value =
            serde_json::from_str(&incident_body(&p, &m, None)).expect("json");
        assert_eq!(v["page"]["status_indicator"], "maintenance");
        assert_eq!(v["scheduled_maintenance"]["status"], "in_progress");
        assert_eq!(v["incident"], v["scheduled_maintenance"]);
        assert!(v["incident"]["scheduled_until"].is_string());
    }
}
