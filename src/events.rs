//! Domain events: what probing, scraping, ingest and the store report after a durable write,
//! for whoever reacts to them (alerts, the status page, forwarding, the dashboard's live view);
//! alerting reports alerts fired and resolved (the status pages draft incidents from them).
//!
//! Owns: the bus, its subscribers and the `DomainEvent` envelope. Depends on: each domain's
//! event types (`probe/events.rs`, `agent/events.rs`, `sentry/events.rs`, `periskop/events.rs`,
//! `store/events.rs`, `alerts/events.rs`, `oncall/events.rs`: leaf files that depend on nothing) and `metrics`.
//!
//! Publishing never waits: every subscriber has its own bounded queue, and an event that does
//! not fit is dropped for that subscriber alone and counted
//! (`panoptes_events_dropped_total{subscriber}`), so a slow subscriber never blocks ingest or
//! probing. Domains get a [`Publisher`] for their own event type and never see the others.

use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;

pub use crate::metrics::EventMetrics;

pub use crate::agent::events::AgentEvent;
pub use crate::alerts::events::AlertEvent;
pub use crate::oncall::events::{OncallEvent, PageChange};
pub use crate::periskop::events::PeriskopEvent;
pub use crate::probe::events::ProbeEvent;
pub use crate::sentry::events::SentryEvent;
pub use crate::store::events::StoreEvent;

#[derive(Debug, Clone)]
pub enum DomainEvent {
    Probe(ProbeEvent),
    Sentry(SentryEvent),
    Periskop(PeriskopEvent),
    Store(StoreEvent),
    Alert(AlertEvent),
    Agent(AgentEvent),
    Oncall(OncallEvent),
}

impl DomainEvent {
    /// The publishing domain, for metrics.
    pub fn source(&self) -> &'static str {
        match self {
            DomainEvent::Probe(_) => "probe",
            DomainEvent::Sentry(_) => "sentry",
            DomainEvent::Periskop(_) => "periskop",
            DomainEvent::Store(_) => "store",
            DomainEvent::Alert(_) => "alerts",
            DomainEvent::Agent(_) => "agent",
            DomainEvent::Oncall(_) => "oncall",
        }
    }
}

pub type Event = Arc<DomainEvent>;

struct Subscriber {
    name: String,
    tx: mpsc::Sender<Event>,
}

/// The bus. Cheap to share (`Arc`).
pub struct Bus {
    subscribers: RwLock<Vec<Subscriber>>,
    metrics: EventMetrics,
}

impl Bus {
    pub fn new(metrics: EventMetrics) -> Arc<Bus> {
        Arc::new(Bus {
            subscribers: RwLock::new(Vec::new()),
            metrics,
        })
    }

    /// Registers a subscriber with room for `capacity` events not yet received. Subscribers
    /// register at start-up, before the domains publish.
    pub fn subscribe(&self, name: &str, capacity: usize) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.subscribers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Subscriber {
                name: name.to_string(),
                tx,
            });
        rx
    }

    pub fn publish(&self, event: DomainEvent) {
        let source = event.source();
        let event = Arc::new(event);
        self.metrics
            .published
            .get_or_create(&vec![("source".into(), source.into())])
            .inc();
        let subs = self.subscribers.read().unwrap_or_else(|p| p.into_inner());
        for s in subs.iter() {
            match s.tx.try_send(event.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.metrics.dropped_all.inc();
                    self.metrics
                        .dropped
                        .get_or_create(&vec![("subscriber".into(), s.name.clone())])
                        .inc();
                }
                // A subscriber that stopped (shutdown) is simply not served any more.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// A publishing handle for one domain's events.
    pub fn publisher<E: Send + 'static>(
        self: &Arc<Self>,
        wrap: fn(E) -> DomainEvent,
    ) -> Publisher<E> {
        let bus = self.clone();
        Publisher {
            inner: Arc::new(move |e| bus.publish(wrap(e))),
        }
    }
}

/// How a domain publishes its events, without knowing the bus or the other domains.
pub struct Publisher<E> {
    inner: Arc<dyn Fn(E) + Send + Sync>,
}

impl<E> Clone for Publisher<E> {
    fn clone(&self) -> Self {
        Publisher {
            inner: self.inner.clone(),
        }
    }
}

impl<E: 'static> Publisher<E> {
    pub fn publish(&self, event: E) {
        (self.inner)(event)
    }

    /// A publisher nobody listens to (tests, benchmarks, command-line tools).
    pub fn discard() -> Publisher<E> {
        Publisher {
            inner: Arc::new(|_| {}),
        }
    }

    /// A publisher that hands events to `f` (tests).
    pub fn from_fn(f: impl Fn(E) + Send + Sync + 'static) -> Publisher<E> {
        Publisher { inner: Arc::new(f) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_loses_events_without_blocking_the_others() {
        let metrics = EventMetrics::default();
        let bus = Bus::new(metrics.clone());
        let mut slow = bus.subscribe("slow", 1);
        let mut fast = bus.subscribe("fast", 16);
        let publish = bus.publisher(DomainEvent::Store);
        for i in 0..3 {
            publish.publish(StoreEvent::Failed {
                reason: format!("r{i}"),
            });
        }
        let mut got = 0;
        while fast.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 3);
        assert!(slow.try_recv().is_ok());
        assert!(slow.try_recv().is_err());
        let dropped = metrics
            .dropped
            .get_or_create(&vec![("subscriber".into(), "slow".into())])
            .get();
        assert_eq!(dropped, 2);
    }
}
