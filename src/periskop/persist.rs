//! Making aggregation changes durable, and telling the rest of Panoptes what changed once they
//! are: new keys, regressions, increases.

use super::aggregate::{Delta, KeyState};
use super::events::PeriskopEvent;
use super::{Periskop, encode, lock, minute_of};
use crate::store::periskop::PeriskopWrite;
use crate::store::{StoreError, Write};

impl Periskop {
    /// Marks `key` resolved and persists that. `Ok(None)` when service or key is unknown.
    pub async fn resolve(&self, service: &str, key: &str) -> Result<Option<KeyState>, StoreError> {
        let Some(agg) = self.service(service) else {
            return Ok(None);
        };
        let now = self.now_ms();
        let Some(state) = lock(&agg).resolve(key, now) else {
            return Ok(None);
        };
        let mut delta = Delta::default();
        delta.keys.insert(key.to_string(), state.clone());
        self.persist(service, delta, now).await?;
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
