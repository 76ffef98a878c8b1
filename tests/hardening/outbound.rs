//! Credentials and custom headers stay with the host they were configured for: a redirect to
//! another host is not followed with them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;

use super::*;

/// A server recording the `x-secret` header of every request it gets.
async fn recorder() -> (SocketAddr, Arc<Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().route(
        "/",
        get(move |h: HeaderMap| {
            let log = log.clone();
            async move {
                log.lock().expect("lock").push(
                    h.get("x-secret")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                );
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    (addr, seen)
}

/// A server that redirects every request to `to`.
async fn redirector(to: SocketAddr) -> SocketAddr {
    let target = format!("http://{to}/");
    let app = Router::new().route(
        "/",
        get(move || {
            let t = target.clone();
            async move { axum::response::Redirect::temporary(&t) }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_does_not_get_the_monitors_headers() {
    let (elsewhere, seen) = recorder().await;
    let start = redirector(elsewhere).await;
    let config = format!(
        "monitors:\n  - name: guarded\n    type: http\n    url: http://{start}/\n    interval: 1s\n    headers: {{X-Secret: s3cret}}\n  - name: plain\n    type: http\n    url: http://{start}/\n    interval: 1s\n"
    );
    let s = Server::start(&config);
    let monitors = eventually("both monitors checked", || async {
        let v = s.json("/api/v1/monitors").await;
        let items = v["items"].as_array()?.clone();
        items
            .iter()
            .all(|m| m["last_check_at"].is_string())
            .then_some(items)
    })
    .await;
    let id = |name: &str| {
        monitors
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["id"].clone())
            .expect("monitor")
    };
    let guarded = s.json(&format!("/api/v1/monitors/{}", id("guarded"))).await;
    assert_eq!(
        guarded["last_status"], 307,
        "the redirect away is the answer: {guarded}"
    );
    let plain = s.json(&format!("/api/v1/monitors/{}", id("plain"))).await;
    assert_eq!(plain["last_status"], 200, "no credentials: followed");
    let seen = seen.lock().expect("lock").clone();
    assert!(!seen.is_empty(), "the plain monitor reached the other host");
    assert!(
        seen.iter().all(Option::is_none),
        "the secret header reached another host: {seen:?}"
    );
}
