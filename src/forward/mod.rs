//! Forwarding accepted Sentry envelopes to an upstream Sentry, at the pace it can bear, and the
//! figures that let several Panoptes instances behind a load balancer be watched as one farm.
//!
//! Owns: the `forward:` section (`config.rs`), the pure pacing and rate-limit core
//! (`pace.rs`), the sender task (`sender.rs`, all I/O), the figures (`query.rs`) and the
//! `farm stats` command's fetching and sums (`farm.rs`). Depends on: `config`, `store`,
//! `clock`, `metrics`, `outbound`, `tasks`, `sentry` (the project's `forward:` settings and the
//! outbox row framing, written by ingest in the same transaction as its inbox rows).
//!
//! Flow: ingest writes one outbox row per accepted envelope (flood copies and sampled-out
//! events are only counted `ignored`). The sender picks rows newest first per project, round
//! robin across projects, sends each to `/api/{id}/envelope/` with bounded concurrency and a
//! pause that follows the p90 of upstream's answers, and deletes a row only once upstream
//! answered (or it was dropped, counted by reason). After a crash the rows in flight are still
//! there and are sent again: upstream Sentry deduplicates by event id.

pub mod config;
pub mod farm;
pub mod pace;
pub mod query;
pub mod sender;

use std::sync::{Arc, Mutex};

use pace::{Latencies, RateLimits};

/// What the sender knows that the store does not: recent response times, limits in force.
#[derive(Default)]
struct Live {
    latencies: Latencies,
    limits: RateLimits,
    in_flight: u64,
    last_error: Option<String>,
}

/// The handle the API reads figures from; the sender task updates it.
#[derive(Clone, Default)]
pub struct Forwarder {
    live: Arc<Mutex<Live>>,
}

impl Forwarder {
    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        // A poisoned lock only means a task panicked while holding it; the figures stay usable.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}
