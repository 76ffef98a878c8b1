//! Forwarding to an upstream Sentry, against the real `panoptes` binary on 127.0.0.1: the
//! Python and Node SDKs send to Panoptes A, which forwards to Panoptes B acting as upstream (events
//! arrive with their ids and contents); an upstream in the test (axum) that is down, then
//! rate-limits with `X-Sentry-Rate-Limits`, then is slow (concurrency observed upstream stays
//! within `forward.max_concurrency`); kill -9 of A with a backlog loses nothing; Bugsink as a
//! second real upstream (`bugsink.rs`).

#[path = "../common/mod.rs"]
mod common;

mod bugsink;

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use common::NODE_DIR;
use common::{PY_SDK, PYTHON};
const KEY_A: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
const KEY_B: &str = "bbbbbbbbccccccccddddddddeeeeeeee";

struct Server {
    run: common::Running,
    token: String,
    http: reqwest::Client,
}

impl Server {
    fn start(dir: &std::path::Path, config: &str) -> Server {
        let cfg = dir.join("panoptes.yaml");
        std::fs::write(&cfg, config).expect("config");
        let data = dir.join("data");
        let token = common::create_token(&data, "test");
        let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
        Server {
            run,
            token,
            http: common::client(),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.run.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn count(&self) -> Value {
        let (status, v) = self.get("/count").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    /// Waits (bounded) until `/count` satisfies `ok`.
    async fn count_until(&self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let c = self.count().await;
            if ok(&c) {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: /count is {c}; logs:\n{}",
                self.run.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An envelope with one event (the tests that send many raise `flood_max_events`).
    async fn send(&self, project: u64, key: &str, n: usize) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let payload =
            json!({"event_id": id, "level": "error", "message": format!("forwarded event {n}")})
                .to_string();
        let body = format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
            payload.len()
        );
        let resp = self
            .http
            .post(self.run.url(&format!(
                "/api/{project}/envelope/?sentry_key={key}&sentry_version=7"
            )))
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::OK);
        id
    }
}

/// The SDKs must not pick up a developer's DSN or proxy.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for k in [
        "SENTRY_DSN",
        "SENTRY_RELEASE",
        "SENTRY_ENVIRONMENT",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(k);
    }
    cmd
}

fn forwarding_config(upstream: &str, flood_max_events: u32) -> String {
    format!(
        r#"
projects:
  - id: 7
    name: shop
    keys: [{KEY_A}]
    forward:
      upstream: "{upstream}"
ingest:
  flood_max_events: {flood_max_events}
  flood_window: 1m
forward:
  max_concurrency: 2
  max_backoff: 1s
  max_interval: 200ms
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_events_reach_panoptes_b_with_their_ids_and_contents() {
    let dir_b = tempfile::tempdir().expect("tempdir");
    let b = Server::start(
        dir_b.path(),
        &format!("projects:\n  - id: 42\n    name: upstream\n    keys: [{KEY_B}]\n"),
    );
    let dir_a = tempfile::tempdir().expect("tempdir");
    let upstream = format!("http://{KEY_B}@{}/42", b.run.addr);
    let a = Server::start(dir_a.path(), &forwarding_config(&upstream, 3));
    let dsn = format!("http://{KEY_A}@{}/7", a.run.addr);
    let out = clean_env(&mut Command::new(PYTHON))
        .args([PY_SDK, &dsn, "gzip", "forward"])
        .output()
        .expect("python sdk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("sdk output");
    let exc = v["exception"].as_str().expect("exception id").to_string();
    let msg = v["message"].as_str().expect("message id").to_string();
    // The same ids, with their contents, at B.
    for (id, needle) in [
        (&exc, "ZeroDivisionError"),
        (&msg, "Payment provider timed out"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        let event = loop {
            let (status, e) = b.get(&format!("/api/v1/events/{id}")).await;
            if status == StatusCode::OK {
                break e;
            }
            assert!(
                Instant::now() < deadline,
                "event {id} never reached B; A:\n{}",
                a.run.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(event["project"], 42, "{event:#}");
        assert!(event.to_string().contains(needle), "{event:#}");
        assert!(
            event.to_string().contains("shop@2.4.1"),
            "release kept: {event:#}"
        );
    }
    // The Node SDK too (its exception, with its id, at B).
    let out = clean_env(&mut Command::new("node"))
        .current_dir(NODE_DIR)
        .args(["sentry_client.js", &dsn])
        .output()
        .expect("node sdk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("node output");
    let id = v["exception"]
        .as_str()
        .expect("node exception id")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, e) = b.get(&format!("/api/v1/events/{id}")).await;
        if status == StatusCode::OK {
            assert!(e.to_string().contains("quantity must be positive"), "{e:#}");
            assert_eq!(e["event"]["platform"], "node", "{e:#}");
            break;
        }
        assert!(Instant::now() < deadline, "node event {id} never reached B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A flood of one error: B gets at most flood_max_events of it, the rest counted ignored.
    let before = a
        .count_until("sdk events forwarded", |c| c["count"] == 0)
        .await;
    let (p0, i0) = (
        before["processed"].as_u64().unwrap_or(0),
        before["ignored"].as_u64().unwrap_or(0),
    );
    for _ in 0..8 {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let payload = json!({"event_id": id, "message": "same error"}).to_string();
        let resp = a
            .http
            .post(a.run.url(&format!("/api/7/store/?sentry_key={KEY_A}")))
            .body(payload)
            .send()
            .await
            .expect("store");
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let c = a
        .count_until("flood forwarded", |c| {
            c["count"] == 0 && c["processed"] == p0 + 3 && c["ignored"] == i0 + 5
        })
        .await;
    let (_, stats) = a.get("/api/v1/ingest/stats").await;
    assert_eq!(stats["forward"]["processed"], c["processed"], "{stats:#}");
    assert_eq!(stats["forward"]["ignored"], c["ignored"], "{stats:#}");
    let metrics = a
        .http
        .get(a.run.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("panoptes_forward_backlog"), "{metrics}");
    // The GET store form of image-beacon clients (`sentry_data`, `sentry_key`).
    let id = uuid::Uuid::new_v4().simple().to_string();
    let data = json!({"event_id": id, "message": "beacon"}).to_string();
    let url = reqwest::Url::parse_with_params(
        &a.run.url("/api/7/store/"),
        &[
            ("sentry_key", KEY_A),
            ("sentry_version", "7"),
            ("sentry_data", &data),
        ],
    )
    .expect("url");
    let resp = a.http.get(url).send().await.expect("get store");
    assert_eq!(resp.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.get(&format!("/api/v1/events/{id}")).await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "beacon event never reached B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The farm seen as one: A and B by port, then a list with one instance down.
    let c = a.count_until("beacon forwarded", |c| c["count"] == 0).await;
    let ports = format!("{},{}", a.run.addr.port(), b.run.addr.port());
    let out = common::panoptes()
        .args(["farm", "stats", "http://127.0.0.1", "-p", &ports])
        .output()
        .expect("farm stats");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let ignored = c["ignored"].as_u64().unwrap_or(0);
    let processed = c["processed"].as_u64().unwrap_or(0);
    let pct = ignored as f64 * 100.0 / (ignored + processed) as f64;
    assert!(
        text.contains(&format!(
            "farm: 2/2 instances, to send 0, processed {processed}, ignored {ignored} ({pct:.1}%)"
        )),
        "{text}"
    );
    let out = common::panoptes()
        .args(["farm", "stats", &a.run.url(""), "http://127.0.0.1:1"])
        .output()
        .expect("farm stats");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("farm: 1/2 instances"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_dropped_and_counted_with_upstreams_answer() {
    let up = Arc::new(Upstream::default());
    up.mode.store(3, Ordering::SeqCst);
    let addr = start_upstream(up.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Server::start(
        dir.path(),
        &forwarding_config(&format!("http://{addr}"), 1000),
    );
    for n in 0..3 {
        a.send(7, KEY_A, n).await;
    }
    a.count_until("refused", |c| c["count"] == 0).await;
    let (_, stats) = a.get("/api/v1/ingest/stats").await;
    let f = &stats["forward"];
    assert_eq!(f["dropped"]["rejected"], 3, "{f:#}");
    assert_eq!(f["processed"], 0, "{f:#}");
    let last = f["last_error"].as_str().unwrap_or("");
    assert!(
        last.contains("HTTP 400") && last.contains("invalid envelope"),
        "{f:#}"
    );
}

/// 0: down (503), 1: rate limiting (429 + header), 2: up but slow (50 ms), 3: refuses (400).
#[derive(Default)]
struct Upstream {
    mode: AtomicU8,
    ids: Mutex<Vec<String>>,
    paths: Mutex<HashSet<String>>,
    keys: Mutex<HashSet<String>>,
    now: AtomicUsize,
    max: AtomicUsize,
    answered_429: AtomicUsize,
}

async fn upstream_handler(
    state: Arc<Upstream>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let now = state.now.fetch_add(1, Ordering::SeqCst) + 1;
    state.max.fetch_max(now, Ordering::SeqCst);
    let answer = match state.mode.load(Ordering::SeqCst) {
        0 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        1 => {
            state.answered_429.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("x-sentry-rate-limits", "1:error:key:quota")],
            )
                .into_response()
        }
        3 => (StatusCode::BAD_REQUEST, "{\"detail\":\"invalid envelope\"}").into_response(),
        _ => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let head = body.split(|b| *b == b'\n').next().unwrap_or_default();
            let v: Value = serde_json::from_slice(head).unwrap_or(Value::Null);
            if let Some(id) = v["event_id"].as_str() {
                state.ids.lock().expect("ids").push(id.to_string());
            }
            state
                .paths
                .lock()
                .expect("paths")
                .insert(uri.path().to_string());
            let auth = headers
                .get("x-sentry-auth")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_string();
            state.keys.lock().expect("keys").insert(auth);
            (StatusCode::OK, "{}").into_response()
        }
    };
    state.now.fetch_sub(1, Ordering::SeqCst);
    answer
}

async fn start_upstream(state: Arc<Upstream>) -> std::net::SocketAddr {
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        upstream_handler(state.clone(), uri, headers, body)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_then_rate_limited_then_slow_upstream_gets_everything_at_its_pace() {
    let up = Arc::new(Upstream::default());
    let addr = start_upstream(up.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Proxy mode: a base URL keeps the client's own key and project id.
    let a = Server::start(
        dir.path(),
        &forwarding_config(&format!("http://{addr}"), 1000),
    );
    let mut sent = HashSet::new();
    for n in 0..30 {
        sent.insert(a.send(7, KEY_A, n).await);
    }
    // Down: everything stays in the backlog.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let c = a.count().await;
    assert_eq!(c["count"], 30, "held while upstream is down: {c}");
    assert_eq!(c["processed"], 0, "{c}");
    // Rate limiting: still held (not dropped: `on_rate_limit` defaults to hold).
    up.mode.store(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while up.answered_429.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "no request during the rate limit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = a.count().await;
    assert_eq!(c["count"], 30, "held while rate-limited: {c}");
    // Up, and slow: the backlog drains, never more than max_concurrency at once.
    up.mode.store(2, Ordering::SeqCst);
    let c = a
        .count_until("drained", |c| c["count"] == 0 && c["processed"] == 30)
        .await;
    assert_eq!(c["ignored"], 0, "{c}");
    let got: HashSet<String> = up.ids.lock().expect("ids").iter().cloned().collect();
    assert_eq!(got, sent);
    assert!(
        up.max.load(Ordering::SeqCst) <= 2,
        "concurrency at upstream {} > forward.max_concurrency",
        up.max.load(Ordering::SeqCst)
    );
    assert_eq!(
        *up.paths.lock().expect("paths"),
        HashSet::from(["/api/7/envelope/".to_string()])
    );
    let keys = up.keys.lock().expect("keys").clone();
    assert!(
        keys.iter()
            .all(|k| k.contains(&format!("sentry_key={KEY_A}"))),
        "{keys:?}"
    );
    let (_, stats) = a.get("/api/v1/ingest/stats").await;
    assert!(
        stats["forward"]["dropped"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "{stats:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_a_backlog_loses_nothing() {
    let up = Arc::new(Upstream::default());
    let addr = start_upstream(up.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = forwarding_config(&format!("http://{addr}"), 1000);
    let mut a = Server::start(dir.path(), &config);
    let mut sent = HashSet::new();
    for n in 0..40 {
        sent.insert(a.send(7, KEY_A, n).await);
    }
    assert_eq!(a.count().await["count"], 40);
    a.run.signal("KILL");
    a.run.wait(Duration::from_secs(10));
    drop(a);
    up.mode.store(2, Ordering::SeqCst);
    let cfg = dir.path().join("panoptes.yaml");
    let run = common::start(
        &dir.path().join("data"),
        &["--config", cfg.to_str().expect("utf8")],
    );
    // `/count` is public: no token needed.
    let a = Server {
        run,
        token: String::new(),
        http: common::client(),
    };
    a.count_until("drained after restart", |c| c["count"] == 0)
        .await;
    let ids = up.ids.lock().expect("ids").clone();
    let distinct: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(distinct, sent, "every acknowledged event reached upstream");
    // Nothing was in flight (upstream was down): nothing sent twice.
    assert_eq!(
        ids.len(),
        sent.len(),
        "duplicates: {}",
        ids.len() - sent.len()
    );
}
