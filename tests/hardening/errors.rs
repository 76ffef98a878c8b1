//! One error shape on every route: `{"error": {"code", "message"}}` with a listed code, also
//! where axum itself answers (a path or query that does not parse, a missing method, a body
//! over a limit).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_axum_answers_have_our_shape() {
    let s = Server::start(CONFIG);
    assert_error_shape(
        s.get("/api/v1/monitors/not-a-number").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    assert_error_shape(
        s.get("/api/v1/exceptions/services/x/errors/k?minutes=soon")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    assert_error_shape(
        s.get("/api/v1/monitors?limit=-3").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    )
    .await;
    let resp = s
        .http
        .delete(s.url("/api/v1/monitors"))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("delete");
    assert!(resp.headers().contains_key("allow"), "405 keeps Allow");
    assert_error_shape(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let resp = s
        .http
        .post(s.url("/push/periskop/billing/errors"))
        .bearer_auth(PUSH_TOKEN)
        // Just over the 4 KiB limit: small enough to be written whole before the server
        // answers and closes, so the client reads the 413 instead of a broken pipe.
        .body(vec![b'x'; 5 * 1024])
        .send()
        .await
        .expect("push");
    assert_error_shape(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let resp = s.http.put(s.url("/healthz")).send().await.expect("put");
    assert_error_shape(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    // The status page's cached reads skip the per-request layers; their errors do not.
    let resp = s
        .http
        .post(s.url("/status/public"))
        .send()
        .await
        .expect("post");
    assert_eq!(
        resp.headers()
            .get("x-content-type-options")
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert_error_shape(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let resp = s.get("/status/%FF/widget").await;
    assert_eq!(
        resp.headers().get("x-frame-options").map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );
    assert_error_shape(resp, StatusCode::BAD_REQUEST, "invalid_input").await;
}
