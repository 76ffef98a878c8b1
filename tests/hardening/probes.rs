//! The public push endpoint of push monitors: the token in the path is checked before any body
//! is read, and the body is small and must arrive in time.

use std::time::{Duration, Instant};

use super::*;

const PUSH_MONITOR: &str = "
server:
  request_timeout: 2s
monitors:
  - {name: cron, type: push, token: cron-token-0123456789, interval: 1h}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_refused_on_its_token_before_its_body_is_read() {
    let s = Server::start(PUSH_MONITOR);
    // An unknown token: 404 on the head alone, whatever body was announced.
    let head = "POST /api/v1/push/not-a-token HTTP/1.1\r\nContent-Type: application/json";
    assert_eq!(
        status_before_body(s.run.addr, head, 1 << 20, b"{").await,
        404
    );
    // A known token with a body over the small limit: 413 without reading it.
    let head = "POST /api/v1/push/cron-token-0123456789 HTTP/1.1\r\nContent-Type: application/json";
    assert_eq!(
        status_before_body(s.run.addr, head, 64 * 1024, b"{").await,
        413
    );
    // A body that never finishes: 408 once the push's time is up.
    let started = Instant::now();
    assert_eq!(
        status_before_body(s.run.addr, head, 100, b"{\"status\"").await,
        408
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // A chunked body larger than the limit is cut off as it arrives.
    let resp = s
        .http
        .post(s.url("/api/v1/push/cron-token-0123456789"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            // Over the 4 KiB limit, yet within the socket buffer: the client finishes writing
            // before the server answers and closes, and reads the 413.
            (0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
        )))
        .send()
        .await
        .expect("push");
    assert_error_shape(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // A regular heartbeat, in the body.
    let resp = s
        .http
        .post(s.url("/api/v1/push/cron-token-0123456789"))
        .json(&serde_json::json!({"status": "up", "msg": "ok", "latency": 1e19}))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["state"], "UP");
    let monitors = s.json("/api/v1/monitors").await;
    let cron = &monitors["items"][0];
    assert_eq!(cron["name"], "cron");
    assert_eq!(
        cron["last_latency_ms"].as_u64(),
        Some(86_400_000),
        "a pushed latency is clamped to a day: {cron}"
    );
}
