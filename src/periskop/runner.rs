//! The scrape loops: one supervisor restarting every service's loop when the configuration
//! changes, one loop per service, and its discovery tasks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::config::{
    DnsSdConfig, FileSdConfig, Nameserver, PeriskopConfig, PeriskopSettings, ServiceConfig,
};
use super::cycle::scrape_cycle;
use super::discovery::{self, Target};
use super::scrape::RequestSpec;
use super::{Periskop, lock};
use crate::metrics::{PeriskopLabels, PeriskopTargetLabels};
use crate::outbound::{ClientOptions, Redirects, SharedClients, Tls};
use crate::tasks::{self, Shutdown};

/// Runs the scrape loops of every configured service until `shutdown`; restarts them when the
/// `services` or `periskop` settings change. Aggregates survive restarts of the loops.
pub async fn run(
    periskop: Periskop,
    clients: SharedClients,
    mut settings: watch::Receiver<Arc<PeriskopSettings>>,
    mut shutdown: Shutdown,
) {
    // Pushed instances expire by age, checked every minute whether or not anyone pushes.
    let pruner = periskop.clone();
    tokio::spawn(tasks::every(
        shutdown.clone(),
        || Duration::from_secs(60),
        move || {
            let p = pruner.clone();
            async move { p.prune_pushed().await }
        },
    ));
    loop {
        let current = settings.borrow_and_update().clone();
        let sem = Arc::new(Semaphore::new(current.global.max_concurrent_scrapes.max(1)));
        let mut loops = JoinSet::new();
        for (name, agg) in periskop.services() {
            let configured = current.services.iter().any(|s| s.name.0 == name);
            let mut a = lock(&agg);
            a.scraped = configured;
            if !configured {
                forget_scraping(&periskop, &name, &mut a);
            }
        }
        for s in &current.services {
            loops.spawn(run_service(
                periskop.clone(),
                s.clone(),
                current.global.clone(),
                clients.clone(),
                sem.clone(),
                shutdown.clone(),
            ));
        }
        if !current.services.is_empty() {
            info!(
                services = current.services.len(),
                "periskop scraping started"
            );
        }
        tokio::select! {
            changed = settings.changed() => {
                // Dropping the JoinSet aborts every loop and, with them, their discovery tasks.
                loops.shutdown().await;
                if changed.is_err() {
                    return;
                }
                info!("periskop configuration changed; restarting scrape loops");
            }
            _ = shutdown.wait() => {
                loops.shutdown().await;
                return;
            }
        }
    }
}

/// A service no longer scraped (removed by a reload) loses its target health and its metric
/// series: they would otherwise be exported, frozen, until the process restarts.
fn forget_scraping(p: &Periskop, service: &str, a: &mut super::aggregate::ServiceAgg) {
    let metrics = &p.inner.metrics.periskop;
    for target in std::mem::take(&mut a.targets).into_keys() {
        metrics.target_up.remove(&PeriskopTargetLabels {
            service: service.to_string(),
            target,
        });
    }
    for result in ["ok", "error"] {
        metrics.scrapes.remove(&PeriskopLabels {
            service: service.to_string(),
            result: result.to_string(),
        });
    }
    a.discovery_errors.clear();
}

/// Records (or clears) why one discovery source of `service` is not current; the API shows it
/// as the service's `last_error`.
fn discovery_status(p: &Periskop, service: &str, source: &str, error: Option<String>) {
    let Some(agg) = p.service(service) else {
        return;
    };
    let mut a = lock(&agg);
    match error {
        Some(e) => {
            a.discovery_errors.insert(source.to_string(), e);
        }
        None => {
            a.discovery_errors.remove(source);
        }
    }
}

type SourceRx = watch::Receiver<Option<Vec<Target>>>;

/// The scrape client options of a service.
fn client_options(cfg: &ServiceConfig) -> ClientOptions {
    ClientOptions {
        tls: Tls {
            insecure: false,
            ca_file: cfg.tls_config.ca_file.clone(),
            ca_only: cfg.tls_config.ca_only,
        },
        redirects: if cfg.headers.0.is_empty()
            && cfg.bearer_token.is_none()
            && cfg.basic_auth.is_none()
        {
            Redirects::Limited(3)
        } else {
            Redirects::SameOrigin(3)
        },
        pool_max_idle_per_host: Some(2),
        // The scrape deadline is the real bound; this only stops a connect from outliving it.
        connect_timeout: Some(cfg.scraper.timeout.get()),
        ..ClientOptions::default()
    }
}

async fn run_service(
    p: Periskop,
    cfg: ServiceConfig,
    global: PeriskopConfig,
    clients: SharedClients,
    sem: Arc<Semaphore>,
    shutdown: Shutdown,
) {
    let name = cfg.name.0.clone();
    let agg = p.service_entry(&name, true);
    // Errors of the sources this configuration had; its own report afresh.
    lock(&agg).discovery_errors.clear();
    let mut discovery = JoinSet::new();
    let mut sources: Vec<SourceRx> = Vec::new();
    for (i, d) in cfg.dns_sd_configs.iter().enumerate() {
        let (tx, rx) = watch::channel(None);
        sources.push(rx);
        let nameserver = d.nameserver.or(global.nameserver);
        discovery.spawn(run_dns(
            p.clone(),
            name.clone(),
            i,
            d.clone(),
            nameserver,
            tx,
            shutdown.clone(),
        ));
    }
    for f in &cfg.file_sd_configs {
        let (tx, rx) = watch::channel(None);
        sources.push(rx);
        discovery.spawn(run_file_sd(
            p.clone(),
            name.clone(),
            f.clone(),
            tx,
            shutdown.clone(),
        ));
    }
    let static_targets = discovery::static_targets(&cfg.static_configs);
    // The first cycle waits (briefly) for every source's first answer, so it scrapes everything.
    for rx in &mut sources {
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|v| v.is_some())).await;
    }
    let spec = match clients.client(&client_options(&cfg)) {
        Ok(c) => Ok(RequestSpec::new(c, &cfg, global.max_body_bytes)),
        Err(e) => {
            warn!(service = %name, error = %e, "cannot build the scrape client");
            p.inner
                .internal
                .report("ScrapeError", &name, e.clone(), None, p.now_ms());
            Err(e)
        }
    };
    let interval = cfg.scraper.refresh_interval.get();
    // When this cycle should have started, for the lag metric.
    let next_due = std::sync::Mutex::new(Instant::now());
    let (p, cfg, agg, spec, sem, sources, static_targets, next_due) = (
        &p,
        &cfg,
        &agg,
        &spec,
        &sem,
        &sources,
        &static_targets,
        &next_due,
    );
    tasks::every(
        shutdown,
        || interval,
        move || async move {
            let due = *next_due.lock().unwrap_or_else(|e| e.into_inner());
            let lag = Instant::now().saturating_duration_since(due);
            p.inner
                .metrics
                .periskop
                .lag_seconds
                .observe(lag.as_secs_f64());
            let started = Instant::now();
            let targets = merge_targets(static_targets, sources);
            scrape_cycle(
                p,
                cfg,
                agg,
                spec.as_ref().map_err(String::as_str),
                sem,
                targets,
            )
            .await;
            p.inner
                .metrics
                .periskop
                .cycle_seconds
                .observe(started.elapsed().as_secs_f64());
            *next_due.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now() + interval;
        },
    )
    .await;
    discovery.shutdown().await;
}

fn merge_targets(static_targets: &[Target], sources: &[SourceRx]) -> Vec<Target> {
    let mut by_addr: BTreeMap<String, Target> = BTreeMap::new();
    for t in static_targets {
        by_addr
            .entry(t.address.clone())
            .or_insert_with(|| t.clone());
    }
    for rx in sources {
        if let Some(list) = rx.borrow().as_ref() {
            for t in list {
                by_addr
                    .entry(t.address.clone())
                    .or_insert_with(|| t.clone());
            }
        }
    }
    by_addr.into_values().collect()
}

async fn run_dns(
    p: Periskop,
    service: String,
    index: usize,
    cfg: DnsSdConfig,
    nameserver: Option<Nameserver>,
    tx: watch::Sender<Option<Vec<Target>>>,
    shutdown: Shutdown,
) {
    let every = cfg.refresh_interval.get();
    let resolver = match discovery::resolver(nameserver, every) {
        Ok(r) => r,
        Err(e) => {
            warn!(%service, error = %e, "DNS discovery disabled");
            p.inner
                .internal
                .report("DiscoveryError", &service, e, None, p.now_ms());
            tx.send_replace(Some(Vec::new()));
            return;
        }
    };
    let source = format!("dns_sd_configs[{index}]");
    let (resolver, cfg, tx, p, service, source) = (&resolver, &cfg, &tx, &p, &service, &source);
    tasks::every(shutdown, || every, move || async move {
        match discovery::dns_targets(resolver, cfg).await {
            Ok(list) => {
                tx.send_replace(Some(list));
                discovery_status(p, service, source, None);
            }
            Err(e) => {
                let kept = tx.borrow().as_ref().map_or(0, Vec::len);
                warn!(%service, dns_sd_config = index, error = %e, "DNS discovery failed; keeping the previous targets");
                discovery_status(
                    p,
                    service,
                    source,
                    Some(format!("{source}: {e}; keeping the {kept} previous target(s)")),
                );
                p.inner
                    .internal
                    .report("DiscoveryError", service, e, None, p.now_ms());
                if tx.borrow().is_none() {
                    tx.send_replace(Some(Vec::new()));
                }
            }
        }
    })
    .await
}

async fn run_file_sd(
    p: Periskop,
    service: String,
    cfg: FileSdConfig,
    tx: watch::Sender<Option<Vec<Target>>>,
    shutdown: Shutdown,
) {
    let every = cfg.refresh_interval.get();
    let (cfg, tx, p, service) = (&cfg, &tx, &p, &service);
    tasks::every(shutdown, || every, move || async move {
        let c = cfg.clone();
        let read = tokio::task::spawn_blocking(move || discovery::file_targets(&c)).await;
        match read {
            Ok(Ok(list)) => {
                tx.send_replace(Some(list));
            }
            Ok(Err(e)) => {
                warn!(%service, error = %e, "file discovery failed; keeping the previous targets");
                p.inner
                    .internal
                    .report("DiscoveryError", service, e, None, p.now_ms());
                if tx.borrow().is_none() {
                    tx.send_replace(Some(Vec::new()));
                }
            }
            Err(e) => {
                warn!(%service, error = %e, "file discovery task failed");
                if tx.borrow().is_none() {
                    tx.send_replace(Some(Vec::new()));
                }
            }
        }
    })
    .await
}
