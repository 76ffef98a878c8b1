//! The push gateway: a job that cannot be scraped posts its export
//! (`POST /push/periskop/{service}/errors`).
//!
//! A push changes a copy of the service's aggregate, which replaces the aggregate only once the
//! store has the change; a service is created only then too (so a failed write neither shows
//! uncommitted totals nor leaves an empty service counting against `max_push_services`).

use super::aggregate::{Delta, InstanceMeta};
use super::config::valid_service_name;
use super::internal::{UNKNOWN_SERVICE, bounded};
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
    pub async fn push(&self, service: &str, body: bytes::Bytes) -> Result<PushOutcome, PushError> {
        if !valid_service_name(service) {
            return Err(PushError::InvalidService(
                service.chars().take(200).collect(),
            ));
        }
        // Up to `max_body_bytes` (16 MiB by default) of JSON: parsed off the async workers.
        let parsed = tokio::task::spawn_blocking(move || model::parse_payload(&body))
            .await
            .map_err(|e| PushError::InvalidPayload(format!("the export was not parsed: {e}")))?;
        let payload = parsed.map_err(|e| {
            let msg = bounded(e.to_string());
            let scope = if self.service(service).is_some() {
                service
            } else {
                UNKNOWN_SERVICE
            };
            self.inner.internal.report(
                "PushRejected",
                scope,
                format!("push to {service}: {msg}"),
                None,
                self.now_ms(),
            );
            PushError::InvalidPayload(msg)
        })?;
        let global = self.global();
        // A push that may create the service holds `creating` until it exists, so concurrent
        // pushes to new services cannot all pass the check below.
        let _creating = match self.service(service) {
            Some(_) => None,
            None => Some(self.inner.creating.lock().await),
        };
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
        let writer = self.writer(service);
        let _w = writer.lock().await;
        let now = self.now_ms();
        let limits = self.limits();
        let ttl = global.push_instance_ttl.get().as_millis() as u64;
        let mut work = self
            .service(service)
            .map(|a| lock(&a).clone())
            .unwrap_or_default();
        let mut delta = Delta::default();
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
        let dropped = work.apply(&id, meta, &payload, now, limits, &mut delta);
        work.prune_instances(
            |iid, m| {
                !(m.pushed
                    && (now.saturating_sub(m.last_seen_ms) > ttl || (anonymous && iid == id)))
            },
            &mut delta,
        );
        work.evict_pushed_beyond(global.max_push_instances_per_service, &id, &mut delta);
        let outcome = PushOutcome {
            keys: payload.aggregated_errors.len(),
            increase: delta
                .increases
                .values()
                .fold(0u64, |sum, n| sum.saturating_add(*n)),
        };
        if let Err(e) = self.persist(service, delta, now).await {
            // Memory is unchanged; re-read in case the write lands after all (see `reload`).
            self.reload(service).await;
            if self.service(service).is_none() {
                super::lock(&self.inner.writers).remove(service);
            }
            return Err(e.into());
        }
        self.inner.metrics.periskop.dropped_keys.inc_by(dropped);
        lock(&self.service_entry(service, false)).adopt(work);
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
            let expired = |m: &InstanceMeta| m.pushed && now.saturating_sub(m.last_seen_ms) > ttl;
            let mut work = {
                let a = lock(&agg);
                if !a.instances.values().any(|i| expired(&i.meta)) {
                    continue;
                }
                a.clone()
            };
            let mut delta = Delta::default();
            work.prune_instances(|_, m| !expired(m), &mut delta);
            match self.persist(&name, delta, now).await {
                Ok(()) => lock(&agg).adopt(work),
                Err(_) => self.reload(&name).await,
            }
        }
    }
}
