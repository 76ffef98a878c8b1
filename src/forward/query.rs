//! The figures of forwarding: `GET /count` (Cyclops's names), the `forward` object of
//! `/api/v1/ingest/stats`.
//!
//! Owns: summing the outbox counters over projects. Depends on: `store`.

use panoptes_types::{ForwardCount, ForwardStats};

use super::Forwarder;
use crate::store::{Store, StoreError};

impl Forwarder {
    /// Every figure, over every project. Blocking: call through `Store::read`.
    pub fn stats(&self, store: &Store) -> Result<ForwardStats, StoreError> {
        let mut out = ForwardStats::default();
        for (_, name, n) in store.forward_counts()? {
            match name.as_str() {
                "backlog" => out.count.count += n,
                "bytes" => out.bytes += n,
                "processed" => out.count.processed += n,
                "ignored" => out.count.ignored += n,
                other => {
                    if let Some(reason) = other.strip_prefix("dropped_") {
                        *out.dropped.entry(reason.to_string()).or_insert(0) += n;
                    }
                }
            }
        }
        let live = self.live();
        out.count.average = live.latencies.mean();
        out.count.percentile = live.latencies.p90();
        out.in_flight = live.in_flight;
        out.last_error = live.last_error.clone();
        Ok(out)
    }

    /// `GET /count`.
    pub fn count(&self, store: &Store) -> Result<ForwardCount, StoreError> {
        Ok(self.stats(store)?.count)
    }
}
