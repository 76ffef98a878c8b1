//! The task that sends stored probe results to each `remote_write:` endpoint.
//!
//! Per endpoint, every `send_interval`: read the results stamped in (cursor, now - delay] (at
//! most five minutes of them per pass, so a long outage catches up in steps of bounded memory),
//! turn them into series, POST them in requests of at most `max_samples_per_send` samples, and
//! once every request was accepted move the cursor and store it (`remote_write/<name>` in
//! `meta`). A 2xx is accepted; 429, 5xx and connection errors leave the cursor where it was
//! and try again after a pause (doubling from the interval to five minutes; samples already
//! accepted are sent again, which Prometheus takes as duplicates); another 4xx means the
//! receiver will never take these samples (too old, malformed): logged, and the cursor moves
//! past them. A new endpoint starts from now: it is not sent the whole history.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use super::config::RemoteWriteConfig;
use super::encode::{self, MonitorLabels};
use crate::clock::SharedClock;
use crate::outbound::{ClientOptions, Redirects, SharedClients};
use crate::probe::config::MonitorConfig;
use crate::probe::rollup::ResultRecord;
use crate::store::{Store, Write};
use crate::tasks::Shutdown;

/// Most results time read in one pass.
const MAX_WINDOW_MS: u64 = 5 * 60_000;
/// Longest pause after a failure.
const MAX_BACKOFF_MS: u64 = 5 * 60_000;

/// What the sender reads of the configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub endpoints: Vec<RemoteWriteConfig>,
    pub monitors: Vec<MonitorConfig>,
}

pub struct Deps {
    pub store: Store,
    pub clock: SharedClock,
    pub clients: SharedClients,
    pub settings: watch::Receiver<Arc<Settings>>,
    pub shutdown: Shutdown,
}

/// One endpoint's progress.
#[derive(Debug, Default)]
struct Progress {
    cursor: Option<u64>,
    next_ms: u64,
    failures: u32,
}

/// How one pass went.
#[derive(Debug, PartialEq)]
enum Pass {
    /// Sent (or nothing to send) up to this time.
    Done(u64),
    /// Try again later.
    Retry(String),
}

fn meta_key(name: &str) -> String {
    format!("remote_write/{name}")
}

pub async fn run(d: Deps) {
    let Deps {
        store,
        clock,
        clients,
        settings,
        mut shutdown,
    } = d;
    let mut progress: HashMap<String, Progress> = HashMap::new();
    loop {
        let s = settings.borrow().clone();
        let now = clock.now_ms();
        progress.retain(|name, _| s.endpoints.iter().any(|e| &e.name == name));
        let mut wait = Duration::from_secs(1);
        for e in &s.endpoints {
            let p = progress.entry(e.name.clone()).or_default();
            if p.next_ms > now {
                wait = wait.min(Duration::from_millis(p.next_ms - now));
                continue;
            }
            let interval = e.send_interval.get().as_millis() as u64;
            let cursor = match p.cursor {
                Some(c) => c,
                None => {
                    let key = meta_key(&e.name);
                    let stored = store.read(move |st| st.meta(&key)).await.ok().flatten();
                    let start = stored
                        .unwrap_or_else(|| now.saturating_sub(e.delay.get().as_millis() as u64));
                    p.cursor = Some(start);
                    start
                }
            };
            let upper = now
                .saturating_sub(e.delay.get().as_millis() as u64)
                .min(cursor + MAX_WINDOW_MS);
            let pass = if upper <= cursor {
                Pass::Done(cursor)
            } else {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    r = send(&store, &clients, e, &s.monitors, cursor, upper) => r,
                }
            };
            match pass {
                Pass::Done(to) => {
                    if to > cursor {
                        let w = Write::PutMeta {
                            key: meta_key(&e.name),
                            value: to,
                        };
                        if let Err(err) = store.write(vec![w]).await {
                            warn!(endpoint = %e.name, error = %err, "remote-write cursor not stored");
                        }
                    }
                    if p.failures > 0 {
                        info!(endpoint = %e.name, "remote-write delivers again");
                    }
                    p.cursor = Some(to);
                    p.failures = 0;
                    // Behind: the next window at once.
                    let behind = now.saturating_sub(e.delay.get().as_millis() as u64) > to;
                    p.next_ms = if behind { now } else { now + interval };
                }
                Pass::Retry(reason) => {
                    p.failures += 1;
                    let pause = interval
                        .saturating_mul(1 << p.failures.min(16))
                        .min(MAX_BACKOFF_MS);
                    warn!(endpoint = %e.name, %reason, retry_in_ms = pause, "remote-write failed");
                    p.next_ms = now + pause;
                }
            }
            wait = wait.min(Duration::from_millis(p.next_ms.saturating_sub(now).max(10)));
        }
        let mut changed = settings.clone();
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = changed.changed() => {}
        }
    }
}

/// Reads results in `(from, to]` and sends them; `Done(to)` once all were taken (or refused
/// for good).
async fn send(
    store: &Store,
    clients: &SharedClients,
    e: &RemoteWriteConfig,
    monitors: &[MonitorConfig],
    from: u64,
    to: u64,
) -> Pass {
    let rows = match store
        .read(move |s| s.probe_results_between(from + 1, to + 1))
        .await
    {
        Ok(r) => r,
        Err(err) => return Pass::Retry(format!("reading results: {err}")),
    };
    if rows.is_empty() {
        return Pass::Done(to);
    }
    let labels: HashMap<u32, MonitorLabels> = {
        let names = match store.read(|s| s.probe_ids()).await {
            Ok(n) => n,
            Err(err) => return Pass::Retry(format!("reading monitor ids: {err}")),
        };
        let by_name: HashMap<&str, &MonitorConfig> =
            monitors.iter().map(|m| (m.name.as_str(), m)).collect();
        names
            .into_iter()
            .map(|(name, id)| {
                let m = by_name.get(name.as_str());
                let l = MonitorLabels {
                    kind: m.map(|m| m.kind.type_name()).unwrap_or("unknown").into(),
                    group: m.and_then(|m| m.group.clone()),
                    name,
                };
                (id, l)
            })
            .collect()
    };
    let results: Vec<(&MonitorLabels, u64, ResultRecord)> = rows
        .iter()
        .filter_map(|(id, at, bytes)| Some((labels.get(id)?, *at, ResultRecord::decode(bytes)?)))
        .collect();
    let series = encode::series_of(&results, &e.external_labels);
    let options = ClientOptions {
        redirects: Redirects::SameOrigin(3),
        connect_timeout: Some(e.remote_timeout.get()),
        timeout: Some(e.remote_timeout.get()),
        ..ClientOptions::default()
    };
    let client = match clients.client(&options) {
        Ok(c) => c,
        Err(err) => return Pass::Retry(err),
    };
    for batch in encode::batches(series, e.max_samples_per_send as usize) {
        let body = match encode::body(&batch) {
            Ok(b) => b,
            Err(err) => return Pass::Retry(err),
        };
        let mut req = client
            .post(&e.url)
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(body);
        for (k, v) in &e.headers.0 {
            req = req.header(k, v);
        }
        if let Some(b) = &e.basic_auth {
            req = req.basic_auth(&b.username, Some(&b.password));
        }
        if let Some(t) = &e.bearer_token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                match verdict(code) {
                    Verdict::Taken => {}
                    Verdict::Retry => return Pass::Retry(format!("HTTP {code}")),
                    Verdict::Refused => {
                        let text: String = resp
                            .text()
                            .await
                            .unwrap_or_default()
                            .chars()
                            .take(300)
                            .collect();
                        warn!(endpoint = %e.name, code, answer = %text.trim(), "remote-write receiver refused samples; skipped");
                    }
                }
            }
            Err(err) => return Pass::Retry(crate::outbound::error_chain(&err)),
        }
    }
    Pass::Done(to)
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Taken,
    Retry,
    Refused,
}

/// Prometheus's rules: 2xx taken; 429 and 5xx recoverable; any other 4xx never.
fn verdict(code: u16) -> Verdict {
    match code {
        200..=299 => Verdict::Taken,
        429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_as_prometheus_means_them() {
        assert_eq!(verdict(204), Verdict::Taken);
        assert_eq!(verdict(429), Verdict::Retry);
        assert_eq!(verdict(503), Verdict::Retry);
        assert_eq!(verdict(400), Verdict::Refused);
        assert_eq!(verdict(301), Verdict::Refused);
    }
}
