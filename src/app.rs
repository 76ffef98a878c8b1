//! Wires the parts into a running server: store, event bus, auth, probing, exception scraping,
//! ingest, HTTP, retention, reload, shutdown.
//!
//! Owns: start-up and shutdown order, which section of the config each subsystem sees, which
//! subscriber hears which events, and the adapters between domains (a Sentry check-in reaching a
//! push monitor). Depends on: every other module. The listener, clock and outbound client
//! factory are parameters, so tests run the real server on `127.0.0.1:0` in-process.
//!
//! A new capability is one folder under `src/` plus, here, one line building it from its
//! section and deps, and one line registering its routes (in `http`).

pub mod embedded;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::auth::{self, Auth};
use crate::clock::SharedClock;
use crate::config::{self, root::Config};
use crate::events::{Bus, DomainEvent};
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::outbound::SharedClients;
use crate::periskop::config::PeriskopSettings;
use crate::periskop::{self, Periskop, PeriskopDeps};
use crate::probe::retention::ProbePruner;
use crate::probe::{ProbeDeps, ProbeEngine};
use crate::sentry::config::SentrySettings;
use crate::sentry::retention::EventPruner;
use crate::sentry::{CheckIns, Ingest, IngestDeps};
use crate::store::retention::{self, AuditPruner, Pruner, SessionPruner};
use crate::store::{Store, StoreError, StoreOptions};
use crate::tasks::Shutdown;
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
pub fn load_config(
    path: Option<&std::path::Path>,
    o: &Overrides,
) -> Result<Config, config::ConfigErrors> {
    let c = match path {
        Some(p) => config::root::load(p)?,
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
            write_timeout: Some(c.store.write_timeout.get()),
        },
        metrics.store.clone(),
    )
}

/// A watch of one part of the config: it changes only when that part does, so a subsystem
/// restarts its work only for its own settings.
pub fn section<T>(
    root: &watch::Receiver<Arc<Config>>,
    pick: impl Fn(&Config) -> T + Send + 'static,
) -> watch::Receiver<Arc<T>>
where
    T: PartialEq + Send + Sync + 'static,
{
    let (tx, rx) = watch::channel(Arc::new(pick(&root.borrow())));
    let mut root = root.clone();
    tokio::spawn(async move {
        while root.changed().await.is_ok() {
            let next = pick(&root.borrow_and_update());
            tx.send_if_modified(|cur| {
                let changed = **cur != next;
                if changed {
                    *cur = Arc::new(next);
                }
                changed
            });
        }
    });
    rx
}

/// Sentry cron check-ins reach push monitors through this adapter (ingest never calls probing).
struct ProbeCheckIns(ProbeEngine);

impl CheckIns for ProbeCheckIns {
    fn check_in<'a>(
        &'a self,
        project: u64,
        slug: &'a str,
        up: bool,
        message: String,
        latency_ms: Option<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send + 'a>> {
        Box::pin(async move {
            Ok(self
                .0
                .push_by_name(project, slug, up, Some(message), latency_ms)
                .await?
                .is_some())
        })
    }
}

/// Alert groups whose route names an escalation policy reach on-call through the alert outbox:
/// its `oncall[0]` channel is delivered here (alerts never call on-call; on-call's messages go
/// out through the same transport as alerts).
struct Paging {
    live: Arc<crate::alerts::notify::Live>,
    oncall: crate::oncall::Oncall,
}

impl crate::alerts::outbox::Transport for Paging {
    fn send<'a>(
        &'a self,
        cfg: &'a crate::alerts::config::AlertsConfig,
        r: &'a crate::alerts::outbox::Record,
    ) -> Pin<Box<dyn Future<Output = crate::alerts::outbox::Outcome> + Send + 'a>> {
        if r.channel != crate::alerts::channels::PAGE_CHANNEL {
            return self.live.send(cfg, r);
        }
        Box::pin(async move {
            let started = Instant::now();
            let verdict = self.oncall.hand_off(r.clone()).await;
            crate::alerts::outbox::Outcome {
                verdict,
                status: None,
                latency_ms: started.elapsed().as_millis() as u64,
            }
        })
    }
}

/// What the status pages read of probing: states, last errors and roll-ups, by monitor name.
struct StatusMonitors(ProbeEngine);

impl crate::statuspage::Monitors for StatusMonitors {
    fn state(&self, name: &str) -> Option<crate::probe::state::State> {
        self.0.by_name(name).map(|v| v.state)
    }

    fn last_error(&self, name: &str) -> Option<String> {
        self.0.by_name(name)?.last?.error
    }

    fn rollups(
        &self,
        name: &str,
        res: crate::probe::rollup::Resolution,
        from_ms: u64,
        to_ms: u64,
    ) -> Vec<(u64, crate::probe::rollup::Rollup)> {
        let Some(v) = self.0.by_name(name) else {
            return Vec::new();
        };
        crate::probe::query::buckets(self.0.store(), v.id, res, from_ms, to_ms).unwrap_or_default()
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    pub bus: Arc<Bus>,
    config_tx: watch::Sender<Arc<Config>>,
    shutdown_tx: watch::Sender<bool>,
    serve_task: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl Server {
    /// Opens the store and starts serving on `listener`.
    pub async fn start(
        config: Config,
        listener: TcpListener,
        clock: SharedClock,
        clients: SharedClients,
    ) -> Result<Server, StartError> {
        let metrics = Arc::new(Metrics::new());
        let bus = Bus::new(metrics.events.clone());
        // Subscribers register before any domain publishes. Alerting's queue is deep: events
        // arrive in bursts (a probe round of 50k monitors) and a dropped one is counted.
        let alert_events = bus.subscribe("alerts", 65_536);
        // The status pages only need to hear of state changes; a dropped one waits for the
        // next 30 s refresh.
        let status_events = bus.subscribe("status", 4_096);
        // The dashboards' live feed: a dropped event only delays a view to its slow poll.
        let live_events = bus.subscribe("live", crate::live::BUS_QUEUE);
        let store = open_store(&config, &metrics)?;
        store.on_failure(bus.publisher(DomainEvent::Store));
        let auth = Auth::new(store.clone(), clock.clone(), config.auth.clone())
            .map_err(|e| StartError::Auth(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Auth(format!("listener has no address: {e}")))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shutdown = Shutdown::new(shutdown_rx);
        let probes = ProbeEngine::start(
            ProbeDeps {
                store: store.clone(),
                clock: clock.clone(),
                metrics: metrics.probes.clone(),
                clients: clients.clone(),
                events: bus.publisher(DomainEvent::Probe),
            },
            &config.probing,
            &config.monitors,
            &config.maintenance,
        )
        .await
        .map_err(|e| StartError::Probe(e.to_string()))?;
        let (config_tx, root) = watch::channel(Arc::new(config));
        let instance_id = uuid::Uuid::new_v4().to_string();
        let periskop_settings = section(&root, |c| PeriskopSettings {
            services: c.services.clone(),
            global: c.periskop.clone(),
        });
        let exceptions = Periskop::open(PeriskopDeps {
            store: store.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            settings: periskop_settings.clone(),
            events: bus.publisher(DomainEvent::Periskop),
            instance_id: instance_id.clone(),
        })?;
        let projects =
            crate::sentry::projects::ManagedProjects::load(store.clone(), clock.clone())?;
        let sentry_settings = projects.merged(section(&root, |c| SentrySettings {
            projects: c.projects.clone(),
            ingest: c.ingest.clone(),
        }));
        let ingest = Ingest::open(IngestDeps {
            store: store.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            settings: sentry_settings.clone(),
            events: bus.publisher(DomainEvent::Sentry),
            check_ins: Some(Arc::new(ProbeCheckIns(probes.clone()))),
        })?;
        let alerts_settings = section(&root, |c| c.alerts.clone());
        for w in crate::config::root::warnings(&root.borrow()) {
            warn!("{w}");
        }
        let oncall_settings = section(&root, |c| crate::oncall::Settings {
            oncall: c.oncall.clone(),
            alerts: c.alerts.clone(),
        });
        let live = crate::alerts::notify::Live::new(clients.clone(), clock.clone());
        let (oncall, oncall_task) = crate::oncall::engine::start_publishing(
            crate::oncall::Deps {
                store: store.clone(),
                clock: clock.clone(),
                config: oncall_settings.clone(),
                transport: live.clone(),
                default_external_url: format!("http://{addr}"),
                shutdown: shutdown.clone(),
            },
            bus.publisher(DomainEvent::Oncall),
        )
        .await?;
        let stats_metrics = metrics.clone();
        let (live_feed, live_task) =
            crate::live::Live::start(live_events, &instance_id, shutdown.clone());
        let mut background = vec![oncall_task, live_task];
        let (alerts, alert_tasks) = crate::alerts::engine::start(crate::alerts::Deps {
            store: store.clone(),
            clock: clock.clone(),
            metrics: metrics.alerts.clone(),
            config: alerts_settings.clone(),
            events: alert_events,
            transport: Arc::new(Paging {
                live,
                oncall: oncall.clone(),
            }),
            stats: Arc::new(move || crate::alerts::eval::SelfStats {
                backlog: stats_metrics.ingest.backlog.get().max(0) as u64,
                quota_rejected_total: stats_metrics.ingest.quota_rejected.get(),
                events_dropped_total: stats_metrics.events.dropped_all.get(),
            }),
            default_external_url: format!("http://{addr}"),
            publish: bus.publisher(DomainEvent::Alert),
            shutdown: shutdown.clone(),
        })
        .await?;
        let (status, status_task) = crate::statuspage::engine::start(crate::statuspage::Deps {
            store: store.clone(),
            clock: clock.clone(),
            settings: section(&root, |c| crate::statuspage::Settings {
                pages: c.status_pages.clone(),
                monitors: c.monitors.clone(),
                external_url: c.alerts.external_url.clone(),
                maintenance: c.maintenance.clone(),
                smtp: crate::outbound::smtp::SmtpDefaults {
                    from: c.alerts.global.smtp_from.clone(),
                    smarthost: c.alerts.global.smtp_smarthost.clone(),
                    require_tls: c.alerts.global.smtp_require_tls,
                    username: c.alerts.global.smtp_auth_username.clone(),
                    password: c.alerts.global.smtp_auth_password.clone(),
                    hello: c.alerts.global.smtp_hello.clone(),
                },
            }),
            monitors: Arc::new(StatusMonitors(probes.clone())),
            events: status_events,
            default_external_url: format!("http://{addr}"),
            clients: clients.clone(),
            shutdown: shutdown.clone(),
        })
        .await?;
        background.push(status_task);
        background.push(tokio::spawn(crate::remote_write::sender::run(
            crate::remote_write::sender::Deps {
                store: store.clone(),
                clock: clock.clone(),
                clients: clients.clone(),
                settings: section(&root, |c| crate::remote_write::sender::Settings {
                    endpoints: c.remote_write.clone(),
                    monitors: c.monitors.clone(),
                }),
                shutdown: shutdown.clone(),
            },
        )));
        let forwarder = crate::forward::Forwarder::default();
        background.push(tokio::spawn(crate::forward::sender::run(
            crate::forward::sender::Deps {
                store: store.clone(),
                clock: clock.clone(),
                clients: clients.clone(),
                metrics: metrics.clone(),
                settings: section(&root, |c| crate::forward::sender::Settings {
                    forward: c.forward.clone(),
                    projects: c.projects.clone(),
                }),
                forwarder: forwarder.clone(),
                shutdown: shutdown.clone(),
            },
        )));
        let agents = crate::agent::Agents::new(
            store.clone(),
            clock.clone(),
            probes.clone(),
            bus.publisher(DomainEvent::Agent),
        );
        if let Err(e) = agents.announce().await {
            warn!(error = %e, "agents not announced to alerting: a silent one is noticed once it was heard from");
        }
        let state = AppState::new(crate::http::Handles {
            store: store.clone(),
            auth,
            metrics: metrics.clone(),
            clock: clock.clone(),
            server: section(&root, |c| c.server.clone()),
            running: Arc::new(root.clone()),
            started: Instant::now(),
            started_at_ms: clock.now_ms(),
            instance_id,
            probes: probes.clone(),
            periskop: exceptions.clone(),
            ingest: ingest.clone(),
            alerts: alerts.clone(),
            oncall,
            status,
            forward: forwarder,
            agents: agents.clone(),
            live: live_feed,
            projects,
        });
        background.extend(alert_tasks);
        background.push(tokio::spawn(crate::sentry::digest::run(
            ingest,
            shutdown.clone(),
        )));
        background.push(tokio::spawn(periskop::run(
            exceptions,
            clients.clone(),
            periskop_settings,
            shutdown.clone(),
        )));
        let store_settings = section(&root, |c| c.store.clone());
        let audit_keep = store_settings.clone();
        let pruners: Vec<Arc<dyn Pruner>> = vec![
            Arc::new(AuditPruner(move || {
                audit_keep.borrow().audit_retention.get()
            })),
            Arc::new(SessionPruner),
            Arc::new(EventPruner {
                settings: sentry_settings,
            }),
            Arc::new(ProbePruner {
                settings: section(&root, |c| c.probing.clone()),
            }),
            Arc::new(crate::alerts::retention::AlertPruner {
                settings: alerts_settings,
            }),
            Arc::new(crate::oncall::retention::PagePruner {
                settings: oncall_settings,
            }),
        ];
        background.push(tokio::spawn(retention::run(
            store.clone(),
            pruners,
            move || {
                let s = store_settings.borrow();
                (s.retention_batch, s.retention_interval.get())
            },
            clock.clone(),
            metrics.store.clone(),
            shutdown.clone(),
        )));

        let mut stop = shutdown.clone();
        let serve_state = state.clone();
        let grace_cfg = state.server.clone();
        let serve_task = tokio::spawn(async move {
            let mut stop_for_grace = stop.clone();
            let serve = http::serve(listener, serve_state, async move { stop.wait().await });
            // In-flight requests get `shutdown_timeout` to finish once shutdown starts.
            let grace = async move {
                stop_for_grace.wait().await;
                let t = grace_cfg.borrow().shutdown_timeout.get();
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
        // First run: the dashboard offers to create the first admin; from another machine it
        // asks for this code (only someone who can read this log has it).
        match state.auth.prepare_setup().await {
            Ok(Some(code)) => warn!(
                setup_code = %code,
                "no user yet: open http://{addr}/ on this machine to create the first admin, \
                 or enter this setup code from elsewhere (valid for 1 h)"
            ),
            Ok(None) => {}
            Err(e) => warn!(error = %e, "cannot tell whether a first admin is needed"),
        }
        Ok(Server {
            addr,
            state,
            bus,
            config_tx,
            shutdown_tx,
            serve_task,
            background,
        })
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config_tx.borrow().clone()
    }

    /// Applies a new, already validated config. Settings that need a restart keep their running
    /// value, with a warning. Returns the warnings.
    pub async fn reload(&self, new: Config, log: Option<&LogHandle>) -> Vec<String> {
        let old = self.config();
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
        // The same warnings as at start (`config::root::warnings`), so a reload that adds an
        // Alertmanager key without effect says so.
        warnings.extend(crate::config::root::warnings(&new));
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
        self.state.probes.stop();
        // Background tasks stop at their next await; the digest stops between batches, and what
        // it has not reached stays in the inbox for the next start.
        for t in self.background {
            let _ = t.await;
        }
        self.state.store.close().await;
        info!("panoptes stopped; all acknowledged writes are committed");
        served
    }
}
