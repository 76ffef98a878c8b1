//! Incidents drafted from alerts: a page with `draft_from_alerts` gets a draft incident when an
//! alert fires on a monitor of one of its components (the alert's `monitor` label), so the
//! engineer paged at 2 am finds the public notice half-written and only has to publish it.
//! A draft is on no public route and notifies nobody; when the alert resolves, a draft nobody
//! published is dropped. A published incident is the editors' to resolve.
//!
//! The draft's words are generic on purpose: an alert's annotations may name internal hosts
//! and errors, which the public must not see (the editor writes the rest).

use std::collections::BTreeMap;

use super::config::StatusPageConfig;
use super::engine::{StatusError, StatusPages, read, write};
use super::model::Change;
use crate::events::{AlertEvent, DomainEvent, Event};
use crate::probe::config::MonitorConfig;
use crate::store::Write;
use crate::store::statuspage::StatusWrite;

/// The draft an alert opens on `page`: `None` unless the page drafts from alerts and the
/// alert's `monitor` label names a monitor of one of its components. `critical` severity is a
/// major outage; anything else a partial one.
pub fn draft_for(
    page: &StatusPageConfig,
    monitors: &[MonitorConfig],
    labels: &BTreeMap<String, String>,
) -> Option<Change> {
    if !page.draft_from_alerts {
        return None;
    }
    let monitor = labels.get("monitor")?;
    let hit: Vec<&str> = page
        .all_components()
        .filter(|c| c.monitor_names(monitors).contains(&monitor.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    let first = hit.first()?;
    let critical = labels.get("severity").is_some_and(|s| s == "critical");
    let (impact, status) = if critical {
        ("major", "major_outage")
    } else {
        ("minor", "partial_outage")
    };
    let names = hit.join(", ");
    Some(Change {
        name: Some(format!("Problems with {first}")),
        status: Some("investigating".into()),
        impact: Some(impact.into()),
        body: Some(format!("We are investigating problems with {names}.")),
        components: hit
            .iter()
            .map(|n| (n.to_string(), status.to_string()))
            .collect(),
        draft: Some(true),
        ..Change::default()
    })
}

impl StatusPages {
    /// Reacts to an alert fired or resolved (other events are not this module's).
    pub(super) async fn on_alert(&self, ev: &Event) {
        let DomainEvent::Alert(a) = ev.as_ref() else {
            return;
        };
        let result = match a {
            AlertEvent::Fired(a) => self.draft(&a.fingerprint, &a.labels).await,
            AlertEvent::Resolved(a) => self.drop_drafts(&a.fingerprint).await,
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "status page draft from an alert not written");
        }
    }

    /// One draft per page and alert (an alert firing again after a restart adds none).
    async fn draft(
        &self,
        fingerprint: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), StatusError> {
        let settings = self.inner.settings.borrow().clone();
        let mut drafted = false;
        for page in &settings.pages {
            let Some(change) = draft_for(page, &settings.monitors, labels) else {
                continue;
            };
            let guard = self.inner.changes.lock().await;
            let exists = read(&self.inner.incidents)
                .values()
                .any(|i| i.page == page.slug && i.alert.as_deref() == Some(fingerprint));
            let Some(rendered) = self.get(&page.slug).filter(|_| !exists) else {
                continue;
            };
            self.apply_change(&rendered, None, &change, "alerts", Some(fingerprint))
                .await?;
            drop(guard);
            drafted = true;
        }
        if drafted {
            self.render_all().await;
        }
        Ok(())
    }

    /// Drops the unpublished drafts of an alert that resolved.
    async fn drop_drafts(&self, fingerprint: &str) -> Result<(), StatusError> {
        let _guard = self.inner.changes.lock().await;
        let ids: Vec<u64> = read(&self.inner.incidents)
            .values()
            .filter(|i| i.draft && i.alert.as_deref() == Some(fingerprint))
            .map(|i| i.id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.inner
            .store
            .write(vec![Write::Status(StatusWrite {
                removed: ids.clone(),
                ..Default::default()
            })])
            .await?;
        let mut incidents = write(&self.inner.incidents);
        for id in ids {
            incidents.remove(&id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(draft: bool) -> (StatusPageConfig, Vec<MonitorConfig>) {
        let yaml = format!(
            "monitors:\n  - {{name: api-1, type: tcp, host: 127.0.0.1, port: 1, group: api}}\n  - {{name: db, type: tcp, host: 127.0.0.1, port: 2}}\nstatus_pages:\n  - slug: p\n    title: T\n    draft_from_alerts: {draft}\n    components:\n      - {{name: API, group: api}}\n      - {{name: Everything, monitors: [api-1, db]}}\n"
        );
        let mut c = crate::config::root::parse(&yaml, "t.yaml", &|_| None).expect("config");
        (c.status_pages.remove(0), c.monitors)
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_alert_on_a_published_monitor_drafts_an_incident_for_its_components() {
        let (page, monitors) = setup(true);
        let c = draft_for(
            &page,
            &monitors,
            &labels(&[
                ("alertname", "ApiDown"),
                ("monitor", "api-1"),
                ("severity", "critical"),
            ]),
        )
        .expect("a draft");
        assert_eq!(c.draft, Some(true));
        assert_eq!(c.name.as_deref(), Some("Problems with API"));
        assert_eq!(c.impact.as_deref(), Some("major"));
        assert_eq!(
            c.components,
            BTreeMap::from([
                ("API".to_string(), "major_outage".to_string()),
                ("Everything".to_string(), "major_outage".to_string()),
            ])
        );
        // Nothing of the alert's own words: its annotations may be private.
        assert!(!c.body.unwrap_or_default().contains("ApiDown"));

        let warn = draft_for(&page, &monitors, &labels(&[("monitor", "db")])).expect("draft");
        assert_eq!(warn.impact.as_deref(), Some("minor"));
        assert_eq!(warn.components.len(), 1);
        assert_eq!(warn.components["Everything"], "partial_outage");
    }

    #[test]
    fn no_draft_without_the_option_or_a_published_monitor() {
        let (page, monitors) = setup(false);
        assert!(draft_for(&page, &monitors, &labels(&[("monitor", "api-1")])).is_none());
        let (page, monitors) = setup(true);
        assert!(draft_for(&page, &monitors, &labels(&[("monitor", "other")])).is_none());
        assert!(draft_for(&page, &monitors, &labels(&[("queue", "x")])).is_none());
    }
}
