//! The accept loop and the per-request deadline: what stands between a slow or greedy client
//! and the handlers.
//!
//! Owns: connection handling (HTTP/1 through hyper with a timer, so a client that trickles its
//! headers, or idles on a kept-alive connection, is cut off after `server.header_read_timeout`),
//! the cap on connections served at once (`server.max_connections`; beyond it new clients wait in
//! the kernel's listen backlog rather than each costing a task and buffers), graceful shutdown,
//! and `server.request_timeout`. Depends on: `config` (the `server:` section).
//!
//! Only HTTP/1 is served: hyper-util's auto builder first sniffs for the HTTP/2 preface with no
//! deadline at all, which would let a silent connection live for ever.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::{Service, ServiceExt};
use tracing::{debug, warn};

use super::AppState;
use super::config::ServerConfig;
use super::error::ApiError;

/// Routes that may legitimately take longer than `server.request_timeout` before answering:
/// the backup copies the whole data file before its download starts.
const LONG_LIVED: &[&str] = &["/api/v1/backup"];

/// Connections being served, and a wake-up for the accept loop when one ends.
#[derive(Default)]
struct Slots {
    active: AtomicUsize,
    freed: Notify,
}

/// Held by a connection's task; frees its slot however the task ends.
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.freed.notify_one();
    }
}

impl Slots {
    /// Waits until fewer than the configured maximum are served, then takes a slot. The maximum
    /// is read again on every wait, so a reload applies to the next connection.
    async fn acquire(self: &Arc<Self>, server: &watch::Receiver<Arc<ServerConfig>>) -> Slot {
        loop {
            let freed = self.freed.notified();
            let max = server.borrow().max_connections.max(1);
            let n = self.active.load(Ordering::SeqCst);
            if n < max
                && self
                    .active
                    .compare_exchange(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return Slot(self.clone());
            }
            if n >= max {
                freed.await;
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting and waits for the
/// connections in flight to finish their current request (the caller bounds that wait).
pub async fn run<S>(
    listener: TcpListener,
    app: S,
    server: watch::Receiver<Arc<ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Slots::default());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.acquire(&server) => slot,
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let header_deadline = server.borrow().header_read_timeout.get();
        let service = app
            .clone()
            .map_request(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(remote));
                req
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_deadline);
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(%remote, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// An accept error about one connection (reset before accept, ...) is that client's problem;
/// anything else (out of file descriptors) is waited out briefly instead of spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    warn!(error = %e, "accepting a connection failed; retrying in 1s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Answers 408 when a request (its body upload and its handler) takes longer than
/// `server.request_timeout`, so a client trickling a body cannot hold a handler, its permits
/// and its buffers indefinitely. A response already started (a download) is not cut.
pub async fn request_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if LONG_LIVED.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let limit = state.server().request_timeout.get();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::RequestTimeout(format!(
            "the request was not completed within {} (server.request_timeout)",
            crate::config::Duration(limit)
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_wait_for_a_free_connection_and_follow_the_config() {
        let mut cfg = crate::config::root::Config::default().server;
        cfg.max_connections = 1;
        let (tx, rx) = watch::channel(Arc::new(cfg.clone()));
        let slots = Arc::new(Slots::default());
        let first = slots.acquire(&rx).await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), slots.acquire(&rx)).await;
        assert!(waiting.is_err(), "a second connection waits at the cap");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), slots.acquire(&rx))
            .await
            .expect("a freed slot is taken");
        cfg.max_connections = 2;
        tx.send_replace(Arc::new(cfg));
        let third = tokio::time::timeout(Duration::from_secs(5), slots.acquire(&rx))
            .await
            .expect("a raised cap applies to the next connection");
        assert_eq!(slots.active.load(Ordering::SeqCst), 2);
        drop((second, third));
        assert_eq!(slots.active.load(Ordering::SeqCst), 0);
    }
}
