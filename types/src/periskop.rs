//! Periskop-style exceptions: services, aggregation keys, occurrences, scrape targets
//! (`/api/v1/exceptions/...`), and the error shape Periskop clients export.

use serde::{Deserialize, Serialize};

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
    /// Why target discovery is not current (e.g. a DNS refresh past its deadline; the previous
    /// targets are kept meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One aggregation key of a service (`GET /api/v1/exceptions/services/{name}/errors`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExceptionSummary {
    pub service: String,
    pub aggregation_key: String,
    /// `info`, `warning` or `error`.
    pub severity: crate::Level,
    /// Sum over instances of each instance's increases.
    pub total_count: u64,
    /// RFC 3339: earliest `created_at` any instance reported.
    pub created_at: String,
    /// RFC 3339: when Panoptes first / last saw the count increase.
    pub first_seen: String,
    pub last_seen: String,
    pub status: ExceptionStatus,
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
    pub severity: crate::Level,
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
    pub health: TargetHealth,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<u64>,
    pub last_scrape: Option<String>,
    pub last_success: Option<String>,
    pub target_uuid: Option<String>,
}

/// Whether an exception key is open or resolved (until its count grows again).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionStatus {
    Open,
    Resolved,
}

/// A scrape target's health: `unknown` before its first scrape.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TargetHealth {
    Up,
    Down,
    Unknown,
}
