//! Alerting end to end, against the real binary and real receivers on 127.0.0.1: local HTTP
//! receivers that check each provider's payload field by field (and answer 429 with
//! `Retry-After`, or 500 then 200), a real SMTP server (aiosmtpd), a real Prometheus
//! Alertmanager, silences through the API, and kill -9 in the middle of a delivery.
//!
//! Alerts are mostly driven by push monitors: `?status=down` makes one DOWN at once,
//! `?status=up` brings it back; `rules.rs` drives the other rule kinds with real probes,
//! ingest and scrapes, and `store_failed.rs` fails the store with a real file-size limit.

#[path = "../common/mod.rs"]
mod common;

mod alertmanager;
mod channels;
mod delivery;
mod email;
mod oncall;
mod receiver;
mod rules;
mod silences;
mod status;
mod status_hooks;
mod store_failed;
mod subscribers;
/// The probes' test servers (a TLS target with a certificate of a chosen expiry).
#[allow(dead_code)]
#[path = "../probes/targets.rs"]
mod targets;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

/// A server on 127.0.0.1 with a config, an API token, and its data directory.
pub struct Server {
    pub run: common::Running,
    pub token: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Server {
    pub fn start(config: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("panoptes.yaml");
        std::fs::write(&cfg, config).expect("config");
        let data = dir.path().join("data");
        let token = common::create_token(&data, "test");
        let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
        Server {
            run,
            token,
            http: common::client(),
            dir,
            config: cfg,
        }
    }

    /// Kills the process with SIGKILL and starts it again on the same data.
    pub fn kill_and_restart(&mut self) {
        self.run.signal("KILL");
        self.run.wait(Duration::from_secs(10));
        let data = self.dir.path().join("data");
        self.run = common::start(&data, &["--config", self.config.to_str().expect("utf8")]);
    }

    pub fn url(&self, path: &str) -> String {
        self.run.url(path)
    }

    /// Rewrites the config file and reloads it (SIGHUP), waiting until the server says so.
    pub fn reload(&self, config: &str) {
        std::fs::write(&self.config, config).expect("config");
        let before = self
            .run
            .log_text()
            .matches("configuration reloaded")
            .count();
        self.run.signal("HUP");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self
            .run
            .log_text()
            .matches("configuration reloaded")
            .count()
            == before
        {
            assert!(std::time::Instant::now() < deadline, "no reload in the log");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub async fn json(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get");
        let status = resp.status();
        let body = resp.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Reports a push monitor up or down.
    pub async fn push(&self, token: &str, up: bool) {
        let status = if up { "up" } else { "down" };
        let resp = self
            .http
            .post(self.url(&format!("/api/v1/push/{token}?status={status}&msg=test")))
            .send()
            .await
            .expect("push");
        assert_eq!(resp.status(), StatusCode::OK, "push {token} {status}");
    }

    /// Waits until `GET path` satisfies `ok`, returning the last body.
    pub async fn wait_json(
        &self,
        path: &str,
        within: Duration,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.json(path).await;
            if ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never satisfied the condition; last: {v:#}\nlogs:\n{}",
                self.run.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

/// Sends one event to project 7 as an envelope, the way the SDKs frame it; the answer's status.
pub async fn send_envelope(s: &Server, key: &str, event: &Value) -> reqwest::StatusCode {
    let id = event["event_id"].as_str().expect("event_id");
    let payload = event.to_string();
    let body = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        payload.len()
    );
    s.http
        .post(s.url(&format!(
            "/api/7/envelope/?sentry_key={key}&sentry_version=7"
        )))
        .body(body)
        .send()
        .await
        .expect("envelope")
        .status()
}

/// Whether `text` (a Prometheus exposition) has exactly this line: a sample checked by
/// `contains` would also match `... 10` when expecting `... 1`.
pub fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

/// Alerts in `GET /api/v1/alerts` with this `alertname` and state.
pub fn alerts_named<'a>(page: &'a Value, name: &str, state: &str) -> Vec<&'a Value> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["labels"]["alertname"] == name && x["state"] == state)
                .collect()
        })
        .unwrap_or_default()
}

/// Sixteen lowercase hex digits.
pub fn is_fingerprint(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 16
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

/// RFC 3339 that parses.
pub fn is_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok())
}
