//! Periskop-compatible exception scraping: discovery, scraping, cross-instance aggregation, the
//! push gateway, and Panoptes' own errors in Periskop format.
//!
//! Owns: the in-memory aggregates (one lock per service, never held across an `.await`), the
//! per-service scrape loops and their supervisor (restarted on reload), target health, the
//! `periskop_*` tables' contents. Depends on: `config` (the framework), `store`, `metrics`,
//! `clock`, `outbound` (scrape clients), `events` (publishing only), `tasks`.
//!
//! Flow per service (`runner.rs`): discovery tasks keep target lists current (`discovery.rs`);
//! the scrape loop takes the merged list, scrapes every target concurrently under a global
//! semaphore (`scrape.rs`), applies the exports to the aggregate (`aggregate.rs`, pure), prunes
//! instances that are gone (`cycle.rs`), persists the changes in one store write and publishes
//! what changed (`persist.rs`), then sleeps `refresh_interval` (the next scrape starts that long
//! after this one *completed*). `push.rs` is the push gateway; `query.rs` answers the APIs.

pub mod aggregate;
pub mod config;
mod cycle;
pub mod discovery;
pub mod events;
pub mod internal;
pub mod model;
mod persist;
mod push;
pub mod query;
mod runner;
pub mod scrape;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;
use tracing::warn;

use crate::clock::SharedClock;
use crate::events::Publisher;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use aggregate::{InstanceMeta, KeyState, Limits, ServiceAgg};
use config::{PeriskopConfig, PeriskopSettings};
use events::PeriskopEvent;
use internal::InternalErrors;
pub use push::{PushError, PushOutcome};
pub use runner::run;

/// Shared handle: the aggregates, and what the HTTP handlers ask of them. Cheap to clone.
#[derive(Clone)]
pub struct Periskop {
    inner: Arc<Inner>,
}

struct Inner {
    services: RwLock<BTreeMap<String, Arc<Mutex<ServiceAgg>>>>,
    store: Store,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    internal: InternalErrors,
    settings: watch::Receiver<Arc<PeriskopSettings>>,
    events: Publisher<PeriskopEvent>,
    /// Places among the push bodies read at once (`periskop.max_concurrent_pushes`).
    pushes: Arc<tokio::sync::Semaphore>,
    /// Per service: see [`Periskop::writer`].
    writers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Held by a push that may create a service, from the `max_push_services` check until the
    /// service exists (after its first write committed), so concurrent pushes cannot all pass.
    creating: tokio::sync::Mutex<()>,
}

/// What the exception scraper is given.
#[derive(Clone)]
pub struct PeriskopDeps {
    pub store: Store,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub settings: watch::Receiver<Arc<PeriskopSettings>>,
    pub events: Publisher<PeriskopEvent>,
    /// Names this process in its own exception export.
    pub instance_id: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock means a panic elsewhere mid-update; the aggregate is still usable data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    serde_json::to_vec(v).unwrap_or_default()
}

pub fn minute_of(ms: u64) -> u64 {
    ms - ms % 60_000
}

impl Periskop {
    /// Loads the stored aggregates and returns the handle. Undecodable rows are skipped with a
    /// warning (a newer field layout must not stop the server).
    pub fn open(deps: PeriskopDeps) -> Result<Periskop, StoreError> {
        let PeriskopDeps {
            store,
            clock,
            metrics,
            settings,
            events,
            instance_id,
        } = deps;
        let mut services = load(&store, clock.now_ms())?;
        let configured: Vec<String> = settings
            .borrow()
            .services
            .iter()
            .map(|s| s.name.0.clone())
            .collect();
        for name in configured {
            services.entry(name).or_default().scraped = true;
        }
        let pushes = settings.borrow().global.max_concurrent_pushes.max(1);
        Ok(Periskop {
            inner: Arc::new(Inner {
                services: RwLock::new(
                    services
                        .into_iter()
                        .map(|(k, v)| (k, Arc::new(Mutex::new(v))))
                        .collect(),
                ),
                store,
                clock,
                metrics,
                internal: InternalErrors::new(instance_id),
                settings,
                events,
                pushes: Arc::new(tokio::sync::Semaphore::new(pushes)),
                writers: Mutex::new(HashMap::new()),
                creating: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The lock a service's writers hold from changing its aggregate to committing the change,
    /// so writes of one service (a scrape cycle, a push, a resolve) never interleave.
    pub(crate) fn writer(&self, service: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.inner.writers)
            .entry(service.to_string())
            .or_default()
            .clone()
    }

    /// Puts a service's stored state (keys, instances) back as the store has it, after a write
    /// of it failed. Writers change a copy and adopt it only after the commit, so memory is
    /// never ahead of the store; but a write that timed out may still land, and then memory
    /// would be behind it (and count those increases again). Reads that one service on the
    /// blocking pool; callers hold the service's writer lock.
    pub(crate) async fn reload(&self, service: &str) {
        let Some(agg) = self.service(service) else {
            return;
        };
        let name = service.to_string();
        let snap = self
            .inner
            .store
            .read(move |s| s.periskop_service_snapshot(&name))
            .await;
        match snap {
            Ok(snap) => {
                let fresh = build(snap, None).remove(service).unwrap_or_default();
                let mut a = lock(&agg);
                a.keys = fresh.keys;
                a.instances = fresh.instances;
            }
            Err(e) => warn!(%service, error = %e, "cannot reload exceptions from the store"),
        }
    }

    /// A place among the push bodies being read, held until the push is answered; `None`
    /// when all are taken (the caller refuses before reading the body).
    pub fn push_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.inner.pushes.clone().try_acquire_owned().ok()
    }

    fn global(&self) -> PeriskopConfig {
        self.inner.settings.borrow().global.clone()
    }

    /// The current services and global options.
    pub fn settings(&self) -> Arc<PeriskopSettings> {
        self.inner.settings.borrow().clone()
    }

    fn limits(&self) -> Limits {
        let g = self.inner.settings.borrow();
        Limits {
            max_keys: g.global.max_keys_per_service,
            max_occurrences: g.global.max_occurrences,
        }
    }

    pub fn internal(&self) -> &InternalErrors {
        &self.inner.internal
    }

    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The aggregate of `name`, if it exists.
    pub fn service(&self, name: &str) -> Option<Arc<Mutex<ServiceAgg>>> {
        self.inner
            .services
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The aggregate of `name`, created if missing (`scraped` marks configured services).
    fn service_entry(&self, name: &str, scraped: bool) -> Arc<Mutex<ServiceAgg>> {
        let mut map = self
            .inner
            .services
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let s = map.entry(name.to_string()).or_default().clone();
        if scraped {
            lock(&s).scraped = true;
        }
        s
    }

    /// Every service with its aggregate, by name.
    pub fn services(&self) -> Vec<(String, Arc<Mutex<ServiceAgg>>)> {
        self.inner
            .services
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Per-minute increases of one key since `from_ms`.
    pub fn rate(
        &self,
        service: &str,
        key: &str,
        from_ms: u64,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        self.inner.store.periskop_rate(service, key, from_ms)
    }
}

/// Every service's aggregate as stored. Undecodable rows are skipped with a warning (a newer
/// field layout must not stop the server).
fn load(store: &Store, now: u64) -> Result<BTreeMap<String, ServiceAgg>, StoreError> {
    Ok(build(store.periskop_snapshot()?, Some(now)))
}

/// Aggregates from stored rows. With `started_ms` (start-up), pushed jobs' age restarts then: the
/// process could not hear them meanwhile.
fn build(
    snap: crate::store::periskop::PeriskopSnapshot,
    started_ms: Option<u64>,
) -> BTreeMap<String, ServiceAgg> {
    let mut services: BTreeMap<String, ServiceAgg> = BTreeMap::new();
    for (svc, key, bytes) in snap.keys {
        match serde_json::from_slice::<KeyState>(&bytes) {
            Ok(k) => {
                services.entry(svc).or_default().keys.insert(key, k);
            }
            Err(e) => {
                // The key is client text: logged quoted, so a newline cannot forge a log line.
                warn!(service = %svc, key = ?key, error = %e, "skipping undecodable exception key")
            }
        }
    }
    for (svc, id, bytes) in snap.instances {
        match serde_json::from_slice::<InstanceMeta>(&bytes) {
            Ok(mut meta) => {
                if let Some(now) = started_ms
                    && meta.pushed
                {
                    meta.last_seen_ms = now;
                }
                services.entry(svc).or_default().instances.insert(
                    id,
                    aggregate::Instance {
                        meta,
                        counts: HashMap::new(),
                    },
                );
            }
            Err(e) => warn!(service = %svc, error = %e, "skipping undecodable instance"),
        }
    }
    for (svc, id, key, count) in snap.baselines {
        if let Some(i) = services
            .get_mut(&svc)
            .and_then(|s| s.instances.get_mut(&id))
        {
            i.counts.insert(key, count);
        }
    }
    services
}

#[cfg(test)]
mod tests;
