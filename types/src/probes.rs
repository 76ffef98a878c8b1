//! Uptime monitors: listings, detail, raw results and roll-ups (`/api/v1/monitors/...`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::UnknownVariant;

/// Availability over trailing windows (`null` when nothing was counted).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Uptime {
    #[serde(rename = "24h")]
    pub h24: Option<f64>,
    #[serde(rename = "7d")]
    pub d7: Option<f64>,
    #[serde(rename = "30d")]
    pub d30: Option<f64>,
    #[serde(rename = "90d")]
    pub d90: Option<f64>,
}

/// A monitor in listings (`GET /api/v1/monitors`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MonitorSummary {
    pub id: u32,
    pub name: String,
    pub group: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    pub state: MonitorState,
    pub last_check_at: Option<String>,
    pub last_latency_ms: Option<u64>,
    pub last_error: Option<String>,
    pub uptime: Uptime,
    pub certificate_days_left: Option<f64>,
    /// Where it is declared: `config` (read-only here) or `api` (managed from the dashboard).
    #[serde(default)]
    pub source: MonitorSource,
    /// Paused (`enabled: false`): listed, not checked.
    #[serde(default)]
    pub paused: bool,
    /// The last 24 hours hour by hour (the list's bar).
    #[serde(default)]
    pub bar_24h: HourBar,
}

/// The last 24 hours of a monitor hour by hour, oldest first, the current hour last.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct HourBar {
    /// Start of the first hour, ms since the epoch.
    pub from_ms: u64,
    /// Each hour's availability, 0..=1 (`null`: nothing counted).
    pub availability: Vec<Option<f32>>,
    /// Bit `i` set: hour `i` had DEGRADED results.
    pub degraded: u32,
}

/// Where a monitor is declared.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MonitorSource {
    /// The config file: the source of truth for it; changed by editing the file.
    #[default]
    Config,
    /// Created through the API or the dashboard; stored in the data file.
    Api,
}

/// A maintenance window in `GET /api/v1/maintenance`: where it is declared and its fields as
/// the config names them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MaintenanceView {
    pub source: MonitorSource,
    pub config: serde_json::Value,
}

/// `GET /api/v1/monitors/{id}/config`: the monitor's fields as the config file names them (the
/// body a `PATCH` starts from).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MonitorConfigView {
    pub id: u32,
    pub source: MonitorSource,
    pub config: serde_json::Value,
}

/// One condition with the value the last check saw, e.g. `[STATUS] (503) == 200`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConditionView {
    pub condition: String,
    pub seen: Option<String>,
    pub ok: Option<bool>,
}

/// `GET /api/v1/monitors/{id}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MonitorDetail {
    #[serde(flatten)]
    pub summary: MonitorSummary,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub retry_interval: String,
    pub recovery: u32,
    pub degraded_above: Option<String>,
    pub apdex_t: String,
    pub conditions: Vec<ConditionView>,
    /// Name of the maintenance window the last check fell in.
    pub maintenance: Option<String>,
    pub last_status: Option<u16>,
}

/// A monitor's state, written by the server in upper case (`"UP"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MonitorState {
    Up,
    Degraded,
    Down,
    /// Inside a maintenance window: excluded from availability.
    Maintenance,
    /// Failed, retries left (not yet DOWN).
    Pending,
    /// Not yet checked.
    #[default]
    Unknown,
}

impl MonitorState {
    pub const ALL: [MonitorState; 6] = [
        MonitorState::Up,
        MonitorState::Degraded,
        MonitorState::Down,
        MonitorState::Maintenance,
        MonitorState::Pending,
        MonitorState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorState::Up => "UP",
            MonitorState::Degraded => "DEGRADED",
            MonitorState::Down => "DOWN",
            MonitorState::Maintenance => "MAINTENANCE",
            MonitorState::Pending => "PENDING",
            MonitorState::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for MonitorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive, as the server's `?state=` filter.
impl FromStr for MonitorState {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, UnknownVariant> {
        MonitorState::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownVariant::new("monitor state", s))
    }
}

impl Serialize for MonitorState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A state this client does not know decodes as `UNKNOWN` rather than failing the payload.
impl<'de> Deserialize<'de> for MonitorState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(String::deserialize(d)?.parse().unwrap_or_default())
    }
}

/// One stored check result (`GET /api/v1/monitors/{id}/results`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ResultItem {
    /// RFC 3339.
    pub at: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub state: MonitorState,
    /// Every condition held (independent of retries and maintenance).
    pub ok: bool,
    pub latency_ms: f64,
    /// HTTP status, for HTTP checks that got an answer.
    pub status: Option<u16>,
    /// The conditions that failed, as configured.
    #[serde(default)]
    pub failed_conditions: Vec<String>,
    pub error: Option<String>,
}

/// `GET /api/v1/monitors/{id}/results?from=&to=&limit=`: oldest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MonitorResults {
    /// The monitor's name.
    pub monitor: String,
    /// RFC 3339 bounds of the range read.
    pub from: String,
    pub to: String,
    pub items: Vec<ResultItem>,
}

/// A monitor's state changes (`GET /api/v1/monitors/{id}/changes`), newest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MonitorChanges {
    /// The monitor's name.
    pub monitor: String,
    /// RFC 3339 bounds of the range read.
    pub from: String,
    pub to: String,
    pub items: Vec<StateChange>,
    /// The range held more results than were read (`max_scan`): older changes may be missing.
    #[serde(default)]
    pub truncated: bool,
}

/// One change of state: the first result in the new state.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StateChange {
    /// RFC 3339.
    pub at: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The state before (`null`: the first result in the range read).
    pub from: Option<MonitorState>,
    pub to: MonitorState,
    /// HTTP status of the result that changed it, for HTTP checks that got an answer.
    pub status: Option<u16>,
    /// The conditions that failed in that result, as configured.
    #[serde(default)]
    pub failed_conditions: Vec<String>,
    pub error: Option<String>,
}

/// Roll-up bucket size.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }
}

/// Latency of a bucket's counted results, in milliseconds (`null` when there were none).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencyStats {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub avg: Option<f64>,
}

/// One roll-up bucket.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RollupItem {
    /// RFC 3339 start of the bucket.
    pub start: String,
    pub start_ms: u64,
    pub up: u32,
    pub degraded: u32,
    pub down: u32,
    pub maintenance: u32,
    pub pending: u32,
    /// `(counted - down) / counted`, maintenance excluded; `null` when nothing was counted.
    pub availability: Option<f64>,
    pub apdex: Option<f64>,
    pub latency_ms: LatencyStats,
}

/// `GET /api/v1/monitors/{id}/rollups?resolution=minute|hour|day&from=&to=`: oldest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MonitorRollups {
    pub monitor: String,
    pub resolution: Resolution,
    pub items: Vec<RollupItem>,
}

/// `GET /api/v1/monitors/{id}/locations`: a monitor checked from several locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorLocations {
    pub monitor: String,
    /// Failing locations that make it DOWN.
    pub quorum: u32,
    /// The state across locations: the monitor's state.
    pub state: MonitorState,
    pub failing: usize,
    /// Locations heard from recently enough to count.
    pub reporting: usize,
    pub locations: Vec<LocationInfo>,
}

/// One location's view of a monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationInfo {
    pub location: String,
    /// The server's own location.
    pub local: bool,
    pub state: MonitorState,
    /// Silent for longer than a few intervals: not counted.
    pub stale: bool,
    /// Its series, for `?location=` on results and roll-ups; `None` before its first result.
    pub series_id: Option<u32>,
    /// RFC 3339.
    pub last_at: Option<String>,
    pub ok: Option<bool>,
    pub latency_ms: Option<u64>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub uptime_24h: Option<f64>,
}
