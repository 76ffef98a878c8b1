//! The pure core of multi-location monitors: each location's latest state in, the monitor's
//! state across locations out. No I/O, no clock: the caller passes `now`.
//!
//! DOWN when at least `quorum` locations see the monitor failing; DEGRADED when some do, but
//! fewer; UP when the locations heard from all pass; UNKNOWN when none was heard from. A
//! location not heard from within `stale_after_ms` counts as unknown, not failing: an agent
//! that stopped reporting must not page for the target (it is alerted on by itself).

use super::state::State;

/// One location's latest word on a monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub state: State,
    /// When its latest result was taken; `None` before its first.
    pub at_ms: Option<u64>,
}

/// What the locations add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub state: State,
    pub failing: usize,
    /// Locations heard from recently enough to count.
    pub reporting: usize,
}

impl Default for Seen {
    /// A location never heard from.
    fn default() -> Seen {
        Seen {
            state: State::Unknown,
            at_ms: None,
        }
    }
}

/// Whether a location's state counts as failing (retries still pending do not).
fn failing(s: State) -> bool {
    s == State::Down
}

/// Whether a location counts among the failing ones at `now` (recent enough, and DOWN).
pub fn counts_failing(s: &Seen, now_ms: u64, stale_after_ms: u64) -> bool {
    failing(s.state)
        && s.at_ms
            .is_some_and(|at| now_ms.saturating_sub(at) <= stale_after_ms)
}

pub fn decide(seen: &[Seen], quorum: u32, now_ms: u64, stale_after_ms: u64) -> Verdict {
    let fresh: Vec<State> = seen
        .iter()
        .filter(|s| {
            s.at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) <= stale_after_ms)
        })
        .map(|s| s.state)
        .filter(|s| *s != State::Unknown)
        .collect();
    let failing_n = fresh.iter().filter(|s| failing(**s)).count();
    let state = if fresh.is_empty() {
        State::Unknown
    } else if failing_n >= quorum.max(1) as usize {
        State::Down
    } else if failing_n > 0 || fresh.contains(&State::Degraded) {
        State::Degraded
    } else if fresh.iter().all(|s| *s == State::Maintenance) {
        State::Maintenance
    } else {
        State::Up
    };
    Verdict {
        state,
        failing: failing_n,
        reporting: fresh.len(),
    }
}

/// How long a location may stay silent before it counts as unknown: a few intervals.
pub fn stale_after_ms(interval_ms: u64, timeout_ms: u64) -> u64 {
    interval_ms.saturating_mul(3).saturating_add(timeout_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn at(state: State) -> Seen {
        Seen {
            state,
            at_ms: Some(NOW - 1_000),
        }
    }

    #[test]
    fn down_needs_the_quorum_and_fewer_failures_degrade() {
        use State::*;
        let v = decide(&[at(Down), at(Up), at(Up)], 2, NOW, 60_000);
        assert_eq!((v.state, v.failing, v.reporting), (Degraded, 1, 3));
        let v = decide(&[at(Down), at(Down), at(Up)], 2, NOW, 60_000);
        assert_eq!((v.state, v.failing), (Down, 2));
        assert_eq!(decide(&[at(Up), at(Up)], 1, NOW, 60_000).state, Up);
        assert_eq!(decide(&[at(Down), at(Up)], 1, NOW, 60_000).state, Down);
        // Pending (retries left) is not failing yet; a slow location degrades.
        assert_eq!(decide(&[at(Pending), at(Up)], 1, NOW, 60_000).state, Up);
        assert_eq!(
            decide(&[at(Degraded), at(Up)], 2, NOW, 60_000).state,
            Degraded
        );
    }

    #[test]
    fn silent_locations_are_unknown_not_failing() {
        use State::*;
        let stale = Seen {
            state: Down,
            at_ms: Some(NOW - 120_001),
        };
        let v = decide(&[stale, stale, at(Up)], 2, NOW, 120_000);
        assert_eq!((v.state, v.failing, v.reporting), (Up, 0, 1));
        let never = Seen {
            state: Unknown,
            at_ms: None,
        };
        assert_eq!(decide(&[never, stale], 1, NOW, 120_000).state, Unknown);
        assert_eq!(decide(&[], 1, NOW, 120_000).state, Unknown);
    }

    #[test]
    fn a_zero_quorum_never_means_down_by_default() {
        // Validation refuses 0; if one got here it acts as 1, never "DOWN with no failures".
        assert_eq!(decide(&[at(State::Up)], 0, NOW, 60_000).state, State::Up);
    }
}
