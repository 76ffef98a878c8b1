//! Wire types shared by the Panoptes server and its dashboard.
//!
//! This crate compiles for both the native server and `wasm32-unknown-unknown`, so it depends on
//! serde alone: no tokio, no redb, no I/O. Anything both sides serialise lives here, so the two can
//! never disagree on a field name.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod alerts;
pub mod any;
pub mod event;
pub mod live;
pub mod oncall;
pub mod periskop;
pub mod probes;
pub mod sentry;
pub mod status;
pub mod users;

pub use alerts::*;
pub use any::{AnyValue, Pairs};
pub use event::{
    Breadcrumb, ExceptionValue, Frame, LogEntry, Mechanism, RequestInfo, SdkInfo, SentryEvent,
    Stacktrace, Thread, Timestamp, User,
};
pub use live::{LiveMessage, Topic};
pub use oncall::*;
pub use periskop::*;
pub use probes::*;
pub use sentry::*;
pub use status::*;
pub use users::*;

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
    pub status: HealthStatus,
    pub version: String,
    pub uptime_seconds: u64,
    pub store: StoreStatus,
}

/// The embedded store as the server sees it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoreStatus {
    /// `ok`, or `failed` once a commit has failed (writes are refused until restart).
    pub status: StoreState,
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
    pub kind: PrincipalKind,
    pub role: Role,
}

/// `GET /healthz`'s verdict.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// Whether the store accepts writes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreState {
    Ok,
    Failed,
}

impl StoreState {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreState::Ok => "ok",
            StoreState::Failed => "failed",
        }
    }
}

impl fmt::Display for StoreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a request is authenticated.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A dashboard session.
    User,
    /// An API token.
    Token,
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
    /// For `invalid_input` on a body with several fields: each wrong field and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// One wrong field of a request body, named as the config file names it (`conditions[0]`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An API token as listed (the secret itself is shown once, at creation).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
}

/// `POST /api/v1/tokens`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CreateToken {
    pub name: String,
    /// At most the creator's own role; the creator's role when absent.
    #[serde(default)]
    pub role: Option<Role>,
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

/// A string that names none of an enum's variants (`"SIDEWAYS".parse::<MonitorState>()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    /// What was being parsed, e.g. `monitor state`.
    pub kind: &'static str,
    pub value: String,
}

impl UnknownVariant {
    pub(crate) fn new(kind: &'static str, value: &str) -> UnknownVariant {
        UnknownVariant {
            kind,
            value: value.to_string(),
        }
    }
}

impl fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`", self.kind, self.value)
    }
}

impl std::error::Error for UnknownVariant {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_documented_shape() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: "unauthorized".into(),
                message: "log in".into(),
                fields: Vec::new(),
            },
        };
        let json = serde_json::to_value(&body).expect("serialises");
        assert_eq!(json["error"]["code"], "unauthorized");
        assert_eq!(json["error"]["message"], "log in");
    }
}
