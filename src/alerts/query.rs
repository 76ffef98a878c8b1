//! Reads for the API and dashboard: alerts held now (with what mutes them), the history,
//! silences, notifications with their attempts, receivers with their last delivery. Wire types
//! from `panoptes_types`; positions for cursors are returned alongside.

use panoptes_types::{
    AlertHistoryEntry, AlertState, AlertView, DeliveryAttempt, DeliveryState as WireState,
    NotificationView, NotifiedAlert, ReceiverView, SilenceView,
};

use super::book::Resolved;
use super::channels::channels;
use super::engine::{Alerts, lock_read};
use super::matcher::{Matcher, all_match};
use super::outbox::{DeliveryState, Record};
use super::state::Phase;
use crate::clock::rfc3339;
use crate::store::{Store, StoreError};

/// Filters of `GET /api/v1/alerts`.
#[derive(Debug, Default, Clone)]
pub struct AlertFilter {
    pub state: Option<AlertState>,
    /// Alertmanager's `filter` matchers (`severity="critical"`).
    pub matchers: Vec<Matcher>,
    /// Leave out silenced and inhibited alerts.
    pub active_only: bool,
}

impl Alerts {
    /// Alerts held now, ordered by fingerprint, after `after`.
    pub fn alerts(
        &self,
        f: &AlertFilter,
        after: Option<String>,
        limit: usize,
    ) -> (Vec<AlertView>, bool) {
        let now = self.clock.now_ms();
        let book = lock_read(&self.book);
        let mut fps: Vec<&String> = book
            .instances
            .iter()
            .filter(|(fp, i)| {
                after.as_ref().is_none_or(|a| *fp > a)
                    && f.state.is_none_or(|s| state(i.phase) == s)
                    && all_match(&f.matchers, &i.labels)
            })
            .map(|(fp, _)| fp)
            .collect();
        fps.sort();
        let mut out = Vec::new();
        for fp in fps {
            let Some(i) = book.instances.get(fp) else {
                continue;
            };
            let (silenced_by, inhibited) = if i.phase == Phase::Firing {
                book.muted_by(&i.labels, now)
            } else {
                (Vec::new(), false)
            };
            if f.active_only && (!silenced_by.is_empty() || inhibited) {
                continue;
            }
            out.push(AlertView {
                fingerprint: i.fingerprint.clone(),
                rule: i.rule.clone(),
                state: state(i.phase),
                labels: i.labels.clone(),
                annotations: i.annotations.clone(),
                value: i.value.clone(),
                since: rfc3339(i.active_since_ms),
                fired_at: i.fired_at_ms.map(rfc3339),
                generator_url: i.generator_url.clone(),
                silenced_by,
                inhibited,
            });
            if out.len() > limit {
                break;
            }
        }
        let more = out.len() > limit;
        out.truncate(limit);
        (out, more)
    }

    /// Silences, newest first (pending and active before expired).
    pub fn silences(&self) -> Vec<SilenceView> {
        let now = self.clock.now_ms();
        let book = lock_read(&self.book);
        let mut all: Vec<_> = book.silences.values().collect();
        all.sort_by(|a, b| {
            let expired = |s: &super::silences::Silence| s.ends_at_ms <= now;
            expired(a)
                .cmp(&expired(b))
                .then(b.updated_at_ms.cmp(&a.updated_at_ms))
                .then(a.id.cmp(&b.id))
        });
        all.into_iter().map(|s| s.view(now)).collect()
    }

    pub fn silence(&self, id: &str) -> Option<SilenceView> {
        let now = self.clock.now_ms();
        lock_read(&self.book).silences.get(id).map(|s| s.view(now))
    }

    /// Receivers of the config with their channels and latest notification.
    pub async fn receivers(&self) -> Result<Vec<ReceiverView>, StoreError> {
        let cfg = self.config();
        let recent = self
            .store
            .read(|s| s.alerts_notifications(None, 1000))
            .await?;
        let records: Vec<Record> = recent
            .iter()
            .filter_map(|(_, b)| serde_json::from_slice(b).ok())
            .collect();
        Ok(cfg
            .receivers
            .iter()
            .map(|r| ReceiverView {
                name: r.name.clone(),
                channels: channels(r).into_iter().map(|c| c.id).collect(),
                last_delivery: records
                    .iter()
                    .find(|n| n.receiver == r.name)
                    .map(notification_view),
            })
            .collect())
    }
}

fn state(p: Phase) -> AlertState {
    match p {
        Phase::Pending => AlertState::Pending,
        Phase::Firing => AlertState::Firing,
    }
}

/// History, newest first, before the `before` position; returns the next position.
pub async fn history(
    store: &Store,
    before: Option<(u64, String)>,
    limit: usize,
) -> Result<(Vec<AlertHistoryEntry>, Option<(u64, String)>), StoreError> {
    let rows = store
        .read(move |s| s.alerts_history(before, limit + 1))
        .await?;
    let more = rows.len() > limit;
    let mut next = None;
    let mut out = Vec::new();
    for (pos, bytes) in rows.into_iter().take(limit) {
        next = Some(pos);
        let Ok(r) = serde_json::from_slice::<Resolved>(&bytes) else {
            continue;
        };
        out.push(AlertHistoryEntry {
            fingerprint: r.fingerprint,
            rule: r.rule,
            labels: r.labels,
            annotations: r.annotations,
            value: r.value,
            since: rfc3339(r.active_since_ms),
            fired_at: rfc3339(r.fired_at_ms),
            resolved_at: rfc3339(r.resolved_at_ms),
            generator_url: r.generator_url,
        });
    }
    Ok((out, if more { next } else { None }))
}

/// Notifications, newest first, ids below `before`, optionally of one receiver.
pub async fn notifications(
    store: &Store,
    before: Option<u64>,
    receiver: Option<String>,
    limit: usize,
) -> Result<(Vec<NotificationView>, Option<u64>), StoreError> {
    // A receiver filter reads further back, bounded so one page never scans the whole table.
    let scan = if receiver.is_some() {
        10_000
    } else {
        limit + 1
    };
    let rows = store
        .read(move |s| s.alerts_notifications(before, scan))
        .await?;
    let mut out = Vec::new();
    let mut last_id = None;
    let mut more = false;
    for (id, bytes) in rows {
        let Ok(r) = serde_json::from_slice::<Record>(&bytes) else {
            continue;
        };
        if receiver.as_ref().is_some_and(|n| *n != r.receiver) {
            continue;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        last_id = Some(id);
        out.push(notification_view(&r));
    }
    Ok((out, if more { last_id } else { None }))
}

pub fn notification_view(r: &Record) -> NotificationView {
    NotificationView {
        id: r.id,
        receiver: r.receiver.clone(),
        channel: r.channel.clone(),
        state: match r.state {
            DeliveryState::Queued => WireState::Queued,
            DeliveryState::Sending => WireState::Sending,
            DeliveryState::Delivered => WireState::Delivered,
            DeliveryState::Failed => WireState::Failed,
            DeliveryState::Dead => WireState::Dead,
            DeliveryState::Uncertain => WireState::Uncertain,
        },
        group_key: r.notification.group_key.clone(),
        status: r.notification.status,
        alerts: r
            .notification
            .alerts
            .iter()
            .map(|a| NotifiedAlert {
                fingerprint: a.fingerprint.clone(),
                status: a.status,
                labels: a.labels.clone(),
            })
            .collect(),
        created_at: rfc3339(r.created_ms),
        finished_at: r.finished_ms.map(rfc3339),
        next_attempt_at: r.state.is_open().then(|| rfc3339(r.next_attempt_ms)),
        attempt_count: r.attempt_count,
        attempts: r
            .attempts
            .iter()
            .map(|a| DeliveryAttempt {
                at: rfc3339(a.at_ms),
                latency_ms: a.latency_ms,
                status: a.status,
                outcome: a.outcome,
                error: a.error.clone(),
            })
            .collect(),
    }
}
