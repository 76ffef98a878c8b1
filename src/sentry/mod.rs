//! Sentry-compatible ingest: the official SDKs send here unchanged.
//!
//! Owns: project/key resolution, the fast ingest path, flood control, per-project quotas, the
//! digest that groups received items into issues, the issue state in memory, and the `sentry_*`
//! tables' contents. Depends on: `config` (the framework), `store`, `metrics`, `clock`, `events`
//! (publishing only). Cron check-ins reach the push monitors through [`CheckIns`], which the
//! wiring (`app.rs`) provides; this module never calls probing itself.
//!
//! Flow: an endpoint authenticates, reads the body within its deadline and bounds, charging its
//! bytes to the inflight budget as they arrive (`budget.rs`); on the blocking pool (in place for
//! a small uncompressed body) it decompresses, parses just enough (envelope framing, each
//! event's grouping facts, `event/lean.rs`) and decides
//! per event whether it is stored in full or only counted (flood control, quota: reservations
//! given back if the commit fails; `plan.rs`); then it appends every accepted item to the
//! durable inbox in one store write and answers 200 only after that commit (`ingest.rs`,
//! `csp.rs`, `minidump.rs`).
//! The digest task (`digest.rs`) reads the inbox in arrival order and, in one transaction per
//! batch, writes issues, events, users and counters and deletes what it consumed: nothing
//! acknowledged is lost, a crash only delays grouping, and a restart finishes what was left.
//! Then it publishes what changed (`events.rs`).

pub mod auth;
pub mod body;
pub mod budget;
pub mod config;
mod counts;
mod csp;
pub mod digest;
pub mod envelope;
mod error;
pub mod event;
pub mod events;
mod ingest;
pub mod issues;
mod limits;
pub mod minidump;
mod plan;
pub mod projects;
pub mod query;
pub mod record;
pub mod retention;
mod stats;
pub mod status;
pub mod upstream;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore, watch};

use crate::clock::SharedClock;
use crate::events::Publisher;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
pub use auth::SentryAuth;
pub use budget::{Charge, RawBody};
use config::SentrySettings;
pub use error::IngestError;
use events::SentryEvent;
use issues::{IssueRecord, Issues};
use limits::Limits;
pub use record::{AttachmentHeader, EventHeader, InboxHeader, Kind, split_record};

/// The release counters of releases beyond `ingest.max_releases_per_project` add up under.
pub const OTHER_RELEASE: &str = "other";

/// A request that passed the fast path.
#[derive(Debug, Default)]
pub struct Accepted {
    /// The event id to answer with (`{"id": ...}`), if the request carried an event.
    pub id: Option<String>,
    /// Some items were refused by the project's quota: answer 429 with these.
    pub rate_limited: Option<(u64, String)>,
}

/// Where cron check-ins go: the push monitor named by the check-in's slug that accepts this
/// project's check-ins. `Ok(false)` when no such monitor exists; resolves once the heartbeat
/// is durable. Provided by the wiring, so ingest does not depend on probing.
pub trait CheckIns: Send + Sync {
    fn check_in<'a>(
        &'a self,
        project: u64,
        slug: &'a str,
        up: bool,
        message: String,
        latency_ms: Option<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send + 'a>>;
}

/// What ingest is given.
#[derive(Clone)]
pub struct IngestDeps {
    pub store: Store,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub settings: watch::Receiver<Arc<SentrySettings>>,
    pub events: Publisher<SentryEvent>,
    pub check_ins: Option<Arc<dyn CheckIns>>,
}

#[derive(Clone)]
pub struct Ingest {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    settings: watch::Receiver<Arc<SentrySettings>>,
    events: Publisher<SentryEvent>,
    check_ins: Option<Arc<dyn CheckIns>>,
    /// Next inbox sequence number.
    seq: AtomicU64,
    /// The last forward outbox key handed out (`ingest.rs` `forward_key`).
    forward_seq: AtomicU64,
    /// Items in the inbox not yet digested.
    backlog: AtomicU64,
    /// KiB of request bodies (as read, decompressed, planned) held until their commit
    /// (`ingest.max_inflight_bytes`; see `budget.rs`).
    inflight: Arc<Semaphore>,
    /// Request bodies being read whose key was checked first (`ingest.max_concurrent_bodies`).
    bodies: Arc<Semaphore>,
    /// Envelope bodies being read whose only credential is inside them
    /// (`ingest.max_concurrent_unauthenticated_bodies`).
    unauthenticated_bodies: Arc<Semaphore>,
    inflight_kib: u32,
    limits: Arc<Limits>,
    counters: Mutex<HashMap<u64, stats::Counters>>,
    issues: Mutex<Issues>,
    /// Per project, the releases that have their own counters: loaded when ingest opens,
    /// added to by the digest after its commit (bounded by `ingest.max_releases_per_project`).
    releases: Mutex<HashMap<u64, HashSet<String>>>,
    /// Held by whoever writes issues (the digest, a status change) from computing the change
    /// to applying it after its commit.
    writes: tokio::sync::Mutex<()>,
    wake: Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a thread panicked while holding it; the maps stay usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ingest {
    /// Loads issues from the store and picks up the inbox where the last run left it.
    pub fn open(deps: IngestDeps) -> Result<Ingest, StoreError> {
        let IngestDeps {
            store,
            clock,
            metrics,
            settings,
            events,
            check_ins,
        } = deps;
        let (records, groups) = store.sentry_issues()?;
        let mut issues = Vec::with_capacity(records.len());
        for (id, bytes) in records {
            match serde_json::from_slice::<IssueRecord>(&bytes) {
                Ok(r) => issues.push(r),
                Err(e) => tracing::warn!(issue = id, error = %e, "skipping undecodable issue"),
            }
        }
        let (backlog, last) = store.sentry_inbox_stats()?;
        let forward_last = store.forward_last_key()?;
        metrics.ingest.backlog.set(backlog as i64);
        // Read once here, so the digest never reads the store for them under its locks.
        let mut releases: HashMap<u64, HashSet<String>> = HashMap::new();
        for (project, release) in store.sentry_releases()? {
            releases.entry(project).or_default().insert(release);
        }
        let (inflight_kib, bodies, unauthenticated) = {
            let s = settings.borrow();
            (
                (s.ingest.max_inflight_bytes / 1024).clamp(1, u64::from(u32::MAX >> 3)) as u32,
                s.ingest.max_concurrent_bodies.max(1),
                s.ingest.max_concurrent_unauthenticated_bodies.max(1),
            )
        };
        Ok(Ingest {
            inner: Arc::new(Inner {
                store,
                clock,
                metrics,
                settings,
                events,
                check_ins,
                seq: AtomicU64::new(last.map_or(1, |l| l + 1)),
                forward_seq: AtomicU64::new(forward_last),
                backlog: AtomicU64::new(backlog),
                inflight: Arc::new(Semaphore::new(inflight_kib as usize)),
                bodies: Arc::new(Semaphore::new(bodies)),
                unauthenticated_bodies: Arc::new(Semaphore::new(unauthenticated)),
                inflight_kib,
                limits: Arc::new(Limits::default()),
                counters: Mutex::new(HashMap::new()),
                issues: Mutex::new(Issues::load(issues, groups)),
                releases: Mutex::new(releases),
                writes: tokio::sync::Mutex::new(()),
                wake: Notify::new(),
            }),
        })
    }

    /// The current projects and ingest limits.
    pub fn settings(&self) -> Arc<SentrySettings> {
        self.inner.settings.borrow().clone()
    }

    /// The project a request's own credential (header or query) names, checked before its body
    /// is read: a wrong key costs no body read, no decompression.
    pub fn authorize(
        &self,
        path_project: Option<u64>,
        auth: Option<&SentryAuth>,
    ) -> Result<config::ProjectConfig, IngestError> {
        self.project(&self.settings(), path_project, auth)
    }

    pub fn backlog(&self) -> u64 {
        self.inner.backlog.load(Ordering::Relaxed)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }
}

#[cfg(test)]
mod tests;
