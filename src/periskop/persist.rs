//! Making aggregation changes durable, and telling the rest of Panoptes what changed once they
//! are: new keys, regressions, increases.

use super::aggregate::{Delta, KeyState};
use super::events::PeriskopEvent;
use super::{Periskop, encode, lock, minute_of};
use crate::store::periskop::PeriskopWrite;
use crate::store::{StoreError, Write};

impl Periskop {
    /// Marks `key` resolved: durable first, then shown. `Ok(None)` when service or key is
    /// unknown.
    pub async fn resolve(&self, service: &str, key: &str) -> Result<Option<KeyState>, StoreError> {
        let Some(agg) = self.service(service) else {
            return Ok(None);
        };
        let writer = self.writer(service);
        let _w = writer.lock().await;
        let now = self.now_ms();
        // Resolved on a copy; the aggregate changes only once the store has the change (and no
        // scrape of this service can change the key meanwhile: it waits for `_w`).
        let Some(state) = lock(&agg).keys.get(key).cloned().map(|k| k.resolved(now)) else {
            return Ok(None);
        };
        let mut delta = Delta::default();
        delta.keys.insert(key.to_string(), state.clone());
        self.persist(service, delta, now).await?;
        lock(&agg).keys.insert(key.to_string(), state.clone());
        Ok(Some(state))
    }

    /// Writes `delta` durably; store failures are also reported as internal errors.
    pub(super) async fn persist(
        &self,
        service: &str,
        delta: Delta,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        if delta.is_empty() {
            return Ok(());
        }
        let events = changes(service, &delta, now_ms);
        let w = PeriskopWrite {
            service: service.to_string(),
            minute_ms: minute_of(now_ms),
            rate_before_ms: now_ms
                .saturating_sub(self.global().rate_retention.get().as_millis() as u64),
            keys: delta
                .keys
                .iter()
                .map(|(k, v)| (k.clone(), encode(v)))
                .collect(),
            increases: delta.increases.into_iter().collect(),
            instances: delta
                .instances
                .iter()
                .map(|(k, v)| (k.clone(), encode(v)))
                .collect(),
            baselines: delta
                .baselines
                .into_iter()
                .map(|((i, k), n)| (i, k, n))
                .collect(),
            removed_instances: delta.removed_instances,
        };
        match self.inner.store.write(vec![Write::Periskop(w)]).await {
            Ok(_) => {
                for e in events {
                    self.inner.events.publish(e);
                }
                Ok(())
            }
            Err(e) => {
                self.inner.internal.report(
                    "StoreError",
                    service,
                    format!("persisting exceptions of {service}: {e}"),
                    None,
                    now_ms,
                );
                Err(e)
            }
        }
    }
}

/// What a delta tells others: keys first seen now, keys that regressed now, and every increase.
fn changes(service: &str, delta: &Delta, now_ms: u64) -> Vec<PeriskopEvent> {
    let mut out = Vec::new();
    for (key, state) in &delta.keys {
        if state.first_seen_ms == now_ms && delta.increases.contains_key(key) {
            out.push(PeriskopEvent::KeyCreated {
                service: service.to_string(),
                key: key.clone(),
                severity: state.severity.clone(),
                total: state.total,
                at_ms: now_ms,
            });
        }
        if state.regressed_at_ms == Some(now_ms) {
            out.push(PeriskopEvent::KeyRegressed {
                service: service.to_string(),
                key: key.clone(),
                total: state.total,
                at_ms: now_ms,
            });
        }
    }
    for (key, increase) in &delta.increases {
        out.push(PeriskopEvent::CountIncreased {
            service: service.to_string(),
            key: key.clone(),
            increase: *increase,
            total: delta.keys.get(key).map_or(*increase, |k| k.total),
            at_ms: now_ms,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(total: u64, first_seen_ms: u64, regressed_at_ms: Option<u64>) -> KeyState {
        KeyState {
            total,
            severity: "error".into(),
            created_at_ms: 0,
            first_seen_ms,
            last_seen_ms: 100,
            occurrences: Vec::new(),
            resolved_at_ms: None,
            regression: regressed_at_ms.is_some(),
            regressed_at_ms,
        }
    }

    #[test]
    fn a_delta_says_what_is_new_regressed_and_growing() {
        let mut d = Delta::default();
        d.keys.insert("new".into(), key(3, 100, None));
        d.increases.insert("new".into(), 3);
        d.keys.insert("back".into(), key(9, 10, Some(100)));
        d.increases.insert("back".into(), 2);
        d.keys.insert("old".into(), key(20, 10, None));
        d.increases.insert("old".into(), 1);
        let events = changes("shop", &d, 100);
        let created: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                PeriskopEvent::KeyCreated { key, .. } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(created, ["new"]);
        assert!(events.iter().any(|e| matches!(e,
            PeriskopEvent::KeyRegressed { key, total: 9, .. } if key == "back")));
        assert!(events.iter().any(|e| matches!(e,
            PeriskopEvent::CountIncreased { key, increase: 1, total: 20, .. } if key == "old")));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, PeriskopEvent::CountIncreased { .. }))
                .count(),
            3
        );
    }
}
