//! Remote-write against the real Prometheus (Debian's `prometheus`, with
//! `--web.enable-remote-write-receiver`): probe results sent while it was not yet running arrive
//! once it is (the cursor waits), with their labels, and are read back through its query API.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{client, start};

struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn prometheus(port: u16) -> Prometheus {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global: {scrape_interval: 1h}\n").expect("config");
    let child = Command::new("prometheus")
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
        .expect("start prometheus (scripts/setup.sh installs it)");
    let p = Prometheus {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client()
            .get(format!("http://127.0.0.1:{port}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return p;
        }
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An instant query's result vector.
async fn query(port: u16, q: &str) -> Vec<Value> {
    let url = reqwest::Url::parse_with_params(
        &format!("http://127.0.0.1:{port}/api/v1/query"),
        &[("query", q)],
    )
    .expect("url");
    let v: Value = client()
        .get(url)
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(v["status"], "success", "{v:#}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_results_reach_prometheus_even_when_it_starts_late() {
    let port = super::common::reserved_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0, group: edge}}
remote_write:
  - name: prom
    url: "http://127.0.0.1:{port}/api/v1/write"
    send_interval: 200ms
    delay: 1s
    external_labels: {{region: test-1}}
"#
        ),
    )
    .expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    // Results while nothing listens: the sender fails and keeps its cursor.
    for status in ["up", "down", "up"] {
        let r = c
            .post(s.url(&format!(
                "/api/v1/push/api-token-0123456789?status={status}"
            )))
            .send()
            .await
            .expect("push");
        assert!(r.status().is_success());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.wait_for_log("remote-write failed", Duration::from_secs(20));
    let prom = prometheus(port).await;

    let q = r#"count_over_time(panoptes_probe_success{monitor="api",group="edge",type="push",region="test-1"}[1h])"#;
    let deadline = Instant::now() + Duration::from_secs(45);
    let counted = loop {
        let r = query(prom.port, q).await;
        let n = r
            .first()
            .and_then(|x| x["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if n >= 3.0 {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus has {n} of 3 samples: {r:?}\n{}",
            s.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(counted, 3.0, "each result once");
    // Up, down, up: the sum of successes is 2; every result carried a duration.
    let sum = query(
        prom.port,
        r#"sum_over_time(panoptes_probe_success{monitor="api"}[1h])"#,
    )
    .await;
    assert_eq!(sum[0]["value"][1], "2", "{sum:?}");
    let durations = query(
        prom.port,
        r#"count_over_time(panoptes_probe_duration_seconds{monitor="api"}[1h])"#,
    )
    .await;
    assert_eq!(durations[0]["value"][1], "3");
    s.wait_for_log("remote-write delivers again", Duration::from_secs(5));
}
