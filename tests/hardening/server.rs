//! The connection layer against slow and greedy clients: headers that trickle, connections that
//! say nothing, bodies that never finish, more connections than allowed, oversized logins, and
//! backups that would fill the disk in parallel.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

const TIGHT: &str = "
server:
  header_read_timeout: 1s
  request_timeout: 2s
";

/// Whether the server closed `sock` within `within` (reads EOF or an error), while `tick`
/// keeps writing to it every 200 ms (a slowloris client) when given.
async fn closed_within(sock: &mut TcpStream, within: Duration, tick: Option<&[u8]>) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar answer before closing counts as being cut off too.
            Ok(Ok(_)) => {}
            Err(_) => {
                if let Some(t) = tick
                    && sock.write_all(t).await.is_err()
                {
                    return true;
                }
            }
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_headers_and_silent_connections_are_cut_off() {
    let s = Server::start(TIGHT);
    // Slowloris: a header line every 200 ms, never the blank line that ends them.
    let mut slow = TcpStream::connect(s.run.addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("head");
    let started = Instant::now();
    assert!(
        closed_within(&mut slow, Duration::from_secs(6), Some(b"X-Slow: 1\r\n")).await,
        "a client trickling its headers kept its connection"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(s.run.addr).await.expect("connect");
    assert!(
        closed_within(&mut silent, Duration::from_secs(6), None).await,
        "a silent connection stayed open"
    );
    // An idle keep-alive connection after a request is closed the same way.
    let mut idle = TcpStream::connect(s.run.addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    assert!(closed_within(&mut idle, Duration::from_secs(6), None).await);
    // Regular requests are unaffected.
    assert_eq!(s.get("/api/v1/status").await.status(), StatusCode::OK);
}

/// A body that never finishes gets 408 after `server.request_timeout` instead of holding its
/// handler for ever (here: the login, which is public).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_finishes_times_out() {
    let s = Server::start(TIGHT);
    let head = "POST /api/v1/session HTTP/1.1\r\nContent-Type: application/json";
    let started = Instant::now();
    assert_eq!(
        status_before_body(s.run.addr, head, 100, b"{\"username\"").await,
        408
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The login reads a name and a password: 16 KiB is plenty, the API's 1 MiB is not its limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_has_a_small_body_limit() {
    let s = Server::start("");
    let body = serde_json::json!({"username": "alice", "password": "x".repeat(32 * 1024)});
    let resp = s
        .http
        .post(s.url("/api/v1/session"))
        .json(&body)
        .send()
        .await
        .expect("login");
    assert_error_shape(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // An ordinary login still gets its answer.
    let resp = s
        .http
        .post(s.url("/api/v1/session"))
        .json(&serde_json::json!({"username": "alice", "password": "not-the-password"}))
        .send()
        .await
        .expect("login");
    assert_error_shape(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// Beyond `server.max_connections`, a new client waits until a connection ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let s = Server::start("server: {max_connections: 2, header_read_timeout: 30s}\n");
    let a = TcpStream::connect(s.run.addr).await.expect("connect");
    let b = TcpStream::connect(s.run.addr).await.expect("connect");
    // Let the server take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = TcpStream::connect(s.run.addr)
        .await
        .expect("connect (backlog)");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(700), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");
    drop((a, b));
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

/// Each backup is a full copy of the data file on its disk: a second one while the first is
/// still in flight is refused with 409, and once it ended the next one runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_backup_runs_at_a_time() {
    let s = Server::start("");
    // A data file larger than any socket buffers (~6 MB of exceptions), so that a download
    // nobody reads stays in flight.
    let keys: Vec<Value> = (0..400)
        .map(|i| {
            serde_json::json!({
                "aggregation_key": format!("Big@{i}"),
                "total_count": 1,
                "latest_errors": [{"error": {"class": "Big", "message": "m".repeat(15_000)}}],
            })
        })
        .collect();
    let resp = s
        .http
        .post(s.url("/push/periskop/big/errors"))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"target_uuid": "u", "aggregated_errors": keys}))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), StatusCode::OK);
    // The first download is started and not read: with a small receive buffer it stays in
    // flight (the server cannot send the whole file).
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    sock.connect(&s.run.addr.into()).expect("connect");
    sock.set_nonblocking(true).expect("nonblocking");
    let mut first = TcpStream::from_std(sock.into()).expect("tokio socket");
    let req = format!(
        "GET /api/v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token
    );
    first.write_all(req.as_bytes()).await.expect("request");
    let mut head = [0u8; 12];
    first.read_exact(&mut head).await.expect("status line");
    assert_eq!(&head, b"HTTP/1.1 200");
    let second = s.get("/api/v1/backup").await;
    assert_error_shape(second, StatusCode::CONFLICT, "conflict").await;
    drop(first);
    let third = eventually("a backup after the first ended", || async {
        let r = s.get("/api/v1/backup").await;
        (r.status() == StatusCode::OK).then_some(r)
    })
    .await;
    let bytes = third.bytes().await.expect("download");
    assert!(!bytes.is_empty());
}
