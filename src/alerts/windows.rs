//! Sliding windows for rules over time ("more than N in M minutes", "availability over 1 h"):
//! per-minute buckets, so a window costs at most its length in minutes of memory and a sum is
//! a walk over them. Pure.

use std::collections::VecDeque;

pub const MINUTE: u64 = 60_000;

/// Counts per minute over a bounded span.
#[derive(Debug, Clone, Default)]
pub struct MinuteSeries {
    buckets: VecDeque<(u64, u64)>,
}

impl MinuteSeries {
    /// Adds `n` at `now`; forgets minutes older than `keep_ms`.
    pub fn add(&mut self, now: u64, n: u64, keep_ms: u64) {
        let minute = now - now % MINUTE;
        match self.buckets.back_mut() {
            Some((m, v)) if *m == minute => *v = v.saturating_add(n),
            Some((m, _)) if *m > minute => {
                // A late observation: count it in the newest minute rather than reorder.
                if let Some((_, v)) = self.buckets.back_mut() {
                    *v = v.saturating_add(n);
                }
            }
            _ => self.buckets.push_back((minute, n)),
        }
        self.prune(now, keep_ms);
    }

    pub fn prune(&mut self, now: u64, keep_ms: u64) {
        let oldest = now.saturating_sub(keep_ms + MINUTE);
        while self.buckets.front().is_some_and(|(m, _)| *m < oldest) {
            self.buckets.pop_front();
        }
    }

    /// The sum over the minutes that overlap `(now - window, now]`.
    pub fn sum(&self, now: u64, window_ms: u64) -> u64 {
        let from = now.saturating_sub(window_ms);
        self.buckets
            .iter()
            .filter(|(m, _)| m + MINUTE > from && *m <= now)
            .map(|(_, v)| *v)
            .fold(0u64, u64::saturating_add)
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|(_, v)| *v == 0)
    }
}

/// Per-minute buckets of any mergeable summary (a monitor's roll-up: counts, latency histogram,
/// Apdex), over a bounded span.
#[derive(Debug, Clone)]
pub struct Buckets<T> {
    span_ms: u64,
    width_ms: u64,
    buckets: VecDeque<(u64, T)>,
}

impl<T: Default> Buckets<T> {
    pub fn new(span_ms: u64, width_ms: u64) -> Self {
        Buckets {
            span_ms,
            width_ms: width_ms.max(1),
            buckets: VecDeque::new(),
        }
    }

    /// The bucket of `now`, created if needed (older buckets beyond the span are dropped).
    pub fn at(&mut self, now: u64) -> &mut T {
        let start = now - now % self.width_ms;
        let oldest = now.saturating_sub(self.span_ms + self.width_ms);
        while self.buckets.front().is_some_and(|(b, _)| *b < oldest) {
            self.buckets.pop_front();
        }
        let fresh = self.buckets.back().is_none_or(|(b, _)| *b < start);
        if fresh {
            self.buckets.push_back((start, T::default()));
        }
        // A late observation lands in the newest bucket.
        &mut self.buckets.back_mut().expect("just ensured").1
    }

    /// The buckets overlapping `[from, to)`.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = &T> {
        let w = self.width_ms;
        self.buckets
            .iter()
            .filter(move |(b, _)| b + w > from && *b < to)
            .map(|(_, t)| t)
    }

    pub fn insert(&mut self, start: u64, value: T) {
        let pos = self.buckets.partition_point(|(b, _)| *b < start);
        match self.buckets.get_mut(pos) {
            Some((b, v)) if *b == start => *v = value,
            _ => self.buckets.insert(pos, (start, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_sums_what_fell_in_the_window() {
        let mut s = MinuteSeries::default();
        let t = 100 * MINUTE;
        s.add(t, 3, 10 * MINUTE);
        s.add(t + 30_000, 2, 10 * MINUTE);
        s.add(t + 5 * MINUTE, 4, 10 * MINUTE);
        assert_eq!(s.sum(t + 5 * MINUTE, 10 * MINUTE), 9);
        assert_eq!(s.sum(t + 5 * MINUTE, 2 * MINUTE), 4);
        assert_eq!(s.sum(t + 20 * MINUTE, 10 * MINUTE), 0);
        s.add(t + 30 * MINUTE, 1, 10 * MINUTE);
        assert_eq!(s.buckets.len(), 1, "old minutes are dropped");
    }

    #[test]
    fn buckets_keep_their_span() {
        let mut b: Buckets<u32> = Buckets::new(3 * MINUTE, MINUTE);
        for m in 0..10 {
            *b.at(m * MINUTE) += 1;
        }
        assert!(b.buckets.len() <= 5);
        assert_eq!(b.range(7 * MINUTE, 10 * MINUTE).sum::<u32>(), 3);
    }
}
