//! Sentry-compatible ingest: the official SDKs send here unchanged.
//!
//! Owns: project/key resolution, the fast ingest path, flood control, per-project quotas, the
//! digest that groups received items into issues, the issue state in memory, and the `sentry_*`
//! tables' contents. Depends on: `config` (the framework), `store`, `metrics`, `clock`, `events`
//! (publishing only). Cron check-ins reach the push monitors through [`CheckIns`], which the
//! wiring (`app.rs`) provides; this module never calls probing itself.
//!
//! Flow: an endpoint authenticates, bounds and decompresses the body, parses just enough
//! (envelope framing, each event's grouping facts), decides per event whether it is stored in
//! full or only counted (flood control), appends every accepted item to the durable inbox in one
//! store write, and answers 200 only after that commit (`ingest.rs`, `csp.rs`, `minidump.rs`).
//! The digest task (`digest.rs`) reads the inbox in arrival order and, in one transaction per
//! batch, writes issues, events, users and counters and deletes what it consumed: nothing
//! acknowledged is lost, a crash only delays grouping, and a restart finishes what was left.
//! Then it publishes what changed (`events.rs`).

pub mod auth;
pub mod body;
pub mod config;
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
pub mod query;
pub mod record;
pub mod retention;
mod stats;
mod status;

use std::collections::HashMap;
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
    /// Items in the inbox not yet digested.
    backlog: AtomicU64,
    /// KiB of decompressed bodies held by requests waiting for their commit.
    inflight: Semaphore,
    /// Request bodies being read (`ingest.max_concurrent_bodies`).
    bodies: Arc<Semaphore>,
    inflight_kib: u32,
    limits: Limits,
    counters: Mutex<HashMap<u64, stats::Counters>>,
    issues: Mutex<Issues>,
    /// Per project, the releases that have their own counters (loaded from the store on first
    /// use; bounded by `ingest.max_releases_per_project`).
    releases: Mutex<HashMap<u64, std::collections::HashSet<String>>>,
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
        metrics.ingest.backlog.set(backlog as i64);
        let inflight_kib = (settings.borrow().ingest.max_inflight_bytes / 1024)
            .clamp(1, u64::from(u32::MAX >> 3)) as u32;
        let bodies = settings.borrow().ingest.max_concurrent_bodies.max(1);
        Ok(Ingest {
            inner: Arc::new(Inner {
                store,
                clock,
                metrics,
                settings,
                events,
                check_ins,
                seq: AtomicU64::new(last.map_or(1, |l| l + 1)),
                backlog: AtomicU64::new(backlog),
                inflight: Semaphore::new(inflight_kib as usize),
                bodies: Arc::new(Semaphore::new(bodies)),
                inflight_kib,
                limits: Limits::default(),
                counters: Mutex::new(HashMap::new()),
                issues: Mutex::new(Issues::load(issues, groups)),
                releases: Mutex::new(HashMap::new()),
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

    /// A place among the bodies being read at once, or `Busy`.
    pub fn body_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, IngestError> {
        self.inner.bodies.clone().try_acquire_owned().map_err(|_| {
            IngestError::Busy(
                "too many request bodies are being read (ingest.max_concurrent_bodies)".into(),
            )
        })
    }

    pub fn backlog(&self) -> u64 {
        self.inner.backlog.load(Ordering::Relaxed)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The release name a counter is kept under: its own while the project has fewer than
    /// `max` releases with counters, else `other`.
    pub(crate) fn release_label(&self, project: u64, release: String, max: usize) -> String {
        let mut all = lock(&self.inner.releases);
        let known = all.entry(project).or_insert_with(|| {
            self.inner
                .store
                .sentry_counts(project)
                .unwrap_or_default()
                .into_iter()
                .map(|(r, _, _)| r)
                .collect()
        });
        if known.contains(&release) {
            return release;
        }
        if known.len() >= max {
            return OTHER_RELEASE.to_string();
        }
        known.insert(release.clone());
        release
    }

    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::StoreOptions;
    use bytes::Bytes;

    const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";

    fn envelope_with_attachment(id: &str) -> Bytes {
        let event = format!("{{\"event_id\":\"{id}\",\"message\":\"quota\"}}");
        Bytes::from(format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n{{\"type\":\"attachment\",\"length\":4,\"filename\":\"a.txt\"}}\nabcd\n"
        ))
    }

    #[tokio::test]
    async fn attachments_follow_their_event_past_the_quota() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::new());
        let store =
            Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("open");
        let yaml = format!(
            "projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\n    events_per_minute: 1\n"
        );
        let cfg = crate::config::parse(&yaml, "t", &|_| None).expect("config");
        let (_tx, rx) = watch::channel(Arc::new(SentrySettings {
            projects: cfg.projects.clone(),
            ingest: cfg.ingest.clone(),
        }));
        let clock: SharedClock = ManualClock::new(1_800_000_000_000);
        let ingest = Ingest::open(IngestDeps {
            store: store.clone(),
            clock,
            metrics,
            settings: rx,
            events: Publisher::discard(),
            check_ins: None,
        })
        .expect("ingest");
        let auth = || {
            Some(SentryAuth {
                key: KEY.into(),
                ..Default::default()
            })
        };
        let first = "9ec79c33ec9942ab8353589fcb2e04dc";
        let second = "0ec79c33ec9942ab8353589fcb2e04dc";
        let ok = ingest
            .envelope(8, auth(), envelope_with_attachment(first))
            .await
            .expect("first");
        assert_eq!(ok.id.as_deref(), Some(first));
        assert!(ok.rate_limited.is_none());
        let limited = ingest
            .envelope(8, auth(), envelope_with_attachment(second))
            .await;
        assert!(
            matches!(limited, Err(IngestError::RateLimited { .. })),
            "{limited:?}"
        );
        assert_eq!(store.sentry_attachments(8, first).expect("read").len(), 1);
        assert!(
            store
                .sentry_attachments(8, second)
                .expect("read")
                .is_empty()
        );
        assert!(store.sentry_event(8, second).expect("read").is_none());
        store.close().await;
    }

    /// Attachments are kept only with an event stored in full: not with a flood copy that is
    /// only counted, and not on their own (an envelope with an `event_id` but no event item).
    #[tokio::test]
    async fn attachments_of_counted_only_events_and_lone_attachments_are_not_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::new());
        let store =
            Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("open");
        let yaml = format!(
            "projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\n    flood_max_events: 1\ningest:\n  flood_window: 1h\n"
        );
        let cfg = crate::config::parse(&yaml, "t", &|_| None).expect("config");
        let (_tx, rx) = watch::channel(Arc::new(SentrySettings {
            projects: cfg.projects.clone(),
            ingest: cfg.ingest.clone(),
        }));
        let ingest = Ingest::open(IngestDeps {
            store: store.clone(),
            clock: ManualClock::new(1_800_000_000_000),
            metrics,
            settings: rx,
            events: Publisher::discard(),
            check_ins: None,
        })
        .expect("ingest");
        let auth = || {
            Some(SentryAuth {
                key: KEY.into(),
                ..Default::default()
            })
        };
        let full = "1ec79c33ec9942ab8353589fcb2e04dc";
        let copy = "2ec79c33ec9942ab8353589fcb2e04dc";
        let lone = "3ec79c33ec9942ab8353589fcb2e04dc";
        for id in [full, copy] {
            ingest
                .envelope(8, auth(), envelope_with_attachment(id))
                .await
                .expect("accepted");
        }
        let only_attachment = Bytes::from(format!(
            "{{\"event_id\":\"{lone}\"}}\n{{\"type\":\"attachment\",\"length\":4,\"filename\":\"a.txt\"}}\nabcd\n"
        ));
        ingest
            .envelope(8, auth(), only_attachment)
            .await
            .expect("accepted");
        assert_eq!(store.sentry_attachments(8, full).expect("read").len(), 1);
        assert!(store.sentry_event(8, copy).expect("read").is_none());
        assert!(store.sentry_attachments(8, copy).expect("read").is_empty());
        assert!(store.sentry_attachments(8, lone).expect("read").is_empty());
        store.close().await;
    }

    /// Sets a client can grow are bounded: distinct users per issue, releases with their own
    /// counters per project.
    #[tokio::test]
    async fn users_per_issue_and_releases_per_project_are_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::new());
        let store =
            Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("open");
        let yaml = format!(
            "projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\ningest:\n  max_users_per_issue: 2\n  max_releases_per_project: 1\n"
        );
        let cfg = crate::config::parse(&yaml, "t", &|_| None).expect("config");
        let (_tx, rx) = watch::channel(Arc::new(SentrySettings {
            projects: cfg.projects.clone(),
            ingest: cfg.ingest.clone(),
        }));
        let ingest = Ingest::open(IngestDeps {
            store: store.clone(),
            clock: ManualClock::new(1_800_000_000_000),
            metrics,
            settings: rx,
            events: Publisher::discard(),
            check_ins: None,
        })
        .expect("ingest");
        let auth = || {
            Some(SentryAuth {
                key: KEY.into(),
                ..Default::default()
            })
        };
        for u in ["a", "b", "c", "d"] {
            let body = Bytes::from(format!(
                "{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"boom\",\"user\":{{\"id\":\"{u}\"}}}}\n"
            ));
            ingest.envelope(8, auth(), body).await.expect("accepted");
        }
        for r in ["r1", "r2", "r3"] {
            let body = Bytes::from(format!(
                "{{}}\n{{\"type\":\"session\"}}\n{{\"init\":true,\"status\":\"exited\",\"attrs\":{{\"release\":\"{r}\"}}}}\n"
            ));
            ingest.envelope(8, auth(), body).await.expect("accepted");
        }
        digest::digest_once(&ingest, 100).await.expect("digest");
        let users = ingest.with_issues(|i| i.by_id.values().map(|r| r.users).max());
        assert_eq!(users, Some(2));
        let mut releases: Vec<String> = store
            .sentry_counts(8)
            .expect("counts")
            .into_iter()
            .map(|(r, _, _)| r)
            .collect();
        releases.dedup();
        assert_eq!(releases, ["other", "r1"]);
        let other_started: u64 = store
            .sentry_counts(8)
            .expect("counts")
            .into_iter()
            .filter(|(r, n, _)| r == "other" && n == "sessions.started")
            .map(|(_, _, v)| v)
            .sum();
        assert_eq!(other_started, 2, "r2 and r3 add up under other");
        store.close().await;
    }

    /// A committed digest batch publishes new issues, regressions and events per issue.
    #[tokio::test]
    async fn the_digest_publishes_what_it_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::new());
        let store =
            Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("open");
        let yaml = format!("projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\n");
        let cfg = crate::config::parse(&yaml, "t", &|_| None).expect("config");
        let (_tx, rx) = watch::channel(Arc::new(SentrySettings {
            projects: cfg.projects.clone(),
            ingest: cfg.ingest.clone(),
        }));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let ingest = Ingest::open(IngestDeps {
            store: store.clone(),
            clock: ManualClock::new(1_800_000_000_000),
            metrics,
            settings: rx,
            events: Publisher::from_fn(move |e| sink.lock().expect("lock").push(e)),
            check_ins: None,
        })
        .expect("ingest");
        let auth = || {
            Some(SentryAuth {
                key: KEY.into(),
                ..Default::default()
            })
        };
        let event = |user: &str| {
            Bytes::from(format!(
                "{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"boom\",\"environment\":\"prod\",\"user\":{{\"id\":\"{user}\"}}}}\n"
            ))
        };
        for u in ["a", "b", "a"] {
            ingest
                .envelope(8, auth(), event(u))
                .await
                .expect("accepted");
        }
        digest::digest_once(&ingest, 100).await.expect("digest");
        let issue = {
            let got = lock(&seen).clone();
            assert_eq!(got.len(), 2, "{got:?}");
            let SentryEvent::IssueCreated { issue, .. } = &got[0] else {
                panic!("{got:?}")
            };
            let SentryEvent::EventsAccepted {
                count,
                new_users,
                environments,
                ..
            } = &got[1]
            else {
                panic!("{got:?}")
            };
            assert_eq!((*count, *new_users), (3, 2));
            assert_eq!(environments, &["prod".to_string()]);
            issue.issue_id
        };
        ingest
            .set_status(issue, issues::Status::Resolved)
            .await
            .expect("resolve");
        ingest
            .envelope(8, auth(), event("c"))
            .await
            .expect("accepted");
        digest::digest_once(&ingest, 100).await.expect("digest");
        let got = lock(&seen).clone();
        assert!(
            matches!(&got[2], SentryEvent::IssueRegressed { issue: f, .. } if f.issue_id == issue),
            "{got:?}"
        );
        assert!(matches!(
            &got[3],
            SentryEvent::EventsAccepted {
                count: 1,
                new_users: 1,
                ..
            }
        ));
        store.close().await;
    }
}
