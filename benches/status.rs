//! The public status page under a stampede, with probing and ingest running:
//!
//!     cargo bench --bench status -- [--secs 8] [--concurrency 64] [--monitors 2000]
//!
//! Panoptes (release binary, own process and data directory) probes N HTTP monitors at a 10 s
//! interval against a local target and ingests ~200 Sentry events/s, while `wrk` (Debian
//! package) reads the status page (20 components, an open incident) and its `summary.json`.
//! The baseline in the same run is a bare axum handler serving the same bytes from memory
//! (what serving a static file costs on this machine with this load generator). Probing's
//! schedule lag p99 is read from Panoptes' own histogram before and during the load.
//!
//! With `--kuma 1` (after `scripts/kuma-setup.sh`), Uptime Kuma 2.5.3's status page runs in the
//! same run: 20 HTTP monitors on one public page, its HTML and its heartbeat JSON read by the
//! same `wrk`. Kuma answers repeated URLs from a response cache, so both servers are also read
//! with a new query string per request ("busted"), which is what many different readers'
//! requests cost when that cache does not hold (Panoptes ignores the query: same bytes).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[path = "util.rs"]
mod util;

const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";

/// Requests/s, p50 and p99 in ms, and non-2xx/3xx answers, from plain `wrk --latency`.
fn wrk(url: &str, c: u64, secs: u64, accept_encoding: &str) -> (f64, f64, f64, u64) {
    wrk_with(url, c, secs, accept_encoding, None)
}

/// `wrk`, optionally with a Lua script.
fn wrk_with(
    url: &str,
    c: u64,
    secs: u64,
    accept_encoding: &str,
    script: Option<&Path>,
) -> (f64, f64, f64, u64) {
    let mut cmd = Command::new("wrk");
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd
        .args([
            &format!("-t{}", c.min(2)),
            &format!("-c{c}"),
            &format!("-d{secs}s"),
            "--latency",
            "-H",
            &format!("Accept-Encoding: {accept_encoding}"),
            url,
        ])
        .output()
        .expect("run wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let ms = |v: &str| -> f64 {
        let v = v.trim();
        if let Some(x) = v.strip_suffix("us") {
            x.parse::<f64>().unwrap_or(0.0) / 1000.0
        } else if let Some(x) = v.strip_suffix("ms") {
            x.parse().unwrap_or(0.0)
        } else if let Some(x) = v.strip_suffix('s') {
            x.parse::<f64>().unwrap_or(0.0) * 1000.0
        } else {
            0.0
        }
    };
    let pct = |p: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(ms)
            .unwrap_or(0.0)
    };
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let bad = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (rps, pct("50%"), pct("99%"), bad)
}

/// Serves `body` for every path (the static-file baseline), with the same content type.
fn bare(body: Vec<u8>, content_type: &'static str) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let body = bytes::Bytes::from(body);
            let app = axum::Router::new().fallback(move || {
                let body = body.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, content_type)], body) }
            });
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr").port()).expect("send");
            axum::serve(l, app).await.expect("serve");
        });
    });
    rx.recv().expect("port")
}

/// The probed target: answers 200 `{"status":"UP"}`.
fn target() -> u16 {
    bare(br#"{"status":"UP"}"#.to_vec(), "application/json")
}

fn panoptes(dir: &Path, monitors: u64, target: u16) -> util::Server {
    let bin = env!("CARGO_BIN_EXE_panoptes");
    let data = dir.join("data");
    let cfg = dir.join("panoptes.yaml");
    let mut yaml = format!(
        "probing: {{concurrency: 256}}\nprojects:\n  - id: 7\n    name: bench\n    keys: [{KEY}]\nmonitors:\n"
    );
    for i in 0..monitors {
        yaml.push_str(&format!(
            "  - {{name: m{i}, type: http, url: \"http://127.0.0.1:{target}/health/{i}\", interval: 10s, conditions: [\"[STATUS] == 200\"]}}\n"
        ));
    }
    yaml.push_str(
        "status_pages:\n  - slug: public\n    title: Bench Inc. status\n    components:\n",
    );
    for i in 0..20 {
        yaml.push_str(&format!(
            "      - {{name: Component {i}, monitor: m{i}, description: Service number {i}}}\n"
        ));
    }
    std::fs::write(&cfg, yaml).expect("config");
    util::start_server(bin, &cfg, &data)
}

/// Cumulative bucket counts of the schedule-lag histogram.
fn lag_buckets(port: u16) -> Vec<(f64, f64)> {
    let text = reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("panoptes_probe_schedule_lag_seconds_bucket"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let n: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((le, n))
        })
        .collect()
}

/// p99 (upper bucket bound, ms) of the checks between two histogram readings, and their count.
fn lag_p99(before: &[(f64, f64)], after: &[(f64, f64)]) -> (f64, f64) {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, n)| {
            let b = before
                .iter()
                .find(|(l, _)| l == le)
                .map(|(_, n)| *n)
                .unwrap_or(0.0);
            (*le, n - b)
        })
        .collect();
    let total = delta.last().map(|(_, n)| *n).unwrap_or(0.0);
    let p99 = delta
        .iter()
        .find(|(_, n)| *n >= total * 0.99)
        .map(|(le, _)| le * 1000.0)
        .unwrap_or(f64::NAN);
    (p99, total)
}

/// ~200 Sentry events/s until `stop`.
fn ingest(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::new();
        let url = format!("http://127.0.0.1:{port}/api/7/envelope/?sentry_key={KEY}");
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let event = serde_json::json!({"platform": "python", "level": "error",
                "exception": {"values": [{"type": format!("Bench{}", sent % 50), "value": "boom"}]}});
            let body = format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n");
            if client
                .post(&url)
                .body(body)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        sent
    })
}

/// A new query string per request: a response cache keyed on the URL never holds.
const BUST: &str = r#"local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", wrk.path .. "?b=" .. math.random(1e9) .. n)
end
"#;

/// Uptime Kuma with a status page of 20 monitors probing `target`: (pid, page URL, heartbeat
/// JSON URL); `None` when `scripts/kuma-setup.sh` has not been run.
fn kuma(data: &Path, target: u16) -> Option<(u32, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".tools/kuma-venv/bin/python");
    if !python.exists() {
        eprintln!("--kuma: run scripts/kuma-setup.sh first; Kuma left out");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let out = Command::new(python)
        .arg(root.join("scripts/kuma-status-page.py"))
        .args(["--port", &port.to_string(), "--monitors", "20", "--target"])
        .arg(format!("http://127.0.0.1:{target}/"))
        .arg("--data-dir")
        .arg(data)
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let v: serde_json::Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(_) => {
            eprintln!(
                "Kuma did not start: {line}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
    };
    Some((
        v["pid"].as_u64()? as u32,
        v["page"].as_str()?.to_string(),
        v["json"][1].as_str()?.to_string(),
    ))
}

/// Peak RSS and CPU seconds of a process, from /proc.
fn rss_cpu(pid: u32) -> (String, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks: f64 = stat
        .rsplit_once(')')
        .map(|(_, r)| {
            r.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(0.0);
    (hwm, ticks / 100.0)
}

fn main() {
    panoptes::outbound::install_crypto_provider();
    let secs = util::arg("--secs", 8);
    let c = util::arg("--concurrency", 64);
    let monitors = util::arg("--monitors", 2000);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target();
    let p = panoptes(dir.path(), monitors, target);
    let base = format!("http://127.0.0.1:{}", p.port);
    let http = reqwest::blocking::Client::new();
    let r = http
        .post(format!("{base}/api/v1/status-pages/public/incidents"))
        .bearer_auth(&p.token)
        .json(&serde_json::json!({"name": "Elevated errors", "status": "investigating", "impact": "minor",
            "body": "We are **looking into it**.", "components": {"Component 3": "degraded_performance"}}))
        .send()
        .expect("incident");
    assert!(r.status().is_success(), "incident: {}", r.status());
    // Let the first probe round finish and the page re-render with results.
    std::thread::sleep(Duration::from_secs(12));
    let page = http
        .get(format!("{base}/status/public"))
        .send()
        .expect("page")
        .bytes()
        .expect("body");
    let summary = http
        .get(format!("{base}/status/public/api/v2/summary.json"))
        .send()
        .expect("summary")
        .bytes()
        .expect("body");
    println!(
        "status page: {} bytes of HTML, summary.json {} bytes; {monitors} monitors probed every 10 s; wrk -c{c} {secs} s per row",
        page.len(),
        summary.len()
    );
    let bare_page = bare(page.to_vec(), "text/html; charset=utf-8");
    let bare_json = bare(summary.to_vec(), "application/json");

    let stop = Arc::new(AtomicBool::new(false));
    let feeder = ingest(p.port, stop.clone());
    // Probing lag with ingest only, then under the page load.
    let quiet_from = lag_buckets(p.port);
    std::thread::sleep(Duration::from_secs(secs));
    let quiet = lag_p99(&quiet_from, &lag_buckets(p.port));
    println!();
    println!("| server | what | encoding | req/s | p50 ms | p99 ms | non-2xx |");
    println!("|---|---|---|---:|---:|---:|---:|");
    let mut loaded_from = Vec::new();
    let mut loaded_to = Vec::new();
    for (what, path, bare_port) in [
        ("page", "/status/public", bare_page),
        (
            "summary.json",
            "/status/public/api/v2/summary.json",
            bare_json,
        ),
    ] {
        for enc in ["identity", "br"] {
            let (rps, p50, p99, bad) = wrk(
                &format!("http://127.0.0.1:{bare_port}{path}"),
                c,
                secs,
                "identity",
            );
            if enc == "identity" {
                println!(
                    "| bare axum, bytes in memory | {what} | identity | {rps:.0} | {p50:.2} | {p99:.2} | {bad} |"
                );
            }
            let from = lag_buckets(p.port);
            let (rps_p, p50_p, p99_p, bad_p) = wrk(&format!("{base}{path}"), c, secs, enc);
            loaded_to = lag_buckets(p.port);
            if loaded_from.is_empty() {
                loaded_from = from;
            }
            println!(
                "| Panoptes | {what} | {enc} | {rps_p:.0} ({:.0} % of bare) | {p50_p:.2} | {p99_p:.2} | {bad_p} |",
                rps_p / rps * 100.0
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let events = feeder.join().unwrap_or(0);
    let loaded = lag_p99(&loaded_from, &loaded_to);
    println!();
    println!(
        "probing schedule lag p99: {:.1} ms with ingest only ({} checks), {:.1} ms under the page load ({} checks); {events} events ingested meanwhile",
        quiet.0, quiet.1, loaded.0, loaded.1
    );
    let (hwm, cpu) = rss_cpu(p.child.id());
    println!("Panoptes: peak RSS {hwm}, CPU {cpu:.1} s over the whole run");
    if util::arg("--kuma", 0) == 1 {
        side_by_side(&base, target, c, secs);
    }
}

/// Uptime Kuma's status page and Panoptes' in the same run, plain and cache-busted.
fn side_by_side(base: &str, target: u16, c: u64, secs: u64) {
    let data = tempfile::tempdir().expect("tempdir");
    let Some((pid, page, json)) = kuma(&data.path().join("kuma"), target) else {
        return;
    };
    let bust = data.path().join("bust.lua");
    std::fs::write(&bust, BUST).expect("lua");
    println!();
    println!(
        "Uptime Kuma 2.5.3 side by side (its page: 20 monitors, no ingest; wrk -c{c} {secs} s per row):"
    );
    println!();
    println!("| server | what | requests | req/s | p50 ms | p99 ms | non-2xx |");
    println!("|---|---|---|---:|---:|---:|---:|");
    let rows = [
        (
            "Panoptes",
            "page (HTML, complete)",
            format!("{base}/status/public"),
        ),
        ("Uptime Kuma", "page (SPA shell)", page),
        (
            "Panoptes",
            "summary.json",
            format!("{base}/status/public/api/v2/summary.json"),
        ),
        ("Uptime Kuma", "heartbeat JSON", json),
    ];
    for (server, what, url) in &rows {
        for (label, script) in [("same URL", None), ("busted", Some(bust.as_path()))] {
            let (rps, p50, p99, bad) = wrk_with(url, c, secs, "identity", script);
            println!("| {server} | {what} | {label} | {rps:.0} | {p50:.2} | {p99:.2} | {bad} |");
        }
    }
    let (hwm, cpu) = rss_cpu(pid);
    println!();
    println!("Uptime Kuma: peak RSS {hwm}, CPU {cpu:.1} s over its run");
    let _ = Command::new("kill").arg(pid.to_string()).status();
    std::thread::sleep(Duration::from_secs(2));
}
