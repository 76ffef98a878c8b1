//! The receivers' Test button: one made-up firing alert sent at once over every channel of a
//! receiver, bypassing routing, grouping and the outbox, answering what each channel said.

use panoptes_types::TestDelivery;

use super::channels::channels;
use super::engine::Alerts;
use super::model::{Alert, AlertStatus, Labels, Notification, Verdict};
use super::outbox::{DeliveryState, Record};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The notification a test sends.
pub fn test_notification(receiver: &str, external_url: &str, now: u64) -> Notification {
    let l = labels(&[
        ("alertname", "PanoptesTest"),
        ("severity", "info"),
        ("receiver", receiver),
    ]);
    let annotations = labels(&[
        ("summary", "Test notification from Panoptes"),
        (
            "description",
            "Someone pressed Test for this receiver. If you read this, delivery works.",
        ),
    ]);
    let alert = Alert {
        fingerprint: super::state::fingerprint(&l),
        status: AlertStatus::Firing,
        labels: l.clone(),
        annotations: annotations.clone(),
        starts_at_ms: now,
        ends_at_ms: None,
        generator_url: format!("{external_url}/alerts"),
    };
    Notification {
        receiver: receiver.to_string(),
        group_key: format!("{{}}:{{receiver={receiver:?}, test=\"true\"}}"),
        status: AlertStatus::Firing,
        group_labels: labels(&[("alertname", "PanoptesTest")]),
        common_labels: l,
        common_annotations: annotations,
        external_url: external_url.to_string(),
        truncated_alerts: 0,
        alerts: vec![alert],
    }
}

impl Alerts {
    /// Sends a test message over each channel of `receiver`; `None` if there is no such
    /// receiver.
    pub async fn test_receiver(&self, receiver: &str) -> Option<Vec<TestDelivery>> {
        let cfg = self.config();
        let r = cfg.receivers.iter().find(|r| r.name == receiver)?;
        let now = self.clock.now_ms();
        let ext = super::engine::lock_read(&self.book).external_url.clone();
        let notification = test_notification(receiver, &ext, now);
        let mut out = Vec::new();
        for ch in channels(r) {
            let record = Record {
                id: 0,
                receiver: receiver.to_string(),
                channel: ch.id.clone(),
                notification: notification.clone(),
                escalation_policy: None,
                created_ms: now,
                state: DeliveryState::Sending,
                next_attempt_ms: now,
                attempt_count: 0,
                attempts: Vec::new(),
                finished_ms: None,
            };
            let timeout = super::notify::attempt_timeout(&cfg, receiver, &ch.id);
            let started = std::time::Instant::now();
            let outcome = tokio::time::timeout(timeout, self.transport.send(&cfg, &record)).await;
            out.push(match outcome {
                Ok(o) => TestDelivery {
                    channel: ch.id,
                    delivered: o.verdict == Verdict::Delivered,
                    status: o.status,
                    error: match o.verdict {
                        Verdict::Delivered => None,
                        Verdict::Retry { reason, .. } | Verdict::Failed { reason } => Some(reason),
                    },
                    latency_ms: o.latency_ms,
                },
                Err(_) => TestDelivery {
                    channel: ch.id,
                    delivered: false,
                    status: None,
                    error: Some(format!(
                        "no answer within {}",
                        crate::config::Duration(timeout)
                    )),
                    latency_ms: started.elapsed().as_millis() as u64,
                },
            });
        }
        Some(out)
    }
}
