//! Sentry-compatible projects, issues and events (`/api/v1/projects`, `/issues`, `/events`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::UnknownVariant;
use crate::event::SentryEvent;

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
    /// Where it is declared: `config` (read-only here) or `api` (managed from the dashboard).
    #[serde(default)]
    pub source: crate::MonitorSource,
}

/// `POST /api/v1/projects`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub events_per_minute: Option<u64>,
}

/// `POST /api/v1/projects/{id}/keys`: the new key and its DSN.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NewProjectKey {
    pub key: String,
    pub dsn: String,
}

/// An issue: events grouped by fingerprint (`GET /api/v1/projects/{id}/issues`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueSummary {
    pub id: u64,
    pub project: u64,
    pub title: String,
    pub culprit: String,
    pub level: Level,
    pub platform: String,
    pub status: IssueStatus,
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
    /// Forwarding to upstream Sentry (the figures of `GET /count`, and more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<ForwardStats>,
}

/// `GET /count`, with Cyclops's field names: `count` envelopes still to send upstream,
/// `average` and `percentile` the mean and p90 upstream response time in ms, `processed`
/// (accepted upstream) and `ignored` (not forwarded: flood copies, `sample_percent`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ForwardCount {
    pub count: u64,
    pub average: u64,
    pub percentile: u64,
    pub processed: u64,
    pub ignored: u64,
}

/// The `forward` object of `GET /api/v1/ingest/stats`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ForwardStats {
    #[serde(flatten)]
    pub count: ForwardCount,
    /// Bytes still to send.
    pub bytes: u64,
    /// Given up on, by reason (`rejected`, `rate_limited`, `expired`, `outbox_full`, ...).
    pub dropped: std::collections::BTreeMap<String, u64>,
    pub in_flight: u64,
    /// The last refusal or failure upstream answered, for the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `PATCH /api/v1/issues/{id}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueUpdate {
    pub status: IssueStatus,
}

/// Most issues one bulk change (`PATCH /api/v1/projects/{id}/issues`) may name.
pub const MAX_BULK_ISSUES: usize = 1000;

/// `PATCH /api/v1/projects/{id}/issues`: one status for several issues of the project. All or
/// nothing: when any id is not an issue of the project, nothing changes (400 naming them).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueBulkUpdate {
    pub ids: Vec<u64>,
    pub status: IssueStatus,
}

/// The answer to a bulk change: every issue named, as it now is.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueBulkResult {
    pub items: Vec<IssueSummary>,
}

/// `GET /api/v1/projects/{id}/issues/facets`: the values the list's filters can take, as seen
/// on the project's issues (sorted; levels by severity).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct IssueFacets {
    pub levels: Vec<String>,
    pub environments: Vec<String>,
    pub releases: Vec<String>,
}

/// `GET /api/v1/issues/{id}/events/{event_id}`: one event of an issue and its neighbours in
/// the issue's events (by receive time), for newest / newer / older navigation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueEvent {
    pub event: EventDetail,
    /// The issue's newest stored event (this one when it is the newest).
    pub newest: Option<String>,
    /// The next event received after this one; `null` for the newest.
    pub newer: Option<String>,
    /// The event received before this one; `null` for the oldest stored.
    pub older: Option<String>,
}

/// An issue's triage status.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum IssueStatus {
    Unresolved,
    Resolved,
    Ignored,
}

impl IssueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Unresolved => "unresolved",
            IssueStatus::Resolved => "resolved",
            IssueStatus::Ignored => "ignored",
        }
    }
}

impl fmt::Display for IssueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IssueStatus {
    type Err = UnknownVariant;
    fn from_str(s: &str) -> Result<Self, UnknownVariant> {
        match s {
            "unresolved" => Ok(IssueStatus::Unresolved),
            "resolved" => Ok(IssueStatus::Resolved),
            "ignored" => Ok(IssueStatus::Ignored),
            _ => Err(UnknownVariant::new("issue status", s)),
        }
    }
}

/// Severity of an event, an issue or a breadcrumb (Sentry's levels; Periskop's `severity` uses
/// the `info`, `warning` and `error` subset). Anything else is kept as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Level {
    Fatal,
    Error,
    Warning,
    Info,
    Debug,
    Other(String),
}

impl Level {
    pub fn as_str(&self) -> &str {
        match self {
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Other(s) => s,
        }
    }

    /// Never fails: unknown names become `Other`. Accepts the aliases SDKs use
    /// (`critical`, `warn`, `log`), in any case.
    pub fn parse(s: &str) -> Level {
        match s.to_ascii_lowercase().as_str() {
            "fatal" | "critical" => Level::Fatal,
            "error" => Level::Error,
            "warning" | "warn" => Level::Warning,
            "info" | "log" => Level::Info,
            "debug" => Level::Debug,
            _ => Level::Other(s.to_string()),
        }
    }
}

impl From<&str> for Level {
    fn from(s: &str) -> Level {
        Level::parse(s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        Ok(Level::parse(&String::deserialize(d)?))
    }
}

/// `GET /api/v1/issues/{id}`: the issue and its latest stored event.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IssueDetail {
    #[serde(flatten)]
    pub summary: IssueSummary,
    /// `null` when the issue has no stored event (only counted ones).
    #[serde(default)]
    pub latest_event: Option<EventDetail>,
}

/// A stored event (`GET /api/v1/events/{event_id}`): what the SDK sent, plus where it went.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EventDetail {
    /// 32 lower-case hex digits.
    pub event_id: String,
    /// `null` until the digest has grouped it (a moment after the SDK got its answer).
    pub issue_id: Option<u64>,
    pub project: u64,
    /// RFC 3339: when the server received it.
    pub received: String,
    #[serde(default)]
    pub attachments: Vec<AttachmentInfo>,
    /// The event as the SDK sent it, decoded leniently (an unreadable payload is empty).
    #[serde(default, deserialize_with = "crate::any::lenient")]
    pub event: SentryEvent,
}

/// An attachment stored with an event (`GET /api/v1/events/{id}/attachments/{index}` serves it).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AttachmentInfo {
    pub index: u32,
    pub filename: String,
    pub size: u64,
    pub content_type: Option<String>,
    pub attachment_type: Option<String>,
}
