//! Ingest counters: per project and outcome, per item type, refusals by reason. The same
//! numbers go to `/metrics` and `GET /api/v1/ingest/stats`. Every label is bounded: projects are
//! the configured ones, item types a fixed list (others are `other`), reasons an enum.

use std::collections::{BTreeMap, HashMap};

use super::{Ingest, IngestError, lock};
use crate::metrics::{IngestItemLabels, IngestLabels};
use crate::store::StoreError;

/// Per project counters since start.
#[derive(Debug, Clone, Default)]
pub(super) struct Counters {
    outcomes: HashMap<&'static str, u64>,
    items: HashMap<&'static str, u64>,
}

/// Item types Panoptes knows by name (others are counted as `other`, bounding label values).
const KNOWN_ITEMS: &[&str] = &[
    "event",
    "transaction",
    "attachment",
    "session",
    "sessions",
    "client_report",
    "check_in",
    "user_report",
    "feedback",
    "security",
    "profile",
    "profile_chunk",
    "replay_event",
    "replay_recording",
    "replay_video",
    "span",
    "log",
    "otel_log",
    "statsd",
    "metric_buckets",
    "raw_security",
    "nel",
    "form_data",
    "unreal_report",
];

impl Ingest {
    pub(super) fn count(&self, project: u64, outcome: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        self.inner
            .metrics
            .ingest
            .events
            .get_or_create(&IngestLabels {
                project: project.to_string(),
                outcome: outcome.to_string(),
            })
            .inc_by(n);
        if outcome == "rate_limited" {
            self.inner.metrics.ingest.quota_rejected.inc_by(n);
        }
        *lock(&self.inner.counters)
            .entry(project)
            .or_default()
            .outcomes
            .entry(outcome)
            .or_default() += n;
    }

    pub(super) fn count_item(&self, project: u64, ty: &str) {
        let item = KNOWN_ITEMS
            .iter()
            .find(|k| **k == ty)
            .copied()
            .unwrap_or("other");
        self.inner
            .metrics
            .ingest
            .items
            .get_or_create(&IngestItemLabels {
                project: project.to_string(),
                item: item.to_string(),
            })
            .inc();
        *lock(&self.inner.counters)
            .entry(project)
            .or_default()
            .items
            .entry(item)
            .or_default() += 1;
    }

    /// Counts a refused request: by reason, and as `invalid` for its project when that project
    /// is configured (a URL can name any number; only configured ones become labels).
    pub fn reject(&self, project: Option<u64>, e: &IngestError) {
        self.inner
            .metrics
            .ingest
            .rejected
            .get_or_create(&vec![("reason".to_string(), e.reason().to_string())])
            .inc();
        let known = project.filter(|p| self.settings().projects.iter().any(|c| c.id == *p));
        if let Some(p) = known
            && matches!(
                e,
                IngestError::InvalidEnvelope(_)
                    | IngestError::InvalidEvent(_)
                    | IngestError::TooLarge(_)
                    | IngestError::BadEncoding(_)
            )
        {
            self.count(p, "invalid", 1);
        }
    }

    /// Counters since start, per configured project, with stored session counts.
    pub fn stats(&self) -> Result<panoptes_types::IngestStats, StoreError> {
        let settings = self.settings();
        let counters = lock(&self.inner.counters).clone();
        let mut out = panoptes_types::IngestStats {
            backlog: self.backlog(),
            projects: Vec::new(),
            forward: None,
        };
        for p in &settings.projects {
            let c = counters.get(&p.id).cloned().unwrap_or_default();
            let get = |k: &str| c.outcomes.get(k).copied().unwrap_or(0);
            let mut releases: BTreeMap<String, BTreeMap<String, u64>> = Default::default();
            for (release, name, n) in self.inner.store.sentry_counts(p.id)? {
                releases.entry(release).or_default().insert(name, n);
            }
            out.projects.push(panoptes_types::ProjectIngestStats {
                project: p.id,
                name: p.name.clone(),
                accepted: get("accepted"),
                stored: get("stored"),
                sampled: get("sampled"),
                rate_limited: get("rate_limited"),
                invalid: get("invalid"),
                duplicate: get("duplicate"),
                items: c
                    .items
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                releases,
            });
        }
        Ok(out)
    }
}
