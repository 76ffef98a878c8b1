//! What alerting hands to receivers: alerts with their labels, and notifications (one group of
//! alerts for one receiver), in Alertmanager's model so existing receivers understand them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Labels and annotations: sorted, so fingerprints and group keys are stable.
pub type Labels = BTreeMap<String, String>;

/// The wire type is the stored one: the same words in the store, the webhook and the API.
pub use panoptes_types::AlertStatus;

/// One alert, as a receiver sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable identity of the alert: a hash of its labels (16 hex digits). Also PagerDuty's
    /// `dedup_key` and Opsgenie's `alias`.
    pub fingerprint: String,
    pub status: AlertStatus,
    pub labels: Labels,
    /// Rendered annotations (`summary`, `description`, ...).
    pub annotations: Labels,
    /// Unix ms when it started firing.
    pub starts_at_ms: u64,
    /// Unix ms when it resolved; `None` while firing.
    pub ends_at_ms: Option<u64>,
    /// Link back to the dashboard's view of what fired.
    pub generator_url: String,
}

impl Alert {
    /// `labels.alertname`, the rule's name.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// `labels.severity`, or `""`.
    pub fn severity(&self) -> &str {
        self.labels.get("severity").map_or("", String::as_str)
    }
}

/// One notification: a group of alerts for one receiver (Alertmanager's webhook message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub receiver: String,
    /// Identifies the group across notifications, e.g. `{}:{alertname="ApiDown"}`.
    pub group_key: String,
    /// `firing` when any alert of the group fires.
    pub status: AlertStatus,
    pub group_labels: Labels,
    pub common_labels: Labels,
    pub common_annotations: Labels,
    /// Base URL of the dashboard (`alerts.external_url`, else the server's address).
    pub external_url: String,
    /// Alerts left out by a channel's `max_alerts`.
    pub truncated_alerts: u64,
    pub alerts: Vec<Alert>,
}

impl Notification {
    /// The alerts that fire.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
    }

    /// The alerts that resolved.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
    }

    /// A short title: `[FIRING:2] ApiDown (web critical)`, as Alertmanager's default templates.
    pub fn title(&self) -> String {
        let n = match self.status {
            AlertStatus::Firing => self.firing().count(),
            AlertStatus::Resolved => self.alerts.len(),
        };
        let name = self
            .common_labels
            .get("alertname")
            .or_else(|| self.group_labels.get("alertname"))
            .cloned()
            .unwrap_or_else(|| "alerts".into());
        let rest: Vec<&str> = self
            .group_labels
            .iter()
            .filter(|(k, _)| *k != "alertname")
            .map(|(_, v)| v.as_str())
            .collect();
        let status = self.status.as_str().to_ascii_uppercase();
        if rest.is_empty() {
            format!("[{status}:{n}] {name}")
        } else {
            format!("[{status}:{n}] {name} ({})", rest.join(" "))
        }
    }
}

/// An HTTP request a channel sends, with what its client needs (from the channel's
/// `http_config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Extra PEM CA file to trust.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Accept any certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// `http://host:port` proxy.
    #[serde(default)]
    pub proxy: Option<String>,
    /// The channel's own attempt timeout, if it has one.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

pub use crate::outbound::smtp::{EmailMessage, SmtpSettings};

/// What one channel sends for one notification: usually one delivery, one per alert for
/// channels that track alerts individually (PagerDuty, Opsgenie).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Delivery {
    Http(HttpRequest),
    Email(EmailMessage),
}

/// How a receiver answered one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again; after this many ms when the receiver said so (`Retry-After`, Discord's and
    /// Telegram's `retry_after`), else after the usual backoff.
    Retry {
        after_ms: Option<u64>,
        reason: String,
    },
    /// Do not try again (a 4xx other than 429): the receiver refused the message.
    Failed {
        reason: String,
    },
}
