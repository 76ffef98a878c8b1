//! Sentry-compatible ingest against the real `panoptes` binary on 127.0.0.1, driven by the real
//! SDKs: `sentry-sdk` (Python; gzip, brotli and uncompressed), legacy `raven` (Python,
//! `/store/`), `@sentry/node` and the `sentry` crate; plus bad input, floods, quotas, a kill -9
//! under load, regressions, cron check-ins, CSP reports, minidumps and CORS.

#[path = "../common/mod.rs"]
mod common;

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{PY_SDK, PYTHON};
const RAVEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/raven_client.py");
use common::NODE_DIR;
const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
const LIMITED_KEY: &str = "aaaaaaaabbbbbbbbccccccccdddddddd";

const CONFIG: &str = r#"
projects:
  - id: 7
    name: shop
    keys: [3f9c2a7be1d04c6f8a5b0e9d7c1f2a43]
  - id: 8
    name: limited
    keys: [aaaaaaaabbbbbbbbccccccccdddddddd]
    events_per_minute: 5
ingest:
  flood_max_events: 5
  flood_window: 1m
  max_envelope_bytes: 2097152
  max_decompressed_bytes: 4194304
  max_store_bytes: 262144
  max_event_bytes: 1048576
monitors:
  - name: nightly-backup
    type: push
    token: tok-nightly
    interval: 1h
    check_in_projects: [7]
"#;

struct Server {
    run: common::Running,
    token: String,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Server::start_in(dir.path());
        s._dir = Some(dir);
        s
    }

    fn start_in(dir: &std::path::Path) -> Server {
        Server::start_with(dir, CONFIG)
    }

    fn start_with(dir: &std::path::Path, config: &str) -> Server {
        let cfg = dir.join("panoptes.yaml");
        std::fs::write(&cfg, config).expect("config");
        let data = dir.join("data");
        let token = common::create_token(&data, "test");
        let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
        Server {
            run,
            token,
            http: common::client(),
            _dir: None,
        }
    }

    fn dsn(&self, key: &str, project: u64) -> String {
        format!("http://{key}@{}/{project}", self.run.addr)
    }

    async fn get(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(self.run.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        resp.json().await.expect("json")
    }

    async fn issues(&self, project: u64) -> Vec<Value> {
        let v = self
            .get(&format!(
                "/api/v1/projects/{project}/issues?status=all&limit=500"
            ))
            .await;
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the issue whose title contains `needle` has at least `count` events.
    async fn issue(&self, project: u64, needle: &str, count: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.issues(project).await;
            if let Some(i) = all.iter().find(|i| {
                i["title"].as_str().is_some_and(|t| t.contains(needle))
                    && i["count"].as_u64().unwrap_or(0) >= count
            }) {
                return i.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no issue `{needle}` with {count} events; issues: {all:#?}\nlogs:\n{}",
                self.run.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An event by id, once grouped. An event is readable as soon as the SDK got its 200, with
    /// `issue_id: null` until the digest's commit; this waits for the issue (bounded).
    async fn event(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let resp = self
                .http
                .get(self.run.url(&format!("/api/v1/events/{id}")))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("get");
            let status = resp.status();
            if status == StatusCode::OK {
                let v: Value = resp.json().await.expect("json");
                if !v["issue_id"].is_null() {
                    return v;
                }
            }
            assert!(Instant::now() < deadline, "event {id}: {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> reqwest::Response {
        let mut r = self.http.post(self.run.url(path)).body(body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.expect("post")
    }

    /// An uncompressed envelope with one event, authenticated in the query string.
    async fn send_event(&self, project: u64, key: &str, event: &Value) -> reqwest::Response {
        self.try_send_event(project, key, event)
            .await
            .expect("post event")
    }

    async fn try_send_event(
        &self,
        project: u64,
        key: &str,
        event: &Value,
    ) -> reqwest::Result<reqwest::Response> {
        let id = event["event_id"].as_str().unwrap_or("").to_string();
        let payload = event.to_string();
        let body = format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
            payload.len()
        );
        self.http
            .post(self.run.url(&format!(
                "/api/{project}/envelope/?sentry_key={key}&sentry_version=7"
            )))
            .body(body)
            .send()
            .await
    }
}

fn event_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn exception_event(ty: &str, value: &str) -> Value {
    json!({
        "event_id": event_id(),
        "platform": "python",
        "level": "error",
        "exception": {"values": [{"type": ty, "value": value, "stacktrace": {"frames": [
            {"module": "app.jobs", "function": "run", "context_line": format!("raise {ty}()"), "in_app": true}
        ]}}]},
        "user": {"id": format!("user-{}", value.len())},
    })
}

fn run_client(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "client failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("client printed {stdout:?}: {e}"))
}

fn clean_env(cmd: &mut Command) -> &mut Command {
    for k in [
        "SENTRY_DSN",
        "SENTRY_RELEASE",
        "SENTRY_ENVIRONMENT",
        "SENTRY_TRACES_SAMPLE_RATE",
        "SENTRY_SPOTLIGHT",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        cmd.env_remove(k);
    }
    cmd
}

mod bad_input;
mod durability;
mod features;
mod limits;
mod projects;
mod sdks;
mod triage;
