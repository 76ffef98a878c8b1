//! One scrape cycle of a service: keep target health in step with discovery, scrape every
//! target, apply the exports, prune instances that are gone, persist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use panoptes_types::PeriskopHttpContext;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use super::aggregate::{self, Delta, InstanceMeta, ServiceAgg};
use super::config::ServiceConfig;
use super::discovery::Target;
use super::events::PeriskopEvent;
use super::scrape::{self, RequestSpec, ScrapeError};
use super::{Periskop, lock, model};
use crate::metrics::{PeriskopLabels, PeriskopTargetLabels};

pub(super) async fn scrape_cycle(
    p: &Periskop,
    cfg: &ServiceConfig,
    agg: &Arc<Mutex<ServiceAgg>>,
    spec: Result<&RequestSpec, &str>,
    sem: &Arc<Semaphore>,
    targets: Vec<Target>,
) {
    let name = cfg.name.0.as_str();
    let scheme = cfg.scheme.as_str();
    let endpoint = cfg.scraper.endpoint.0.as_str();
    let url_of = |t: &Target| format!("{scheme}://{}{endpoint}", t.address);
    let metrics = &p.inner.metrics.periskop;

    // Health entries follow discovery: new targets appear as unknown, vanished ones are removed.
    {
        let mut a = lock(agg);
        let current: std::collections::BTreeSet<&str> =
            targets.iter().map(|t| t.address.as_str()).collect();
        let gone: Vec<String> = a
            .targets
            .keys()
            .filter(|k| !current.contains(k.as_str()))
            .cloned()
            .collect();
        for addr in gone {
            a.targets.remove(&addr);
            metrics.target_up.remove(&PeriskopTargetLabels {
                service: name.to_string(),
                target: addr,
            });
        }
        for t in &targets {
            let h = a.targets.entry(t.address.clone()).or_default();
            h.address = t.address.clone();
            h.url = url_of(t);
            h.source = t.source.clone();
            h.labels = t.labels.clone();
        }
    }

    let results: Vec<(Target, Result<model::Payload, ScrapeError>, Duration)> = match spec {
        // Without a client every target is down, with the reason.
        Err(why) => targets
            .iter()
            .map(|t| {
                (
                    t.clone(),
                    Err(ScrapeError::Request(why.to_string())),
                    Duration::ZERO,
                )
            })
            .collect(),
        Ok(spec) => {
            let futures = targets.iter().map(|t| {
                let url = url_of(t);
                async move {
                    // Closed only if the semaphore is dropped, which happens with this task.
                    let _permit = sem.acquire().await;
                    let s = scrape::scrape(spec, &url).await;
                    (t.clone(), s.result, s.duration)
                }
            });
            futures_util::future::join_all(futures).await
        }
    };

    // From changing the aggregate to committing the change, this service's other writers wait.
    // The change is made on a copy, adopted only once the store has it: readers never see
    // totals the store does not have, and a failed write leaves nothing to undo.
    let writer = p.writer(name);
    let _w = writer.lock().await;
    let now = p.now_ms();
    let limits = p.limits();
    let mut delta = Delta::default();
    let mut failures = Vec::new();
    let mut health = Vec::new();
    let mut dropped_keys = 0;
    let mut work = lock(agg).clone();
    {
        let a = &mut work;
        // address -> identity now (None: unknown, keep whatever instance lives there)
        let mut identity: HashMap<String, Option<String>> = HashMap::new();
        for t in &targets {
            let known = a.targets.get(&t.address).and_then(|h| {
                h.target_uuid
                    .clone()
                    .or_else(|| h.last_success_ms.map(|_| t.address.clone()))
            });
            identity.insert(t.address.clone(), known);
        }
        for (t, result, duration) in results {
            let labels = PeriskopTargetLabels {
                service: name.to_string(),
                target: t.address.clone(),
            };
            let was_up = a.targets.get(&t.address).and_then(|h| h.up);
            let outcome = match result {
                Ok(payload) => {
                    let id = aggregate::instance_id(&payload.target_uuid, &t.address);
                    let meta = InstanceMeta {
                        address: t.address.clone(),
                        pushed: false,
                        last_seen_ms: now,
                    };
                    dropped_keys += a.apply(&id, meta, &payload, now, limits, &mut delta);
                    identity.insert(t.address.clone(), Some(id));
                    let h = a.targets.entry(t.address.clone()).or_default();
                    h.up = Some(true);
                    h.last_error = None;
                    h.last_success_ms = Some(now);
                    h.target_uuid =
                        (!payload.target_uuid.is_empty()).then(|| payload.target_uuid.clone());
                    "ok"
                }
                Err(e) => {
                    let h = a.targets.entry(t.address.clone()).or_default();
                    h.up = Some(false);
                    h.last_error = Some(e.to_string());
                    failures.push((url_of(&t), e));
                    "error"
                }
            };
            if let Some(h) = a.targets.get_mut(&t.address) {
                h.last_duration_ms = Some(duration.as_millis() as u64);
                h.last_scrape_ms = Some(now);
                if h.up != was_up {
                    health.push(PeriskopEvent::TargetHealth {
                        service: name.to_string(),
                        target: t.address.clone(),
                        up: h.up == Some(true),
                        error: h.last_error.clone(),
                        at_ms: now,
                    });
                }
            }
            metrics
                .target_up
                .get_or_create(&labels)
                .set(i64::from(outcome == "ok"));
            metrics
                .scrapes
                .get_or_create(&PeriskopLabels {
                    service: name.to_string(),
                    result: outcome.to_string(),
                })
                .inc();
        }
        // Scraped instances are kept while their address is discovered and, once the target's
        // identity is known, only the instance that is that identity (a new target_uuid means
        // the process restarted and the old one is gone).
        a.prune_instances(
            |id, m| {
                if m.pushed {
                    return true;
                }
                match identity.get(&m.address) {
                    None => false,
                    Some(None) => true,
                    Some(Some(current)) => current == id,
                }
            },
            &mut delta,
        );
    }
    for (url, e) in failures {
        debug!(service = %name, %url, error = %e, "scrape failed");
        p.inner.internal.report(
            "ScrapeError",
            name,
            format!("{url}: {e}"),
            Some(PeriskopHttpContext {
                request_method: "GET".into(),
                request_url: url,
                ..Default::default()
            }),
            now,
        );
    }
    // Target health lives in memory only: it is taken whether or not the write succeeds.
    let targets = std::mem::take(&mut work.targets);
    match p.persist(name, delta, now).await {
        Ok(()) => {
            metrics.dropped_keys.inc_by(dropped_keys);
            let mut a = lock(agg);
            a.targets = targets;
            a.adopt(work);
        }
        Err(e) => {
            warn!(service = %name, error = %e, "could not persist exception aggregates; this cycle's counts are not taken");
            lock(agg).targets = targets;
            p.reload(name).await;
        }
    }
    // Health lives in memory only; it is published as observed.
    for e in health {
        p.inner.events.publish(e);
    }
}
