//! Soak: mixed load, hostile input included, for a long time; resources must stay flat.
//!
//!     cargo bench --bench soak -- [--minutes 30] [--cache-mib 256]
//!
//! Panoptes (release binary, own process and data directory) probes 500 HTTP monitors every
//! 10 s and scrapes 2 Periskop services of 10 targets every 15 s (targets served by this bench),
//! while client threads send: valid Sentry envelopes (~50/s, 100 distinct errors), malformed
//! envelopes, envelopes with a wrong key and oversized bodies (~10/s together), logins with a
//! wrong password (~2/s) and API reads with a token (~20/s). Every 10 s the bench samples
//! Panoptes' RSS, open file descriptors, OS threads and async tasks
//! (`panoptes_runtime_tasks`). The verdict compares the last third of the run with the third
//! after warm-up: flat means no metric grew by more than 10 % (RSS: 10 % or 16 MiB).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "util.rs"]
mod util;

const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
const MONITORS: usize = 500;
const TARGETS: usize = 20;

/// A Periskop export of 20 keys whose counts grow with each request.
fn export(n: u64) -> String {
    let errors: Vec<serde_json::Value> = (0..20)
        .map(|k| {
            serde_json::json!({
                "aggregation_key": format!("Error{k}@{k:08x}"),
                "total_count": n,
                "severity": "error",
                "created_at": "2026-11-22T00:00:00.000Z",
                "latest_errors": [{
                    "error": {"class": format!("Error{k}"), "message": format!("failure {k}"),
                              "stacktrace": ["Traceback (most recent call last):"], "cause": null},
                    "uuid": format!("{k}-{n}"),
                    "timestamp": "2026-11-22T00:00:00.000Z",
                    "severity": "error",
                    "http_context": null
                }]
            })
        })
        .collect();
    serde_json::json!({"aggregated_errors": errors, "target_uuid": "soak"}).to_string()
}

/// Local targets: `/health` for the probes, `/-/exceptions` for the scrapes.
fn targets() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let n = Arc::new(AtomicU64::new(0));
            let app = axum::Router::new()
                .route(
                    "/health/{i}",
                    axum::routing::get(|| async { r#"{"status":"UP"}"# }),
                )
                .route(
                    "/-/exceptions",
                    axum::routing::get(move || {
                        let n = n.fetch_add(1, Ordering::Relaxed);
                        async move { export(n) }
                    }),
                );
            // Every loopback address (the scrape targets are 127.0.N.1).
            let l = tokio::net::TcpListener::bind("0.0.0.0:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr").port()).expect("send");
            axum::serve(l, app).await.expect("serve");
        });
    });
    rx.recv().expect("port")
}

fn panoptes(dir: &Path, target: u16, cache_mib: u64) -> util::Server {
    let bin = env!("CARGO_BIN_EXE_panoptes");
    let data = dir.join("data");
    let cfg = dir.join("panoptes.yaml");
    let mut y = format!(
        "store:\n  cache_bytes: {}\nprojects:\n  - id: 7\n    name: soak\n    keys: [{KEY}]\nmonitors:\n",
        cache_mib * 1024 * 1024
    );
    for i in 0..MONITORS {
        y.push_str(&format!(
            "  - {{name: m{i}, type: http, url: \"http://127.0.0.1:{target}/health/{i}\", interval: 10s, conditions: [\"[STATUS] == 200\"]}}\n"
        ));
    }
    y.push_str("services:\n");
    for s in 0..2 {
        // Ten entries per service; the same local server behind each (distinct hosts are
        // not needed to exercise the scrape loop and aggregation).
        y.push_str(&format!(
            "  - name: svc{s}\n    static_configs: [{{targets: [{}]}}]\n    scraper: {{endpoint: /-/exceptions, refresh_interval: 15s, timeout: 5s}}\n",
            (0..TARGETS / 2)
                .map(|i| format!("\"127.0.{}.1:{target}\"", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    std::fs::write(&cfg, y).expect("config");
    let mut add = Command::new(bin)
        .args(["user", "add", "alice", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("user add");
    if let Some(mut stdin) = add.stdin.take() {
        let _ = stdin.write_all(b"correct horse battery\n");
    }
    let _ = add.wait();
    util::start_server(bin, &cfg, &data)
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at_s: f64,
    rss_mib: f64,
    fds: f64,
    threads: f64,
    tasks: f64,
}

fn sample(p: &util::Server, base: &str, at_s: f64) -> Sample {
    let pid = p.child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as f64)
        .unwrap_or(0.0);
    let metrics = reqwest::blocking::get(format!("{base}/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default();
    let tasks = metrics
        .lines()
        .find_map(|l| l.strip_prefix("panoptes_runtime_tasks "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    Sample {
        at_s,
        rss_mib: field("VmRSS:") / 1024.0,
        fds,
        threads: field("Threads:"),
        tasks,
    }
}

/// Runs `f` about `per_s` times a second until `stop`; counts answers by status class.
fn load(
    per_s: f64,
    stop: Arc<AtomicBool>,
    f: impl Fn(&reqwest::blocking::Client, u64) -> Option<u16> + Send + 'static,
) -> std::thread::JoinHandle<(u64, u64, u64)> {
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let gap = Duration::from_secs_f64(1.0 / per_s);
        let (mut ok, mut refused, mut failed) = (0, 0, 0);
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            match f(&client, i) {
                Some(s) if s < 300 => ok += 1,
                Some(_) => refused += 1,
                None => failed += 1,
            }
            i += 1;
            if let Some(rest) = gap.checked_sub(t.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        (ok, refused, failed)
    })
}

fn envelope(kind: &str) -> String {
    let event = serde_json::json!({"platform": "python", "level": "error",
        "exception": {"values": [{"type": kind, "value": "boom"}]}});
    format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n")
}

fn main() {
    panoptes::outbound::install_crypto_provider();
    let minutes = util::arg("--minutes", 30.0);
    // The store's page cache is the one cache meant to grow with the data file; a small one
    // shows whether anything else does.
    let cache_mib: u64 = util::arg("--cache-mib", 256);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = targets();
    let p = panoptes(dir.path(), target, cache_mib);
    let base = format!("http://127.0.0.1:{}", p.port);
    let stop = Arc::new(AtomicBool::new(false));
    let ingest_url = format!("{base}/api/7/envelope/?sentry_key={KEY}");
    let bad_key_url = format!("{base}/api/7/envelope/?sentry_key=00000000000000000000000000000000");
    let big = vec![b'x'; 24 * 1024 * 1024];
    let mut loads = Vec::new();
    let u = ingest_url.clone();
    loads.push((
        "valid envelopes",
        load(50.0, stop.clone(), move |c, i| {
            c.post(&u)
                .body(envelope(&format!("Soak{}", i % 100)))
                .send()
                .ok()
                .map(|r| r.status().as_u16())
        }),
    ));
    let (u, bad) = (ingest_url.clone(), bad_key_url.clone());
    loads.push((
        "hostile ingest",
        load(10.0, stop.clone(), move |c, i| {
            let r = match i % 4 {
                0 => c.post(&u).body("{not json\n\x00\x01"),
                1 => c.post(&bad).body(envelope("Wrong")),
                2 => c.post(&u).body(big.clone()),
                _ => c
                    .post(&u)
                    .header("content-encoding", "gzip")
                    .body(vec![0x1f, 0x8b, 0, 1, 2, 3]),
            };
            r.send().ok().map(|r| r.status().as_u16())
        }),
    ));
    let u = format!("{base}/api/v1/session");
    loads.push(("wrong logins", load(2.0, stop.clone(), move |c, i| {
        c.post(&u)
            .json(&serde_json::json!({"username": if i % 2 == 0 { "alice" } else { "mallory" }, "password": "wrong"}))
            .send()
            .ok()
            .map(|r| r.status().as_u16())
    })));
    let (b, token) = (base.clone(), p.token.clone());
    loads.push((
        "API reads",
        load(20.0, stop.clone(), move |c, i| {
            let path = [
                "/api/v1/monitors?limit=100",
                "/api/v1/projects/7/issues?limit=50",
                "/api/v1/exceptions/services",
                "/api/v1/status",
            ][(i % 4) as usize];
            c.get(format!("{b}{path}"))
                .bearer_auth(&token)
                .send()
                .ok()
                .map(|r| r.status().as_u16())
        }),
    ));

    let start = Instant::now();
    let total = Duration::from_secs_f64(minutes * 60.0);
    let mut samples = Vec::new();
    println!(
        "soak: {minutes} min; {MONITORS} monitors every 10 s, 2 services x {} targets every 15 s, ~50 valid + ~10 hostile ingest requests/s, ~2 wrong logins/s, ~20 API reads/s",
        TARGETS / 2
    );
    println!();
    println!("| minute | RSS MiB | open fds | threads | async tasks |");
    println!("|---:|---:|---:|---:|---:|");
    while start.elapsed() < total {
        std::thread::sleep(Duration::from_secs(10));
        let s = sample(&p, &base, start.elapsed().as_secs_f64());
        samples.push(s);
        if samples.len() % 6 == 0 {
            println!(
                "| {:.0} | {:.1} | {:.0} | {:.0} | {:.0} |",
                s.at_s / 60.0,
                s.rss_mib,
                s.fds,
                s.threads,
                s.tasks
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    println!();
    for (name, h) in loads {
        let (ok, refused, failed) = h.join().unwrap_or((0, 0, 0));
        println!("{name}: {ok} accepted, {refused} refused (4xx/5xx), {failed} without an answer");
    }
    // Warm-up: the first sixth. Compare the third after it with the last third.
    let n = samples.len();
    if n < 6 {
        println!("too short for a verdict");
        return;
    }
    let window = |from: usize, to: usize, f: fn(&Sample) -> f64| -> f64 {
        samples[from..to].iter().map(f).fold(0.0, f64::max)
    };
    let early = (n / 6, n / 6 + n / 3);
    let late = (n - n / 3, n);
    let mut flat = true;
    for (name, f, slack) in [
        (
            "RSS MiB",
            (|s: &Sample| s.rss_mib) as fn(&Sample) -> f64,
            16.0,
        ),
        ("open fds", |s: &Sample| s.fds, 2.0),
        ("threads", |s: &Sample| s.threads, 1.0),
        ("async tasks", |s: &Sample| s.tasks, 8.0),
    ] {
        let (a, b) = (window(early.0, early.1, f), window(late.0, late.1, f));
        let ok = b <= a * 1.10 + slack;
        flat &= ok;
        println!(
            "{name}: max {a:.1} after warm-up, max {b:.1} in the last third: {}",
            if ok { "flat" } else { "GROWING" }
        );
    }
    println!("verdict: {}", if flat { "flat" } else { "not flat" });
}
