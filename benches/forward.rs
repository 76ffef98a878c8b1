//! Forwarding to upstream Sentry: a flood of one error at full speed with a slow upstream, and
//! forwarded events/s to a fast one; the baseline (the same flood without forwarding) is
//! measured in the same run.
//!
//!     cargo bench --bench forward -- [--secs 8] [--concurrency 32] [--delay-ms 50] [--events 5000]
//!
//! The upstream is an axum server in this process that answers 200 after `--delay-ms`, counting
//! requests, distinct event ids and the most requests it held at once. Panoptes is the release
//! binary in its own process (`forward.max_concurrency: 4`). The load is `--concurrency`
//! connections each posting the same error envelope (fresh event id each) as fast as answered.

#[path = "util.rs"]
mod util;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;

const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";

#[derive(Default)]
struct Upstream {
    delay_ms: AtomicU64,
    requests: AtomicU64,
    ids: Mutex<HashSet<String>>,
    now: AtomicUsize,
    max: AtomicUsize,
}

async fn upstream(addr_tx: std::sync::mpsc::Sender<u16>, state: Arc<Upstream>) {
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let state = state.clone();
        async move {
            let n = state.now.fetch_add(1, Ordering::SeqCst) + 1;
            state.max.fetch_max(n, Ordering::SeqCst);
            let delay = state.delay_ms.load(Ordering::Relaxed);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let head = body.split(|b| *b == b'\n').next().unwrap_or_default();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(head)
                && let Some(id) = v["event_id"].as_str()
                && let Ok(mut ids) = state.ids.lock()
            {
                ids.insert(id.to_string());
            }
            state.requests.fetch_add(1, Ordering::SeqCst);
            state.now.fetch_sub(1, Ordering::SeqCst);
            "{}"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let _ = addr_tx.send(listener.local_addr().expect("addr").port());
    let _ = axum::serve(listener, app).await;
}

fn panoptes(dir: &std::path::Path, upstream_port: Option<u16>, flood: u32) -> util::Server {
    let forward = match upstream_port {
        Some(p) => format!("    forward:\n      upstream: \"http://127.0.0.1:{p}\"\n"),
        None => String::new(),
    };
    let cfg = dir.join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            "projects:\n  - id: 7\n    name: bench\n    keys: [{KEY}]\n{forward}ingest:\n  flood_max_events: {flood}\nforward:\n  max_concurrency: 4\n"
        ),
    )
    .expect("config");
    util::start_server(env!("CARGO_BIN_EXE_panoptes"), &cfg, &dir.join("data"))
}

fn envelope(distinct: Option<u64>) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let ty = match distinct {
        Some(n) => format!("BenchError{}", to_letters(n)),
        None => "ZeroDivisionError".into(),
    };
    let payload = serde_json::json!({"event_id": id, "platform": "python", "level": "error",
        "exception": {"values": [{"type": ty, "value": "division by zero",
        "stacktrace": {"frames": [{"module": "app", "function": "run", "in_app": true}]}}]}})
    .to_string();
    format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
}

/// Digits are stripped by grouping; letters keep issues apart.
fn to_letters(mut n: u64) -> String {
    let mut s = String::new();
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

/// Posts the same error from `c` connections for `secs`; returns (accepted, other answers).
async fn flood(port: u16, c: usize, secs: u64) -> (u64, u64) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/7/envelope/?sentry_key={KEY}&sentry_version=7");
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (client, url, stop, ok, bad) = (
            client.clone(),
            url.clone(),
            stop.clone(),
            ok.clone(),
            bad.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match client.post(&url).body(envelope(None)).send().await {
                    Ok(r) if r.status().is_success() => ok.fetch_add(1, Ordering::Relaxed),
                    _ => bad.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed))
}

async fn count(port: u16) -> serde_json::Value {
    let r = reqwest::get(format!("http://127.0.0.1:{port}/count")).await;
    match r {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

fn main() {
    // reqwest is built without a default rustls provider.
    panoptes::outbound::install_crypto_provider();
    let secs: u64 = util::arg("--secs", 8);
    let c: usize = util::arg("--concurrency", 32);
    let delay: u64 = util::arg("--delay-ms", 50);
    let events: u64 = util::arg("--events", 5000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let up = Arc::new(Upstream::default());
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(upstream(tx, up.clone()));
    let up_port = rx.recv().expect("upstream port");
    rt.block_on(async {
        println!("| scenario | accepted/s | non-200 | upstream requests/s | upstream max concurrent | exact counts |");
        println!("|---|---:|---:|---:|---:|---|");
        // Baseline: the same flood, no forwarding.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = panoptes(dir.path(), None, 10);
        let (ok, bad) = flood(p.port, c, secs).await;
        println!(
            "| baseline: same error, no forwarding, c={c} | {:.0} | {bad} | - | - | - |",
            ok as f64 / secs as f64
        );
        drop(p);
        // The flood with a slow upstream.
        up.delay_ms.store(delay, Ordering::SeqCst);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = panoptes(dir.path(), Some(up_port), 10);
        let r0 = up.requests.load(Ordering::SeqCst);
        let (ok, bad) = flood(p.port, c, secs).await;
        let during = up.requests.load(Ordering::SeqCst) - r0;
        // Wait for the backlog, then check every accepted event is accounted for.
        let t = Instant::now();
        let mut last = count(p.port).await;
        while last["count"].as_u64() != Some(0) && t.elapsed() < Duration::from_secs(600) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            last = count(p.port).await;
        }
        let processed = last["processed"].as_u64().unwrap_or(0);
        let ignored = last["ignored"].as_u64().unwrap_or(0);
        let exact = processed + ignored == ok && processed == up.requests.load(Ordering::SeqCst) - r0;
        println!(
            "| same error, upstream {delay} ms/request, c={c} | {:.0} | {bad} | {:.1} | {} | {exact}: {ok} accepted = {processed} forwarded + {ignored} ignored (flood copies); drained {:.1} s after |",
            ok as f64 / secs as f64,
            during as f64 / secs as f64,
            up.max.load(Ordering::SeqCst),
            t.elapsed().as_secs_f64()
        );
        drop(p);
        // Forwarded events/s to a fast upstream: distinct errors, all forwarded.
        up.delay_ms.store(0, Ordering::SeqCst);
        up.max.store(0, Ordering::SeqCst);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = panoptes(dir.path(), Some(up_port), 1_000_000);
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/api/7/envelope/?sentry_key={KEY}", p.port);
        let r0 = up.requests.load(Ordering::SeqCst);
        let t = Instant::now();
        let sent = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..c as u64 {
            let (client, url, sent) = (client.clone(), url.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = w;
                while i < events {
                    if let Ok(r) = client.post(&url).body(envelope(Some(i))).send().await
                        && r.status().is_success()
                    {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    i += c as u64;
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        let sent = sent.load(Ordering::Relaxed);
        while up.requests.load(Ordering::SeqCst) - r0 < sent && t.elapsed() < Duration::from_secs(600) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = up.requests.load(Ordering::SeqCst) - r0;
        println!(
            "| {events} distinct errors, fast upstream (0 ms) | - | {} | {:.0} (forwarded events/s, ingest to upstream) | {} | {}: {got} of {sent} |",
            events - sent,
            got as f64 / t.elapsed().as_secs_f64(),
            up.max.load(Ordering::SeqCst),
            got == sent
        );
    });
}
