//! Expiry of full events and their attachments (`ingest.event_retention`), as a pruner of the
//! shared retention task. Issues and counts stay.

use std::sync::Arc;

use tokio::sync::watch;

use super::config::SentrySettings;
use crate::store::retention::{PruneFuture, Pruner, in_batches};
use crate::store::sentry::SentryWrite;
use crate::store::{Store, Write};

pub struct EventPruner {
    pub settings: watch::Receiver<Arc<SentrySettings>>,
}

impl Pruner for EventPruner {
    fn name(&self) -> &'static str {
        "sentry_events"
    }

    fn prune<'a>(&'a self, store: &'a Store, now_ms: u64, batch: usize) -> PruneFuture<'a> {
        let keep = self.settings.borrow().ingest.event_retention.get();
        let before_ms = now_ms.saturating_sub(keep.as_millis() as u64);
        Box::pin(in_batches(store, batch, move |limit| {
            Write::Sentry(SentryWrite::PruneEvents { before_ms, limit })
        }))
    }
}
