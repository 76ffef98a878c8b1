//! The push gateway: a job that cannot be scraped posts its export
//! (`POST /push/periskop/{service}/errors`).

use super::aggregate::{Delta, InstanceMeta};
use super::config::valid_service_name;
use super::{Periskop, lock, model};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("`{0}` is not a valid service name ([A-Za-z0-9._-], at most 128 characters)")]
    InvalidService(String),
    #[error("{0}")]
    InvalidPayload(String),
    #[error("the push gateway already holds {0} services (periskop.max_push_services)")]
    TooManyServices(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one push changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOutcome {
    pub keys: usize,
    pub increase: u64,
}

impl Periskop {
    /// Applies a pushed export (the push gateway). Resolves once the change is durable.
    pub async fn push(&self, service: &str, body: &[u8]) -> Result<PushOutcome, PushError> {
        if !valid_service_name(service) {
            return Err(PushError::InvalidService(service.to_string()));
        }
        let payload = model::parse_payload(body).map_err(|e| {
            let msg = e.to_string();
            self.inner
                .internal
                .report("PushRejected", service, msg.clone(), None, self.now_ms());
            PushError::InvalidPayload(msg)
        })?;
        let global = self.global();
        if self.service(service).is_none() {
            let n = self
                .inner
                .services
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .len();
            let configured = self.inner.settings.borrow().services.len();
            if n >= global.max_push_services + configured {
                return Err(PushError::TooManyServices(global.max_push_services));
            }
        }
        let agg = self.service_entry(service, false);
        let writer = self.writer(service);
        let _w = writer.lock().await;
        let now = self.now_ms();
        let limits = self.limits();
        let ttl = global.push_instance_ttl.get().as_millis() as u64;
        let mut delta = Delta::default();
        let outcome = {
            let mut a = lock(&agg);
            // Without a target_uuid, runs of a job cannot be told apart: each push is a new run,
            // counted in full and not remembered.
            let anonymous = payload.target_uuid.is_empty();
            let id = if anonymous {
                format!("push:anonymous:{}", uuid::Uuid::new_v4())
            } else {
                format!("push:{}", payload.target_uuid)
            };
            let meta = InstanceMeta {
                address: "push".into(),
                pushed: true,
                last_seen_ms: now,
            };
            let dropped = a.apply(&id, meta, &payload, now, limits, &mut delta);
            self.inner.metrics.periskop.dropped_keys.inc_by(dropped);
            a.prune_instances(
                |iid, m| {
                    !(m.pushed
                        && (now.saturating_sub(m.last_seen_ms) > ttl || (anonymous && iid == id)))
                },
                &mut delta,
            );
            PushOutcome {
                keys: payload.aggregated_errors.len(),
                increase: delta.increases.values().sum(),
            }
        };
        // The aggregate changed to compute the delta; if the store refuses it, it goes back
        // to what the store has.
        if let Err(e) = self.persist(service, delta, now).await {
            self.reload(service);
            return Err(e.into());
        }
        Ok(outcome)
    }

    /// Forgets pushing jobs not heard from for `periskop.push_instance_ttl`, in every service
    /// (a service nobody pushes to again would otherwise keep them for ever).
    pub async fn prune_pushed(&self) {
        let ttl = self.global().push_instance_ttl.get().as_millis() as u64;
        for (name, agg) in self.services() {
            let writer = self.writer(&name);
            let _w = writer.lock().await;
            let now = self.now_ms();
            let mut delta = Delta::default();
            lock(&agg).prune_instances(
                |_, m| !(m.pushed && now.saturating_sub(m.last_seen_ms) > ttl),
                &mut delta,
            );
            if delta.is_empty() {
                continue;
            }
            if self.persist(&name, delta, now).await.is_err() {
                self.reload(&name);
            }
        }
    }
}
