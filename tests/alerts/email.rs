//! E-mail through a real SMTP server (aiosmtpd from PyPI): one message per group, to every
//! recipient, with text and HTML parts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Server;

use super::common::PYTHON;
const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smtp_sink.py");

pub struct Sink {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_sink() -> Sink {
    let port = super::common::reserved_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(PYTHON)
        .arg(SINK)
        .arg(port.to_string())
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd (scripts/setup.sh installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "ready");
    Sink { child, port, dir }
}

pub fn wait_mail(sink: &Sink, n: usize) -> Value {
    let path = sink.dir.path().join(format!("{n}.json"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no e-mail {n}");
        std::thread::sleep(Duration::from_millis(50));
    }
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

#[tokio::test]
async fn alerts_arrive_by_email_with_text_and_html() {
    let sink = start_sink();
    let s = Server::start(&format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
alerts:
  global: {{smtp_smarthost: "127.0.0.1:{port}", smtp_from: "panoptes@example.com", smtp_require_tls: false}}
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api]}}
      severity: critical
      annotations: {{summary: "{{{{ .Monitor }}}} is {{{{ .State }}}}"}}
  route: {{receiver: mail, group_by: [alertname], group_wait: 1s, group_interval: 1s}}
  receivers:
    - name: mail
      email_configs: [{{to: "oncall@example.com, lead@example.com", send_resolved: true, headers: {{X-Team: web}}}}]
"#,
        port = sink.port
    ));
    s.push("api-token-0123456789", false).await;
    let m = wait_mail(&sink, 1);
    assert_eq!(m["from"], "panoptes@example.com");
    assert_eq!(
        m["to"],
        serde_json::json!(["oncall@example.com", "lead@example.com"])
    );
    let data = m["data"].as_str().expect("data");
    assert!(data.contains("Subject: [FIRING:1] ApiDown"), "{data}");
    assert!(data.contains("X-Team: web"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("text/plain"), "{data}");
    assert!(data.contains("text/html"), "{data}");
    assert!(data.contains("api is DOWN"), "{data}");
    s.push("api-token-0123456789", true).await;
    let m = wait_mail(&sink, 2);
    assert!(
        m["data"]
            .as_str()
            .is_some_and(|d| d.contains("Subject: [RESOLVED:1] ApiDown")),
        "{m}"
    );
    let n = s
        .wait_json(
            "/api/v1/notifications?receiver=mail",
            Duration::from_secs(10),
            |n| n["items"][0]["state"] == "delivered",
        )
        .await;
    assert_eq!(n["items"][0]["attempts"][0]["status"], 250);
}
