//! Probing: scheduling checks for every monitor, judging them, keeping state, roll-ups and
//! results.
//!
//! Owns: monitor runtime state, the scheduler, push heartbeats, the monitor queries the API and
//! the status page share. Depends on: `store` (probe tables), `config` (the framework),
//! `clock`, `metrics`, `outbound` (HTTP clients), `events` (publishing only).
//!
//! Layout: `engine.rs` starts, reconciles and stops monitors and records results; `schedule.rs`
//! runs each monitor's loop; `push.rs` takes heartbeats; `judge.rs` is the pure core (an outcome
//! in; the record, roll-ups and transition out); `query.rs` answers listings and uptime;
//! `locations.rs` keeps other locations' series, `quorum.rs` (pure) decides across them and
//! `combined.rs` publishes that decision as the monitor's state;
//! `retention.rs` expires old rows; `managed.rs` (pure) and `manage.rs` take the monitors
//! created through the API, which run beside the config file's (`windows.rs`: maintenance
//! windows likewise). Each monitor is one tokio task
//! that sleeps until its next planned start (start-to-start, first runs spread across the
//! interval by a hash of the name), takes a global and a per-host permit, runs its check under
//! its timeout and records the result. A slow target only ever holds its own task and permits,
//! so it cannot delay another monitor's schedule.

pub mod check;
mod combined;
pub mod condition;
pub mod config;
mod engine;
pub mod events;
pub mod judge;
pub mod kinds;
pub mod locations;
pub mod maintenance;
mod manage;
pub mod managed;
mod push;
pub mod query;
pub mod quorum;
pub mod retention;
pub mod rollup;
mod schedule;
pub mod state;
pub mod uptime;
mod windows;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::events::Publisher;
use crate::metrics::ProbeMetrics;
use crate::outbound::SharedClients;
use crate::store::{Store, StoreError};
use check::Checkers;
use condition::ConditionResult;
use config::MonitorConfig;
use events::ProbeEvent;
use maintenance::MaintenanceConfig;
use rollup::Rollup;
use state::{Machine, State};

pub use engine::AfterCommit;
pub use manage::ManageError;

/// The last check of a monitor, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastCheck {
    pub at_ms: u64,
    pub latency_ms: u64,
    pub ok: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub conditions: Vec<ConditionResult>,
    pub maintenance: Option<String>,
}

/// What survives a restart (stored with every result).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Snapshot {
    machine: Machine,
    state: Option<State>,
    last: Option<LastCheck>,
    cert_expires_at_ms: Option<i64>,
    last_push_ms: Option<u64>,
}

/// A monitor's state between checks. A result is judged on a copy, which replaces this only
/// once the store has taken the result (see `engine.rs`).
#[derive(Clone)]
pub struct Runtime {
    pub machine: Machine,
    pub state: State,
    pub last: Option<LastCheck>,
    pub cert_expires_at_ms: Option<i64>,
    pub last_push_ms: Option<u64>,
    /// Current bucket per resolution (minute, hour, day).
    pub current: [(u64, Rollup); 3],
    /// Recent hour buckets for the 24 h uptime and bar without a store read.
    pub hours: VecDeque<uptime::HourTally>,
}

pub struct Monitor {
    pub id: u32,
    pub config: MonitorConfig,
    /// The name and group as shared strings, for events.
    name: Arc<str>,
    group: Option<Arc<str>>,
    labels: Arc<std::collections::BTreeMap<String, String>>,
    rt: Mutex<Runtime>,
    /// Held from judging a result to swapping its runtime in, so results of one monitor (a
    /// push, a missed deadline, a scheduled check) are applied one at a time, in order.
    writing: tokio::sync::Mutex<()>,
    pushed: Notify,
}

/// Largest latency a heartbeat may report (one day); beyond is clamped, so a client-supplied
/// number cannot overflow roll-up sums or skew every percentile.
pub const MAX_PUSH_LATENCY_MS: u64 = 86_400_000;

/// A monitor's current state for listings.
#[derive(Debug, Clone)]
pub struct MonitorView {
    pub id: u32,
    pub config: MonitorConfig,
    pub state: State,
    pub last: Option<LastCheck>,
    pub cert_expires_at_ms: Option<i64>,
    pub uptime_24h: Option<f64>,
    /// The last 25 hours' tallies (the 24 h bar).
    pub hours: Vec<uptime::HourTally>,
    /// Today's roll-up as (counted, down); zero when nothing was checked today.
    pub today: (u32, u32),
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the engine is given: storage, time, metrics, outbound HTTP and where to publish.
#[derive(Clone)]
pub struct ProbeDeps {
    pub store: Store,
    pub clock: SharedClock,
    pub metrics: ProbeMetrics,
    pub clients: SharedClients,
    pub events: Publisher<ProbeEvent>,
}

struct Inner {
    /// Where every monitor's interval grid is anchored (see `schedule::first_start`).
    epoch: tokio::time::Instant,
    store: Store,
    clock: SharedClock,
    metrics: ProbeMetrics,
    checkers: Checkers,
    events: Publisher<ProbeEvent>,
    /// Results waiting for their commit before their event is published (in order).
    after_commit: mpsc::Sender<AfterCommit>,
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    monitors: RwLock<BTreeMap<u32, Arc<Monitor>>>,
    tasks: Mutex<HashMap<u32, JoinHandle<()>>>,
    push_tokens: RwLock<HashMap<String, u32>>,
    maintenance: RwLock<Arc<Vec<MaintenanceConfig>>>,
    /// `probing.location`: the location the monitors' own series stand for.
    local: String,
    /// Other locations' series, by `locations::series_key` (see `locations.rs`).
    series: Mutex<HashMap<String, locations::Series>>,
    /// Multi-location monitors' combined state as last published, by monitor id (see
    /// `combined.rs`).
    combined: Mutex<HashMap<u32, State>>,
    /// Completed days' totals by monitor id, read once a day (see `uptime.rs`).
    day_totals: Mutex<HashMap<u32, uptime::DayTotals>>,
    /// Held while probe ids are assigned (config reloads and remote results both do).
    assigning: tokio::sync::Mutex<()>,
    /// The config file's monitors, as last applied.
    from_config: RwLock<Arc<Vec<MonitorConfig>>>,
    /// Monitors created through the API, by name (see `manage.rs`).
    managed: RwLock<BTreeMap<String, manage::Managed>>,
    /// Held across a managed monitor's check, store write and reconcile: one change at a time.
    managing: tokio::sync::Mutex<()>,
    /// The config file's maintenance windows, as last applied (`maintenance` is these plus the
    /// managed ones).
    config_windows: RwLock<Arc<Vec<MaintenanceConfig>>>,
    /// Maintenance windows created through the API, by name (see `windows.rs`).
    managed_windows: RwLock<BTreeMap<String, windows::ManagedWindow>>,
}

/// The probing engine; cheap to clone.
#[derive(Clone)]
pub struct ProbeEngine {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod restore_tests;
#[cfg(test)]
mod tests;
