//! Input from anyone on the network, black-box against the real binary: bounded metric labels,
//! credentials checked before bodies are read, a login throttle that holds under concurrency,
//! projects that cannot reach each other's events, attachments that never render, one error
//! shape everywhere, redirects that keep credentials at home, and the online backup.

#[path = "../common/mod.rs"]
mod common;

mod backup;
mod errors;
mod ingest;
mod limits;
mod outbound;
mod periskop;
mod probes;
mod server;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

const KEY7: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
const KEY8: &str = "aaaaaaaabbbbbbbbccccccccdddddddd";
const PUSH_TOKEN: &str = "push-secret-0123456789";

const CONFIG: &str = r#"
projects:
  - {id: 7, name: shop, keys: [3f9c2a7be1d04c6f8a5b0e9d7c1f2a43]}
  - {id: 8, name: blog, keys: [aaaaaaaabbbbbbbbccccccccdddddddd]}
periskop:
  push_tokens: [push-secret-0123456789]
  max_body_bytes: 4096
"#;

/// A server on 127.0.0.1 with `config`, an API token, and its data directory.
struct Server {
    run: common::Running,
    token: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(config: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("panoptes.yaml");
        std::fs::write(&cfg, config).expect("config");
        let data = dir.path().join("data");
        let token = common::create_token(&data, "test");
        let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
        Server {
            run,
            token,
            http: common::client(),
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        self.run.url(path)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get")
    }

    async fn json(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        resp.json().await.expect("json")
    }

    async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Posts an envelope with the key in the query; answers (status, body).
    async fn envelope(&self, project: u64, key: &str, body: String) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(self.url(&format!("/api/{project}/envelope/?sentry_key={key}")))
            .body(body)
            .send()
            .await
            .expect("envelope");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// Polls `f` until it returns Some, or fails with `what` after 30 s.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts the answer is the API's error shape with a code from the README's list.
async fn assert_error_shape(resp: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(resp.status(), status, "{}", resp.url());
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let url = resp.url().to_string();
    let v: Value = resp.json().await.expect("json error body");
    let got = v["error"]["code"].as_str().unwrap_or("");
    assert_eq!(got, code, "{url}: {v}");
    assert!(
        panoptes::http::ErrorCode::ALL
            .iter()
            .any(|c| c.as_str() == got),
        "{got} is not in the README's list"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

/// Sends a request head announcing a `content_length` body, then only `prefix` of it, and reads
/// the answer's status line: a server that refuses on the head answers at once, whatever the
/// body would have been. (A regular client may hit a broken pipe sending the rest before it
/// reads that answer; this one never sends the rest.)
async fn status_before_body(
    addr: std::net::SocketAddr,
    head: &str,
    content_length: u64,
    prefix: &[u8],
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(request.as_bytes()).await.expect("head");
    let _ = sock.write_all(prefix).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer while the body was still owed");
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}
