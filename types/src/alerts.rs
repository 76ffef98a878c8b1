//! Alerting: alerts, their history, silences (Alertmanager's v2 JSON), notifications with their
//! delivery attempts, and receivers (`/api/v1/alerts`, `/silences`, `/notifications`,
//! `/receivers`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An alert, or a notification, as it was sent: Alertmanager's `status`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// What one delivery attempt came to.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    Delivered,
    /// Network error, 5xx or 429: tried again later.
    Retry,
    /// Refused by the receiver (other 4xx): not retried.
    Failed,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Failed => "failed",
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds, for less than the rule's `for`.
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// `GET /api/v1/alerts`: one pending or firing alert.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AlertView {
    /// Stable identity: a hash of the labels (16 hex digits).
    pub fingerprint: String,
    pub rule: String,
    pub state: AlertState,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// What was seen (`availability 98.200 %`, `12 events in 5m`).
    pub value: String,
    /// RFC 3339: when the condition started to hold.
    pub since: String,
    /// RFC 3339: when it started firing.
    pub fired_at: Option<String>,
    /// Link to what fired, on the dashboard.
    pub generator_url: String,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Muted by an inhibition rule (another firing alert).
    pub inhibited: bool,
}

/// `GET /api/v1/alerts/history`: an alert that fired and resolved.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AlertHistoryEntry {
    pub fingerprint: String,
    pub rule: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub value: String,
    pub since: String,
    pub fired_at: String,
    pub resolved_at: String,
    pub generator_url: String,
}

/// A silence's matcher (Alertmanager's v2 JSON).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SilenceStatus {
    pub state: SilenceState,
}

/// `GET /api/v1/silences`: Alertmanager's `gettableSilence`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SilenceView {
    pub id: String,
    pub status: SilenceStatus,
    pub updated_at: String,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

/// `POST /api/v1/silences` (Alertmanager's `postableSilence`; `id` to update one).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NewSilence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

/// Answer of `POST /api/v1/silences`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SilenceCreated {
    #[serde(rename = "silenceID")]
    pub silence_id: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Queued,
    Sending,
    Delivered,
    /// The receiver refused it; not retried.
    Failed,
    /// Kept failing for `alerts.delivery.dead_after`.
    Dead,
    /// Panoptes stopped during the attempt; the receiver may or may not have it.
    Uncertain,
}

/// One delivery attempt.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub at: String,
    pub latency_ms: u64,
    /// HTTP status (SMTP reply code for e-mail) when the receiver answered.
    pub status: Option<u16>,
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
}

/// An alert as a notification carried it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NotifiedAlert {
    pub fingerprint: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
}

/// `GET /api/v1/notifications`: one notification for one channel of a receiver.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NotificationView {
    pub id: u64,
    pub receiver: String,
    /// `webhook_configs[0]`, `email_configs[1]`, ...
    pub channel: String,
    pub state: DeliveryState,
    pub group_key: String,
    pub status: AlertStatus,
    pub alerts: Vec<NotifiedAlert>,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub attempt_count: u64,
    pub attempts: Vec<DeliveryAttempt>,
}

/// `GET /api/v1/receivers`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ReceiverView {
    pub name: String,
    /// Channel ids (`webhook_configs[0]`, ...).
    pub channels: Vec<String>,
    /// The most recent notification for it, if any is kept.
    pub last_delivery: Option<NotificationView>,
}

/// `POST /api/v1/receivers/{name}/test`: per channel.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TestDelivery {
    pub channel: String,
    pub delivered: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
}
