//! Monitor, maintenance and probing configuration. The check kind is the explicit `type` field,
//! decided at load; conditions are parsed at load and checked against what the kind can observe.

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder, join};
pub use crate::config::shared::{BasicAuth, Headers, Nameserver};
use crate::config::yaml::{Mark, Node, Value};

use super::condition::{Condition, Placeholder};
use super::kinds::url_host;
pub use super::kinds::*;
use super::maintenance::MaintenanceConfig;

/// Keys every monitor accepts, whatever its type.
const COMMON_KEYS: &[&str] = &[
    "name",
    "type",
    "group",
    "interval",
    "timeout",
    "retries",
    "retry_interval",
    "recovery",
    "degraded",
    "apdex_t",
    "conditions",
    "enabled",
    "labels",
    "locations",
    "quorum",
];

crate::config_section! {
    /// Fields shared by every monitor type.
    pub struct CommonFields {
        /// Unique name; also the id in URLs and metrics labels.
        pub name: String,
        /// Free-form group used for filtering and maintenance scoping.
        pub group: Option<String> = None,
        /// Time between the starts of two checks (minimum 1s).
        pub interval: Duration = Duration::secs(60),
        /// Give up on a check after this long (default: 10s, or the interval if shorter).
        pub timeout: Option<Duration> = None,
        /// Failed attempts tolerated (state PENDING) before the monitor is DOWN.
        pub retries: u32 = 0,
        /// Delay before a retry after a failed attempt (default: 5s, or the interval if shorter).
        pub retry_interval: Option<Duration> = None,
        /// Consecutive successes needed to go from DOWN back to UP.
        pub recovery: u32 = 1,
        /// Latency above which a passing check counts as DEGRADED.
        pub degraded: Option<Duration> = None,
        /// Apdex threshold T: satisfied <= T < tolerating <= 4T < frustrated.
        pub apdex_t: Duration = Duration::millis(500),
        /// Conditions that must all hold (Gatus syntax). Defaults depend on the type.
        pub conditions: Vec<Condition> = Vec::new(),
        /// Disabled monitors are kept in the config but never run.
        pub enabled: bool = true,
        /// Labels added to the alerts raised for this monitor (`{team: payments, tier: "1"}`);
        /// alert rules select monitors by them (`matchers`). A rule's own labels win.
        pub labels: std::collections::BTreeMap<String, String> = Default::default(),
        /// Locations checking it (see `super::locations`); empty: the server alone.
        pub locations: Vec<String> = Vec::new(),
        /// Failing locations that make it DOWN (default: a majority).
        pub quorum: Option<u32> = None,
    }
}

impl Decode for Condition {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a condition like `[STATUS] == 200`", |s| {
            Condition::parse(s)
        })
    }
}

/// One monitor, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    pub name: String,
    pub group: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_interval: Duration,
    pub recovery: u32,
    pub degraded: Option<Duration>,
    pub apdex_t: Duration,
    pub conditions: Vec<Condition>,
    pub enabled: bool,
    /// Labels of the alerts raised for it (checked: Prometheus label names).
    pub labels: std::collections::BTreeMap<String, String>,
    pub locations: Vec<String>,
    /// Failing locations for DOWN; 0 when `locations` is empty (after `probing.groups` are
    /// applied; until then, a `quorum` written without `locations`).
    pub quorum: u32,
    pub kind: CheckKind,
    /// Where the monitor was declared, for errors found later (e.g. duplicate names).
    pub mark: Mark,
    /// The monitor as written: sent to agents, which decode it with this same decoder.
    pub source: Node,
}

const TYPES: &[&str] = &["http", "tcp", "dns", "tls", "icmp", "push"];

fn only(node: &Node, keep: impl Fn(&str) -> bool) -> Node {
    let Value::Map(entries) = &node.value else {
        return node.clone();
    };
    Node {
        value: Value::Map(
            entries
                .iter()
                .filter(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if keep(text)))
                .cloned()
                .collect(),
        ),
        mark: node.mark,
    }
}

impl Decode for MonitorConfig {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let Value::Map(entries) = &node.value else {
            d.error(
                node.mark,
                path,
                format!("expected a mapping, found {}", node.kind()),
            );
            return None;
        };
        let type_node = entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == "type"))
            .map(|(_, v)| v);
        let kind_name = match type_node {
            None => {
                d.error(
                    node.mark,
                    &join(path, "type"),
                    "missing required field `type` (http, tcp, dns, tls, icmp or push)",
                );
                None
            }
            Some(n) => d.parse_with(
                n,
                &join(path, "type"),
                "http, tcp, dns, tls, icmp or push",
                |s| {
                    TYPES
                        .iter()
                        .find(|t| **t == s)
                        .map(|t| t.to_string())
                        .ok_or_else(String::new)
                },
            ),
        };
        let common = CommonFields::decode(
            &only(node, |k| COMMON_KEYS.contains(&k) && k != "type"),
            path,
            d,
        );
        let specific = only(node, |k| !COMMON_KEYS.contains(&k));
        let kind = match kind_name.as_deref() {
            Some("http") => HttpCheck::decode(&specific, path, d).map(CheckKind::Http),
            Some("tcp") => TcpCheck::decode(&specific, path, d).map(CheckKind::Tcp),
            Some("dns") => DnsCheck::decode(&specific, path, d).map(CheckKind::Dns),
            Some("tls") => TlsCheck::decode(&specific, path, d).map(CheckKind::Tls),
            Some("icmp") => IcmpCheck::decode(&specific, path, d).map(CheckKind::Icmp),
            Some("push") => PushCheck::decode(&specific, path, d).map(CheckKind::Push),
            _ => None,
        };
        let (common, kind) = (common?, kind?);
        // From here on errors are about values that parsed but do not fit together; the
        // monitor is still returned (the file is refused anyway) so checks across monitors, such
        // as unique names, report in the same run.
        let at = |field: &str| join(path, field);
        if common.name.trim().is_empty() || common.name.len() > 200 {
            d.error_at(&at("name"), "must be 1 to 200 characters");
        }
        if common.interval.get() < std::time::Duration::from_secs(1) {
            d.error_at(&at("interval"), "must be at least 1s");
        }
        let default_cap =
            |secs: u64| Duration(std::time::Duration::from_secs(secs).min(common.interval.get()));
        let timeout = common.timeout.unwrap_or_else(|| default_cap(10));
        if timeout.get().is_zero() {
            d.error_at(&at("timeout"), "must be positive");
        }
        if timeout > common.interval {
            d.error_at(
                &at("timeout"),
                format!(
                    "({timeout}) must not exceed interval ({}): checks of one monitor never overlap",
                    common.interval
                ),
            );
        }
        let retry_interval = common.retry_interval.unwrap_or_else(|| default_cap(5));
        if retry_interval.get() < std::time::Duration::from_secs(1) {
            d.error_at(&at("retry_interval"), "must be at least 1s");
        }
        if common.recovery == 0 {
            d.error_at(&at("recovery"), "must be at least 1");
        }
        check_labels(&common.labels, &at("labels"), d);
        check_kind(&kind, path, d);
        let quorum = super::locations::check(&common.locations, common.quorum, path, d);
        // Conditions must only read what this kind of check observes.
        let allowed = kind.placeholders();
        for (i, c) in common.conditions.iter().enumerate() {
            for p in c.placeholders() {
                if !allowed.contains(&p) {
                    d.error_at(
                        &format!("{path}.conditions[{i}]"),
                        format!(
                            "{} is not available for a {} monitor",
                            p.name(),
                            kind.type_name()
                        ),
                    );
                }
            }
        }
        let mut conditions = common.conditions;
        if conditions.is_empty() {
            conditions = kind
                .default_conditions()
                .into_iter()
                .filter_map(|c| Condition::parse(c).ok())
                .collect();
        }
        if let CheckKind::Dns(dns) = &kind {
            let rc = dns
                .rcode
                .clone()
                .map(|r| r.0)
                .unwrap_or_else(|| "NOERROR".into());
            if !conditions
                .iter()
                .any(|c| c.placeholders().contains(&Placeholder::DnsRcode))
                && let Ok(c) = Condition::parse(&format!("[DNS_RCODE] == {rc}"))
            {
                conditions.insert(0, c);
            }
        }
        Some(MonitorConfig {
            name: common.name,
            group: common.group,
            interval: common.interval,
            timeout,
            retries: common.retries,
            retry_interval,
            recovery: common.recovery,
            degraded: common.degraded,
            apdex_t: common.apdex_t,
            conditions,
            enabled: common.enabled,
            labels: common.labels,
            locations: common.locations,
            quorum,
            kind,
            mark: node.mark,
            source: node.clone(),
        })
    }
}

/// Most labels per monitor, and the longest value: they travel with every result's event.
const MAX_LABELS: usize = 32;
const MAX_LABEL_VALUE: usize = 256;
/// Labels every monitor alert has already, from Panoptes itself.
const RESERVED_LABELS: &[&str] = &["alertname", "monitor", "group"];

/// Monitor labels: Prometheus label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed, which
/// Prometheus reserves), none Panoptes sets itself, bounded values.
fn check_labels(labels: &std::collections::BTreeMap<String, String>, path: &str, d: &mut Decoder) {
    if labels.len() > MAX_LABELS {
        d.error_at(path, format!("at most {MAX_LABELS} labels"));
    }
    for (k, v) in labels {
        let at = join(path, k);
        let mut chars = k.chars();
        let name_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && k.len() <= 128
            && !k.starts_with("__");
        if !name_ok {
            d.error_at(
                &at,
                format!("`{k}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"),
            );
        } else if RESERVED_LABELS.contains(&k.as_str()) {
            d.error_at(
                &at,
                format!("`{k}` is set by Panoptes on every monitor alert"),
            );
        }
        if v.len() > MAX_LABEL_VALUE || v.chars().any(char::is_control) {
            d.error_at(
                &at,
                format!("must be at most {MAX_LABEL_VALUE} bytes without control characters"),
            );
        }
    }
}

/// Checks of one check kind's fields against each other.
fn check_kind(kind: &CheckKind, path: &str, d: &mut Decoder) {
    let at = |field: &str| join(path, field);
    match kind {
        CheckKind::Http(h) => {
            let lower = h.url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://"))
                || url_host(&h.url).is_none_or(|h| h.is_empty())
            {
                d.error_at(
                    &at("url"),
                    format!("`{}` is not an http:// or https:// URL", h.url),
                );
            }
            if axum::http::Method::from_bytes(h.method.as_bytes()).is_err() {
                d.error_at(
                    &at("method"),
                    format!("`{}` is not an HTTP method", h.method),
                );
            }
            if h.basic_auth.is_some() && h.bearer_token.is_some() {
                d.error_at(
                    &at("bearer_token"),
                    "use basic_auth or bearer_token, not both",
                );
            }
            if h.max_body_bytes == 0 || h.max_body_bytes > 64 * 1024 * 1024 {
                d.error_at(&at("max_body_bytes"), "must be between 1 and 67108864");
            }
        }
        CheckKind::Push(p) => {
            if p.token.len() < 8
                || !p
                    .token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                d.error_at(
                    &at("token"),
                    "must be at least 8 characters of [A-Za-z0-9_-]",
                );
            }
        }
        CheckKind::Dns(_) | CheckKind::Tcp(_) | CheckKind::Tls(_) | CheckKind::Icmp(_) => {}
    }
}

/// Rules across monitors and maintenance windows: unique names and push tokens, windows that
/// name existing monitors, engine limits.
pub fn validate(
    probing: &ProbingConfig,
    monitors: &[MonitorConfig],
    maintenance: &[MaintenanceConfig],
    d: &mut Decoder,
) {
    let mut names = std::collections::HashMap::new();
    let mut tokens = std::collections::HashMap::new();
    for (i, m) in monitors.iter().enumerate() {
        if let Some(first) = names.insert(m.name.as_str(), i) {
            d.error_at(
                &format!("monitors[{i}].name"),
                format!(
                    "duplicate monitor name `{}` (also monitors[{first}])",
                    m.name
                ),
            );
        }
        if let CheckKind::Push(p) = &m.kind
            && let Some(first) = tokens.insert(p.token.as_str(), i)
        {
            d.error_at(
                &format!("monitors[{i}].token"),
                format!("push token already used by monitors[{first}]"),
            );
        }
    }
    for (i, w) in maintenance.iter().enumerate() {
        for (j, name) in w.monitors.iter().enumerate() {
            if !names.contains_key(name.as_str()) {
                d.error_at(
                    &format!("maintenance[{i}].monitors[{j}]"),
                    format!("no monitor named `{name}`"),
                );
            }
        }
    }
    if probing.concurrency == 0 {
        d.error_at("probing.concurrency", "must be at least 1");
    }
    if probing.per_host_concurrency == 0 {
        d.error_at("probing.per_host_concurrency", "must be at least 1");
    }
    super::locations::check_probing(probing, d);
}

pub use super::retention::{Keep, ProbeRetention};

crate::config_section! {
    /// Engine-wide probing settings.
    pub struct ProbingConfig {
        /// Checks running at once, across all monitors.
        pub concurrency: usize = 1024,
        /// Checks running at once against one host.
        pub per_host_concurrency: usize = 64,
        /// User-Agent of HTTP checks.
        pub user_agent: String = concat!("panoptes/", env!("CARGO_PKG_VERSION")).to_string(),
        /// How long raw results and each roll-up resolution are kept.
        pub retention: ProbeRetention = crate::config::section_default(),
        /// This process's location (the server's, or an agent's); see `super::locations`.
        pub location: String = "local".to_string(),
        /// Local address HTTP, TCP, TLS and DNS checks are bound to (multi-homed hosts, agents).
        pub source_address: Option<String> = None,
        /// Where each group's monitors are checked from, by group name (`group:` of monitors);
        /// a monitor's own `locations`/`quorum` win.
        pub groups: std::collections::BTreeMap<String, super::locations::GroupLocations> =
            Default::default(),
    }
}
