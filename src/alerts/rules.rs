//! Alert rules as written in `alerts.rules`: what each watches (a monitor's state or window, a
//! Sentry issue, a Periskop key, Panoptes itself), `for`, `keep_firing_for`, labels and
//! annotations. Checked where they are written; evaluated by `eval.rs`.

use std::collections::BTreeMap;

use regex::Regex;

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder, join};
use crate::config::yaml::Node;

use super::matcher::{Matcher, anchored, valid_label_name};

/// A regular expression from the config, matched anywhere in the value (unanchored, as a
/// search: `title: "Timeout"` matches `ConnectTimeout: ...`).
#[derive(Debug, Clone)]
pub struct Pattern(pub Regex);

impl PartialEq for Pattern {
    fn eq(&self, o: &Self) -> bool {
        self.0.as_str() == o.0.as_str()
    }
}

impl Decode for Pattern {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a regular expression", |s| {
            regex::RegexBuilder::new(s)
                .size_limit(1 << 20)
                .build()
                .map(Pattern)
                .map_err(|e| e.to_string())
        })
    }
}

/// A matcher over a Sentry event's tag, Sentry's "The event's tags match {key} {match}
/// {value}" written as an Alertmanager matcher: `browser=~"Chrome.*"`, `customer="acme"`,
/// `server_name!="web-1"`. A tag the event does not have is the empty value, so
/// `customer=""` means "not set" and `customer!=""` "set".
#[derive(Debug, Clone, PartialEq)]
pub struct TagMatcher(pub Matcher);

impl Decode for TagMatcher {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a tag matcher like browser=~\"Chrome.*\"",
            |s| {
                Matcher::parse_named(
                    s,
                    crate::sentry::event::tags::valid_key,
                    "a tag key (1 to 32 characters of [a-zA-Z0-9_.:-])",
                )
                .map(TagMatcher)
            },
        )
    }
}

impl TagMatcher {
    /// Whether one of `values` (the batch's values of this tag; none: the empty value)
    /// satisfies the matcher.
    pub fn holds<'a>(&self, mut values: impl Iterator<Item = &'a str>) -> bool {
        match values.next() {
            None => self.0.matches_value(""),
            Some(first) => self.0.matches_value(first) || values.any(|v| self.0.matches_value(v)),
        }
    }
}

/// What a monitor rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorCondition {
    /// The monitor is DOWN.
    Down,
    /// The monitor is DEGRADED (passing, but slower than its `degraded` threshold).
    Degraded,
    /// A push monitor's heartbeat did not arrive in time (a deadman).
    Missed,
    /// The certificate expires within `days`.
    CertExpiry,
    /// Availability over `window` below `below` percent.
    Availability,
    /// The `percentile` latency over `window` above `above`.
    Latency,
    /// Apdex over `window` below `below` (0..1).
    Apdex,
    /// Apdex or p95 latency (`metric`) over `window` worse by more than `worse_by` percent than
    /// the same window `compared_to` ago (1d or 7d).
    Trend,
}

impl Decode for MonitorCondition {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "down, degraded, missed, cert_expiry, availability, latency, apdex or trend",
            |s| {
                Ok(match s {
                    "down" => MonitorCondition::Down,
                    "degraded" => MonitorCondition::Degraded,
                    "missed" => MonitorCondition::Missed,
                    "cert_expiry" => MonitorCondition::CertExpiry,
                    "availability" => MonitorCondition::Availability,
                    "latency" => MonitorCondition::Latency,
                    "apdex" => MonitorCondition::Apdex,
                    "trend" => MonitorCondition::Trend,
                    _ => return Err(String::new()),
                })
            },
        )
    }
}

crate::config_section! {
    /// A rule over monitors: `monitor: {state: down, monitors: [api]}`.
    pub struct MonitorRule {
        pub state: MonitorCondition,
        /// Monitor names; with `groups` also empty, every monitor.
        pub monitors: Vec<String> = Vec::new(),
        pub groups: Vec<String> = Vec::new(),
        /// Of the monitors selected so, those whose labels (their `labels:`, plus `monitor`
        /// and `group`) satisfy every matcher: `['team="payments"', 'tier=~"1|2"']`.
        pub matchers: Vec<Matcher> = Vec::new(),
        /// `cert_expiry`: days left at most.
        pub days: f64 = 14.0,
        /// `availability`: percent (e.g. 99.9); `apdex`: 0..1.
        pub below: Option<f64> = None,
        /// `latency`: the threshold.
        pub above: Option<Duration> = None,
        /// `latency`: 50, 90, 95 or 99.
        pub percentile: u8 = 95,
        /// The window of `availability`, `latency`, `apdex` and `trend`.
        pub window: Duration = Duration::secs(3600),
        /// `trend`: `apdex` or `latency` (p95).
        pub metric: String = "apdex".to_string(),
        /// `trend`: compare with the same window this long ago (1d or 7d).
        pub compared_to: Duration = Duration::secs(86_400),
        /// `trend`: by more than this many percent.
        pub worse_by: f64 = 20.0,
    }
    check = check_monitor_rule;
}

fn check_monitor_rule(r: &MonitorRule, path: &str, d: &mut Decoder) {
    let at = |f: &str| join(path, f);
    match r.state {
        MonitorCondition::Availability => match r.below {
            Some(b) if (0.0..=100.0).contains(&b) => {}
            _ => d.error_at(&at("below"), "availability needs `below`, a percentage"),
        },
        MonitorCondition::Apdex => match r.below {
            Some(b) if (0.0..=1.0).contains(&b) => {}
            _ => d.error_at(&at("below"), "apdex needs `below`, between 0 and 1"),
        },
        MonitorCondition::Latency => {
            if r.above.is_none() {
                d.error_at(&at("above"), "latency needs `above`, a duration like 300ms");
            }
            if ![50, 90, 95, 99].contains(&r.percentile) {
                d.error_at(&at("percentile"), "must be 50, 90, 95 or 99");
            }
        }
        MonitorCondition::Trend => {
            if r.metric != "apdex" && r.metric != "latency" {
                d.error_at(&at("metric"), "must be apdex or latency");
            }
            let day = std::time::Duration::from_secs(86_400);
            if r.compared_to.get() != day && r.compared_to.get() != day * 7 {
                d.error_at(&at("compared_to"), "must be 1d or 7d");
            }
            if r.window.get() > day {
                d.error_at(&at("window"), "a trend window is at most 1d");
            }
        }
        _ => {}
    }
    if r.window.get() < std::time::Duration::from_secs(60) {
        d.error_at(&at("window"), "must be at least 1m");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCondition {
    /// A new issue.
    New,
    /// A resolved issue seen again.
    Regression,
    /// An issue seen more than `count` times in `window`.
    Frequency,
    /// More than `users` distinct new users of an issue in `window`.
    Users,
    /// A project's events above `per_minute` (over `window`).
    Rate,
}

impl Decode for IssueCondition {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "new, regression, frequency, users or rate",
            |s| {
                Ok(match s {
                    "new" => IssueCondition::New,
                    "regression" => IssueCondition::Regression,
                    "frequency" => IssueCondition::Frequency,
                    "users" => IssueCondition::Users,
                    "rate" => IssueCondition::Rate,
                    _ => return Err(String::new()),
                })
            },
        )
    }
}

crate::config_section! {
    /// A rule over Sentry issues: `issue: {event: new, projects: [7]}`.
    pub struct IssueRule {
        pub event: IssueCondition,
        /// Project ids; empty: every project.
        pub projects: Vec<u64> = Vec::new(),
        /// Issue levels (`error`, `fatal`, ...); empty: any.
        pub levels: Vec<String> = Vec::new(),
        pub title: Option<Pattern> = None,
        pub culprit: Option<Pattern> = None,
        /// Only events of this environment.
        pub environment: Option<String> = None,
        pub release: Option<Pattern> = None,
        /// Tag matchers, all of which must hold (`['browser=~"Chrome.*"', 'customer="acme"']`).
        pub tags: Vec<TagMatcher> = Vec::new(),
        /// `frequency`: more than this many events in `window`.
        pub count: Option<u64> = None,
        /// `users`: more than this many new users in `window`.
        pub users: Option<u64> = None,
        /// `rate`: more than this many events per minute over `window`.
        pub per_minute: Option<u64> = None,
        pub window: Duration = Duration::secs(600),
    }
    check = check_issue_rule;
}

fn check_issue_rule(r: &IssueRule, path: &str, d: &mut Decoder) {
    let need = |d: &mut Decoder, ok: bool, field: &str, what: &str| {
        if !ok {
            d.error_at(&join(path, field), what.to_string());
        }
    };
    match r.event {
        IssueCondition::Frequency => need(d, r.count.is_some(), "count", "frequency needs `count`"),
        IssueCondition::Users => need(d, r.users.is_some(), "users", "users needs `users`"),
        IssueCondition::Rate => need(
            d,
            r.per_minute.is_some(),
            "per_minute",
            "rate needs `per_minute`",
        ),
        _ => {}
    }
    if r.window.get() < std::time::Duration::from_secs(60) {
        d.error_at(&join(path, "window"), "must be at least 1m");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionCondition {
    New,
    Regressed,
    /// A key's (or the service's, `per: service`) increase in `window` above `increase`.
    Increase,
    /// A scrape target is down.
    TargetsDown,
}

impl Decode for ExceptionCondition {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "new, regressed, increase or targets_down",
            |s| {
                Ok(match s {
                    "new" => ExceptionCondition::New,
                    "regressed" => ExceptionCondition::Regressed,
                    "increase" => ExceptionCondition::Increase,
                    "targets_down" => ExceptionCondition::TargetsDown,
                    _ => return Err(String::new()),
                })
            },
        )
    }
}

crate::config_section! {
    /// A rule over Periskop exceptions: `exception: {event: new, services: [billing]}`.
    pub struct ExceptionRule {
        pub event: ExceptionCondition,
        /// Service names; empty: every service.
        pub services: Vec<String> = Vec::new(),
        /// Only aggregation keys matching this.
        pub keys: Option<Pattern> = None,
        /// `increase`: per `key` (default) or per `service`.
        pub per: String = "key".to_string(),
        /// `increase`: more than this many in `window`.
        pub increase: Option<u64> = None,
        pub window: Duration = Duration::secs(300),
    }
    check = check_exception_rule;
}

fn check_exception_rule(r: &ExceptionRule, path: &str, d: &mut Decoder) {
    if r.event == ExceptionCondition::Increase && r.increase.is_none() {
        d.error_at(&join(path, "increase"), "increase needs `increase`");
    }
    if r.per != "key" && r.per != "service" {
        d.error_at(&join(path, "per"), "must be key or service");
    }
    if r.window.get() < std::time::Duration::from_secs(60) {
        d.error_at(&join(path, "window"), "must be at least 1m");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfCondition {
    /// The store refuses writes.
    StoreFailed,
    /// Received items not yet grouped above `above`.
    Backlog,
    /// Events refused by project quotas in `window` above `above`.
    QuotaRejections,
    /// Domain events a subscriber missed in `window` above `above`.
    EventsDropped,
    /// A notification could not be delivered before `alerts.delivery.dead_after`.
    NotificationDead,
    /// A probing agent not heard from for `window` (one alert per agent, labels `agent` and
    /// `location`); resolves when it reports again or is revoked.
    AgentSilent,
}

impl Decode for SelfCondition {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "store_failed, backlog, quota_rejections, events_dropped, notification_dead or agent_silent",
            |s| {
                Ok(match s {
                    "store_failed" => SelfCondition::StoreFailed,
                    "backlog" => SelfCondition::Backlog,
                    "quota_rejections" => SelfCondition::QuotaRejections,
                    "events_dropped" => SelfCondition::EventsDropped,
                    "notification_dead" => SelfCondition::NotificationDead,
                    "agent_silent" => SelfCondition::AgentSilent,
                    _ => return Err(String::new()),
                })
            },
        )
    }
}

crate::config_section! {
    /// A rule over Panoptes itself: `panoptes: {event: backlog, above: 100000}`.
    pub struct SelfRule {
        pub event: SelfCondition,
        pub above: u64 = 0,
        pub window: Duration = Duration::secs(300),
    }
}

crate::config_section! {
    /// One alert rule.
    pub struct RuleConfig {
        /// The alert's name (`alertname` label); unique.
        pub name: String,
        pub monitor: Option<MonitorRule> = None,
        pub issue: Option<IssueRule> = None,
        pub exception: Option<ExceptionRule> = None,
        pub panoptes: Option<SelfRule> = None,
        /// How long the condition must hold before the alert fires (pending until then).
        pub pending_for as "for": Duration = Duration::secs(0),
        /// How long the alert keeps firing after the condition cleared. Rules over events
        /// that have no end (a new issue, a regression, a new key) default to
        /// `alerts.global.resolve_timeout`.
        pub keep_firing_for: Option<Duration> = None,
        /// Sets the `severity` label.
        pub severity: Option<String> = None,
        pub labels: BTreeMap<String, String> = BTreeMap::new(),
        /// Templates (`{{ .Monitor }} is {{ .State }}`) rendered when the alert fires.
        pub annotations: BTreeMap<String, String> = BTreeMap::new(),
    }
    check = check_rule;
}

fn check_rule(r: &RuleConfig, path: &str, d: &mut Decoder) {
    let sources = [
        r.monitor.is_some(),
        r.issue.is_some(),
        r.exception.is_some(),
        r.panoptes.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if sources != 1 {
        d.error_at(
            path,
            format!(
                "rule `{}` needs exactly one of monitor, issue, exception or panoptes",
                r.name
            ),
        );
    }
    if !valid_label_value(&r.name) {
        d.error_at(&join(path, "name"), "must be 1 to 128 printable characters");
    }
    for k in r.labels.keys() {
        if !valid_label_name(k) {
            d.error_at(
                &join(&join(path, "labels"), k),
                format!("`{k}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
            );
        }
    }
}

fn valid_label_value(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control)
}

/// Anchored regexes compile (used by the route checks too).
pub fn check_regex(re: &str) -> Result<(), String> {
    anchored(re).map(|_| ()).map_err(|e| e.to_string())
}

/// The alert raised when a delivery is given up (`alerts.delivery.dead_after`): a page that
/// never arrived must itself page. Labels `receiver` and `channel`; routed like any alert.
pub const NOTIFICATION_DEAD: &str = "PanoptesNotificationDead";

/// The rules evaluated: the configured ones, then the built-in [`NOTIFICATION_DEAD`] (unless
/// a rule of that name replaces it). Book and evaluator both index this list.
pub fn effective(rules: &[RuleConfig]) -> Vec<RuleConfig> {
    let mut out = rules.to_vec();
    if !rules.iter().any(|r| r.name == NOTIFICATION_DEAD) {
        let annotations = [
            (
                "summary",
                "A notification to {{ .Receiver }} ({{ .Channel }}) was given up",
            ),
            ("description", "{{ .Value }}"),
        ];
        out.push(RuleConfig {
            name: NOTIFICATION_DEAD.to_string(),
            monitor: None,
            issue: None,
            exception: None,
            panoptes: Some(SelfRule {
                event: SelfCondition::NotificationDead,
                above: 0,
                window: Duration::secs(300),
            }),
            pending_for: Duration::secs(0),
            keep_firing_for: None,
            severity: Some("critical".to_string()),
            labels: BTreeMap::new(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    }
    out
}
