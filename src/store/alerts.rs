//! Tables for alerting. The store keeps bytes; `crate::alerts` owns what they mean (JSON
//! records). Everything one alerting step changes goes in one [`AlertsWrite`], so an alert's
//! state, its group's state and the notifications a flush queued commit together or not at all.
//!
//! - `alerts_instances` fingerprint -> pending or firing alert
//! - `alerts_history` (unix ms, fingerprint) -> an alert that fired and resolved
//! - `alerts_groups` group key -> what the group last notified and when
//! - `alerts_silences` id -> silence (expired ones stay until retention)
//! - `alerts_notifications` id -> one delivery to one receiver channel, with its attempts

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const INSTANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_instances");
pub const HISTORY: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("alerts_history");
pub const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_groups");
pub const SILENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_silences");
pub const NOTIFICATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts_notifications");

/// One alerting step's changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertsWrite {
    pub instances: Vec<(String, Vec<u8>)>,
    pub removed_instances: Vec<String>,
    pub history: Vec<(u64, String, Vec<u8>)>,
    pub groups: Vec<(String, Vec<u8>)>,
    pub removed_groups: Vec<String>,
    pub silences: Vec<(String, Vec<u8>)>,
    pub notifications: Vec<(u64, Vec<u8>)>,
    /// Deletes up to `.1` history rows older than `.0` (retention); counts into the outcome.
    pub prune_history: Option<(u64, usize)>,
    /// Finished notifications and expired silences to delete (retention); count into the
    /// outcome.
    pub removed_notifications: Vec<u64>,
    pub removed_silences: Vec<String>,
}

pub(super) fn apply(tx: &WriteTransaction, w: &AlertsWrite) -> Result<u64, StoreError> {
    if !w.instances.is_empty() || !w.removed_instances.is_empty() {
        let mut t = tx.open_table(INSTANCES).map_err(StoreError::storage)?;
        for (k, v) in &w.instances {
            t.insert(k.as_str(), v.as_slice())
                .map_err(StoreError::storage)?;
        }
        for k in &w.removed_instances {
            t.remove(k.as_str()).map_err(StoreError::storage)?;
        }
    }
    let mut removed = 0u64;
    if !w.history.is_empty() || w.prune_history.is_some() {
        let mut t = tx.open_table(HISTORY).map_err(StoreError::storage)?;
        for (at, k, v) in &w.history {
            t.insert((*at, k.as_str()), v.as_slice())
                .map_err(StoreError::storage)?;
        }
        if let Some((before, limit)) = w.prune_history {
            let old: Vec<(u64, String)> = t
                .range((0, "")..(before, ""))
                .map_err(StoreError::storage)?
                .take(limit)
                .filter_map(|row| {
                    let (k, _) = row.ok()?;
                    let (at, f) = k.value();
                    Some((at, f.to_string()))
                })
                .collect();
            for (at, f) in &old {
                t.remove((*at, f.as_str())).map_err(StoreError::storage)?;
            }
            removed += old.len() as u64;
        }
    }
    if !w.groups.is_empty() || !w.removed_groups.is_empty() {
        let mut t = tx.open_table(GROUPS).map_err(StoreError::storage)?;
        for (k, v) in &w.groups {
            t.insert(k.as_str(), v.as_slice())
                .map_err(StoreError::storage)?;
        }
        for k in &w.removed_groups {
            t.remove(k.as_str()).map_err(StoreError::storage)?;
        }
    }
    if !w.silences.is_empty() || !w.removed_silences.is_empty() {
        let mut t = tx.open_table(SILENCES).map_err(StoreError::storage)?;
        for (k, v) in &w.silences {
            t.insert(k.as_str(), v.as_slice())
                .map_err(StoreError::storage)?;
        }
        for k in &w.removed_silences {
            if t.remove(k.as_str()).map_err(StoreError::storage)?.is_some() {
                removed += 1;
            }
        }
    }
    if !w.notifications.is_empty() || !w.removed_notifications.is_empty() {
        let mut t = tx.open_table(NOTIFICATIONS).map_err(StoreError::storage)?;
        for (k, v) in &w.notifications {
            t.insert(*k, v.as_slice()).map_err(StoreError::storage)?;
        }
        for k in &w.removed_notifications {
            if t.remove(*k).map_err(StoreError::storage)?.is_some() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// A history row: its key (resolved at, fingerprint) and record.
pub type HistoryRow = ((u64, String), Vec<u8>);

/// Everything alerting reloads at start-up.
#[derive(Debug, Default)]
pub struct AlertsSnapshot {
    pub instances: Vec<Vec<u8>>,
    pub groups: Vec<(String, Vec<u8>)>,
    pub silences: Vec<Vec<u8>>,
    /// Notifications not finished (the engine decides from the record), with the highest id.
    pub notifications: Vec<(u64, Vec<u8>)>,
    pub max_notification_id: u64,
}

impl Store {
    /// Instances, groups, silences and notifications (start-up only). `open_notification`
    /// says which notification records are still to be delivered.
    pub fn alerts_snapshot(
        &self,
        open_notification: impl Fn(&[u8]) -> bool,
    ) -> Result<AlertsSnapshot, StoreError> {
        let txn = self.read_txn()?;
        let mut out = AlertsSnapshot::default();
        if let Some(t) = missing_is_empty(txn.open_table(INSTANCES))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (_, v) = row.map_err(StoreError::storage)?;
                out.instances.push(v.value().to_vec());
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(GROUPS))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                out.groups.push((k.value().to_string(), v.value().to_vec()));
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(SILENCES))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (_, v) = row.map_err(StoreError::storage)?;
                out.silences.push(v.value().to_vec());
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(NOTIFICATIONS))? {
            if let Some(last) = t.last().map_err(StoreError::storage)? {
                out.max_notification_id = last.0.value();
            }
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                if open_notification(v.value()) {
                    out.notifications.push((k.value(), v.value().to_vec()));
                }
            }
        }
        Ok(out)
    }

    /// History rows from newest to oldest, starting before `before` (exclusive; `None`: the
    /// newest), at most `limit`.
    pub fn alerts_history(
        &self,
        before: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(HISTORY))? else {
            return Ok(Vec::new());
        };
        let rows = match &before {
            Some((at, f)) => t.range(..(*at, f.as_str())),
            None => t.range::<(u64, &str)>(..),
        }
        .map_err(StoreError::storage)?;
        let mut out = Vec::new();
        for row in rows.rev().take(limit) {
            let (k, v) = row.map_err(StoreError::storage)?;
            let (at, f) = k.value();
            out.push(((at, f.to_string()), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Notifications from newest to oldest, ids below `before`, at most `limit`.
    pub fn alerts_notifications(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(NOTIFICATIONS))? else {
            return Ok(Vec::new());
        };
        let rows = t
            .range(..before.unwrap_or(u64::MAX))
            .map_err(StoreError::storage)?;
        let mut out = Vec::new();
        for row in rows.rev().take(limit) {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// One notification.
    pub fn alerts_notification(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(NOTIFICATIONS))? else {
            return Ok(None);
        };
        Ok(t.get(id)
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_vec()))
    }

    /// Up to `limit` notification ids (oldest first) whose records `expired` says are done
    /// and old enough to delete.
    pub fn alerts_expired_notifications(
        &self,
        limit: usize,
        expired: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u64>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(NOTIFICATIONS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            if expired(v.value()) {
                out.push(k.value());
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}
