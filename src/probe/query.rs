//! What the API, the dashboard and the status page ask of probing: monitor listings with their
//! state, uptime over windows, summaries and details in the API's shape. Reads memory first and
//! the day roll-ups only for the monitors asked about.

use panoptes_types::{
    ConditionView, LatencyStats, MonitorChanges, MonitorDetail, MonitorResults, MonitorRollups,
    MonitorSummary, ResultItem, RollupItem, StateChange, Uptime,
};

use super::config::MonitorConfig;
use super::rollup::{Resolution, ResultRecord, Rollup};
use super::state::State;
use super::uptime::{self, DayTotals, HourTally};
use super::{Monitor, MonitorView, ProbeEngine, Runtime, lock, read};
use crate::clock::{SharedClock, rfc3339};
use crate::metrics::{MonitorLabels, ProbeMetrics};
use crate::store::{Store, StoreError};

const DAY: u64 = 86_400_000;

/// Filters of a monitor listing.
#[derive(Debug, Clone, Default)]
pub struct MonitorFilter {
    pub group: Option<String>,
    pub state: Option<State>,
}

impl ProbeEngine {
    fn view(&self, m: &Monitor) -> MonitorView {
        let today = Resolution::Day.bucket(self.inner.clock.now_ms());
        let (last, cert, hours, today) = {
            let rt = lock(&m.rt);
            // `current` is in `Resolution::ALL` order: minute, hour, day.
            let day = &rt.current[2];
            let today = if day.0 == today {
                (day.1.counted(), day.1.down)
            } else {
                (0, 0)
            };
            let hours: Vec<HourTally> = rt.hours.iter().copied().collect();
            (rt.last.clone(), rt.cert_expires_at_ms, hours, today)
        };
        // A monitor checked from several locations is in the state across them.
        let state = self.shown_state(m);
        MonitorView {
            id: m.id,
            config: m.config.clone(),
            state,
            last,
            cert_expires_at_ms: cert,
            uptime_24h: uptime::uptime_24h(&hours, self.inner.clock.now_ms()),
            hours,
            today,
        }
    }

    /// Monitors in id order after `after`, filtered; at most `limit`, and whether more match.
    pub fn list(
        &self,
        filter: &MonitorFilter,
        after: Option<u32>,
        limit: usize,
    ) -> (Vec<MonitorView>, bool) {
        let monitors = read(&self.inner.monitors);
        let mut out = Vec::new();
        for m in monitors
            .range(after.map(|a| a + 1).unwrap_or(0)..)
            .map(|(_, m)| m)
        {
            if filter
                .group
                .as_deref()
                .is_some_and(|g| m.config.group.as_deref() != Some(g))
            {
                continue;
            }
            if let Some(s) = filter.state
                && self.shown_state(m) != s
            {
                continue;
            }
            if out.len() == limit {
                return (out, true);
            }
            out.push(self.view(m));
        }
        (out, false)
    }

    pub fn get(&self, id: u32) -> Option<MonitorView> {
        let m = read(&self.inner.monitors).get(&id)?.clone();
        Some(self.view(&m))
    }

    /// The running monitor named `name`.
    pub fn by_name(&self, name: &str) -> Option<MonitorView> {
        let m = read(&self.inner.monitors)
            .values()
            .find(|m| m.config.name == name)?
            .clone();
        Some(self.view(&m))
    }

    pub fn monitor_ids(&self) -> Vec<u32> {
        read(&self.inner.monitors).keys().copied().collect()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// A monitor's completed days' totals, from the cache or (once a day) the store.
    fn day_totals(&self, id: u32, now: u64) -> DayTotals {
        let today = Resolution::Day.bucket(now);
        let cached = lock(&self.inner.day_totals)
            .get(&id)
            .filter(|t| t.today == today)
            .copied();
        cached.unwrap_or_else(|| {
            // Read without the lock held; two readers at once both store the same totals.
            let t = DayTotals::read(&self.inner.store, id, today);
            lock(&self.inner.day_totals).insert(id, t);
            t
        })
    }

    /// The API's summary of one monitor: state, last check, uptime over 24 h and the 24 h bar
    /// (memory), 7, 30 and 90 days (completed days cached, today from memory). May read the
    /// store (once per monitor per day): call it off the async workers.
    pub fn summary(&self, v: &MonitorView) -> MonitorSummary {
        let now = self.inner.clock.now_ms();
        let [d7, d30, d90] = self.day_totals(v.id, now).with_today(v.today);
        MonitorSummary {
            id: v.id,
            name: v.config.name.clone(),
            group: v.config.group.clone(),
            kind: v.config.kind.type_name().to_string(),
            target: v.config.kind.target(),
            state: v.state.wire(),
            last_check_at: v.last.as_ref().map(|l| rfc3339(l.at_ms)),
            last_latency_ms: v.last.as_ref().map(|l| l.latency_ms),
            last_error: v.last.as_ref().and_then(|l| l.error.clone()),
            uptime: Uptime {
                h24: v.uptime_24h,
                d7,
                d30,
                d90,
            },
            certificate_days_left: v
                .cert_expires_at_ms
                .map(|at| ((at - now as i64) as f64 / DAY as f64 * 10.0).round() / 10.0),
            source: self.source_of(&v.config.name),
            paused: !v.config.enabled,
            bar_24h: uptime::bar(&v.hours, now),
        }
    }

    /// The summary plus settings and each condition with the value the last check saw.
    pub fn detail(&self, v: &MonitorView) -> MonitorDetail {
        let c = &v.config;
        let conditions = c
            .conditions
            .iter()
            .enumerate()
            .map(|(i, cond)| {
                let seen = v.last.as_ref().and_then(|l| l.conditions.get(i));
                ConditionView {
                    condition: cond.to_string(),
                    seen: seen.map(|r| r.shown.clone()),
                    ok: seen.map(|r| r.ok),
                }
            })
            .collect();
        MonitorDetail {
            summary: self.summary(v),
            interval: c.interval.to_string(),
            timeout: c.timeout.to_string(),
            retries: c.retries,
            retry_interval: c.retry_interval.to_string(),
            recovery: c.recovery,
            degraded_above: c.degraded.map(|d| d.to_string()),
            apdex_t: c.apdex_t.to_string(),
            conditions,
            maintenance: v.last.as_ref().and_then(|l| l.maintenance.clone()),
            last_status: v.last.as_ref().and_then(|l| l.status),
        }
    }
}

/// Uptime over the last 24 hours from a runtime's hour buckets (no store read).
pub(super) fn uptime_of(rt: &Runtime, now_ms: u64) -> Option<f64> {
    uptime::uptime_24h(&rt.hours, now_ms)
}

/// Raw results of a monitor in `[from, to)`, oldest first, at most `limit`, each with the
/// conditions that failed. Reads the store.
pub fn results(
    store: &Store,
    v: &MonitorView,
    from: u64,
    to: u64,
    limit: usize,
) -> Result<MonitorResults, StoreError> {
    let rows = store.probe_results(v.id, from, to, limit)?;
    let items = rows
        .into_iter()
        .filter_map(|(at, bytes)| ResultRecord::decode(&bytes).map(|r| (at, r)))
        .map(|(at, r)| ResultItem {
            at: rfc3339(at),
            at_ms: at,
            state: r.state.wire(),
            ok: r.ok,
            latency_ms: r.latency_us as f64 / 1000.0,
            status: r.status,
            failed_conditions: failed(&v.config, r.failed_conditions),
            error: r.error,
        })
        .collect();
    Ok(MonitorResults {
        monitor: v.config.name.clone(),
        from: rfc3339(from),
        to: rfc3339(to),
        items,
    })
}

/// Most raw results one changes request reads (about two weeks at a 6 s interval).
pub const MAX_CHANGES_SCAN: usize = 200_000;

/// A monitor's state changes in `[from, to)`, newest first, at most `limit`: each the first
/// result in its new state, with what it saw. Reads the store (up to [`MAX_CHANGES_SCAN`]
/// results, the newest when the range holds more).
pub fn changes(
    store: &Store,
    v: &MonitorView,
    from: u64,
    to: u64,
    limit: usize,
) -> Result<MonitorChanges, StoreError> {
    let rows = store.probe_results_newest(v.id, from, to, MAX_CHANGES_SCAN + 1)?;
    let truncated = rows.len() > MAX_CHANGES_SCAN;
    // Oldest first for the walk; the extra (oldest) row only gives the first one its `from`.
    let results = rows
        .into_iter()
        .rev()
        .filter_map(|(at, bytes)| ResultRecord::decode(&bytes).map(|r| (at, r)));
    let mut found = transitions(results);
    if truncated && found.first().is_some_and(|c| c.1.is_none()) {
        found.remove(0); // the cut, not a change
    }
    let items = found
        .into_iter()
        .rev()
        .take(limit)
        .map(|(at, before, r)| StateChange {
            at: rfc3339(at),
            at_ms: at,
            from: before.map(State::wire),
            to: r.state.wire(),
            status: r.status,
            failed_conditions: failed(&v.config, r.failed_conditions),
            error: r.error,
        })
        .collect();
    Ok(MonitorChanges {
        monitor: v.config.name.clone(),
        from: rfc3339(from),
        to: rfc3339(to),
        items,
        truncated,
    })
}

/// The results (oldest first) that changed the state, each with the state before it (`None`
/// for the first). Pure.
pub fn transitions(
    results: impl Iterator<Item = (u64, ResultRecord)>,
) -> Vec<(u64, Option<State>, ResultRecord)> {
    let mut out = Vec::new();
    let mut last: Option<State> = None;
    for (at, r) in results {
        if last != Some(r.state) {
            let before = last;
            last = Some(r.state);
            out.push((at, before, r));
        }
    }
    out
}

/// The configured conditions a result's bitmask says failed.
fn failed(cfg: &MonitorConfig, mask: u64) -> Vec<String> {
    cfg.conditions
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 64 && mask & (1 << i) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// A monitor's roll-ups of one resolution whose buckets start in `[from, to)`. Reads the store.
pub fn rollups(
    store: &Store,
    v: &MonitorView,
    res: Resolution,
    from: u64,
    to: u64,
) -> Result<MonitorRollups, StoreError> {
    let items = buckets(store, v.id, res, from, to)?
        .into_iter()
        .map(|(start, r)| RollupItem {
            start: rfc3339(start),
            start_ms: start,
            up: r.up,
            degraded: r.degraded,
            down: r.down,
            maintenance: r.maintenance,
            pending: r.pending,
            availability: r.availability(),
            apdex: r.apdex(),
            latency_ms: LatencyStats {
                p50: r.percentile(0.50),
                p95: r.percentile(0.95),
                p99: r.percentile(0.99),
                avg: r.mean_ms(),
            },
        })
        .collect();
    Ok(MonitorRollups {
        monitor: v.config.name.clone(),
        resolution: res.wire(),
        items,
    })
}

/// Availability over `[from, to)` from one resolution's roll-ups.
pub fn availability(
    store: &Store,
    id: u32,
    res: Resolution,
    from_ms: u64,
    to_ms: u64,
) -> Option<f64> {
    merged(store, id, res, from_ms, to_ms)?.availability()
}

/// The roll-ups of `[from, to)` merged into one.
pub fn merged(store: &Store, id: u32, res: Resolution, from_ms: u64, to_ms: u64) -> Option<Rollup> {
    let rows = buckets(store, id, res, from_ms, to_ms).ok()?;
    Some(Rollup::total(rows.iter().map(|(_, r)| r)))
}

/// A monitor's roll-ups of one resolution whose buckets start in `[from, to)`, decoded, by
/// bucket start (the one read the API, the status pages and the alerts share).
pub fn buckets(
    store: &Store,
    id: u32,
    res: Resolution,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<(u64, Rollup)>, StoreError> {
    Ok(store
        .probe_rollups(id, res as u8, res.bucket(from_ms), to_ms)?
        .into_iter()
        .filter_map(|(start, bytes)| Rollup::decode(&bytes).map(|r| (start, r)))
        .collect())
}

fn labels(cfg: &MonitorConfig) -> MonitorLabels {
    MonitorLabels {
        monitor: cfg.name.clone(),
        kind: cfg.kind.type_name().to_string(),
    }
}

/// Updates the per-monitor gauges after a result.
pub(super) fn observe_metrics(
    m: &ProbeMetrics,
    cfg: &MonitorConfig,
    state: State,
    ok: bool,
    latency_ms: u64,
    cert_days: Option<f64>,
    uptime_24h: Option<f64>,
) {
    let l = labels(cfg);
    let up = matches!(
        state,
        State::Up | State::Degraded | State::Maintenance | State::Pending
    );
    m.up.get_or_create(&l).set(i64::from(up));
    m.state.get_or_create(&l).set(i64::from(state.code()));
    m.latency_seconds
        .get_or_create(&l)
        .set(latency_ms as f64 / 1000.0);
    if let Some(d) = cert_days {
        m.cert_days_left.get_or_create(&l).set(d);
    }
    if let Some(u) = uptime_24h {
        m.uptime_ratio_24h.get_or_create(&l).set(u);
    }
    m.checks
        .get_or_create(&crate::metrics::CheckLabels {
            kind: l.kind.clone(),
            result: if ok { "success" } else { "failure" }.into(),
        })
        .inc();
}

/// Drops a removed monitor's series.
pub(super) fn forget_metrics(m: &ProbeMetrics, cfg: &MonitorConfig) {
    let l = labels(cfg);
    m.up.remove(&l);
    m.state.remove(&l);
    m.latency_seconds.remove(&l);
    m.cert_days_left.remove(&l);
    m.uptime_ratio_24h.remove(&l);
}

#[cfg(test)]
mod changes_tests {
    use super::*;

    fn r(state: State) -> ResultRecord {
        ResultRecord {
            state,
            ok: state == State::Up,
            latency_us: 1_000,
            status: Some(200),
            failed_conditions: 0,
            error: None,
        }
    }

    #[test]
    fn only_results_that_change_the_state_are_changes() {
        let results = [
            (1, r(State::Up)),
            (2, r(State::Up)),
            (3, r(State::Pending)),
            (4, r(State::Down)),
            (5, r(State::Down)),
            (6, r(State::Up)),
        ];
        let got: Vec<(u64, Option<State>, State)> = transitions(results.into_iter())
            .into_iter()
            .map(|(at, before, r)| (at, before, r.state))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, None, State::Up),
                (3, Some(State::Up), State::Pending),
                (4, Some(State::Pending), State::Down),
                (6, Some(State::Down), State::Up),
            ]
        );
        assert!(transitions(std::iter::empty()).is_empty());
    }
}
