//! Probing side by side with Uptime Kuma 2.5.3: the same N HTTP monitors at a 20 s interval (Kuma's
//! minimum) against the same local targets, one server after the other in one run.
//!
//!     scripts/kuma-setup.sh                                   # once: Kuma from ../shared/peers
//!     cargo bench --bench kuma -- --monitors 1000,2000 --window 120 [--kuma 0]
//!
//! Per server and N: the time from a (re)start to every monitor checked, then, after --warm
//! seconds, over --window seconds: checks done, the server process's CPU per check (utime +
//! stime of its /proc/PID/stat; the targets run in this process and are not counted), RSS and
//! peak RSS, bytes stored per result (Panoptes: the raw results table with its b-tree; Kuma:
//! the `heartbeat` table and its indexes) and the data file's growth per check; last, the
//! dashboard's list of all monitors (Panoptes: every page of `GET /api/v1/monitors`; Kuma: a
//! Socket.IO login until `monitorList` arrives). Kuma's side is `scripts/kuma-probes.py`.
//! Both check only the status (Kuma's HTTP type: 2xx; Panoptes: `[STATUS] == 200`).

#[path = "util.rs"]
mod util;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

const INTERVAL_S: u64 = 20;

/// One server's figures at one N.
#[derive(Default)]
struct Row {
    start_to_all_s: f64,
    restart_to_all_s: Option<f64>,
    checks: f64,
    window_s: f64,
    cpu_s: f64,
    rss: f64,
    peak_rss: f64,
    bytes_per_result: f64,
    growth_per_check: f64,
    list_ms: f64,
}

impl Row {
    fn print(&self, who: &str, n: usize) {
        println!(
            "| {who} | {n} | {:.1} | {} | {:.1} ({:.1}) | {:.3} | {:.0} | {:.0} / {:.0} | {:.1} | {:.1} | {} |",
            self.start_to_all_s,
            self.restart_to_all_s
                .map_or("-".to_string(), |s| format!("{s:.1}")),
            self.checks / self.window_s.max(1e-9),
            n as f64 / INTERVAL_S as f64,
            self.cpu_s * 1000.0 / self.checks.max(1.0),
            self.checks / self.cpu_s.max(1e-9),
            self.rss,
            self.peak_rss,
            self.bytes_per_result,
            self.growth_per_check,
            if self.list_ms.is_finite() {
                format!("{:.1}", self.list_ms)
            } else {
                "timed out".to_string()
            },
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn data_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    /// Every monitor, page by page, as the dashboard reads them.
    async fn monitors(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/monitors?limit=1000&cursor={c}"),
                None => "/api/v1/monitors?limit=1000".to_string(),
            };
            let page = self.get(&path).await;
            all.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
    }

    /// Monitors checked at or after `since`.
    async fn checked_since(&self, since: jiff::Timestamp) -> usize {
        self.monitors()
            .await
            .iter()
            .filter(|m| {
                m["last_check_at"]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|t| t >= since)
            })
            .count()
    }

    async fn checks(&self) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|l| l.starts_with("panoptes_probe_checks_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// Waits until all `n` monitors were checked at or after `since`; seconds from `t0`.
async fn until_all_checked(api: &Api, n: usize, since: jiff::Timestamp, t0: Instant) -> f64 {
    let deadline = t0 + Duration::from_secs(INTERVAL_S * 3 + 60);
    loop {
        let have = api.checked_since(since).await;
        if have >= n {
            return t0.elapsed().as_secs_f64();
        }
        assert!(
            Instant::now() < deadline,
            "only {have} of {n} monitors checked"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn stop(server: &mut util::Server) {
    // SIGTERM, as a service manager restarts it: a clean shutdown, then the next start.
    let _ = std::process::Command::new("kill")
        .arg(server.child.id().to_string())
        .status();
    let _ = server.child.wait();
}

async fn panoptes(n: usize, addrs: &[SocketAddr], warm: f64, window: f64) -> Row {
    let bin = env!("CARGO_BIN_EXE_panoptes");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut cfg =
        String::from("probing:\n  concurrency: 512\n  per_host_concurrency: 512\nmonitors:\n");
    for i in 0..n {
        let a = addrs[i % addrs.len()];
        cfg.push_str(&format!(
            "  - {{name: m{i:05}, type: http, url: \"http://{a}/health/{i}\", interval: {INTERVAL_S}s, timeout: 16s, conditions: [\"[STATUS] == 200\"]}}\n"
        ));
    }
    let cfg_path = dir.path().join("c.yaml");
    std::fs::write(&cfg_path, cfg).expect("config");
    let http = reqwest::Client::new();
    let mut row = Row::default();

    let since = jiff::Timestamp::now();
    let t0 = Instant::now();
    let mut server = util::start_server(bin, &cfg_path, &data);
    let mut api = Api {
        http: http.clone(),
        base: format!("http://127.0.0.1:{}", server.port),
        token: server.token.clone(),
    };
    row.start_to_all_s = until_all_checked(&api, n, since, t0).await;

    tokio::time::sleep(Duration::from_secs_f64(warm)).await;
    let pid = server.child.id();
    let (checks0, cpu0, bytes0, w0) = (
        api.checks().await,
        util::pid_cpu_seconds(pid),
        data_bytes(&data),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs_f64(window)).await;
    let (checks1, cpu1, bytes1) = (
        api.checks().await,
        util::pid_cpu_seconds(pid),
        data_bytes(&data),
    );
    row.window_s = w0.elapsed().as_secs_f64();
    row.checks = checks1 - checks0;
    row.cpu_s = cpu1 - cpu0;
    row.rss = util::pid_mem_mib(pid, "VmRSS");
    row.peak_rss = util::pid_mem_mib(pid, "VmHWM");
    row.growth_per_check = bytes1.saturating_sub(bytes0) as f64 / row.checks.max(1.0);
    let mut lists = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let all = api.monitors().await;
        lists.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(all.len(), n, "the list has every monitor");
    }
    row.list_ms = median(lists);

    // Restart: the data file is kept; time until every monitor is checked again.
    stop(&mut server);
    let since = jiff::Timestamp::now();
    let t0 = Instant::now();
    // A new token each start (`token create` writes into the data file before the start).
    server = util::start_server(bin, &cfg_path, &data);
    api.base = format!("http://127.0.0.1:{}", server.port);
    api.token = server.token.clone();
    row.restart_to_all_s = Some(until_all_checked(&api, n, since, t0).await);
    stop(&mut server);

    // Bytes per stored result, read from the data file once the server is gone.
    let store = panoptes::store::Store::open(
        &data,
        panoptes::store::StoreOptions::default(),
        panoptes::metrics::Metrics::new().store.clone(),
    )
    .expect("open the data file");
    let (rows, table, index) = store.probe_results_stats().expect("stats");
    row.bytes_per_result = (table + index) as f64 / rows.max(1) as f64;
    store.close().await;
    row
}

fn kuma(n: usize, addrs: &[SocketAddr], warm: f64, window: f64) -> Option<Row> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".tools/kuma-venv/bin/python");
    if !python.exists()
        || !root
            .join(".tools/uptime-kuma-2.5.3/dist/index.html")
            .exists()
    {
        println!("(Uptime Kuma is not set up: run scripts/kuma-setup.sh; its rows are left out)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(root.join("scripts/kuma-probes.py"))
        .args(["--port", &port.to_string()])
        .arg("--data-dir")
        .arg(dir.path().join("kuma"))
        .args(["--monitors", &n.to_string()])
        .args(["--interval", &INTERVAL_S.to_string()])
        .args(["--warm", &warm.to_string(), "--window", &window.to_string()]);
    for a in addrs {
        cmd.args(["--url", &format!("http://{a}/health/{{i}}")]);
    }
    let out = cmd.output().expect("run scripts/kuma-probes.py");
    if !out.status.success() {
        println!(
            "Kuma run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let v: Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap_or_default(),
    )
    .expect("kuma-probes.py prints one JSON line");
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    Some(Row {
        start_to_all_s: f("start_to_all_checked_s"),
        // Kuma's run starts it on a data file that already holds the monitors: a restart.
        restart_to_all_s: Some(f("start_to_all_checked_s")),
        checks: f("checks"),
        window_s: f("window_s"),
        cpu_s: f("cpu_s"),
        rss: f("rss_mib"),
        peak_rss: f("peak_rss_mib"),
        bytes_per_result: f("bytes_per_result"),
        growth_per_check: f("file_growth_bytes_per_check"),
        // A list that timed out is recorded as infinitely slow (printed as such).
        list_ms: if v["list_timed_out_s"].is_number() {
            f64::INFINITY
        } else {
            f("list_ms_p50")
        },
    })
}

#[tokio::main]
async fn main() {
    panoptes::outbound::install_crypto_provider();
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = util::arg(
        "--monitors",
        if bench { "1000,2000" } else { "20" }.to_string(),
    )
    .split(',')
    .filter_map(|s| s.trim().parse().ok())
    .collect();
    let window: f64 = util::arg("--window", if bench { 120.0 } else { 5.0 });
    let warm: f64 = util::arg("--warm", if bench { 30.0 } else { 1.0 });
    let with_kuma = util::arg("--kuma", if bench { 1 } else { 0 }) == 1;
    let addrs = util::http_targets(8).await;
    println!(
        "probing side by side: HTTP monitors at {INTERVAL_S} s, 8 local targets, {warm} s warm-up, {window} s window"
    );
    println!(
        "| server | monitors | start → all checked s | restart → all checked s | checks/s (ideal) | CPU ms/check | checks per CPU-s | RSS / peak MiB | bytes/result stored | file growth B/check | list all ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for &n in &sizes {
        let p = panoptes(n, &addrs, warm, window).await;
        p.print("Panoptes", n);
        let k = if with_kuma {
            let addrs = addrs.clone();
            tokio::task::spawn_blocking(move || kuma(n, &addrs, warm, window))
                .await
                .expect("kuma run")
        } else {
            None
        };
        if let Some(k) = &k {
            k.print("Uptime Kuma 2.5.3", n);
        }
        rows.push((n, p, k));
    }
    for (n, p, k) in rows {
        if let Some(k) = k {
            let per_cpu = |r: &Row| r.checks / r.cpu_s.max(1e-9);
            println!(
                "{n} monitors: Panoptes does {:.1}x Kuma's checks per CPU-second, stores {:.1}x fewer bytes per result, lists all monitors {}, RSS {:.1}x lower",
                per_cpu(&p) / per_cpu(&k).max(1e-9),
                k.bytes_per_result / p.bytes_per_result.max(1e-9),
                if k.list_ms.is_finite() {
                    format!("{:.1}x faster", k.list_ms / p.list_ms.max(1e-9))
                } else {
                    format!("in {:.0} ms (Kuma's timed out)", p.list_ms)
                },
                k.rss / p.rss.max(1e-9),
            );
        }
    }
}
