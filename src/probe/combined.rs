//! A multi-location monitor's state across its locations, published as its state.
//!
//! Owns: deciding a monitor with `locations:` again whenever a result of one of its locations
//! is stored (the server's own through `engine.rs`, the others' through `locations.rs`), the
//! state it was last published in, and the state listings and status pages show for it.
//! Depends on: `quorum.rs` (the pure decision) and each location's runtime in memory. Nothing
//! here reads the store: a location's series is in memory once its first result arrived or its
//! monitor started (`preload`), so a check never waits on a read to be decided.

use std::collections::HashMap;

use super::config::MonitorConfig;
use super::events::{Checked, ProbeEvent};
use super::locations::{Series, series_key};
use super::quorum::{self, Seen, Verdict};
use super::state::State;
use super::{Monitor, ProbeEngine, lock};

/// The result that made a monitor be decided again.
#[derive(Debug, Clone, Copy)]
pub(super) struct Trigger {
    pub at_ms: u64,
    pub ok: bool,
    pub latency_ms: u64,
    pub status: Option<u16>,
}

impl ProbeEngine {
    /// The monitor's state across its locations at `now`, and the locations failing.
    pub(super) fn decide(&self, m: &Monitor, now: u64) -> (Verdict, Vec<String>) {
        let cfg = &m.config;
        let stale_after = quorum::stale_after_ms(
            cfg.interval.get().as_millis() as u64,
            cfg.timeout.get().as_millis() as u64,
        );
        let own = {
            let rt = lock(&m.rt);
            Seen {
                state: rt.state,
                at_ms: rt.last.as_ref().map(|l| l.at_ms),
            }
        };
        let series = lock(&self.inner.series);
        let mut seen = Vec::with_capacity(cfg.locations.len());
        let mut failing = Vec::new();
        for l in &cfg.locations {
            let s = if *l == self.inner.local {
                own
            } else {
                series
                    .get(&series_key(&cfg.name, l))
                    .map_or(Seen::default(), |s| Seen {
                        state: s.rt.state,
                        at_ms: s.rt.last.as_ref().map(|l| l.at_ms),
                    })
            };
            if quorum::counts_failing(&s, now, stale_after) {
                failing.push(l.clone());
            }
            seen.push(s);
        }
        (quorum::decide(&seen, cfg.quorum, now, stale_after), failing)
    }

    /// The state listings and status pages show: across locations for a monitor that has
    /// them, else its own.
    pub(super) fn shown_state(&self, m: &Monitor) -> State {
        if m.config.locations.is_empty() {
            lock(&m.rt).state
        } else {
            self.decide(m, self.inner.clock.now_ms()).0.state
        }
    }

    /// Decides a multi-location monitor again after one of its locations' results was stored;
    /// the event to publish (`None` for a monitor without locations).
    pub(super) fn combined(&self, m: &Monitor, t: Trigger) -> Option<ProbeEvent> {
        let cfg = &m.config;
        if cfg.locations.is_empty() {
            return None;
        }
        let (v, failing) = self.decide(m, self.inner.clock.now_ms());
        let previous = lock(&self.inner.combined)
            .insert(m.id, v.state)
            .unwrap_or(State::Unknown);
        let error = (!failing.is_empty()).then(|| {
            format!(
                "failing from {} of {} locations (quorum {}): {}",
                failing.len(),
                cfg.locations.len(),
                cfg.quorum,
                failing.join(", ")
            )
        });
        Some(ProbeEvent::Combined(Checked {
            monitor_id: m.id,
            name: m.name.clone(),
            group: m.group.clone(),
            labels: m.labels.clone(),
            kind: cfg.kind.type_name(),
            at_ms: t.at_ms,
            previous,
            state: v.state,
            ok: t.ok,
            latency_ms: t.latency_ms,
            status: t.status,
            error,
            cert_expires_at_ms: None,
            maintenance: v.state == State::Maintenance,
            apdex_t_ms: cfg.apdex_t.get().as_millis() as u64,
            located: true,
        }))
    }

    /// Loads the stored series of the other locations of `monitors`, so a restarted server
    /// decides with every location's last word, not only those heard from since; forgets the
    /// combined state of monitors no longer checked from several locations.
    pub(super) fn preload(&self, ids: &HashMap<String, u32>, monitors: &[MonitorConfig]) {
        let located: std::collections::HashSet<u32> = monitors
            .iter()
            .filter(|m| !m.locations.is_empty())
            .filter_map(|m| ids.get(&m.name).copied())
            .collect();
        lock(&self.inner.combined).retain(|id, _| located.contains(id));
        for cfg in monitors.iter().filter(|m| m.enabled) {
            for l in cfg.locations.iter().filter(|l| **l != self.inner.local) {
                let key = series_key(&cfg.name, l);
                let Some(id) = ids.get(&key).copied() else {
                    continue;
                };
                if lock(&self.inner.series).contains_key(&key) {
                    continue;
                }
                let s = Series {
                    id,
                    rt: self.restore(id),
                };
                lock(&self.inner.series).entry(key).or_insert(s);
            }
        }
    }
}
