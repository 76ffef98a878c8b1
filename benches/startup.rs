//! Start-up with a full data file: how long from `panoptes serve` to serving, and to the first
//! answers of the issue and monitor lists, with 1,000,000 stored events, 100,000 issues and
//! 50,000 monitors; and what each issue held in memory costs.
//!
//!     cargo bench --bench startup            # --events 1000000 --issues 100000 --monitors 50000
//!
//! The data file is filled as ingest and the digest write it (`sentry_fill.rs`, 5,000 events per
//! transaction); the monitors are push monitors in the config (nothing to probe, so the
//! measurement is of loading, not of checking), each given one heartbeat in a first run so that
//! every one has a state, results and roll-ups to load. The baseline in the same run is the same
//! config on an empty data directory. Each figure is the median of --rounds restarts.

#[path = "sentry_fill.rs"]
mod sentry_fill;
#[path = "util.rs"]
mod util;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use panoptes::metrics::Metrics;
use panoptes::store::{Store, StoreOptions};

const KEY: &str = "0123456789abcdef0123456789abcdef";

struct Start {
    serving_ms: f64,
    issues_ms: f64,
    monitors_ms: f64,
    rss_mib: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Polls `url` until it answers 200; returns the milliseconds since `t0`.
async fn first_answer(http: &reqwest::Client, url: &str, token: &str, t0: Instant) -> f64 {
    loop {
        if let Ok(r) = http.get(url).bearer_auth(token).send().await
            && r.status().is_success()
        {
            let _ = r.bytes().await;
            return t0.elapsed().as_secs_f64() * 1000.0;
        }
        assert!(t0.elapsed().as_secs() < 120, "{url} never answered");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

async fn start(bin: &str, cfg: &Path, data: &Path, token: &str) -> Start {
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let s = util::serve(bin, cfg, data, token.to_string());
    let serving_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let base = format!("http://127.0.0.1:{}", s.port);
    let issues_ms = first_answer(
        &http,
        &format!("{base}/api/v1/projects/7/issues?limit=50"),
        token,
        t0,
    )
    .await;
    let monitors_ms = first_answer(
        &http,
        &format!("{base}/api/v1/monitors?limit=100"),
        token,
        t0,
    )
    .await;
    let rss_mib = util::pid_mem_mib(s.child.id(), "VmRSS");
    Start {
        serving_ms,
        issues_ms,
        monitors_ms,
        rss_mib,
    }
}

async fn rounds(bin: &str, cfg: &Path, data: &Path, token: &str, n: usize) -> Start {
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(start(bin, cfg, data, token).await);
    }
    let m = |f: fn(&Start) -> f64| median(all.iter().map(f).collect());
    Start {
        serving_ms: m(|s| s.serving_ms),
        issues_ms: m(|s| s.issues_ms),
        monitors_ms: m(|s| s.monitors_ms),
        rss_mib: m(|s| s.rss_mib),
    }
}

/// One heartbeat per push monitor, so that each has a state and a result stored.
async fn heartbeats(bin: &str, cfg: &Path, data: &Path, monitors: usize) {
    let s = util::start_server(bin, cfg, data);
    let base = format!("http://127.0.0.1:{}", s.port);
    let http = reqwest::Client::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::with_capacity(monitors);
    for i in 0..monitors {
        let (http, url) = (http.clone(), format!("{base}/api/v1/push/bench-{i:05}"));
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        tasks.push(tokio::spawn(async move {
            let ok = http
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            drop(permit);
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap_or(false));
    }
    assert_eq!(ok, monitors, "every push accepted");
    drop(s);
}

#[tokio::main]
async fn main() {
    panoptes::outbound::install_crypto_provider();
    let bench = std::env::args().any(|a| a == "--bench");
    let events: u64 = util::arg("--events", if bench { 1_000_000 } else { 2_000 });
    let issues: u64 = util::arg("--issues", if bench { 100_000 } else { 200 });
    let monitors: usize = util::arg("--monitors", if bench { 50_000 } else { 100 });
    let n: usize = util::arg("--rounds", if bench { 3 } else { 1 });
    let bin = env!("CARGO_BIN_EXE_panoptes");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = format!("projects:\n  - id: 7\n    name: bench\n    keys: [{KEY}]\nmonitors:\n");
    for i in 0..monitors {
        cfg.push_str(&format!(
            "  - {{name: m{i:05}, type: push, token: bench-{i:05}, interval: 1h}}\n"
        ));
    }
    let cfg_path = dir.path().join("c.yaml");
    std::fs::write(&cfg_path, cfg).expect("config");

    // Baseline: the same config on an empty data directory.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let token = util::create_token(bin, &empty);
    let base = rounds(bin, &cfg_path, &empty, &token, n).await;

    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("dir");
    let t = Instant::now();
    {
        let metrics = Metrics::new();
        let store = Store::open(&data, StoreOptions::default(), metrics.store.clone())
            .expect("open the data file");
        sentry_fill::fill(&store, events, issues).await;
        store.close().await;
    }
    heartbeats(bin, &cfg_path, &data, monitors).await;
    let fill_s = t.elapsed().as_secs_f64();
    let size: u64 = std::fs::read_dir(&data)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let token = util::create_token(bin, &data);
    let full = rounds(bin, &cfg_path, &data, &token, n).await;

    println!(
        "start-up, median of {n}: {events} events, {issues} issues, {monitors} push monitors (filled in {fill_s:.0} s, data {:.0} MiB)",
        size as f64 / 1_048_576.0
    );
    println!("| data | serving | issue list answers | monitor list answers | RSS after start |");
    println!("|---|---:|---:|---:|---:|");
    for (what, s) in [("empty (baseline)", &base), ("full", &full)] {
        println!(
            "| {what} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} MiB |",
            s.serving_ms, s.issues_ms, s.monitors_ms, s.rss_mib
        );
    }
    println!(
        "memory per issue held (RSS full - empty, over issues): {:.2} KiB",
        (full.rss_mib - base.rss_mib).max(0.0) * 1024.0 / issues.max(1) as f64
    );
}
