//! Retention: one background task that asks every registered pruner to delete what has
//! expired, in small transactions, so writers are never stalled behind one huge delete. Each
//! batch goes through the ordinary writer queue, interleaving with producer writes.
//!
//! Each domain registers a [`Pruner`] for its own tables at start-up (`app.rs`); the store's own
//! tables (audit log, sessions) have theirs here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use super::{Store, StoreError, Write};
use crate::clock::SharedClock;
use crate::metrics::StoreMetrics;
use crate::tasks::{self, Shutdown};

pub type PruneFuture<'a> = Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 'a>>;

/// Deletes one domain's expired rows.
pub trait Pruner: Send + Sync {
    /// For logs.
    fn name(&self) -> &'static str;
    /// Deletes what expired by `now_ms`, `batch` rows per write; returns rows deleted.
    fn prune<'a>(&'a self, store: &'a Store, now_ms: u64, batch: usize) -> PruneFuture<'a>;
}

/// Repeats one prune write until a batch comes back short.
pub async fn in_batches(
    store: &Store,
    batch: usize,
    make: impl Fn(usize) -> Write,
) -> Result<u64, StoreError> {
    let batch = batch.max(1);
    let mut total = 0;
    loop {
        let removed = store.write(vec![make(batch)]).await?;
        total += removed;
        if (removed as usize) < batch {
            return Ok(total);
        }
        // Let queued producer writes go first.
        tokio::task::yield_now().await;
    }
}

/// The audit log, kept for `keep()`.
pub struct AuditPruner<F>(pub F);

impl<F: Fn() -> Duration + Send + Sync> Pruner for AuditPruner<F> {
    fn name(&self) -> &'static str {
        "audit"
    }
    fn prune<'a>(&'a self, store: &'a Store, now_ms: u64, batch: usize) -> PruneFuture<'a> {
        let before_ms = now_ms.saturating_sub((self.0)().as_millis() as u64);
        Box::pin(in_batches(store, batch, move |limit| Write::PruneAudit {
            before_ms,
            limit,
        }))
    }
}

/// Expired dashboard sessions.
pub struct SessionPruner;

impl Pruner for SessionPruner {
    fn name(&self) -> &'static str {
        "sessions"
    }
    fn prune<'a>(&'a self, store: &'a Store, now_ms: u64, batch: usize) -> PruneFuture<'a> {
        Box::pin(in_batches(store, batch, move |limit| {
            Write::PruneSessions { now_ms, limit }
        }))
    }
}

/// Runs every pruner once; returns rows deleted. A failing pruner does not stop the others.
pub async fn run_once(
    store: &Store,
    pruners: &[Arc<dyn Pruner>],
    batch: usize,
    clock: &SharedClock,
    metrics: &StoreMetrics,
) -> u64 {
    let now = clock.now_ms();
    let mut total = 0;
    for p in pruners {
        match p.prune(store, now, batch).await {
            Ok(n) => {
                metrics.retention_deleted.inc_by(n);
                total += n;
                if n > 0 {
                    debug!(pruner = p.name(), deleted = n, "retention");
                }
            }
            Err(e) => warn!(pruner = p.name(), error = %e, "retention pass failed"),
        }
    }
    total
}

/// Runs retention every `every().1` rows of `every().0` per write, until shutdown.
pub async fn run(
    store: Store,
    pruners: Vec<Arc<dyn Pruner>>,
    every: impl Fn() -> (usize, Duration),
    clock: SharedClock,
    metrics: StoreMetrics,
    shutdown: Shutdown,
) {
    let interval = || every().1;
    tasks::every(shutdown, interval, || async {
        run_once(&store, &pruners, every().0, &clock, &metrics).await;
    })
    .await
}
