//! Expiry of the alert history and of finished notifications (`alerts.history_retention`), as
//! a pruner of the shared retention task. Expired silences are dropped by the engine, which
//! holds them.

use std::sync::Arc;

use tokio::sync::watch;

use super::config::AlertsConfig;
use super::outbox::Record;
use crate::store::alerts::AlertsWrite;
use crate::store::retention::{PruneFuture, Pruner, in_batches};
use crate::store::{Store, Write};

pub struct AlertPruner {
    pub settings: watch::Receiver<Arc<AlertsConfig>>,
}

impl Pruner for AlertPruner {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn prune<'a>(&'a self, store: &'a Store, now_ms: u64, batch: usize) -> PruneFuture<'a> {
        let keep = self.settings.borrow().history_retention.get().as_millis() as u64;
        let before_ms = now_ms.saturating_sub(keep);
        Box::pin(async move {
            let mut total = in_batches(store, batch, |limit| {
                Write::Alerts(AlertsWrite {
                    prune_history: Some((before_ms, limit)),
                    ..AlertsWrite::default()
                })
            })
            .await?;
            loop {
                let ids = store
                    .read(move |s| {
                        s.alerts_expired_notifications(batch.max(1), |b| {
                            serde_json::from_slice::<Record>(b).is_ok_and(|r| {
                                !r.state.is_open()
                                    && r.finished_ms.unwrap_or(r.created_ms) < before_ms
                            })
                        })
                    })
                    .await?;
                if ids.is_empty() {
                    return Ok(total);
                }
                let short = ids.len() < batch.max(1);
                total += store
                    .write(vec![Write::Alerts(AlertsWrite {
                        removed_notifications: ids,
                        ..AlertsWrite::default()
                    })])
                    .await?;
                if short {
                    return Ok(total);
                }
                tokio::task::yield_now().await;
            }
        })
    }
}
