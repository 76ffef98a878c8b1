//! Probing: scheduling checks for every monitor, judging them, keeping state, roll-ups and
//! results.
//!
//! Owns: monitor runtime state, the scheduler, push heartbeats. Depends on: `store`, `config`,
//! `clock`, `metrics`. Each monitor is one tokio task that sleeps until its next planned start
//! (start-to-start, first runs spread across the interval by a hash of the name), takes a global
//! and a per-host permit, runs its check under its timeout and records the result. A slow target
//! only ever holds its own task and permits, so it cannot delay another monitor's schedule.

pub mod check;
pub mod condition;
pub mod config;
pub mod maintenance;
pub mod rollup;
pub mod state;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::clock::SharedClock;
use crate::metrics::ProbeMetrics;
use crate::store::probes::ProbeWrite;
use crate::store::{Store, StoreError, Write};
use check::{Checkers, Outcome};
use condition::{BodyCache, ConditionResult, Placeholder};
use config::{CheckKind, MonitorConfig, ProbingConfig};
use maintenance::MaintenanceConfig;
use rollup::{Resolution, ResultRecord, Rollup};
use state::{Attempt, Machine, State};

/// The last check of a monitor, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastCheck {
    pub at_ms: u64,
    pub latency_ms: u64,
    pub ok: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub conditions: Vec<ConditionResult>,
    pub maintenance: Option<String>,
}

/// What survives a restart (stored with every result).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Snapshot {
    machine: Machine,
    state: Option<State>,
    last: Option<LastCheck>,
    cert_expires_at_ms: Option<i64>,
    last_push_ms: Option<u64>,
}

struct Runtime {
    machine: Machine,
    state: State,
    last: Option<LastCheck>,
    cert_expires_at_ms: Option<i64>,
    last_push_ms: Option<u64>,
    /// Current bucket per resolution (minute, hour, day).
    current: [(u64, Rollup); 3],
    /// Recent hour buckets: (bucket start, counted, down) for 24 h uptime without a store read.
    hours: VecDeque<(u64, u32, u32)>,
}

pub struct Monitor {
    pub id: u32,
    pub config: MonitorConfig,
    rt: Mutex<Runtime>,
    pushed: Notify,
}

/// A monitor's current state for listings.
#[derive(Debug, Clone)]
pub struct MonitorView {
    pub id: u32,
    pub config: MonitorConfig,
    pub state: State,
    pub last: Option<LastCheck>,
    pub cert_expires_at_ms: Option<i64>,
    pub uptime_24h: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Inner {
    store: Store,
    clock: SharedClock,
    metrics: ProbeMetrics,
    checkers: Checkers,
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    monitors: RwLock<BTreeMap<u32, Arc<Monitor>>>,
    tasks: Mutex<HashMap<u32, JoinHandle<()>>>,
    push_tokens: RwLock<HashMap<String, u32>>,
    maintenance: RwLock<Arc<Vec<MaintenanceConfig>>>,
}

/// The probing engine; cheap to clone.
#[derive(Clone)]
pub struct ProbeEngine {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Deterministic offset in `[0, interval)` from the monitor name, so first runs spread evenly and
/// stay put across restarts.
fn spread(name: &str, interval: Duration) -> Duration {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3)
    });
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % ms)
}

impl ProbeEngine {
    /// Builds the engine and starts every enabled monitor.
    pub async fn start(
        store: Store,
        clock: SharedClock,
        metrics: ProbeMetrics,
        settings: &ProbingConfig,
        monitors: &[MonitorConfig],
        maintenance: &[MaintenanceConfig],
    ) -> Result<ProbeEngine, ProbeError> {
        if monitors
            .iter()
            .any(|m| m.enabled && matches!(m.kind, CheckKind::Icmp(_)))
        {
            check::icmp::available().map_err(ProbeError::Config)?;
        }
        let engine = ProbeEngine {
            inner: Arc::new(Inner {
                store,
                clock,
                metrics,
                checkers: Checkers::new(&settings.user_agent),
                global: Arc::new(Semaphore::new(settings.concurrency.max(1))),
                per_host: settings.per_host_concurrency.max(1),
                hosts: Mutex::new(HashMap::new()),
                monitors: RwLock::new(BTreeMap::new()),
                tasks: Mutex::new(HashMap::new()),
                push_tokens: RwLock::new(HashMap::new()),
                maintenance: RwLock::new(Arc::new(maintenance.to_vec())),
            }),
        };
        engine.apply(monitors, maintenance).await?;
        Ok(engine)
    }

    /// Reconciles running monitors with `monitors`: new ones start, removed ones stop, changed
    /// ones restart with their state kept; untouched ones are not disturbed.
    pub async fn apply(
        &self,
        monitors: &[MonitorConfig],
        maintenance: &[MaintenanceConfig],
    ) -> Result<(), ProbeError> {
        let inner = &self.inner;
        *inner.maintenance.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(maintenance.to_vec());
        let mut ids = inner.store.probe_ids()?;
        let mut next = ids.values().max().map(|m| m + 1).unwrap_or(1);
        let mut new_ids = Vec::new();
        for m in monitors {
            if !ids.contains_key(&m.name) {
                ids.insert(m.name.clone(), next);
                new_ids.push((m.name.clone(), next));
                next += 1;
            }
        }
        if !new_ids.is_empty() {
            // Ids are durable before any result references them.
            inner
                .store
                .write(vec![Write::Probe(ProbeWrite::AssignIds(new_ids))])
                .await?;
        }
        let wanted: HashMap<u32, &MonitorConfig> = monitors
            .iter()
            .filter(|m| m.enabled)
            .filter_map(|m| ids.get(&m.name).map(|id| (*id, m)))
            .collect();
        let mut current = inner.monitors.write().unwrap_or_else(|p| p.into_inner());
        let mut tasks = lock(&inner.tasks);
        // Stop removed and changed monitors.
        let stale: Vec<u32> = current
            .iter()
            .filter(|(id, m)| wanted.get(id).is_none_or(|w| **w != m.config))
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            if let Some(t) = tasks.remove(id) {
                t.abort();
            }
            if let Some(m) = current.remove(id)
                && !wanted.contains_key(id)
            {
                inner
                    .metrics
                    .forget(&m.config.name, m.config.kind.type_name());
                info!(monitor = %m.config.name, "monitor removed");
            }
        }
        let mut started = 0;
        for (id, cfg) in &wanted {
            if current.contains_key(id) {
                continue;
            }
            let monitor = Arc::new(Monitor {
                id: *id,
                config: (*cfg).clone(),
                rt: Mutex::new(self.restore(*id)),
                pushed: Notify::new(),
            });
            current.insert(*id, monitor.clone());
            let engine = self.clone();
            tasks.insert(*id, tokio::spawn(async move { engine.run(monitor).await }));
            started += 1;
        }
        let mut tokens = inner.push_tokens.write().unwrap_or_else(|p| p.into_inner());
        tokens.clear();
        for (id, m) in current.iter() {
            if let CheckKind::Push(p) = &m.config.kind {
                tokens.insert(p.token.clone(), *id);
            }
        }
        if started > 0 || !stale.is_empty() {
            info!(
                started,
                stopped = stale.len(),
                running = current.len(),
                "monitors applied"
            );
        }
        Ok(())
    }

    /// Stops every monitor task.
    pub fn stop(&self) {
        for (_, t) in lock(&self.inner.tasks).drain() {
            t.abort();
        }
    }

    fn restore(&self, id: u32) -> Runtime {
        let snap: Snapshot = self
            .inner
            .store
            .probe_state(id)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let now = self.inner.clock.now_ms();
        let current = Resolution::ALL.map(|res| {
            let bucket = res.bucket(now);
            let rollup = self
                .inner
                .store
                .probe_rollups(id, res as u8, bucket, bucket + 1)
                .ok()
                .and_then(|rows| rows.into_iter().next())
                .and_then(|(_, b)| Rollup::decode(&b))
                .unwrap_or_default();
            (bucket, rollup)
        });
        let day_ago = now.saturating_sub(25 * 3_600_000);
        let hours = self
            .inner
            .store
            .probe_rollups(id, Resolution::Hour as u8, day_ago, now + 1)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(b, bytes)| Rollup::decode(&bytes).map(|r| (b, r.counted(), r.down)))
            .collect();
        Runtime {
            machine: snap.machine,
            state: snap.state.unwrap_or(State::Unknown),
            last: snap.last,
            cert_expires_at_ms: snap.cert_expires_at_ms,
            last_push_ms: snap.last_push_ms,
            current,
            hours,
        }
    }

    fn host_permit(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = lock(&self.inner.hosts);
        hosts
            .entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.per_host)))
            .clone()
    }

    async fn run(&self, m: Arc<Monitor>) {
        if let CheckKind::Push(p) = &m.config.kind {
            return self.run_push(&m, p.grace.get()).await;
        }
        let interval = m.config.interval.get();
        let mut grid = Instant::now() + spread(&m.config.name, interval);
        let mut planned = grid;
        let host = self.host_permit(&m.config.kind.host());
        loop {
            tokio::time::sleep_until(planned).await;
            let Ok(_global) = self.inner.global.clone().acquire_owned().await else {
                return;
            };
            let Ok(_host) = host.clone().acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            self.inner
                .metrics
                .schedule_lag
                .observe(started.saturating_duration_since(planned).as_secs_f64());
            let outcome = match tokio::time::timeout(
                m.config.timeout.get(),
                self.inner.checkers.run(&m.config),
            )
            .await
            {
                Ok(o) => o,
                Err(_) => Outcome::failed(
                    started.into_std(),
                    format!("timed out after {}", m.config.timeout),
                ),
            };
            drop((_global, _host));
            let retry = self.record(&m, outcome).await;
            let now = Instant::now();
            while grid <= now {
                grid += interval;
            }
            planned = if retry {
                (now + m.config.retry_interval.get()).min(grid)
            } else {
                grid
            };
        }
    }

    /// Push monitors wait for heartbeats; a missing one past interval + grace is a failure.
    async fn run_push(&self, m: &Monitor, grace: Duration) {
        let window = m.config.interval.get() + grace;
        let mut deadline = Instant::now() + window;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    let outcome = Outcome {
                        error: Some(format!("no push received within {}", crate::config::Duration(window))),
                        ..Default::default()
                    };
                    let retry = self.record(m, outcome).await;
                    deadline = Instant::now() + if retry { m.config.retry_interval.get() } else { window };
                }
                _ = m.pushed.notified() => {
                    deadline = Instant::now() + window;
                }
            }
        }
    }

    /// Records a push heartbeat. `up` false reports a failure (e.g. a failed cron job).
    pub async fn push(
        &self,
        token: &str,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Option<State> {
        let id = *self
            .inner
            .push_tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)?;
        self.heartbeat(id, up, msg, latency_ms).await
    }

    /// A heartbeat for the push monitor named `name` (Sentry cron `check_in` items use the
    /// monitor slug). Returns `None` when no push monitor has that name.
    pub async fn push_by_name(
        &self,
        name: &str,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Option<State> {
        let id = self
            .inner
            .monitors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|m| m.config.name == name && matches!(m.config.kind, CheckKind::Push(_)))?
            .id;
        self.heartbeat(id, up, msg, latency_ms).await
    }

    async fn heartbeat(
        &self,
        id: u32,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Option<State> {
        let m = self
            .inner
            .monitors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)?
            .clone();
        let now = self.inner.clock.now_ms();
        lock(&m.rt).last_push_ms = Some(now);
        let outcome = Outcome {
            obs: condition::Observation {
                status: Some(if up { 200 } else { 500 }),
                response_time_ms: latency_ms.unwrap_or(0),
                body: msg.clone(),
                connected: true,
                ..Default::default()
            },
            error: (!up).then(|| msg.unwrap_or_else(|| "push reported down".into())),
        };
        self.record(&m, outcome).await;
        m.pushed.notify_one();
        Some(lock(&m.rt).state)
    }

    /// Judges an outcome, advances the state machine and roll-ups, stores the result.
    /// Returns whether to retry early.
    async fn record(&self, m: &Monitor, outcome: Outcome) -> bool {
        let cfg = &m.config;
        let now = self.inner.clock.now_ms();
        let mut cache = BodyCache::default();
        let results: Vec<ConditionResult> = cfg
            .conditions
            .iter()
            .map(|c| c.evaluate(&outcome.obs, &mut cache))
            .collect();
        let tests_connected = cfg
            .conditions
            .iter()
            .any(|c| c.placeholders().contains(&Placeholder::Connected));
        // A check error fails the check unless a condition explicitly judges connectivity
        // (e.g. `[CONNECTED] == false` to assert a port is closed).
        let ok = results.iter().all(|r| r.ok) && (outcome.error.is_none() || tests_connected);
        let latency_ms = outcome.obs.response_time_ms;
        let slow = cfg
            .degraded
            .is_some_and(|d| latency_ms > d.get().as_millis() as u64);
        let windows = self
            .inner
            .maintenance
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let maint = maintenance::active(&windows, &cfg.name, cfg.group.as_deref(), now as i64)
            .map(str::to_string);
        let failed_conditions = results
            .iter()
            .enumerate()
            .filter(|(i, r)| !r.ok && *i < 64)
            .fold(0u64, |acc, (i, _)| acc | (1 << i));
        let apdex_t = cfg.apdex_t.get().as_millis() as u64;
        let (transition, rollups, snapshot) = {
            let mut rt = lock(&m.rt);
            let t = rt.machine.apply(
                Attempt {
                    ok,
                    slow,
                    in_maintenance: maint.is_some(),
                },
                cfg.retries,
                cfg.recovery,
            );
            rt.state = t.state;
            if let Some(ms) = outcome.obs.certificate_expiration_ms {
                rt.cert_expires_at_ms = Some(now as i64 + ms);
            }
            let mut rows = Vec::with_capacity(3);
            for (i, res) in Resolution::ALL.iter().enumerate() {
                let bucket = res.bucket(now);
                if rt.current[i].0 != bucket {
                    rt.current[i] = (bucket, Rollup::default());
                }
                rt.current[i].1.add(t.state, ok, latency_ms, apdex_t);
                rows.push((*res as u8, bucket, rt.current[i].1.encode()));
            }
            let hour = Resolution::Hour.bucket(now);
            let (counted, down) = (rt.current[1].1.counted(), rt.current[1].1.down);
            match rt.hours.back_mut() {
                Some(h) if h.0 == hour => *h = (hour, counted, down),
                _ => rt.hours.push_back((hour, counted, down)),
            }
            while rt.hours.len() > 25 {
                rt.hours.pop_front();
            }
            rt.last = Some(LastCheck {
                at_ms: now,
                latency_ms,
                ok,
                status: outcome.obs.status,
                error: outcome.error.clone(),
                conditions: results,
                maintenance: maint,
            });
            let snap = Snapshot {
                machine: rt.machine,
                state: Some(rt.state),
                last: rt.last.clone(),
                cert_expires_at_ms: rt.cert_expires_at_ms,
                last_push_ms: rt.last_push_ms,
            };
            (t, rows, serde_json::to_vec(&snap).unwrap_or_default())
        };
        let record = ResultRecord {
            state: transition.state,
            ok,
            latency_us: latency_ms.saturating_mul(1000),
            status: outcome.obs.status,
            failed_conditions,
            error: outcome.error,
        };
        let write = Write::Probe(ProbeWrite::Result {
            id: m.id,
            at_ms: now,
            record: record.encode(),
            rollups,
            snapshot,
        });
        self.inner.metrics.observe(
            cfg,
            transition.state,
            ok,
            latency_ms,
            self.cert_days(m),
            self.uptime_24h(m),
        );
        // Queued, not awaited: nobody is waiting on a probe result, the writer's group commit
        // makes it durable within one commit, and a monitor's schedule never waits on disk.
        if let Err(e) = self.inner.store.enqueue(vec![write]) {
            self.inner.metrics.results_dropped.inc();
            warn!(monitor = %cfg.name, error = %e, "result not stored");
        }
        transition.retry
    }

    fn cert_days(&self, m: &Monitor) -> Option<f64> {
        let now = self.inner.clock.now_ms() as i64;
        lock(&m.rt)
            .cert_expires_at_ms
            .map(|at| (at - now) as f64 / 86_400_000.0)
    }

    fn uptime_24h(&self, m: &Monitor) -> Option<f64> {
        let since = self.inner.clock.now_ms().saturating_sub(24 * 3_600_000);
        let rt = lock(&m.rt);
        let (counted, down) = rt
            .hours
            .iter()
            .filter(|(b, _, _)| b + 3_600_000 > since)
            .fold((0u64, 0u64), |(c, d), (_, hc, hd)| {
                (c + u64::from(*hc), d + u64::from(*hd))
            });
        (counted > 0).then(|| (counted - down) as f64 / counted as f64)
    }

    fn view(&self, m: &Monitor) -> MonitorView {
        let (state, last, cert) = {
            let rt = lock(&m.rt);
            (rt.state, rt.last.clone(), rt.cert_expires_at_ms)
        };
        MonitorView {
            id: m.id,
            config: m.config.clone(),
            state,
            last,
            cert_expires_at_ms: cert,
            uptime_24h: self.uptime_24h(m),
        }
    }

    /// Monitors in id order after `after`, filtered; at most `limit`.
    pub fn list(
        &self,
        group: Option<&str>,
        state: Option<State>,
        after: Option<u32>,
        limit: usize,
    ) -> (Vec<MonitorView>, usize) {
        let monitors = self
            .inner
            .monitors
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut total = 0;
        let mut out = Vec::new();
        for (id, m) in monitors.range(after.map(|a| a + 1).unwrap_or(0)..) {
            if group.is_some_and(|g| m.config.group.as_deref() != Some(g)) {
                continue;
            }
            if let Some(s) = state
                && lock(&m.rt).state != s
            {
                continue;
            }
            total += 1;
            if out.len() < limit {
                out.push(self.view(m));
            }
            let _ = id;
        }
        (out, total)
    }

    pub fn get(&self, id: u32) -> Option<MonitorView> {
        let m = self
            .inner
            .monitors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)?
            .clone();
        Some(self.view(&m))
    }

    /// Deletes raw results and roll-ups older than their retention, in small transactions.
    pub async fn prune(
        &self,
        keep: &config::ProbeRetention,
        batch: usize,
    ) -> Result<u64, StoreError> {
        let now = self.inner.clock.now_ms();
        // Every id ever assigned, so data of removed monitors expires too.
        let ids: Vec<u32> = self.inner.store.probe_ids()?.into_values().collect();
        let batch = batch.max(1);
        let mut total = 0;
        for (resolution, k) in [
            (None, keep.raw),
            (Some(Resolution::Minute as u8), keep.minute),
            (Some(Resolution::Hour as u8), keep.hour),
            (Some(Resolution::Day as u8), keep.day),
        ] {
            let Some(d) = k.0 else { continue };
            let before_ms = now.saturating_sub(d.get().as_millis() as u64);
            for chunk in ids.chunks(64) {
                loop {
                    let n = self
                        .inner
                        .store
                        .write(vec![Write::Probe(ProbeWrite::Prune {
                            ids: chunk.to_vec(),
                            resolution,
                            before_ms,
                            limit: batch,
                        })])
                        .await?;
                    total += n;
                    if (n as usize) < batch {
                        break;
                    }
                }
            }
        }
        Ok(total)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    pub fn monitor_ids(&self) -> Vec<u32> {
        self.inner
            .monitors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect()
    }
}

/// Availability over `[from, to)` from day (or hour) roll-ups.
pub fn availability(
    store: &Store,
    id: u32,
    res: Resolution,
    from_ms: u64,
    to_ms: u64,
) -> Option<f64> {
    let mut total = Rollup::default();
    for (_, bytes) in store
        .probe_rollups(id, res as u8, res.bucket(from_ms), to_ms)
        .ok()?
    {
        if let Some(r) = Rollup::decode(&bytes) {
            total.merge(&r);
        }
    }
    total.availability()
}

#[cfg(test)]
mod tests;
