//! Receivers' channels: each `*_configs` entry of a receiver is one channel, named by its list
//! and index (`webhook_configs[0]`), which groups track, the outbox delivers to and the API
//! reports on.

use super::book::ReceiverChannels;
use super::config::ReceiverConfig;
use super::groups::Channel;

/// The channel under which a group whose route names an `escalation_policy` is handed to
/// on-call (through the outbox, so the hand-off is durable and retried like any delivery).
pub const PAGE_CHANNEL: &str = "oncall[0]";

/// The on-call channel of a route with an escalation policy: told of firing and of the
/// resolution, like a channel with `send_resolved`.
pub fn page_channel() -> Channel {
    Channel {
        id: PAGE_CHANNEL.to_string(),
        send_resolved: true,
        resend_ms: None,
    }
}

/// The channels of every receiver, with their ids (`webhook_configs[0]`) and `send_resolved`.
pub fn receiver_channels(receivers: &[ReceiverConfig]) -> ReceiverChannels {
    receivers
        .iter()
        .map(|r| (r.name.clone(), channels(r)))
        .collect()
}

/// The channels of one receiver.
pub fn channels(r: &ReceiverConfig) -> Vec<Channel> {
    let mut out = Vec::new();
    let mut add = |kind: &str, flags: Vec<bool>| {
        for (i, send_resolved) in flags.into_iter().enumerate() {
            out.push(Channel {
                id: format!("{kind}[{i}]"),
                send_resolved,
                resend_ms: (kind == "alertmanager_configs")
                    .then_some(super::notify::ALERTMANAGER_RESEND_MS),
            });
        }
    };
    add(
        "webhook_configs",
        r.webhook_configs.iter().map(|c| c.send_resolved).collect(),
    );
    add(
        "email_configs",
        r.email_configs.iter().map(|c| c.send_resolved).collect(),
    );
    add(
        "slack_configs",
        r.slack_configs.iter().map(|c| c.send_resolved).collect(),
    );
    add(
        "msteamsv2_configs",
        r.msteamsv2_configs
            .iter()
            .map(|c| c.send_resolved)
            .collect(),
    );
    add(
        "discord_configs",
        r.discord_configs.iter().map(|c| c.send_resolved).collect(),
    );
    add(
        "telegram_configs",
        r.telegram_configs.iter().map(|c| c.send_resolved).collect(),
    );
    add(
        "pagerduty_configs",
        r.pagerduty_configs
            .iter()
            .map(|c| c.send_resolved)
            .collect(),
    );
    add(
        "opsgenie_configs",
        r.opsgenie_configs.iter().map(|c| c.send_resolved).collect(),
    );
    add(
        "ntfy_configs",
        r.ntfy_configs.iter().map(|c| c.send_resolved).collect(),
    );
    add(
        "alertmanager_configs",
        r.alertmanager_configs
            .iter()
            .map(|c| c.send_resolved)
            .collect(),
    );
    out
}
