//! Prometheus metrics: one registry built at start-up, handles cloned into the parts that update
//! them, rendered as text at `/metrics`.
//!
//! Owns: metric names, help texts and buckets. Depends on: nothing else in the crate.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route pattern (`/api/v1/tokens/{id}`), never the raw path, to bound cardinality.
    pub route: String,
    pub status: u16,
}

/// Store writer metrics, updated by the writer thread.
#[derive(Clone)]
pub struct StoreMetrics {
    pub batches: Counter,
    pub writes: Counter,
    pub commit_errors: Counter,
    /// Write requests refused alone because they could not be applied.
    pub request_errors: Counter,
    pub batch_size: Histogram,
    pub commit_seconds: Histogram,
    pub queue_depth: Gauge,
    pub rejected_busy: Counter,
    pub retention_deleted: Counter,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            batches: Counter::default(),
            writes: Counter::default(),
            commit_errors: Counter::default(),
            request_errors: Counter::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            commit_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            queue_depth: Gauge::default(),
            rejected_busy: Counter::default(),
            retention_deleted: Counter::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MonitorLabels {
    pub monitor: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub kind: String,
    pub result: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Probing metrics: per-monitor gauges plus engine health.
#[derive(Clone)]
pub struct ProbeMetrics {
    /// 1 while the monitor is UP or DEGRADED (or in maintenance), else 0.
    pub up: Family<MonitorLabels, Gauge>,
    /// Numeric state: 0 unknown, 1 up, 2 degraded, 3 down, 4 maintenance, 5 pending.
    pub state: Family<MonitorLabels, Gauge>,
    pub latency_seconds: Family<MonitorLabels, FloatGauge>,
    pub cert_days_left: Family<MonitorLabels, FloatGauge>,
    pub uptime_ratio_24h: Family<MonitorLabels, FloatGauge>,
    pub checks: Family<CheckLabels, Counter>,
    /// Actual minus planned start of each check.
    pub schedule_lag: Histogram,
    pub results_dropped: Counter,
}

impl Default for ProbeMetrics {
    fn default() -> Self {
        ProbeMetrics {
            up: Family::default(),
            state: Family::default(),
            latency_seconds: Family::default(),
            cert_days_left: Family::default(),
            uptime_ratio_24h: Family::default(),
            checks: Family::default(),
            schedule_lag: Histogram::new(exponential_buckets(0.0005, 1.5, 30)),
            results_dropped: Counter::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeriskopTargetLabels {
    pub service: String,
    /// `host:port`; bounded by discovery (label sets of vanished targets are removed).
    pub target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeriskopLabels {
    pub service: String,
    /// `ok` or `error`.
    pub result: String,
}

/// Exception scraping (`crate::periskop`).
#[derive(Clone)]
pub struct PeriskopMetrics {
    pub target_up: Family<PeriskopTargetLabels, Gauge>,
    pub scrapes: Family<PeriskopLabels, Counter>,
    pub cycle_seconds: Histogram,
    pub lag_seconds: Histogram,
    pub dropped_keys: Counter,
}

impl Default for PeriskopMetrics {
    fn default() -> Self {
        PeriskopMetrics {
            target_up: Family::default(),
            scrapes: Family::default(),
            cycle_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            lag_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            dropped_keys: Counter::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    /// Project id (bounded by the config).
    pub project: String,
    /// `accepted`, `stored`, `sampled`, `rate_limited`, `invalid`, `duplicate`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestItemLabels {
    pub project: String,
    /// Envelope item type; types Panoptes does not know are counted as `other`.
    pub item: String,
}

/// Sentry-compatible ingest (`crate::sentry`).
#[derive(Clone, Default)]
pub struct IngestMetrics {
    pub events: Family<IngestLabels, Counter>,
    pub items: Family<IngestItemLabels, Counter>,
    /// Received items not yet grouped into issues.
    pub backlog: Gauge,
    /// Requests refused before a project was known (bad auth, malformed), by reason.
    pub rejected: Family<Vec<(String, String)>, Counter>,
    /// Events refused by a quota, over projects (read by alerting's `quota_rejections` rule;
    /// exported per project as `ingest_events{outcome="rate_limited"}`).
    pub quota_rejected: Counter,
}

/// Forwarding to an upstream Sentry (`crate::forward`); counters follow the durable ones in
/// the store (the sender adds what they grew by).
#[derive(Clone, Default)]
pub struct ForwardMetrics {
    /// Envelopes still to send upstream.
    pub backlog: Gauge,
    pub backlog_bytes: Gauge,
    pub processed: Counter,
    pub ignored: Counter,
    pub dropped: Family<Vec<(String, String)>, Counter>,
    /// Mean and p90 of recent upstream response times.
    pub latency_mean_ms: Gauge,
    pub latency_p90_ms: Gauge,
    /// Requests in flight to upstream.
    pub in_flight: Gauge,
}

/// Alerting (`crate::alerts`).
#[derive(Clone)]
pub struct AlertMetrics {
    /// Alerts held, by rule and state (`pending`, `firing`); rules are bounded by the config.
    pub alerts: Family<Vec<(String, String)>, Gauge>,
    /// Deliveries by receiver and result (`delivered`, `retry`, `failed`, `dead`, `uncertain`).
    pub notifications: Family<Vec<(String, String)>, Counter>,
    pub outbox_depth: Gauge,
    /// From queueing a notification to its delivery.
    pub delivery_seconds: Histogram,
    /// Time to evaluate one batch of domain events.
    pub evaluation_seconds: Histogram,
    /// New alerts refused because too many are held.
    pub refused: Counter,
}

impl Default for AlertMetrics {
    fn default() -> Self {
        AlertMetrics {
            alerts: Family::default(),
            notifications: Family::default(),
            outbox_depth: Gauge::default(),
            delivery_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
            evaluation_seconds: Histogram::new(exponential_buckets(0.00001, 2.0, 20)),
            refused: Counter::default(),
        }
    }
}

/// The domain-event bus (`crate::events`).
#[derive(Clone, Default)]
pub struct EventMetrics {
    pub published: Family<Vec<(String, String)>, Counter>,
    pub dropped: Family<Vec<(String, String)>, Counter>,
    /// All drops, over subscribers (read by alerting's `events_dropped` rule; not exported).
    pub dropped_all: Counter,
}

#[derive(Clone)]
pub struct HttpMetrics {
    pub requests: Family<HttpLabels, Counter>,
    /// Status page reads served from the render cache (outside the per-route counting, which
    /// would cost more than serving them).
    pub status_page_reads: Counter,
    /// Tasks alive in the async runtime, read at each scrape (a leak shows as growth).
    pub runtime_tasks: Gauge,
    /// The counters of `requests` by route, then (method, status): found without building
    /// owned labels (two `String`s) and hashing them on every request.
    by_route: std::sync::Arc<std::sync::RwLock<RouteCounters>>,
}

/// Route -> (method, status, counter).
type RouteCounters = std::collections::HashMap<String, Vec<(&'static str, u16, Counter)>>;

impl HttpMetrics {
    /// Counts one answered request.
    pub fn count(&self, method: &'static str, route: &str, status: u16) {
        let hit = self
            .by_route
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(route)
            .and_then(|v| {
                v.iter()
                    .find(|(m, s, _)| *m == method && *s == status)
                    .map(|(_, _, c)| c.clone())
            });
        let counter = match hit {
            Some(c) => c,
            None => {
                let c = self
                    .requests
                    .get_or_create(&HttpLabels {
                        method: method.to_string(),
                        route: route.to_string(),
                        status,
                    })
                    .clone();
                self.by_route
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(route.to_string())
                    .or_default()
                    .push((method, status, c.clone()));
                c
            }
        };
        counter.inc();
    }
}

pub struct Metrics {
    registry: Registry,
    pub store: StoreMetrics,
    pub http: HttpMetrics,
    pub probes: ProbeMetrics,
    pub periskop: PeriskopMetrics,
    pub ingest: IngestMetrics,
    pub forward: ForwardMetrics,
    pub login_failures: Counter,
    pub config_reloads: Family<Vec<(String, String)>, Counter>,
    pub events: EventMetrics,
    pub alerts: AlertMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("panoptes");
        let store = StoreMetrics::default();
        let http = HttpMetrics {
            requests: Family::default(),
            status_page_reads: Counter::default(),
            runtime_tasks: Gauge::default(),
            by_route: Default::default(),
        };
        let login_failures = Counter::default();
        let config_reloads = Family::default();
        let periskop = PeriskopMetrics::default();
        registry.register(
            "periskop_target_up",
            "1 if the last scrape of the exception target succeeded, else 0",
            periskop.target_up.clone(),
        );
        registry.register(
            "periskop_scrapes",
            "Exception scrapes by service and result",
            periskop.scrapes.clone(),
        );
        registry.register(
            "periskop_cycle_seconds",
            "Time to scrape every target of a service once",
            periskop.cycle_seconds.clone(),
        );
        registry.register(
            "periskop_scrape_lag_seconds",
            "How late a service's scrape cycle started against its schedule",
            periskop.lag_seconds.clone(),
        );
        registry.register(
            "periskop_dropped_keys",
            "New aggregation keys dropped at periskop.max_keys_per_service",
            periskop.dropped_keys.clone(),
        );
        let ingest = IngestMetrics::default();
        let forward = ForwardMetrics::default();
        for (name, help, g) in [
            (
                "forward_backlog",
                "Envelopes still to send upstream",
                &forward.backlog,
            ),
            (
                "forward_backlog_bytes",
                "Bytes of envelopes still to send upstream",
                &forward.backlog_bytes,
            ),
            (
                "forward_latency_mean_ms",
                "Mean of recent upstream response times",
                &forward.latency_mean_ms,
            ),
            (
                "forward_latency_p90_ms",
                "p90 of recent upstream response times (the pace)",
                &forward.latency_p90_ms,
            ),
            (
                "forward_in_flight",
                "Requests in flight to upstream",
                &forward.in_flight,
            ),
        ] {
            registry.register(name, help, g.clone());
        }
        registry.register(
            "forward_processed",
            "Envelopes upstream accepted",
            forward.processed.clone(),
        );
        registry.register(
            "forward_ignored",
            "Items not forwarded: flood copies and sample_percent",
            forward.ignored.clone(),
        );
        registry.register(
            "forward_dropped",
            "Envelopes given up on, by reason",
            forward.dropped.clone(),
        );
        registry.register(
            "ingest_events",
            "Sentry events by project and outcome (accepted = acknowledged; stored in full or sampled = counted only)",
            ingest.events.clone(),
        );
        registry.register(
            "ingest_items",
            "Envelope items received, by project and item type",
            ingest.items.clone(),
        );
        registry.register(
            "ingest_backlog",
            "Received items not yet grouped into issues",
            ingest.backlog.clone(),
        );
        registry.register(
            "ingest_rejected",
            "Ingest requests refused, by reason",
            ingest.rejected.clone(),
        );
        let probes = ProbeMetrics::default();
        let reg = &mut registry;
        reg.register(
            "monitor_up",
            "1 while the monitor is not DOWN",
            probes.up.clone(),
        );
        reg.register(
            "monitor_state",
            "Monitor state: 0 unknown, 1 up, 2 degraded, 3 down, 4 maintenance, 5 pending",
            probes.state.clone(),
        );
        reg.register(
            "monitor_latency_seconds",
            "Latency of the monitor's last check",
            probes.latency_seconds.clone(),
        );
        reg.register(
            "monitor_certificate_days_left",
            "Days until the monitor's TLS certificate expires",
            probes.cert_days_left.clone(),
        );
        reg.register(
            "monitor_uptime_ratio_24h",
            "Share of checks in the last 24 h that were not DOWN (maintenance excluded)",
            probes.uptime_ratio_24h.clone(),
        );
        reg.register(
            "probe_checks",
            "Checks run, by type and result",
            probes.checks.clone(),
        );
        reg.register(
            "probe_schedule_lag_seconds",
            "Actual minus planned start time of checks",
            probes.schedule_lag.clone(),
        );
        reg.register(
            "probe_results_dropped",
            "Check results that could not be stored",
            probes.results_dropped.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests served, by method, route and status",
            http.requests.clone(),
        );
        registry.register(
            "runtime_tasks",
            "Tasks alive in the async runtime at the time of the scrape",
            http.runtime_tasks.clone(),
        );
        registry.register(
            "status_page_reads",
            "Status page reads (pages, JSON, feeds, badges) served from the render cache",
            http.status_page_reads.clone(),
        );
        registry.register(
            "store_batches",
            "Transactions committed by the store writer",
            store.batches.clone(),
        );
        registry.register(
            "store_writes",
            "Write requests committed by the store writer",
            store.writes.clone(),
        );
        registry.register(
            "store_commit_errors",
            "Transactions that failed to commit",
            store.commit_errors.clone(),
        );
        registry.register(
            "store_request_errors",
            "Write requests refused alone because they could not be applied",
            store.request_errors.clone(),
        );
        registry.register(
            "store_batch_size",
            "Write requests per committed transaction",
            store.batch_size.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "Time to apply and durably commit one batch",
            store.commit_seconds.clone(),
        );
        registry.register(
            "store_queue_depth",
            "Write requests waiting for the writer",
            store.queue_depth.clone(),
        );
        registry.register(
            "store_rejected_busy",
            "Write requests refused because the writer queue was full",
            store.rejected_busy.clone(),
        );
        registry.register(
            "store_retention_deleted",
            "Rows deleted by retention",
            store.retention_deleted.clone(),
        );
        registry.register(
            "login_failures",
            "Failed dashboard logins",
            login_failures.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads by result",
            config_reloads.clone(),
        );
        let events = EventMetrics::default();
        registry.register(
            "events_published",
            "Domain events published, by source",
            events.published.clone(),
        );
        registry.register(
            "events_dropped",
            "Domain events a subscriber missed because its queue was full, by subscriber",
            events.dropped.clone(),
        );
        let alerts = AlertMetrics::default();
        registry.register(
            "alerts",
            "Alerts held, by rule and state (pending, firing)",
            alerts.alerts.clone(),
        );
        registry.register(
            "notifications",
            "Notification deliveries by receiver and result (delivered, retry, failed, dead, uncertain)",
            alerts.notifications.clone(),
        );
        registry.register(
            "notification_outbox_depth",
            "Notifications queued or being delivered",
            alerts.outbox_depth.clone(),
        );
        registry.register(
            "notification_delivery_seconds",
            "Time from queueing a notification to its delivery",
            alerts.delivery_seconds.clone(),
        );
        registry.register(
            "alert_evaluation_seconds",
            "Time to evaluate one batch of domain events against the alert rules",
            alerts.evaluation_seconds.clone(),
        );
        registry.register(
            "alerts_refused",
            "New alerts refused because too many alerts are held",
            alerts.refused.clone(),
        );
        Metrics {
            alerts,
            events,
            registry,
            store,
            http,
            probes,
            periskop,
            ingest,
            forward,
            login_failures,
            config_reloads,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
