//! Probing agents against the real binary on 127.0.0.1: agent tokens (API and offline CLI),
//! assignments with an ETag, gzip result batches from simulated agents at two locations, the
//! quorum across locations (DEGRADED with one failing location, DOWN with two), idempotent
//! re-sends, bounded and malformed bodies, revocation, and a kill -9 of the server after which
//! the per-location state and each agent's progress survive. `combined.rs`: the state across
//! locations paging and on the status page, and a silent agent alerted on. `spool.rs`: the
//! agent's spool bounded by size. `groups.rs`: `probing.groups`.

mod combined;
#[path = "../common/mod.rs"]
mod common;
mod groups;
mod real;
mod spool;
// Shared with the alerts tests, which use all of it.
#[allow(dead_code)]
#[path = "../alerts/receiver.rs"]
mod receiver;

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

use common::{client, create_token, panoptes, start};
use serde_json::{Value, json};

const CONFIG: &str = r#"
monitors:
  - name: api
    type: tcp
    host: 127.0.0.1
    port: {port}
    interval: 60s
    locations: [local, eu, ap]
    quorum: 2
  - name: server-only
    type: tcp
    host: 127.0.0.1
    port: {port}
    interval: 60s
"#;

/// `panoptes agent token NAME --location LOC` on a stopped server's data directory.
fn agent_token_cli(data_dir: &Path, name: &str, location: &str) -> String {
    let out = panoptes()
        .args(["agent", "token", name, "--location", location, "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run agent token");
    assert!(
        out.status.success(),
        "agent token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

fn gzip(v: &Value) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(v.to_string().as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

fn batch(from_seq: u64, n: u64, ok: bool, at_ms: u64) -> Value {
    let results: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "seq": from_seq + i,
                "monitor": "api",
                "at_ms": at_ms + i * 1000,
                "ok": ok,
                "latency_ms": 40 + i,
                "error": (!ok).then_some("connection refused"),
            })
        })
        .collect();
    json!({ "results": results })
}

async fn post_batch(
    c: &reqwest::Client,
    s: &common::Running,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    c.post(s.url("/api/v1/agent/results"))
        .bearer_auth(token)
        .header("content-encoding", "gzip")
        .header("x-panoptes-agent-version", "9.9.9-test")
        .body(gzip(body))
        .send()
        .await
        .expect("post results")
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn monitor_id(c: &reqwest::Client, s: &common::Running, token: &str, name: &str) -> u64 {
    let (_, v) = json_of(
        c.get(s.url("/api/v1/monitors"))
            .bearer_auth(token)
            .send()
            .await
            .expect("monitors"),
    )
    .await;
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["id"].as_u64())
        .expect("monitor id")
}

async fn locations(c: &reqwest::Client, s: &common::Running, token: &str, id: u64) -> Value {
    let (status, v) = json_of(
        c.get(s.url(&format!("/api/v1/monitors/{id}/locations")))
            .bearer_auth(token)
            .send()
            .await
            .expect("locations"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

fn location<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["locations"]
        .as_array()
        .expect("locations")
        .iter()
        .find(|l| l["location"] == name)
        .expect("location listed")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

#[tokio::test]
async fn agents_report_per_location_and_the_quorum_decides() {
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("target");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        CONFIG.replace(
            "{port}",
            &target.local_addr().expect("addr").port().to_string(),
        ),
    )
    .expect("write config");
    let token = create_token(dir.path(), "admin");
    let ap_token = agent_token_cli(dir.path(), "ap-1", "ap");
    assert!(ap_token.starts_with("pnpa_"), "{ap_token}");
    let mut s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();

    // An agent is created through the API; its token is shown once.
    let (status, created) = json_of(
        c.post(s.url("/api/v1/agents"))
            .bearer_auth(&token)
            .json(&json!({"name": "eu-1", "location": "eu"}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let eu_token = created["token"].as_str().expect("token").to_string();
    let (status, again) = json_of(
        c.post(s.url("/api/v1/agents"))
            .bearer_auth(&token)
            .json(&json!({"name": "eu-1", "location": "eu"}))
            .send()
            .await
            .expect("create again"),
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, bad) = json_of(
        c.post(s.url("/api/v1/agents"))
            .bearer_auth(&token)
            .json(&json!({"name": "x y", "location": "eu"}))
            .send()
            .await
            .expect("bad name"),
    )
    .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );

    // Tokens are of their own kind, each refused where the other belongs.
    let r = c
        .get(s.url("/api/v1/agent/assignments"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("assignments with an API token");
    let (status, v) = json_of(r).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let r = c
        .get(s.url("/api/v1/monitors"))
        .bearer_auth(&eu_token)
        .send()
        .await
        .expect("monitors with an agent token");
    assert_eq!(r.status().as_u16(), 401);

    // Assignments: only the monitors listing the location, with an ETag to poll cheaply.
    let r = c
        .get(s.url("/api/v1/agent/assignments"))
        .bearer_auth(&eu_token)
        .send()
        .await
        .expect("assignments");
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("etag")
        .to_string();
    let (status, a) = json_of(r).await;
    assert_eq!(status, 200, "{a}");
    let names: Vec<&str> = a["monitors"]
        .as_array()
        .expect("monitors")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["api"]);
    assert_eq!(a["monitors"][0]["quorum"], 2);
    let r = c
        .get(s.url("/api/v1/agent/assignments"))
        .bearer_auth(&eu_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("assignments again");
    assert_eq!(r.status().as_u16(), 304);

    let id = monitor_id(&c, &s, &token, "api").await;
    let t0 = now_ms() - 10_000;

    // One location failing of a quorum of two: DEGRADED, not DOWN.
    let (status, v) = json_of(post_batch(&c, &s, &eu_token, &batch(1, 3, false, t0)).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(3), Some(0))
    );
    let l = locations(&c, &s, &token, id).await;
    assert_eq!(location(&l, "eu")["state"], "DOWN", "{l}");
    assert_eq!(location(&l, "eu")["error"], "connection refused");
    assert_eq!(location(&l, "eu")["latency_ms"], 42);
    assert_eq!(location(&l, "ap")["state"], "UNKNOWN");
    assert_eq!(
        (l["state"].as_str(), l["failing"].as_u64()),
        (Some("DEGRADED"), Some(1)),
        "{l}"
    );

    // A second location agreeing reaches the quorum.
    let (status, v) = json_of(post_batch(&c, &s, &ap_token, &batch(1, 2, false, t0)).await).await;
    assert_eq!((status, v["accepted"].as_u64()), (200, Some(2)), "{v}");
    let l = locations(&c, &s, &token, id).await;
    assert_eq!(
        (l["state"].as_str(), l["failing"].as_u64()),
        (Some("DOWN"), Some(2)),
        "{l}"
    );

    // The same batch again (a lost answer, a retry from the spool) is counted once.
    let (status, v) = json_of(post_batch(&c, &s, &eu_token, &batch(1, 3, false, t0)).await).await;
    assert_eq!(
        (status, v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (200, Some(0), Some(3))
    );

    // Recovery from one location: back to DEGRADED (ap still failing), never below the data.
    let (_, v) = json_of(post_batch(&c, &s, &eu_token, &batch(4, 1, true, t0 + 5_000)).await).await;
    assert_eq!(v["accepted"].as_u64(), Some(1), "{v}");
    let l = locations(&c, &s, &token, id).await;
    assert_eq!(location(&l, "eu")["state"], "UP", "{l}");
    assert_eq!(l["state"], "DEGRADED", "{l}");

    // Malformed, unsupported and oversized bodies are refused in the error shape.
    let r = c
        .post(s.url("/api/v1/agent/results"))
        .bearer_auth(&eu_token)
        .header("content-encoding", "gzip")
        .body("not gzip")
        .send()
        .await
        .expect("bad gzip");
    let (status, v) = json_of(r).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{v}"
    );
    let r = c
        .post(s.url("/api/v1/agent/results"))
        .bearer_auth(&eu_token)
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .expect("brotli");
    assert_eq!(r.status().as_u16(), 400);
    // Its own client: the server answers before reading the whole body and closes the
    // connection, which must not be the next request's.
    let r = client()
        .post(s.url("/api/v1/agent/results"))
        .bearer_auth(&eu_token)
        .body(vec![b' '; 5 * 1024 * 1024])
        .send()
        .await
        .expect("too large");
    let (status, v) = json_of(r).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{v}"
    );

    // The list shows each agent's location, version, progress.
    let (status, v) = json_of(
        c.get(s.url("/api/v1/agents?limit=1"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["items"][0]["name"], "ap-1");
    let cursor = v["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, v) = json_of(
        c.get(s.url(&format!("/api/v1/agents?limit=1&cursor={cursor}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list page 2"),
    )
    .await;
    let eu = &v["items"][0];
    assert_eq!(
        (eu["name"].as_str(), eu["location"].as_str()),
        (Some("eu-1"), Some("eu"))
    );
    assert_eq!(eu["version"], "9.9.9-test");
    assert_eq!(
        (eu["results_total"].as_u64(), eu["last_sequence"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(eu["duplicates_total"].as_u64(), Some(3));
    assert!(eu["last_seen"].is_string() && eu["lag_ms"].is_u64(), "{eu}");

    // kill -9 of the server: per-location state and each agent's progress survive.
    s.signal("KILL");
    s.wait(std::time::Duration::from_secs(10));
    drop(s);
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let id = monitor_id(&c, &s, &token, "api").await;
    let l = locations(&c, &s, &token, id).await;
    assert_eq!(location(&l, "ap")["state"], "DOWN", "{l}");
    assert_eq!(location(&l, "eu")["state"], "UP", "{l}");
    let (_, v) = json_of(post_batch(&c, &s, &eu_token, &batch(1, 4, false, t0)).await).await;
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(4)),
        "{v}"
    );

    // Revoked: the token is refused at once.
    let r = c
        .delete(s.url("/api/v1/agents/eu-1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status().as_u16(), 204);
    let (status, v) = json_of(post_batch(&c, &s, &eu_token, &batch(5, 1, true, t0)).await).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{v}"
    );
    let r = c
        .delete(s.url("/api/v1/agents/eu-1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("revoke again");
    assert_eq!(r.status().as_u16(), 404);
}

#[test]
fn a_zero_quorum_is_refused_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "monitors:\n  - name: a\n    type: tcp\n    host: 127.0.0.1\n    port: 1\n    locations: [eu, ap]\n    quorum: 0\n  - name: b\n    type: tcp\n    host: 127.0.0.1\n    port: 1\n    locations: [eu]\n    quorum: 2\n",
    )
    .expect("write");
    let out = panoptes().arg("check").arg(&cfg).output().expect("check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("monitors[0].quorum") && text.contains("at least 1"),
        "{text}"
    );
    assert!(
        text.contains("monitors[1].quorum") && text.contains("must not exceed"),
        "{text}"
    );
}
