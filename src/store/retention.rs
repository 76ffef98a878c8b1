//! Background retention: deletes expired rows in small transactions so writers are never stalled
//! behind one huge delete. Each batch goes through the ordinary writer queue, interleaving with
//! producer writes.

use std::time::Duration;

use tracing::{debug, warn};

use super::{Store, StoreError, Write};
use crate::clock::SharedClock;
use crate::metrics::StoreMetrics;

#[derive(Debug, Clone, Copy)]
pub struct RetentionPolicy {
    pub audit: Duration,
    /// Full Sentry events (issues and counts stay).
    pub events: Duration,
    pub batch: usize,
}

/// Deletes everything expired now, batch by batch. Returns rows deleted.
pub async fn run_once(
    store: &Store,
    policy: RetentionPolicy,
    clock: &SharedClock,
    metrics: &StoreMetrics,
) -> Result<u64, StoreError> {
    let now = clock.now_ms();
    let batch = policy.batch.max(1);
    let audit_before = now.saturating_sub(policy.audit.as_millis() as u64);
    let audit = prune(store, metrics, batch, |limit| Write::PruneAudit {
        before_ms: audit_before,
        limit,
    })
    .await?;
    let sessions = prune(store, metrics, batch, |limit| Write::PruneSessions {
        now_ms: now,
        limit,
    })
    .await?;
    let events_before = now.saturating_sub(policy.events.as_millis() as u64);
    let events = prune(store, metrics, batch, |limit| {
        Write::Sentry(super::sentry::SentryWrite::PruneEvents {
            before_ms: events_before,
            limit,
        })
    })
    .await?;
    Ok(audit + sessions + events)
}

/// Repeats one prune write until a batch comes back short.
async fn prune(
    store: &Store,
    metrics: &StoreMetrics,
    batch: usize,
    make: impl Fn(usize) -> Write,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let removed = store.write(vec![make(batch)]).await?;
        total += removed;
        metrics.retention_deleted.inc_by(removed);
        if (removed as usize) < batch {
            return Ok(total);
        }
        // Let queued producer writes go first.
        tokio::task::yield_now().await;
    }
}

/// Runs retention every `every` until `shutdown` resolves.
pub async fn run(
    store: Store,
    policy: impl Fn() -> (RetentionPolicy, Duration),
    clock: SharedClock,
    metrics: StoreMetrics,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (p, every) = policy();
        match run_once(&store, p, &clock, &metrics).await {
            Ok(n) if n > 0 => debug!(deleted = n, "retention pass"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "retention pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
