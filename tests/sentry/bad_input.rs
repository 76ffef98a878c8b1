//! Malformed, hostile and oversized requests get the right 4xx, and the server keeps serving.

use super::*;

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
    // Oversized as sent (chunked, no Content-Length): 413 as soon as the limit is crossed.
    let status = tokio::task::spawn_blocking({
        let (addr, q) = (s.run.addr, q.clone());
        move || chunked_upload_status(addr, &q, 3 * 1024 * 1024)
    })
    .await
    .expect("chunked upload");
    assert!(
        status.starts_with("HTTP/1.1 413 "),
        "chunked oversize: {status}"
    );
    assert!(
        status.to_ascii_lowercase().contains("\r\nx-sentry-error:"),
        "chunked oversize: {status}"
    );
    // A declared oversize body is refused from its Content-Length, before any of it is read.
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

/// Streams `size` bytes as a chunked body and returns the response's head, read while
/// the upload is still going: the server answers 413 mid-body and stops reading, so a client
/// that reads only once its upload is done may find a reset instead of the answer.
fn chunked_upload_status(addr: std::net::SocketAddr, path: &str, size: usize) -> String {
    use std::io::Read;
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .expect("write head");
    let mut upload = tcp.try_clone().expect("clone");
    let writer = std::thread::spawn(move || -> std::io::Result<usize> {
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < size {
            write!(upload, "{:x}\r\n", chunk.len())?;
            upload.write_all(&chunk)?;
            upload.write_all(b"\r\n")?;
            sent += chunk.len();
        }
        upload.write_all(b"0\r\n\r\n")?;
        Ok(sent)
    });
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "reading the answer to a chunked oversize upload: {e} (after {:?})",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    // The upload stops with an error once the server closes; only the answer matters.
    let _ = writer.join();
    String::from_utf8_lossy(&head).into_owned()
}
