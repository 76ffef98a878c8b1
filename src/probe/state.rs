//! Monitor states and the transition rules (pure, so they are tested exhaustively without time).

use serde::{Deserialize, Serialize};

/// Reported state. The numeric codes are stored in results: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not checked yet.
    Unknown = 0,
    Up = 1,
    /// Conditions hold but latency is above the monitor's `degraded` threshold.
    Degraded = 2,
    Down = 3,
    /// Inside a maintenance window: left out of availability.
    Maintenance = 4,
    /// Failed, with retries left.
    Pending = 5,
}

impl State {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(c: u8) -> Option<State> {
        Some(match c {
            0 => State::Unknown,
            1 => State::Up,
            2 => State::Degraded,
            3 => State::Down,
            4 => State::Maintenance,
            5 => State::Pending,
            _ => return None,
        })
    }

    /// The state as the API carries it.
    pub fn wire(self) -> panoptes_types::MonitorState {
        use panoptes_types::MonitorState as M;
        match self {
            State::Unknown => M::Unknown,
            State::Up => M::Up,
            State::Degraded => M::Degraded,
            State::Down => M::Down,
            State::Maintenance => M::Maintenance,
            State::Pending => M::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "UNKNOWN",
            State::Up => "UP",
            State::Degraded => "DEGRADED",
            State::Down => "DOWN",
            State::Maintenance => "MAINTENANCE",
            State::Pending => "PENDING",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        [
            State::Unknown,
            State::Up,
            State::Degraded,
            State::Down,
            State::Maintenance,
            State::Pending,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

/// One attempt's verdict.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// All conditions held.
    pub ok: bool,
    /// Latency above the `degraded` threshold.
    pub slow: bool,
    pub in_maintenance: bool,
}

/// Counters behind the state; persisted so a restart does not forget a pending failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Machine {
    /// The state ignoring maintenance (what the target is really doing).
    pub underlying: Option<State>,
    pub failures: u32,
    pub successes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub state: State,
    /// Check again after `retry_interval` rather than the interval.
    pub retry: bool,
}

impl Machine {
    /// Applies one attempt: a failure is real (DOWN) only after `retries + 1` consecutive failed
    /// attempts; from DOWN, `recovery` consecutive successes are needed for UP.
    pub fn apply(&mut self, a: Attempt, retries: u32, recovery: u32) -> Transition {
        let underlying = if a.ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            let was_down = self.underlying == Some(State::Down);
            if was_down && self.successes < recovery.max(1) {
                State::Down
            } else if a.slow {
                State::Degraded
            } else {
                State::Up
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.failures > retries || self.underlying == Some(State::Down) {
                State::Down
            } else {
                State::Pending
            }
        };
        self.underlying = Some(underlying);
        if a.in_maintenance {
            return Transition {
                state: State::Maintenance,
                retry: false,
            };
        }
        Transition {
            state: underlying,
            retry: underlying == State::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Attempt {
        Attempt {
            ok: true,
            slow: false,
            in_maintenance: false,
        }
    }
    fn fail() -> Attempt {
        Attempt {
            ok: false,
            slow: false,
            in_maintenance: false,
        }
    }

    #[test]
    fn down_only_after_retries_are_exhausted() {
        let mut m = Machine::default();
        assert_eq!(
            m.apply(fail(), 2, 1),
            Transition {
                state: State::Pending,
                retry: true
            }
        );
        assert_eq!(m.apply(fail(), 2, 1).state, State::Pending);
        assert_eq!(
            m.apply(fail(), 2, 1),
            Transition {
                state: State::Down,
                retry: false
            }
        );
        assert_eq!(m.apply(fail(), 2, 1).state, State::Down, "stays down");
    }

    #[test]
    fn a_success_during_retries_clears_the_failures() {
        let mut m = Machine::default();
        m.apply(fail(), 1, 1);
        assert_eq!(m.apply(ok(), 1, 1).state, State::Up);
        assert_eq!(m.apply(fail(), 1, 1).state, State::Pending);
    }

    #[test]
    fn recovery_needs_consecutive_successes() {
        let mut m = Machine::default();
        m.apply(fail(), 0, 3);
        assert_eq!(m.underlying, Some(State::Down));
        assert_eq!(m.apply(ok(), 0, 3).state, State::Down);
        assert_eq!(m.apply(ok(), 0, 3).state, State::Down);
        assert_eq!(m.apply(fail(), 0, 3).state, State::Down, "a failure resets");
        m.apply(ok(), 0, 3);
        m.apply(ok(), 0, 3);
        assert_eq!(m.apply(ok(), 0, 3).state, State::Up);
    }

    #[test]
    fn slow_passes_are_degraded() {
        let mut m = Machine::default();
        let slow = Attempt { slow: true, ..ok() };
        assert_eq!(m.apply(slow, 0, 1).state, State::Degraded);
    }

    #[test]
    fn maintenance_masks_the_state_but_keeps_counting() {
        let mut m = Machine::default();
        let maint_fail = Attempt {
            in_maintenance: true,
            ..fail()
        };
        assert_eq!(
            m.apply(maint_fail, 0, 1),
            Transition {
                state: State::Maintenance,
                retry: false
            }
        );
        assert_eq!(m.underlying, Some(State::Down));
        assert_eq!(m.apply(ok(), 0, 1).state, State::Up);
    }

    #[test]
    fn codes_round_trip() {
        for c in 0..=5 {
            let s = State::from_code(c).expect("known code");
            assert_eq!(s.code(), c);
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::from_code(9), None);
    }
}
