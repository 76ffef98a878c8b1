//! Monitors checked from several locations: the `locations:`/`quorum:` keys, and results that
//! other locations (agents) report.
//!
//! Owns: each remote location's series of a monitor. A location's results are stored as a
//! series of their own, registered in the probe ids under `"<monitor>@<location>"`, so raw
//! results, roll-ups and the state snapshot reuse the probe tables, [`judge`] and the roll-up
//! code unchanged. The monitor's own series stays the server's (location `probing.location`).
//! Depends on: the engine (`Inner`), `store`. Deciding across locations is `quorum.rs` (pure),
//! published by `combined.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use super::check::Outcome;
use super::combined::Trigger;
use super::condition::Observation;
use super::config::{MonitorConfig, ProbingConfig};
use super::judge::judge;
use super::state::State;
use super::{LastCheck, Monitor, ProbeEngine, ProbeError, Runtime, lock, maintenance, read};
use crate::config::decode::{Decoder, join};
use crate::store::Write;
use crate::store::probes::ProbeWrite;

/// Longest location name.
const MAX_LOCATION: usize = 64;
/// Most locations per monitor.
const MAX_LOCATIONS: usize = 32;

pub fn valid_location(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LOCATION
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

crate::config_section! {
    /// `probing.groups.<group>`: where the monitors of a group are checked from, unless a
    /// monitor says otherwise (its `locations` win, and its `quorum` over the group's).
    pub struct GroupLocations {
        pub locations: Vec<String>,
        /// Failing locations for DOWN (default: a majority).
        pub quorum: Option<u32> = None,
    }
}

/// Validates a monitor's `locations` and `quorum`; returns the quorum in force (a majority by
/// default, 0 without locations). A `quorum` without `locations` is returned as written: its
/// group may bring the locations ([`apply_groups`] decides, and reports it if none does).
pub fn check(locations: &[String], quorum: Option<u32>, path: &str, d: &mut Decoder) -> u32 {
    let at = |f: &str| join(path, f);
    if locations.len() > MAX_LOCATIONS {
        d.error_at(
            &at("locations"),
            format!("at most {MAX_LOCATIONS} locations"),
        );
    }
    for (i, l) in locations.iter().enumerate() {
        if !valid_location(l) {
            d.error_at(
                &format!("{path}.locations[{i}]"),
                format!("`{l}` is not a location name (1 to {MAX_LOCATION} of [A-Za-z0-9._-])"),
            );
        } else if locations[..i].contains(l) {
            d.error_at(
                &format!("{path}.locations[{i}]"),
                format!("`{l}` is listed twice"),
            );
        }
    }
    let n = locations.len() as u32;
    match quorum {
        None => n / 2 + u32::from(n > 0),
        Some(0) => {
            d.error_at(&at("quorum"), "must be at least 1");
            0
        }
        Some(q) if n == 0 => q,
        Some(q) if q > n => {
            d.error_at(
                &at("quorum"),
                format!("({q}) must not exceed the number of locations ({n})"),
            );
            q
        }
        Some(q) => q,
    }
}

/// Gives the monitors of a group in `probing.groups` that set no `locations` their group's,
/// with their own `quorum` if they set one, else the group's, else a majority. Reports a
/// `quorum` left without locations at its monitor's line. Runs after decoding, before
/// validation (`config::root::parse`).
pub fn apply_groups(p: &ProbingConfig, monitors: &mut [MonitorConfig], d: &mut Decoder) {
    for (i, m) in monitors.iter_mut().enumerate() {
        if !m.locations.is_empty() {
            continue;
        }
        let path = format!("monitors[{i}]");
        // Without locations, a quorum is only ever the one written (see `check`).
        let written = (m.quorum > 0).then_some(m.quorum);
        match m.group.as_deref().and_then(|g| p.groups.get(g)) {
            Some(g) => {
                m.locations.clone_from(&g.locations);
                m.quorum = check(&m.locations, written.or(g.quorum), &path, d);
            }
            None if written.is_some() => {
                d.error_at(
                    &join(&path, "quorum"),
                    "needs `locations` (the monitor's own, or its group's in `probing.groups`)",
                );
                m.quorum = 0;
            }
            None => {}
        }
    }
}

/// Validates `probing.location`, `probing.source_address` and `probing.groups`.
pub fn check_probing(p: &ProbingConfig, d: &mut Decoder) {
    for (name, g) in &p.groups {
        let path = join("probing.groups", name);
        if g.locations.is_empty() {
            d.error_at(&join(&path, "locations"), "must list at least one location");
        }
        check(&g.locations, g.quorum, &path, d);
    }
    if !valid_location(&p.location) {
        d.error_at(
            "probing.location",
            format!("must be 1 to {MAX_LOCATION} of [A-Za-z0-9._-]"),
        );
    }
    if let Some(a) = &p.source_address
        && a.parse::<std::net::IpAddr>().is_err()
    {
        d.error_at(
            "probing.source_address",
            format!("`{a}` is not an IP address"),
        );
    }
}

/// The key a location's series is registered under in the probe ids.
pub fn series_key(monitor: &str, location: &str) -> String {
    format!("{monitor}@{location}")
}

/// One location's series of a monitor.
#[derive(Clone)]
pub(super) struct Series {
    pub(super) id: u32,
    pub(super) rt: Runtime,
}

/// A result another location reports, judged there (its conditions ran where the check ran).
#[derive(Debug, Clone)]
pub struct RemoteResult {
    pub monitor: String,
    pub location: String,
    /// When the check ran, at the location.
    pub at_ms: u64,
    pub ok: bool,
    pub latency_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// A location's view of a monitor, for the API.
#[derive(Debug, Clone)]
pub struct LocationView {
    pub location: String,
    /// Whether this is the server's own location (the monitor's own series).
    pub local: bool,
    pub state: State,
    pub last: Option<LastCheck>,
    pub uptime_24h: Option<f64>,
    /// The series id, for its results and roll-ups.
    pub series_id: Option<u32>,
}

impl ProbeEngine {
    /// The server's own location (`probing.location`).
    pub fn local_location(&self) -> &str {
        &self.inner.local
    }

    /// The running monitors that list `location` (paused ones are listed here but run nowhere).
    pub fn assigned(&self, location: &str) -> Vec<MonitorConfig> {
        read(&self.inner.monitors)
            .values()
            .filter(|m| m.config.enabled && m.config.locations.iter().any(|l| l == location))
            .map(|m| m.config.clone())
            .collect()
    }

    /// A location's series, loaded from the store on first use; `None` before its first result.
    /// `ids` is the probe ids, read once per caller on its first miss (a read of the whole
    /// table per miss made a first batch of 50,000 new series quadratic).
    fn series(&self, key: &str, ids: &mut Option<HashMap<String, u32>>) -> Option<Series> {
        if let Some(s) = lock(&self.inner.series).get(key) {
            return Some(s.clone());
        }
        if ids.is_none() {
            *ids = Some(self.inner.store.probe_ids().ok()?);
        }
        let id = *ids.as_ref()?.get(key)?;
        let s = Series {
            id,
            rt: self.restore(id),
        };
        lock(&self.inner.series).insert(key.to_string(), s.clone());
        Some(s)
    }

    /// Records results reported by other locations, with `extra` writes (the reporter's
    /// progress) in the same store write: all of them are durable together or none is.
    /// Results for monitors that do not list the location are skipped. Returns how many were
    /// recorded.
    pub async fn record_remote(
        &self,
        results: Vec<RemoteResult>,
        extra: Vec<Write>,
    ) -> Result<usize, ProbeError> {
        // One batch at a time, and never while `apply` assigns ids (both allocate them).
        let _turn = self.inner.assigning.lock().await;
        let running = read(&self.inner.monitors).clone();
        let monitors: HashMap<&str, &Arc<Monitor>> = running
            .values()
            .map(|m| (m.config.name.as_str(), m))
            .collect();
        // Each monitor's last result in the batch: it is decided again once, after the write.
        let mut triggers: HashMap<&str, Trigger> = HashMap::new();
        let mut ids = None;
        let windows = read(&self.inner.maintenance).clone();
        let now = self.inner.clock.now_ms();
        let mut touched: HashMap<String, Series> = HashMap::new();
        let mut new_ids = Vec::new();
        let mut next_id = None;
        let mut writes = Vec::new();
        let mut recorded = 0;
        for r in results {
            let Some((name, m)) = monitors.get_key_value(r.monitor.as_str()) else {
                continue;
            };
            let cfg = &m.config;
            if !cfg.locations.contains(&r.location) {
                continue;
            }
            let key = series_key(&r.monitor, &r.location);
            if !touched.contains_key(&key) {
                let s = match self.series(&key, &mut ids) {
                    Some(s) => s,
                    None => {
                        let id = match next_id {
                            Some(n) => n,
                            None => {
                                if ids.is_none() {
                                    ids = Some(self.inner.store.probe_ids()?);
                                }
                                ids.as_ref()
                                    .and_then(|i| i.values().max())
                                    .map_or(1, |m| m + 1)
                            }
                        };
                        next_id = Some(id + 1);
                        new_ids.push((key.clone(), id));
                        Series {
                            id,
                            rt: super::judge::fresh_runtime(now),
                        }
                    }
                };
                touched.insert(key.clone(), s);
            }
            let Some(s) = touched.get_mut(&key) else {
                continue;
            };
            // The location judged the conditions; here only its verdict and the state machine
            // (retries, recovery, the degraded threshold) apply.
            let mut judged_cfg = cfg.clone();
            judged_cfg.conditions.clear();
            let outcome = Outcome {
                obs: Observation {
                    status: r.status,
                    response_time_ms: r.latency_ms.min(super::MAX_PUSH_LATENCY_MS),
                    connected: true,
                    ..Default::default()
                },
                error: (!r.ok).then(|| r.error.unwrap_or_else(|| "check failed".into())),
            };
            // A result stamped in the future (a skewed agent clock) counts as now.
            let at = r.at_ms.min(now);
            let maint = maintenance::active(&windows, &cfg.name, cfg.group.as_deref(), at as i64)
                .map(str::to_string);
            let j = judge(&judged_cfg, outcome, maint, at, &mut s.rt);
            triggers.insert(
                name,
                Trigger {
                    at_ms: j.at_ms,
                    ok: j.ok,
                    latency_ms: j.latency_ms,
                    status: j.record.status,
                },
            );
            writes.push(Write::Probe(ProbeWrite::Result {
                id: s.id,
                at_ms: j.at_ms,
                record: j.record.encode(),
                rollups: j.rollups,
                snapshot: j.snapshot,
            }));
            recorded += 1;
        }
        let mut all = Vec::with_capacity(writes.len() + extra.len() + 1);
        if !new_ids.is_empty() {
            all.push(Write::Probe(ProbeWrite::AssignIds(new_ids)));
        }
        all.extend(writes);
        all.extend(extra);
        self.inner.store.write(all).await?;
        lock(&self.inner.series).extend(touched);
        for (name, t) in triggers {
            if let Some(e) = monitors.get(name).and_then(|m| self.combined(m, t)) {
                self.inner.events.publish(e);
            }
        }
        Ok(recorded)
    }

    /// Each of the monitor's locations as it stands (reads the store for series not loaded).
    pub fn locations_of(&self, cfg: &MonitorConfig) -> Vec<LocationView> {
        let now = self.inner.clock.now_ms();
        let mut ids = None;
        let own = read(&self.inner.monitors)
            .values()
            .find(|m| m.config.name == cfg.name)
            .map(|m| (m.id, lock(&m.rt).clone()));
        cfg.locations
            .iter()
            .map(|l| {
                let local = *l == self.inner.local;
                let found = if local {
                    own.clone()
                } else {
                    self.series(&series_key(&cfg.name, l), &mut ids)
                        .map(|s| (s.id, s.rt))
                };
                LocationView {
                    location: l.clone(),
                    local,
                    state: found.as_ref().map_or(State::Unknown, |(_, rt)| rt.state),
                    last: found.as_ref().and_then(|(_, rt)| rt.last.clone()),
                    uptime_24h: found
                        .as_ref()
                        .and_then(|(_, rt)| super::query::uptime_of(rt, now)),
                    series_id: found.map(|(id, _)| id),
                }
            })
            .collect()
    }
}
