//! The on-call task: the I/O edge around the pure [`Page`]. Alert groups routed to an
//! escalation policy arrive as records of the alert outbox (channel [`PAGE_CHANNEL`]); a page
//! opens, runs its steps on time, sends its deliveries through the alert transport and records
//! what came of them. Every change is written (with its audit entry) before it is answered or
//! acted on, so a restart resumes each page at the step it was at; a delivery in flight at a
//! crash is sent again (at least once).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use super::config::{ContactMethod, OncallConfig};
use super::events::{OncallEvent, PageChange};
use super::page::{Directory, Page, PageStatus};
use super::rotation::Override;
use super::{contacts, deliver};
use crate::alerts::channels::channels;
use crate::alerts::config::AlertsConfig;
use crate::alerts::model::{AlertStatus, Verdict};
use crate::alerts::outbox::{Record, Transport};
use crate::clock::SharedClock;
use crate::events::Publisher;
use crate::store::oncall::OncallWrite;
use crate::store::{Store, StoreError, Write};
use crate::tasks::Shutdown;

pub use crate::alerts::channels::PAGE_CHANNEL;
/// Name of the link-signing key in `oncall_meta`.
const KEY: &str = "link_key";
/// Overrides kept at most (each is small; a config is not a database either).
pub const MAX_OVERRIDES: usize = 10_000;
/// Open pages at most: a storm of distinct groups must not grow memory without bound.
pub const MAX_OPEN_PAGES: usize = 10_000;

/// The sections on-call reads: its own and the alert receivers it can page.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub oncall: OncallConfig,
    pub alerts: AlertsConfig,
}

pub struct Deps {
    pub store: Store,
    pub clock: SharedClock,
    pub config: watch::Receiver<Arc<Settings>>,
    pub transport: Arc<dyn Transport>,
    pub default_external_url: String,
    pub shutdown: Shutdown,
}

#[derive(Debug, thiserror::Error)]
pub enum OncallError {
    #[error("no page {0}")]
    NotFound(u64),
    #[error("no override {0}")]
    OverrideNotFound(u64),
    #[error("{0}")]
    Invalid(String),
    #[error("too many {0}")]
    TooMany(&'static str),
    #[error("on-call is shutting down")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new override, as posted.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewOverride {
    pub schedule: String,
    pub user: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// A change to an override: what is `None` stays.
#[derive(Debug, Clone, Default)]
pub struct OverrideChange {
    pub user: Option<String>,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

/// A person's own contact methods as posted (kept as sent, to show back) and decoded; `None`
/// removes them, so the config's apply again.
pub type OwnContacts = Option<(serde_json::Value, Vec<ContactMethod>)>;

pub(super) enum Command {
    Page(Box<Record>, oneshot::Sender<Verdict>),
    Ack(
        u64,
        String,
        String,
        oneshot::Sender<Result<(Page, bool), OncallError>>,
    ),
    Resolve(
        u64,
        String,
        oneshot::Sender<Result<(Page, bool), OncallError>>,
    ),
    PutOverride(
        NewOverride,
        String,
        oneshot::Sender<Result<Override, OncallError>>,
    ),
    UpdateOverride(
        u64,
        OverrideChange,
        String,
        oneshot::Sender<Result<Override, OncallError>>,
    ),
    DeleteOverride(u64, String, oneshot::Sender<Result<Override, OncallError>>),
    SetContacts(
        String,
        OwnContacts,
        String,
        oneshot::Sender<Result<bool, OncallError>>,
    ),
}

/// What handlers read without asking the task.
#[derive(Default)]
pub(super) struct Shared {
    pub open: BTreeMap<u64, Page>,
    pub overrides: Vec<Override>,
    /// Contact methods people set for themselves, decoded and as they sent them.
    pub own_contacts: BTreeMap<String, Vec<ContactMethod>>,
    pub own_contacts_sent: BTreeMap<String, serde_json::Value>,
}

/// The handle: commands to the task, reads of its shared state.
#[derive(Clone)]
pub struct Oncall {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) shared: Arc<RwLock<Shared>>,
    pub store: Store,
    pub clock: SharedClock,
    pub(super) config: watch::Receiver<Arc<Settings>>,
    pub(super) key: Arc<Vec<u8>>,
    pub(super) default_external_url: String,
}

pub(super) fn read(s: &RwLock<Shared>) -> std::sync::RwLockReadGuard<'_, Shared> {
    s.read().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn write(s: &RwLock<Shared>) -> std::sync::RwLockWriteGuard<'_, Shared> {
    s.write().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// [`start_publishing`] with page changes published nowhere.
pub async fn start(d: Deps) -> Result<(Oncall, tokio::task::JoinHandle<()>), StoreError> {
    start_publishing(d, Publisher::discard()).await
}

/// Starts the task; each page change is published to `events` once stored (the dashboard's
/// live feed shows them).
pub async fn start_publishing(
    d: Deps,
    events: Publisher<OncallEvent>,
) -> Result<(Oncall, tokio::task::JoinHandle<()>), StoreError> {
    // The key that signs acknowledge links and calendar URLs: made once, kept in the store.
    let mut fresh = [0u8; 32];
    rand::fill(&mut fresh);
    d.store
        .write(vec![Write::Oncall(OncallWrite {
            meta_if_absent: vec![(KEY.into(), fresh.to_vec())],
            ..Default::default()
        })])
        .await?;
    let key = d
        .store
        .oncall_meta(KEY)?
        .ok_or_else(|| StoreError::Storage("the link key was not written".into()))?;
    let snap = d.store.oncall_snapshot(|b| {
        serde_json::from_slice::<Page>(b).is_ok_and(|p| p.status != PageStatus::Resolved)
    })?;
    let mut shared = Shared::default();
    for b in &snap.open_pages {
        match serde_json::from_slice::<Page>(b) {
            Ok(p) => {
                shared.open.insert(p.id, p);
            }
            Err(e) => warn!(error = %e, "an unreadable page record was skipped"),
        }
    }
    shared.overrides = snap
        .overrides
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    for (key, b) in d.store.oncall_meta_prefix(contacts::META_PREFIX)? {
        let user = key[contacts::META_PREFIX.len()..].to_string();
        // Lists were checked when set; one this version cannot read is left out, not fatal.
        let sent = serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string());
        match sent.and_then(|v| contacts::decode(&v).map(|m| (v, m))) {
            Ok((v, m)) => {
                shared.own_contacts.insert(user.clone(), m);
                shared.own_contacts_sent.insert(user, v);
            }
            Err(e) => warn!(user = %user, error = %e, "stored contact methods were skipped"),
        }
    }
    if !shared.open.is_empty() {
        info!(pages = shared.open.len(), "on-call resumed open pages");
    }
    let shared = Arc::new(RwLock::new(shared));
    let (tx, rx) = mpsc::channel(256);
    let handle = Oncall {
        commands: tx,
        shared: shared.clone(),
        store: d.store.clone(),
        clock: d.clock.clone(),
        config: d.config.clone(),
        key: Arc::new(key.clone()),
        default_external_url: d.default_external_url.clone(),
    };
    let (results_tx, results_rx) = mpsc::channel(1024);
    let engine = Engine {
        shared,
        store: d.store,
        clock: d.clock,
        config: d.config,
        transport: d.transport,
        key: Arc::new(key),
        default_external_url: d.default_external_url,
        next_page: snap.max_page_id,
        next_override: snap.max_override_id,
        in_flight: HashSet::new(),
        results: results_tx,
        events,
    };
    let task = tokio::spawn(engine.run(rx, results_rx, d.shutdown));
    Ok((handle, task))
}

pub(super) struct Engine {
    pub(super) shared: Arc<RwLock<Shared>>,
    pub(super) store: Store,
    clock: SharedClock,
    config: watch::Receiver<Arc<Settings>>,
    transport: Arc<dyn Transport>,
    key: Arc<Vec<u8>>,
    default_external_url: String,
    next_page: u64,
    pub(super) next_override: u64,
    /// (page, delivery) being sent now.
    in_flight: HashSet<(u64, usize)>,
    results: mpsc::Sender<(u64, usize, Verdict)>,
    events: Publisher<OncallEvent>,
}

impl Engine {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut results: mpsc::Receiver<(u64, usize, Verdict)>,
        mut shutdown: Shutdown,
    ) {
        loop {
            let now = self.clock.now_ms();
            let due = read(&self.shared)
                .open
                .values()
                .filter_map(Page::next_due)
                .min();
            let sleep = std::time::Duration::from_millis(
                due.map_or(60_000, |d| d.saturating_sub(now)).min(60_000),
            );
            tokio::select! {
                biased;
                _ = shutdown.wait() => return,
                Some(c) = commands.recv() => self.command(c).await,
                Some((page, i, v)) = results.recv() => {
                    self.in_flight.remove(&(page, i));
                    let now = self.clock.now_ms();
                    let changed = self.with_page(page, |p| p.delivered(i, &v, now));
                    if let Some(p) = changed {
                        // Failing to record an outcome is not worth a resend: log it.
                        if let Err(e) = self.save(vec![(p, PageChange::Updated)], Vec::new()).await {
                            warn!(error = %e, "a page delivery outcome was not stored");
                        }
                    }
                }
                _ = tokio::time::sleep(sleep) => self.tick().await,
            }
        }
    }

    pub(super) fn settings(&self) -> Arc<Settings> {
        self.config.borrow().clone()
    }

    fn with_page(&self, id: u64, f: impl FnOnce(&mut Page)) -> Option<Page> {
        let mut s = write(&self.shared);
        let p = s.open.get_mut(&id)?;
        f(p);
        Some(p.clone())
    }

    /// Writes pages (and audit entries); resolved pages leave memory once durable. Each
    /// page's change is published once it is stored.
    async fn save(
        &self,
        pages: Vec<(Page, PageChange)>,
        audit: Vec<Write>,
    ) -> Result<(), StoreError> {
        if pages.is_empty() && audit.is_empty() {
            return Ok(());
        }
        let mut w = vec![Write::Oncall(OncallWrite {
            pages: pages.iter().map(|(p, _)| (p.id, encode(p))).collect(),
            ..Default::default()
        })];
        w.extend(audit);
        self.store.write(w).await?;
        let now = self.clock.now_ms();
        let mut events = Vec::with_capacity(pages.len());
        {
            let mut s = write(&self.shared);
            for (p, change) in pages {
                events.push(OncallEvent::Page {
                    page_id: p.id,
                    title: p.title.clone(),
                    change,
                    at_ms: now,
                });
                if p.is_open() {
                    s.open.insert(p.id, p);
                } else {
                    s.open.remove(&p.id);
                }
            }
        }
        for e in events {
            self.events.publish(e);
        }
        Ok(())
    }

    /// Runs due steps and starts due deliveries.
    async fn tick(&mut self) {
        let now = self.clock.now_ms();
        let settings = self.settings();
        let alerts = settings.alerts.clone();
        let receiver_channels = move |name: &str| -> Vec<String> {
            alerts
                .receivers
                .iter()
                .find(|r| r.name == name)
                .map(|r| channels(r).into_iter().map(|c| c.id).collect())
                .unwrap_or_default()
        };
        let mut changed = Vec::new();
        let mut sends = Vec::new();
        let own;
        {
            let mut s = write(&self.shared);
            let overrides = s.overrides.clone();
            own = s.own_contacts.clone();
            let dir = Directory {
                cfg: &settings.oncall,
                overrides: &overrides,
                own_contacts: &own,
                receiver_channels: &receiver_channels,
            };
            for p in s.open.values_mut() {
                let before = (p.step, p.round, p.next_step_ms);
                if let Some(policy) = settings.oncall.policy(&p.policy) {
                    p.run_steps(policy, &dir, now);
                } else if p.next_step_ms.is_some() {
                    p.next_step_ms = None;
                    warn!(page = p.id, policy = %p.policy, "the page's escalation policy is gone; escalation stops");
                }
                let mut sent_any = false;
                for i in p.due_deliveries(now) {
                    if self.in_flight.insert((p.id, i)) {
                        sends.push((p.clone(), i));
                        sent_any = true;
                    }
                }
                if before != (p.step, p.round, p.next_step_ms) || sent_any {
                    // Running a new page's first step is not an escalation; any later one is.
                    let stepped = (before.0, before.1) != (p.step, p.round);
                    let change = if stepped && (before.0, before.1) != (0, 0) {
                        PageChange::Escalated
                    } else {
                        PageChange::Updated
                    };
                    changed.push((p.clone(), change));
                }
            }
        }
        // Steps are durable before their messages go out: a crash resends, never skips.
        if let Err(e) = self.save(changed, Vec::new()).await {
            warn!(error = %e, "page steps not stored; retrying");
            for (p, i) in sends {
                self.in_flight.remove(&(p.id, i));
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            return;
        }
        if sends.is_empty() {
            return;
        }
        let cfg = Arc::new(deliver::with_contacts(
            &settings.alerts,
            &settings.oncall,
            &own,
        ));
        let ttl = settings.oncall.ack_link_ttl.get().as_millis() as u64;
        let ext = super::handle::external_url(&settings, &self.default_external_url);
        let timeout = settings.alerts.delivery.timeout.get() * 2;
        for (p, i) in sends {
            let d = p.deliveries[i].clone();
            let n = deliver::notification(&p, &d, &self.key, ttl, &ext, now);
            let (transport, cfg, results) =
                (self.transport.clone(), cfg.clone(), self.results.clone());
            tokio::spawn(async move {
                let v = deliver::send(transport, cfg, d, n, now, timeout).await;
                let _ = results.send((p.id, i, v)).await;
            });
        }
    }

    async fn command(&mut self, c: Command) {
        let now = self.clock.now_ms();
        match c {
            Command::Page(r, reply) => {
                let out = self.page(*r, now).await;
                let _ = reply.send(out);
                self.tick().await;
            }
            Command::Ack(id, by, via, reply) => {
                let out = self
                    .transition(
                        id,
                        &by,
                        now,
                        |p| p.acknowledge(&by, &via, now),
                        "page.acknowledge",
                        PageChange::Acknowledged,
                    )
                    .await;
                let _ = reply.send(out);
            }
            Command::Resolve(id, by, reply) => {
                let out = self
                    .transition(
                        id,
                        &by,
                        now,
                        |p| p.resolve(&by, now),
                        "page.resolve",
                        PageChange::Resolved,
                    )
                    .await;
                let _ = reply.send(out);
            }
            Command::PutOverride(o, by, reply) => {
                let _ = reply.send(self.put_override(o, by, now).await);
            }
            Command::UpdateOverride(id, change, by, reply) => {
                let _ = reply.send(self.update_override(id, change, &by, now).await);
            }
            Command::DeleteOverride(id, by, reply) => {
                let _ = reply.send(self.delete_override(id, &by, now).await);
            }
            Command::SetContacts(user, own, by, reply) => {
                let _ = reply.send(self.set_contacts(user, own, &by, now).await);
            }
        }
    }

    /// An alert group's notification for a policy: opens, updates or resolves its page.
    async fn page(&mut self, r: Record, now: u64) -> Verdict {
        let settings = self.settings();
        let policy_name = r.escalation_policy.clone().unwrap_or_default();
        let Some(policy) = settings.oncall.policy(&policy_name) else {
            return Verdict::Failed {
                reason: format!("no escalation policy named `{policy_name}`"),
            };
        };
        let n = r.notification;
        let firing = n.status == AlertStatus::Firing && n.firing().next().is_some();
        let existing = read(&self.shared)
            .open
            .values()
            .find(|p| p.policy == policy_name && p.group_key == n.group_key)
            .cloned();
        let (page, audit, change) = match (existing, firing) {
            (Some(mut p), true) => {
                p.update(n);
                (p, None, PageChange::Updated)
            }
            (Some(mut p), false) => {
                p.update(n);
                p.resolve("alert resolved", now);
                let a = crate::auth::audit(
                    now,
                    "panoptes",
                    "page.resolve",
                    &format!("page {}: alert resolved", p.id),
                );
                (p, Some(a), PageChange::Resolved)
            }
            (None, false) => return Verdict::Delivered,
            (None, true) => {
                if read(&self.shared).open.len() >= MAX_OPEN_PAGES {
                    return Verdict::Retry {
                        after_ms: None,
                        reason: format!("{MAX_OPEN_PAGES} pages are open already"),
                    };
                }
                self.next_page += 1;
                let p = Page::open(self.next_page, policy, &r.receiver, n, now);
                let a = crate::auth::audit(
                    now,
                    "panoptes",
                    "page.trigger",
                    &format!("page {}: {}", p.id, p.title),
                );
                (p, Some(a), PageChange::Created)
            }
        };
        match self
            .save(vec![(page, change)], audit.into_iter().collect())
            .await
        {
            Ok(()) => Verdict::Delivered,
            Err(e) => Verdict::Retry {
                after_ms: None,
                reason: format!("the page was not stored: {e}"),
            },
        }
    }

    async fn transition(
        &mut self,
        id: u64,
        by: &str,
        now: u64,
        f: impl FnOnce(&mut Page) -> bool,
        action: &str,
        change: PageChange,
    ) -> Result<(Page, bool), OncallError> {
        let current = read(&self.shared).open.get(&id).cloned();
        let mut p = match current {
            Some(p) => p,
            None => {
                // Resolved pages are not in memory: answer with what is stored.
                let b = self
                    .store
                    .oncall_page(id)?
                    .ok_or(OncallError::NotFound(id))?;
                let p = serde_json::from_slice(&b).map_err(|_| OncallError::NotFound(id))?;
                return Ok((p, false));
            }
        };
        if !f(&mut p) {
            return Ok((p, false));
        }
        let audit = crate::auth::audit(now, by, action, &format!("page {id}"));
        self.save(vec![(p.clone(), change)], vec![audit]).await?;
        Ok((p, true))
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
