//! The root of the configuration file: one field per section, each section's schema owned by
//! its domain (`probe::config`, `periskop::config`, `sentry::config`, ...). Here the sections are
//! put together, the checks that span fields run, and files are read.
//!
//! Owns: the top-level layout, `parse`, `load`, the `init` example. Depends on: the config
//! framework and every domain's config module (the only file under `config/` that names one).

use std::path::Path;

use super::decode::Decoder;
use super::section_default;
use super::{ConfigError, ConfigErrors};
use crate::alerts::config::AlertsConfig;
use crate::auth::config::AuthConfig;
use crate::http::config::ServerConfig;
use crate::oncall::config::OncallConfig;
use crate::periskop::config::{PeriskopConfig, ServiceConfig};
use crate::probe::config::{MonitorConfig, ProbingConfig};
use crate::probe::maintenance::MaintenanceConfig;
use crate::remote_write::config::RemoteWriteConfig;
use crate::sentry::config::{IngestConfig, ProjectConfig};
use crate::statuspage::config::StatusPageConfig;
use crate::store::config::StoreConfig;
use crate::telemetry::LogConfig;

/// The example written by `panoptes init`. It is also parsed by a test, so it cannot rot.
pub const EXAMPLE: &str = include_str!("example.yaml");

/// Bound on the config file itself.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

crate::config_section! {
    /// The whole configuration file.
    pub struct Config {
        /// HTTP server and data location.
        pub server: ServerConfig = section_default(),
        /// Logging.
        pub log: LogConfig = section_default(),
        /// Embedded store tuning and retention.
        pub store: StoreConfig = section_default(),
        /// Dashboard logins.
        pub auth: AuthConfig = section_default(),
        /// Probing engine settings.
        pub probing: ProbingConfig = section_default(),
        /// Endpoints to check (HTTP, TCP, DNS, TLS, ICMP, push).
        pub monitors: Vec<MonitorConfig> = Vec::new(),
        /// Maintenance windows: results inside are MAINTENANCE and left out of availability.
        pub maintenance: Vec<MaintenanceConfig> = Vec::new(),
        /// Periskop-instrumented services to discover and scrape.
        pub services: Vec<ServiceConfig> = Vec::new(),
        /// Settings shared by every service in `services` and by the Periskop push gateway.
        pub periskop: PeriskopConfig = section_default(),
        /// Sentry-compatible ingest: projects and their DSN keys.
        pub projects: Vec<ProjectConfig> = Vec::new(),
        /// Ingest limits, flood control and back-pressure shared by every project.
        pub ingest: IngestConfig = section_default(),
        /// Alert rules, Alertmanager-style routing, receivers, inhibition and delivery.
        pub alerts: AlertsConfig = section_default(),
        /// On-call: contacts, schedules, escalation policies (alert routes name a policy).
        pub oncall: OncallConfig = section_default(),
        /// Public status pages: components from monitors, incidents, feeds, Statuspage JSON.
        pub status_pages: Vec<StatusPageConfig> = Vec::new(),
        /// Prometheus remote-write receivers that get every probe result as samples.
        pub remote_write: Vec<RemoteWriteConfig> = Vec::new(),
        /// Pacing and bounds of forwarding to upstream Sentry (`projects[].forward` says where).
        pub forward: crate::forward::config::ForwardConfig = section_default(),
    }
}

impl Default for Config {
    fn default() -> Self {
        section_default()
    }
}

impl Config {
    /// Checks that no single field can make. They run even when some fields were wrong (those
    /// took their defaults, or left their list), so one run reports every problem.
    fn validate(&self, d: &mut Decoder) {
        crate::store::config::validate(&self.store, d);
        crate::auth::config::validate(&self.auth, d);
        crate::probe::config::validate(&self.probing, &self.monitors, &self.maintenance, d);
        crate::periskop::config::validate(&self.services, &self.periskop, d);
        crate::sentry::config::validate(&self.projects, &self.ingest, d);
        crate::oncall::config::validate(&self.oncall, &self.alerts, d);
        crate::remote_write::config::validate(&self.remote_write, d);
        let smtp = crate::statuspage::config::GlobalSmtp {
            has_from: self.alerts.global.smtp_from.is_some(),
            has_smarthost: self.alerts.global.smtp_smarthost.is_some(),
        };
        crate::statuspage::config::validate(&self.status_pages, &self.monitors, smtp, d);
    }
}

/// The HTTP edge reads the running config through this (`http::settings`: the admins' view
/// of it, the dashboard's URL for invite links), never through the root itself.
impl crate::http::RunningConfig for tokio::sync::watch::Receiver<std::sync::Arc<Config>> {
    fn render(&self) -> Result<super::effective::Rendered, super::effective::RenderError> {
        // A clone of the pointer: rendering must not hold the watch's lock (a reload waits on it).
        let now = self.borrow().clone();
        super::effective::render(&*now)
    }

    fn external_url(&self) -> Option<String> {
        self.borrow().alerts.external_url.clone()
    }
}

/// What a valid file has that will not do what it seems to: alert rules naming monitors,
/// groups or projects that do not exist, Alertmanager keys accepted without effect, on-call
/// people who cannot be paged. Logged at start and at each reload, printed by `panoptes check`.
pub fn warnings(c: &Config) -> Vec<String> {
    let mut out = crate::alerts::config::warnings(&c.alerts, &c.monitors, &c.projects);
    out.extend(crate::oncall::config::warnings(&c.oncall));
    out
}

/// Parses config text. `file` names the source in error messages.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let root = super::yaml::parse(text).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.to_string(),
            line: e.mark.line,
            col: e.mark.col,
            path: String::new(),
            message: format!("invalid YAML: {}", e.message),
        }])
    })?;
    let mut d = Decoder::new(file, env);
    let mut config = d.decode::<Config>(&root, "");
    if let Some(c) = &mut config {
        // Group defaults fill monitors in before anything reads their locations.
        crate::probe::locations::apply_groups(&c.probing, &mut c.monitors, &mut d);
        c.validate(&mut d);
    }
    match config {
        Some(c) if d.errors.is_empty() => Ok(c),
        _ => {
            let mut errors = std::mem::take(&mut d.errors);
            errors.sort_by_key(|e| (e.line, e.col));
            errors.dedup();
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
    use crate::telemetry::LogFormat;
    use std::path::PathBuf;

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
