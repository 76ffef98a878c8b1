//! Wire types shared by the Panoptes server and its dashboard.
//!
//! This crate compiles for both the native server and `wasm32-unknown-unknown`, so it depends on
//! serde alone: no tokio, no redb, no I/O. Anything both sides serialise lives here, so the two can
//! never disagree on a field name.

use serde::{Deserialize, Serialize};

/// Prefix of every JSON API route.
pub const API_PREFIX: &str = "/api/v1";

/// Name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "panoptes_session";

/// Header a cookie-authenticated client must send on state-changing requests. Browsers cannot add
/// a custom header to a cross-site request without a CORS preflight, which the API never grants,
/// so its presence proves the request came from our own pages.
pub const CSRF_HEADER: &str = "x-panoptes-csrf";

/// `GET /healthz`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Health {
    /// `ok` when the store accepts writes, `degraded` otherwise.
    pub status: String,
    pub version: String,
    pub uptime_seconds: u64,
    pub store: StoreStatus,
}

/// The embedded store as the server sees it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoreStatus {
    /// `ok`, or `failed` once a commit has failed (writes are refused until restart).
    pub status: String,
    pub path: String,
    pub schema_version: u32,
    pub size_bytes: u64,
    /// Writes queued for the writer and not yet committed.
    pub queue_depth: u64,
    /// Transactions committed since start.
    pub commits: u64,
    pub last_error: Option<String>,
}

/// `GET /api/v1/status`: what the dashboard's home page shows.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ServerStatus {
    pub version: String,
    /// Random per process start; lets a client tell one run of the server from the next.
    pub instance_id: String,
    /// RFC 3339.
    pub started_at: String,
    pub uptime_seconds: u64,
    pub store: StoreStatus,
}

/// `POST /api/v1/session`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Who a request is authenticated as (`GET /api/v1/me`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Principal {
    pub name: String,
    /// `user` (dashboard session) or `token` (API token).
    pub kind: String,
}

/// Every API error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ErrorDetail {
    /// Stable, machine-readable: clients branch on this, never on `message`.
    pub code: String,
    pub message: String,
}

/// An API token as listed (the secret itself is shown once, at creation).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// `POST /api/v1/tokens`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CreateToken {
    pub name: String,
}

/// The answer to token creation: the only time the secret is visible.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CreatedToken {
    pub token: String,
    pub info: TokenInfo,
}

/// One entry of the append-only audit log (`GET /api/v1/audit`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// A page of results with an opaque cursor for the next one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

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
    /// UP, DEGRADED, DOWN, PENDING, MAINTENANCE or UNKNOWN.
    pub state: String,
    pub last_check_at: Option<String>,
    pub last_latency_ms: Option<u64>,
    pub last_error: Option<String>,
    pub uptime: Uptime,
    pub certificate_days_left: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_documented_shape() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: "unauthorized".into(),
                message: "log in".into(),
            },
        };
        let json = serde_json::to_value(&body).expect("serialises");
        assert_eq!(json["error"]["code"], "unauthorized");
        assert_eq!(json["error"]["message"], "log in");
    }
}

// ---- Periskop-style exceptions -------------------------------------------------------------

/// One error as Periskop clients export it; `cause` nests recursively.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct PeriskopError {
    #[serde(default, deserialize_with = "null_default")]
    pub class: String,
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    #[serde(default, deserialize_with = "null_default")]
    pub stacktrace: Vec<String>,
    #[serde(default)]
    pub cause: Option<Box<PeriskopError>>,
}

/// The HTTP request an error happened in, as Periskop clients export it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct PeriskopHttpContext {
    #[serde(default, deserialize_with = "null_default")]
    pub request_method: String,
    #[serde(default, deserialize_with = "null_default")]
    pub request_url: String,
    #[serde(default, deserialize_with = "null_default")]
    pub request_headers: std::collections::BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub request_body: String,
}

/// Clients write `null` for absent values; treat it like a missing field.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// `GET /api/v1/exceptions/services`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExceptionService {
    pub name: String,
    /// Whether the service is configured for scraping (else it only receives pushes).
    pub scraped: bool,
    pub targets_up: u64,
    pub targets_total: u64,
    /// Keys not resolved.
    pub open_errors: u64,
    pub resolved_errors: u64,
    /// Sum of every key's total.
    pub total_count: u64,
    /// RFC 3339; when any key last increased.
    pub last_seen: Option<String>,
    /// New keys dropped because the service hit `periskop.max_keys_per_service`.
    pub dropped_keys: u64,
}

/// One aggregation key of a service (`GET /api/v1/exceptions/services/{name}/errors`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExceptionSummary {
    pub service: String,
    pub aggregation_key: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// Sum over instances of each instance's increases.
    pub total_count: u64,
    /// RFC 3339: earliest `created_at` any instance reported.
    pub created_at: String,
    /// RFC 3339: when Panoptes first / last saw the count increase.
    pub first_seen: String,
    pub last_seen: String,
    /// `open` or `resolved`.
    pub status: String,
    pub resolved_at: Option<String>,
    /// The count increased after the key was resolved.
    pub regression: bool,
    pub regressed_at: Option<String>,
    /// Class and message of the newest occurrence.
    pub class: String,
    pub message: String,
}

/// `GET /api/v1/exceptions/services/{name}/errors/{key}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExceptionDetail {
    #[serde(flatten)]
    pub summary: ExceptionSummary,
    /// Newest first, across instances, capped by `periskop.max_occurrences`.
    pub occurrences: Vec<ExceptionOccurrence>,
    /// Increase per minute, oldest first; minutes without an increase are left out.
    pub rate: Vec<RatePoint>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExceptionOccurrence {
    pub uuid: String,
    /// RFC 3339.
    pub timestamp: String,
    pub severity: String,
    /// The instance it came from: its `target_uuid`, or its address.
    pub instance: String,
    pub error: PeriskopError,
    pub http_context: Option<PeriskopHttpContext>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RatePoint {
    /// RFC 3339 start of the minute.
    pub minute: String,
    pub count: u64,
}

/// `GET /api/v1/exceptions/targets`: one scraped instance and its health.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExceptionTarget {
    pub service: String,
    /// `host:port`.
    pub address: String,
    pub url: String,
    /// `static`, `dns:<name>` or `file:<path>`.
    pub source: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `up`, `down`, or `unknown` before the first scrape.
    pub health: String,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<u64>,
    pub last_scrape: Option<String>,
    pub last_success: Option<String>,
    pub target_uuid: Option<String>,
}

/// A Sentry-compatible project (`GET /api/v1/projects`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ProjectInfo {
    pub id: u64,
    pub name: String,
    /// One DSN per key, ready to paste into an SDK's `dsn` option.
    pub dsn: Vec<String>,
    pub events_per_minute: Option<u64>,
    pub issues: u64,
    pub unresolved: u64,
}

/// An issue: events grouped by fingerprint (`GET /api/v1/projects/{id}/issues`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueSummary {
    pub id: u64,
    pub project: u64,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub platform: String,
    /// `unresolved`, `resolved` or `ignored`.
    pub status: String,
    /// Set when a resolved issue received a new event (it was reopened).
    pub regressed: bool,
    pub regressions: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Every event received, including flood copies not stored in full.
    pub count: u64,
    /// Events stored in full (the rest only counted).
    pub stored_events: u64,
    /// Distinct users (by id, e-mail, user name or IP address).
    pub users: u64,
    pub releases: Vec<String>,
    pub environments: Vec<String>,
    pub first_release: Option<String>,
    pub last_event_id: Option<String>,
    pub grouping_hash: String,
}

/// An event in an issue's list (`GET /api/v1/issues/{id}/events`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub event_id: String,
    pub received: String,
}

/// Ingest counters of one project since start (`GET /api/v1/ingest/stats`), plus session and
/// client-report counts per release, which are stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ProjectIngestStats {
    pub project: u64,
    pub name: String,
    pub accepted: u64,
    pub stored: u64,
    pub sampled: u64,
    pub rate_limited: u64,
    pub invalid: u64,
    pub duplicate: u64,
    /// Envelope items by type (`event`, `session`, `transaction`, ..., `other`).
    pub items: std::collections::BTreeMap<String, u64>,
    /// release -> counter (`sessions.started`, `sessions.crashed`, `discarded.<reason>.<category>`) -> n
    pub releases: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct IngestStats {
    /// Items received and not yet grouped into issues.
    pub backlog: u64,
    pub projects: Vec<ProjectIngestStats>,
}

/// `PATCH /api/v1/issues/{id}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueUpdate {
    pub status: String,
}
