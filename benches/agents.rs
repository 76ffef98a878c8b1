//! Agents at scale: one server taking the results of 10 agents × 5,000 monitors at a 60 s
//! interval (simulated agents post gzip batches directly; nothing is probed), against a
//! same-run baseline: the same number of results recorded by the local engine path (push
//! heartbeats, one request per result, judged and stored by the server's `ProbeEngine`).
//! Reports server CPU, peak RSS and the latency of each ingest request (p50/p99).
//!
//!     cargo bench --bench agents -- [--agents 10] [--monitors 5000] [--secs 60] [--baseline 0]

#[path = "util.rs"]
mod util;

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;

fn main() {
    panoptes::outbound::install_crypto_provider();
    let agents = util::arg("--agents", 10usize);
    let monitors = util::arg("--monitors", 5000usize);
    let secs = util::arg("--secs", 60u64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{agents} agents x {monitors} monitors at 60 s for {secs} s ({:.0} results/s)",
        (agents * monitors) as f64 / 60.0
    );
    let a = rt.block_on(agent_run(agents, monitors, secs));
    a.print("agents (gzip batches, 1/s per agent)");
    if util::arg("--baseline", 1u8) == 1 {
        let b = rt.block_on(push_run(agents, monitors, secs));
        b.print("baseline: local engine path (push heartbeats)");
    }
}

struct Figures {
    results: u64,
    requests: u64,
    errors: u64,
    cpu_s: f64,
    peak_rss_mib: f64,
    p50_ms: f64,
    p99_ms: f64,
    secs: f64,
}

impl Figures {
    fn print(&self, what: &str) {
        println!(
            "{what}: {} results in {} requests ({} errors) over {:.0} s; server CPU {:.1} s ({:.1} % of a core), peak RSS {:.0} MiB; request latency p50 {:.2} ms, p99 {:.2} ms",
            self.results,
            self.requests,
            self.errors,
            self.secs,
            self.cpu_s,
            100.0 * self.cpu_s / self.secs,
            self.peak_rss_mib,
            self.p50_ms,
            self.p99_ms
        );
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn server(yaml: String, dir: &std::path::Path) -> util::Server {
    let cfg = dir.join("panoptes.yaml");
    std::fs::write(&cfg, yaml).expect("config");
    util::start_server(env!("CARGO_BIN_EXE_panoptes"), &cfg, &dir.join("data"))
}

async fn agent_run(agents: usize, monitors: usize, secs: u64) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let locations: Vec<String> = (0..agents).map(|i| format!("a{i}")).collect();
    let mut yaml = String::from("monitors:\n");
    for m in 0..monitors {
        yaml.push_str(&format!(
            "  - {{name: m{m}, type: tcp, host: 127.0.0.1, port: 9, interval: 60s, locations: [{}]}}\n",
            locations.join(", ")
        ));
    }
    let s = server(yaml, dir.path());
    let base = format!("http://127.0.0.1:{}", s.port);
    let c = reqwest::Client::new();
    let mut tokens = Vec::new();
    for (i, l) in locations.iter().enumerate() {
        let v: serde_json::Value = c
            .post(format!("{base}/api/v1/agents"))
            .bearer_auth(&s.token)
            .json(&json!({"name": format!("agent-{i}"), "location": l}))
            .send()
            .await
            .expect("create agent")
            .json()
            .await
            .expect("json");
        tokens.push(v["token"].as_str().expect("token").to_string());
    }
    let pid = s.child.id();
    let cpu0 = util::pid_cpu_seconds(pid);
    let started = Instant::now();
    let per_batch = monitors.div_ceil(60);
    let mut tasks = Vec::new();
    for token in tokens {
        let c = c.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut results, mut errors, mut seq) = (0u64, 0u64, 0u64);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            for round in 0..secs {
                tick.tick().await;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let batch: Vec<serde_json::Value> = (0..per_batch)
                    .map(|k| {
                        seq += 1;
                        let m = (round as usize * per_batch + k) % monitors;
                        json!({"seq": seq, "monitor": format!("m{m}"), "at_ms": now + k as u64,
                               "ok": seq % 50 != 0, "latency_ms": 20 + seq % 30})
                    })
                    .collect();
                let n = batch.len() as u64;
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(json!({"results": batch}).to_string().as_bytes())
                    .expect("gzip");
                let body = gz.finish().expect("gzip");
                let t = Instant::now();
                let r = c
                    .post(format!("{base}/api/v1/agent/results"))
                    .bearer_auth(&token)
                    .header("content-encoding", "gzip")
                    .body(body)
                    .send()
                    .await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                match r {
                    Ok(r) if r.status().is_success() => results += n,
                    _ => errors += 1,
                }
            }
            (lat, results, errors)
        }));
    }
    collect(tasks, pid, cpu0, started).await
}

async fn push_run(agents: usize, monitors: usize, secs: u64) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    // As many series as the agents' run (a push monitor per monitor and location).
    let series = agents * monitors;
    let mut yaml = String::from("monitors:\n");
    for m in 0..series {
        yaml.push_str(&format!(
            "  - {{name: p{m}, type: push, token: push-token-{m}, interval: 1h}}\n"
        ));
    }
    let s = server(yaml, dir.path());
    let base = format!("http://127.0.0.1:{}", s.port);
    let c = reqwest::Client::new();
    let pid = s.child.id();
    let cpu0 = util::pid_cpu_seconds(pid);
    let started = Instant::now();
    let per_sec = series.div_ceil(60);
    // Ten senders, like the agents, each sending its share of the results every second.
    let mut tasks = Vec::new();
    for a in 0..agents {
        let c = c.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut results, mut errors) = (0u64, 0u64);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let share = per_sec.div_ceil(agents);
            for round in 0..secs {
                tick.tick().await;
                for k in 0..share {
                    let m = (a * monitors + (round as usize * share + k) % monitors) % series;
                    let t = Instant::now();
                    let r = c
                        .get(format!(
                            "{base}/api/v1/push/push-token-{m}?status=up&ping=25"
                        ))
                        .send()
                        .await;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    match r {
                        Ok(r) if r.status().is_success() => results += 1,
                        _ => errors += 1,
                    }
                }
            }
            (lat, results, errors)
        }));
    }
    collect(tasks, pid, cpu0, started).await
}

type Run = tokio::task::JoinHandle<(Vec<f64>, u64, u64)>;

async fn collect(tasks: Vec<Run>, pid: u32, cpu0: f64, started: Instant) -> Figures {
    let mut lat = Vec::new();
    let (mut results, mut errors) = (0, 0);
    for t in tasks {
        let (l, r, e) = t.await.expect("sender");
        lat.extend(l);
        results += r;
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    Figures {
        results,
        requests: lat.len() as u64,
        errors,
        cpu_s: util::pid_cpu_seconds(pid) - cpu0,
        peak_rss_mib: util::pid_mem_mib(pid, "VmHWM"),
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        secs,
    }
}
