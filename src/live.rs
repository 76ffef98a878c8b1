//! The dashboard's live feed: domain events worth showing at once, as small typed messages
//! (`panoptes_types::LiveMessage`) fanned out to every open `GET /api/v1/live` stream.
//!
//! Owns: which domain events become which messages ([`message`], pure), the fan-out, and each
//! client's stream. Depends on: `events` (the bus and the domains' event types it re-exports)
//! and `tasks` (shutdown).
//!
//! Bounded everywhere: the feed is one bus subscriber with its own queue (a full one drops and
//! counts, like any subscriber), and clients share one broadcast ring of [`RING`] messages,
//! serialised once. A client that falls more than the ring behind is not buffered for: it gets
//! `resync` and refetches what it shows. Messages carry what changed, never the new state, so
//! the API stays the one source of truth and a lost message only costs a delay.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use panoptes_types::LiveMessage;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::events::{
    AlertEvent, DomainEvent, Event, OncallEvent, PeriskopEvent, ProbeEvent, SentryEvent,
};
use crate::tasks::Shutdown;

/// Messages the clients' shared ring holds; a client further behind gets `resync`.
pub const RING: usize = 256;
/// The feed's queue on the bus: probe rounds publish in bursts, almost all dropped here as
/// "no state change", so this is about absorbing a burst, not about slow clients.
pub const BUS_QUEUE: usize = 8_192;

/// How often results that kept their monitor's state are announced (as one
/// `monitors_checked`): the views showing latencies stay as fresh as they were when they
/// polled, at a cost that does not grow with the number of monitors.
pub const CHECKS_EVERY: Duration = Duration::from_secs(5);

/// Whether the event is a stored result that kept its monitor's state: not a message of its
/// own, but counted into the next `monitors_checked`.
pub fn is_quiet_check(event: &DomainEvent) -> bool {
    matches!(
        event,
        DomainEvent::Probe(ProbeEvent::Checked(_) | ProbeEvent::Combined(_))
    ) && message(event).is_none()
}

/// The message a domain event becomes, if any. Results that keep a monitor's state (see
/// [`is_quiet_check`]), events merely counted into an issue or key, and scrape counts are not
/// news: the views showing them refresh on `monitors_checked` or their slow poll.
pub fn message(event: &DomainEvent) -> Option<LiveMessage> {
    // A monitor checked from several locations changes state by `Combined`; its `Checked` is
    // only this server's location's result.
    let result = match event {
        DomainEvent::Probe(ProbeEvent::Checked(c)) if !c.located => Some(c),
        DomainEvent::Probe(ProbeEvent::Combined(c)) => Some(c),
        _ => None,
    };
    if let Some(c) = result.filter(|c| c.is_transition()) {
        return Some(LiveMessage::MonitorState {
            monitor_id: c.monitor_id,
            name: c.name.to_string(),
            previous: c.previous.wire(),
            state: c.state.wire(),
            at_ms: c.at_ms,
        });
    }
    Some(match event {
        DomainEvent::Probe(ProbeEvent::Removed { monitor_id, name }) => {
            LiveMessage::MonitorRemoved {
                monitor_id: *monitor_id,
                name: name.to_string(),
            }
        }
        DomainEvent::Sentry(SentryEvent::IssueCreated { issue, at_ms, .. }) => {
            LiveMessage::IssueOpened {
                project: issue.project,
                issue_id: issue.issue_id,
                title: issue.title.clone(),
                level: issue.level.clone(),
                at_ms: *at_ms,
            }
        }
        DomainEvent::Sentry(SentryEvent::IssueRegressed { issue, at_ms, .. }) => {
            LiveMessage::IssueRegressed {
                project: issue.project,
                issue_id: issue.issue_id,
                title: issue.title.clone(),
                level: issue.level.clone(),
                at_ms: *at_ms,
            }
        }
        DomainEvent::Periskop(PeriskopEvent::KeyCreated {
            service,
            key,
            at_ms,
            ..
        }) => LiveMessage::ExceptionKey {
            service: service.clone(),
            key: key.clone(),
            regressed: false,
            at_ms: *at_ms,
        },
        DomainEvent::Periskop(PeriskopEvent::KeyRegressed {
            service,
            key,
            at_ms,
            ..
        }) => LiveMessage::ExceptionKey {
            service: service.clone(),
            key: key.clone(),
            regressed: true,
            at_ms: *at_ms,
        },
        DomainEvent::Periskop(PeriskopEvent::TargetHealth {
            service,
            target,
            up,
            at_ms,
            ..
        }) => LiveMessage::ScrapeTarget {
            service: service.clone(),
            target: target.clone(),
            up: *up,
            at_ms: *at_ms,
        },
        DomainEvent::Alert(AlertEvent::Fired(a)) | DomainEvent::Alert(AlertEvent::Resolved(a)) => {
            LiveMessage::Alert {
                fingerprint: a.fingerprint.clone(),
                alertname: a.label("alertname").map(str::to_string),
                firing: matches!(event, DomainEvent::Alert(AlertEvent::Fired(_))),
            }
        }
        DomainEvent::Oncall(OncallEvent::Page {
            page_id,
            title,
            change,
            at_ms,
        }) => LiveMessage::Page {
            page_id: *page_id,
            title: title.clone(),
            change: change.as_str().to_string(),
            at_ms: *at_ms,
        },
        DomainEvent::Store(crate::events::StoreEvent::Failed { reason }) => {
            LiveMessage::StoreFailed {
                reason: reason.clone(),
            }
        }
        // Results that keep the state, heartbeats missed (also a `Checked`), counts.
        _ => return None,
    })
}

/// One message as sent: serialised once for every client.
pub type Frame = Arc<str>;

fn frame(m: &LiveMessage) -> Frame {
    // A `LiveMessage` is plain strings and numbers: serialising it cannot fail; if it ever
    // did, the client is told to refetch instead.
    serde_json::to_string(m)
        .unwrap_or_else(|_| r#"{"type":"resync"}"#.to_string())
        .into()
}

/// The feed's handle: cheap to clone, one per server.
#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<Frame>,
    instance_id: Arc<str>,
    shutdown: Shutdown,
}

impl Live {
    /// Starts the task turning the bus subscription `events` into frames; it ends with the
    /// bus or at shutdown.
    pub fn start(
        mut events: mpsc::Receiver<Event>,
        instance_id: &str,
        mut shutdown: Shutdown,
    ) -> (Live, JoinHandle<()>) {
        let (tx, _) = broadcast::channel(RING);
        let live = Live {
            tx: tx.clone(),
            instance_id: instance_id.into(),
            shutdown: shutdown.clone(),
        };
        let task = tokio::spawn(async move {
            let mut checks = tokio::time::interval(CHECKS_EVERY);
            checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Quiet results since the last `monitors_checked`.
            let mut quiet = 0u64;
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = checks.tick() => {
                        if quiet > 0 {
                            let m = LiveMessage::MonitorsChecked { results: quiet };
                            // No receiver (no dashboard open) is not an error.
                            let _ = tx.send(frame(&m));
                            quiet = 0;
                        }
                        continue;
                    }
                    () = shutdown.wait() => None,
                };
                let Some(event) = event else { return };
                if is_quiet_check(&event) {
                    quiet += 1;
                } else if let Some(m) = message(&event) {
                    let _ = tx.send(frame(&m));
                }
            }
        });
        (live, task)
    }

    /// A client's stream: `hello` first, then every message from now on; `resync` where it
    /// fell behind; it ends at shutdown, so open streams never hold up a graceful stop.
    pub fn stream(&self) -> impl Stream<Item = Frame> + Send + 'static {
        let rx = self.tx.subscribe();
        let hello = frame(&LiveMessage::Hello {
            instance_id: self.instance_id.to_string(),
        });
        let resync = frame(&LiveMessage::Resync);
        let state = (Some(hello), rx, self.shutdown.clone());
        futures_util::stream::unfold(state, move |(first, mut rx, mut shutdown)| {
            let resync = resync.clone();
            async move {
                if let Some(f) = first {
                    return Some((f, (None, rx, shutdown)));
                }
                let next = tokio::select! {
                    r = rx.recv() => r,
                    () = shutdown.wait() => return None,
                };
                match next {
                    Ok(f) => Some((f, (None, rx, shutdown))),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        Some((resync, (None, rx, shutdown)))
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StoreEvent;
    use futures_util::StreamExt;
    use tokio::sync::watch;

    fn decode(f: &Frame) -> LiveMessage {
        serde_json::from_str(f).expect("a LiveMessage")
    }

    #[test]
    fn counts_are_not_news_and_failures_are() {
        let failed = DomainEvent::Store(StoreEvent::Failed {
            reason: "disk full".into(),
        });
        assert_eq!(
            message(&failed),
            Some(LiveMessage::StoreFailed {
                reason: "disk full".into()
            })
        );
        let counted = DomainEvent::Periskop(PeriskopEvent::CountIncreased {
            service: "api".into(),
            key: "k".into(),
            increase: 1,
            total: 2,
            at_ms: 3,
        });
        assert_eq!(message(&counted), None);
        let acked = DomainEvent::Oncall(OncallEvent::Page {
            page_id: 4,
            title: "CronDown".into(),
            change: crate::events::PageChange::Acknowledged,
            at_ms: 9,
        });
        let m = message(&acked).expect("a page change is news");
        assert_eq!(m.topic(), Some(panoptes_types::Topic::Pages));
        assert_eq!(
            serde_json::to_string(&m).expect("encode"),
            r#"{"type":"page","page_id":4,"title":"CronDown","change":"acknowledged","at_ms":9}"#
        );
    }

    #[tokio::test]
    async fn a_stream_says_hello_then_resyncs_when_behind_and_ends_at_shutdown() {
        let (bus_tx, bus_rx) = mpsc::channel(16);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (live, task) = Live::start(bus_rx, "run-1", Shutdown::new(stop_rx));
        let mut stream = Box::pin(live.stream());
        let hello = stream.next().await.expect("hello");
        assert_eq!(
            decode(&hello),
            LiveMessage::Hello {
                instance_id: "run-1".into()
            }
        );
        // More than the ring holds, unread: the client is told to refetch, then goes on.
        for i in 0..RING + 10 {
            let e = DomainEvent::Store(StoreEvent::Failed {
                reason: format!("r{i}"),
            });
            bus_tx.send(Arc::new(e)).await.expect("queued");
        }
        // The feed task has taken (and so fanned out) every event once the bus queue is empty.
        while bus_tx.capacity() < bus_tx.max_capacity() {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            decode(&stream.next().await.expect("resync")),
            LiveMessage::Resync
        );
        assert!(matches!(
            decode(&stream.next().await.expect("after resync")),
            LiveMessage::StoreFailed { .. }
        ));
        stop_tx.send_replace(true);
        let mut rest = 0;
        while stream.next().await.is_some() {
            rest += 1;
            assert!(rest <= RING, "the stream ends at shutdown");
        }
        task.await.expect("the feed task ends at shutdown");
    }
}
