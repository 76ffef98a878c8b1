//! Tables for Periskop-style exception aggregation.
//!
//! The store keeps bytes; `crate::periskop` owns what they mean (JSON records), so this module
//! depends on nothing but redb. Rows are written once per service scrape cycle, as one write.
//!
//! - `periskop_keys` (service, key) -> key state (total, severity, times, occurrences, resolve)
//! - `periskop_rate` (service, key, minute_ms) -> increase in that minute; one row per series per
//!   minute, added to while the minute lasts, never rewritten after it: the rate over time.
//! - `periskop_instances` (service, instance) -> instance record (address, pushed, last seen)
//! - `periskop_baselines` (service, instance, key) -> the count the instance last reported, so a
//!   restart of Panoptes does not count every instance's history again.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("periskop_keys");
pub const RATE: TableDefinition<(&str, &str, u64), u64> = TableDefinition::new("periskop_rate");
pub const INSTANCES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("periskop_instances");
pub const BASELINES: TableDefinition<(&str, &str, &str), u64> =
    TableDefinition::new("periskop_baselines");

/// One service's changes from one scrape cycle (or one push, or one resolve).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeriskopWrite {
    pub service: String,
    /// Start of the minute the increases belong to.
    pub minute_ms: u64,
    /// Rate rows of the increased keys older than this are deleted (retention on touch: a key's
    /// series is trimmed whenever it grows, so no scan of the whole table is ever needed).
    pub rate_before_ms: u64,
    pub keys: Vec<(String, Vec<u8>)>,
    pub increases: Vec<(String, u64)>,
    pub instances: Vec<(String, Vec<u8>)>,
    pub baselines: Vec<(String, String, u64)>,
    pub removed_instances: Vec<String>,
}

/// Everything needed to rebuild the in-memory aggregates at start-up.
#[derive(Debug, Default)]
pub struct PeriskopSnapshot {
    /// (service, key, record)
    pub keys: Vec<(String, String, Vec<u8>)>,
    /// (service, instance, record)
    pub instances: Vec<(String, String, Vec<u8>)>,
    /// (service, instance, key, count)
    pub baselines: Vec<(String, String, String, u64)>,
}

pub(super) fn apply(tx: &WriteTransaction, w: &PeriskopWrite) -> Result<u64, StoreError> {
    let svc = w.service.as_str();
    if !w.keys.is_empty() {
        let mut t = tx.open_table(KEYS).map_err(StoreError::storage)?;
        for (k, v) in &w.keys {
            t.insert((svc, k.as_str()), v.as_slice())
                .map_err(StoreError::storage)?;
        }
    }
    if !w.increases.is_empty() {
        let mut t = tx.open_table(RATE).map_err(StoreError::storage)?;
        for (k, n) in &w.increases {
            let key = (svc, k.as_str(), w.minute_ms);
            let old = t
                .get(key)
                .map_err(StoreError::storage)?
                .map(|v| v.value())
                .unwrap_or(0);
            t.insert(key, old.saturating_add(*n))
                .map_err(StoreError::storage)?;
            let expired: Vec<u64> = t
                .range((svc, k.as_str(), 0)..(svc, k.as_str(), w.rate_before_ms))
                .map_err(StoreError::storage)?
                .take(1000)
                .filter_map(|row| row.ok().map(|(key, _)| key.value().2))
                .collect();
            for m in expired {
                t.remove((svc, k.as_str(), m))
                    .map_err(StoreError::storage)?;
            }
        }
    }
    let mut removed = 0u64;
    if !w.instances.is_empty() || !w.removed_instances.is_empty() {
        let mut t = tx.open_table(INSTANCES).map_err(StoreError::storage)?;
        for (i, v) in &w.instances {
            t.insert((svc, i.as_str()), v.as_slice())
                .map_err(StoreError::storage)?;
        }
        for i in &w.removed_instances {
            t.remove((svc, i.as_str())).map_err(StoreError::storage)?;
        }
    }
    if !w.baselines.is_empty() || !w.removed_instances.is_empty() {
        let mut t = tx.open_table(BASELINES).map_err(StoreError::storage)?;
        for (i, k, n) in &w.baselines {
            t.insert((svc, i.as_str(), k.as_str()), *n)
                .map_err(StoreError::storage)?;
        }
        for i in &w.removed_instances {
            let keys: Vec<String> = t
                .range((svc, i.as_str(), "")..)
                .map_err(StoreError::storage)?
                .map_while(|row| {
                    let (k, _) = row.ok()?;
                    let (s, inst, key) = k.value();
                    (s == svc && inst == i.as_str()).then(|| key.to_string())
                })
                .collect();
            for k in &keys {
                t.remove((svc, i.as_str(), k.as_str()))
                    .map_err(StoreError::storage)?;
            }
            removed += keys.len() as u64;
        }
    }
    Ok(removed)
}

impl Store {
    /// Every stored key, instance and baseline (start-up only).
    pub fn periskop_snapshot(&self) -> Result<PeriskopSnapshot, StoreError> {
        let txn = self.read_txn()?;
        let mut out = PeriskopSnapshot::default();
        if let Some(t) = missing_is_empty(txn.open_table(KEYS))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (s, key) = k.value();
                out.keys
                    .push((s.to_string(), key.to_string(), v.value().to_vec()));
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(INSTANCES))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (s, i) = k.value();
                out.instances
                    .push((s.to_string(), i.to_string(), v.value().to_vec()));
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(BASELINES))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (s, i, key) = k.value();
                out.baselines
                    .push((s.to_string(), i.to_string(), key.to_string(), v.value()));
            }
        }
        Ok(out)
    }

    /// One service's keys, instances and baselines (to re-read it after a failed write).
    pub fn periskop_service_snapshot(&self, service: &str) -> Result<PeriskopSnapshot, StoreError> {
        let txn = self.read_txn()?;
        let mut out = PeriskopSnapshot::default();
        let svc = service.to_string();
        if let Some(t) = missing_is_empty(txn.open_table(KEYS))? {
            for row in t.range((service, "")..).map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (s, key) = k.value();
                if s != service {
                    break;
                }
                out.keys
                    .push((svc.clone(), key.to_string(), v.value().to_vec()));
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(INSTANCES))? {
            for row in t.range((service, "")..).map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (s, i) = k.value();
                if s != service {
                    break;
                }
                out.instances
                    .push((svc.clone(), i.to_string(), v.value().to_vec()));
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(BASELINES))? {
            for row in t.range((service, "", "")..).map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (s, i, key) = k.value();
                if s != service {
                    break;
                }
                out.baselines
                    .push((svc.clone(), i.to_string(), key.to_string(), v.value()));
            }
        }
        Ok(out)
    }

    /// Per-minute increases of one key since `from_ms`, oldest first: (minute_ms, count).
    pub fn periskop_rate(
        &self,
        service: &str,
        key: &str,
        from_ms: u64,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(RATE))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t
            .range((service, key, from_ms)..=(service, key, u64::MAX))
            .map_err(StoreError::storage)?
        {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().2, v.value()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::StoreMetrics;
    use crate::store::{StoreOptions, Write};

    fn write(minute_ms: u64, rate_before_ms: u64, n: u64) -> Write {
        Write::Periskop(PeriskopWrite {
            service: "svc".into(),
            minute_ms,
            rate_before_ms,
            keys: vec![("K".into(), b"{}".to_vec())],
            increases: vec![("K".into(), n)],
            instances: vec![("i1".into(), b"{}".to_vec())],
            baselines: vec![("i1".into(), "K".into(), n), ("i1".into(), "L".into(), 1)],
            removed_instances: vec![],
        })
    }

    #[tokio::test]
    async fn rates_add_up_per_minute_trim_on_touch_and_instances_prune_with_baselines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default())
            .expect("open");
        store.write(vec![write(60_000, 0, 2)]).await.expect("w1");
        store.write(vec![write(60_000, 0, 3)]).await.expect("w2");
        store.write(vec![write(120_000, 0, 1)]).await.expect("w3");
        assert_eq!(
            store.periskop_rate("svc", "K", 0).expect("rate"),
            vec![(60_000, 5), (120_000, 1)]
        );
        assert_eq!(
            store.periskop_rate("svc", "K", 100_000).expect("rate"),
            vec![(120_000, 1)]
        );
        assert!(
            store
                .periskop_rate("svc", "other", 0)
                .expect("rate")
                .is_empty()
        );
        // A later increase trims that key's rows older than the retention cut-off.
        store
            .write(vec![write(180_000, 100_000, 1)])
            .await
            .expect("w4");
        assert_eq!(
            store.periskop_rate("svc", "K", 0).expect("rate"),
            vec![(120_000, 1), (180_000, 1)]
        );
        let snap = store.periskop_snapshot().expect("snapshot");
        assert_eq!(snap.keys.len(), 1);
        assert_eq!(snap.instances.len(), 1);
        assert_eq!(snap.baselines.len(), 2);
        let removed = store
            .write(vec![Write::Periskop(PeriskopWrite {
                service: "svc".into(),
                removed_instances: vec!["i1".into()],
                ..Default::default()
            })])
            .await
            .expect("prune");
        assert_eq!(removed, 2);
        let snap = store.periskop_snapshot().expect("snapshot");
        assert!(snap.instances.is_empty());
        assert!(snap.baselines.is_empty());
        assert_eq!(snap.keys.len(), 1, "key history stays");
        store.close().await;
    }

    #[tokio::test]
    async fn one_service_is_read_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default())
            .expect("open");
        let mut other = write(60_000, 0, 1);
        if let Write::Periskop(w) = &mut other {
            w.service = "svc-b".into();
        }
        store
            .write(vec![write(60_000, 0, 2), other])
            .await
            .expect("w");
        let snap = store.periskop_service_snapshot("svc").expect("snapshot");
        assert_eq!(
            (snap.keys.len(), snap.instances.len(), snap.baselines.len()),
            (1, 1, 2)
        );
        assert!(snap.keys.iter().all(|(s, _, _)| s == "svc"));
        assert!(
            store
                .periskop_service_snapshot("sv")
                .expect("snapshot")
                .keys
                .is_empty()
        );
        store.close().await;
    }
}
