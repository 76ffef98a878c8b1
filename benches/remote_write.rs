//! What remote-write costs: probe results turned into a remote-write request (series, protobuf,
//! snappy) per second and bytes per sample, against a baseline in the same run — the same
//! samples as JSON lines gzip-compressed (what a hand-rolled exporter or VictoriaMetrics' JSON
//! import would take) — and, when Debian's `prometheus` is installed, the rate a real
//! Prometheus accepts them at.
//!
//!     cargo bench --bench remote_write -- [--monitors 2000] [--results 30]

#[path = "util.rs"]
mod util;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use panoptes::probe::rollup::ResultRecord;
use panoptes::probe::state::State;
use panoptes::remote_write::encode::{self, MonitorLabels};

fn main() {
    panoptes::outbound::install_crypto_provider();
    let monitors = util::arg("--monitors", 2000) as usize;
    let per = util::arg("--results", 30);
    let labels: Vec<MonitorLabels> = (0..monitors)
        .map(|i| MonitorLabels {
            name: format!("api-{i}"),
            kind: "http".into(),
            group: Some(format!("team-{}", i % 20)),
        })
        .collect();
    let start_ms = 1_700_000_000_000u64;
    let mut results = Vec::new();
    for (i, m) in labels.iter().enumerate() {
        for k in 0..per {
            results.push((
                m,
                start_ms + k * 10_000,
                ResultRecord {
                    state: if (i as u64 + k).is_multiple_of(97) {
                        State::Down
                    } else {
                        State::Up
                    },
                    ok: !(i as u64 + k).is_multiple_of(97),
                    latency_us: 1_000 + (i as u64 * 7 + k * 13) % 90_000,
                    status: Some(200),
                    failed_conditions: 0,
                    error: None,
                },
            ));
        }
    }
    let external = BTreeMap::from([("region".to_string(), "eu-1".to_string())]);

    // Panoptes: series, batches of 5,000 samples, protobuf + snappy.
    let t = Instant::now();
    let series = encode::series_of(&results, &external);
    let samples: usize = series.iter().map(|s| s.samples.len()).sum();
    let bodies: Vec<Vec<u8>> = encode::batches(series.clone(), 5_000)
        .iter()
        .map(|b| encode::body(b).expect("body"))
        .collect();
    let ours = t.elapsed();
    let our_bytes: usize = bodies.iter().map(Vec::len).sum();

    // Baseline: the same samples as JSON lines, gzip.
    let t = Instant::now();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for s in &series {
        let metric: BTreeMap<&str, &str> = s
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for (ts, v) in &s.samples {
            let line = serde_json::json!({"metric": metric, "value": v, "timestamp": ts});
            serde_json::to_writer(&mut gz, &line).expect("json");
            gz.write_all(b"\n").expect("write");
        }
    }
    let json_gz = gz.finish().expect("gzip");
    let base = t.elapsed();

    println!(
        "{} results of {monitors} monitors -> {samples} samples in {} series",
        results.len(),
        series.len()
    );
    println!();
    println!("| encoding | samples/s | bytes/sample |");
    println!("|---|---:|---:|");
    println!(
        "| Panoptes remote-write (protobuf + snappy, 5,000 per request) | {:.0} | {:.2} |",
        samples as f64 / ours.as_secs_f64(),
        our_bytes as f64 / samples as f64
    );
    println!(
        "| baseline: JSON lines + gzip (fast) | {:.0} | {:.2} |",
        samples as f64 / base.as_secs_f64(),
        json_gz.len() as f64 / samples as f64
    );

    // A real Prometheus, if installed: how fast it takes them.
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("\n(no `prometheus` binary: delivery not measured)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let cfg = dir.path().join("p.yml");
    std::fs::write(&cfg, "global: {scrape_interval: 1h}\n").expect("cfg");
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus");
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("http://127.0.0.1:{port}/-/ready"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "prometheus not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Recent timestamps, so the head takes them: the same series, shifted to now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let shift = now - (start_ms as i64 + per as i64 * 10_000);
    let shifted: Vec<encode::Series> = series
        .into_iter()
        .map(|mut s| {
            for x in &mut s.samples {
                x.0 += shift;
            }
            s
        })
        .collect();
    let bodies: Vec<Vec<u8>> = encode::batches(shifted, 5_000)
        .iter()
        .map(|b| encode::body(b).expect("body"))
        .collect();
    let t = Instant::now();
    let mut refused = 0;
    for b in bodies {
        let r = http
            .post(format!("http://127.0.0.1:{port}/api/v1/write"))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(b)
            .send()
            .expect("post");
        if !r.status().is_success() {
            refused += 1;
        }
    }
    let took = t.elapsed();
    println!();
    println!(
        "Prometheus 2.42 (Debian) took {samples} samples in {:.2} s: {:.0} samples/s over one connection, {refused} requests refused",
        took.as_secs_f64(),
        samples as f64 / took.as_secs_f64()
    );
    let _ = prom.kill();
    let _ = prom.wait();
}
