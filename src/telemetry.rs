//! Logging: human-readable by default, JSON lines on request; the level can change on reload.
//!
//! Owns: the tracing subscriber and the `log:` section. Depends on: `config` (the framework).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::decode::{Decode, Decoder};
use crate::config::yaml::Node;

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
    pub struct LogConfig {
        /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter such as `panoptes=debug`.
        pub level: String = "info".to_string(),
        /// `text` (human-readable) or `json` (one object per line).
        pub format: LogFormat = LogFormat::Text,
    }
}

/// Changes the active log filter (used on SIGHUP).
pub struct LogHandle(reload::Handle<EnvFilter, Registry>);

impl LogHandle {
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        let filter = parse_filter(level)?;
        self.0.modify(|f| *f = filter).map_err(|e| e.to_string())
    }
}

pub fn parse_filter(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(level).map_err(|e| format!("invalid log level `{level}`: {e}"))
}

/// Installs the global subscriber. Logs go to stderr; stdout is left for command output.
pub fn init(level: &str, format: LogFormat) -> Result<LogHandle, String> {
    let (filter, handle) = reload::Layer::new(parse_filter(level)?);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| e.to_string())?;
    Ok(LogHandle(handle))
}
