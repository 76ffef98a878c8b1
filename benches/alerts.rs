//! Alerting at scale, on the whole server (`app::Server`, in-process, local targets):
//!
//!     cargo bench --bench alerts -- --monitors 50000 --minutes 2
//!
//! 1. CPU: N HTTP monitors at a 60 s interval, measured four ways in one run, each on a fresh
//!    server: probing alone and probing with one alert rule per monitor, with every target
//!    healthy (evaluation only) and with every target flapping (each check changes state, so
//!    every check fires or resolves an alert and notifies a local webhook). The differences are
//!    what alerting adds: per check, and per state change.
//! 2. Latency: 1,000 push monitors with a rule each, `group_wait: 0s`; 500 state changes at
//!    20/s; time from the push (the state change) to the webhook's arrival at a local receiver,
//!    p50 and p99.

#[path = "util.rs"]
mod util;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use panoptes::app::Server;
use panoptes::clock::{SharedClock, SystemClock};
use util::{cpu_seconds, peak_rss_mib};

/// Local targets; with `flap`, each id answers 500 and 200 in turn (every check a change).
async fn targets(n: usize, flap: bool) -> Vec<SocketAddr> {
    let mut addrs = Vec::new();
    for _ in 0..n {
        let counts: Arc<Vec<AtomicU64>> =
            Arc::new((0..65_536).map(|_| AtomicU64::new(0)).collect());
        let app = Router::new().route(
            "/health/{id}",
            get(move |Path(id): Path<usize>| {
                let counts = counts.clone();
                async move {
                    let k = counts[id % counts.len()].fetch_add(1, Ordering::Relaxed);
                    if flap && k % 2 == 1 {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addrs.push(l.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(l, app).await });
    }
    addrs
}

/// A webhook receiver: counts messages and, for the latency run, records when each monitor's
/// alert arrived.
#[derive(Clone, Default)]
struct Hook {
    count: Arc<AtomicU64>,
    arrivals: Arc<Mutex<Vec<(String, Instant)>>>,
}

async fn hook() -> (SocketAddr, Hook) {
    let h = Hook::default();
    let state = h.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let now = Instant::now();
                state.count.fetch_add(1, Ordering::Relaxed);
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                    && v["status"] == "firing"
                    && let Some(alerts) = v["alerts"].as_array()
                {
                    let mut a = state.arrivals.lock().expect("lock");
                    for x in alerts {
                        if let Some(m) = x["labels"]["monitor"].as_str() {
                            a.push((m.to_string(), now));
                        }
                    }
                }
                StatusCode::OK
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    (addr, h)
}

fn alerts_yaml(names: &[String], hook: SocketAddr) -> String {
    let mut y = String::from("alerts:\n  rules:\n");
    for n in names {
        y.push_str(&format!(
            "    - {{name: Down-{n}, monitor: {{state: down, monitors: [{n}]}}}}\n"
        ));
    }
    y.push_str(&format!(
        "  route: {{receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 1s}}\n  \
         receivers:\n    - {{name: hook, webhook_configs: [{{url: \"http://{hook}/hook\"}}]}}\n  \
         delivery: {{rate_per_receiver: 100000}}\n"
    ));
    y
}

async fn start(yaml: &str, dir: &std::path::Path) -> Server {
    start_split(yaml, "", dir).await
}

/// The monitors and the alerting section parsed apart: 50,000 monitors with a rule each are
/// more YAML nodes than one document may hold (the parser's bound on hostile input).
async fn start_split(monitors: &str, alerts: &str, dir: &std::path::Path) -> Server {
    let mut c = panoptes::config::root::parse(monitors, "bench", &|_| None).expect("config");
    if !alerts.is_empty() {
        c.alerts = panoptes::config::root::parse(alerts, "bench-alerts", &|_| None)
            .expect("alerts config")
            .alerts;
    }
    c.server.data_dir = dir.to_path_buf();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let clock: SharedClock = Arc::new(SystemClock);
    Server::start(c, listener, clock, panoptes::outbound::default_clients())
        .await
        .expect("server")
}

fn checks(server: &Server) -> f64 {
    server
        .state
        .metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("panoptes_probe_checks_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// One CPU run: returns (checks, CPU seconds, notifications) over the measured window.
async fn cpu_run(n: usize, minutes: f64, flap: bool, rules: bool) -> (f64, f64, u64) {
    let addrs = targets(8, flap).await;
    let (hook_addr, hook) = hook().await;
    let names: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let mut y =
        String::from("probing:\n  concurrency: 512\n  per_host_concurrency: 512\nmonitors:\n");
    for (i, name) in names.iter().enumerate() {
        let a = addrs[i % addrs.len()];
        y.push_str(&format!(
            "  - {{name: {name}, type: http, url: \"http://{a}/health/{i}\", interval: 60s, timeout: 10s, retries: 0}}\n"
        ));
    }
    let alerts = if rules {
        alerts_yaml(&names, hook_addr)
    } else {
        String::new()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_split(&y, &alerts, dir.path()).await;
    // Every monitor has started and checked once (first checks spread over the interval).
    tokio::time::sleep(Duration::from_secs(65)).await;
    let (c0, cpu0, h0) = (
        checks(&server),
        cpu_seconds(),
        hook.count.load(Ordering::Relaxed),
    );
    tokio::time::sleep(Duration::from_secs_f64(minutes * 60.0)).await;
    let out = (
        checks(&server) - c0,
        cpu_seconds() - cpu0,
        hook.count.load(Ordering::Relaxed) - h0,
    );
    let _ = server.shutdown().await;
    out
}

async fn latency(changes: usize) {
    let (hook_addr, hook) = hook().await;
    let names: Vec<String> = (0..1000).map(|i| format!("p{i}")).collect();
    let mut y = String::from("monitors:\n");
    for n in &names {
        y.push_str(&format!(
            "  - {{name: {n}, type: push, token: tok-{n}-0123456789, interval: 1h, retries: 0}}\n"
        ));
    }
    y.push_str(&alerts_yaml(&names, hook_addr));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&y, dir.path()).await;
    let client = reqwest::Client::new();
    let mut sent = Vec::new();
    for n in names.iter().take(changes) {
        let t = Instant::now();
        let url = format!(
            "http://{}/api/v1/push/tok-{n}-0123456789?status=down",
            server.addr
        );
        let _ = client.post(url).send().await;
        sent.push((n.clone(), t));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let arrivals = hook.arrivals.lock().expect("lock").clone();
    let mut lat: Vec<f64> = sent
        .iter()
        .filter_map(|(n, t)| {
            arrivals
                .iter()
                .find(|(m, _)| m == n)
                .map(|(_, a)| a.duration_since(*t).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "latency: {} state changes at 20/s, {} delivered; push -> webhook p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (group_wait 0s)",
        sent.len(),
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    let _ = server.shutdown().await;
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
    if !bench_mode {
        // `cargo test --benches` builds it; the runs take minutes.
        println!("alerts benchmark: run with `cargo bench --bench alerts`");
        return;
    }
    let n: usize = arg("--monitors")
        .and_then(|m| m.parse().ok())
        .unwrap_or(50_000);
    let minutes: f64 = arg("--minutes").and_then(|m| m.parse().ok()).unwrap_or(2.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        latency(500).await;
        println!("alerts CPU: {n} HTTP monitors at 60 s, {minutes} min measured per run, one rule per monitor");
        for flap in [false, true] {
            let (c0, cpu0, _) = cpu_run(n, minutes, flap, false).await;
            let (c1, cpu1, notes) = cpu_run(n, minutes, flap, true).await;
            let base = cpu0 * 1000.0 / c0.max(1.0);
            let with = cpu1 * 1000.0 / c1.max(1.0);
            println!(
                "  {:<9} probing only: {c0:.0} checks, CPU {cpu0:.1} s ({base:.3} ms/check) | with rules: {c1:.0} checks, CPU {cpu1:.1} s ({with:.3} ms/check), {notes} notifications | alerting adds {:+.1} % ({:+.3} ms per check{})",
                if flap { "flapping" } else { "steady" },
                (with - base) / base * 100.0,
                with - base,
                if flap { ", each a state change" } else { "" },
            );
        }
        println!("peak RSS {:.0} MiB", peak_rss_mib());
    });
}
