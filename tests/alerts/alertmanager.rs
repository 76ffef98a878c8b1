//! Pushing to a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`), which hands
//! the alerts on through its own webhook to a test receiver.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Server;
use super::receiver::Receiver;

struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_alertmanager(hook: &str) -> Alertmanager {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        format!(
            "route: {{receiver: hook, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}}\n\
             receivers:\n  - name: hook\n    webhook_configs: [{{url: \"{hook}\", send_resolved: true}}]\n"
        ),
    )
    .expect("config");
    let port = super::common::reserved_port();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-alertmanager (scripts/setup.sh installs it)");
    let am = Alertmanager {
        child,
        port,
        _dir: dir,
    };
    let client = super::common::client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return am;
        }
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn alerts_reach_a_real_alertmanager_and_resolve_there() {
    let r = Receiver::start().await;
    let am = start_alertmanager(&r.url("/am-hook")).await;
    let s = Server::start(&format!(
        r#"
monitors:
  - {{name: api, type: push, token: api-token-0123456789, interval: 1h, retries: 0}}
alerts:
  rules:
    - name: ApiDown
      monitor: {{state: down, monitors: [api]}}
      severity: critical
      annotations: {{summary: "{{{{ .Monitor }}}} is {{{{ .State }}}}"}}
  route: {{receiver: am, group_by: [alertname], group_wait: 1s, group_interval: 1s}}
  receivers:
    - name: am
      alertmanager_configs: [{{url: "http://127.0.0.1:{port}"}}]
"#,
        port = am.port
    ));
    s.push("api-token-0123456789", false).await;
    let hits = r.wait_for("/am-hook", 1, Duration::from_secs(30)).await;
    let m = hits[0].json();
    assert_eq!(m["status"], "firing");
    assert_eq!(m["alerts"][0]["labels"]["alertname"], "ApiDown");
    assert_eq!(m["alerts"][0]["labels"]["monitor"], "api");
    assert_eq!(m["alerts"][0]["labels"]["severity"], "critical");
    assert_eq!(m["alerts"][0]["annotations"]["summary"], "api is DOWN");
    assert!(
        m["alerts"][0]["generatorURL"]
            .as_str()
            .is_some_and(|u| u.contains("/monitors/")),
        "{m}"
    );
    // Alertmanager computes the same fingerprint from the labels.
    let ours = s.json("/api/v1/alerts").await;
    assert_eq!(
        m["alerts"][0]["fingerprint"],
        ours["items"][0]["fingerprint"]
    );

    s.push("api-token-0123456789", true).await;
    let hits = r.wait_for("/am-hook", 2, Duration::from_secs(30)).await;
    let last = hits.last().expect("hit").json();
    assert_eq!(last["status"], "resolved", "{last}");
}
