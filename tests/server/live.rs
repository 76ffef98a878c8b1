//! The dashboard's live feed over real HTTP: `GET /api/v1/live` as server-sent events, read
//! frame by frame with reqwest; a push monitor going down arrives as a message; credentials
//! as for every API read; the stream ends when the server stops.

use super::*;

/// A push monitor that goes DOWN on the first failed heartbeat.
const BEAT: &str = "beat-token-0123456789";

/// An open event stream and what has been read of it.
struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    async fn open(s: &common::Running, token: &str) -> Stream {
        // No total timeout: the body of a stream never ends by itself.
        panoptes::outbound::install_crypto_provider();
        let resp = reqwest::Client::new()
            .get(s.url("/api/v1/live"))
            .bearer_auth(token)
            .send()
            .await
            .expect("open the stream");
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers()["content-type"].to_str().expect("ascii");
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Stream {
            resp,
            buf: String::new(),
        }
    }

    /// The next message (comments skipped); `None` when the stream ended.
    async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let data: Vec<&str> = frame
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(&data.join("\n")).expect("a JSON message"));
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => return None,
                Err(_) => panic!("no message within {within:?}; unread: {:?}", self.buf),
            }
        }
    }

    /// Reads until a message satisfies `want`; returns it.
    async fn until(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(m) if want(&m) => return m,
                Some(_) => {}
                None => panic!("the stream ended before {what}"),
            }
        }
    }
}

fn viewer_token(dir: &std::path::Path) -> String {
    let out = common::panoptes()
        .args([
            "token",
            "create",
            "watcher",
            "--role",
            "viewer",
            "--data-dir",
        ])
        .arg(dir)
        .output()
        .expect("run token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

#[tokio::test]
async fn a_monitor_going_down_reaches_an_open_live_stream_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "monitors:\n  - {{name: beat, type: push, token: {BEAT}, interval: 1h, retries: 0}}\n"
        ),
    )
    .expect("write config");
    let token = viewer_token(dir.path());
    let mut s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    let status: Value = c
        .get(s.url("/api/v1/status"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");

    let mut live = Stream::open(&s, &token).await;
    // Every connection starts with hello, naming this run of the server.
    let hello = live.next(Duration::from_secs(10)).await.expect("hello");
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["instance_id"], status["instance_id"]);

    for (beat, state) in [("up", "UP"), ("down", "DOWN")] {
        let resp = c
            .post(s.url(&format!("/api/v1/push/{BEAT}?status={beat}")))
            .send()
            .await
            .expect("push");
        assert!(resp.status().is_success(), "{}", resp.status());
        let m = live
            .until(&format!("beat {state}"), |m| {
                m["type"] == "monitor_state" && m["state"] == state
            })
            .await;
        assert_eq!(m["name"], "beat");
        assert!(m["monitor_id"].is_u64());
        assert!(m["at_ms"].is_u64());
    }
    // A result that keeps the state is no message of its own: it is counted into the next
    // `monitors_checked`, a few seconds later.
    let resp = c
        .post(s.url(&format!("/api/v1/push/{BEAT}?status=down")))
        .send()
        .await
        .expect("push");
    assert!(resp.status().is_success(), "{}", resp.status());
    let m = live
        .until("monitors_checked", |m| m["type"] == "monitors_checked")
        .await;
    assert!(m["results"].as_u64() >= Some(1), "{m}");

    // An open stream does not hold up a graceful stop: it ends, and the server exits.
    s.signal("TERM");
    let ended = live.next(Duration::from_secs(10)).await;
    assert!(
        ended.is_none(),
        "the stream ends at shutdown, got {ended:?}"
    );
    assert!(s.wait(Duration::from_secs(10)).success());
}

#[tokio::test]
async fn the_live_stream_needs_a_credential_and_any_role_may_read_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = viewer_token(dir.path());
    let s = start(dir.path(), &[]);
    let resp = client()
        .get(s.url("/api/v1/live"))
        .send()
        .await
        .expect("anonymous");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let v: Value = resp.json().await.expect("json error");
    assert_eq!(v["error"]["code"], "unauthorized");
    let resp = client()
        .get(s.url("/api/v1/live"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("bad token");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let mut live = Stream::open(&s, &token).await;
    let hello = live.next(Duration::from_secs(10)).await.expect("hello");
    assert_eq!(hello["type"], "hello");
}
