//! Logging: human-readable by default, JSON lines on request; the level can change on reload.
//!
//! Owns: the tracing subscriber. Depends on: `config` (for `LogFormat`).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::LogFormat;

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
