//! Typed configuration: YAML in, a validated [`Config`] out, or every error with its location.
//!
//! Owns: the config schema, defaults, `${VAR}`/`${file:...}` substitution, the `init` example.
//! Depends on: nothing else in the crate.

pub mod decode;
pub mod periskop;
pub mod sentry;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use decode::{Decode, Decoder};
pub use periskop::{PeriskopConfig, ServiceConfig};
pub use sentry::{IngestConfig, ProjectConfig};
use yaml::Node;

/// The example written by `panoptes init`. It is also parsed by a test, so it cannot rot.
pub const EXAMPLE: &str = include_str!("example.yaml");

/// Bound on the config file itself.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// A span of time written as `500ms`, `30s`, `5m`, `2h`, `7d` or combined (`1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub const fn millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("empty".into());
        }
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err("expected a number".into());
            }
            let n: u128 = rest[..digits].parse().map_err(|_| "number too large")?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit_ms: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                "" => return Err("a unit is required (ms, s, m, h, d, w)".into()),
                other => return Err(format!("unknown unit `{other}`")),
            };
            rest = &rest[unit_len..];
            total = total
                .checked_add(n.checked_mul(unit_ms).ok_or("too large")?)
                .ok_or("too large")?;
        }
        let ms = u64::try_from(total).map_err(|_| "too large")?;
        Ok(Duration(std::time::Duration::from_millis(ms)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// Dotted field path, e.g. `server.listen` or `monitors[2].url`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Decode for LogFormat {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "`text` or `json`", |s| match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(String::new()),
        })
    }
}

crate::config_section! {
    /// The whole configuration file.
    pub struct Config {
        /// HTTP server and data location.
        pub server: ServerConfig = ServerConfig::defaults(),
        /// Logging.
        pub log: LogConfig = LogConfig::defaults(),
        /// Embedded store tuning and retention.
        pub store: StoreConfig = StoreConfig::defaults(),
        /// Dashboard logins.
        pub auth: AuthConfig = AuthConfig::defaults(),
        /// Probing engine settings.
        pub probing: crate::probe::config::ProbingConfig = section_default(),
        /// Endpoints to check (HTTP, TCP, DNS, TLS, ICMP, push).
        pub monitors: Vec<crate::probe::config::MonitorConfig> = Vec::new(),
        /// Maintenance windows: results inside are MAINTENANCE and left out of availability.
        pub maintenance: Vec<crate::probe::config::MaintenanceConfig> = Vec::new(),
        /// Periskop-instrumented services to discover and scrape.
        pub services: Vec<ServiceConfig> = Vec::new(),
        /// Settings shared by every service in `services` and by the Periskop push gateway.
        pub periskop: PeriskopConfig = PeriskopConfig::defaults(),
        /// Sentry-compatible ingest: projects and their DSN keys.
        pub projects: Vec<ProjectConfig> = Vec::new(),
        /// Ingest limits, flood control and back-pressure shared by every project.
        pub ingest: IngestConfig = IngestConfig::defaults(),
    }
}

crate::config_section! {
    pub struct ServerConfig {
        /// Address the HTTP server listens on.
        pub listen: std::net::SocketAddr = default_listen(),
        /// Directory holding the data file; created if missing.
        pub data_dir: PathBuf = PathBuf::from("./panoptes-data"),
        /// Serve `/metrics` without credentials (Prometheus scrapers usually have none).
        pub public_metrics: bool = true,
        /// How long graceful shutdown waits for in-flight requests before giving up.
        pub shutdown_timeout: Duration = Duration::secs(30),
        /// Largest request body the JSON API accepts.
        pub max_body_bytes: u64 = 1024 * 1024,
    }
}

crate::config_section! {
    pub struct LogConfig {
        /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter such as `panoptes=debug`.
        pub level: String = "info".to_string(),
        /// `text` (human-readable) or `json` (one object per line).
        pub format: LogFormat = LogFormat::Text,
    }
}

crate::config_section! {
    pub struct StoreConfig {
        /// How long audit-log entries are kept.
        pub audit_retention: Duration = Duration::secs(90 * 86_400),
        /// How often expired data is deleted.
        pub retention_interval: Duration = Duration::secs(3600),
        /// Rows deleted per transaction by retention, so deletes never stall writers.
        pub retention_batch: usize = 1000,
        /// Most write requests folded into one transaction.
        pub max_batch: usize = 4096,
        /// Writes waiting for the writer before producers are told to back off.
        pub queue_capacity: usize = 65_536,
        /// Memory for the storage engine's page cache (bounds the process's resident size).
        pub cache_bytes: u64 = 256 * 1024 * 1024,
    }
}

crate::config_section! {
    pub struct AuthConfig {
        /// Lifetime of a dashboard session.
        pub session_ttl: Duration = Duration::secs(7 * 86_400),
        /// Mark the session cookie `Secure` (set when serving over HTTPS, e.g. behind a proxy).
        pub secure_cookies: bool = false,
        /// Failed logins (per user name and per client address) allowed before slowing down.
        pub login_free_failures: u32 = 5,
        /// First lock-out after too many failures; doubles with each further failure.
        pub login_backoff: Duration = Duration::secs(1),
        /// Longest lock-out.
        pub login_backoff_max: Duration = Duration::secs(300),
    }
}

fn default_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
}

impl ServerConfig {
    fn defaults() -> Self {
        section_default()
    }
}
impl LogConfig {
    fn defaults() -> Self {
        section_default()
    }
}
impl StoreConfig {
    fn defaults() -> Self {
        section_default()
    }
}
impl AuthConfig {
    fn defaults() -> Self {
        section_default()
    }
}

/// A section with every field at its default: decoding an empty mapping yields exactly that,
/// so defaults are written once, in the section declaration.
pub(crate) fn section_default<T: Decode>() -> T {
    let env = |_: &str| None;
    let mut d = Decoder::new("<defaults>", &env);
    match T::decode(&Node::empty_map(), "", &mut d) {
        Some(v) => v,
        // Only reachable if a section gains a required field; caught by `defaults_are_complete`.
        None => panic!("config section has a required field: {:?}", d.errors),
    }
}

impl Default for Config {
    fn default() -> Self {
        section_default()
    }
}

impl Config {
    /// Cross-field checks that no single field can make.
    fn validate(&self, d: &mut Decoder, root: &Node) {
        let section = |name: &str| -> yaml::Mark {
            if let yaml::Value::Map(entries) = &root.value {
                for (k, v) in entries {
                    if matches!(&k.value, yaml::Value::Scalar { text, .. } if text == name) {
                        return v.mark;
                    }
                }
            }
            root.mark
        };
        if self.store.max_batch == 0 {
            d.error(section("store"), "store.max_batch", "must be at least 1");
        }
        if self.store.queue_capacity < self.store.max_batch {
            d.error(
                section("store"),
                "store.queue_capacity",
                "must be at least store.max_batch",
            );
        }
        if self.store.retention_batch == 0 {
            d.error(
                section("store"),
                "store.retention_batch",
                "must be at least 1",
            );
        }
        if self.auth.login_backoff > self.auth.login_backoff_max {
            d.error(
                section("auth"),
                "auth.login_backoff",
                "must not exceed auth.login_backoff_max",
            );
        }
        if self.auth.session_ttl.get().is_zero() {
            d.error(section("auth"), "auth.session_ttl", "must be positive");
        }
        let mut names = std::collections::HashMap::new();
        let mut tokens = std::collections::HashMap::new();
        for (i, m) in self.monitors.iter().enumerate() {
            if let Some(first) = names.insert(m.name.as_str(), i) {
                d.error(
                    m.mark,
                    &format!("monitors[{i}].name"),
                    format!(
                        "duplicate monitor name `{}` (also monitors[{first}])",
                        m.name
                    ),
                );
            }
            if let crate::probe::config::CheckKind::Push(p) = &m.kind
                && let Some(first) = tokens.insert(p.token.as_str(), i)
            {
                d.error(
                    m.mark,
                    &format!("monitors[{i}].token"),
                    format!("push token already used by monitors[{first}]"),
                );
            }
        }
        for (i, w) in self.maintenance.iter().enumerate() {
            for name in &w.monitors {
                if !names.contains_key(name.as_str()) {
                    d.error(
                        section("maintenance"),
                        &format!("maintenance[{i}].monitors"),
                        format!("no monitor named `{name}`"),
                    );
                }
            }
        }
        if self.probing.concurrency == 0 || self.probing.per_host_concurrency == 0 {
            d.error(
                section("probing"),
                "probing.concurrency",
                "concurrency limits must be at least 1",
            );
        }
        periskop::validate_services(&self.services, &self.periskop, d, root);
        sentry::validate(&self.projects, &self.ingest, d, root);
    }
}

/// Parses config text. `file` names the source in error messages.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let root = yaml::parse(text).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.to_string(),
            line: e.mark.line,
            col: e.mark.col,
            path: String::new(),
            message: format!("invalid YAML: {}", e.message),
        }])
    })?;
    let mut d = Decoder::new(file, env);
    let config = Config::decode(&root, "", &mut d);
    if let Some(c) = &config {
        c.validate(&mut d, &root);
    }
    match config {
        Some(c) if d.errors.is_empty() => Ok(c),
        _ => {
            let mut errors = std::mem::take(&mut d.errors);
            errors.sort_by_key(|e| (e.line, e.col));
            Err(ConfigErrors(errors))
        }
    }
}

/// Reads and parses a config file, substituting from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let fail = |message: String| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: 0,
            col: 0,
            path: String::new(),
            message,
        }])
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(fail(format!(
            "file is larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "not valid UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, &file, &|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_complete() {
        let c = Config::default();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.data_dir, PathBuf::from("./panoptes-data"));
        assert_eq!(c.log.format, LogFormat::Text);
    }

    #[test]
    fn the_init_example_is_valid_and_matches_defaults_where_it_says_so() {
        let c = parse(EXAMPLE, "example.yaml", &no_env).expect("example config must be valid");
        assert_eq!(c.server.listen, Config::default().server.listen);
    }

    #[test]
    fn durations_parse() {
        assert_eq!("30s".parse::<Duration>(), Ok(Duration::secs(30)));
        assert_eq!("5m".parse::<Duration>(), Ok(Duration::secs(300)));
        assert_eq!("2h".parse::<Duration>(), Ok(Duration::secs(7200)));
        assert_eq!("1h30m".parse::<Duration>(), Ok(Duration::secs(5400)));
        assert_eq!("250ms".parse::<Duration>(), Ok(Duration::millis(250)));
        assert!("30".parse::<Duration>().is_err());
        assert!("5x".parse::<Duration>().is_err());
        assert!("".parse::<Duration>().is_err());
        assert!("99999999999999999999d".parse::<Duration>().is_err());
        assert_eq!(Duration::secs(7200).to_string(), "2h");
    }

    #[test]
    fn every_error_is_reported_with_position_and_path() {
        let text = "server:\n  listen: nowhere\n  data_dirr: /tmp\nlog:\n  format: xml\nstore:\n  retention_interval: 10\n";
        let errs = parse(text, "p.yaml", &no_env).expect_err("invalid");
        let lines: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].starts_with("p.yaml:2:11: server.listen: expected an address"));
        assert!(lines[1].starts_with("p.yaml:3:3: server.data_dirr: unknown field"));
        assert!(lines[1].contains("did you mean `data_dir`"));
        assert!(lines[2].starts_with("p.yaml:5:11: log.format: expected `text` or `json`"));
        assert!(lines[3].starts_with("p.yaml:7:23: store.retention_interval: expected a duration"));
    }

    #[test]
    fn unknown_top_level_sections_are_rejected() {
        let errs = parse("servr: {}\n", "p.yaml", &no_env).expect_err("invalid");
        assert_eq!(errs.0.len(), 1);
        assert!(errs.0[0].message.contains("unknown field `servr`"));
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let errs = parse(
            "server:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n",
            "p",
            &no_env,
        )
        .expect_err("invalid");
        assert!(errs.0[0].message.contains("duplicate"));
    }

    #[test]
    fn env_and_file_substitution() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret\n").expect("write");
        let text = format!(
            "server:\n  listen: \"${{HOST}}:${{PORT}}\"\n  data_dir: \"${{file:{}}}/x$$y\"\n",
            secret.display()
        );
        let env = |k: &str| match k {
            "HOST" => Some("127.0.0.1".to_string()),
            "PORT" => Some("9999".to_string()),
            _ => None,
        };
        let c = parse(&text, "p", &env).expect("valid");
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(c.server.data_dir, PathBuf::from("s3cret/x$y"));
    }

    #[test]
    fn missing_variables_and_files_are_errors_at_their_field() {
        let text = "server:\n  data_dir: ${NOPE}\nlog:\n  level: ${file:/nonexistent/x}\n";
        let errs = parse(text, "p", &no_env).expect_err("invalid");
        assert_eq!(errs.0.len(), 2, "{errs}");
        assert_eq!(errs.0[0].path, "server.data_dir");
        assert!(errs.0[0].message.contains("`NOPE` is not set"));
        assert_eq!(errs.0[1].path, "log.level");
        assert!(errs.0[1].message.contains("cannot read"));
    }

    #[test]
    fn cross_field_validation() {
        let errs = parse(
            "store:\n  max_batch: 10\n  queue_capacity: 5\n",
            "p",
            &no_env,
        )
        .expect_err("invalid");
        assert_eq!(errs.0[0].path, "store.queue_capacity");
    }

    #[test]
    fn wrong_shapes_are_reported() {
        let errs = parse("server: [1, 2]\nlog: 3\n", "p", &no_env).expect_err("invalid");
        assert_eq!(errs.0.len(), 2, "{errs}");
        assert!(
            errs.0[0]
                .message
                .contains("expected a mapping, found a list")
        );
    }
}
