//! The `alerts:` section. Rules are Panoptes' own; routing, receivers and inhibition use
//! Alertmanager's configuration format and key names, so a team can paste its Alertmanager
//! `route:`, `receivers:` and `inhibit_rules:` in.

use std::collections::BTreeMap;

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder, join};
use crate::config::yaml::Node;

use super::compat::{Authorization, FileText, OpsgenieResponder, PagerdutyLink, Unused, ignored};
use super::matcher::Matcher;
use super::rules::RuleConfig;

crate::config_section! {
    /// Defaults shared by receivers, as Alertmanager's `global:`.
    pub struct GlobalConfig {
        /// `host:port` of the SMTP server e-mail goes through.
        pub smtp_smarthost: Option<String> = None,
        /// Sender address of e-mails.
        pub smtp_from: Option<String> = None,
        /// Require STARTTLS (or implicit TLS on port 465). Plain SMTP is only for localhost.
        pub smtp_require_tls: bool = true,
        pub smtp_auth_username: Option<String> = None,
        pub smtp_auth_password: Option<String> = None,
        /// EHLO name.
        pub smtp_hello: Option<String> = None,
        /// How long an alert that stopped being reported is kept firing before it resolves.
        pub resolve_timeout: Duration = Duration::secs(300),
        /// Default Slack webhook URL for `slack_configs` without `api_url`.
        pub slack_api_url: Option<String> = None,
        /// Default PagerDuty Events API URL.
        pub pagerduty_url: String = "https://events.pagerduty.com/v2/enqueue".to_string(),
        /// Default Opsgenie API URL (EU: `https://api.eu.opsgenie.com/`).
        pub opsgenie_api_url: String = "https://api.opsgenie.com/".to_string(),
        pub opsgenie_api_key: Option<String> = None,
        /// Default Telegram Bot API URL.
        pub telegram_api_url: String = "https://api.telegram.org".to_string(),
    }
}

crate::config_section! {
    /// Options of the HTTP client of a receiver (`http_config`, as in Alertmanager).
    pub struct HttpConfig {
        pub bearer_token: Option<String> = None,
        pub basic_auth: Option<crate::config::shared::BasicAuth> = None,
        /// `{type: Bearer, credentials: ...}` (or `credentials_file`): the `Authorization`
        /// header, as Alertmanager's.
        pub authorization: Option<Authorization> = None,
        pub tls_config: ReceiverTls = ReceiverTls::defaults(),
        /// `http://host:port` proxy.
        pub proxy_url: Option<String> = None,
    }
}

crate::config_section! {
    pub struct ReceiverTls {
        pub ca_file: Option<std::path::PathBuf> = None,
        pub insecure_skip_verify: bool = false,
    }
}

impl ReceiverTls {
    pub fn defaults() -> Self {
        crate::config::section_default()
    }
}

impl HttpConfig {
    pub fn defaults() -> Self {
        crate::config::section_default()
    }
}

crate::config_section! {
    /// Alertmanager's webhook: exactly its payload (`version: "4"`), so every receiver written
    /// for Alertmanager works unchanged. `template` replaces the body.
    pub struct WebhookConfig {
        /// The receiver's URL; or `url_file`, a file holding it (read at load).
        pub url: String = String::new(),
        pub url_file: Option<FileText> = None,
        pub send_resolved: bool = true,
        /// Most alerts per message (0: all); the rest are counted in `truncatedAlerts`.
        pub max_alerts: u64 = 0,
        /// A body template (Go-template syntax over the notification) instead of the JSON.
        pub template: Option<String> = None,
        /// Per-attempt timeout of this channel instead of `alerts.delivery.timeout`.
        pub timeout: Option<Duration> = None,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
    check = check_webhook;
}

fn check_webhook(c: &WebhookConfig, path: &str, d: &mut Decoder) {
    if c.url.is_empty() == c.url_file.is_none() {
        d.error_at(path, "needs exactly one of `url` or `url_file`");
    }
}

impl WebhookConfig {
    /// `url`, or what `url_file` held.
    pub fn url(&self) -> &str {
        self.url_file.as_ref().map_or(&self.url, |f| &f.0)
    }

    /// The attempt timeout this channel asks for (`0s`, as in Alertmanager, means none of
    /// its own).
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.timeout.map(|t| t.get()).filter(|t| !t.is_zero())
    }
}

crate::config_section! {
    pub struct EmailConfig {
        /// Recipients, comma-separated.
        pub to: String,
        pub from: Option<String> = None,
        pub smarthost: Option<String> = None,
        pub require_tls: Option<bool> = None,
        pub auth_username: Option<String> = None,
        pub auth_password: Option<String> = None,
        pub hello: Option<String> = None,
        pub headers: BTreeMap<String, String> = BTreeMap::new(),
        /// Templates of the HTML and text parts, instead of Panoptes' own.
        pub html: Option<String> = None,
        pub text: Option<String> = None,
        /// Alertmanager's SMTP PLAIN identity: accepted, not used (warned at load).
        pub auth_identity: Option<String> = None,
        pub send_resolved: bool = false,
        pub tls_config: ReceiverTls = ReceiverTls::defaults(),
    }
}

crate::config_section! {
    /// Slack incoming webhook: `text` (the fallback) and blocks.
    pub struct SlackConfig {
        pub api_url: Option<String> = None,
        pub channel: Option<String> = None,
        pub username: Option<String> = None,
        pub title: Option<String> = None,
        pub text: Option<String> = None,
        /// Where the message's link goes (a template); default the alerts page.
        pub title_link: Option<String> = None,
        pub icon_emoji: Option<String> = None,
        /// Accepted for Alertmanager configs; blocks have no colour bar (warned at load).
        pub color: Option<String> = None,
        /// A body template replacing the whole JSON payload.
        pub template: Option<String> = None,
        pub send_resolved: bool = false,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
}

crate::config_section! {
    /// Microsoft Teams Workflows webhook with an Adaptive Card.
    pub struct TeamsConfig {
        pub webhook_url: String,
        pub title: Option<String> = None,
        pub text: Option<String> = None,
        /// A body template replacing the whole JSON payload (the Adaptive Card).
        pub template: Option<String> = None,
        pub send_resolved: bool = true,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
}

crate::config_section! {
    pub struct DiscordConfig {
        pub webhook_url: String,
        pub title: Option<String> = None,
        pub message: Option<String> = None,
        /// A body template replacing the whole JSON payload.
        pub template: Option<String> = None,
        pub send_resolved: bool = true,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
}

crate::config_section! {
    /// Telegram bot `sendMessage`.
    pub struct TelegramConfig {
        pub bot_token: String,
        pub chat_id: i64,
        pub api_url: Option<String> = None,
        pub message: Option<String> = None,
        /// `HTML` (default), `MarkdownV2` or `Markdown`.
        pub parse_mode: String = "HTML".to_string(),
        pub message_thread_id: Option<i64> = None,
        pub disable_notifications: bool = false,
        /// A body template replacing the whole JSON payload (it must give `chat_id`).
        pub template: Option<String> = None,
        pub send_resolved: bool = true,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
}

crate::config_section! {
    /// PagerDuty Events API v2: trigger and resolve with `dedup_key` = the alert's fingerprint.
    pub struct PagerdutyConfig {
        /// The Events API v2 integration key; or `service_key`.
        pub routing_key: String = String::new(),
        /// Alertmanager's Events API v1 key: sent as the v2 `routing_key` (PagerDuty takes
        /// an integration's key at either API).
        pub service_key: Option<String> = None,
        pub url: Option<String> = None,
        /// `critical`, `error`, `warning` or `info`; default from the alert's `severity` label.
        pub severity: Option<String> = None,
        pub client: String = "Panoptes".to_string(),
        pub client_url: Option<String> = None,
        pub description: Option<String> = None,
        /// More `custom_details` (values are templates), beside the labels and annotations.
        pub details: BTreeMap<String, String> = BTreeMap::new(),
        /// More links of the event, beside the link to the alert.
        pub links: Vec<PagerdutyLink> = Vec::new(),
        pub send_resolved: bool = true,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
    check = check_pagerduty;
}

fn check_pagerduty(c: &PagerdutyConfig, path: &str, d: &mut Decoder) {
    if c.routing_key.is_empty() == c.service_key.is_none() {
        d.error_at(path, "needs exactly one of `routing_key` or `service_key`");
    }
}

impl PagerdutyConfig {
    pub fn key(&self) -> &str {
        self.service_key.as_deref().unwrap_or(&self.routing_key)
    }
}

crate::config_section! {
    /// Opsgenie: create and close alerts by alias (= the fingerprint).
    pub struct OpsgenieConfig {
        pub api_key: Option<String> = None,
        pub api_url: Option<String> = None,
        pub message: Option<String> = None,
        pub description: Option<String> = None,
        /// `P1`..`P5`.
        pub priority: Option<String> = None,
        pub tags: Option<String> = None,
        /// Teams, users, escalations or schedules the alert is for.
        pub responders: Vec<OpsgenieResponder> = Vec::new(),
        /// More details (values are templates), beside the labels.
        pub details: BTreeMap<String, String> = BTreeMap::new(),
        /// A note added when the alert is created (a template).
        pub note: Option<String> = None,
        pub send_resolved: bool = true,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
}

crate::config_section! {
    /// ntfy (Panoptes' own): one message per notification to a topic.
    pub struct NtfyConfig {
        pub url: String = "https://ntfy.sh".to_string(),
        pub topic: String,
        pub title: Option<String> = None,
        pub message: Option<String> = None,
        /// 1 (min) .. 5 (max); default 4 while firing, 3 when resolved.
        pub priority: Option<u8> = None,
        pub tags: Vec<String> = Vec::new(),
        /// Access token (`tk_...`).
        pub token: Option<String> = None,
        /// A body template replacing the JSON publish; plain text goes to the topic's URL.
        pub template: Option<String> = None,
        pub send_resolved: bool = true,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
}

crate::config_section! {
    /// Push alerts to a Prometheus Alertmanager (`POST /api/v2/alerts`), as Prometheus does:
    /// resent while firing, `endsAt` on resolve.
    pub struct AlertmanagerConfig {
        /// Base URL, e.g. `http://alertmanager:9093`.
        pub url: String,
        pub send_resolved: bool = true,
        pub http_config: HttpConfig = HttpConfig::defaults(),
    }
}

crate::config_section! {
    /// A named set of channels, as Alertmanager's `receivers:` entries.
    pub struct ReceiverConfig {
        pub name: String,
        pub webhook_configs: Vec<WebhookConfig> = Vec::new(),
        pub email_configs: Vec<EmailConfig> = Vec::new(),
        pub slack_configs: Vec<SlackConfig> = Vec::new(),
        pub msteamsv2_configs: Vec<TeamsConfig> = Vec::new(),
        pub discord_configs: Vec<DiscordConfig> = Vec::new(),
        pub telegram_configs: Vec<TelegramConfig> = Vec::new(),
        pub pagerduty_configs: Vec<PagerdutyConfig> = Vec::new(),
        pub opsgenie_configs: Vec<OpsgenieConfig> = Vec::new(),
        pub ntfy_configs: Vec<NtfyConfig> = Vec::new(),
        pub alertmanager_configs: Vec<AlertmanagerConfig> = Vec::new(),
    }
}

/// `group_by`: label names, or `['...']` to group by every label (no grouping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Labels(Vec<String>),
    All,
}

impl Decode for GroupBy {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let names: Vec<String> = d.decode(node, path)?;
        if names.iter().any(|n| n == "...") {
            return Some(GroupBy::All);
        }
        Some(GroupBy::Labels(names))
    }
}

crate::config_section! {
    /// A node of the routing tree (Alertmanager's `route:`). Children inherit unset fields.
    pub struct RouteConfig {
        pub receiver: Option<String> = None,
        pub group_by: Option<GroupBy> = None,
        pub matchers: Vec<Matcher> = Vec::new(),
        /// Alertmanager's older form: `match: {label: value}`.
        pub match_labels as "match": BTreeMap<String, String> = BTreeMap::new(),
        /// Alertmanager's older form: `match_re: {label: regex}`.
        pub match_re: BTreeMap<String, String> = BTreeMap::new(),
        /// Also try the following sibling routes after this one matched.
        pub continue_matching as "continue": bool = false,
        pub group_wait: Option<Duration> = None,
        pub group_interval: Option<Duration> = None,
        pub repeat_interval: Option<Duration> = None,
        /// Alertmanager's time intervals: accepted, not supported (warned at load).
        pub mute_time_intervals: Vec<String> = Vec::new(),
        pub active_time_intervals: Vec<String> = Vec::new(),
        /// On-call: page the named escalation policy for alerts of this route.
        pub escalation_policy: Option<String> = None,
        pub routes: Vec<RouteConfig> = Vec::new(),
    }
}

crate::config_section! {
    /// Mutes alerts matching `target_matchers` while an alert matching `source_matchers`
    /// fires with the same values of the `equal` labels.
    pub struct InhibitRuleConfig {
        pub source_matchers: Vec<Matcher> = Vec::new(),
        pub target_matchers: Vec<Matcher> = Vec::new(),
        /// Alertmanager's older forms: `{label: value}` and `{label: regex}`.
        pub source_match: BTreeMap<String, String> = BTreeMap::new(),
        pub source_match_re: BTreeMap<String, String> = BTreeMap::new(),
        pub target_match: BTreeMap<String, String> = BTreeMap::new(),
        pub target_match_re: BTreeMap<String, String> = BTreeMap::new(),
        pub equal: Vec<String> = Vec::new(),
    }
    check = check_inhibit_rule;
}

fn check_inhibit_rule(c: &InhibitRuleConfig, path: &str, d: &mut Decoder) {
    for (key, map) in [
        ("source_match_re", &c.source_match_re),
        ("target_match_re", &c.target_match_re),
    ] {
        check_regexes(map, &join(path, key), d);
    }
}

fn check_regexes(map: &BTreeMap<String, String>, path: &str, d: &mut Decoder) {
    for (k, re) in map {
        if let Err(e) = super::matcher::anchored(re) {
            d.error_at(&join(path, k), format!("invalid regex: {e}"));
        }
    }
}

crate::config_section! {
    /// Delivery of notifications (the outbox).
    pub struct DeliveryConfig {
        /// First retry after a failed attempt; doubles each time.
        pub retry_backoff: Duration = Duration::secs(1),
        pub max_backoff: Duration = Duration::secs(300),
        /// A delivery still failing this long after it was queued is given up as dead (and
        /// raises the `PanoptesNotificationDead` alert).
        pub dead_after: Duration = Duration::secs(3600),
        /// Per-attempt timeout.
        pub timeout: Duration = Duration::secs(10),
        /// Deliveries per second to one receiver channel, at most (a burst of as many).
        pub rate_per_receiver: u32 = 10,
        /// Attempts kept per delivery in the history.
        pub max_attempts_kept: usize = 20,
    }
}

impl DeliveryConfig {
    pub fn defaults() -> Self {
        crate::config::section_default()
    }
}

crate::config_section! {
    /// Rules, routing, receivers, inhibition, delivery.
    pub struct AlertsConfig {
        pub global: GlobalConfig = crate::config::section_default(),
        pub rules: Vec<RuleConfig> = Vec::new(),
        pub route: Option<RouteConfig> = None,
        pub receivers: Vec<ReceiverConfig> = Vec::new(),
        pub inhibit_rules: Vec<InhibitRuleConfig> = Vec::new(),
        /// Base URL of the dashboard in links (`generatorURL`, `externalURL`); default the
        /// address the server listens on.
        pub external_url: Option<String> = None,
        pub delivery: DeliveryConfig = DeliveryConfig::defaults(),
        /// How often rules over windows are evaluated even without events (windows slide).
        pub evaluation_interval: Duration = Duration::secs(15),
        /// Firing and resolved alerts kept in the history.
        pub history_retention: Duration = Duration::secs(30 * 86_400),
        /// Alertmanager's template files and time intervals: accepted so its configuration
        /// pastes in, not supported (warned at load).
        pub templates: Vec<String> = Vec::new(),
        pub time_intervals: Vec<Unused> = Vec::new(),
        pub mute_time_intervals: Vec<Unused> = Vec::new(),
    }
    check = check_alerts;
}

fn check_alerts(c: &AlertsConfig, path: &str, d: &mut Decoder) {
    let mut names = std::collections::HashSet::new();
    for (i, r) in c.receivers.iter().enumerate() {
        if !names.insert(r.name.as_str()) {
            d.error_at(
                &format!("{}[{i}].name", join(path, "receivers")),
                format!("duplicate receiver name `{}`", r.name),
            );
        }
    }
    let mut rules = std::collections::HashSet::new();
    for (i, r) in c.rules.iter().enumerate() {
        if !rules.insert(r.name.as_str()) {
            d.error_at(
                &format!("{}[{i}].name", join(path, "rules")),
                format!("duplicate rule name `{}`", r.name),
            );
        }
    }
    if let Some(route) = &c.route {
        let route_path = join(path, "route");
        if route.receiver.is_none() && !c.receivers.is_empty() {
            d.error_at(&route_path, "the top-level route needs a `receiver`");
        }
        check_route(route, &route_path, &names, d);
    } else if !c.rules.is_empty() && !c.receivers.is_empty() {
        d.error_at(
            &join(path, "route"),
            "rules and receivers need a `route` (at least `route: {receiver: NAME}`)",
        );
    }
}

fn check_route(
    r: &RouteConfig,
    path: &str,
    receivers: &std::collections::HashSet<&str>,
    d: &mut Decoder,
) {
    if let Some(name) = &r.receiver
        && !receivers.contains(name.as_str())
    {
        d.error_at(
            &join(path, "receiver"),
            format!("no receiver named `{name}`"),
        );
    }
    check_regexes(&r.match_re, &join(path, "match_re"), d);
    for (i, child) in r.routes.iter().enumerate() {
        check_route(
            child,
            &format!("{}[{i}]", join(path, "routes")),
            receivers,
            d,
        );
    }
}

/// Rules that name monitors, groups or projects that do not exist, and Alertmanager keys that
/// were accepted but are ignored. Warnings, not errors: a rule may be written before its
/// monitor (or outlive it), and must not stop a reload; the warnings are logged at start.
pub fn warnings(
    c: &AlertsConfig,
    monitors: &[crate::probe::config::MonitorConfig],
    projects: &[crate::sentry::config::ProjectConfig],
) -> Vec<String> {
    let mut out = ignored(c);
    for (i, r) in c.rules.iter().enumerate() {
        let path = format!("alerts.rules[{i}]");
        if let Some(m) = &r.monitor {
            for (j, name) in m.monitors.iter().enumerate() {
                if !monitors.iter().any(|x| &x.name == name) {
                    out.push(format!(
                        "{path}.monitor.monitors[{j}]: no monitor named `{name}`"
                    ));
                }
            }
            for (j, g) in m.groups.iter().enumerate() {
                if !monitors
                    .iter()
                    .any(|x| x.group.as_deref() == Some(g.as_str()))
                {
                    out.push(format!(
                        "{path}.monitor.groups[{j}]: no monitor is in group `{g}`"
                    ));
                }
            }
            let labelled = |x: &crate::probe::config::MonitorConfig| {
                let mut l = x.labels.clone();
                l.insert("monitor".into(), x.name.clone());
                if let Some(g) = &x.group {
                    l.insert("group".into(), g.clone());
                }
                super::matcher::all_match(&m.matchers, &l)
            };
            if !m.matchers.is_empty() && !monitors.iter().any(labelled) {
                out.push(format!(
                    "{path}.monitor.matchers: no monitor has labels matching them"
                ));
            }
        }
        if let Some(is) = &r.issue {
            for (j, p) in is.projects.iter().enumerate() {
                if !projects.iter().any(|x| x.id == *p) {
                    out.push(format!(
                        "{path}.issue.projects[{j}]: no project with id {p}"
                    ));
                }
            }
        }
    }
    out
}
