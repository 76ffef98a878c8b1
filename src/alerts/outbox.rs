//! The outbox: notifications written in the same transaction as the alert change that caused
//! them, delivered by one background task. Retries network errors and 5xx with exponential
//! backoff, honours `Retry-After` on 429, gives up at once on other 4xx, paces each channel,
//! and after `delivery.dead_after` declares a delivery dead (which raises an alert).
//!
//! Exactly once where it matters: before a channel that does not deduplicate is tried, the
//! record is marked `sending` durably. A restart that finds such a record cannot know whether
//! the receiver got it, so it is marked `uncertain` and not sent again (a page twice is worse
//! than a page flagged for a human). Channels whose receiver deduplicates (PagerDuty's
//! `dedup_key`, Opsgenie's alias, Alertmanager's label identity) are simply resent.
//!
//! One exception to "durable first": once the store has failed it refuses every write until a
//! restart, so the engine cannot record the `store_failed` alert it raises. Notifications that
//! carry only Panoptes' own alerts then arrive on `volatile` and are delivered from memory with
//! the same channels, retries and pacing, without any record: best-effort, not durable, lost
//! if the process stops, and not listed in `/api/v1/notifications`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::config::{AlertsConfig, DeliveryConfig};
use super::model::{Notification, Verdict};
use crate::clock::SharedClock;
use crate::metrics::AlertMetrics;
use crate::store::alerts::AlertsWrite;
use crate::store::{Store, Write};
use crate::tasks::Shutdown;
pub use panoptes_types::AttemptOutcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Queued,
    /// An attempt is under way (stored before trying a channel that does not deduplicate).
    Sending,
    Delivered,
    /// The receiver refused it (a 4xx other than 429): not retried.
    Failed,
    /// Kept failing for `delivery.dead_after`.
    Dead,
    /// Panoptes stopped during an attempt; the receiver may or may not have it.
    Uncertain,
}

impl DeliveryState {
    pub fn is_open(self) -> bool {
        matches!(self, DeliveryState::Queued | DeliveryState::Sending)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Dead => "dead",
            DeliveryState::Uncertain => "uncertain",
        }
    }
}

/// One attempt, as shown in `/api/v1/notifications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at_ms: u64,
    pub latency_ms: u64,
    /// The receiver's HTTP status (SMTP reply code for e-mail), when it answered.
    pub status: Option<u16>,
    /// `delivered`, `retry` or `failed`.
    pub outcome: AttemptOutcome,
    /// The error or the receiver's answer (clipped).
    pub error: Option<String>,
}

/// One notification for one channel of one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: u64,
    pub receiver: String,
    /// `webhook_configs[0]`, ...
    pub channel: String,
    pub notification: Notification,
    /// Escalation policy of the route that queued it (on-call).
    #[serde(default)]
    pub escalation_policy: Option<String>,
    pub created_ms: u64,
    pub state: DeliveryState,
    pub next_attempt_ms: u64,
    /// Attempts made in all (the list keeps the last `delivery.max_attempts_kept`).
    pub attempt_count: u64,
    pub attempts: Vec<Attempt>,
    pub finished_ms: Option<u64>,
}

/// Whether a channel's receiver recognises a repeated message as the same one.
pub fn deduplicates(channel: &str) -> bool {
    channel.starts_with("pagerduty_configs")
        || channel.starts_with("opsgenie_configs")
        || channel.starts_with("alertmanager_configs")
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub status: Option<u16>,
    pub latency_ms: u64,
}

/// Sends one notification over one channel, as currently configured. The real one renders and
/// sends through `notify`; passed in so the outbox is tested against local receivers and
/// paused time alike.
pub trait Transport: Send + Sync + 'static {
    fn send<'a>(
        &'a self,
        cfg: &'a AlertsConfig,
        record: &'a Record,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>>;
}

const MAX_ERROR: usize = 1024;

fn clip(s: &str) -> String {
    if s.len() <= MAX_ERROR {
        return s.to_string();
    }
    let mut end = MAX_ERROR;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl Record {
    /// Applies an attempt's outcome at `now` (pure: tested without a network).
    pub fn settle(&mut self, o: &Outcome, now: u64, d: &DeliveryConfig) {
        self.attempt_count += 1;
        let (outcome, error) = match &o.verdict {
            Verdict::Delivered => (AttemptOutcome::Delivered, None),
            Verdict::Retry { reason, .. } => (AttemptOutcome::Retry, Some(clip(reason))),
            Verdict::Failed { reason } => (AttemptOutcome::Failed, Some(clip(reason))),
        };
        self.attempts.push(Attempt {
            at_ms: now,
            latency_ms: o.latency_ms,
            status: o.status,
            outcome,
            error,
        });
        let keep = d.max_attempts_kept.max(1);
        if self.attempts.len() > keep {
            let extra = self.attempts.len() - keep;
            // Keep the first attempt: it says when trouble started.
            self.attempts.drain(1..=extra.min(self.attempts.len() - 1));
        }
        match &o.verdict {
            Verdict::Delivered => {
                self.state = DeliveryState::Delivered;
                self.finished_ms = Some(now);
            }
            Verdict::Failed { .. } => {
                self.state = DeliveryState::Failed;
                self.finished_ms = Some(now);
            }
            Verdict::Retry { after_ms, .. } => {
                let base = d.retry_backoff.get().as_millis() as u64;
                let max = d.max_backoff.get().as_millis() as u64;
                let exp = self.attempt_count.saturating_sub(1).min(30) as u32;
                let backoff = base.saturating_mul(1u64 << exp).min(max.max(base));
                // The receiver's own wait wins, bounded so a hostile `Retry-After` cannot park
                // a page for a year.
                let wait = after_ms.map_or(backoff, |a| a.min(max.max(base)));
                let dead_at = self
                    .created_ms
                    .saturating_add(d.dead_after.get().as_millis() as u64);
                if now.saturating_add(wait) > dead_at || now >= dead_at {
                    self.state = DeliveryState::Dead;
                    self.finished_ms = Some(now);
                } else {
                    self.state = DeliveryState::Queued;
                    self.next_attempt_ms = now + wait;
                }
            }
        }
    }
}

/// Token bucket per channel (`delivery.rate_per_receiver` per second, bursts of as many).
#[derive(Default)]
struct Pacer {
    buckets: HashMap<String, (f64, u64)>,
}

impl Pacer {
    /// `Ok` when a delivery may go now, else the time it may.
    fn take(&mut self, key: &str, now: u64, rate: u32) -> Result<(), u64> {
        let rate = f64::from(rate.max(1));
        let (tokens, at) = self.buckets.entry(key.to_string()).or_insert((rate, now));
        *tokens = (*tokens + (now.saturating_sub(*at) as f64) * rate / 1000.0).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(now + ((1.0 - *tokens) * 1000.0 / rate).ceil() as u64)
        }
    }
}

/// A delivery that gave up, reported to the engine (it raises `notification_dead` alerts).
#[derive(Debug, Clone)]
pub struct Dead {
    pub receiver: String,
    pub channel: String,
    pub reason: String,
    /// The `alertname`s the notification carried (a dead notification about dead
    /// notifications must not raise another: that would loop).
    pub alertnames: Vec<String>,
}

pub struct Outbox {
    pub store: Store,
    pub clock: SharedClock,
    pub metrics: AlertMetrics,
    pub config: watch::Receiver<Arc<AlertsConfig>>,
    pub transport: Arc<dyn Transport>,
    /// Records just committed by the engine.
    pub incoming: mpsc::Receiver<Record>,
    /// Records the failed store could not take (Panoptes' own alerts): delivered unrecorded.
    pub volatile: mpsc::Receiver<Record>,
    pub dead: mpsc::Sender<Dead>,
    /// Attempts under way at once, over all channels.
    pub concurrency: usize,
}

/// Records still open after a restart: queued ones go out; `sending` ones go out again only
/// where the receiver deduplicates, the rest become `uncertain`.
pub fn recover(open: Vec<Record>, now: u64) -> (Vec<Record>, Vec<Record>) {
    let mut resume = Vec::new();
    let mut settled = Vec::new();
    for mut r in open {
        match r.state {
            DeliveryState::Sending if !deduplicates(&r.channel) => {
                r.state = DeliveryState::Uncertain;
                r.finished_ms = Some(now);
                settled.push(r);
            }
            DeliveryState::Sending | DeliveryState::Queued => {
                r.state = DeliveryState::Queued;
                resume.push(r);
            }
            _ => {}
        }
    }
    (resume, settled)
}

async fn save(store: &Store, records: &[&Record]) -> Result<(), crate::store::StoreError> {
    let mut w = AlertsWrite::default();
    for r in records {
        w.notifications
            .push((r.id, serde_json::to_vec(r).unwrap_or_default()));
    }
    store.write(vec![Write::Alerts(w)]).await.map(|_| ())
}

impl Outbox {
    /// Delivers until shutdown. `open` are the records a restart found open.
    pub async fn run(mut self, open: Vec<Record>, mut shutdown: Shutdown) {
        let now = self.clock.now_ms();
        let (resume, settled) = recover(open, now);
        if !settled.is_empty() {
            let refs: Vec<&Record> = settled.iter().collect();
            if let Err(e) = save(&self.store, &refs).await {
                warn!(error = %e, "could not mark interrupted deliveries uncertain");
            }
            for r in &settled {
                warn!(id = r.id, receiver = %r.receiver, channel = %r.channel,
                    "delivery was under way when panoptes stopped; not resent (the receiver does not deduplicate)");
                self.count(r);
            }
        }
        let mut queue: BTreeMap<(u64, u64), Record> = BTreeMap::new();
        for r in resume {
            queue.insert((r.next_attempt_ms, r.id), r);
        }
        let mut busy: HashSet<String> = HashSet::new();
        // Ids of the records delivered without being stored (see the module comment).
        let mut volatile: HashSet<u64> = HashSet::new();
        let mut pacer = Pacer::default();
        let (done_tx, mut done_rx) = mpsc::channel::<Record>(self.concurrency.max(1));
        let mut running = 0usize;
        loop {
            self.metrics
                .outbox_depth
                .set((queue.len() + running) as i64);
            let now = self.clock.now_ms();
            let cfg = self.config.borrow().clone();
            // Start what is due, one attempt per channel at a time (a resolve never overtakes
            // its firing).
            let mut wake: Option<u64> = None;
            let keys: Vec<(u64, u64)> = queue.keys().copied().collect();
            for key in keys {
                if running >= self.concurrency.max(1) {
                    break;
                }
                if key.0 > now {
                    wake = Some(wake.map_or(key.0, |w| w.min(key.0)));
                    break;
                }
                let Some(r) = queue.get(&key) else { continue };
                let ch = format!("{}/{}", r.receiver, r.channel);
                if busy.contains(&ch) {
                    continue;
                }
                if let Err(at) = pacer.take(&ch, now, cfg.delivery.rate_per_receiver) {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    continue;
                }
                let Some(mut r) = queue.remove(&key) else {
                    continue;
                };
                busy.insert(ch);
                running += 1;
                let (store, transport, clock, done) = (
                    self.store.clone(),
                    self.transport.clone(),
                    self.clock.clone(),
                    done_tx.clone(),
                );
                let cfg = cfg.clone();
                let durable = !volatile.contains(&r.id);
                tokio::spawn(async move {
                    if durable && !deduplicates(&r.channel) {
                        r.state = DeliveryState::Sending;
                        if let Err(e) = save(&store, &[&r]).await {
                            // Not marked, not sent: try again later.
                            r.state = DeliveryState::Queued;
                            r.next_attempt_ms = clock.now_ms() + 1_000;
                            debug!(error = %e, "could not mark a delivery as sending");
                            let _ = done.send(r).await;
                            return;
                        }
                    }
                    let timeout = super::notify::attempt_timeout(&cfg, &r.receiver, &r.channel);
                    let started = std::time::Instant::now();
                    let outcome =
                        match tokio::time::timeout(timeout, transport.send(&cfg, &r)).await {
                            Ok(o) => o,
                            Err(_) => Outcome {
                                verdict: Verdict::Retry {
                                    after_ms: None,
                                    reason: format!(
                                        "no answer within {}",
                                        crate::config::Duration(timeout)
                                    ),
                                },
                                status: None,
                                latency_ms: started.elapsed().as_millis() as u64,
                            },
                        };
                    r.settle(&outcome, clock.now_ms(), &cfg.delivery);
                    // Written until it sticks: losing this write would resend a delivered
                    // message after a restart.
                    let mut wait = Duration::from_millis(100);
                    while durable && let Err(e) = save(&store, &[&r]).await {
                        if matches!(e, crate::store::StoreError::Closed) {
                            break;
                        }
                        debug!(error = %e, "could not record a delivery attempt; retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                    let _ = done.send(r).await;
                });
            }
            let sleep = match wake {
                Some(at) => Duration::from_millis(at.saturating_sub(now).max(1)),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = shutdown.wait() => break,
                Some(r) = self.incoming.recv() => {
                    queue.insert((r.next_attempt_ms, r.id), r);
                }
                Some(r) = self.volatile.recv() => {
                    warn!(receiver = %r.receiver, channel = %r.channel,
                        "the store has failed: delivering Panoptes' own alert unrecorded (not durable)");
                    volatile.insert(r.id);
                    queue.insert((r.next_attempt_ms, r.id), r);
                }
                Some(r) = done_rx.recv() => {
                    running = running.saturating_sub(1);
                    busy.remove(&format!("{}/{}", r.receiver, r.channel));
                    if !r.state.is_open() {
                        volatile.remove(&r.id);
                    }
                    self.finish(r, &mut queue).await;
                }
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    fn count(&self, r: &Record) {
        self.metrics
            .notifications
            .get_or_create(&vec![
                ("receiver".into(), r.receiver.clone()),
                ("result".into(), r.state.as_str().into()),
            ])
            .inc();
    }

    async fn finish(&mut self, r: Record, queue: &mut BTreeMap<(u64, u64), Record>) {
        match r.state {
            DeliveryState::Queued | DeliveryState::Sending => {
                if let Some(a) = r.attempts.last() {
                    self.metrics
                        .notifications
                        .get_or_create(&vec![
                            ("receiver".into(), r.receiver.clone()),
                            ("result".into(), "retry".into()),
                        ])
                        .inc();
                    debug!(id = r.id, receiver = %r.receiver, error = ?a.error, "delivery will be retried");
                }
                queue.insert((r.next_attempt_ms, r.id), r);
            }
            DeliveryState::Delivered => {
                self.count(&r);
                let took = r
                    .finished_ms
                    .unwrap_or(r.created_ms)
                    .saturating_sub(r.created_ms);
                self.metrics.delivery_seconds.observe(took as f64 / 1000.0);
            }
            DeliveryState::Failed | DeliveryState::Uncertain => {
                self.count(&r);
                warn!(id = r.id, receiver = %r.receiver, channel = %r.channel,
                    error = ?r.attempts.last().and_then(|a| a.error.clone()), "delivery failed");
            }
            DeliveryState::Dead => {
                self.count(&r);
                let reason = r
                    .attempts
                    .last()
                    .and_then(|a| a.error.clone())
                    .unwrap_or_else(|| "no answer".into());
                warn!(id = r.id, receiver = %r.receiver, channel = %r.channel, %reason, "delivery is dead");
                let _ = self.dead.try_send(Dead {
                    receiver: r.receiver.clone(),
                    channel: r.channel.clone(),
                    reason,
                    alertnames: r
                        .notification
                        .alerts
                        .iter()
                        .map(|a| a.name().to_string())
                        .collect(),
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
