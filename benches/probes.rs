//! Probing at scale: N HTTP monitors at a 60 s interval (or --interval seconds) against local
//! targets, for a few minutes.
//!
//!     cargo bench --bench probes -- --monitors 1000,10000,50000 --minutes 3 [--warm 65] [--interval 60]
//!
//! A second line per N gives the steady state: checks, commits and CPU over --minutes after a
//! --warm-up of one interval (every monitor's first check is a state change and commits alone).
//! Prints, per N: achieved checks/s (and the ideal N/interval), schedule lag p50/p99 (actual minus
//! planned start, from the engine's own histogram), CPU seconds, peak RSS, and stored bytes per
//! raw result. The baseline, measured in the same run, is the CPU cost of the same number of
//! plain reqwest GETs (no scheduling, no conditions, no storage) at the same concurrency.

#[path = "util.rs"]
mod util;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{cpu_seconds, peak_rss_mib};

use panoptes::clock::{SharedClock, SystemClock};
use panoptes::config;
use panoptes::metrics::Metrics;
use panoptes::probe::ProbeEngine;
use panoptes::store::{Store, StoreOptions};

/// Percentile from the Prometheus text of a histogram (linear inside the bucket).
fn histogram_percentile(text: &str, name: &str, p: f64) -> Option<f64> {
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((le, count))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    let rank = p * total;
    let mut prev = (0.0, 0.0);
    for (le, c) in buckets {
        if c >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let within = if c > prev.1 {
                (rank - prev.1) / (c - prev.1)
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * within);
        }
        prev = (le, c);
    }
    None
}

fn monitors_yaml(n: usize, addrs: &[SocketAddr], interval_s: u64) -> String {
    let mut y = format!(
        "probing:\n  concurrency: {CONCURRENCY}\n  per_host_concurrency: {CONCURRENCY}\nmonitors:\n"
    );
    for i in 0..n {
        let a = addrs[i % addrs.len()];
        y.push_str(&format!(
            "  - {{name: m{i}, type: http, url: \"http://{a}/health/{i}\", interval: {interval_s}s, timeout: 10s, conditions: [\"[STATUS] == 200\", \"[BODY].status == UP\"]}}\n"
        ));
    }
    y
}

/// The sum of the counter samples whose line starts with `prefix`.
fn counter(metrics: &Metrics, prefix: &str) -> f64 {
    metrics
        .render()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn run(n: usize, minutes: f64, warm: f64, interval_s: u64, addrs: &[SocketAddr]) {
    let c = config::root::parse(&monitors_yaml(n, addrs, interval_s), "bench", &|_| None)
        .expect("config");
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Metrics::new();
    let store =
        Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("store");
    let clock: SharedClock = Arc::new(SystemClock);
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let engine = ProbeEngine::start(
        panoptes::probe::ProbeDeps {
            store: store.clone(),
            clock,
            metrics: metrics.probes.clone(),
            clients: panoptes::outbound::default_clients(),
            events: panoptes::events::Publisher::discard(),
        },
        &c.probing,
        &c.monitors,
        &c.maintenance,
    )
    .await
    .expect("engine");
    let setup = t0.elapsed();
    // Steady state: after one interval every monitor has had its first check (a state change,
    // committed at once), so the window that follows holds only the routine ones.
    tokio::time::sleep(Duration::from_secs_f64(warm)).await;
    let (checks0, commits0, cpu_w0, w0) = (
        counter(&metrics, "panoptes_probe_checks_total{"),
        counter(&metrics, "panoptes_store_batches_total"),
        cpu_seconds(),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs_f64(minutes * 60.0)).await;
    let steady = (
        counter(&metrics, "panoptes_probe_checks_total{") - checks0,
        counter(&metrics, "panoptes_store_batches_total") - commits0,
        cpu_seconds() - cpu_w0,
        w0.elapsed().as_secs_f64(),
    );
    println!(
        "{n:>6} monitors  steady state ({:.0} s after a {warm:.0} s warm-up): {:.0} checks, {:.0} commits, CPU {:.2} s ({:.2} ms/check)",
        steady.3,
        steady.0,
        steady.1,
        steady.2,
        steady.2 * 1000.0 / steady.0.max(1.0),
    );
    // What `GET /api/v1/monitors?limit=100` does: a page from memory plus 7/30/90-day uptime
    // from the day roll-ups of that page; and one monitor's last hour of raw results.
    let now = panoptes::clock::Clock::now_ms(&SystemClock);
    let api = Instant::now();
    let (page, _) = engine.list(&Default::default(), None, 100);
    for v in &page {
        let _ = engine.summary(v);
    }
    let list_ms = api.elapsed().as_secs_f64() * 1000.0;
    let api = Instant::now();
    let rows = store
        .probe_results(page[0].id, now - 3_600_000, now + 1, 1000)
        .map(|r| r.len())
        .unwrap_or(0);
    let results_ms = api.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{n:>6} monitors  API: list page of 100 with uptime {list_ms:.2} ms; one monitor's last hour ({rows} results) {results_ms:.2} ms"
    );
    engine.stop();
    let elapsed = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    store.write(vec![]).await.expect("barrier");
    let text = metrics.render();
    let checks: f64 = text
        .lines()
        .filter(|l| l.starts_with("panoptes_probe_checks_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let failures: f64 = text
        .lines()
        .filter(|l| l.starts_with("panoptes_probe_checks_total{") && l.contains("failure"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let p50 =
        histogram_percentile(&text, "panoptes_probe_schedule_lag_seconds", 0.50).unwrap_or(0.0);
    let p99 =
        histogram_percentile(&text, "panoptes_probe_schedule_lag_seconds", 0.99).unwrap_or(0.0);
    let stats = store.probe_results_stats().expect("stats");
    let file = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{n:>6} monitors  {:>6.0} s  {checks:>8.0} checks ({failures:.0} failed)  {:>7.1} checks/s (ideal {:>6.1})  lag p50 {:>7.1} ms p99 {:>7.1} ms  CPU {:>6.1} s ({:.2} ms/check)  peak RSS {:>6.0} MiB  results {} rows, {:.1} B/row in the table ({:.1} B/row incl. index), file {:.1} MiB  (start-up {:.1} s)",
        elapsed.as_secs_f64(),
        checks / elapsed.as_secs_f64(),
        n as f64 / interval_s as f64,
        p50 * 1000.0,
        p99 * 1000.0,
        cpu,
        cpu * 1000.0 / checks.max(1.0),
        peak_rss_mib(),
        stats.0,
        stats.1 as f64 / stats.0.max(1) as f64,
        (stats.1 + stats.2) as f64 / stats.0.max(1) as f64,
        file as f64 / 1_048_576.0,
        setup.as_secs_f64(),
    );
    store.close().await;
}

/// Checks (engine) and GETs (baseline) in flight at once: the same for both, so the
/// comparison is of the work per request, not of the parallelism.
const CONCURRENCY: usize = 512;

/// The same number of GETs with a bare reqwest client at the engine's concurrency.
async fn baseline(requests: usize, addrs: &[SocketAddr]) {
    let client = reqwest::Client::new();
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::with_capacity(requests);
    for i in 0..requests {
        let c = client.clone();
        let url = format!("http://{}/health/{i}", addrs[i % addrs.len()]);
        let permit = sem.clone().acquire_owned().await.expect("sem");
        tasks.push(tokio::spawn(async move {
            let r = c.get(url).send().await;
            if let Ok(r) = r {
                let _ = r.bytes().await;
            }
            drop(permit);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let cpu = cpu_seconds() - cpu0;
    println!(
        "baseline: {requests} bare reqwest GETs in {:.1} s, CPU {:.1} s ({:.2} ms/request)",
        t0.elapsed().as_secs_f64(),
        cpu,
        cpu * 1000.0 / requests as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bench_mode = args.iter().any(|a| a == "--bench");
    // Under `cargo test --benches` keep it tiny.
    let sizes: Vec<usize> = arg("--monitors")
        .unwrap_or_else(|| {
            if bench_mode {
                "1000,10000,50000".into()
            } else {
                "50".into()
            }
        })
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let minutes: f64 = arg("--minutes")
        .and_then(|m| m.parse().ok())
        .unwrap_or(if bench_mode { 3.0 } else { 0.05 });
    let warm: f64 = arg("--warm")
        .and_then(|m| m.parse().ok())
        .unwrap_or(if bench_mode { 65.0 } else { 0.0 });
    let interval_s: u64 = arg("--interval")
        .and_then(|m| m.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _ = rustls::crypto::ring::default_provider().install_default();
    rt.block_on(async {
        let addrs = util::http_targets(8).await;
        println!(
            "probe benchmark: {interval_s} s interval, {minutes} min per size, 8 local HTTP targets"
        );
        baseline(
            sizes.iter().copied().max().unwrap_or(50).min(20_000),
            &addrs,
        )
        .await;
        for n in sizes {
            run(n, minutes, warm, interval_s, &addrs).await;
        }
    });
}
