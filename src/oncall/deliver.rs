//! What one page delivery sends: the page's notification, with an acknowledge link for the
//! person and a link to the page, rendered by the alert channels under a receiver made of the
//! person's contact methods (`oncall:ana`). Pure but for the transport call at the end.

use std::sync::Arc;
use std::time::Duration;

use crate::alerts::config::{AlertsConfig, ReceiverConfig};
use crate::alerts::model::{Notification, Verdict};
use crate::alerts::outbox::{self, Record, Transport};

use super::ack::{AckClaim, sign_ack};
use super::config::{ContactKind, OncallConfig};
use super::page::{Delivery, Page, user_receiver};

/// The alert receivers plus one receiver per person with contact methods, so the alert
/// channels render and send page messages exactly as they do alerts.
pub fn with_contacts(alerts: &AlertsConfig, oncall: &OncallConfig) -> AlertsConfig {
    let mut cfg = alerts.clone();
    for (user, methods) in &oncall.contacts {
        let mut r = ReceiverConfig {
            name: user_receiver(user),
            webhook_configs: Vec::new(),
            email_configs: Vec::new(),
            slack_configs: Vec::new(),
            msteamsv2_configs: Vec::new(),
            discord_configs: Vec::new(),
            telegram_configs: Vec::new(),
            pagerduty_configs: Vec::new(),
            opsgenie_configs: Vec::new(),
            ntfy_configs: Vec::new(),
            alertmanager_configs: Vec::new(),
        };
        for m in methods {
            match &m.kind {
                ContactKind::Email(c) => r.email_configs.push(c.clone()),
                ContactKind::Ntfy(c) => r.ntfy_configs.push(c.clone()),
                ContactKind::Telegram(c) => r.telegram_configs.push(c.clone()),
                ContactKind::Slack(c) => r.slack_configs.push(c.clone()),
                ContactKind::Webhook(c) => r.webhook_configs.push(c.clone()),
            }
        }
        cfg.receivers.push(r);
    }
    cfg
}

/// The dashboard's view of a page.
pub fn page_url(external_url: &str, id: u64) -> String {
    format!("{}/oncall?page={id}", external_url.trim_end_matches('/'))
}

/// The notification one delivery carries: `ack_url` (for a person) and `page_url` join the
/// common annotations, which every channel's default text shows and templates can use.
pub fn notification(
    p: &Page,
    d: &Delivery,
    key: &[u8],
    ttl_ms: u64,
    external_url: &str,
    now: u64,
) -> Notification {
    let mut n = p.notification.clone();
    let base = external_url.trim_end_matches('/');
    n.external_url = base.to_string();
    if let Some(user) = &d.user {
        let token = sign_ack(
            key,
            &AckClaim {
                page: p.id,
                user: user.clone(),
                expires_ms: now.saturating_add(ttl_ms),
            },
        );
        n.common_annotations
            .insert("ack_url".into(), format!("{base}/oncall/ack/{token}"));
    }
    n.common_annotations
        .insert("page_url".into(), page_url(base, p.id));
    n
}

/// Sends one delivery through the alert transport, bounded by `timeout`.
pub async fn send(
    transport: Arc<dyn Transport>,
    cfg: Arc<AlertsConfig>,
    d: Delivery,
    n: Notification,
    now: u64,
    timeout: Duration,
) -> Verdict {
    let record = Record {
        id: 0,
        receiver: d.receiver,
        channel: d.channel,
        notification: n,
        escalation_policy: None,
        created_ms: now,
        state: outbox::DeliveryState::Queued,
        next_attempt_ms: now,
        attempt_count: 0,
        attempts: Vec::new(),
        finished_ms: None,
    };
    match tokio::time::timeout(timeout, transport.send(&cfg, &record)).await {
        Ok(o) => o.verdict,
        Err(_) => Verdict::Retry {
            after_ms: None,
            reason: format!("no answer within {} s", timeout.as_secs()),
        },
    }
}
