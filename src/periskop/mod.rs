//! Periskop-compatible exception scraping: discovery, scraping, cross-instance aggregation, the
//! push gateway, and Panoptes' own errors in Periskop format.
//!
//! Owns: the in-memory aggregates (one lock per service, never held across an `.await`), the
//! per-service scrape loops and their supervisor (restarted on reload), target health.
//! Depends on: `config`, `store` (the `periskop_*` tables), `metrics`, `clock`.
//!
//! Flow per service: discovery tasks keep target lists current (`discovery.rs`); the scrape loop
//! takes the merged list, scrapes every target concurrently under a global semaphore
//! (`scrape.rs`), applies the exports to the aggregate (`aggregate.rs`), prunes instances that
//! are gone, persists the changes in one store write, then sleeps `refresh_interval` (the next
//! scrape starts that long after this one *completed*).

pub mod aggregate;
pub mod config;
pub mod discovery;
pub mod internal;
pub mod model;
pub mod scrape;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use panoptes_types::PeriskopHttpContext;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::{Metrics, PeriskopLabels, PeriskopTargetLabels};
use crate::store::periskop::PeriskopWrite;
use crate::store::{Store, StoreError, Write};
use aggregate::{Delta, InstanceMeta, KeyState, Limits, ServiceAgg};
use config::{PeriskopConfig, ServiceConfig, valid_service_name};
use discovery::Target;
use internal::InternalErrors;
use scrape::{ClientFactory, RequestSpec, ScrapeError};

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
    config: watch::Receiver<Arc<Config>>,
}

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
    pub fn open(
        store: Store,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        config: watch::Receiver<Arc<Config>>,
        instance_id: String,
    ) -> Result<Periskop, StoreError> {
        let snap = store.periskop_snapshot()?;
        let mut services: BTreeMap<String, ServiceAgg> = BTreeMap::new();
        for (svc, key, bytes) in snap.keys {
            match serde_json::from_slice::<KeyState>(&bytes) {
                Ok(k) => {
                    services.entry(svc).or_default().keys.insert(key, k);
                }
                Err(e) => {
                    warn!(service = %svc, key = %key, error = %e, "skipping undecodable exception key")
                }
            }
        }
        let now = clock.now_ms();
        for (svc, id, bytes) in snap.instances {
            match serde_json::from_slice::<InstanceMeta>(&bytes) {
                Ok(mut meta) => {
                    // Pushed jobs' age restarts with the process: it could not hear them meanwhile.
                    if meta.pushed {
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
        let configured: Vec<String> = config
            .borrow()
            .services
            .iter()
            .map(|s| s.name.0.clone())
            .collect();
        for name in configured {
            services.entry(name).or_default().scraped = true;
        }
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
                config,
            }),
        })
    }

    fn global(&self) -> PeriskopConfig {
        self.inner.config.borrow().periskop.clone()
    }

    fn limits(&self) -> Limits {
        let g = self.inner.config.borrow();
        Limits {
            max_keys: g.periskop.max_keys_per_service,
            max_occurrences: g.periskop.max_occurrences,
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

    /// Per-minute increases of one key since `from_ms`.
    pub fn rate(
        &self,
        service: &str,
        key: &str,
        from_ms: u64,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        self.inner.store.periskop_rate(service, key, from_ms)
    }

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
            let configured = self.inner.config.borrow().services.len();
            if n >= global.max_push_services + configured {
                return Err(PushError::TooManyServices(global.max_push_services));
            }
        }
        let agg = self.service_entry(service, false);
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
        self.persist(service, delta, now).await?;
        Ok(outcome)
    }

    /// Writes `delta` durably; store failures are also reported as internal errors.
    async fn persist(&self, service: &str, delta: Delta, now_ms: u64) -> Result<(), StoreError> {
        if delta.is_empty() {
            return Ok(());
        }
        let w = PeriskopWrite {
            service: service.to_string(),
            minute_ms: minute_of(now_ms),
            rate_before_ms: now_ms.saturating_sub(
                self.inner
                    .config
                    .borrow()
                    .periskop
                    .rate_retention
                    .get()
                    .as_millis() as u64,
            ),
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
            Ok(_) => Ok(()),
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

/// Runs the scrape loops of every configured service until `shutdown`; restarts them when the
/// `services` or `periskop` config changes. Aggregates survive restarts of the loops.
pub async fn run(
    periskop: Periskop,
    clients: ClientFactory,
    mut config: watch::Receiver<Arc<Config>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (services, global) = {
            let c = config.borrow_and_update();
            (c.services.clone(), c.periskop.clone())
        };
        let sem = Arc::new(Semaphore::new(global.max_concurrent_scrapes.max(1)));
        let mut tasks = JoinSet::new();
        for (name, agg) in periskop.services() {
            let configured = services.iter().any(|s| s.name.0 == name);
            lock(&agg).scraped = configured;
        }
        for s in &services {
            tasks.spawn(run_service(
                periskop.clone(),
                s.clone(),
                global.clone(),
                clients.clone(),
                sem.clone(),
            ));
        }
        if !services.is_empty() {
            info!(services = services.len(), "periskop scraping started");
        }
        loop {
            tokio::select! {
                changed = config.changed() => {
                    if changed.is_err() {
                        tasks.shutdown().await;
                        return;
                    }
                    let c = config.borrow_and_update();
                    if c.services != services || c.periskop != global {
                        break;
                    }
                }
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                    tasks.shutdown().await;
                    return;
                }
            }
        }
        // Dropping the JoinSet aborts every loop and, with them, their discovery tasks.
        tasks.shutdown().await;
        info!("periskop configuration changed; restarting scrape loops");
    }
}

type SourceRx = watch::Receiver<Option<Vec<Target>>>;

async fn run_service(
    p: Periskop,
    cfg: ServiceConfig,
    global: PeriskopConfig,
    clients: ClientFactory,
    sem: Arc<Semaphore>,
) {
    let name = cfg.name.0.clone();
    let agg = p.service_entry(&name, true);
    let mut discovery = JoinSet::new();
    let mut sources: Vec<SourceRx> = Vec::new();
    for (i, d) in cfg.dns_sd_configs.iter().enumerate() {
        let (tx, rx) = watch::channel(None);
        sources.push(rx);
        let nameserver = d.nameserver.or(global.nameserver);
        discovery.spawn(run_dns(
            p.clone(),
            name.clone(),
            i,
            d.clone(),
            nameserver,
            tx,
        ));
    }
    for f in &cfg.file_sd_configs {
        let (tx, rx) = watch::channel(None);
        sources.push(rx);
        discovery.spawn(run_file_sd(p.clone(), name.clone(), f.clone(), tx));
    }
    let static_targets = discovery::static_targets(&cfg.static_configs);
    // The first cycle waits (briefly) for every source's first answer, so it scrapes everything.
    for rx in &mut sources {
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|v| v.is_some())).await;
    }
    let spec = match clients(&cfg) {
        Ok(c) => Ok(RequestSpec::new(c, &cfg, global.max_body_bytes)),
        Err(e) => {
            warn!(service = %name, error = %e, "cannot build the scrape client");
            p.inner
                .internal
                .report("ScrapeError", &name, e.clone(), None, p.now_ms());
            Err(e)
        }
    };
    let interval = cfg.scraper.refresh_interval.get();
    let mut next_due = Instant::now();
    loop {
        let lag = Instant::now().saturating_duration_since(next_due);
        p.inner
            .metrics
            .periskop
            .lag_seconds
            .observe(lag.as_secs_f64());
        let started = Instant::now();
        let targets = merge_targets(&static_targets, &sources);
        scrape_cycle(
            &p,
            &cfg,
            &agg,
            spec.as_ref().map_err(String::as_str),
            &sem,
            targets,
        )
        .await;
        p.inner
            .metrics
            .periskop
            .cycle_seconds
            .observe(started.elapsed().as_secs_f64());
        next_due = Instant::now() + interval;
        tokio::time::sleep(interval).await;
    }
}

fn merge_targets(static_targets: &[Target], sources: &[SourceRx]) -> Vec<Target> {
    let mut by_addr: BTreeMap<String, Target> = BTreeMap::new();
    for t in static_targets {
        by_addr
            .entry(t.address.clone())
            .or_insert_with(|| t.clone());
    }
    for rx in sources {
        if let Some(list) = rx.borrow().as_ref() {
            for t in list {
                by_addr
                    .entry(t.address.clone())
                    .or_insert_with(|| t.clone());
            }
        }
    }
    by_addr.into_values().collect()
}

async fn scrape_cycle(
    p: &Periskop,
    cfg: &ServiceConfig,
    agg: &Arc<Mutex<ServiceAgg>>,
    spec: Result<&RequestSpec, &str>,
    sem: &Arc<Semaphore>,
    targets: Vec<Target>,
) {
    let name = cfg.name.0.as_str();
    let scheme = cfg.scheme.as_str();
    let endpoint = cfg.scraper.endpoint.0.as_str();
    let url_of = |t: &Target| format!("{scheme}://{}{endpoint}", t.address);
    let metrics = &p.inner.metrics.periskop;

    // Health entries follow discovery: new targets appear as unknown, vanished ones are removed.
    {
        let mut a = lock(agg);
        let current: std::collections::BTreeSet<&str> =
            targets.iter().map(|t| t.address.as_str()).collect();
        let gone: Vec<String> = a
            .targets
            .keys()
            .filter(|k| !current.contains(k.as_str()))
            .cloned()
            .collect();
        for addr in gone {
            a.targets.remove(&addr);
            metrics.target_up.remove(&PeriskopTargetLabels {
                service: name.to_string(),
                target: addr,
            });
        }
        for t in &targets {
            let h = a.targets.entry(t.address.clone()).or_default();
            h.address = t.address.clone();
            h.url = url_of(t);
            h.source = t.source.clone();
            h.labels = t.labels.clone();
        }
    }

    let results: Vec<(Target, Result<model::Payload, ScrapeError>, Duration)> = match spec {
        // Without a client every target is down, with the reason.
        Err(why) => targets
            .iter()
            .map(|t| {
                (
                    t.clone(),
                    Err(ScrapeError::Request(why.to_string())),
                    Duration::ZERO,
                )
            })
            .collect(),
        Ok(spec) => {
            let futures = targets.iter().map(|t| {
                let url = url_of(t);
                async move {
                    // Closed only if the semaphore is dropped, which happens with this task.
                    let _permit = sem.acquire().await;
                    let s = scrape::scrape(spec, &url).await;
                    (t.clone(), s.result, s.duration)
                }
            });
            futures_util::future::join_all(futures).await
        }
    };

    let now = p.now_ms();
    let limits = p.limits();
    let mut delta = Delta::default();
    let mut failures = Vec::new();
    {
        let mut a = lock(agg);
        // address -> identity now (None: unknown, keep whatever instance lives there)
        let mut identity: HashMap<String, Option<String>> = HashMap::new();
        for t in &targets {
            let known = a.targets.get(&t.address).and_then(|h| {
                h.target_uuid
                    .clone()
                    .or_else(|| h.last_success_ms.map(|_| t.address.clone()))
            });
            identity.insert(t.address.clone(), known);
        }
        for (t, result, duration) in results {
            let labels = PeriskopTargetLabels {
                service: name.to_string(),
                target: t.address.clone(),
            };
            let outcome = match result {
                Ok(payload) => {
                    let id = aggregate::instance_id(&payload.target_uuid, &t.address);
                    let meta = InstanceMeta {
                        address: t.address.clone(),
                        pushed: false,
                        last_seen_ms: now,
                    };
                    let dropped = a.apply(&id, meta, &payload, now, limits, &mut delta);
                    metrics.dropped_keys.inc_by(dropped);
                    identity.insert(t.address.clone(), Some(id));
                    let h = a.targets.entry(t.address.clone()).or_default();
                    h.up = Some(true);
                    h.last_error = None;
                    h.last_success_ms = Some(now);
                    h.target_uuid =
                        (!payload.target_uuid.is_empty()).then(|| payload.target_uuid.clone());
                    "ok"
                }
                Err(e) => {
                    let h = a.targets.entry(t.address.clone()).or_default();
                    h.up = Some(false);
                    h.last_error = Some(e.to_string());
                    failures.push((url_of(&t), e));
                    "error"
                }
            };
            if let Some(h) = a.targets.get_mut(&t.address) {
                h.last_duration_ms = Some(duration.as_millis() as u64);
                h.last_scrape_ms = Some(now);
            }
            metrics
                .target_up
                .get_or_create(&labels)
                .set(i64::from(outcome == "ok"));
            metrics
                .scrapes
                .get_or_create(&PeriskopLabels {
                    service: name.to_string(),
                    result: outcome.to_string(),
                })
                .inc();
        }
        // Scraped instances are kept while their address is discovered and, once the target's
        // identity is known, only the instance that is that identity (a new target_uuid means
        // the process restarted and the old one is gone).
        a.prune_instances(
            |id, m| {
                if m.pushed {
                    return true;
                }
                match identity.get(&m.address) {
                    None => false,
                    Some(None) => true,
                    Some(Some(current)) => current == id,
                }
            },
            &mut delta,
        );
    }
    for (url, e) in failures {
        debug!(service = %name, %url, error = %e, "scrape failed");
        p.inner.internal.report(
            "ScrapeError",
            name,
            format!("{url}: {e}"),
            Some(PeriskopHttpContext {
                request_method: "GET".into(),
                request_url: url,
                ..Default::default()
            }),
            now,
        );
    }
    if let Err(e) = p.persist(name, delta, now).await {
        warn!(service = %name, error = %e, "could not persist exception aggregates");
    }
}

async fn run_dns(
    p: Periskop,
    service: String,
    index: usize,
    cfg: config::DnsSdConfig,
    nameserver: Option<config::Nameserver>,
    tx: watch::Sender<Option<Vec<Target>>>,
) {
    let every = cfg.refresh_interval.get();
    let resolver = match discovery::resolver(nameserver, every) {
        Ok(r) => r,
        Err(e) => {
            warn!(%service, error = %e, "DNS discovery disabled");
            p.inner
                .internal
                .report("DiscoveryError", &service, e, None, p.now_ms());
            tx.send_replace(Some(Vec::new()));
            return;
        }
    };
    loop {
        match discovery::dns_targets(&resolver, &cfg).await {
            Ok(list) => {
                tx.send_replace(Some(list));
            }
            Err(e) => {
                warn!(%service, dns_sd_config = index, error = %e, "DNS discovery failed; keeping the previous targets");
                p.inner
                    .internal
                    .report("DiscoveryError", &service, e, None, p.now_ms());
                if tx.borrow().is_none() {
                    tx.send_replace(Some(Vec::new()));
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

async fn run_file_sd(
    p: Periskop,
    service: String,
    cfg: config::FileSdConfig,
    tx: watch::Sender<Option<Vec<Target>>>,
) {
    let every = cfg.refresh_interval.get();
    loop {
        let c = cfg.clone();
        let read = tokio::task::spawn_blocking(move || discovery::file_targets(&c)).await;
        match read {
            Ok(Ok(list)) => {
                tx.send_replace(Some(list));
            }
            Ok(Err(e)) => {
                warn!(%service, error = %e, "file discovery failed; keeping the previous targets");
                p.inner
                    .internal
                    .report("DiscoveryError", &service, e, None, p.now_ms());
                if tx.borrow().is_none() {
                    tx.send_replace(Some(Vec::new()));
                }
            }
            Err(e) => {
                warn!(%service, error = %e, "file discovery task failed");
                if tx.borrow().is_none() {
                    tx.send_replace(Some(Vec::new()));
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
