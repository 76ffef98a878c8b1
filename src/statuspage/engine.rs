//! The cache of rendered pages and the task that keeps it fresh.
//!
//! A page is re-rendered (HTML, every JSON file, both feeds; each compressed with gzip and
//! brotli once, with an ETag) when a monitor changes state, when an incident changes, when the
//! configuration is reloaded, and every 30 s (days roll over, bars fill in) — at most once a
//! second whatever the rate of changes. Requests only read the cache.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::warn;

use super::model::{self, Change, ComponentRef, Context, Incident};
use super::subscribers::{Limiter, OutMail, Subscriber};
use super::view::{self, PageView};
use super::{Monitors, Settings, feed, html, json};
use crate::clock::SharedClock;
use crate::events::{DomainEvent, Event, ProbeEvent};
use crate::outbound::SharedClients;
use crate::store::statuspage::StatusWrite;
use crate::store::{Store, StoreError, Write};
use crate::tasks::Shutdown;

/// Re-renders at most this often.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// ... and at least this often.
pub(super) const REFRESH: Duration = Duration::from_secs(30);

/// One response body, ready in every encoding.
#[derive(Debug)]
pub struct Asset {
    pub body: Bytes,
    pub gzip: Bytes,
    pub br: Bytes,
    /// A strong validator: a hash of `body`, quoted.
    pub etag: String,
    pub content_type: &'static str,
}

impl Asset {
    pub fn new(body: Vec<u8>, content_type: &'static str) -> Asset {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &body {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzip = gz
            .write_all(&body)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        let mut br = Vec::new();
        let ok = {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 9, 22);
            w.write_all(&body).is_ok()
        };
        if !ok {
            // Served uncompressed or gzipped instead.
            br.clear();
        }
        Asset {
            etag: format!("\"{h:016x}-{}\"", body.len()),
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            br: Bytes::from(br),
            content_type,
        }
    }
}

/// Everything one page serves, and the view it was rendered from.
#[derive(Debug)]
pub struct Rendered {
    pub html: Asset,
    /// The embeddable one-line summary.
    pub widget: Asset,
    /// `summary.json`, ..., `history.atom`, `history.rss`.
    pub files: HashMap<&'static str, Asset>,
    pub view: PageView,
}

fn render(view: PageView) -> Rendered {
    let mut files = HashMap::new();
    for name in json::FILES {
        if let Some(v) = json::file(name, &view) {
            let body = serde_json::to_vec(&v).unwrap_or_default();
            files.insert(name, Asset::new(body, "application/json"));
        }
    }
    files.insert(
        "history.atom",
        Asset::new(
            feed::atom(&view).into_bytes(),
            "application/atom+xml; charset=utf-8",
        ),
    );
    files.insert(
        "history.rss",
        Asset::new(
            feed::rss(&view).into_bytes(),
            "application/rss+xml; charset=utf-8",
        ),
    );
    Rendered {
        html: Asset::new(html::page(&view).into_bytes(), "text/html; charset=utf-8"),
        widget: Asset::new(html::widget(&view).into_bytes(), "text/html; charset=utf-8"),
        files,
        view,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("too many requests; try again later")]
    RateLimited,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Deps {
    pub store: Store,
    pub clock: SharedClock,
    pub settings: watch::Receiver<Arc<Settings>>,
    pub monitors: Arc<dyn Monitors>,
    pub events: mpsc::Receiver<Event>,
    /// Base of absolute links when `alerts.external_url` is not set.
    pub default_external_url: String,
    /// Webhook subscribers are sent to through it.
    pub clients: SharedClients,
    pub shutdown: Shutdown,
}

pub(super) struct Inner {
    pub(super) store: Store,
    pub(super) clock: SharedClock,
    pub(super) settings: watch::Receiver<Arc<Settings>>,
    pub(super) monitors: Arc<dyn Monitors>,
    pub(super) clients: SharedClients,
    pub(super) default_url: String,
    pub(super) incidents: RwLock<BTreeMap<u64, Incident>>,
    pub(super) next_id: AtomicU64,
    pub(super) cache: RwLock<HashMap<String, Arc<Rendered>>>,
    /// Monitors some page publishes (Gatus-compatible badges), by key.
    pub(super) public: RwLock<Arc<HashMap<String, view::MonitorStat>>>,
    /// One incident change at a time (ids, and the component statuses an update starts from).
    pub(super) changes: tokio::sync::Mutex<()>,
    /// One render at a time, each reading its inputs once it holds this: two overlapping
    /// renders could otherwise finish out of order and leave the older one in the cache (an
    /// incident just opened, missing from the page until the next refresh).
    pub(super) rendering: std::sync::Mutex<()>,
    pub(super) dirty: Notify,
    /// E-mail subscribers by token.
    pub(super) subscribers: RwLock<HashMap<String, Subscriber>>,
    /// Mails not yet sent, by id.
    pub(super) outbox: Mutex<BTreeMap<u64, OutMail>>,
    pub(super) next_mail: AtomicU64,
    pub(super) limiter: Mutex<Limiter>,
    pub(super) mail_wake: Notify,
}

/// The handle the HTTP layer holds.
#[derive(Clone)]
pub struct StatusPages {
    pub(super) inner: Arc<Inner>,
}

pub(super) fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Loads the incidents, renders every page, and starts the refresh task.
pub async fn start(deps: Deps) -> Result<(StatusPages, JoinHandle<()>), StoreError> {
    let store = deps.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.status_incidents())
        .await
        .map_err(|e| StoreError::Storage(format!("status page load failed: {e}")))??;
    let mut incidents = BTreeMap::new();
    let mut max_id = 0;
    for (id, bytes) in rows {
        // Configured maintenance windows have ids with the top bit set (`view`): the counter
        // of API incidents ignores them.
        if id < 1 << 63 {
            max_id = max_id.max(id);
        }
        match serde_json::from_slice::<Incident>(&bytes) {
            Ok(i) => {
                incidents.insert(id, i);
            }
            Err(e) => warn!(id, error = %e, "status page incident cannot be read; left out"),
        }
    }
    let store = deps.store.clone();
    let (subscriber_rows, mail_rows) = tokio::task::spawn_blocking(move || {
        Ok::<_, StoreError>((store.status_subscribers()?, store.status_outbox()?))
    })
    .await
    .map_err(|e| StoreError::Storage(format!("status page load failed: {e}")))??;
    let subscribers: HashMap<String, Subscriber> = subscriber_rows
        .iter()
        .filter_map(|b| serde_json::from_slice::<Subscriber>(b).ok())
        .map(|s| (s.token.clone(), s))
        .collect();
    let max_mail = mail_rows.iter().map(|(id, _)| *id).max().unwrap_or(0);
    let outbox: BTreeMap<u64, OutMail> = mail_rows
        .iter()
        .filter_map(|(id, b)| serde_json::from_slice::<OutMail>(b).ok().map(|m| (*id, m)))
        .collect();
    let pages = StatusPages {
        inner: Arc::new(Inner {
            store: deps.store,
            clock: deps.clock,
            settings: deps.settings,
            monitors: deps.monitors,
            clients: deps.clients,
            default_url: deps.default_external_url,
            incidents: RwLock::new(incidents),
            next_id: AtomicU64::new(max_id + 1),
            cache: RwLock::new(HashMap::new()),
            public: RwLock::new(Arc::new(HashMap::new())),
            changes: tokio::sync::Mutex::new(()),
            rendering: std::sync::Mutex::new(()),
            dirty: Notify::new(),
            subscribers: RwLock::new(subscribers),
            outbox: Mutex::new(outbox),
            next_mail: AtomicU64::new(max_mail + 1),
            limiter: Mutex::new(Limiter::default()),
            mail_wake: Notify::new(),
        }),
    };
    pages.render_all().await;
    let mailer = tokio::spawn(super::mailer::run(pages.clone(), deps.shutdown.clone()));
    let refresh = tokio::spawn(run(pages.clone(), deps.events, deps.shutdown));
    // One handle for the app: both tasks end at shutdown.
    let task = tokio::spawn(async move {
        let _ = refresh.await;
        let _ = mailer.await;
    });
    Ok((pages, task))
}

async fn run(pages: StatusPages, mut events: mpsc::Receiver<Event>, mut shutdown: Shutdown) {
    let mut settings = pages.inner.settings.clone();
    let mut tick = tokio::time::interval(REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            ev = events.recv() => match ev {
                Some(ev) => {
                    if matches!(ev.as_ref(), DomainEvent::Alert(_)) {
                        pages.on_alert(&ev).await;
                        continue;
                    }
                    // Only a change of state changes what a page shows before the next tick.
                    // A monitor checked from several locations shows its state across them.
                    let (DomainEvent::Probe(ProbeEvent::Checked(c))
                    | DomainEvent::Probe(ProbeEvent::Combined(c))) = ev.as_ref() else { continue };
                    if !c.is_transition() {
                        continue;
                    }
                }
                None => return,
            },
            r = settings.changed() => if r.is_err() { return },
            _ = pages.inner.dirty.notified() => {}
            _ = tick.tick() => {}
            _ = tokio::time::sleep(pages.until_maintenance_moves()) => {}
        }
        pages.advance_maintenance().await;
        pages.render_all().await;
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(MIN_INTERVAL) => {}
        }
    }
}

/// The page's components as an incident update refers to them.
fn component_refs(view: &PageView) -> Vec<ComponentRef<'_>> {
    view.all()
        .map(|c| ComponentRef {
            id: &c.id,
            name: &c.name,
            status: c.status,
        })
        .collect()
}

impl StatusPages {
    fn base_url(&self, s: &Settings) -> String {
        s.external_url
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| self.inner.default_url.clone())
    }

    /// Renders every configured page (off the async workers: it reads roll-ups) and drops
    /// pages no longer configured.
    pub async fn render_all(&self) {
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _one = this
                .inner
                .rendering
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let s = this.inner.settings.borrow().clone();
            let now = this.inner.clock.now_ms();
            let base = this.base_url(&s);
            let incidents = read(&this.inner.incidents).clone();
            let mut fresh = HashMap::new();
            for p in &s.pages {
                let v = view::gather(p, &s, &base, this.inner.monitors.as_ref(), &incidents, now);
                fresh.insert(p.slug.clone(), Arc::new(render(v)));
            }
            *write(&this.inner.cache) = fresh;
            let public = view::public_monitors(&s, this.inner.monitors.as_ref(), now)
                .into_iter()
                .map(|m| (m.key.clone(), m))
                .collect();
            *write(&this.inner.public) = Arc::new(public);
        })
        .await;
        // Notifications of changes are sent once the pages show them.
        self.inner.mail_wake.notify_one();
    }

    #[cfg(test)]
    pub(super) fn incident_count(&self) -> usize {
        read(&self.inner.incidents).len()
    }

    /// The rendered page `slug`.
    pub fn get(&self, slug: &str) -> Option<Arc<Rendered>> {
        read(&self.inner.cache).get(slug).cloned()
    }

    /// A published monitor by its Gatus key (`<group>_<name>`).
    pub fn public_monitor(&self, key: &str) -> Option<view::MonitorStat> {
        read(&self.inner.public).get(key).cloned()
    }

    /// The one page, when exactly one is configured.
    pub fn only(&self) -> Option<Arc<Rendered>> {
        let cache = read(&self.inner.cache);
        if cache.len() == 1 {
            cache.values().next().cloned()
        } else {
            None
        }
    }

    /// The page whose `domain` is `host` (port and case ignored).
    pub fn by_domain(&self, host: &str) -> Option<Arc<Rendered>> {
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        read(&self.inner.cache)
            .values()
            .find(|r| {
                r.view
                    .config
                    .domain
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(&host))
            })
            .cloned()
    }

    /// Slugs and titles of every page.
    pub fn pages(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = read(&self.inner.cache)
            .values()
            .map(|r| (r.view.config.slug.clone(), r.view.config.title.clone()))
            .collect();
        out.sort();
        out
    }

    /// Opens an incident (`id` none) or adds an update to one; durable before it returns, and
    /// on the page when it returns.
    pub async fn change(
        &self,
        slug: &str,
        id: Option<u64>,
        change: &Change,
        by: &str,
    ) -> Result<(Incident, Arc<Rendered>), StatusError> {
        let guard = self.inner.changes.lock().await;
        let rendered = self
            .get(slug)
            .ok_or_else(|| StatusError::NotFound(format!("no status page `{slug}`")))?;
        let existing = match id {
            Some(id) => Some(
                read(&self.inner.incidents)
                    .get(&id)
                    .filter(|i| i.page == slug)
                    .cloned()
                    .ok_or_else(|| {
                        StatusError::NotFound(format!("no incident {id} on `{slug}`"))
                    })?,
            ),
            None => None,
        };
        let stored = self
            .apply_change(&rendered, existing.as_ref(), change, by, None)
            .await;
        drop(guard);
        let next = stored?;
        self.render_all().await;
        let fresh = self.get(slug).unwrap_or(rendered);
        Ok((next, fresh))
    }

    /// Applies `change` to `existing` (a new incident when `None`, drafted from `alert` when
    /// given) on the page `rendered` shows, and commits it. The caller holds `changes`.
    pub(super) async fn apply_change(
        &self,
        rendered: &Rendered,
        existing: Option<&Incident>,
        change: &Change,
        by: &str,
        alert: Option<&str>,
    ) -> Result<Incident, StatusError> {
        let components = component_refs(&rendered.view);
        let now = self.inner.clock.now_ms();
        let seq = self.inner.next_id.load(Ordering::SeqCst);
        let cx = Context {
            page: &rendered.view.config.slug,
            components: &components,
            now_ms: now,
            by,
            incident_id: seq,
            update_id: now,
        };
        let parse_time = |s: &str| {
            s.parse::<jiff::Timestamp>()
                .ok()
                .and_then(|t| u64::try_from(t.as_millisecond()).ok())
        };
        let mut next =
            model::apply(existing, change, &cx, parse_time).map_err(StatusError::Invalid)?;
        if existing.is_none() {
            next.alert = alert.map(str::to_string);
        }
        let fresh_id = existing.is_none().then_some(seq + 1);
        self.commit(rendered, next, fresh_id).await
    }

    /// Stores `next` with the notifications it causes, in one transaction, then puts it in
    /// the page's incidents. `next_id` is the id counter's new value when `next` took one.
    /// The caller holds `changes`.
    pub(super) async fn commit(
        &self,
        rendered: &Rendered,
        next: Incident,
        next_id: Option<u64>,
    ) -> Result<Incident, StatusError> {
        let now = self.inner.clock.now_ms();
        let bytes = serde_json::to_vec(&next)
            .map_err(|e| StatusError::Invalid(format!("incident cannot be stored: {e}")))?;
        // The update's e-mails are durable with it: none is lost, none is sent for an update
        // that was not stored.
        // A draft tells nobody; publishing it tells everyone its latest update.
        let mails = if next.draft {
            Vec::new()
        } else {
            self.update_mails(&rendered.view, &next, now)
        };
        let mail_rows: Vec<(u64, Vec<u8>)> = mails
            .iter()
            .filter_map(|m| serde_json::to_vec(m).ok().map(|b| (m.id, b)))
            .collect();
        self.inner
            .store
            .write(vec![Write::Status(StatusWrite {
                incidents: vec![(next.id, bytes)],
                mails: mail_rows,
                ..Default::default()
            })])
            .await?;
        self.queue_mails(mails, false);
        if let Some(n) = next_id {
            self.inner.next_id.store(n, Ordering::SeqCst);
        }
        write(&self.inner.incidents).insert(next.id, next.clone());
        Ok(next)
    }

    /// The page's incidents, newest first, drafts included (the management API's list).
    pub fn incidents(&self, slug: &str) -> Option<Vec<Incident>> {
        self.get(slug)?;
        Some(
            read(&self.inner.incidents)
                .values()
                .rev()
                .filter(|i| i.page == slug)
                .cloned()
                .collect(),
        )
    }

    /// Asks the task to re-render soon (after a reload, say).
    pub fn refresh(&self) {
        self.inner.dirty.notify_one();
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
