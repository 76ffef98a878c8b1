//! Ingest limits decided per event: the project's per-minute quota and flood control (how many
//! copies of one issue are stored in full per window). Both maps are bounded.
//!
//! A decision takes a slot at once (concurrent requests must see each other), but only as a
//! [`Reservation`]: a request that then fails to commit (503: backlog, inflight bytes, a busy
//! store) gives its slots back, so the SDK's retry is judged as if the failed try never
//! happened, not refused with 429 or counted only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bound on the flood-control map; windows are evicted when it is reached.
const MAX_FLOOD_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Limits {
    /// (project, grouping hash) -> (window start ms, events seen in it).
    flood: Mutex<HashMap<(u64, String), (u64, u32)>>,
    /// project -> (minute start ms, events accepted in it). Only configured projects reach
    /// here, so it is as small as the config.
    quotas: Mutex<HashMap<u64, (u64, u64)>>,
}

/// A refusal by the project's quota: seconds to wait, and the `X-Sentry-Rate-Limits` value.
pub type QuotaRefusal = (u64, String);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Quota and flood slots taken by one request; given back when dropped unless [`keep`]
/// was called (after the commit), however the request ends: an error, a panic, a client that
/// went away.
///
/// [`keep`]: Reservation::keep
pub struct Reservation {
    limits: Arc<Limits>,
    /// (project, minute start) per event counted against a quota.
    quota: Vec<(u64, u64)>,
    /// (project, group, window start) per event counted against flood control.
    flood: Vec<(u64, String, u64)>,
}

impl Reservation {
    pub fn new(limits: Arc<Limits>) -> Reservation {
        Reservation {
            limits,
            quota: Vec::new(),
            flood: Vec::new(),
        }
    }

    /// The request is durable: its slots stay spent.
    pub fn keep(mut self) {
        self.quota.clear();
        self.flood.clear();
    }

    /// Counts one event against `limit` events per calendar minute of `project`.
    pub fn quota(
        &mut self,
        project: u64,
        limit: Option<u64>,
        now: u64,
    ) -> Result<(), QuotaRefusal> {
        let Some(limit) = limit else { return Ok(()) };
        let minute = now - now % 60_000;
        let mut q = lock(&self.limits.quotas);
        let e = q.entry(project).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        if e.1 >= limit {
            let secs = (minute + 60_000 - now).div_ceil(1000).max(1);
            return Err((
                secs,
                format!("{secs}:error;default;security:project:project_quota"),
            ));
        }
        e.1 += 1;
        self.quota.push((project, minute));
        Ok(())
    }

    /// Whether this event of `group` is stored in full: at most `max` per `window_ms` window
    /// per (project, group); further copies are counted only.
    pub fn store_in_full(
        &mut self,
        project: u64,
        group: &str,
        max: u32,
        window_ms: u64,
        now: u64,
    ) -> bool {
        let window = window_ms.max(1);
        let start = now - now % window;
        let mut f = lock(&self.limits.flood);
        if f.len() >= MAX_FLOOD_KEYS && !f.contains_key(&(project, group.to_string())) {
            evict(&mut f, start);
        }
        let e = f.entry((project, group.to_string())).or_insert((start, 0));
        if e.0 != start {
            *e = (start, 0);
        }
        e.1 = e.1.saturating_add(1);
        self.flood.push((project, group.to_string(), start));
        e.1 <= max
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.quota.is_empty() {
            let mut q = lock(&self.limits.quotas);
            for (project, minute) in self.quota.drain(..) {
                // A minute that has passed started from zero anyway.
                if let Some(e) = q.get_mut(&project)
                    && e.0 == minute
                {
                    e.1 = e.1.saturating_sub(1);
                }
            }
        }
        if !self.flood.is_empty() {
            let mut f = lock(&self.limits.flood);
            for (project, group, start) in self.flood.drain(..) {
                if let Some(e) = f.get_mut(&(project, group))
                    && e.0 == start
                {
                    e.1 = e.1.saturating_sub(1);
                }
            }
        }
    }
}

/// Makes room in a full flood map. Windows that have ended go first; when the current window
/// alone fills the map (many distinct groups at once), about a tenth of it goes, those with the
/// fewest events: the issues actually flooding keep their count, so a burst of one-off groups
/// cannot reset every flood window (which clearing the map did).
fn evict(f: &mut HashMap<(u64, String), (u64, u32)>, start: u64) {
    f.retain(|_, (s, _)| *s == start);
    if f.len() < MAX_FLOOD_KEYS {
        return;
    }
    let k = MAX_FLOOD_KEYS / 10;
    let mut counts: Vec<u32> = f.values().map(|(_, n)| *n).collect();
    let (_, cut, _) = counts.select_nth_unstable(k);
    let cut = *cut;
    // Everything below the k-th smallest count goes, then entries at it until k are gone.
    let mut at_cut = k.saturating_sub(counts[..k].iter().filter(|n| **n < cut).count());
    f.retain(|_, (_, n)| {
        if *n < cut {
            return false;
        }
        if *n == cut && at_cut > 0 {
            at_cut -= 1;
            return false;
        }
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_counts_per_calendar_minute() {
        let l = Arc::new(Limits::default());
        let mut r = Reservation::new(l.clone());
        // A minute boundary: 1_800_000_000_000 is 30,000,000 minutes.
        let t: u64 = 1_800_000_000_000;
        assert!(r.quota(7, Some(2), t + 1_000).is_ok());
        assert!(r.quota(7, Some(2), t + 2_000).is_ok());
        let (secs, header) = r.quota(7, Some(2), t + 30_000).expect_err("third refused");
        assert_eq!(secs, 30);
        assert_eq!(header, "30:error;default;security:project:project_quota");
        assert!(r.quota(7, Some(2), t + 60_000).is_ok(), "a new minute");
        assert!(r.quota(8, None, t).is_ok());
        r.keep();
    }

    #[test]
    fn floods_store_a_few_per_window_and_new_groups_have_their_own() {
        let l = Arc::new(Limits::default());
        let mut r = Reservation::new(l);
        let full: Vec<bool> = (0..5)
            .map(|_| r.store_in_full(7, "a", 2, 1000, 5_000))
            .collect();
        assert_eq!(full, [true, true, false, false, false]);
        assert!(r.store_in_full(7, "b", 2, 1000, 5_000));
        assert!(r.store_in_full(7, "a", 2, 1000, 6_000), "next window");
        r.keep();
    }

    /// Slots of a request that did not commit are given back; kept ones stay spent.
    #[test]
    fn reservations_are_given_back_unless_kept() {
        let l = Arc::new(Limits::default());
        let t: u64 = 1_800_000_000_000;
        let mut failed = Reservation::new(l.clone());
        assert!(failed.quota(7, Some(1), t).is_ok());
        assert!(failed.store_in_full(7, "g", 1, 60_000, t));
        drop(failed);
        let mut retry = Reservation::new(l.clone());
        assert!(retry.quota(7, Some(1), t).is_ok(), "the retry is not 429");
        assert!(
            retry.store_in_full(7, "g", 1, 60_000, t),
            "nor counted only"
        );
        retry.keep();
        let mut next = Reservation::new(l);
        assert!(
            next.quota(7, Some(1), t).is_err(),
            "a kept slot stays spent"
        );
        assert!(!next.store_in_full(7, "g", 1, 60_000, t));
    }

    /// A window full of distinct one-off groups makes room by dropping some of those, not by
    /// forgetting the issue that is flooding.
    #[test]
    fn a_full_flood_map_keeps_the_flooding_issue_counted() {
        let l = Arc::new(Limits::default());
        let mut r = Reservation::new(l.clone());
        let now = 5_000;
        for _ in 0..3 {
            r.store_in_full(7, "hot", 2, 60_000, now);
        }
        for i in 0..MAX_FLOOD_KEYS {
            r.store_in_full(7, &format!("one-off-{i}"), 2, 60_000, now);
        }
        r.keep();
        let size = lock(&l.flood).len();
        assert!(size <= MAX_FLOOD_KEYS, "bounded: {size}");
        assert!(
            size >= MAX_FLOOD_KEYS - MAX_FLOOD_KEYS / 5,
            "only some evicted: {size}"
        );
        let mut r = Reservation::new(l);
        assert!(
            !r.store_in_full(7, "hot", 2, 60_000, now),
            "the flooding issue keeps its window"
        );
    }
}
