//! What the API and the dashboard ask of exception scraping: services with target health, the
//! keys of a service filtered, sorted and paged, one key with its occurrences and rate, every
//! target. Reads memory; only the rate series reads the store.

use std::cmp::Ordering;

use panoptes_types::{
    ExceptionDetail, ExceptionOccurrence, ExceptionService, ExceptionStatus, ExceptionSummary,
    ExceptionTarget, Level, RatePoint, TargetHealth,
};

use super::aggregate::KeyState;
use super::model::{CompatAggregate, CompatOccurrence, CompatTarget};
use super::{Periskop, lock};
use crate::clock::rfc3339;
use crate::store::StoreError;

/// How a service's keys are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Largest total first.
    Count,
    LastSeen,
    FirstSeen,
    CreatedAt,
    /// By aggregation key, ascending.
    Key,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "count" => Sort::Count,
            "last_seen" => Sort::LastSeen,
            "first_seen" => Sort::FirstSeen,
            "created_at" => Sort::CreatedAt,
            "key" => Sort::Key,
            _ => return None,
        })
    }

    fn value(self, k: &KeyState) -> u64 {
        match self {
            Sort::Count => k.total,
            Sort::LastSeen => k.last_seen_ms,
            Sort::FirstSeen => k.first_seen_ms,
            Sort::CreatedAt => k.created_at_ms,
            Sort::Key => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Resolved,
    All,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "open" => Status::Open,
            "resolved" => Status::Resolved,
            "all" => Status::All,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct KeyFilter {
    pub severity: Option<String>,
    pub status: Status,
    pub query: Option<String>,
    pub sort: Sort,
}

/// Where a page of keys ended: the sort value and the key of its last row.
pub type KeyPosition = (u64, String);

fn order(sort: Sort, a: &KeyPosition, b: &KeyPosition) -> Ordering {
    match sort {
        Sort::Key => a.1.cmp(&b.1),
        _ => b.0.cmp(&a.0).then(a.1.cmp(&b.1)),
    }
}

pub fn summary(service: &str, key: &str, k: &KeyState) -> ExceptionSummary {
    let newest = k.occurrences.first();
    ExceptionSummary {
        service: service.to_string(),
        aggregation_key: key.to_string(),
        severity: Level::parse(&k.severity),
        total_count: k.total,
        created_at: rfc3339(k.created_at_ms),
        first_seen: rfc3339(k.first_seen_ms),
        last_seen: rfc3339(k.last_seen_ms),
        status: if k.resolved_at_ms.is_some() {
            ExceptionStatus::Resolved
        } else {
            ExceptionStatus::Open
        },
        resolved_at: k.resolved_at_ms.map(rfc3339),
        regression: k.regression,
        regressed_at: k.regressed_at_ms.map(rfc3339),
        class: newest.map(|o| o.error.class.clone()).unwrap_or_default(),
        message: newest.map(|o| o.error.message.clone()).unwrap_or_default(),
    }
}

impl Periskop {
    /// Every service (scraped or pushed) with its counts and target health, by name.
    pub fn service_summaries(&self) -> Vec<ExceptionService> {
        self.services()
            .into_iter()
            .map(|(name, agg)| {
                let a = lock(&agg);
                let resolved = a
                    .keys
                    .values()
                    .filter(|k| k.resolved_at_ms.is_some())
                    .count() as u64;
                ExceptionService {
                    name,
                    scraped: a.scraped,
                    targets_up: a.targets.values().filter(|t| t.up == Some(true)).count() as u64,
                    targets_total: a.targets.len() as u64,
                    open_errors: a.keys.len() as u64 - resolved,
                    resolved_errors: resolved,
                    // Totals are the clients' numbers: summed saturating.
                    total_count: a
                        .keys
                        .values()
                        .fold(0u64, |sum, k| sum.saturating_add(k.total)),
                    last_seen: a.keys.values().map(|k| k.last_seen_ms).max().map(rfc3339),
                    dropped_keys: a.dropped_keys,
                    last_error: (!a.discovery_errors.is_empty()).then(|| {
                        a.discovery_errors
                            .values()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("; ")
                    }),
                }
            })
            .collect()
    }

    /// A page of a service's keys after `after`, and the position of its last row when more
    /// match. `None` when the service does not exist.
    pub fn keys(
        &self,
        service: &str,
        filter: &KeyFilter,
        after: Option<&KeyPosition>,
        limit: usize,
    ) -> Option<(Vec<ExceptionSummary>, Option<KeyPosition>)> {
        let agg = self.service(service)?;
        let needle = filter.query.as_deref().map(str::to_lowercase);
        let mut rows: Vec<(KeyPosition, ExceptionSummary)> = {
            let a = lock(&agg);
            a.keys
                .iter()
                .filter(|(_, k)| filter.severity.as_deref().is_none_or(|s| k.severity == s))
                .filter(|(_, k)| match filter.status {
                    Status::Open => k.resolved_at_ms.is_none(),
                    Status::Resolved => k.resolved_at_ms.is_some(),
                    Status::All => true,
                })
                .map(|(key, k)| {
                    (
                        (filter.sort.value(k), key.clone()),
                        summary(service, key, k),
                    )
                })
                .filter(|(_, s)| {
                    needle.as_deref().is_none_or(|n| {
                        s.aggregation_key.to_lowercase().contains(n)
                            || s.class.to_lowercase().contains(n)
                            || s.message.to_lowercase().contains(n)
                    })
                })
                .filter(|(pos, _)| {
                    after.is_none_or(|a| order(filter.sort, pos, a) == Ordering::Greater)
                })
                .collect()
        };
        rows.sort_by(|a, b| order(filter.sort, &a.0, &b.0));
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|(p, _)| p.clone())
        } else {
            None
        };
        Some((rows.into_iter().map(|(_, s)| s).collect(), next))
    }

    /// One key with its newest occurrences and the per-minute rate of the last `minutes`.
    /// `Ok(None)` when service or key does not exist. Reads the store.
    pub fn key_detail(
        &self,
        service: &str,
        key: &str,
        minutes: u64,
    ) -> Result<Option<ExceptionDetail>, StoreError> {
        let Some(agg) = self.service(service) else {
            return Ok(None);
        };
        let Some(k) = lock(&agg).keys.get(key).cloned() else {
            return Ok(None);
        };
        let from = self.now_ms().saturating_sub(minutes * 60_000);
        let rate = self.rate(service, key, from)?;
        Ok(Some(ExceptionDetail {
            summary: summary(service, key, &k),
            occurrences: k
                .occurrences
                .iter()
                .map(|o| ExceptionOccurrence {
                    uuid: o.uuid.clone(),
                    timestamp: rfc3339(o.timestamp_ms),
                    severity: Level::parse(&o.severity),
                    instance: o.instance.clone(),
                    error: o.error.clone(),
                    http_context: o.http_context.clone(),
                })
                .collect(),
            rate: rate
                .into_iter()
                .map(|(m, n)| RatePoint {
                    minute: rfc3339(m),
                    count: n,
                })
                .collect(),
        }))
    }

    /// Periskop's `ErrorAggregate` list of a service (times in Unix seconds); resolved keys are
    /// left out until they recur, as in Periskop. `None` when the service does not exist.
    /// Sorted by key, so the answer is stable from one request to the next.
    pub fn compat_errors(&self, service: &str) -> Option<Vec<CompatAggregate>> {
        let agg = self.service(service)?;
        let secs = |ms: u64| (ms / 1000) as i64;
        let a = lock(&agg);
        let mut out: Vec<CompatAggregate> = a
            .keys
            .iter()
            .filter(|(_, k)| k.resolved_at_ms.is_none())
            .map(|(key, k)| CompatAggregate {
                aggregation_key: key.to_string(),
                total_count: k.total,
                severity: k.severity.clone(),
                latest_errors: k
                    .occurrences
                    .iter()
                    .map(|o| CompatOccurrence {
                        error: o.error.clone(),
                        uuid: o.uuid.clone(),
                        timestamp: secs(o.timestamp_ms),
                        severity: o.severity.clone(),
                        http_context: o.http_context.clone(),
                    })
                    .collect(),
                created_at: secs(k.created_at_ms),
            })
            .collect();
        out.sort_by(|a, b| a.aggregation_key.cmp(&b.aggregation_key));
        Some(out)
    }

    /// Periskop's `/targets/`: each scraped service's target URLs.
    pub fn compat_targets(&self) -> std::collections::BTreeMap<String, Vec<CompatTarget>> {
        let mut out = std::collections::BTreeMap::new();
        for (name, agg) in self.services() {
            let a = lock(&agg);
            if !a.scraped {
                continue;
            }
            out.insert(
                name,
                a.targets
                    .values()
                    .map(|t| CompatTarget {
                        endpoint: t.url.clone(),
                    })
                    .collect(),
            );
        }
        out
    }

    /// Every scrape target with its health, by service then address.
    pub fn targets(&self) -> Vec<ExceptionTarget> {
        let mut out = Vec::new();
        for (name, agg) in self.services() {
            let a = lock(&agg);
            for t in a.targets.values() {
                out.push(ExceptionTarget {
                    service: name.clone(),
                    address: t.address.clone(),
                    url: t.url.clone(),
                    source: t.source.clone(),
                    labels: t.labels.clone(),
                    health: match t.up {
                        Some(true) => TargetHealth::Up,
                        Some(false) => TargetHealth::Down,
                        None => TargetHealth::Unknown,
                    },
                    last_error: t.last_error.clone(),
                    last_duration_ms: t.last_duration_ms,
                    last_scrape: t.last_scrape_ms.map(rfc3339),
                    last_success: t.last_success_ms.map(rfc3339),
                    target_uuid: t.target_uuid.clone(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_value_then_key() {
        let a = (5, "a".to_string());
        let b = (5, "b".to_string());
        let c = (9, "c".to_string());
        assert_eq!(order(Sort::Count, &c, &a), Ordering::Less, "bigger first");
        assert_eq!(order(Sort::Count, &a, &b), Ordering::Less, "ties by key");
        assert_eq!(order(Sort::Key, &c, &a), Ordering::Greater);
    }
}
