//! `store_failed` reaches someone although the store that would record it has failed: the
//! server runs with a file-size limit (`prlimit --fsize`, SIGXFSZ ignored), so once ingest has
//! grown its data file to the limit the kernel refuses the write (EFBIG), a real I/O error of
//! the file, and the store fails for good. The alert is then delivered from memory to a local
//! webhook receiver.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::Server;
use super::common::{self, Running};
use super::receiver::Receiver;

const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
const WAIT: Duration = Duration::from_secs(60);

/// `panoptes serve` as `common::start` runs it, but with writes to files capped at `fsize`
/// bytes. SIGXFSZ is ignored (an ignored signal stays ignored across exec), so the write past
/// the limit fails with EFBIG instead of killing the process.
fn start_limited(data: &std::path::Path, config: &std::path::Path, fsize: u64) -> Running {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' XFSZ; f=$1; shift; exec prlimit --fsize=\"$f\" -- \"$@\"")
        .arg("sh")
        .arg(fsize.to_string())
        .arg(common::BIN)
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config);
    common::without_panoptes_env(&mut cmd);
    common::spawn_serving(cmd, data)
}

#[tokio::test]
async fn store_failed_is_delivered_although_the_store_cannot_record_it() {
    let r = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"
projects:
  - {{id: 7, name: shop, keys: [{KEY}]}}
ingest: {{flood_max_events: 1000}}
alerts:
  delivery: {{retry_backoff: 200ms, max_backoff: 1s}}
  rules:
    - name: StoreBroken
      panoptes: {{event: store_failed}}
      severity: critical
      annotations: {{summary: "store failed: {{{{ .Value }}}}"}}
  route: {{receiver: ops, group_by: [alertname], group_wait: 0s, group_interval: 1s}}
  receivers:
    - name: ops
      webhook_configs: [{{url: "{hook}"}}]
"#,
            hook = r.url("/hook")
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let token = common::create_token(&data, "test");
    let size = std::fs::metadata(data.join("panoptes.redb"))
        .expect("data file")
        .len();
    // Room to start; ingest fills the rest.
    let run = start_limited(&data, &cfg, size + 4 * 1024 * 1024);
    let s = Server {
        run,
        token,
        http: common::client(),
        dir,
        config: cfg,
    };

    // Large events, each its own issue, until the store fails (`/healthz` 503).
    let pad = "x".repeat(200 * 1024);
    let deadline = Instant::now() + WAIT;
    let mut sent = 0;
    loop {
        let health = s.http.get(s.url("/healthz")).send().await.expect("healthz");
        if health.status() == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the store never failed after {sent} events; logs:\n{}",
            s.run.log_text()
        );
        let id = uuid::Uuid::new_v4().simple().to_string();
        let event = json!({"event_id": id, "message": "fill", "fingerprint": [id],
            "extra": {"pad": pad}});
        // Refused (503) once the store failed; that is the point.
        let _ = super::send_envelope(&s, KEY, &event).await;
        sent += 1;
    }

    // The alert, from memory, through the normal webhook channel.
    let hits = r.wait_for("/hook", 1, WAIT).await;
    let body = hits[0].json();
    assert_eq!(body["status"], "firing", "{body:#}");
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "StoreBroken", "{body:#}");
    assert_eq!(alert["labels"]["severity"], "critical");
    let summary = alert["annotations"]["summary"].as_str().unwrap_or("");
    // The store's own reason: the kernel's EFBIG, a real I/O error of the file.
    assert!(
        summary.starts_with("store failed: ") && summary.contains("File too large"),
        "{summary}"
    );
    // It is firing in memory too, and the log says the delivery is not durable.
    let page = s.json("/api/v1/alerts").await;
    assert_eq!(super::alerts_named(&page, "StoreBroken", "firing").len(), 1);
    s.run
        .wait_for_log("delivering Panoptes' own alert unrecorded", WAIT);
}
