//! `panoptes agent`: the probing agent's process, until SIGTERM or SIGINT. Its work is
//! `agent::run`; here are the signals, the data file and the clock it is given.

use std::sync::Arc;

use panoptes::app;
use panoptes::clock::{SharedClock, SystemClock};
use panoptes::config::root::Config;
use panoptes::metrics::Metrics;
use tracing::info;

/// The agent process until SIGTERM or SIGINT (see `agent::run`).
pub async fn agent(config: Config, settings: panoptes::agent::run::Settings) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let store = app::open_store(&config, &Metrics::new()).map_err(|e| e.to_string())?;
    let clock: SharedClock = Arc::new(SystemClock);
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
    };
    let r = panoptes::agent::run::run(
        store.clone(),
        clock,
        panoptes::outbound::default_clients(),
        settings,
        shutdown,
    )
    .await;
    store.close().await;
    r
}
