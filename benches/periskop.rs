//! Exception-scraping benchmark: 1,000 targets x 50 keys, scraped every 15 s.
//!
//!     cargo bench --bench periskop                    (BENCH_SECS=120 by default)
//!
//! The targets run in a child process (this binary with `BENCH_ROLE=targets`): 1,000 HTTP
//! listeners on 127.0.0.1, each answering a Periskop export of 50 keys whose counts grow by one
//! per request, so every scrape changes every key (the worst case for aggregation and the store).
//! The parent is a real Panoptes server in-process. It first idles for the same duration with no
//! services (the same-run baseline), then scrapes; it reports its own CPU seconds (from
//! /proc/self/stat, so the targets' CPU is excluded), peak RSS, cycle duration and scrape lag.

#[path = "util.rs"]
mod util;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use util::{cpu_seconds, peak_rss_mib};

const TARGETS: usize = 1000;
const KEYS: usize = 50;
const SERVICES: usize = 10;

fn main() {
    if std::env::var("BENCH_ROLE").as_deref() == Ok("targets") {
        serve_targets();
        return;
    }
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run(Duration::from_secs(secs)));
}

fn serve_targets() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut ports = Vec::new();
        for t in 0..TARGETS {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            ports.push(listener.local_addr().expect("addr").port());
            let hits = Arc::new(AtomicU64::new(0));
            let app = axum::Router::new().route(
                "/-/exceptions",
                axum::routing::get(move || {
                    let n = hits.fetch_add(1, Ordering::Relaxed) + 1;
                    async move { export(t, n) }
                }),
            );
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
        }
        let mut out = std::io::stdout();
        let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
        writeln!(out, "{}", list.join(",")).expect("stdout");
        out.flush().expect("flush");
        // Serve until the parent closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
        })
        .await;
    });
}

fn export(target: usize, n: u64) -> String {
    let errors: Vec<serde_json::Value> = (0..KEYS)
        .map(|k| {
            serde_json::json!({
                "aggregation_key": format!("Error{k}@{k:08x}"),
                "total_count": n,
                "severity": "error",
                "created_at": "2026-11-22T00:00:00.000Z",
                "latest_errors": [{
                    "error": {"class": format!("Error{k}"), "message": format!("failure {k} on {target}"),
                              "stacktrace": ["Traceback (most recent call last):", "  File \"app.py\", line 1"], "cause": null},
                    "uuid": format!("{target}-{k}-{n}"),
                    "timestamp": "2026-11-22T00:00:00.000Z",
                    "severity": "error",
                    "http_context": null
                }]
            })
        })
        .collect();
    serde_json::json!({"aggregated_errors": errors, "target_uuid": format!("target-{target}")})
        .to_string()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn run(duration: Duration) {
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .env("BENCH_ROLE", "targets")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn targets");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ports");
    let ports: Vec<u16> = line
        .trim()
        .split(',')
        .map(|p| p.parse().expect("port"))
        .collect();
    assert_eq!(ports.len(), TARGETS);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = panoptes::config::root::Config::default();
    config.server.data_dir = dir.path().to_path_buf();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = panoptes::app::Server::start(
        config.clone(),
        listener,
        Arc::new(panoptes::clock::SystemClock),
        panoptes::outbound::default_clients(),
    )
    .await
    .expect("start");

    // Baseline: the same server, idle, for the same time.
    let (cpu0, wall) = (cpu_seconds(), duration);
    tokio::time::sleep(wall).await;
    let idle_cpu = cpu_seconds() - cpu0;
    let idle_rss = peak_rss_mib();

    let mut yaml = String::from("services:\n");
    for s in 0..SERVICES {
        yaml.push_str(&format!(
            "  - name: svc{s}\n    scraper: {{refresh_interval: 15s, timeout: 5s}}\n    static_configs: [{{targets: ["
        ));
        let per = TARGETS / SERVICES;
        let list: Vec<String> = ports[s * per..(s + 1) * per]
            .iter()
            .map(|p| format!("\"127.0.0.1:{p}\""))
            .collect();
        yaml.push_str(&list.join(", "));
        yaml.push_str("]}]\n");
    }
    let mut scraping = panoptes::config::root::parse(&yaml, "bench", &|_| None).expect("config");
    scraping.server = config.server.clone();
    let cpu1 = cpu_seconds();
    server.reload(scraping, None).await;
    tokio::time::sleep(wall).await;
    let scrape_cpu = cpu_seconds() - cpu1;
    let rss = peak_rss_mib();
    let text = server.state.metrics.render();
    let cycles = metric(&text, "panoptes_periskop_cycle_seconds_count");
    let cycle_sum = metric(&text, "panoptes_periskop_cycle_seconds_sum");
    let lag_count = metric(&text, "panoptes_periskop_scrape_lag_seconds_count");
    let lag_sum = metric(&text, "panoptes_periskop_scrape_lag_seconds_sum");
    let ok = text
        .lines()
        .filter(|l| {
            l.starts_with("panoptes_periskop_scrapes_total{") && l.contains("result=\"ok\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    let errors = text
        .lines()
        .filter(|l| {
            l.starts_with("panoptes_periskop_scrapes_total{") && l.contains("result=\"error\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>()
        + 0.0; // an empty float sum is -0.0
    let secs = wall.as_secs_f64();
    println!(
        "| scenario | wall s | CPU s | CPU % of one core | peak RSS MiB | scrapes ok / failed | mean cycle | mean lag |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| baseline: server idle, no services | {secs:.0} | {idle_cpu:.2} | {:.1} | {idle_rss:.0} | - | - | - |",
        100.0 * idle_cpu / secs
    );
    println!(
        "| {TARGETS} targets x {KEYS} keys, {SERVICES} services, every 15 s | {secs:.0} | {scrape_cpu:.2} | {:.1} | {rss:.0} | {ok:.0} / {errors:.0} | {:.0} ms | {:.2} ms |",
        100.0 * scrape_cpu / secs,
        if cycles > 0.0 {
            1000.0 * cycle_sum / cycles
        } else {
            0.0
        },
        if lag_count > 0.0 {
            1000.0 * lag_sum / lag_count
        } else {
            0.0
        },
    );
    let _ = server.shutdown().await;
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}
