//! Ingest limits decided per event: the project's per-minute quota and flood control (how many
//! copies of one issue are stored in full per window). Both maps are bounded.

use std::collections::HashMap;
use std::sync::Mutex;

/// Bound on the flood-control map; stale windows are dropped when it is reached.
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

impl Limits {
    /// Counts one event against `limit` events per calendar minute of `project`.
    pub fn quota(&self, project: u64, limit: Option<u64>, now: u64) -> Result<(), QuotaRefusal> {
        let Some(limit) = limit else { return Ok(()) };
        let minute = now - now % 60_000;
        let mut q = lock(&self.quotas);
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
        Ok(())
    }

    /// Whether this event of `group` is stored in full: at most `max` per `window_ms` window
    /// per (project, group); further copies are counted only.
    pub fn store_in_full(
        &self,
        project: u64,
        group: &str,
        max: u32,
        window_ms: u64,
        now: u64,
    ) -> bool {
        let window = window_ms.max(1);
        let start = now - now % window;
        let mut f = lock(&self.flood);
        if f.len() >= MAX_FLOOD_KEYS {
            f.retain(|_, (s, _)| *s == start);
            if f.len() >= MAX_FLOOD_KEYS {
                f.clear();
            }
        }
        let e = f.entry((project, group.to_string())).or_insert((start, 0));
        if e.0 != start {
            *e = (start, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_counts_per_calendar_minute() {
        let l = Limits::default();
        // A minute boundary: 1_800_000_000_000 is 30,000,000 minutes.
        let t: u64 = 1_800_000_000_000;
        assert!(l.quota(7, Some(2), t + 1_000).is_ok());
        assert!(l.quota(7, Some(2), t + 2_000).is_ok());
        let (secs, header) = l.quota(7, Some(2), t + 30_000).expect_err("third refused");
        assert_eq!(secs, 30);
        assert_eq!(header, "30:error;default;security:project:project_quota");
        assert!(l.quota(7, Some(2), t + 60_000).is_ok(), "a new minute");
        assert!(l.quota(8, None, t).is_ok());
    }

    #[test]
    fn floods_store_a_few_per_window_and_new_groups_have_their_own() {
        let l = Limits::default();
        let full: Vec<bool> = (0..5)
            .map(|_| l.store_in_full(7, "a", 2, 1000, 5_000))
            .collect();
        assert_eq!(full, [true, true, false, false, false]);
        assert!(l.store_in_full(7, "b", 2, 1000, 5_000));
        assert!(l.store_in_full(7, "a", 2, 1000, 6_000), "next window");
    }
}
