//! Metric labels a client cannot multiply, a login throttle that holds when attempts come all
//! at once, and ingest bodies that cannot hold the server: a read deadline, a pool of their own
//! for envelopes whose key is inside them, bytes charged to the inflight budget as they arrive.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_and_unknown_projects_add_no_series() {
    let s = Server::start(CONFIG);
    for i in 0..5 {
        let m = reqwest::Method::from_bytes(format!("ZZ{i}").as_bytes()).expect("method");
        let _ = s.http.request(m, s.url("/healthz")).send().await;
    }
    for p in [999u64, 1000, 1001] {
        let resp = s
            .http
            .post(s.url(&format!("/api/{p}/envelope/?sentry_key={KEY7}")))
            .body("not an envelope")
            .send()
            .await
            .expect("post");
        assert!(resp.status().is_client_error());
    }
    let m = s.metrics().await;
    assert!(!m.contains("method=\"ZZ"), "{m}");
    assert!(
        m.contains("method=\"other\""),
        "invented methods count as other"
    );
    for p in ["999", "1000", "1001"] {
        assert!(
            !m.contains(&format!("project=\"{p}\"")),
            "project {p} is not configured and must not be a label"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_wrong_passwords_at_once_get_at_most_six_verifications() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A long lock-out, so the count cannot depend on how slow the machine is.
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        "auth:\n  login_backoff: 1h\n  login_backoff_max: 2h\n",
    )
    .expect("cfg");
    let data = dir.path().join("data");
    common::add_user(&data, "bob", "correct horse battery");
    let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
    let http = common::client();
    let attempts: Vec<_> = (0..30)
        .map(|_| {
            let (http, url) = (http.clone(), run.url("/api/v1/session"));
            tokio::spawn(async move {
                http.post(url)
                    .json(&serde_json::json!({"username": "bob", "password": "wrong password"}))
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    let mut unauthorized = 0;
    let mut throttled = 0;
    for a in attempts {
        match a.await.expect("join").expect("answer") {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(unauthorized <= 6, "{unauthorized} passwords were checked");
    assert_eq!(unauthorized + throttled, 30);
    // A user name of a megabyte is refused like any wrong login, not stored anywhere.
    let resp = http
        .post(run.url("/api/v1/session"))
        .json(&serde_json::json!({"username": "x".repeat(1 << 20), "password": "p"}))
        .send()
        .await
        .expect("login");
    assert!(
        matches!(
            resp.status(),
            StatusCode::UNAUTHORIZED
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{}",
        resp.status()
    );
}

/// Opens a connection, sends a request head announcing `content_length` bytes and `prefix` of
/// them, and leaves it open: a client that sends its body slowly.
async fn slow_sender(
    addr: std::net::SocketAddr,
    head: &str,
    content_length: u64,
    prefix: &[u8],
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(request.as_bytes()).await.expect("head");
    sock.write_all(prefix).await.expect("prefix");
    sock
}

/// Whether the server has answered or closed `sock`, looking for 20 ms: anything read, an end
/// of file or an error is an answer; only silence means the request is still being read.
async fn answered(sock: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    tokio::time::timeout(Duration::from_millis(20), sock.read(&mut buf))
        .await
        .is_ok()
}

/// The answer on `sock` (status, lower-cased head, body), waiting at most `within`.
async fn answer(
    sock: &mut tokio::net::TcpStream,
    within: Duration,
) -> Option<(u16, String, String)> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .to_ascii_lowercase()
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse::<usize>().ok());
                if len.is_some_and(|l| body.len() >= l) {
                    return;
                }
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&got).to_string();
    let (head, body) = text.split_once("\r\n\r\n")?;
    if read.is_err() && body.is_empty() {
        return None;
    }
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_ascii_lowercase(), body.to_string()))
}

fn event_envelope(message: &str) -> String {
    format!("{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"{message}\"}}\n")
}

/// Envelopes without a key in a header or the query (their only credential is inside them)
/// read from a small pool of their own: slow ones cannot take the places of senders with a key.
/// And a body that does not arrive within `ingest.body_read_timeout` is answered 408, in
/// Relay's shape, freeing its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_keyless_bodies_time_out_and_cannot_starve_senders_with_a_key() {
    let config = format!(
        "{CONFIG}ingest:\n  body_read_timeout: 2s\n  max_concurrent_bodies: 4\n  max_concurrent_unauthenticated_bodies: 2\n"
    );
    let s = Server::start(&config);
    let head = "POST /api/7/envelope/ HTTP/1.1";
    let mut slow = Vec::new();
    for _ in 0..2 {
        slow.push(slow_sender(s.run.addr, head, 1000, b"{\"dsn\":").await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The keyless pool is full: more keyless senders are told to come back later.
    assert_eq!(status_before_body(s.run.addr, head, 1000, b"{").await, 503);
    // Senders with a key are not affected by the keyless ones.
    for i in 0..3 {
        let (st, body) = s
            .envelope(7, KEY7, event_envelope(&format!("keyed {i}")))
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    // The slow ones get 408 once their time is up, in the shape SDKs read.
    for mut sock in slow {
        let (status, head, body) = answer(&mut sock, Duration::from_secs(20))
            .await
            .expect("an answer while the body was still owed");
        assert_eq!(status, 408, "{head}\n{body}");
        assert!(head.contains("x-sentry-error:"), "{head}");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert!(
            v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("body_read_timeout")),
            "{v}"
        );
    }
    // Their places are free again.
    let (st, _) = s.envelope(7, KEY7, event_envelope("after")).await;
    assert_eq!(st, StatusCode::OK);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

/// Bytes still arriving, and bytes being decompressed, count against `ingest.max_inflight_bytes`
/// as they come: with most of the budget held by two bodies in transit, a small gzip body that
/// inflates past what is left is refused (503) while inflating, not buffered whole. Once the
/// slow senders go, the same body is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_charged_to_the_inflight_budget_as_they_arrive() {
    let config = format!(
        "{CONFIG}ingest:\n  max_envelope_bytes: 1048576\n  max_decompressed_bytes: 1048576\n  max_inflight_bytes: 2097152\n"
    );
    let s = Server::start(&config);
    let head = format!("POST /api/7/envelope/?sentry_key={KEY7} HTTP/1.1");
    let mut slow = Vec::new();
    for _ in 0..2 {
        slow.push(slow_sender(s.run.addr, &head, 1_000_000, &vec![b' '; 700 * 1024]).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attachment = "a".repeat(990_000);
    let plain = format!(
        "{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"inflated\"}}\n{{\"type\":\"attachment\",\"length\":{},\"filename\":\"a.txt\"}}\n{attachment}\n",
        attachment.len()
    );
    let bomb = gzip(plain.as_bytes());
    assert!(bomb.len() < 16 * 1024, "{}", bomb.len());
    let send = || {
        s.http
            .post(s.url(&format!("/api/7/envelope/?sentry_key={KEY7}")))
            .header("content-encoding", "gzip")
            .body(bomb.clone())
            .send()
    };
    let resp = send().await.expect("answer");
    assert_eq!(
        resp.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    drop(slow);
    eventually("the budget to be given back", || async {
        let r = send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
}

/// The push gateway reads at most `periskop.max_concurrent_pushes` bodies at once: with its
/// places held by slow pushers, another push is refused (503 `busy`) before its body is read,
/// a wrong token is still 401, and once the slow pushers go a push is accepted again. Before
/// the cap, any number of token holders could each hold `max_body_bytes` in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_gateway_reads_a_bounded_number_of_bodies_at_once() {
    let s = Server::start(
        "periskop:\n  push_tokens: [push-secret-0123456789]\n  max_concurrent_pushes: 2\n",
    );
    let head =
        "POST /push/periskop/cron/errors HTTP/1.1\r\nAuthorization: Bearer push-secret-0123456789";
    let slow_push = || slow_sender(s.run.addr, head, 1000, b"{\"aggregated_errors\":");
    let mut slow = Vec::new();
    for _ in 0..2 {
        slow.push(slow_push().await);
    }
    let push = |token: &'static str| {
        let http = s.http.clone();
        let url = s.url("/push/periskop/cron/errors");
        async move {
            http.post(url)
                .bearer_auth(token)
                .body("{\"aggregated_errors\":[]}")
                .send()
                .await
                .expect("push")
        }
    };
    // The slow ones have taken both places once a third push is refused while both are still
    // waiting. Poll, since their heads may still be on their way; and a probe that held a place
    // just when a slow head arrived made that slow pusher the one refused (seen on a loaded
    // machine): it is answered at once, so it is replaced and the probe tried again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused = loop {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for both places taken"
        );
        for sock in slow.iter_mut() {
            if answered(sock).await {
                *sock = slow_push().await;
            }
        }
        let r = push("push-secret-0123456789").await;
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            let mut waiting = true;
            for sock in slow.iter_mut() {
                waiting &= !answered(sock).await;
            }
            if waiting {
                break r;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_error_shape(refused, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
    assert_error_shape(
        push("wrong-token").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    drop(slow);
    eventually("a push accepted once the slow pushers left", || async {
        (push("push-secret-0123456789").await.status() == StatusCode::OK).then_some(())
    })
    .await;
}
