//! The `services:` section (Periskop-style exception scraping) and its global `periskop:` options.
//!
//! Shaped like Periskop's and Prometheus's configuration so users can copy theirs: discovery
//! through `static_configs`, `dns_sd_configs` and `file_sd_configs`, and a `scraper` block. Each
//! value is checked where it is written (addresses, names, endpoints), so every problem comes out
//! with its line and column; rules across fields are in [`validate`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder, join};
use crate::config::shared::check_ca_file;
pub use crate::config::shared::{BasicAuth, Headers, Nameserver, TlsConfig};
use crate::config::yaml::Node;

/// Longest service name; names appear in URLs and metric labels.
pub const MAX_SERVICE_NAME: usize = 128;

/// Whether `name` is a usable service name: `[A-Za-z0-9._-]`, 1..=128 characters.
pub fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SERVICE_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A service name, checked where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceName(pub String);

impl Decode for ServiceName {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a service name of 1 to 128 characters from [A-Za-z0-9._-]",
            |s| {
                if valid_service_name(s) {
                    Ok(ServiceName(s.to_string()))
                } else {
                    Err(String::new())
                }
            },
        )
    }
}

/// `host:port` of a scrape target (a name or an IP address; IPv6 in brackets).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetAddr(pub String);

/// Checks `host:port`; returns a reason when it is not one.
pub fn check_target_addr(s: &str) -> Result<(), String> {
    if s.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err("a port is required".into());
    };
    port.parse::<u16>()
        .map_err(|_| format!("`{port}` is not a port"))?;
    if host.is_empty()
        || host.len() > 253
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(format!("`{host}` is not a host name or address"));
    }
    Ok(())
}

impl Decode for TargetAddr {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "a target like 10.0.0.5:8081 or host.internal:8081",
            |s| check_target_addr(s).map(|()| TargetAddr(s.to_string())),
        )
    }
}

/// The path scraped on each target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(pub String);

impl Decode for Endpoint {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "a path starting with `/`", |s| {
            if s.starts_with('/') && !s.contains(char::is_whitespace) && s.len() <= 1024 {
                Ok(Endpoint(s.to_string()))
            } else {
                Err(String::new())
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl Decode for Scheme {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "`http` or `https`", |s| match s {
            "http" => Ok(Scheme::Http),
            "https" => Ok(Scheme::Https),
            _ => Err(String::new()),
        })
    }
}

/// Which records a `dns_sd_configs` entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecordType {
    Srv,
    A,
    Aaaa,
}

impl Decode for DnsRecordType {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "`SRV`, `A` or `AAAA`", |s| {
            match s.to_ascii_uppercase().as_str() {
                "SRV" => Ok(DnsRecordType::Srv),
                "A" => Ok(DnsRecordType::A),
                "AAAA" => Ok(DnsRecordType::Aaaa),
                _ => Err(String::new()),
            }
        })
    }
}

/// How the Periskop-compatible routes (`/services/`, `/targets/`) are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompatAuth {
    /// Every request needs a credential (bearer token, session, or Basic auth with a token as
    /// the password, which browsers prompt for).
    Token,
    /// Reads are public; resolving (DELETE) needs a credential.
    PublicRead,
    /// Everything is public, as in Periskop itself. Only behind a trusted network or proxy.
    Public,
}

impl Decode for CompatAuth {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(
            node,
            path,
            "`token`, `public_read` or `public`",
            |s| match s {
                "token" => Ok(CompatAuth::Token),
                "public_read" => Ok(CompatAuth::PublicRead),
                "public" => Ok(CompatAuth::Public),
                _ => Err(String::new()),
            },
        )
    }
}

crate::config_section! {
    /// One Periskop-instrumented service: where its instances are and how to scrape them.
    pub struct ServiceConfig {
        /// Name shown in the APIs (`/services/{name}/errors/`).
        pub name: ServiceName,
        /// Fixed `host:port` targets.
        pub static_configs: Vec<StaticConfig> = Vec::new(),
        /// Targets from DNS: SRV (default), or A/AAAA with `port`.
        pub dns_sd_configs: Vec<DnsSdConfig> = Vec::new(),
        /// Targets from files in Prometheus `file_sd` format (YAML or JSON), re-read periodically.
        pub file_sd_configs: Vec<FileSdConfig> = Vec::new(),
        /// Endpoint, interval and timeout.
        pub scraper: ScraperConfig = ScraperConfig::defaults(),
        /// `http` or `https`.
        pub scheme: Scheme = Scheme::Http,
        /// TLS options for `https` targets.
        pub tls_config: TlsConfig = TlsConfig::defaults(),
        /// Sent as `Authorization: Bearer <token>`.
        pub bearer_token: Option<String> = None,
        /// Sent as `Authorization: Basic ...`.
        pub basic_auth: Option<BasicAuth> = None,
        /// Extra request headers.
        pub headers: Headers = Headers::default(),
    }
    check = check_service;
}

fn check_service(s: &ServiceConfig, path: &str, d: &mut Decoder) {
    let at = |field: &str| join(path, field);
    if s.bearer_token.is_some() && s.basic_auth.is_some() {
        d.error_at(
            &at("basic_auth"),
            "use either bearer_token or basic_auth, not both",
        );
    }
    check_ca_file(
        s.tls_config.ca_file.as_ref(),
        s.tls_config.ca_only,
        &at("tls_config"),
        d,
    );
    if s.scraper.refresh_interval.get() < std::time::Duration::from_millis(100) {
        d.error_at(&at("scraper.refresh_interval"), "must be at least 100ms");
    }
    if s.scraper.timeout.get().is_zero() {
        d.error_at(&at("scraper.timeout"), "must be positive");
    }
}

crate::config_section! {
    pub struct StaticConfig {
        pub targets: Vec<TargetAddr>,
        /// Accepted for Prometheus compatibility; shown with the target in the API.
        pub labels: BTreeMap<String, String> = BTreeMap::new(),
    }
}

crate::config_section! {
    pub struct FileSdConfig {
        /// Paths or globs (`targets/*.yaml`); files are YAML or JSON lists of
        /// `{targets: [...], labels: {...}}`.
        pub files: Vec<String>,
        pub refresh_interval: Duration = Duration::secs(300),
    }
    check = check_file_sd;
}

fn check_file_sd(f: &FileSdConfig, path: &str, d: &mut Decoder) {
    let at = |field: &str| join(path, field);
    if f.files.is_empty() {
        d.error_at(&at("files"), "needs at least one file or glob");
    }
    for (k, pattern) in f.files.iter().enumerate() {
        if let Err(e) = glob::Pattern::new(pattern) {
            d.error_at(&at(&format!("files[{k}]")), format!("invalid glob: {e}"));
        }
    }
    if f.refresh_interval.get() < std::time::Duration::from_millis(100) {
        d.error_at(&at("refresh_interval"), "must be at least 100ms");
    }
}

crate::config_section! {
    pub struct ScraperConfig {
        /// Path of the Periskop export on each target.
        pub endpoint: Endpoint = Endpoint("/-/exceptions".to_string()),
        /// Time between the end of one scrape of the service and the start of the next.
        pub refresh_interval: Duration = Duration::secs(30),
        /// Per-target request timeout (connect + response + body).
        pub timeout: Duration = Duration::secs(10),
    }
}

crate::config_section! {
    /// Settings shared by every service.
    pub struct PeriskopConfig {
        /// Default nameserver for `dns_sd_configs` without their own (else the system resolver).
        pub nameserver: Option<Nameserver> = None,
        /// Scrapes in flight at once, across all services.
        pub max_concurrent_scrapes: usize = 64,
        /// Largest export body read from a target or accepted by the push gateway.
        pub max_body_bytes: u64 = 16 * 1024 * 1024,
        /// Distinct aggregation keys kept per service; further keys are dropped and counted.
        pub max_keys_per_service: usize = 10_000,
        /// Newest occurrences kept per key, across instances.
        pub max_occurrences: usize = 10,
        /// Protection of the Periskop-compatible routes: `token`, `public_read` or `public`.
        pub compat_api: CompatAuth = CompatAuth::Token,
        /// Secrets accepted by the push gateway (besides Panoptes API tokens), as a bearer token
        /// or as the Basic-auth password (`http://push:SECRET@host/push/periskop/<service>`).
        pub push_tokens: Vec<String> = Vec::new(),
        /// A pushing job not heard from for this long is forgotten.
        pub push_instance_ttl: Duration = Duration::secs(3600),
        /// Most services the push gateway creates.
        pub max_push_services: usize = 100,
        /// Push bodies read at once; more pushes are refused with 503 `busy` before their body
        /// is read, so memory held by pushes stays under this times `max_body_bytes`.
        /// Changes on restart.
        pub max_concurrent_pushes: usize = 16,
        /// Most pushing instances (distinct `target_uuid`s) kept per service; beyond, the one
        /// heard from longest ago is forgotten.
        pub max_push_instances_per_service: usize = 1000,
        /// How long per-minute rates are kept (trimmed whenever a key's count grows).
        pub rate_retention: Duration = Duration::secs(30 * 86_400),
    }
}

impl ScraperConfig {
    fn defaults() -> Self {
        crate::config::section_default()
    }
}

crate::config_section! {
    /// One `dns_sd_configs` entry.
    pub struct DnsSdConfig {
        pub names: Vec<String>,
        /// `SRV` (default), `A` or `AAAA`.
        pub record_type as "type": DnsRecordType = DnsRecordType::Srv,
        /// Required for A/AAAA; SRV records carry their own port.
        pub port: Option<u16> = None,
        pub refresh_interval: Duration = Duration::secs(30),
        /// Overrides `periskop.nameserver` for this entry (split-horizon DNS, tests).
        pub nameserver: Option<Nameserver> = None,
    }
    check = check_dns_sd;
}

fn check_dns_sd(c: &DnsSdConfig, path: &str, d: &mut Decoder) {
    let at = |field: &str| join(path, field);
    if c.names.is_empty() {
        d.error_at(&at("names"), "needs at least one name");
    }
    for (k, n) in c.names.iter().enumerate() {
        if n.is_empty() || n.len() > 253 || n.contains(char::is_whitespace) {
            d.error_at(
                &at(&format!("names[{k}]")),
                format!("`{n}` is not a DNS name"),
            );
        }
    }
    match (c.record_type, c.port) {
        (DnsRecordType::Srv, Some(_)) => d.error_at(
            &at("port"),
            "SRV records carry their own port; `port` is only for type A or AAAA",
        ),
        (DnsRecordType::A | DnsRecordType::Aaaa, None) => {
            d.error_at(&at("port"), "type A and AAAA need a `port`")
        }
        _ => {}
    }
    if c.refresh_interval.get() < std::time::Duration::from_millis(100) {
        d.error_at(&at("refresh_interval"), "must be at least 100ms");
    }
}

/// What exception scraping reads of the configuration: `services:` and `periskop:`.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriskopSettings {
    pub services: Vec<ServiceConfig>,
    pub global: PeriskopConfig,
}

/// Rules across services and the global limits.
pub fn validate(services: &[ServiceConfig], global: &PeriskopConfig, d: &mut Decoder) {
    let mut seen = BTreeSet::new();
    for (i, s) in services.iter().enumerate() {
        if !seen.insert(s.name.0.clone()) {
            d.error_at(
                &format!("services[{i}].name"),
                format!("duplicate service name `{}`", s.name.0),
            );
        }
    }
    if global.max_concurrent_scrapes == 0 {
        d.error_at("periskop.max_concurrent_scrapes", "must be at least 1");
    }
    if global.max_concurrent_pushes == 0 {
        d.error_at("periskop.max_concurrent_pushes", "must be at least 1");
    }
    if global.max_occurrences == 0 || global.max_occurrences > 1000 {
        d.error_at("periskop.max_occurrences", "must be between 1 and 1000");
    }
    if global.max_keys_per_service == 0 {
        d.error_at("periskop.max_keys_per_service", "must be at least 1");
    }
    if global.max_push_instances_per_service == 0 {
        d.error_at(
            "periskop.max_push_instances_per_service",
            "must be at least 1",
        );
    }
    if global.max_body_bytes < 1024 {
        d.error_at("periskop.max_body_bytes", "must be at least 1024");
    }
    for (i, t) in global.push_tokens.iter().enumerate() {
        if t.len() < 16 {
            d.error_at(
                &format!("periskop.push_tokens[{i}]"),
                "push tokens must be at least 16 characters",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::root::parse;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_issue_example_parses() {
        let text = r#"
services:
  - name: inventory
    dns_sd_configs: [{names: [_periskop._tcp.inventory.internal], type: SRV, refresh_interval: 30s}]
    static_configs: [{targets: ["10.0.0.5:8081"]}]
    file_sd_configs: [{files: [targets/*.yaml], refresh_interval: 1m}]
    scraper: {endpoint: /-/exceptions, refresh_interval: 15s, timeout: 5s}
"#;
        let c = parse(text, "p.yaml", &no_env).expect("valid");
        let s = &c.services[0];
        assert_eq!(s.name.0, "inventory");
        assert_eq!(s.dns_sd_configs[0].record_type, DnsRecordType::Srv);
        assert_eq!(s.dns_sd_configs[0].refresh_interval, Duration::secs(30));
        assert_eq!(s.static_configs[0].targets[0].0, "10.0.0.5:8081");
        assert_eq!(s.file_sd_configs[0].files[0], "targets/*.yaml");
        assert_eq!(s.file_sd_configs[0].refresh_interval, Duration::secs(60));
        assert_eq!(s.scraper.refresh_interval, Duration::secs(15));
        assert_eq!(s.scraper.timeout, Duration::secs(5));
        assert_eq!(s.scheme, Scheme::Http);
    }

    #[test]
    fn a_and_aaaa_with_port_and_nameservers() {
        let text = "periskop:\n  nameserver: 10.0.0.2\nservices:\n  - name: a\n    dns_sd_configs:\n      - {names: [a.internal], type: A, port: 8080, nameserver: \"127.0.0.1:5353\"}\n      - {names: [b.internal], type: aaaa, port: 9}\n";
        let c = parse(text, "p", &no_env).expect("valid");
        assert_eq!(
            c.periskop.nameserver,
            Some(Nameserver("10.0.0.2:53".parse().expect("addr")))
        );
        let d = &c.services[0].dns_sd_configs;
        assert_eq!(d[0].record_type, DnsRecordType::A);
        assert_eq!(d[0].port, Some(8080));
        assert_eq!(
            d[0].nameserver,
            Some(Nameserver("127.0.0.1:5353".parse().expect("addr")))
        );
        assert_eq!(d[1].record_type, DnsRecordType::Aaaa);
    }

    #[test]
    fn malformed_service_fields_are_located_errors() {
        let text = "services:\n  - name: \"bad name\"\n    static_configs: [{targets: [\"nohost\"]}]\n    dns_sd_configs:\n      - {names: [x], type: A}\n      - {names: [y], port: 80, typ: SRV}\n    scraper: {endpoint: errors, timeout: 5}\n    bearer_token: t\n    basic_auth: {username: u}\n  - name: ok\n  - name: ok\n";
        let errs = parse(text, "p.yaml", &no_env).expect_err("invalid");
        let lines: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
        let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
        assert!(
            has("p.yaml:2:11: services[0].name: expected a service name"),
            "{lines:#?}"
        );
        assert!(
            has("services[0].static_configs[0].targets[0]: expected a target"),
            "{lines:#?}"
        );
        assert!(
            has("services[0].dns_sd_configs[0].port: type A and AAAA need a `port`"),
            "{lines:#?}"
        );
        assert!(
            has("services[0].dns_sd_configs[1].typ: unknown field `typ` (did you mean `type`?)"),
            "{lines:#?}"
        );
        assert!(
            has("services[0].scraper.endpoint: expected a path starting with `/`"),
            "{lines:#?}"
        );
        assert!(
            has("services[0].scraper.timeout: expected a duration"),
            "{lines:#?}"
        );
        assert!(errs.0.iter().all(|e| e.line > 0), "{lines:#?}");
    }

    #[test]
    fn cross_field_rules() {
        let text = "services:\n  - name: ok\n    bearer_token: t\n    basic_auth: {username: u}\n    headers: {\"X Bad\": v}\n    tls_config: {ca_file: /nonexistent/ca.pem}\n  - name: ok\nperiskop:\n  max_concurrent_scrapes: 0\n";
        let errs = parse(text, "p.yaml", &no_env).expect_err("invalid");
        let lines: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
        let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
        assert!(
            has("p.yaml:4:17: services[0].basic_auth: use either"),
            "{lines:#?}"
        );
        assert!(
            has("services[0].headers.X Bad: not a valid HTTP header name"),
            "{lines:#?}"
        );
        assert!(
            has("services[0].tls_config.ca_file: cannot read"),
            "{lines:#?}"
        );
        assert!(
            has("p.yaml:7:11: services[1].name: duplicate service name `ok`"),
            "{lines:#?}"
        );
        assert!(
            has("periskop.max_concurrent_scrapes: must be at least 1"),
            "{lines:#?}"
        );
    }

    #[test]
    fn srv_with_a_port_is_refused() {
        let text = "services:\n  - name: s\n    dns_sd_configs: [{names: [_p._tcp.x], port: 80}]\n";
        let errs = parse(text, "p", &no_env).expect_err("invalid");
        assert!(
            errs.0[0]
                .message
                .contains("SRV records carry their own port")
        );
    }
}
