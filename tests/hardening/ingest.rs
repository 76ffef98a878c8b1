//! Ingest facing the open network: a wrong key costs no body read, one project's key cannot
//! reach another project's events, attachments are downloads, large minidumps fit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// A body of `total` bytes produced lazily, counting what the client actually handed over.
fn counted_body(total: u64, sent: Arc<AtomicU64>) -> reqwest::Body {
    let chunk = bytes::Bytes::from(vec![0u8; 64 * 1024]);
    let n = total / chunk.len() as u64;
    let stream = futures_util::stream::iter(0..n).map(move |_| {
        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk.clone())
    });
    reqwest::Body::wrap_stream(stream)
}

use futures_util::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_before_the_body_is_read() {
    let s = Server::start(CONFIG);
    // 200 MiB announced as gzip, 64 KiB sent: before, the server read up to 20 MiB of it and
    // inflated that before looking at the key. Now the head alone gets the answer.
    let head = "POST /api/7/envelope/ HTTP/1.1\r\nX-Sentry-Auth: Sentry sentry_key=0000000000000000000000000000dead, sentry_version=7\r\nContent-Encoding: gzip";
    assert_eq!(
        status_before_body(s.run.addr, head, 200 << 20, &[0u8; 65536]).await,
        401
    );
    // Legacy /store/ and minidumps likewise.
    let head = "POST /api/7/store/?sentry_key=0000000000000000000000000000dead HTTP/1.1";
    assert_eq!(
        status_before_body(s.run.addr, head, 200 << 20, b"{").await,
        401
    );
    // The push gateway too: a wrong token is refused whatever follows.
    let head =
        "POST /push/periskop/billing/errors HTTP/1.1\r\nAuthorization: Bearer not-the-push-token";
    assert_eq!(
        status_before_body(s.run.addr, head, 200 << 20, b"{").await,
        401
    );
    // Without any key, the envelope's own dsn is the only credential: its body is read under
    // a tight bound (1 MiB by default), not 20 MiB.
    let head = "POST /api/7/envelope/ HTTP/1.1";
    assert_eq!(
        status_before_body(s.run.addr, head, 200 << 20, b"{").await,
        413
    );
    // The regular client still gets its answer when it sends a small body.
    let sent = Arc::new(AtomicU64::new(0));
    let resp = s
        .http
        .post(s.url("/api/7/envelope/"))
        .header("x-sentry-auth", format!("Sentry sentry_key={KEY8}"))
        .body(counted_body(64 * 1024, sent.clone()))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "project 8's key on 7"
    );
}

fn envelope(id: &str, message: &str, attachment: &str, content_type: &str) -> String {
    let event = serde_json::json!({"event_id": id, "message": message}).to_string();
    format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n{{\"type\":\"attachment\",\"length\":{},\"filename\":\"page.html\",\"content_type\":\"{content_type}\"}}\n{attachment}\n",
        attachment.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_is_its_own_projects_and_attachments_are_downloads() {
    let s = Server::start(CONFIG);
    let id = "5ec79c33ec9942ab8353589fcb2e04dc";
    let script = "<script>alert(document.cookie)</script>";
    let (st, _) = s
        .envelope(7, KEY7, envelope(id, "seven", script, "text/html"))
        .await;
    assert_eq!(st, StatusCode::OK);
    // Project 8's key, the same event id: its own event, not an overwrite of 7's.
    let (st, _) = s
        .envelope(8, KEY8, envelope(id, "eight", "other bytes", "text/plain"))
        .await;
    assert_eq!(st, StatusCode::OK);
    let seven = s.json(&format!("/api/v1/projects/7/events/{id}")).await;
    assert_eq!(seven["event"]["message"], "seven");
    assert_eq!(seven["attachments"].as_array().map(Vec::len), Some(1));
    let eight = s.json(&format!("/api/v1/projects/8/events/{id}")).await;
    assert_eq!(eight["event"]["message"], "eight");
    assert_error_shape(
        s.get(&format!("/api/v1/events/{id}")).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    // The attachment an SDK called text/html is served as a download, never rendered.
    let index = seven["attachments"][0]["index"].as_u64().expect("index");
    let resp = s
        .get(&format!(
            "/api/v1/projects/7/events/{id}/attachments/{index}"
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(
        h["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .expect("ascii")
            .contains("sandbox")
    );
    assert_eq!(resp.text().await.expect("bytes"), script);
    // The dashboard itself forbids inline scripts and framing.
    let page = s.http.get(s.url("/")).send().await.expect("index");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline' ;") && csp.contains("script-src 'self'"),
        "{csp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_mebibyte_minidump_is_accepted() {
    let s = Server::start(CONFIG);
    let dump = vec![0x4du8; 3 << 20];
    let form = reqwest::multipart::Form::new()
        .text("sentry[release]", "app@1.0")
        .part(
            "upload_file_minidump",
            reqwest::multipart::Part::bytes(dump.clone()).file_name("crash.dmp"),
        );
    let resp = s
        .http
        .post(s.url(&format!("/api/7/minidump/?sentry_key={KEY7}")))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), StatusCode::OK);
    let id = resp.text().await.expect("id").replace('-', "");
    let event = s.json(&format!("/api/v1/projects/7/events/{id}")).await;
    assert_eq!(event["attachments"][0]["size"], dump.len() as u64);
}

/// Whoever answers an error on an ingest path (axum's 405, an unknown `/api/{id}/...` route),
/// SDKs get Relay's shape: `{"detail": ...}` and `X-Sentry-Error`. Our own API keeps its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_on_ingest_paths_answer_in_relays_shape() {
    let s = Server::start(CONFIG);
    for (method, path, status) in [
        (
            reqwest::Method::GET,
            "/api/7/envelope/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            reqwest::Method::GET,
            "/api/store/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            reqwest::Method::POST,
            "/api/7/nothing/",
            StatusCode::NOT_FOUND,
        ),
        (
            reqwest::Method::POST,
            "/api/7/envelope/extra",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let resp = s
            .http
            .request(method.clone(), s.url(path))
            .send()
            .await
            .expect("answer");
        assert_eq!(resp.status(), status, "{method} {path}");
        let header = resp
            .headers()
            .get("x-sentry-error")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(!header.is_empty(), "{method} {path}: no X-Sentry-Error");
        let body: Value = resp.json().await.expect("json");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()) && body.get("error").is_none(),
            "{method} {path}: {body}"
        );
    }
    assert_error_shape(
        s.get("/api/v1/nothing").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
