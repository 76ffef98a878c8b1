//! Sentry-compatible ingest against the real `panoptes` binary on 127.0.0.1, driven by the real
//! SDKs: `sentry-sdk` (Python; gzip, brotli and uncompressed), legacy `raven` (Python,
//! `/store/`), `@sentry/node` and the `sentry` crate; plus bad input, floods, quotas, a kill -9
//! under load, regressions, cron check-ins, CSP reports, minidumps and CORS.

mod common;

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/python");
const PY_SDK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/sentry_sdk_client.py"
);
const RAVEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/raven_client.py");
const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_events_are_grouped_with_their_fields_in_every_compression() {
    let s = Server::start();
    let dsn = s.dsn(KEY, 7);
    let mut ids = Vec::new();
    for algo in ["gzip", "br", "none"] {
        let v = run_client(clean_env(
            Command::new(PYTHON).args([PY_SDK, &dsn, algo, algo]),
        ));
        ids.push((algo, v));
    }
    // Three runs of the same code: one issue for the exception, one for the message.
    let exc = s.issue(7, "ZeroDivisionError: division by zero", 3).await;
    assert_eq!(exc["count"], 3, "{exc:#}");
    assert_eq!(exc["users"], 3, "three distinct users: {exc:#}");
    assert_eq!(exc["level"], "error");
    assert_eq!(exc["platform"], "python");
    assert_eq!(exc["status"], "unresolved");
    assert_eq!(exc["releases"], json!(["shop@2.4.1"]));
    assert_eq!(exc["environments"], json!(["production"]));
    assert!(
        exc["culprit"]
            .as_str()
            .unwrap_or("")
            .contains("price_per_unit"),
        "{exc:#}"
    );
    let msg = s.issue(7, "Payment provider timed out", 3).await;
    assert_eq!(msg["level"], "info");
    assert_ne!(msg["id"], exc["id"]);
    for (algo, v) in &ids {
        let id = v["exception"].as_str().expect("exception id");
        let e = s.event(id).await;
        assert_eq!(e["issue_id"], exc["id"], "{algo}");
        let ev = &e["event"];
        assert_eq!(ev["tags"]["run"], *algo);
        assert_eq!(ev["user"]["email"], format!("{algo}@example.com"));
        let frames = ev["exception"]["values"][0]["stacktrace"]["frames"]
            .as_array()
            .expect("frames");
        let last = frames.last().expect("a frame");
        assert_eq!(last["function"], "price_per_unit");
        assert!(
            last["context_line"].as_str().is_some(),
            "context lines kept"
        );
        assert!(
            ev["breadcrumbs"]["values"]
                .as_array()
                .is_some_and(|b| b.iter().any(|c| c["message"] == "cart loaded")),
            "breadcrumbs kept: {ev:#}"
        );
        assert!(ev["contexts"].is_object(), "contexts kept");
        let m = s.event(v["message"].as_str().expect("message id")).await;
        assert_eq!(m["issue_id"], msg["id"]);
    }
    // The issue's events, newest first, paginated.
    let page = s
        .get(&format!("/api/v1/issues/{}/events?limit=2", exc["id"]))
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let next = page["next_cursor"].as_str().expect("a second page");
    let page2 = s
        .get(&format!(
            "/api/v1/issues/{}/events?limit=2&cursor={next}",
            exc["id"]
        ))
        .await;
    assert_eq!(page2["items"].as_array().map(Vec::len), Some(1));
    let detail = s.get(&format!("/api/v1/issues/{}", exc["id"])).await;
    assert_eq!(detail["latest_event"]["event_id"], detail["last_event_id"]);
    let projects = s.get("/api/v1/projects").await["items"].clone();
    assert_eq!(
        projects[0]["dsn"][0],
        format!("http://{KEY}@{}/7", s.run.addr)
    );
    assert_eq!(projects[0]["issues"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raven_legacy_store_events_arrive() {
    let s = Server::start();
    let v = run_client(clean_env(
        Command::new(PYTHON).args([RAVEN, &s.dsn(KEY, 7)]),
    ));
    let exc = s.issue(7, "ZeroDivisionError", 1).await;
    assert_eq!(exc["level"], "error", "numeric level 40 is error");
    assert_eq!(exc["releases"], json!(["billing@0.3.0"]));
    let msg = s.issue(7, "Nightly invoice job took", 1).await;
    assert_eq!(msg["level"], "warning");
    let e = s.event(v["exception"].as_str().expect("id")).await;
    assert_eq!(e["issue_id"], exc["id"]);
    assert_eq!(e["event"]["tags"]["region"], "eu-west-1");
    assert_eq!(e["event"]["user"]["id"], "u-77");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_events_and_sessions_arrive() {
    let s = Server::start();
    let v = run_client(clean_env(
        Command::new("node")
            .current_dir(NODE_DIR)
            .args(["sentry_client.js", &s.dsn(KEY, 7)]),
    ));
    assert_eq!(v["flushed"], true);
    let exc = s
        .issue(7, "TypeError: quantity must be positive, got 0", 1)
        .await;
    assert_eq!(exc["platform"], "node");
    let msg = s.issue(7, "inventory sync lagging by 312 s", 1).await;
    assert_eq!(msg["level"], "warning");
    assert_ne!(exc["id"], msg["id"]);
    let e = s.event(v["exception"].as_str().expect("id")).await;
    assert_eq!(e["event"]["user"]["id"], "u-1842");
    assert_eq!(e["event"]["tags"]["region"], "eu-west-1");
    // The SDK's release-health session is counted per release.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = s.get("/api/v1/ingest/stats").await;
        let p = &stats["projects"][0];
        if p["releases"]["orders@1.9.0"]["sessions.started"].as_u64() == Some(1) {
            assert!(p["items"]["session"].as_u64() >= Some(1), "{p:#}");
            assert_eq!(p["accepted"], 2);
            assert_eq!(p["stored"], 2);
            break;
        }
        assert!(Instant::now() < deadline, "no session counted: {stats:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentry_crate_sends_errors_and_messages() {
    let s = Server::start();
    let dsn = s.dsn(KEY, 7);
    // The crate's transport blocks on flush: run it off the runtime that polls our requests.
    let ids = tokio::task::spawn_blocking(move || {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut opts = sentry::ClientOptions::default();
        opts.dsn = Some(dsn.parse().expect("dsn"));
        opts.release = Some("inventory@3.1.0".into());
        opts.environment = Some("production".into());
        // Fills in the HTTP transport (without it the client drops events silently).
        let opts = sentry::apply_defaults(opts);
        let client = Arc::new(sentry::Client::from(opts));
        let hub = sentry::Hub::new(Some(client.clone()), Arc::new(sentry::Scope::default()));
        hub.configure_scope(|scope| {
            scope.set_tag("region", "eu-west-1");
            scope.set_user(Some(sentry::User {
                id: Some("u-9".into()),
                ..Default::default()
            }));
        });
        let err = "12x".parse::<u32>().expect_err("not a number");
        let mut ev = sentry::event_from_error(&err);
        if let Some(x) = ev.exception.values.last_mut() {
            x.stacktrace = sentry::integrations::backtrace::current_stacktrace();
        }
        let exc = hub.capture_event(ev);
        let msg = hub.capture_message("cache warmup took 41 s", sentry::Level::Warning);
        assert!(client.close(Some(Duration::from_secs(10))), "flushed");
        (exc.simple().to_string(), msg.simple().to_string())
    })
    .await
    .expect("sentry thread");
    let exc = s.issue(7, "ParseIntError", 1).await;
    assert_eq!(exc["releases"], json!(["inventory@3.1.0"]));
    let msg = s.issue(7, "cache warmup took 41 s", 1).await;
    assert_eq!(msg["level"], "warning");
    let e = s.event(&ids.0).await;
    assert_eq!(e["issue_id"], exc["id"]);
    assert_eq!(e["event"]["tags"]["region"], "eu-west-1");
    assert_eq!(s.event(&ids.1).await["issue_id"], msg["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_4xx_and_the_server_keeps_serving() {
    let s = Server::start();
    let q = format!("/api/7/envelope/?sentry_key={KEY}");
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        (
            "no auth",
            "/api/7/envelope/".into(),
            vec![],
            b"{}\n".to_vec(),
            401,
        ),
        (
            "unknown key",
            "/api/7/envelope/?sentry_key=00000000000000000000000000000000".into(),
            vec![],
            b"{}\n".to_vec(),
            401,
        ),
        (
            "key of another project",
            format!("/api/8/envelope/?sentry_key={KEY}"),
            vec![],
            b"{}\n".to_vec(),
            401,
        ),
        (
            "two auth sources",
            q.clone(),
            vec![(
                "x-sentry-auth",
                "Sentry sentry_key=3f9c2a7be1d04c6f8a5b0e9d7c1f2a43",
            )],
            b"{}\n".to_vec(),
            401,
        ),
        (
            "bad project path",
            format!("/api/x/envelope/?sentry_key={KEY}"),
            vec![],
            b"{}".to_vec(),
            400,
        ),
        (
            "truncated envelope",
            q.clone(),
            vec![],
            b"{\"event_id\":\"9ec79c33ec9942ab83".to_vec(),
            400,
        ),
        (
            "length longer than the body",
            q.clone(),
            vec![],
            b"{}\n{\"type\":\"event\",\"length\":500}\n{\"message\":\"x\"}".to_vec(),
            400,
        ),
        (
            "length shorter than the payload",
            q.clone(),
            vec![],
            b"{}\n{\"type\":\"event\",\"length\":3}\n{\"message\":\"x\"}\n".to_vec(),
            400,
        ),
        (
            "invalid event JSON",
            q.clone(),
            vec![],
            b"{}\n{\"type\":\"event\"}\n{not json\n".to_vec(),
            400,
        ),
        (
            "bad event id",
            q.clone(),
            vec![],
            b"{\"event_id\":\"nope\"}\n".to_vec(),
            400,
        ),
        (
            "bad gzip",
            q.clone(),
            vec![("content-encoding", "gzip")],
            b"not gzip at all".to_vec(),
            400,
        ),
        (
            "unknown encoding",
            q.clone(),
            vec![("content-encoding", "zstd")],
            b"{}".to_vec(),
            400,
        ),
    ];
    for (what, path, headers, body, want) in cases {
        let resp = s.post(&path, &headers, body).await;
        assert_eq!(resp.status().as_u16(), want, "{what}");
        assert!(
            resp.headers().contains_key("x-sentry-error"),
            "{what}: X-Sentry-Error"
        );
        let v: Value = resp.json().await.expect("json");
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {v}"
        );
    }
    // Deep nesting: serde_json's recursion limit answers 400, the stack is never at risk.
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let payload = format!("{{\"message\":\"deep\",\"extra\":{deep}}}");
    let body = format!("{{}}\n{{\"type\":\"event\"}}\n{payload}\n");
    let resp = s.post(&q, &[], body.into_bytes()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "deep nesting");
    // A decompression bomb: 64 KiB on the wire, 64 MiB inflated; stops at the 4 MiB limit.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(b"{}\n{\"type\":\"attachment\"}\n").expect("w");
    gz.write_all(&vec![b'a'; 64 * 1024 * 1024]).expect("w");
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 1024 * 1024);
    let resp = s.post(&q, &[("content-encoding", "gzip")], bomb).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "bomb");
    // Oversized as sent (chunked, no Content-Length) and declared.
    let big = vec![b' '; 3 * 1024 * 1024];
    let stream = futures_util::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    // The server answers 413 as soon as the limit is crossed and stops reading, so the client
    // sees either that answer or its upload cut off; never a success.
    // Its own connection: one the server closed mid-upload must not go back into the shared pool.
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    match unpooled
        .post(s.run.url(&q))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
    {
        Ok(resp) => assert_eq!(
            resp.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "chunked oversize"
        ),
        Err(e) => assert!(e.is_request(), "chunked oversize: {e}"),
    }
    // A declared oversize body is refused from its Content-Length, before any of it is read.
    drop(big);
    let mut tcp = std::net::TcpStream::connect(s.run.addr).expect("connect");
    write!(
        tcp,
        "POST {q} HTTP/1.1\r\nHost: x\r\nContent-Length: 3145728\r\nConnection: close\r\n\r\n"
    )
    .expect("write head");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut tcp, &mut answer).expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "declared oversize: {answer}"
    );
    // An event item above max_event_bytes.
    let huge = format!("{{\"message\":\"{}\"}}", "x".repeat(1_100_000));
    let resp = s
        .post(
            &q,
            &[],
            format!("{{}}\n{{\"type\":\"event\"}}\n{huge}\n").into_bytes(),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "event item too large"
    );
    // Unknown item types are counted and skipped, never an error.
    let resp = s
        .post(
            &q,
            &[],
            b"{}\n{\"type\":\"future_thing\",\"length\":2}\n{}\n{\"type\":\"transaction\"}\n{}\n"
                .to_vec(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.expect("body"), "{}");
    // Still serving, and a good event after all that lands.
    let ok = s
        .send_event(
            7,
            KEY,
            &exception_event("StillAliveError", "after bad input"),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    s.issue(7, "StillAliveError", 1).await;
    let stats = s.get("/api/v1/ingest/stats").await;
    let p = &stats["projects"][0];
    assert!(p["invalid"].as_u64() >= Some(8), "{p:#}");
    assert_eq!(p["items"]["other"], 1, "{p:#}");
    assert_eq!(p["items"]["transaction"], 1, "{p:#}");
    let metrics = s
        .http
        .get(s.run.url("/metrics"))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    assert!(
        metrics.contains("panoptes_ingest_events_total{project=\"7\",outcome=\"invalid\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_counted_exactly_but_stored_sparsely_and_new_issues_still_appear() {
    let s = Arc::new(Server::start());
    let n = 300u64;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let s = s.clone();
        tasks.spawn(async move {
            let mut e = exception_event("FloodError", "the same broken page");
            e["user"] = json!({"id": format!("u{}", i % 7)});
            s.send_event(7, KEY, &e).await.status()
        });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("task"), StatusCode::OK);
    }
    // A new error during the flood is its own issue, with its event stored in full.
    let fresh = exception_event("FreshError", "something new");
    assert_eq!(s.send_event(7, KEY, &fresh).await.status(), StatusCode::OK);
    let new_issue = s.issue(7, "FreshError", 1).await;
    assert_eq!(new_issue["stored_events"], 1);
    let flood = s.issue(7, "FloodError", n).await;
    assert_eq!(flood["count"], n, "every copy counted: {flood:#}");
    assert_eq!(flood["users"], 7, "users counted from sampled copies too");
    let stored = flood["stored_events"].as_u64().expect("stored");
    // 5 per one-minute window; the run may straddle one window boundary.
    assert!((5..=10).contains(&stored), "stored {stored}");
    // The backlog count returns to zero once everything is grouped (it once raced with the
    // digest and stayed above zero forever).
    let deadline = Instant::now() + Duration::from_secs(20);
    let stats = loop {
        let stats = s.get("/api/v1/ingest/stats").await;
        if stats["backlog"] == 0 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "backlog never drained: {stats:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let p = &stats["projects"][0];
    assert_eq!(p["accepted"], n + 1);
    assert_eq!(
        p["sampled"].as_u64().unwrap_or(0) + p["stored"].as_u64().unwrap_or(0),
        n + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_quota_answers_429_with_sentry_rate_limit_headers() {
    let s = Server::start();
    for i in 0..5 {
        let r = s
            .send_event(
                8,
                LIMITED_KEY,
                &exception_event("QuotaError", &format!("n{i}")),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "event {i}");
    }
    let r = s
        .send_event(8, LIMITED_KEY, &exception_event("QuotaError", "over"))
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry));
    let limits = r.headers()["x-sentry-rate-limits"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(limits.starts_with(&format!("{retry}:error;")), "{limits}");
    assert!(limits.contains(":project:"), "{limits}");
    // Another project is not affected.
    let r = s
        .send_event(7, KEY, &exception_event("QuotaError", "other project"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let issue = s.issue(8, "QuotaError", 5).await;
    assert_eq!(issue["count"], 5);
    let stats = s.get("/api/v1/ingest/stats").await;
    assert_eq!(stats["projects"][1]["rate_limited"], 1, "{stats:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_kill_9_under_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(Server::start_in(dir.path()));
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..16 {
        let s = s.clone();
        let acked = acked.clone();
        tasks.spawn(async move {
            for i in 0..10_000 {
                // Distinct issues, so every event is stored in full.
                let e = exception_event(&format!("Crash{w}x{i}Error"), "kill -9");
                let id = e["event_id"].as_str().expect("id").to_string();
                match s.try_send_event(7, KEY, &e).await.map(|r| r.status()) {
                    Ok(StatusCode::OK) => acked.lock().expect("lock").push(id),
                    // Refused or cut off by the kill: not acknowledged, so not promised.
                    _ => return,
                }
            }
        });
    }
    // Let load build, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.run.signal("KILL");
    while tasks.join_next().await.is_some() {}
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 300, "only {} acknowledged", acked.len());
    let token = s.token.clone();
    drop(s);
    let data = dir.path().join("data");
    let cfg = dir.path().join("panoptes.yaml");
    let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
    let http = common::client();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing = acked.clone();
    while !missing.is_empty() {
        let mut still = Vec::new();
        for id in &missing {
            let r = http
                .get(run.url(&format!("/api/v1/events/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get");
            if r.status() != StatusCode::OK {
                still.push(id.clone());
            }
        }
        missing = still;
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged events missing after restart, e.g. {}",
            missing.len(),
            acked.len(),
            missing[0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolved_issues_reopen_as_regressions_and_check_ins_feed_push_monitors() {
    let s = Server::start();
    let e = exception_event("RegressError", "comes back");
    assert_eq!(s.send_event(7, KEY, &e).await.status(), StatusCode::OK);
    let issue = s.issue(7, "RegressError", 1).await;
    let id = issue["id"].as_u64().expect("id");
    let resp = s
        .http
        .patch(s.run.url(&format!("/api/v1/issues/{id}")))
        .bearer_auth(&s.token)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["status"], "resolved");
    let resolved = s.get("/api/v1/projects/7/issues?status=resolved").await;
    assert_eq!(resolved["items"].as_array().map(Vec::len), Some(1));
    let again = exception_event("RegressError", "comes back");
    assert_eq!(s.send_event(7, KEY, &again).await.status(), StatusCode::OK);
    let back = s.issue(7, "RegressError", 2).await;
    assert_eq!(back["status"], "unresolved");
    assert_eq!(back["regressed"], true);
    assert_eq!(back["regressions"], 1);
    let bad = s
        .http
        .patch(s.run.url(&format!("/api/v1/issues/{id}")))
        .bearer_auth(&s.token)
        .json(&json!({"status": "gone"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // A cron check-in item beats the push monitor of that name.
    let check_in = json!({"check_in_id": event_id(), "monitor_slug": "nightly-backup", "status": "ok", "duration": 2.5});
    let p = check_in.to_string();
    let body = format!(
        "{{}}\n{{\"type\":\"check_in\",\"length\":{}}}\n{p}\n",
        p.len()
    );
    let r = s
        .post(
            &format!("/api/7/envelope/?sentry_key={KEY}"),
            &[],
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = s.get("/api/v1/monitors").await;
        let m = list["items"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["name"] == "nightly-backup").cloned())
            .expect("monitor");
        if m["state"] == "UP" || m["state"] == "up" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "check-in did not reach the monitor: {m:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csp_reports_minidumps_legacy_bodies_and_cors() {
    let s = Server::start();
    // A browser's CSP report: key in the query string.
    let report = json!({"csp-report": {
        "document-uri": "https://shop.example/checkout",
        "violated-directive": "script-src 'self'",
        "effective-directive": "script-src",
        "blocked-uri": "https://evil.example/x.js",
        "original-policy": "script-src 'self'"}});
    let r = s
        .post(
            &format!("/api/7/security/?sentry_key={KEY}&sentry_release=web@1"),
            &[("content-type", "application/csp-report")],
            report.to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = s.issue(7, "Blocked 'script' from 'evil.example'", 1).await;
    assert_eq!(csp["culprit"], "script-src");
    assert_eq!(csp["releases"], json!(["web@1"]));

    // A minidump upload (multipart, as Crashpad and Breakpad send it).
    let form = reqwest::multipart::Form::new()
        .text(
            "sentry",
            json!({"release": "native@2", "tags": {"os": "linux"}}).to_string(),
        )
        .part(
            "upload_file_minidump",
            reqwest::multipart::Part::bytes(b"MDMP\x93\xa7fake-dump".to_vec())
                .file_name("crash.dmp"),
        );
    let r = s
        .http
        .post(s.run.url(&format!("/api/7/minidump/?sentry_key={KEY}")))
        .multipart(form)
        .send()
        .await
        .expect("minidump");
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.text().await.expect("text");
    assert_eq!(id.len(), 36, "hyphenated event id: {id}");
    let dump = s.issue(7, "Minidump", 1).await;
    assert_eq!(dump["level"], "fatal");
    let e = s.event(&id).await;
    assert_eq!(e["attachments"][0]["filename"], "crash.dmp");
    assert_eq!(e["attachments"][0]["attachment_type"], "event.minidump");
    let idx = e["attachments"][0]["index"].as_u64().expect("index");
    let bytes = s
        .http
        .get(s.run.url(&format!("/api/v1/events/{id}/attachments/{idx}")))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&bytes[..], b"MDMP\x93\xa7fake-dump");

    // Legacy store body: base64(zlib(JSON)), auth in the header, duplicate slashes in the path.
    use base64::Engine;
    let legacy = json!({"event_id": event_id(), "message": "legacy body 42", "level": 30});
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(legacy.to_string().as_bytes()).expect("w");
    let b64 = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("zlib"));
    let r = s
        .post(
            "/api//7//store/",
            &[(
                "x-sentry-auth",
                &format!("Sentry sentry_version=6, sentry_key={KEY}"),
            )],
            b64.into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["id"], legacy["event_id"]);
    let l = s.issue(7, "legacy body 42", 1).await;
    assert_eq!(l["level"], "warning");
    // `/api/store/`: the project comes from the key.
    let r = s
        .post(
            &format!("/api/store/?sentry_key={KEY}"),
            &[],
            json!({"message": "no project in path"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    s.issue(7, "no project in path", 1).await;

    // CORS preflight and headers for browser SDKs.
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, s.run.url("/api/7/envelope/"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("options");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let allow = r.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    assert!(allow.contains("x-sentry-auth") && allow.contains("content-type"));
    let r = s
        .send_event(7, KEY, &exception_event("CorsError", "x"))
        .await;
    assert!(
        r.headers()["access-control-expose-headers"]
            .to_str()
            .expect("ascii")
            .contains("x-sentry-rate-limits")
    );
    // The issue API needs a credential; ingest does not use it.
    let r = s
        .http
        .get(s.run.url("/api/v1/projects/7/issues"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_issues_per_project_events_count_in_one_overflow_issue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = CONFIG.replace("ingest:\n", "ingest:\n  max_issues_per_project: 3\n");
    let s = Server::start_with(dir.path(), &config);
    for i in 0..6 {
        let e = exception_event(
            &format!("Distinct{}Error", ["A", "B", "C", "D", "E", "F"][i]),
            "x",
        );
        assert_eq!(s.send_event(7, KEY, &e).await.status(), StatusCode::OK);
    }
    let overflow = s.issue(7, "Further distinct errors", 3).await;
    assert_eq!(overflow["count"], 3, "{overflow:#}");
    assert_eq!(overflow["grouping_hash"], "overflow");
    let all = s.issues(7).await;
    assert_eq!(all.len(), 4, "three real issues and the overflow: {all:#?}");
    let projects = s.get("/api/v1/projects").await["items"].clone();
    assert_eq!(projects[0]["issues"], 4);
}
