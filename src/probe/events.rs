//! What probing reports after each result is stored (see `crate::events`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::state::State;

/// One stored check result.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub monitor_id: u32,
    pub name: Arc<str>,
    pub group: Option<Arc<str>>,
    /// The monitor's configured `labels` (shared: every result carries them).
    pub labels: Arc<BTreeMap<String, String>>,
    /// `http`, `tcp`, ...
    pub kind: &'static str,
    pub at_ms: u64,
    /// The state before this result, and after it.
    pub previous: State,
    pub state: State,
    pub ok: bool,
    pub latency_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// When the monitor's certificate expires, if it has one.
    pub cert_expires_at_ms: Option<i64>,
    /// The monitor is in a maintenance window.
    pub maintenance: bool,
    /// The monitor's Apdex threshold, for judges of latency over a window.
    pub apdex_t_ms: u64,
    /// The monitor is checked from several locations (`locations:`): its state, for rules
    /// about states and for pages, is the one [`ProbeEvent::Combined`] carries; a `Checked`
    /// of such a monitor is the server's own location's result.
    pub located: bool,
}

impl Checked {
    pub fn is_transition(&self) -> bool {
        self.previous != self.state
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProbeEvent {
    /// Every stored result; `previous != state` is a state transition.
    Checked(Checked),
    /// A monitor checked from several locations, decided again across them after a result
    /// of any of its locations was stored: `previous`/`state` are the combined states (DOWN
    /// when at least `quorum` locations fail, DEGRADED when fewer do); `ok`, latency and
    /// status are the triggering result's; `error` names the failing locations.
    Combined(Checked),
    /// A push monitor's heartbeat did not arrive within its interval and grace (also reported
    /// as a failed `Checked`).
    HeartbeatMissed {
        monitor_id: u32,
        name: Arc<str>,
        at_ms: u64,
    },
    /// The monitor was removed from the configuration.
    Removed { monitor_id: u32, name: Arc<str> },
}
