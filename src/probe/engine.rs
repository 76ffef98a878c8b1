//! The engine's lifecycle: start, reconcile with the config, stop; and recording a result
//! (judge it, store it, count it, publish it once it is durable).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tracing::{info, warn};

use super::check::{self, Checkers, Outcome};
use super::combined::Trigger;
use super::config::{CheckKind, MonitorConfig, ProbingConfig};
use super::events::{Checked, ProbeEvent};
use super::judge::{Judged, fresh_runtime, judge};
use super::maintenance::{self, MaintenanceConfig};
use super::rollup::{Resolution, Rollup};
use super::uptime::HourTally;
use super::{
    Inner, Monitor, ProbeDeps, ProbeEngine, ProbeError, Runtime, Snapshot, lock, read, write,
};
use crate::events::Publisher;
use crate::store::probes::ProbeWrite;
use crate::store::{StoreError, Write};

/// A result's event, published once the write holding the result has committed.
pub struct AfterCommit {
    ack: oneshot::Receiver<Result<u64, StoreError>>,
    /// The result's event, and the monitor's combined one when it has locations.
    events: Vec<ProbeEvent>,
}

/// A result judged on a copy of the runtime, waiting for the store before it becomes current.
struct Judgement {
    rt: Runtime,
    write: Write,
    event: ProbeEvent,
    retry: bool,
    ok: bool,
    latency_ms: u64,
    trigger: Trigger,
}

/// Results whose commit is awaited before their event goes out; beyond, events are dropped
/// (and counted by the bus as if a subscriber were slow), never the results.
const AFTER_COMMIT_QUEUE: usize = 65_536;

impl ProbeEngine {
    /// Builds the engine and starts every enabled monitor.
    pub async fn start(
        deps: ProbeDeps,
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
        let (after_commit, pending) = mpsc::channel(AFTER_COMMIT_QUEUE);
        tokio::spawn(publish_after_commit(pending, deps.events.clone()));
        let engine = ProbeEngine {
            inner: Arc::new(Inner {
                epoch: tokio::time::Instant::now(),
                checkers: Checkers::new(&settings.user_agent, deps.clients.clone()).with_source(
                    // Validated at load (`locations::check_probing`).
                    settings
                        .source_address
                        .as_deref()
                        .and_then(|a| a.parse().ok()),
                ),
                store: deps.store,
                clock: deps.clock,
                metrics: deps.metrics,
                events: deps.events,
                after_commit,
                global: Arc::new(Semaphore::new(settings.concurrency.max(1))),
                per_host: settings.per_host_concurrency.max(1),
                hosts: Mutex::new(HashMap::new()),
                monitors: RwLock::new(Default::default()),
                tasks: Mutex::new(HashMap::new()),
                push_tokens: RwLock::new(HashMap::new()),
                maintenance: RwLock::new(Arc::new(maintenance.to_vec())),
                local: settings.location.clone(),
                series: Mutex::new(HashMap::new()),
                combined: Mutex::new(HashMap::new()),
                day_totals: Mutex::new(HashMap::new()),
                assigning: tokio::sync::Mutex::new(()),
                from_config: RwLock::new(Arc::new(Vec::new())),
                managed: RwLock::new(Default::default()),
                managing: tokio::sync::Mutex::new(()),
                config_windows: RwLock::new(Arc::new(Vec::new())),
                managed_windows: RwLock::new(Default::default()),
            }),
        };
        engine.load_managed()?;
        engine.load_windows()?;
        engine.apply(monitors, maintenance).await?;
        Ok(engine)
    }

    /// Takes the config's monitors and maintenance windows and reconciles the running monitors
    /// with them and the API-managed ones.
    pub async fn apply(
        &self,
        monitors: &[MonitorConfig],
        maintenance: &[MaintenanceConfig],
    ) -> Result<(), ProbeError> {
        *write(&self.inner.config_windows) = Arc::new(maintenance.to_vec());
        self.refresh_windows();
        *write(&self.inner.from_config) = Arc::new(monitors.to_vec());
        self.reconcile().await
    }

    /// Reconciles running monitors with the config's and the managed ones: new ones start,
    /// removed ones stop, changed ones restart with their state kept; untouched ones are not
    /// disturbed. Paused ones (`enabled: false`) are listed but not run.
    pub(super) async fn reconcile(&self) -> Result<(), ProbeError> {
        let inner = &self.inner;
        let _assigning = inner.assigning.lock().await;
        // Read under the lock, so the last of two concurrent changes is the one applied.
        let monitors = self.effective(true);
        let monitors = monitors.as_slice();
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
            .filter_map(|m| ids.get(&m.name).map(|id| (*id, m)))
            .collect();
        let mut current = write(&inner.monitors);
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
            if !wanted.contains_key(id) {
                lock(&inner.day_totals).remove(id);
            }
            // Removed or paused: nothing will be checked, so nothing may keep waiting on it.
            if let Some(m) = current.remove(id)
                && m.config.enabled
                && wanted.get(id).is_none_or(|w| !w.enabled)
            {
                super::query::forget_metrics(&inner.metrics, &m.config);
                inner.events.publish(ProbeEvent::Removed {
                    monitor_id: *id,
                    name: m.name.clone(),
                });
                let what = if wanted.contains_key(id) {
                    "paused"
                } else {
                    "removed"
                };
                info!(monitor = %m.config.name, "monitor {what}");
            }
        }
        let mut started = 0;
        let new: Vec<(u32, &MonitorConfig)> = wanted
            .iter()
            .filter(|(id, _)| !current.contains_key(*id))
            .map(|(id, cfg)| (*id, *cfg))
            .collect();
        let starting: Vec<u32> = new.iter().map(|(id, _)| *id).collect();
        // Checks per second across every monitor run here, for the new ones' start grid.
        let slot = super::schedule::slot_for(
            wanted
                .values()
                .filter(|c| c.enabled && !matches!(c.kind, CheckKind::Push(_)))
                .filter(|c| c.locations.is_empty() || c.locations.contains(&inner.local))
                .map(|c| 1.0 / c.interval.get().as_secs_f64())
                .sum(),
        );
        let restored = self.restore_many(&starting);
        for (&(id, cfg), rt) in new.iter().zip(restored) {
            let monitor = Arc::new(Monitor {
                id,
                config: cfg.clone(),
                name: Arc::from(cfg.name.as_str()),
                group: cfg.group.as_deref().map(Arc::from),
                labels: Arc::new(cfg.labels.clone()),
                rt: Mutex::new(rt),
                writing: tokio::sync::Mutex::new(()),
                pushed: Notify::new(),
            });
            current.insert(id, monitor.clone());
            // A monitor whose `locations` leave this one out is listed (and its other
            // locations' results are taken) but not checked from here.
            if cfg.enabled && (cfg.locations.is_empty() || cfg.locations.contains(&inner.local)) {
                let engine = self.clone();
                tasks.insert(
                    id,
                    tokio::spawn(async move { engine.run(monitor, slot).await }),
                );
                started += 1;
            }
        }
        let mut tokens = write(&inner.push_tokens);
        tokens.clear();
        for (id, m) in current.iter() {
            if let CheckKind::Push(p) = &m.config.kind
                && m.config.enabled
            {
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
        drop((tokens, tasks, current));
        self.preload(&ids, monitors);
        Ok(())
    }

    /// Stops every monitor task.
    pub fn stop(&self) {
        for (_, t) in lock(&self.inner.tasks).drain() {
            t.abort();
        }
    }

    pub(super) fn restore(&self, id: u32) -> Runtime {
        self.restore_many(&[id])
            .pop()
            .unwrap_or_else(|| fresh_runtime(self.inner.clock.now_ms()))
    }

    /// The runtimes of `ids` (in order) from their state snapshots and roll-ups, read in one
    /// transaction; a monitor whose rows cannot be read starts fresh.
    pub(super) fn restore_many(&self, ids: &[u32]) -> Vec<Runtime> {
        let now = self.inner.clock.now_ms();
        let day_ago = now.saturating_sub(25 * 3_600_000);
        // The current bucket of each resolution, then the last 25 hours.
        let mut ranges: Vec<(u8, u64, u64)> = Resolution::ALL
            .iter()
            .map(|res| {
                let bucket = res.bucket(now);
                (*res as u8, bucket, bucket + 1)
            })
            .collect();
        ranges.push((Resolution::Hour as u8, day_ago, now + 1));
        let stored = self
            .inner
            .store
            .probe_restore(ids, &ranges)
            .unwrap_or_else(|e| {
                warn!(error = %e, "monitors' stored state could not be read; they start fresh");
                Vec::new()
            });
        let mut out: Vec<Runtime> = stored.iter().map(|s| runtime_of(s, now)).collect();
        out.resize_with(ids.len(), || fresh_runtime(now));
        out
    }

    pub(super) fn host_permit(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = lock(&self.inner.hosts);
        hosts
            .entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.per_host)))
            .clone()
    }

    pub(super) fn checkers(&self) -> &Checkers {
        &self.inner.checkers
    }

    pub(super) fn permits(&self) -> &Arc<Semaphore> {
        &self.inner.global
    }

    pub(super) fn metrics(&self) -> &crate::metrics::ProbeMetrics {
        &self.inner.metrics
    }

    /// Judges an outcome at `now` on a copy of the monitor's runtime (with `last_push_ms` set
    /// when it is a heartbeat). Nothing in memory changes here: the caller stores the result
    /// first and then [`ProbeEngine::apply_judged`]s it, so a result the store refused never
    /// shows (and is never persisted later with another result's snapshot). Callers hold
    /// `m.writing`, so no other result of this monitor is judged meanwhile.
    fn judge_result(
        &self,
        m: &Monitor,
        outcome: Outcome,
        now: u64,
        push_at: Option<u64>,
    ) -> Judgement {
        let cfg = &m.config;
        let windows = read(&self.inner.maintenance).clone();
        let maint = maintenance::active(&windows, &cfg.name, cfg.group.as_deref(), now as i64)
            .map(str::to_string);
        let in_maintenance = maint.is_some();
        let mut rt = lock(&m.rt).clone();
        if push_at.is_some() {
            rt.last_push_ms = push_at;
        }
        let j: Judged = judge(cfg, outcome, maint, now, &mut rt);
        let event = ProbeEvent::Checked(Checked {
            monitor_id: m.id,
            name: m.name.clone(),
            group: m.group.clone(),
            labels: m.labels.clone(),
            kind: cfg.kind.type_name(),
            at_ms: j.at_ms,
            previous: j.previous,
            state: j.transition.state,
            ok: j.ok,
            latency_ms: j.latency_ms,
            status: j.record.status,
            error: j.record.error.clone(),
            cert_expires_at_ms: rt.cert_expires_at_ms,
            maintenance: in_maintenance,
            apdex_t_ms: cfg.apdex_t.get().as_millis() as u64,
            located: !cfg.locations.is_empty(),
        });
        let write = Write::Probe(ProbeWrite::Result {
            id: m.id,
            at_ms: j.at_ms,
            record: j.record.encode(),
            rollups: j.rollups,
            snapshot: j.snapshot,
        });
        Judgement {
            rt,
            write,
            event,
            retry: j.transition.retry,
            ok: j.ok,
            latency_ms: j.latency_ms,
            trigger: Trigger {
                at_ms: j.at_ms,
                ok: j.ok,
                latency_ms: j.latency_ms,
                status: j.record.status,
            },
        }
    }

    /// Makes a stored (or queued) result current: its runtime replaces the monitor's, and the
    /// per-monitor gauges follow. Returns the new state.
    fn apply_judged(&self, m: &Monitor, rt: Runtime, ok: bool, latency_ms: u64) -> super::State {
        let now = self.inner.clock.now_ms();
        let state = rt.state;
        let cert_days = rt
            .cert_expires_at_ms
            .map(|at| (at - now as i64) as f64 / 86_400_000.0);
        let uptime = super::query::uptime_of(&rt, now);
        *lock(&m.rt) = rt;
        super::query::observe_metrics(
            &self.inner.metrics,
            &m.config,
            state,
            ok,
            latency_ms,
            cert_days,
            uptime,
        );
        state
    }

    /// Records a scheduled check's result. Queued, not awaited: nobody is waiting on it, the
    /// writer's group commit makes it durable within one commit, and a monitor's schedule never
    /// waits on disk. Its event follows the commit (in order) through the after-commit queue.
    /// A result the store refuses (busy, failed) changes nothing in memory. Returns whether to
    /// retry early.
    pub(super) async fn record(&self, m: &Monitor, outcome: Outcome) -> bool {
        let _writing = m.writing.lock().await;
        let now = self.inner.clock.now_ms();
        let j = self.judge_result(m, outcome, now, None);
        // A result that changes the monitor's state commits at once (alerts and the status
        // page wait on its event); the others may share a commit with the next few.
        let transition = matches!(&j.event, ProbeEvent::Checked(c) if c.is_transition());
        let queued = if transition {
            self.inner.store.enqueue(vec![j.write])
        } else {
            self.inner.store.enqueue_lazy(vec![j.write])
        };
        match queued {
            Ok(ack) => {
                self.apply_judged(m, j.rt, j.ok, j.latency_ms);
                let mut events = vec![j.event];
                events.extend(self.combined(m, j.trigger));
                if self
                    .inner
                    .after_commit
                    .try_send(AfterCommit { ack, events })
                    .is_err()
                {
                    warn!(monitor = %m.config.name, "result event dropped: the after-commit queue is full");
                }
                j.retry
            }
            Err(e) => {
                self.inner.metrics.results_dropped.inc();
                warn!(monitor = %m.config.name, error = %e, "result not stored");
                false
            }
        }
    }

    /// Records a result somebody is waiting for (a pushed heartbeat at `now`): resolves, with
    /// the monitor's new state, once it is durable, so a 2xx to the pusher means stored. On a
    /// store error nothing changed in memory, not even the time of the last push.
    pub(super) async fn record_durably(
        &self,
        m: &Monitor,
        outcome: Outcome,
        now: u64,
    ) -> Result<super::State, StoreError> {
        let j = self.judge_result(m, outcome, now, Some(now));
        if let Err(e) = self.inner.store.write(vec![j.write]).await {
            self.inner.metrics.results_dropped.inc();
            return Err(e);
        }
        let state = self.apply_judged(m, j.rt, j.ok, j.latency_ms);
        self.inner.events.publish(j.event);
        if let Some(e) = self.combined(m, j.trigger) {
            self.inner.events.publish(e);
        }
        Ok(state)
    }

    /// Publishes that a push monitor's heartbeat is overdue.
    pub(super) fn heartbeat_missed(&self, m: &Monitor) {
        self.inner.events.publish(ProbeEvent::HeartbeatMissed {
            monitor_id: m.id,
            name: m.name.clone(),
            at_ms: self.inner.clock.now_ms(),
        });
    }
}

/// Publishes each result's event once its write committed, in the order results were recorded.
async fn publish_after_commit(mut rx: mpsc::Receiver<AfterCommit>, events: Publisher<ProbeEvent>) {
    while let Some(AfterCommit { ack, events: out }) = rx.recv().await {
        if let Ok(Ok(_)) = ack.await {
            for e in out {
                events.publish(e);
            }
        }
    }
}

/// A runtime rebuilt from what the store kept (pure): the state snapshot, the current bucket of
/// each resolution (`s.rollups[0..3]`) and the last hours' tallies (`s.rollups[3]`).
fn runtime_of(s: &crate::store::probes::StoredRuntime, now: u64) -> Runtime {
    let snap: Snapshot = s
        .state
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let mut rt = fresh_runtime(now);
    rt.current = std::array::from_fn(|i| {
        let rollup = s
            .rollups
            .get(i)
            .and_then(|rows| rows.first())
            .and_then(|(_, b)| Rollup::decode(b))
            .unwrap_or_default();
        (Resolution::ALL[i].bucket(now), rollup)
    });
    rt.hours = s
        .rollups
        .get(3)
        .map(|rows| {
            rows.iter()
                .filter_map(|(b, bytes)| Rollup::decode(bytes).map(|r| HourTally::of(*b, &r)))
                .collect()
        })
        .unwrap_or_default();
    rt.machine = snap.machine;
    rt.state = snap.state.unwrap_or(rt.state);
    rt.last = snap.last;
    rt.cert_expires_at_ms = snap.cert_expires_at_ms;
    rt.last_push_ms = snap.last_push_ms;
    rt
}
