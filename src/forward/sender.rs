//! The sender task: the I/O around `pace.rs`.
//!
//! Owns: picking rows (newest first per project, round robin across projects), sending them
//! with bounded concurrency at the pace upstream's response times set, acting on answers
//! (delete and count, hold, back off), trimming the outbox to its age and size bounds, and the
//! `panoptes_forward_*` metrics. Depends on: `store`, `clock`, `metrics`, `outbound`, `tasks`,
//! `sentry` (project settings, row framing).
//!
//! A row is deleted only after upstream answered or it was dropped with a reason, so a crash
//! leaves in-flight rows in place and they are sent again after restart (upstream Sentry
//! deduplicates events by id).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

use super::Forwarder;
use super::config::{ForwardConfig, OnRateLimit};
use super::pace::{Verdict, backoff_ms, retry_after_ms, verdict};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::outbound::{ClientOptions, Redirects, SharedClients};
use crate::sentry::config::{ProjectConfig, Upstream};
use crate::sentry::upstream::decode_row;
use crate::store::forward::{ForwardWrite, OutboxRow, Outcome};
use crate::store::{Store, Write};
use crate::tasks::Shutdown;

/// Rows read per project per pick while rate limits are in force (rows of held categories
/// are skipped); bounds the work of one pick.
const SCAN: usize = 64;
/// How often the outbox is trimmed and the metrics refreshed.
const TRIM_EVERY_MS: u64 = 1000;
/// How long to wait when there is nothing to send (ingest does not signal us: domains do not
/// call each other).
const IDLE: Duration = Duration::from_millis(50);
/// Most bytes of upstream's refusal kept for the operator.
const MAX_ANSWER: usize = 512;

/// What the sender reads of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub forward: ForwardConfig,
    pub projects: Vec<ProjectConfig>,
}

pub struct Deps {
    pub store: Store,
    pub clock: SharedClock,
    pub clients: SharedClients,
    pub metrics: Arc<Metrics>,
    pub settings: watch::Receiver<Arc<Settings>>,
    pub forwarder: Forwarder,
    pub shutdown: Shutdown,
}

/// State shared with the tasks sending one row each.
struct Shared {
    store: Store,
    clock: SharedClock,
    forwarder: Forwarder,
    in_flight: Mutex<HashSet<(u64, u64)>>,
    /// No sends before this (ms): set by network errors and 5xx.
    pause_until: AtomicU64,
    failures: AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub async fn run(d: Deps) {
    let Deps {
        store,
        clock,
        clients,
        metrics,
        settings,
        forwarder,
        mut shutdown,
    } = d;
    // Concurrency applies on restart: permits cannot be taken back from requests in flight.
    let permits = settings.borrow().forward.max_concurrency.max(1);
    let sem = Arc::new(Semaphore::new(permits));
    let shared = Arc::new(Shared {
        store,
        clock,
        forwarder,
        in_flight: Mutex::new(HashSet::new()),
        pause_until: AtomicU64::new(0),
        failures: AtomicU32::new(0),
    });
    let mut round = 0usize;
    let mut next_send = 0u64;
    let mut last_trim = 0u64;
    let mut seen = Seen::default();
    loop {
        if shutdown.is_set() {
            return;
        }
        let s = settings.borrow().clone();
        let now = shared.clock.now_ms();
        if now >= last_trim + TRIM_EVERY_MS {
            last_trim = now;
            trim(&shared, &s.forward, now).await;
            seen.refresh(&shared, &metrics).await;
        }
        let wait = shared
            .pause_until
            .load(Ordering::Relaxed)
            .max(next_send)
            .saturating_sub(now);
        if wait > 0 {
            let nap = Duration::from_millis(wait.min(TRIM_EVERY_MS));
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = shutdown.wait() => return,
            }
            continue;
        }
        let permit = tokio::select! {
            p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.wait() => return,
        };
        let projects: Vec<&ProjectConfig> =
            s.projects.iter().filter(|p| p.forward.is_some()).collect();
        match pick(&shared, &projects, &mut round, &s.forward).await {
            Some((row, project)) => {
                let interval = shared
                    .forwarder
                    .live()
                    .latencies
                    .interval_ms(s.forward.max_interval.get().as_millis() as u64);
                next_send = now + interval;
                let client = clients.client(&ClientOptions {
                    timeout: Some(s.forward.timeout.get()),
                    connect_timeout: Some(Duration::from_secs(3)),
                    redirects: Redirects::None,
                    pool_max_idle_per_host: Some(permits),
                    ..ClientOptions::default()
                });
                let client = match client {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(error = %e, "forward: no HTTP client");
                        lock(&shared.in_flight).remove(&(row.project, row.key));
                        drop(permit);
                        tokio::time::sleep(IDLE).await;
                        continue;
                    }
                };
                let shared = shared.clone();
                let cfg = s.forward.clone();
                tokio::spawn(async move {
                    send(&shared, &client, &cfg, &project, row).await;
                    drop(permit);
                });
            }
            None => {
                drop(permit);
                tokio::select! {
                    _ = tokio::time::sleep(IDLE) => {}
                    _ = shutdown.wait() => return,
                }
            }
        }
    }
}

/// The next row to send: the newest of the next project (round robin) that has one not held
/// by a rate limit. Rows of limited categories are dropped here when `on_rate_limit: drop`.
async fn pick(
    shared: &Arc<Shared>,
    projects: &[&ProjectConfig],
    round: &mut usize,
    cfg: &ForwardConfig,
) -> Option<(OutboxRow, ProjectConfig)> {
    let n = projects.len();
    let now = shared.clock.now_ms();
    let limited = {
        let mut live = shared.forwarder.live();
        live.limits.expire(now);
        !live.limits.is_empty()
    };
    for i in 0..n {
        let p = projects[(*round + i) % n];
        let taken: HashSet<u64> = lock(&shared.in_flight)
            .iter()
            .filter(|(proj, _)| *proj == p.id)
            .map(|(_, k)| *k)
            .collect();
        let id = p.id;
        let limit = if limited { SCAN } else { 1 };
        let rows = shared
            .store
            .read(move |s| s.forward_newest(id, limit, &|k| taken.contains(&k)))
            .await;
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "forward: cannot read the outbox");
                return None;
            }
        };
        let mut drops = Vec::new();
        let mut chosen = None;
        for row in rows {
            let Some((h, _)) = decode_row(&row.bytes) else {
                drops.push((row.project, row.key, Outcome::Dropped("undecodable")));
                continue;
            };
            if shared
                .forwarder
                .live()
                .limits
                .held_until(&h.categories, now)
                .is_some()
            {
                if cfg.on_rate_limit == OnRateLimit::Drop {
                    drops.push((row.project, row.key, Outcome::Dropped("rate_limited")));
                }
                continue;
            }
            chosen = Some(row);
            break;
        }
        if !drops.is_empty()
            && let Err(e) = shared
                .store
                .write(vec![Write::Forward(ForwardWrite::Done(drops))])
                .await
        {
            warn!(error = %e, "forward: cannot record dropped envelopes");
        }
        if let Some(row) = chosen {
            *round = (*round + i + 1) % n;
            lock(&shared.in_flight).insert((row.project, row.key));
            return Some((row, p.clone()));
        }
    }
    None
}

/// Sends one row and acts on the answer.
async fn send(
    shared: &Shared,
    client: &reqwest::Client,
    cfg: &ForwardConfig,
    project: &ProjectConfig,
    row: OutboxRow,
) {
    let key = (row.project, row.key);
    let outcome = attempt(shared, client, cfg, project, &row).await;
    if let Some(outcome) = outcome
        && let Err(e) = shared
            .store
            .write(vec![Write::Forward(ForwardWrite::Done(vec![(
                row.project,
                row.key,
                outcome,
            )]))])
            .await
    {
        // The row stays and is sent again: upstream deduplicates by event id.
        warn!(error = %e, "forward: cannot record an answer");
    }
    // Only now may the row be picked again (its delete, if any, has committed).
    lock(&shared.in_flight).remove(&key);
}

/// One request; `Some` when the row is finished with.
async fn attempt(
    shared: &Shared,
    client: &reqwest::Client,
    cfg: &ForwardConfig,
    project: &ProjectConfig,
    row: &OutboxRow,
) -> Option<Outcome> {
    let (h, envelope) = decode_row(&row.bytes)?;
    let Some(fwd) = &project.forward else {
        return Some(Outcome::Dropped("not_configured"));
    };
    let Ok(upstream) = Upstream::parse(&fwd.upstream) else {
        return Some(Outcome::Dropped("not_configured"));
    };
    let (url, send_key) = upstream.target(&h.key, row.project);
    let auth = format!(
        "Sentry sentry_version=7, sentry_key={send_key}, sentry_client=panoptes-forward/{}",
        env!("CARGO_PKG_VERSION")
    );
    shared.forwarder.live().in_flight += 1;
    let started = Instant::now();
    let result = client
        .post(&url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-sentry-envelope",
        )
        .header("X-Sentry-Auth", auth)
        .timeout(cfg.timeout.get())
        .body(envelope.to_vec())
        .send()
        .await;
    let now = shared.clock.now_ms();
    {
        let mut live = shared.forwarder.live();
        live.in_flight = live.in_flight.saturating_sub(1);
    }
    let (status, limits, retry_after, resp) = match result {
        Ok(r) => {
            let header = |n: &str| {
                r.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            (
                Some(r.status().as_u16()),
                header("x-sentry-rate-limits"),
                header("retry-after"),
                Some(r),
            )
        }
        Err(e) => {
            shared.forwarder.live().last_error =
                Some(format!("{url}: {}", crate::outbound::error_chain(&e)));
            (None, None, None, None)
        }
    };
    let v = verdict(status);
    {
        let mut live = shared.forwarder.live();
        if status.is_some() {
            live.latencies.record(started.elapsed().as_millis() as u64);
        }
        match v {
            Verdict::RateLimited => {
                live.limits
                    .apply_429(limits.as_deref(), retry_after.as_deref(), now)
            }
            _ => {
                if let Some(l) = &limits {
                    live.limits.apply_header(l, now);
                }
            }
        }
    }
    match v {
        Verdict::Processed => {
            shared.failures.store(0, Ordering::Relaxed);
            Some(Outcome::Processed)
        }
        Verdict::RateLimited => {
            debug!(project = row.project, "forward: upstream rate-limits");
            (cfg.on_rate_limit == OnRateLimit::Drop).then_some(Outcome::Dropped("rate_limited"))
        }
        Verdict::Retry => {
            let n = shared.failures.fetch_add(1, Ordering::Relaxed) + 1;
            let mut pause = backoff_ms(n, cfg.max_backoff.get().as_millis() as u64);
            // A 503's own `Retry-After` lengthens the pause, within `max_backoff`.
            if let Some(ms) = retry_after.and_then(|s| retry_after_ms(&s, now)) {
                pause = pause.max(ms).min(cfg.max_backoff.get().as_millis() as u64);
            }
            shared.pause_until.fetch_max(now + pause, Ordering::Relaxed);
            if let Some(s) = status {
                shared.forwarder.live().last_error = Some(format!("{url}: HTTP {s}"));
            }
            None
        }
        Verdict::Rejected => {
            let body = match resp {
                Some(r) => r.text().await.unwrap_or_default(),
                None => String::new(),
            };
            let mut end = body.len().min(MAX_ANSWER);
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            let answer = format!("{url}: HTTP {}: {}", status.unwrap_or(0), &body[..end]);
            warn!(project = row.project, answer = %answer, "forward: upstream refused an envelope; dropped");
            shared.forwarder.live().last_error = Some(answer);
            Some(Outcome::Dropped("rejected"))
        }
    }
}

/// Drops what is too old or over the size bound (counted by reason).
async fn trim(shared: &Shared, cfg: &ForwardConfig, now: u64) {
    let before_ms = now.saturating_sub(cfg.max_age.get().as_millis() as u64);
    // A row in flight that is trimmed is counted once, here; its answer finds it gone.
    let max_bytes = cfg.max_outbox_bytes;
    let needed = shared
        .store
        .read(move |s| s.forward_trim_needed(before_ms, max_bytes))
        .await;
    if !matches!(needed, Ok(true)) {
        return;
    }
    if let Err(e) = shared
        .store
        .write(vec![Write::Forward(ForwardWrite::Trim {
            before_ms,
            max_bytes: cfg.max_outbox_bytes,
        })])
        .await
    {
        warn!(error = %e, "forward: cannot trim the outbox");
    }
}

/// The last figures put into the metrics (counters grow by the difference).
#[derive(Default)]
struct Seen {
    processed: u64,
    ignored: u64,
    dropped: std::collections::BTreeMap<String, u64>,
}

impl Seen {
    async fn refresh(&mut self, shared: &Arc<Shared>, metrics: &Metrics) {
        let f = shared.forwarder.clone();
        let Ok(stats) = shared.store.read(move |s| f.stats(s)).await else {
            return;
        };
        let m = &metrics.forward;
        m.backlog.set(stats.count.count as i64);
        m.backlog_bytes.set(stats.bytes as i64);
        m.latency_mean_ms.set(stats.count.average as i64);
        m.latency_p90_ms.set(stats.count.percentile as i64);
        m.in_flight.set(stats.in_flight as i64);
        m.processed
            .inc_by(stats.count.processed.saturating_sub(self.processed));
        m.ignored
            .inc_by(stats.count.ignored.saturating_sub(self.ignored));
        self.processed = self.processed.max(stats.count.processed);
        self.ignored = self.ignored.max(stats.count.ignored);
        for (reason, n) in stats.dropped {
            let before = self.dropped.get(&reason).copied().unwrap_or(0);
            m.dropped
                .get_or_create(&vec![("reason".to_string(), reason.clone())])
                .inc_by(n.saturating_sub(before));
            self.dropped.insert(reason, n.max(before));
        }
    }
}
