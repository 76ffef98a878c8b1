//! Cross-instance aggregation for one service. Pure state and arithmetic: no I/O, no clocks
//! (`now_ms` is passed in), so every rule is unit-tested here.
//!
//! Rules (Periskop's, with its gaps closed):
//! - An instance is identified by its `target_uuid`, else by its address.
//! - A key's total is the sum of every instance's *increase* since that instance's previous
//!   report. A count that goes down means the process restarted: the new count is the increase.
//! - A resolved key stays resolved while its count does not increase; an increase reopens it and
//!   flags a regression.
//! - State of instances that are gone is pruned (by the caller deciding which are gone).
//!
//! Every change is also recorded in a [`Delta`], which the caller persists in one store write.

use std::collections::{BTreeMap, HashMap};

use panoptes_types::{PeriskopError, PeriskopHttpContext};
use serde::{Deserialize, Serialize};

use super::model::{Payload, parse_time_ms};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_keys: usize,
    pub max_occurrences: usize,
}

/// Everything known about one aggregation key; also its stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    pub total: u64,
    pub severity: String,
    pub created_at_ms: u64,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// Newest first, at most `Limits::max_occurrences`.
    pub occurrences: Vec<StoredOccurrence>,
    pub resolved_at_ms: Option<u64>,
    pub regression: bool,
    pub regressed_at_ms: Option<u64>,
}

impl KeyState {
    /// The same key, resolved at `now_ms`: it stays resolved until its count grows again.
    pub fn resolved(mut self, now_ms: u64) -> KeyState {
        self.resolved_at_ms = Some(now_ms);
        self.regression = false;
        self.regressed_at_ms = None;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOccurrence {
    pub error: PeriskopError,
    pub uuid: String,
    pub timestamp_ms: u64,
    pub severity: String,
    pub http_context: Option<PeriskopHttpContext>,
    pub instance: String,
}

/// An instance as stored: where it was last seen, and whether it pushes rather than being
/// scraped (pushed instances expire by age instead of by discovery).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceMeta {
    pub address: String,
    pub pushed: bool,
    pub last_seen_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub meta: InstanceMeta,
    /// The cumulative count the instance last reported, per key.
    pub counts: HashMap<String, u64>,
}

/// Health of one discovered target.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetHealth {
    pub address: String,
    pub url: String,
    pub source: String,
    pub labels: BTreeMap<String, String>,
    /// `None` until the first scrape finished.
    pub up: Option<bool>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<u64>,
    pub last_scrape_ms: Option<u64>,
    pub last_success_ms: Option<u64>,
    pub target_uuid: Option<String>,
}

/// Changes to persist, collected while applying reports.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Delta {
    /// Keys whose state changed (final state).
    pub keys: BTreeMap<String, KeyState>,
    /// (key, increase) to add to the current minute's rate row.
    pub increases: BTreeMap<String, u64>,
    /// (instance, key) -> last reported count.
    pub baselines: BTreeMap<(String, String), u64>,
    pub instances: BTreeMap<String, InstanceMeta>,
    pub removed_instances: Vec<String>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
            && self.increases.is_empty()
            && self.baselines.is_empty()
            && self.instances.is_empty()
            && self.removed_instances.is_empty()
    }
}

/// One service's aggregate. Writers change a clone and [`adopt`](ServiceAgg::adopt) it once the
/// store has the change, so readers never see totals the store does not have.
#[derive(Debug, Default, Clone)]
pub struct ServiceAgg {
    pub keys: HashMap<String, KeyState>,
    pub instances: HashMap<String, Instance>,
    /// New keys refused because the service was at `max_keys`.
    pub dropped_keys: u64,
    /// By address.
    pub targets: BTreeMap<String, TargetHealth>,
    /// Configured in `services:` (else it exists only through pushes or stored data).
    pub scraped: bool,
    /// Why target discovery is not current, per discovery source (memory only).
    pub discovery_errors: BTreeMap<String, String>,
}

/// The instance identity for a report: `target_uuid`, else the address.
pub fn instance_id(target_uuid: &str, address: &str) -> String {
    if target_uuid.is_empty() {
        address.to_string()
    } else {
        target_uuid.to_string()
    }
}

impl ServiceAgg {
    /// Applies one instance's export. Returns the number of new keys dropped at the limit.
    pub fn apply(
        &mut self,
        instance: &str,
        meta: InstanceMeta,
        payload: &Payload,
        now_ms: u64,
        limits: Limits,
        delta: &mut Delta,
    ) -> u64 {
        let inst = self
            .instances
            .entry(instance.to_string())
            .or_insert_with(|| Instance {
                meta: meta.clone(),
                counts: HashMap::new(),
            });
        if inst.meta.address != meta.address
            || inst.meta.pushed != meta.pushed
            || meta.pushed
            || inst.counts.is_empty()
        {
            delta.instances.insert(instance.to_string(), meta.clone());
        }
        inst.meta = meta;
        let mut dropped = 0;
        for agg in &payload.aggregated_errors {
            let count = agg.total_count;
            // A key the service has no room for is dropped before anything about it is kept:
            // no baseline in memory or in the store (they would grow past the bound).
            if !self.keys.contains_key(&agg.aggregation_key) && self.keys.len() >= limits.max_keys {
                dropped += 1;
                continue;
            }
            let previous = inst.counts.insert(agg.aggregation_key.clone(), count);
            let increase = match previous {
                None => count,
                Some(p) if count >= p => count - p,
                // Fewer than before: the process restarted and counts from zero again.
                Some(_) => count,
            };
            if previous != Some(count) {
                delta
                    .baselines
                    .insert((instance.to_string(), agg.aggregation_key.clone()), count);
            }
            if !self.keys.contains_key(&agg.aggregation_key) && increase == 0 {
                continue;
            }
            let created = parse_time_ms(&agg.created_at).unwrap_or(now_ms);
            let key = self
                .keys
                .entry(agg.aggregation_key.clone())
                .or_insert_with(|| KeyState {
                    total: 0,
                    severity: agg.severity.clone(),
                    created_at_ms: created,
                    first_seen_ms: now_ms,
                    last_seen_ms: now_ms,
                    occurrences: Vec::new(),
                    resolved_at_ms: None,
                    regression: false,
                    regressed_at_ms: None,
                });
            let mut changed = false;
            if created < key.created_at_ms {
                key.created_at_ms = created;
                changed = true;
            }
            if increase > 0 {
                key.total = key.total.saturating_add(increase);
                key.last_seen_ms = now_ms;
                key.severity = agg.severity.clone();
                if key.resolved_at_ms.take().is_some() {
                    key.regression = true;
                    key.regressed_at_ms = Some(now_ms);
                }
                merge_occurrences(key, agg, instance, now_ms, limits.max_occurrences);
                // Counts are the clients' numbers, summed across instances: saturating.
                let sum = delta
                    .increases
                    .entry(agg.aggregation_key.clone())
                    .or_insert(0);
                *sum = sum.saturating_add(increase);
                changed = true;
            }
            if changed {
                delta.keys.insert(agg.aggregation_key.clone(), key.clone());
            }
        }
        self.dropped_keys = self.dropped_keys.saturating_add(dropped);
        dropped
    }

    /// Takes the stored state of a copy this aggregate was cloned into and changed: keys,
    /// instances, dropped keys. Target health and `scraped` stay (others keep them current).
    pub fn adopt(&mut self, work: ServiceAgg) {
        self.keys = work.keys;
        self.instances = work.instances;
        self.dropped_keys = work.dropped_keys;
    }

    /// Keeps at most `max` pushed instances, forgetting the ones heard from longest ago (never
    /// `keep`, the one pushing now). A cron job that reports with a fresh `target_uuid` on every
    /// run would otherwise add an instance, with baselines, per run for `push_instance_ttl`.
    pub fn evict_pushed_beyond(&mut self, max: usize, keep: &str, delta: &mut Delta) {
        let mut pushed: Vec<(u64, &String)> = self
            .instances
            .iter()
            .filter(|(id, i)| i.meta.pushed && id.as_str() != keep)
            .map(|(id, i)| (i.meta.last_seen_ms, id))
            .collect();
        let allowed = max.saturating_sub(usize::from(self.instances.contains_key(keep)));
        if pushed.len() <= allowed {
            return;
        }
        pushed.sort_unstable();
        let excess = pushed.len() - allowed;
        let gone: std::collections::HashSet<String> = pushed[..excess]
            .iter()
            .map(|(_, id)| (*id).clone())
            .collect();
        self.prune_instances(|id, _| !gone.contains(id), delta);
    }

    /// Drops instances for which `keep` is false, with their baselines.
    pub fn prune_instances(
        &mut self,
        keep: impl Fn(&str, &InstanceMeta) -> bool,
        delta: &mut Delta,
    ) {
        let gone: Vec<String> = self
            .instances
            .iter()
            .filter(|(id, i)| !keep(id, &i.meta))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.instances.remove(&id);
            delta.baselines.retain(|(i, _), _| *i != id);
            delta.instances.remove(&id);
            delta.removed_instances.push(id);
        }
    }

    /// Marks `key` resolved. Returns its new state, or `None` if the key is unknown.
    pub fn resolve(&mut self, key: &str, now_ms: u64) -> Option<KeyState> {
        let k = self.keys.get_mut(key)?;
        *k = k.clone().resolved(now_ms);
        Some(k.clone())
    }
}

/// Adds the report's occurrences not already kept (by uuid, else by instance+time+message),
/// keeping the newest `cap` across instances, newest first.
fn merge_occurrences(
    key: &mut KeyState,
    agg: &super::model::Aggregate,
    instance: &str,
    now_ms: u64,
    cap: usize,
) {
    let mut fresh = Vec::new();
    for o in &agg.latest_errors {
        let ts = parse_time_ms(&o.timestamp).unwrap_or(now_ms);
        let duplicate = key
            .occurrences
            .iter()
            .chain(fresh.iter())
            .any(|k: &StoredOccurrence| {
                if o.uuid.is_empty() {
                    k.instance == instance
                        && k.timestamp_ms == ts
                        && k.error.message == o.error.message
                } else {
                    k.uuid == o.uuid
                }
            });
        if duplicate {
            continue;
        }
        fresh.push(StoredOccurrence {
            error: o.error.clone(),
            uuid: o.uuid.clone(),
            timestamp_ms: ts,
            severity: o.severity.clone(),
            http_context: o.http_context.clone(),
            instance: instance.to_string(),
        });
    }
    // Clients append, so the report is oldest first: reversed, and put before what was kept,
    // a stable sort by time leaves the newest report first among equal timestamps.
    fresh.reverse();
    fresh.append(&mut key.occurrences);
    fresh.sort_by_key(|o| std::cmp::Reverse(o.timestamp_ms));
    key.occurrences = fresh;
    key.occurrences.truncate(cap);
}

#[cfg(test)]
mod tests {
    use super::super::model::{Aggregate, Occurrence};
    use super::*;

    const LIMITS: Limits = Limits {
        max_keys: 100,
        max_occurrences: 3,
    };

    fn payload(uuid: &str, counts: &[(&str, u64)]) -> Payload {
        Payload {
            target_uuid: uuid.to_string(),
            aggregated_errors: counts
                .iter()
                .map(|(k, n)| Aggregate {
                    aggregation_key: k.to_string(),
                    total_count: *n,
                    severity: "error".into(),
                    created_at: String::new(),
                    latest_errors: (0..*n)
                        .map(|i| Occurrence {
                            error: PeriskopError {
                                class: k.to_string(),
                                message: format!("{uuid} #{i}"),
                                ..Default::default()
                            },
                            uuid: format!("{uuid}-{k}-{i}"),
                            timestamp: format!("2026-01-01T00:00:{:02}Z", i % 60),
                            severity: "error".into(),
                            http_context: None,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn meta(addr: &str) -> InstanceMeta {
        InstanceMeta {
            address: addr.into(),
            pushed: false,
            last_seen_ms: 0,
        }
    }

    fn report(agg: &mut ServiceAgg, uuid: &str, addr: &str, counts: &[(&str, u64)]) -> Delta {
        let mut d = Delta::default();
        agg.apply(
            &instance_id(uuid, addr),
            meta(addr),
            &payload(uuid, counts),
            1_000,
            LIMITS,
            &mut d,
        );
        d
    }

    #[test]
    fn totals_add_increases_across_instances() {
        let mut a = ServiceAgg::default();
        report(&mut a, "u1", "a:1", &[("K", 5)]);
        report(&mut a, "u2", "b:1", &[("K", 2)]);
        assert_eq!(a.keys["K"].total, 7);
        // Re-scraping the same counts adds nothing.
        let d = report(&mut a, "u1", "a:1", &[("K", 5)]);
        assert_eq!(a.keys["K"].total, 7);
        assert!(d.increases.is_empty());
        assert!(d.keys.is_empty());
        let d = report(&mut a, "u1", "a:1", &[("K", 9)]);
        assert_eq!(a.keys["K"].total, 11);
        assert_eq!(d.increases["K"], 4);
        assert_eq!(d.baselines[&("u1".to_string(), "K".to_string())], 9);
    }

    #[test]
    fn a_count_going_down_is_a_restart_and_counts_in_full() {
        let mut a = ServiceAgg::default();
        // No target_uuid: identity is the address, so a restart shows as a lower count.
        report(&mut a, "", "a:1", &[("K", 10)]);
        report(&mut a, "", "a:1", &[("K", 3)]);
        assert_eq!(a.keys["K"].total, 13);
        report(&mut a, "", "a:1", &[("K", 4)]);
        assert_eq!(a.keys["K"].total, 14);
    }

    #[test]
    fn a_new_target_uuid_is_a_new_instance() {
        let mut a = ServiceAgg::default();
        report(&mut a, "old", "a:1", &[("K", 10)]);
        report(&mut a, "new", "a:1", &[("K", 12)]);
        assert_eq!(a.keys["K"].total, 22);
    }

    #[test]
    fn occurrences_are_newest_first_capped_and_deduplicated() {
        let mut a = ServiceAgg::default();
        report(&mut a, "u1", "a:1", &[("K", 2)]);
        report(&mut a, "u1", "a:1", &[("K", 2)]);
        assert_eq!(a.keys["K"].occurrences.len(), 2);
        report(&mut a, "u2", "b:1", &[("K", 5)]);
        let occ = &a.keys["K"].occurrences;
        assert_eq!(occ.len(), 3);
        assert!(
            occ.windows(2)
                .all(|w| w[0].timestamp_ms >= w[1].timestamp_ms)
        );
        assert_eq!(occ[0].uuid, "u2-K-4");
        assert_eq!(occ[0].instance, "u2");
    }

    #[test]
    fn resolve_holds_until_the_count_increases_then_flags_a_regression() {
        let mut a = ServiceAgg::default();
        report(&mut a, "u1", "a:1", &[("K", 2)]);
        a.resolve("K", 2_000).expect("known key");
        report(&mut a, "u1", "a:1", &[("K", 2)]);
        assert_eq!(a.keys["K"].resolved_at_ms, Some(2_000));
        assert!(!a.keys["K"].regression);
        let d = report(&mut a, "u1", "a:1", &[("K", 3)]);
        let k = &a.keys["K"];
        assert_eq!(k.resolved_at_ms, None);
        assert!(k.regression);
        assert!(d.keys["K"].regression);
        assert!(a.resolve("nope", 1).is_none());
    }

    #[test]
    fn created_at_is_the_earliest_reported() {
        let mut a = ServiceAgg::default();
        let mut p = payload("u1", &[("K", 1)]);
        p.aggregated_errors[0].created_at = "2026-01-02T00:00:00Z".into();
        let mut d = Delta::default();
        a.apply("u1", meta("a:1"), &p, 5, LIMITS, &mut d);
        let mut p2 = payload("u2", &[("K", 1)]);
        p2.aggregated_errors[0].created_at = "2026-01-01T00:00:00Z".into();
        a.apply("u2", meta("b:1"), &p2, 6, LIMITS, &mut d);
        assert_eq!(
            a.keys["K"].created_at_ms,
            parse_time_ms("2026-01-01T00:00:00Z").expect("time")
        );
        assert_eq!(a.keys["K"].first_seen_ms, 5);
    }

    #[test]
    fn keys_beyond_the_limit_are_dropped_and_counted() {
        let mut a = ServiceAgg::default();
        let mut d = Delta::default();
        let limits = Limits {
            max_keys: 2,
            max_occurrences: 1,
        };
        let dropped = a.apply(
            "u",
            meta("a:1"),
            &payload("u", &[("A", 1), ("B", 1), ("C", 1)]),
            1,
            limits,
            &mut d,
        );
        assert_eq!(dropped, 1);
        assert_eq!(a.keys.len(), 2);
        assert_eq!(a.dropped_keys, 1);
        // Nothing is kept about the dropped key: no baseline in memory, none to store.
        assert!(!a.instances["u"].counts.contains_key("C"));
        assert!(
            !d.baselines.keys().any(|(_, k)| k == "C"),
            "{:?}",
            d.baselines
        );
    }

    #[test]
    fn pruning_removes_instances_and_their_pending_baselines() {
        let mut a = ServiceAgg::default();
        let mut d = report(&mut a, "u1", "a:1", &[("K", 1)]);
        a.prune_instances(|id, _| id != "u1", &mut d);
        assert!(a.instances.is_empty());
        assert!(d.baselines.is_empty());
        assert_eq!(d.removed_instances, vec!["u1".to_string()]);
        // The key's total stays: pruning forgets instances, not history.
        assert_eq!(a.keys["K"].total, 1);
    }

    #[test]
    fn pushed_instances_beyond_the_cap_are_evicted_oldest_first() {
        let mut a = ServiceAgg::default();
        let mut d = Delta::default();
        for (i, seen) in [(1, 30), (2, 10), (3, 20)] {
            let meta = InstanceMeta {
                address: "push".into(),
                pushed: true,
                last_seen_ms: seen,
            };
            a.apply(
                &format!("push:{i}"),
                meta,
                &payload("", &[("K", 1)]),
                seen,
                LIMITS,
                &mut d,
            );
        }
        a.instances.insert(
            "scraped".into(),
            Instance {
                meta: meta("a:1"),
                counts: HashMap::new(),
            },
        );
        a.evict_pushed_beyond(2, "push:3", &mut d);
        let mut left: Vec<&str> = a.instances.keys().map(String::as_str).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            ["push:1", "push:3", "scraped"],
            "push:2 was heard from longest ago"
        );
        assert_eq!(d.removed_instances, ["push:2"]);
        // The instance pushing now is never the one evicted, even when it is the oldest.
        a.evict_pushed_beyond(1, "push:3", &mut d);
        assert!(a.instances.contains_key("push:3"));
        assert!(!a.instances.contains_key("push:1"));
    }

    #[test]
    fn increases_summed_across_instances_saturate() {
        let mut a = ServiceAgg::default();
        let mut d = Delta::default();
        for uuid in ["u1", "u2"] {
            a.apply(
                uuid,
                meta(uuid),
                &payload(uuid, &[("K", 0)]),
                1,
                LIMITS,
                &mut d,
            );
        }
        let mut d = Delta::default();
        for uuid in ["u1", "u2"] {
            let mut p = payload(uuid, &[("K", 0)]);
            p.aggregated_errors[0].total_count = u64::MAX;
            a.apply(uuid, meta(uuid), &p, 2, LIMITS, &mut d);
        }
        assert_eq!(d.increases["K"], u64::MAX);
        assert_eq!(a.keys["K"].total, u64::MAX);
    }
}
