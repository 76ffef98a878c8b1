//! A local HTTP receiver: records every request and answers from a per-path script (then 200).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {}",
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16, Vec<(&'static str, String)>, String),
    /// Accept the request and never answer.
    Hang,
}

#[derive(Default)]
struct Inner {
    hits: Vec<Hit>,
    script: HashMap<String, VecDeque<Reply>>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = inner.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let path = uri
                        .path_and_query()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default();
                    let reply = {
                        let mut s = state.lock().expect("lock");
                        s.hits.push(Hit {
                            method: method.to_string(),
                            path: path.clone(),
                            headers,
                            body: body.to_vec(),
                            at: Instant::now(),
                        });
                        s.script.get_mut(uri.path()).and_then(VecDeque::pop_front)
                    };
                    match reply {
                        None => (StatusCode::OK, "{\"status\":\"success\"}").into_response(),
                        Some(Reply::Status(code, headers, body)) => {
                            let mut r: Response =
                                (StatusCode::from_u16(code).expect("status"), body).into_response();
                            for (k, v) in headers {
                                r.headers_mut().insert(k, v.parse().expect("header"));
                            }
                            r
                        }
                        Some(Reply::Hang) => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            StatusCode::OK.into_response()
                        }
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answers the next requests to `path` (no query) with `replies`, in order.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.inner
            .lock()
            .expect("lock")
            .script
            .insert(path.to_string(), replies.into());
    }

    /// Requests whose path starts with `prefix`.
    pub fn hits(&self, prefix: &str) -> Vec<Hit> {
        self.inner
            .lock()
            .expect("lock")
            .hits
            .iter()
            .filter(|h| h.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests to `prefix` arrived.
    pub async fn wait_for(&self, prefix: &str, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits(prefix);
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "{prefix}: {} of {n} requests within {within:?}: {:?}",
                hits.len(),
                hits.iter()
                    .map(|h| String::from_utf8_lossy(&h.body).into_owned())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
