//! `panoptes agent --server URL --token TOKEN --location NAME`: the agent process.
//!
//! It connects out only. It polls its assignments (with the ETag, so an unchanged list costs a
//! 304), decodes each monitor with the server's own decoder (`node.rs`) and runs them in a
//! local [`ProbeEngine`]: the same executors, conditions, scheduling and judge as the server,
//! recording into the agent's own data file. That file is the spool: a shipper reads the
//! results recorded since its durable cursor, in time order, and posts them gzip-compressed with
//! their original timestamps; the cursor moves only once the server has answered 2xx, so while
//! the server is unreachable results wait on disk and go out in order later. Each result's id
//! is its position in that order (see [`seq`]), so a batch sent twice is counted once.
//!
//! Bounded: results older than [`MAX_SPOOL_AGE`] are dropped unsent (counted in the log); so
//! are the oldest unsent ones once the spool holds more than `--max-spool-bytes` (measured
//! while the server is away, see [`over_bound`]); sent results are pruned from the local file.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::Duration;

use tracing::{info, warn};

use super::node::decode_monitor;
use super::wire::{AgentResult, VERSION_HEADER};
use crate::clock::SharedClock;
use crate::events::Publisher;
use crate::outbound::{ClientOptions, SharedClients};
use crate::probe::config::{MonitorConfig, ProbingConfig};
use crate::probe::rollup::{Resolution, ResultRecord};
use crate::probe::{ProbeDeps, ProbeEngine};
use crate::store::probes::ProbeWrite;
use crate::store::{Store, Write};

/// The shipper's cursor in the local `meta` table: results before it were accepted.
const CURSOR_KEY: &str = "agent/cursor";
/// Oldest unsent result kept; older ones are dropped (a server away for a day).
pub const MAX_SPOOL_AGE: Duration = Duration::from_secs(24 * 3600);
/// Results are shipped once this old: a result is stamped before its (possibly lingering)
/// commit, so a younger one might not be readable yet and would be skipped by the cursor.
const SETTLE: Duration = Duration::from_secs(2);
/// Most results per batch (the server takes up to `MAX_RESULTS`).
const BATCH_RESULTS: usize = 20_000;
/// Most time one batch covers, so a long spool is read in bounded slices.
const BATCH_SPAN_MS: u64 = 5 * 60_000;
/// How often assignments are polled and results shipped.
const POLL_EVERY: Duration = Duration::from_secs(5);
const SHIP_EVERY: Duration = Duration::from_secs(1);
/// An empty batch still goes out this often, as the agent's heartbeat.
const HEARTBEAT_MS: u64 = 15_000;
/// Sent results stay in the local file this long (for a look at the agent's own data).
const KEEP_SENT_MS: u64 = 3_600_000;
/// Default bound of the unsent results' stored size (`--max-spool-bytes`).
pub const DEFAULT_MAX_SPOOL_BYTES: u64 = 256 * 1024 * 1024;
/// While batches fail, the spool is measured at most this often (a measure reads every unsent
/// result's key).
const MEASURE_EVERY_MS: u64 = 5_000;
/// A stored result's key: series id and time.
const KEY_BYTES: usize = 12;

pub struct Settings {
    /// Base URL of the server, e.g. `http://10.0.0.5:8080`.
    pub server: String,
    pub token: String,
    pub location: String,
    pub probing: ProbingConfig,
    /// Most bytes of unsent results kept; beyond, the oldest are dropped (counted and logged).
    pub max_spool_bytes: u64,
}

/// A result's id with its agent: its time, then its local series id (unique per monitor and
/// millisecond: the judge stamps a monitor's results at least 1 ms apart). Increasing in the
/// order results are shipped.
pub fn seq(at_ms: u64, id: u32) -> u64 {
    (at_ms << 20) | u64::from(id & 0xF_FFFF)
}

/// Where the spool must start so that what is kept fits in `max_bytes`: `None` when it all
/// fits, else the time of the oldest result kept (results stamped before it are dropped, whole
/// milliseconds at a time, so the cursor never splits one). `sizes` is each unsent result's
/// (time, stored bytes), in any order. Pure.
pub fn over_bound(sizes: &mut [(u64, usize)], max_bytes: u64) -> Option<u64> {
    let total: u64 = sizes.iter().map(|(_, b)| *b as u64).sum();
    if total <= max_bytes {
        return None;
    }
    sizes.sort_unstable_by_key(|(at, _)| *at);
    let mut excess = total - max_bytes;
    let mut i = 0;
    while i < sizes.len() && excess > 0 {
        let at = sizes[i].0;
        // The whole millisecond goes, or none of it.
        while i < sizes.len() && sizes[i].0 == at {
            excess = excess.saturating_sub(sizes[i].1 as u64);
            i += 1;
        }
    }
    Some(
        sizes
            .get(i)
            .map_or_else(|| sizes[i - 1].0 + 1, |(at, _)| *at),
    )
}

pub async fn run(
    store: Store,
    clock: SharedClock,
    clients: SharedClients,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let http = clients.client(&ClientOptions {
        timeout: Some(Duration::from_secs(30)),
        connect_timeout: Some(Duration::from_secs(10)),
        ..ClientOptions::default()
    })?;
    let mut probing = settings.probing.clone();
    probing.location = settings.location.clone();
    let engine = ProbeEngine::start(
        ProbeDeps {
            store: store.clone(),
            clock: clock.clone(),
            metrics: Default::default(),
            clients,
            events: Publisher::discard(),
        },
        &probing,
        &[],
        &[],
    )
    .await
    .map_err(|e| e.to_string())?;
    let base = settings.server.trim_end_matches('/').to_string();
    let mut agent = Agent {
        store,
        clock,
        http,
        engine: engine.clone(),
        base,
        token: settings.token,
        etag: None,
        last_post_ms: 0,
        max_spool_bytes: settings.max_spool_bytes,
        failing: true,
        measured_ms: 0,
        dropped_total: 0,
    };
    info!(location = %settings.location, server = %agent.base, "panoptes agent running");
    let mut poll = tokio::time::interval(POLL_EVERY);
    let mut ship = tokio::time::interval(SHIP_EVERY);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = poll.tick() => agent.poll().await,
            _ = ship.tick() => agent.ship().await,
            _ = &mut shutdown => break,
        }
    }
    engine.stop();
    Ok(())
}

struct Agent {
    store: Store,
    clock: SharedClock,
    http: reqwest::Client,
    engine: ProbeEngine,
    base: String,
    token: String,
    etag: Option<String>,
    last_post_ms: u64,
    max_spool_bytes: u64,
    /// The last batch did not reach the server (true at start: a spool may be left over).
    failing: bool,
    measured_ms: u64,
    /// Results dropped for the size bound since start.
    dropped_total: u64,
}

impl Agent {
    /// Fetches the assignments when they changed and applies them to the local engine.
    async fn poll(&mut self) {
        let mut req = self
            .http
            .get(format!("{}/api/v1/agent/assignments", self.base))
            .bearer_auth(&self.token)
            .header(VERSION_HEADER, env!("CARGO_PKG_VERSION"));
        if let Some(e) = &self.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %crate::outbound::error_chain(&e), "assignments: server unreachable; running the last ones");
                return;
            }
        };
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return;
        }
        if !resp.status().is_success() {
            warn!(status = %resp.status(), "assignments refused");
            return;
        }
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: serde_json::Value = match resp.json().await {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "assignments: not JSON");
                return;
            }
        };
        let env = |k: &str| std::env::var(k).ok();
        let mut monitors: Vec<MonitorConfig> = Vec::new();
        for m in body["monitors"].as_array().into_iter().flatten() {
            match decode_monitor(&m["config"], &env) {
                Ok(cfg) => monitors.push(cfg),
                Err(e) => {
                    warn!(monitor = %m["name"], error = %e, "assigned monitor not valid here; skipped")
                }
            }
        }
        match self.engine.apply(&monitors, &[]).await {
            Ok(()) => {
                info!(monitors = monitors.len(), "assignments applied");
                self.etag = etag;
            }
            Err(e) => warn!(error = %e, "assignments not applied"),
        }
    }

    /// Sends the next slice of recorded results; moves the cursor once the server took them.
    async fn ship(&mut self) {
        let now = self.clock.now_ms();
        let until = now.saturating_sub(SETTLE.as_millis() as u64);
        let oldest = now.saturating_sub(MAX_SPOOL_AGE.as_millis() as u64);
        let mut cursor = match self.store.meta(CURSOR_KEY) {
            Ok(Some(c)) => c,
            Ok(None) => until.saturating_sub(BATCH_SPAN_MS),
            Err(e) => {
                warn!(error = %e, "agent cursor unreadable");
                return;
            }
        };
        if cursor < oldest {
            warn!(
                from_ms = cursor,
                to_ms = oldest,
                "results older than the spool's bound dropped unsent"
            );
            cursor = oldest;
        }
        // Only a spool the server does not drain grows: measured then, now and again.
        if self.failing && now.saturating_sub(self.measured_ms) >= MEASURE_EVERY_MS {
            self.measured_ms = now;
            cursor = self.bound(cursor, now).await;
        }
        let to = until.min(cursor.saturating_add(BATCH_SPAN_MS));
        if to <= cursor {
            return;
        }
        let (results, next) = match self.read(cursor, to) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "spool unreadable");
                return;
            }
        };
        if results.is_empty() && now.saturating_sub(self.last_post_ms) < HEARTBEAT_MS {
            self.advance(cursor, next).await;
            return;
        }
        let n = results.len();
        let body = match tokio::task::spawn_blocking(move || gzip_batch(&results)).await {
            Ok(Ok(b)) => b,
            _ => {
                warn!("batch not encoded");
                return;
            }
        };
        let sent = self
            .http
            .post(format!("{}/api/v1/agent/results", self.base))
            .bearer_auth(&self.token)
            .header(VERSION_HEADER, env!("CARGO_PKG_VERSION"))
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                self.last_post_ms = now;
                self.failing = false;
                self.advance(cursor, next).await;
            }
            Ok(r) => {
                self.failing = true;
                warn!(status = %r.status(), results = n, "batch refused; kept in the spool")
            }
            Err(e) => {
                self.failing = true;
                warn!(error = %crate::outbound::error_chain(&e), results = n, "server unreachable; results kept in the spool")
            }
        }
    }

    /// Drops the oldest unsent results beyond `max_spool_bytes`: the cursor moves past them
    /// (durably, with the results themselves pruned) and the loss is logged with its count.
    /// Returns the cursor in force.
    async fn bound(&mut self, cursor: u64, now: u64) -> u64 {
        let mut sizes: Vec<(u64, usize)> =
            match self.store.probe_result_sizes_between(cursor, now + 1) {
                Ok(rows) => rows
                    .into_iter()
                    .map(|(_, at, len)| (at, len + KEY_BYTES))
                    .collect(),
                Err(e) => {
                    warn!(error = %e, "spool not measured");
                    return cursor;
                }
            };
        let Some(keep_from) = over_bound(&mut sizes, self.max_spool_bytes) else {
            return cursor;
        };
        let dropped = sizes.iter().filter(|(at, _)| *at < keep_from).count() as u64;
        let mut writes = vec![Write::PutMeta {
            key: CURSOR_KEY.into(),
            value: keep_from,
        }];
        if let Ok(ids) = self.store.probe_ids() {
            writes.push(Write::Probe(ProbeWrite::Prune {
                ids: ids.into_values().collect(),
                resolution: None,
                before_ms: keep_from,
                limit: usize::try_from(dropped).unwrap_or(usize::MAX).max(1),
            }));
        }
        if let Err(e) = self.store.write(writes).await {
            warn!(error = %e, "spool over its bound, but the cursor was not moved");
            return cursor;
        }
        self.dropped_total += dropped;
        warn!(
            dropped,
            dropped_total = self.dropped_total,
            max_spool_bytes = self.max_spool_bytes,
            from_ms = cursor,
            to_ms = keep_from,
            "spool over its size bound: oldest unsent results dropped"
        );
        keep_from
    }

    /// Results stamped in `[from, to)` (at most [`BATCH_RESULTS`]) and where the next slice
    /// starts.
    fn read(&self, from: u64, to: u64) -> Result<(Vec<AgentResult>, u64), String> {
        let names: HashMap<u32, String> = self
            .store
            .probe_ids()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(n, id)| (id, n))
            .collect();
        let mut rows = self
            .store
            .probe_results_between(from, to)
            .map_err(|e| e.to_string())?;
        rows.sort_by_key(|(id, at, _)| seq(*at, *id));
        let mut next = to;
        if rows.len() > BATCH_RESULTS {
            // Cut at a millisecond boundary so no result of the cut one is left behind.
            let cut_at = rows[BATCH_RESULTS].1;
            rows.retain(|(_, at, _)| *at < cut_at);
            next = cut_at.max(from + 1);
        }
        let results = rows
            .into_iter()
            .filter_map(|(id, at, bytes)| {
                let r = ResultRecord::decode(&bytes)?;
                Some(AgentResult {
                    seq: seq(at, id),
                    monitor: names.get(&id)?.clone(),
                    at_ms: at,
                    ok: r.ok,
                    latency_ms: r.latency_us / 1000,
                    status: r.status,
                    error: r.error,
                })
            })
            .collect();
        Ok((results, next))
    }

    /// Stores the new cursor and prunes what was sent long enough ago.
    async fn advance(&self, from: u64, to: u64) {
        let mut writes = vec![Write::PutMeta {
            key: CURSOR_KEY.into(),
            value: to,
        }];
        if let Ok(ids) = self.store.probe_ids() {
            let ids: Vec<u32> = ids.into_values().collect();
            let before_ms = from.saturating_sub(KEEP_SENT_MS);
            writes.push(Write::Probe(ProbeWrite::Prune {
                ids: ids.clone(),
                resolution: None,
                before_ms,
                limit: 10_000,
            }));
            for res in Resolution::ALL {
                writes.push(Write::Probe(ProbeWrite::Prune {
                    ids: ids.clone(),
                    resolution: Some(res as u8),
                    before_ms,
                    limit: 10_000,
                }));
            }
        }
        if let Err(e) = self.store.write(writes).await {
            warn!(error = %e, "agent cursor not stored; the slice will be sent again");
        }
    }
}

fn gzip_batch(results: &[AgentResult]) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(&serde_json::json!({ "results": results }))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json)?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_whole_milliseconds_go_when_over_the_bound() {
        assert_eq!(over_bound(&mut [(5, 10), (6, 10)], 20), None);
        // 10 bytes over: the oldest millisecond (both of its results) goes.
        let mut s = [(7, 10), (5, 6), (5, 6), (6, 10)];
        assert_eq!(over_bound(&mut s, 22), Some(6));
        // Everything over a tiny bound: past the newest.
        assert_eq!(over_bound(&mut [(5, 10), (9, 10)], 0), Some(10));
        assert_eq!(over_bound(&mut [], 0), None);
    }

    #[test]
    fn ids_follow_time_then_series() {
        assert!(seq(1_000, 7) < seq(1_001, 1));
        assert!(seq(1_000, 1) < seq(1_000, 2));
        assert!(seq(1_800_000_000_000, 0xF_FFFF) < u64::MAX);
    }
}
