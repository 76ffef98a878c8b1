//! What one page delivery sends: the page's notification, with an acknowledge link and a link
//! to the page, rendered by the alert channels under a receiver made of the person's contact
//! methods (`oncall:ana`), or by an alert receiver a step names. Pure but for the transport
//! call at the end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::alerts::config::{AlertsConfig, ReceiverConfig};
use crate::alerts::model::{Notification, Verdict};
use crate::alerts::outbox::{self, Record, Transport};

use super::ack::{AckClaim, sign_ack};
use super::config::{ContactKind, ContactMethod, OncallConfig};
use super::page::{Delivery, Page, user_receiver};

/// The alert receivers plus one receiver per person with contact methods (their own list if
/// they set one, else the config's), so the alert channels render and send page messages
/// exactly as they do alerts.
pub fn with_contacts(
    alerts: &AlertsConfig,
    oncall: &OncallConfig,
    own: &BTreeMap<String, Vec<ContactMethod>>,
) -> AlertsConfig {
    let mut cfg = alerts.clone();
    for (user, methods) in super::contacts::merged(oncall, own) {
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
        for m in methods.iter() {
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

/// The notification one delivery carries: `ack_url` and `page_url` join the common
/// annotations, which every channel's default text shows and templates can use. Every message
/// of a page can acknowledge it: a person's link names them; a receiver's (a team channel)
/// names the receiver, so whoever reads it there can acknowledge, recorded as the receiver.
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
    let token = sign_ack(
        key,
        &AckClaim {
            page: p.id,
            user: d.user.clone().unwrap_or_else(|| d.receiver.clone()),
            expires_ms: now.saturating_add(ttl_ms),
        },
    );
    n.common_annotations
        .insert("ack_url".into(), format!("{base}/oncall/ack/{token}"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::ack::verify_ack;
    use crate::oncall::page::DeliveryState;

    fn delivery(user: Option<&str>, receiver: &str) -> Delivery {
        Delivery {
            user: user.map(str::to_string),
            receiver: receiver.into(),
            channel: "webhook_configs[0]".into(),
            method: "webhook".into(),
            target: receiver.into(),
            step: 0,
            due_ms: 0,
            attempts: 0,
            state: DeliveryState::Pending,
        }
    }

    fn page() -> Page {
        let c = crate::config::root::parse(
            "oncall: {escalation_policies: [{name: p, steps: [{targets: [{user: ana}]}]}], contacts: {ana: [{email: a@b.c}]}}",
            "t.yaml",
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let policy = c.oncall.policy("p").expect("policy");
        let n = Notification {
            receiver: "team".into(),
            group_key: "{}:{}".into(),
            status: crate::alerts::model::AlertStatus::Firing,
            group_labels: Default::default(),
            common_labels: Default::default(),
            common_annotations: Default::default(),
            external_url: String::new(),
            truncated_alerts: 0,
            alerts: Vec::new(),
        };
        Page::open(7, policy, "team", n, 0)
    }

    fn claim_of(n: &Notification, key: &[u8]) -> AckClaim {
        let url = n.common_annotations.get("ack_url").expect("an ack_url");
        let (base, token) = url.split_once("/oncall/ack/").expect("an ack path");
        assert_eq!(base, "https://panoptes.test");
        verify_ack(key, token, 1000).expect("a valid link")
    }

    #[test]
    fn every_message_of_a_page_can_acknowledge_it() {
        let key = [3u8; 32];
        let p = page();
        let person = notification(
            &p,
            &delivery(Some("ana"), "oncall:ana"),
            &key,
            60_000,
            "https://panoptes.test/",
            1000,
        );
        let c = claim_of(&person, &key);
        assert_eq!((c.page, c.user.as_str(), c.expires_ms), (7, "ana", 61_000));
        // A step that pages a receiver (a team channel): its message acknowledges too, as the
        // receiver.
        let team = notification(
            &p,
            &delivery(None, "team"),
            &key,
            60_000,
            "https://panoptes.test",
            1000,
        );
        let c = claim_of(&team, &key);
        assert_eq!((c.page, c.user.as_str()), (7, "team"));
        assert_eq!(
            team.common_annotations.get("page_url").map(String::as_str),
            Some("https://panoptes.test/oncall?page=7")
        );
    }
}
