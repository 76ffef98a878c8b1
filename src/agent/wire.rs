//! What agents and the server say to each other, and what the agent API answers.

use serde::{Deserialize, Serialize};

/// Header an agent names its version in.
pub const VERSION_HEADER: &str = "x-panoptes-agent-version";

/// `POST /api/v1/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    pub name: String,
    pub location: String,
}

/// Answered once, at creation.
#[derive(Debug, Serialize)]
pub struct CreatedAgent {
    pub name: String,
    pub location: String,
    pub token: String,
}

/// One agent in `GET /api/v1/agents`.
#[derive(Debug, Serialize)]
pub struct AgentInfo {
    pub name: String,
    pub location: String,
    pub version: Option<String>,
    pub created_at: String,
    pub last_seen: Option<String>,
    /// Age of the newest result of the last batch when it arrived (spooled results lag).
    pub lag_ms: Option<u64>,
    /// Results accepted per minute, over the agent's reporting life.
    pub results_per_minute: Option<f64>,
    pub results_total: u64,
    pub duplicates_total: u64,
    pub last_sequence: u64,
}

/// `POST /api/v1/agent/results`, gzip-compressed JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub results: Vec<AgentResult>,
}

/// One check's result, judged where it ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResult {
    /// The agent's sequence number, increasing by result; the result's id with the agent.
    pub seq: u64,
    pub monitor: String,
    /// When the check ran (Unix ms).
    pub at_ms: u64,
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub error: Option<String>,
}

/// What a batch did.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub accepted: usize,
    /// Results at or below the highest sequence already accepted (sent before).
    pub duplicates: usize,
    /// Results for monitors this location does not check (any more).
    pub skipped: usize,
    pub last_sequence: u64,
}

/// `GET /api/v1/agent/assignments`.
#[derive(Debug, Serialize)]
pub struct Assignments {
    pub location: String,
    /// Changes whenever the assigned monitors do (also sent as the `ETag`).
    pub version: String,
    pub monitors: Vec<Assignment>,
}

#[derive(Debug, Serialize)]
pub struct Assignment {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub retries: u32,
    pub locations: Vec<String>,
    pub quorum: u32,
    /// The monitor as written in the server's config (see `agent::node`).
    pub config: serde_json::Value,
}

/// `GET /api/v1/monitors/{id}/locations` (shared with the dashboard).
pub use panoptes_types::{LocationInfo, MonitorLocations};
