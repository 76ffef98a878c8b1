//! Wires the parts into a running server: store, auth, HTTP, retention, reload, shutdown.
//!
//! Owns: start-up order and shutdown order. Depends on: every other module. The listener, clock
//! and config are parameters, so tests run the real server on `127.0.0.1:0` in-process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::auth::{self, Auth};
use crate::clock::SharedClock;
use crate::config::{self, Config, ConfigErrors};
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::periskop::{self, Periskop};
use crate::probe::ProbeEngine;
use crate::store::retention::{self, RetentionPolicy};
use crate::store::{Store, StoreError, StoreOptions};
use crate::telemetry::LogHandle;

/// Command-line overrides; they win over the config file on start and on every reload.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

impl Overrides {
    pub fn apply(&self, mut c: Config) -> Config {
        if let Some(d) = &self.data_dir {
            c.server.data_dir = d.clone();
        }
        if let Some(l) = self.listen {
            c.server.listen = l;
        }
        c
    }
}

/// Loads the config file (or the embedded default) with overrides applied.
pub fn load_config(path: Option<&std::path::Path>, o: &Overrides) -> Result<Config, ConfigErrors> {
    let c = match path {
        Some(p) => config::load(p)?,
        None => Config::default(),
    };
    Ok(o.apply(c))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    Probe(String),
}

pub fn open_store(c: &Config, metrics: &Metrics) -> Result<Store, StoreError> {
    Store::open(
        &c.server.data_dir,
        StoreOptions {
            max_batch: c.store.max_batch,
            queue_capacity: c.store.queue_capacity,
            cache_bytes: c.store.cache_bytes as usize,
        },
        metrics.store.clone(),
    )
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    config_tx: watch::Sender<Arc<Config>>,
    shutdown_tx: watch::Sender<bool>,
    serve_task: JoinHandle<std::io::Result<()>>,
    retention_task: JoinHandle<()>,
    probe_retention_task: JoinHandle<()>,
    periskop_task: JoinHandle<()>,
    digest_task: JoinHandle<()>,
}

impl Server {
    /// Opens the store and starts serving on `listener`.
    pub async fn start(
        config: Config,
        listener: TcpListener,
        clock: SharedClock,
    ) -> Result<Server, StartError> {
        // Every outbound TLS client (probes, scrapes) uses ring; installing it again is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let metrics = Arc::new(Metrics::new());
        let store = open_store(&config, &metrics)?;
        let auth = Auth::new(store.clone(), clock.clone(), config.auth.clone())
            .map_err(|e| StartError::Auth(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Auth(format!("listener has no address: {e}")))?;
        let probes = ProbeEngine::start(
            store.clone(),
            clock.clone(),
            metrics.probes.clone(),
            &config.probing,
            &config.monitors,
            &config.maintenance,
        )
        .await
        .map_err(|e| StartError::Probe(e.to_string()))?;
        let (config_tx, config_rx) = watch::channel(Arc::new(config));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let instance_id = uuid::Uuid::new_v4().to_string();
        let exceptions = Periskop::open(
            store.clone(),
            clock.clone(),
            metrics.clone(),
            config_rx.clone(),
            instance_id.clone(),
        )?;
        let ingest = crate::sentry::Ingest::open(
            store.clone(),
            clock.clone(),
            metrics.clone(),
            config_rx.clone(),
            Some(probes.clone()),
        )?;
        let digest_task = tokio::spawn(crate::sentry::digest::run(
            ingest.clone(),
            shutdown_rx.clone(),
        ));
        let state = AppState {
            store: store.clone(),
            auth,
            metrics: metrics.clone(),
            clock: clock.clone(),
            config: config_rx.clone(),
            started: Instant::now(),
            started_at_ms: clock.now_ms(),
            instance_id,
            probes: probes.clone(),
            periskop: exceptions.clone(),
            ingest,
        };
        let probe_retention_task = tokio::spawn(probe_retention(
            probes,
            config_rx.clone(),
            shutdown_rx.clone(),
        ));
        let periskop_task = tokio::spawn(periskop::run(
            exceptions,
            periskop::scrape::default_client_factory(),
            config_rx.clone(),
            shutdown_rx.clone(),
        ));

        let retention_cfg = config_rx.clone();
        let retention_task = tokio::spawn(retention::run(
            store.clone(),
            move || {
                let c = retention_cfg.borrow();
                (
                    RetentionPolicy {
                        audit: c.store.audit_retention.get(),
                        events: c.ingest.event_retention.get(),
                        batch: c.store.retention_batch,
                    },
                    c.store.retention_interval.get(),
                )
            },
            clock.clone(),
            metrics.store.clone(),
            shutdown_rx.clone(),
        ));

        let mut stop = shutdown_rx.clone();
        let serve_state = state.clone();
        let grace_cfg = config_rx.clone();
        let serve_task = tokio::spawn(async move {
            let mut stop_for_grace = stop.clone();
            let serve = http::serve(listener, serve_state, async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            // In-flight requests get `shutdown_timeout` to finish once shutdown starts.
            let grace = async move {
                let _ = stop_for_grace.wait_for(|s| *s).await;
                let t = grace_cfg.borrow().server.shutdown_timeout.get();
                tokio::time::sleep(t).await;
            };
            tokio::select! {
                r = serve => r,
                _ = grace => {
                    warn!("in-flight requests did not finish within shutdown_timeout; closing them");
                    Ok(())
                }
            }
        });
        info!(%addr, data_file = %store.path().display(), "panoptes is serving");
        Ok(Server {
            addr,
            state,
            config_tx,
            shutdown_tx,
            serve_task,
            retention_task,
            probe_retention_task,
            periskop_task,
            digest_task,
        })
    }

    /// Applies a new, already validated config. Settings that need a restart keep their running
    /// value, with a warning. Returns the warnings.
    pub async fn reload(&self, new: Config, log: Option<&LogHandle>) -> Vec<String> {
        let old = self.state.config();
        let mut new = new;
        let mut warnings = Vec::new();
        if new.server.listen != old.server.listen {
            warnings.push(format!(
                "server.listen changed to {}; restart to apply (still on {})",
                new.server.listen, old.server.listen
            ));
            new.server.listen = old.server.listen;
        }
        if new.server.data_dir != old.server.data_dir {
            warnings.push(format!(
                "server.data_dir changed to {}; restart to apply",
                new.server.data_dir.display()
            ));
            new.server.data_dir = old.server.data_dir.clone();
        }
        if new.auth != old.auth {
            warnings.push("auth settings change on restart".into());
            new.auth = old.auth.clone();
        }
        if new.store.max_batch != old.store.max_batch
            || new.store.queue_capacity != old.store.queue_capacity
            || new.store.cache_bytes != old.store.cache_bytes
        {
            warnings.push(
                "store.max_batch, store.queue_capacity and store.cache_bytes change on restart"
                    .into(),
            );
            new.store.max_batch = old.store.max_batch;
            new.store.queue_capacity = old.store.queue_capacity;
            new.store.cache_bytes = old.store.cache_bytes;
        }
        if new.probing.concurrency != old.probing.concurrency
            || new.probing.per_host_concurrency != old.probing.per_host_concurrency
            || new.probing.user_agent != old.probing.user_agent
        {
            warnings.push("probing concurrency and user_agent change on restart".into());
            new.probing.concurrency = old.probing.concurrency;
            new.probing.per_host_concurrency = old.probing.per_host_concurrency;
            new.probing.user_agent = old.probing.user_agent.clone();
        }
        if let Err(e) = self
            .state
            .probes
            .apply(&new.monitors, &new.maintenance)
            .await
        {
            warnings.push(format!("monitors not applied: {e}"));
        }
        if let Some(log) = log
            && new.log.level != old.log.level
            && let Err(e) = log.set_level(&new.log.level)
        {
            warnings.push(e);
        }
        for w in &warnings {
            warn!("{w}");
        }
        self.config_tx.send_replace(Arc::new(new));
        let now = self.state.clock.now_ms();
        // The audit entry is best-effort: a reload must not fail because the store is busy.
        let store = self.state.store.clone();
        tokio::spawn(async move {
            let _ = store
                .write(vec![auth::audit(now, "system", "config.reload", "")])
                .await;
        });
        warnings
    }

    /// Stops accepting, lets in-flight requests finish, commits pending writes, stops the writer.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown_tx.send(true);
        let served = match self.serve_task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        let _ = self.retention_task.await;
        let _ = self.probe_retention_task.await;
        self.state.probes.stop();
        let _ = self.periskop_task.await;
        // The digest stops between batches; what it has not reached stays in the inbox and is
        // digested on the next start.
        let _ = self.digest_task.await;
        self.state.store.close().await;
        info!("panoptes stopped; all acknowledged writes are committed");
        served
    }
}

/// Deletes expired probe results and roll-ups every `store.retention_interval`.
async fn probe_retention(
    probes: ProbeEngine,
    config: watch::Receiver<Arc<Config>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (keep, every, batch) = {
            let c = config.borrow();
            (
                c.probing.retention.clone(),
                c.store.retention_interval.get(),
                c.store.retention_batch,
            )
        };
        match probes.prune(&keep, batch).await {
            Ok(n) if n > 0 => info!(deleted = n, "probe retention pass"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "probe retention pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The monitor the embedded default config gains: Panoptes probing its own health check, so a
/// new user sees a live check at once.
pub fn self_monitor(addr: SocketAddr) -> Option<crate::probe::config::MonitorConfig> {
    let host = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::IpAddr::from([127, 0, 0, 1]), addr.port())
    } else {
        addr
    };
    let yaml = format!(
        "monitors:\n  - name: panoptes\n    group: panoptes\n    type: http\n    url: http://{host}/healthz\n    interval: 10s\n    conditions: [\"[STATUS] == 200\", \"[BODY].status == ok\"]\n"
    );
    // The text above is fixed and covered by a test.
    config::parse(&yaml, "<embedded>", &|_| None)
        .ok()
        .and_then(|mut c| (!c.monitors.is_empty()).then(|| c.monitors.remove(0)))
}
