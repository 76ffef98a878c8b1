//! The alerting task: the I/O edge around the pure [`Book`] and [`Evaluator`]. It receives
//! domain events from the bus, ticks for windows and timers, and after each batch writes what
//! changed (alert states, history, group logs, silences and the notifications a flush queued)
//! in one store write, then hands the new notifications to the outbox. Memory leads and the
//! store follows: a failed write is retried with the next batch, and nothing reaches the
//! outbox before it is durable, so a crash never sends what was not recorded.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::book::{Book, Dirty};
use super::channels::receiver_channels;
use super::config::AlertsConfig;
use super::eval::{Evaluator, SelfStats};
use super::events::AlertEvent;
use super::groups::Group;
use super::model::Labels;
use super::outbox::{self, DeliveryState, Outbox, Record, Transport};
use super::persist::{merge, write_of};
use super::rules::{RuleConfig, effective};
use super::silences::{Invalid, MAX_SILENCES, PostableSilence, Silence};
use super::state::{Instance, Phase};
use crate::clock::SharedClock;
use crate::events::{Event, Publisher};
use crate::metrics::AlertMetrics;
use crate::probe::rollup::{Resolution, Rollup};
use crate::store::alerts::AlertsWrite;
use crate::store::{Store, StoreError, Write};
use crate::tasks::Shutdown;

/// Events handled per store write at most.
const MAX_BATCH: usize = 1024;

/// Renders a rule's annotation templates over an observation's context. A template that fails
/// renders as its error, so the page still goes out and says what is wrong.
pub fn annotate(rule: &RuleConfig, context: &serde_json::Value) -> Labels {
    rule.annotations
        .iter()
        .map(|(k, src)| {
            let v = match super::template::Template::parse(src) {
                Ok(t) => t.render(context),
                Err(e) => format!("(template error: {e})"),
            };
            (k.clone(), v)
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(Invalid),
    #[error("no silence with id `{0}`")]
    NotFound(String),
    #[error("at most {MAX_SILENCES} silences are kept; expire some first")]
    TooMany,
    #[error("alerting has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Command {
    PutSilence {
        post: PostableSilence,
        reply: oneshot::Sender<Result<Silence, SilenceError>>,
    },
    ExpireSilence {
        id: String,
        reply: oneshot::Sender<Result<Silence, SilenceError>>,
    },
}

/// The handle the API uses: reads of the ledger, and silence changes (applied by the task so
/// they are durable before the answer).
#[derive(Clone)]
pub struct Alerts {
    pub(crate) book: Arc<RwLock<Book>>,
    commands: mpsc::Sender<Command>,
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) config: watch::Receiver<Arc<AlertsConfig>>,
    pub(crate) transport: Arc<dyn Transport>,
}

/// What alerting needs from the rest of the process.
pub struct Deps {
    pub store: Store,
    pub clock: SharedClock,
    pub metrics: AlertMetrics,
    pub config: watch::Receiver<Arc<AlertsConfig>>,
    pub events: mpsc::Receiver<Event>,
    pub transport: Arc<dyn Transport>,
    /// Panoptes' own figures for `panoptes:` rules.
    pub stats: Arc<dyn Fn() -> SelfStats + Send + Sync>,
    /// Base of links when `alerts.external_url` is not set.
    pub default_external_url: String,
    /// Alerts fired and resolved, once stored.
    pub publish: Publisher<AlertEvent>,
    pub shutdown: Shutdown,
}

fn external_url(cfg: &AlertsConfig, default: &str) -> String {
    cfg.external_url
        .clone()
        .unwrap_or_else(|| default.to_string())
        .trim_end_matches('/')
        .to_string()
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Option<T> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            warn!(error = %e, "a stored {what} could not be read; skipped");
            None
        }
    }
}

pub(crate) fn lock_read(b: &RwLock<Book>) -> std::sync::RwLockReadGuard<'_, Book> {
    // A poisoned lock means a panic mid-update; the ledger is still the best we have.
    b.read().unwrap_or_else(|p| p.into_inner())
}

fn lock_write(b: &RwLock<Book>) -> std::sync::RwLockWriteGuard<'_, Book> {
    b.write().unwrap_or_else(|p| p.into_inner())
}

/// Loads alerting's state and starts the engine and outbox tasks.
pub async fn start(d: Deps) -> Result<(Alerts, Vec<tokio::task::JoinHandle<()>>), StoreError> {
    let snap = d
        .store
        .read(|s| {
            s.alerts_snapshot(|b| {
                serde_json::from_slice::<Record>(b).is_ok_and(|r| r.state.is_open())
            })
        })
        .await?;
    let cfg = d.config.borrow().clone();
    let ext = external_url(&cfg, &d.default_external_url);
    let mut book = Book::new(&cfg, receiver_channels(&cfg.receivers), ext);
    for b in &snap.instances {
        if let Some(i) = decode::<Instance>("alert", b) {
            book.instances.insert(i.fingerprint.clone(), i);
        }
    }
    for (_, b) in &snap.groups {
        if let Some(g) = decode::<Group>("notification group", b) {
            book.groups.insert(g.key.clone(), g);
        }
    }
    for b in &snap.silences {
        if let Some(s) = decode::<Silence>("silence", b) {
            book.silences.insert(s.id.clone(), s);
        }
    }
    let open: Vec<Record> = snap
        .notifications
        .iter()
        .filter_map(|(_, b)| decode("notification", b))
        .collect();
    for i in book.instances.values() {
        gauge(&d.metrics, &i.rule, i.phase).inc();
    }
    if !book.instances.is_empty() || !open.is_empty() {
        info!(
            alerts = book.instances.len(),
            groups = book.groups.len(),
            deliveries = open.len(),
            "alerting resumed"
        );
    }
    let book = Arc::new(RwLock::new(book));
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (out_tx, out_rx) = mpsc::channel(1024);
    let (volatile_tx, volatile_rx) = mpsc::channel(64);
    let (dead_tx, dead_rx) = mpsc::channel(256);
    let outbox = Outbox {
        store: d.store.clone(),
        clock: d.clock.clone(),
        metrics: d.metrics.clone(),
        config: d.config.clone(),
        transport: d.transport.clone(),
        incoming: out_rx,
        volatile: volatile_rx,
        dead: dead_tx,
        concurrency: 32,
    };
    let mut tasks = vec![tokio::spawn(outbox.run(open, d.shutdown.clone()))];
    let handle = Alerts {
        book: book.clone(),
        commands: cmd_tx,
        store: d.store.clone(),
        clock: d.clock.clone(),
        config: d.config.clone(),
        transport: d.transport.clone(),
    };
    let mut eval = Evaluator::new(effective(&cfg.rules));
    seed(&mut eval, &d.store, d.clock.now_ms()).await;
    let engine = Engine {
        eval,
        book,
        store: d.store,
        clock: d.clock,
        metrics: d.metrics,
        config: d.config,
        stats: d.stats,
        default_external_url: d.default_external_url,
        outbox: out_tx,
        volatile: volatile_tx,
        publish: d.publish,
        next_id: snap.max_notification_id,
        unsaved: Vec::new(),
        retry_at: None,
    };
    tasks.push(tokio::spawn(
        engine.run(d.events, cmd_rx, dead_rx, d.shutdown),
    ));
    Ok((handle, tasks))
}

/// Seeds an evaluator's minute and hour windows from the probes' stored roll-ups (read off the
/// async workers), so availability, latency and trend rules see the past at once after a
/// restart or a reload instead of waiting for their windows to fill.
async fn seed(eval: &mut Evaluator, store: &Store, now: u64) {
    let (minute_span, hour_span) = eval.window_spans();
    if minute_span == 0 && hour_span == 0 {
        return;
    }
    let store = store.clone();
    let read = tokio::task::spawn_blocking(move || -> Result<Vec<Seed>, StoreError> {
        let rows =
            |id: u32, res: Resolution, span: u64| -> Result<Vec<(u64, Rollup)>, StoreError> {
                if span == 0 {
                    return Ok(Vec::new());
                }
                let from = res.bucket(now.saturating_sub(span));
                Ok(store
                    .probe_rollups(id, res as u8, from, now + 1)?
                    .into_iter()
                    .filter_map(|(b, bytes)| Rollup::decode(&bytes).map(|r| (b, r)))
                    .collect())
            };
        let mut out = Vec::new();
        for id in store.probe_ids()?.into_values() {
            out.push((
                id,
                rows(id, Resolution::Minute, minute_span)?,
                rows(id, Resolution::Hour, hour_span)?,
            ));
        }
        Ok(out)
    })
    .await;
    match read {
        Ok(Ok(seeds)) => {
            for (id, minutes, hours) in seeds {
                eval.seed(id, minutes, hours);
            }
        }
        Ok(Err(e)) => warn!(error = %e, "alert windows start empty: roll-ups unreadable"),
        Err(e) => warn!(error = %e, "alert windows start empty"),
    }
}

type Seed = (u32, Vec<(u64, Rollup)>, Vec<(u64, Rollup)>);

fn gauge(m: &AlertMetrics, rule: &str, phase: Phase) -> prometheus_client::metrics::gauge::Gauge {
    let state = match phase {
        Phase::Pending => "pending",
        Phase::Firing => "firing",
    };
    m.alerts
        .get_or_create(&vec![
            ("rule".into(), rule.to_string()),
            ("state".into(), state.into()),
        ])
        .clone()
}

struct Engine {
    eval: Evaluator,
    book: Arc<RwLock<Book>>,
    store: Store,
    clock: SharedClock,
    metrics: AlertMetrics,
    config: watch::Receiver<Arc<AlertsConfig>>,
    stats: Arc<dyn Fn() -> SelfStats + Send + Sync>,
    default_external_url: String,
    outbox: mpsc::Sender<Record>,
    /// Notifications of Panoptes' own alerts the failed store could not take.
    volatile: mpsc::Sender<Record>,
    publish: Publisher<AlertEvent>,
    next_id: u64,
    /// Changes whose write failed, written with the next batch.
    unsaved: Vec<(Dirty, Vec<Record>)>,
    retry_at: Option<u64>,
}

impl Engine {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
        mut dead: mpsc::Receiver<outbox::Dead>,
        mut shutdown: Shutdown,
    ) {
        let mut next_eval = self.clock.now_ms() + self_interval(&self_config(&self.config));
        loop {
            let now = self.clock.now_ms();
            let due = {
                let book = lock_read(&self.book);
                book.next_due()
            };
            let wake = [Some(next_eval), due, self.retry_at]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(next_eval);
            let sleep = Duration::from_millis(wake.saturating_sub(now));
            tokio::select! {
                biased;
                _ = shutdown.wait() => {
                    self.persist().await;
                    return;
                }
                changed = self.config.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.reconfigure().await;
                }
                Some(c) = commands.recv() => self.command(c).await,
                Some(d) = dead.recv() => {
                    let obs = self.eval.notification_dead(&d.receiver, &d.channel, &d.reason, &d.alertnames);
                    if obs.is_empty() {
                        warn!(receiver = %d.receiver, channel = %d.channel,
                            "a notification of dead notifications is dead too; not alerting again");
                    }
                    self.step(obs, false);
                }
                Some(first) = events.recv() => {
                    let started = Instant::now();
                    let now = self.clock.now_ms();
                    let mut obs = self.eval.on_event(&first, now);
                    let mut n = 1;
                    while n < MAX_BATCH {
                        match events.try_recv() {
                            Ok(e) => {
                                obs.extend(self.eval.on_event(&e, now));
                                n += 1;
                            }
                            Err(_) => break,
                        }
                    }
                    self.step(obs, false);
                    self.metrics.evaluation_seconds.observe(started.elapsed().as_secs_f64());
                }
                _ = tokio::time::sleep(sleep) => {
                    let now = self.clock.now_ms();
                    let mut obs = Vec::new();
                    if now >= next_eval {
                        obs = self.eval.tick(now, (self.stats)());
                        next_eval = now + self_interval(&self_config(&self.config));
                        let keep = self_config(&self.config).history_retention.get().as_millis() as u64;
                        lock_write(&self.book).drop_silences(now.saturating_sub(keep));
                    }
                    self.step(obs, true);
                }
            }
            self.persist().await;
        }
    }

    /// Applies observations, then timers and group flushes, at the clock's now.
    fn step(&mut self, obs: Vec<super::eval::Observation>, _tick: bool) {
        let now = self.clock.now_ms();
        let mut book = lock_write(&self.book);
        if !obs.is_empty() {
            book.observe(obs, now, &annotate);
        }
        book.tick(now);
        book.flush(now);
        let refused = std::mem::take(&mut book.refused);
        if refused > 0 {
            self.metrics.refused.inc_by(refused);
        }
    }

    async fn reconfigure(&mut self) {
        let cfg = self.config.borrow_and_update().clone();
        self.eval = Evaluator::new(effective(&cfg.rules));
        seed(&mut self.eval, &self.store, self.clock.now_ms()).await;
        let ext = external_url(&cfg, &self.default_external_url);
        // Its warnings (`config::root::warnings`) are logged by the app's reload, as at start.
        lock_write(&self.book).configure(&cfg, receiver_channels(&cfg.receivers), ext);
        debug!("alerting configuration reloaded");
    }

    async fn command(&mut self, c: Command) {
        let now = self.clock.now_ms();
        match c {
            Command::PutSilence { post, reply } => {
                let result = self.put_silence(post, now).await;
                let _ = reply.send(result);
            }
            Command::ExpireSilence { id, reply } => {
                let result = async {
                    let mut s = lock_read(&self.book)
                        .silences
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| SilenceError::NotFound(id.clone()))?;
                    s.expire(now);
                    self.save_silence(&s).await?;
                    lock_write(&self.book)
                        .silences
                        .insert(s.id.clone(), s.clone());
                    Ok(s)
                }
                .await;
                let _ = reply.send(result);
            }
        }
    }

    async fn put_silence(
        &mut self,
        post: PostableSilence,
        now: u64,
    ) -> Result<Silence, SilenceError> {
        let existing = post
            .id
            .as_ref()
            .map(|id| lock_read(&self.book).silences.get(id).cloned());
        let id = match (&post.id, existing) {
            (Some(id), Some(Some(_))) => id.clone(),
            (Some(id), _) => return Err(SilenceError::NotFound(id.clone())),
            (None, _) => {
                if lock_read(&self.book).silences.len() >= MAX_SILENCES {
                    return Err(SilenceError::TooMany);
                }
                uuid::Uuid::new_v4().to_string()
            }
        };
        let s = super::silences::validate(post, id, now).map_err(SilenceError::Invalid)?;
        self.save_silence(&s).await?;
        lock_write(&self.book)
            .silences
            .insert(s.id.clone(), s.clone());
        Ok(s)
    }

    async fn save_silence(&self, s: &Silence) -> Result<(), StoreError> {
        let w = AlertsWrite {
            silences: vec![(s.id.clone(), serde_json::to_vec(s).unwrap_or_default())],
            ..AlertsWrite::default()
        };
        self.store.write(vec![Write::Alerts(w)]).await.map(|_| ())
    }

    /// Writes what changed, with anything a failed write left; on success hands the new
    /// notifications to the outbox.
    async fn persist(&mut self) {
        let now = self.clock.now_ms();
        if self.retry_at.is_some_and(|at| now < at) {
            return;
        }
        let (dirty, records, write) = {
            let mut book = lock_write(&self.book);
            let dirty = book.take_dirty();
            if dirty.is_empty() && self.unsaved.is_empty() {
                return;
            }
            for (rule, before, after) in &dirty.transitions {
                if let Some(p) = before {
                    gauge(&self.metrics, rule, *p).dec();
                }
                if let Some(p) = after {
                    gauge(&self.metrics, rule, *p).inc();
                }
            }
            let mut records = Vec::new();
            for q in &dirty.queued {
                self.next_id += 1;
                records.push(Record {
                    id: self.next_id,
                    receiver: q.receiver.clone(),
                    channel: q.channel.clone(),
                    notification: q.notification.clone(),
                    escalation_policy: q.escalation_policy.clone(),
                    created_ms: now,
                    state: DeliveryState::Queued,
                    next_attempt_ms: now,
                    attempt_count: 0,
                    attempts: Vec::new(),
                    finished_ms: None,
                });
            }
            let mut all = std::mem::take(&mut self.unsaved);
            all.push((dirty, records));
            let w = write_of(&book, &all);
            let (dirty, records) = merge(all);
            (dirty, records, w)
        };
        match self.store.write(vec![Write::Alerts(write)]).await {
            Ok(_) => {
                self.retry_at = None;
                for e in dirty.events {
                    self.publish.publish(e);
                }
                for r in records {
                    if self.outbox.send(r).await.is_err() {
                        // The outbox stopped (shutdown): the records are durable and resume
                        // at the next start.
                        break;
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "alert state could not be written; retrying");
                self.retry_at = Some(now + 1_000);
                let records = match e {
                    StoreError::Failed(_) | StoreError::Disk(_) => self.unrecorded(records),
                    _ => records,
                };
                self.unsaved.push((dirty, records));
            }
        }
    }
}

impl Engine {
    /// The store has failed: it refuses writes until a restart, so these records would wait
    /// for ever, and among them the one saying so (`store_failed`). Those that carry only
    /// Panoptes' own alerts go to the outbox unrecorded (best-effort: see `outbox.rs`); the
    /// rest are returned, kept for a write that may never come. A restart on a working store
    /// evaluates again and notifies durably; it cannot resend these, as none was recorded.
    fn unrecorded(&self, records: Vec<Record>) -> Vec<Record> {
        let own = |name: &str| {
            self.eval
                .rules()
                .iter()
                .any(|r| r.name == name && r.panoptes.is_some())
        };
        let (send, keep): (Vec<Record>, Vec<Record>) = records.into_iter().partition(|r| {
            let alerts = &r.notification.alerts;
            !alerts.is_empty() && alerts.iter().all(|a| own(a.name()))
        });
        for r in send {
            if let Err(e) = self.volatile.try_send(r) {
                warn!(error = %e, "an unrecorded notification was dropped (outbox full or stopped)");
            }
        }
        keep
    }
}

fn self_config(c: &watch::Receiver<Arc<AlertsConfig>>) -> Arc<AlertsConfig> {
    c.borrow().clone()
}

fn self_interval(c: &AlertsConfig) -> u64 {
    (c.evaluation_interval.get().as_millis() as u64).max(100)
}

impl Alerts {
    /// Creates or updates a silence; durable when it returns.
    pub async fn put_silence(&self, post: PostableSilence) -> Result<Silence, SilenceError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::PutSilence { post, reply: tx })
            .await
            .map_err(|_| SilenceError::Stopped)?;
        rx.await.map_err(|_| SilenceError::Stopped)?
    }

    /// Expires a silence now; durable when it returns.
    pub async fn expire_silence(&self, id: String) -> Result<Silence, SilenceError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::ExpireSilence { id, reply: tx })
            .await
            .map_err(|_| SilenceError::Stopped)?;
        rx.await.map_err(|_| SilenceError::Stopped)?
    }

    pub fn config(&self) -> Arc<AlertsConfig> {
        self.config.borrow().clone()
    }
}
