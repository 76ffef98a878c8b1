//! Monitor, maintenance and probing configuration. The check kind is the explicit `type` field,
//! decided at load; conditions are parsed at load and checked against what the kind can observe.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder, join};
use crate::config::yaml::{Mark, Node, Value};

use super::condition::{Condition, Placeholder};

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
    }
}

impl Decode for Condition {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a condition like `[STATUS] == 200`", |s| {
            Condition::parse(s)
        })
    }
}

crate::config_section! {
    pub struct BasicAuth {
        pub username: String,
        pub password: String,
    }
}

crate::config_section! {
    pub struct HttpCheck {
        /// `http://` or `https://` URL.
        pub url: String,
        pub method: String = "GET".to_string(),
        pub headers: BTreeMap<String, String> = BTreeMap::new(),
        pub body: Option<String> = None,
        pub basic_auth: Option<BasicAuth> = None,
        pub bearer_token: Option<String> = None,
        pub follow_redirects: bool = true,
        /// Verify the server's certificate chain and name.
        pub verify_tls: bool = true,
        /// Extra PEM CA certificate(s) to trust.
        pub ca_file: Option<PathBuf> = None,
        /// Read at most this much of the body (conditions see the prefix).
        pub max_body_bytes: u64 = 1024 * 1024,
    }
}

crate::config_section! {
    pub struct TcpCheck {
        pub host: String,
        pub port: u16,
        /// A line to send after connecting.
        pub send: Option<String> = None,
        /// Text the first line received must contain (exposed as [BODY]).
        pub expect: Option<String> = None,
    }
}

crate::config_section! {
    pub struct DnsCheck {
        /// The name to resolve.
        pub query: String,
        /// A, AAAA, CNAME, MX, NS, TXT, SOA, SRV, PTR, CAA.
        pub record: String = "A".to_string(),
        /// `ip` or `ip:port`; defaults to the first nameserver in /etc/resolv.conf.
        pub nameserver: Option<String> = None,
        /// Answers that must all be present (e.g. addresses).
        pub expect: Vec<String> = Vec::new(),
        /// Expected response code; shorthand for a `[DNS_RCODE] == ...` condition.
        pub rcode: Option<String> = None,
    }
}

crate::config_section! {
    pub struct TlsCheck {
        pub host: String,
        pub port: u16 = 443,
        /// SNI name and name to verify; defaults to host.
        pub server_name: Option<String> = None,
        pub verify_tls: bool = true,
        pub ca_file: Option<PathBuf> = None,
    }
}

crate::config_section! {
    pub struct IcmpCheck {
        pub host: String,
    }
}

crate::config_section! {
    pub struct PushCheck {
        /// Secret in the push URL: POST /api/v1/push/{token}.
        pub token: String,
        /// Extra time after the interval before a missing push means DOWN.
        pub grace: Duration = Duration::secs(30),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Http(HttpCheck),
    Tcp(TcpCheck),
    Dns(DnsCheck),
    Tls(TlsCheck),
    Icmp(IcmpCheck),
    Push(PushCheck),
}

impl CheckKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Http(_) => "http",
            CheckKind::Tcp(_) => "tcp",
            CheckKind::Dns(_) => "dns",
            CheckKind::Tls(_) => "tls",
            CheckKind::Icmp(_) => "icmp",
            CheckKind::Push(_) => "push",
        }
    }

    /// What the check targets, for display and per-host concurrency.
    pub fn target(&self) -> String {
        match self {
            CheckKind::Http(h) => h.url.clone(),
            CheckKind::Tcp(t) => format!("{}:{}", t.host, t.port),
            CheckKind::Dns(d) => format!(
                "{} {} @{}",
                d.record,
                d.query,
                d.nameserver.as_deref().unwrap_or("system")
            ),
            CheckKind::Tls(t) => format!("{}:{}", t.host, t.port),
            CheckKind::Icmp(i) => i.host.clone(),
            CheckKind::Push(_) => "push".into(),
        }
    }

    /// The host part, the key for per-host concurrency limits.
    pub fn host(&self) -> String {
        match self {
            CheckKind::Http(h) => url_host(&h.url).unwrap_or_default(),
            CheckKind::Tcp(t) => t.host.clone(),
            CheckKind::Dns(d) => d.nameserver.clone().unwrap_or_else(|| "system-dns".into()),
            CheckKind::Tls(t) => t.host.clone(),
            CheckKind::Icmp(i) => i.host.clone(),
            CheckKind::Push(_) => String::new(),
        }
    }

    fn placeholders(&self) -> &'static [Placeholder] {
        use Placeholder::*;
        match self {
            CheckKind::Http(_) => &[
                Status,
                ResponseTime,
                Body,
                CertificateExpiration,
                Connected,
                Ip,
            ],
            CheckKind::Tcp(_) => &[ResponseTime, Body, Connected, Ip],
            CheckKind::Dns(_) => &[ResponseTime, Body, DnsRcode, Connected, Ip],
            CheckKind::Tls(_) => &[ResponseTime, CertificateExpiration, Connected, Ip],
            CheckKind::Icmp(_) => &[ResponseTime, Connected, Ip],
            CheckKind::Push(_) => &[Status, ResponseTime, Body],
        }
    }

    fn default_conditions(&self) -> Vec<&'static str> {
        match self {
            CheckKind::Http(_) => vec!["[STATUS] >= 200", "[STATUS] < 300"],
            CheckKind::Tcp(_) | CheckKind::Icmp(_) => vec!["[CONNECTED] == true"],
            CheckKind::Dns(_) => vec![],
            CheckKind::Tls(_) => vec!["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 0"],
            // A push reporting `status=down` fails through the status the push carried.
            CheckKind::Push(_) => vec!["[STATUS] == 200"],
        }
    }
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    Some(host_port.to_ascii_lowercase())
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
    pub kind: CheckKind,
    /// Where the monitor was declared, for errors found later (e.g. duplicate names).
    pub mark: Mark,
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
        let mut ok = true;
        // Errors point at the offending field's value when it was written, else at the monitor.
        let mut fail = |d: &mut Decoder, field: &str, msg: String| {
            let mark = entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == field))
                .map(|(_, v)| v.mark)
                .unwrap_or(node.mark);
            d.error(mark, &join(path, field), msg);
            ok = false;
        };
        if common.name.trim().is_empty() || common.name.len() > 200 {
            fail(d, "name", "must be 1 to 200 characters".into());
        }
        if common.interval.get() < std::time::Duration::from_secs(1) {
            fail(d, "interval", "must be at least 1s".into());
        }
        let default_cap =
            |secs: u64| Duration(std::time::Duration::from_secs(secs).min(common.interval.get()));
        let timeout = common.timeout.unwrap_or_else(|| default_cap(10));
        if timeout.get().is_zero() {
            fail(d, "timeout", "must be positive".into());
        }
        if timeout > common.interval {
            fail(
                d,
                "timeout",
                format!(
                    "({timeout}) must not exceed interval ({}): checks of one monitor never overlap",
                    common.interval
                ),
            );
        }
        let retry_interval = common.retry_interval.unwrap_or_else(|| default_cap(5));
        if retry_interval.get() < std::time::Duration::from_secs(1) {
            fail(d, "retry_interval", "must be at least 1s".into());
        }
        if common.recovery == 0 {
            fail(d, "recovery", "must be at least 1".into());
        }
        // Kind-specific checks.
        match &kind {
            CheckKind::Http(h) => {
                let lower = h.url.to_ascii_lowercase();
                if !(lower.starts_with("http://") || lower.starts_with("https://"))
                    || url_host(&h.url).is_none_or(|h| h.is_empty())
                {
                    fail(
                        d,
                        "url",
                        format!("`{}` is not an http:// or https:// URL", h.url),
                    );
                }
                if axum::http::Method::from_bytes(h.method.as_bytes()).is_err() {
                    fail(d, "method", format!("`{}` is not an HTTP method", h.method));
                }
                if h.basic_auth.is_some() && h.bearer_token.is_some() {
                    fail(
                        d,
                        "bearer_token",
                        "use basic_auth or bearer_token, not both".into(),
                    );
                }
                if h.max_body_bytes == 0 || h.max_body_bytes > 64 * 1024 * 1024 {
                    fail(d, "max_body_bytes", "must be between 1 and 67108864".into());
                }
            }
            CheckKind::Dns(dns) => {
                if super::check::dns::record_type(&dns.record).is_none() {
                    fail(d, "record", format!("unknown record type `{}`", dns.record));
                }
                if let Some(ns) = &dns.nameserver
                    && super::check::dns::parse_nameserver(ns).is_none()
                {
                    fail(d, "nameserver", format!("`{ns}` is not an ip or ip:port"));
                }
                if let Some(rc) = &dns.rcode
                    && super::check::dns::rcode_known(rc).is_none()
                {
                    fail(d, "rcode", format!("unknown response code `{rc}`"));
                }
            }
            CheckKind::Push(p) => {
                if p.token.len() < 8
                    || !p
                        .token
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    fail(
                        d,
                        "token",
                        "must be at least 8 characters of [A-Za-z0-9_-]".into(),
                    );
                }
            }
            CheckKind::Tcp(_) | CheckKind::Tls(_) | CheckKind::Icmp(_) => {}
        }
        // Conditions must only read what this kind of check observes.
        let allowed = kind.placeholders();
        let cond_nodes: Vec<&Node> = entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Scalar { text, .. } if text == "conditions"))
            .and_then(|(_, v)| match &v.value {
                Value::Seq(items) => Some(items.iter().collect()),
                _ => None,
            })
            .unwrap_or_default();
        for (i, c) in common.conditions.iter().enumerate() {
            for p in c.placeholders() {
                if !allowed.contains(&p) {
                    let mark = cond_nodes.get(i).map(|n| n.mark).unwrap_or(node.mark);
                    d.error(
                        mark,
                        &format!("{path}.conditions[{i}]"),
                        format!(
                            "{} is not available for a {} monitor",
                            p.name(),
                            kind.type_name()
                        ),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
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
            let rc = dns.rcode.clone().unwrap_or_else(|| "NOERROR".into());
            if !conditions
                .iter()
                .any(|c| c.placeholders().contains(&Placeholder::DnsRcode))
                && let Ok(c) =
                    Condition::parse(&format!("[DNS_RCODE] == {}", rc.to_ascii_uppercase()))
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
            kind,
            mark: node.mark,
        })
    }
}

/// How long each resolution is kept; `forever` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep(pub Option<Duration>);

impl Decode for Keep {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a duration like 14d, or `forever`", |s| {
            if s == "forever" {
                Ok(Keep(None))
            } else {
                s.parse::<Duration>().map(|d| Keep(Some(d)))
            }
        })
    }
}

crate::config_section! {
    pub struct ProbeRetention {
        pub raw: Keep = Keep(Some(Duration::secs(14 * 86_400))),
        pub minute: Keep = Keep(Some(Duration::secs(14 * 86_400))),
        pub hour: Keep = Keep(Some(Duration::secs(400 * 86_400))),
        pub day: Keep = Keep(None),
    }
}

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
    }
}

/// A maintenance window: one-off (`start`/`end`) or recurring (`every`/`at`/`duration`).
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceConfig {
    pub name: String,
    /// Monitor names in scope; with `groups` empty too, the window is global.
    pub monitors: Vec<String>,
    pub groups: Vec<String>,
    pub schedule: super::maintenance::Schedule,
}

crate::config_section! {
    pub struct MaintenanceFields {
        pub name: String,
        pub monitors: Vec<String> = Vec::new(),
        pub groups: Vec<String> = Vec::new(),
        pub start: Option<String> = None,
        pub end: Option<String> = None,
        pub every: Vec<String> = Vec::new(),
        pub at: Option<String> = None,
        pub duration: Option<Duration> = None,
        pub timezone: String = "UTC".to_string(),
    }
}

impl Decode for MaintenanceConfig {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let f = MaintenanceFields::decode(node, path, d)?;
        let err = |d: &mut Decoder, field: &str, msg: String| {
            d.error(node.mark, &join(path, field), msg);
            None
        };
        use super::maintenance::Schedule;
        let schedule = match (&f.start, &f.end, &f.at, &f.duration) {
            (Some(s), Some(e), None, None) if f.every.is_empty() => {
                let start = match s.parse::<jiff::Timestamp>() {
                    Ok(t) => t,
                    Err(e) => {
                        return err(
                            d,
                            "start",
                            format!("expected an RFC 3339 time like 2026-11-23T02:00:00Z: {e}"),
                        );
                    }
                };
                let end = match e.parse::<jiff::Timestamp>() {
                    Ok(t) => t,
                    Err(e) => return err(d, "end", format!("expected an RFC 3339 time: {e}")),
                };
                if end <= start {
                    return err(d, "end", "must be after start".into());
                }
                Schedule::Once {
                    start_ms: start.as_millisecond(),
                    end_ms: end.as_millisecond(),
                }
            }
            (None, None, Some(at), Some(duration)) => {
                let tz = match jiff::tz::TimeZone::get(&f.timezone) {
                    Ok(tz) => tz,
                    Err(e) => {
                        return err(
                            d,
                            "timezone",
                            format!("unknown time zone `{}`: {e}", f.timezone),
                        );
                    }
                };
                let time = match at.parse::<jiff::civil::Time>() {
                    Ok(t) => t,
                    Err(_) => {
                        return err(
                            d,
                            "at",
                            format!("expected a time of day like 02:30, found `{at}`"),
                        );
                    }
                };
                let mut days = Vec::new();
                for day in if f.every.is_empty() {
                    vec!["day".to_string()]
                } else {
                    f.every.clone()
                } {
                    match super::maintenance::parse_days(&day) {
                        Some(ds) => days.extend(ds),
                        None => {
                            return err(
                                d,
                                "every",
                                format!(
                                    "`{day}` is not a weekday (mon..sun), `weekdays`, `weekends` or `day`"
                                ),
                            );
                        }
                    }
                }
                if duration.get().is_zero()
                    || duration.get() > std::time::Duration::from_secs(7 * 86_400)
                {
                    return err(d, "duration", "must be between 1s and 7d".into());
                }
                Schedule::Recurring {
                    days,
                    at: time,
                    duration_ms: duration.get().as_millis() as i64,
                    tz,
                }
            }
            _ => {
                return err(
                    d,
                    "start",
                    "give either start and end (one-off) or at and duration, with optional every and timezone (recurring)".into(),
                );
            }
        };
        Some(MaintenanceConfig {
            name: f.name,
            monitors: f.monitors,
            groups: f.groups,
            schedule,
        })
    }
}
