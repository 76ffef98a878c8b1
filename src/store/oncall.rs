//! Tables for on-call. The store keeps bytes; `crate::oncall` owns what they mean (JSON
//! records). One [`OncallWrite`] carries everything one step of the on-call engine changed.
//!
//! - `oncall_pages` id -> page with its deliveries and timeline
//! - `oncall_overrides` id -> schedule override
//! - `oncall_meta` name -> value: the link-signing key (`link_key`), and contact methods people
//!   set for themselves (`contacts/<user>`, a JSON list). Those live here rather than in a table
//!   of their own because a key-value table already in schema version 8 fits them: no migration,
//!   and backups copy them with the rest of `oncall_meta`.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const PAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("oncall_pages");
pub const OVERRIDES: TableDefinition<u64, &[u8]> = TableDefinition::new("oncall_overrides");
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("oncall_meta");

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OncallWrite {
    pub pages: Vec<(u64, Vec<u8>)>,
    /// Resolved pages past retention; count into the outcome.
    pub removed_pages: Vec<u64>,
    pub overrides: Vec<(u64, Vec<u8>)>,
    pub removed_overrides: Vec<u64>,
    /// Written only where the name has no value yet (the first start's key wins a race).
    pub meta_if_absent: Vec<(String, Vec<u8>)>,
    /// Written whether or not the name has a value.
    pub meta: Vec<(String, Vec<u8>)>,
    pub removed_meta: Vec<String>,
}

pub(super) fn apply(tx: &WriteTransaction, w: &OncallWrite) -> Result<u64, StoreError> {
    let mut removed = 0;
    if !w.pages.is_empty() || !w.removed_pages.is_empty() {
        let mut t = tx.open_table(PAGES).map_err(StoreError::storage)?;
        for (k, v) in &w.pages {
            t.insert(*k, v.as_slice()).map_err(StoreError::storage)?;
        }
        for k in &w.removed_pages {
            if t.remove(*k).map_err(StoreError::storage)?.is_some() {
                removed += 1;
            }
        }
    }
    if !w.overrides.is_empty() || !w.removed_overrides.is_empty() {
        let mut t = tx.open_table(OVERRIDES).map_err(StoreError::storage)?;
        for (k, v) in &w.overrides {
            t.insert(*k, v.as_slice()).map_err(StoreError::storage)?;
        }
        for k in &w.removed_overrides {
            t.remove(*k).map_err(StoreError::storage)?;
        }
    }
    if !w.meta_if_absent.is_empty() || !w.meta.is_empty() || !w.removed_meta.is_empty() {
        let mut t = tx.open_table(META).map_err(StoreError::storage)?;
        for (k, v) in &w.meta_if_absent {
            let exists = t.get(k.as_str()).map_err(StoreError::storage)?.is_some();
            if !exists {
                t.insert(k.as_str(), v.as_slice())
                    .map_err(StoreError::storage)?;
            }
        }
        for (k, v) in &w.meta {
            t.insert(k.as_str(), v.as_slice())
                .map_err(StoreError::storage)?;
        }
        for k in &w.removed_meta {
            t.remove(k.as_str()).map_err(StoreError::storage)?;
        }
    }
    Ok(removed)
}

/// What the on-call engine loads at start.
#[derive(Debug, Default)]
pub struct OncallSnapshot {
    /// Pages not resolved.
    pub open_pages: Vec<Vec<u8>>,
    pub max_page_id: u64,
    pub overrides: Vec<Vec<u8>>,
    pub max_override_id: u64,
}

impl Store {
    /// Open pages (`open` says which records are) and every override (start-up only).
    pub fn oncall_snapshot(
        &self,
        open: impl Fn(&[u8]) -> bool,
    ) -> Result<OncallSnapshot, StoreError> {
        let txn = self.read_txn()?;
        let mut out = OncallSnapshot::default();
        if let Some(t) = missing_is_empty(txn.open_table(PAGES))? {
            if let Some(last) = t.last().map_err(StoreError::storage)? {
                out.max_page_id = last.0.value();
            }
            for row in t.iter().map_err(StoreError::storage)? {
                let (_, v) = row.map_err(StoreError::storage)?;
                if open(v.value()) {
                    out.open_pages.push(v.value().to_vec());
                }
            }
        }
        if let Some(t) = missing_is_empty(txn.open_table(OVERRIDES))? {
            if let Some(last) = t.last().map_err(StoreError::storage)? {
                out.max_override_id = last.0.value();
            }
            for row in t.iter().map_err(StoreError::storage)? {
                let (_, v) = row.map_err(StoreError::storage)?;
                out.overrides.push(v.value().to_vec());
            }
        }
        Ok(out)
    }

    /// Pages from newest to oldest, ids below `before`, at most `limit`.
    pub fn oncall_pages(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(PAGES))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t
            .range(..before.unwrap_or(u64::MAX))
            .map_err(StoreError::storage)?
            .rev()
            .take(limit)
        {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    pub fn oncall_page(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(PAGES))? else {
            return Ok(None);
        };
        Ok(t.get(id)
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_vec()))
    }

    /// Up to `limit` page ids (oldest first) that `expired` says may go.
    pub fn oncall_expired_pages(
        &self,
        limit: usize,
        expired: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u64>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(PAGES))? else {
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

    pub fn oncall_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(META))? else {
            return Ok(None);
        };
        Ok(t.get(name)
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_vec()))
    }

    /// Every `oncall_meta` entry whose name starts with `prefix`, in name order.
    pub fn oncall_meta_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(META))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.range(prefix..).map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreOptions, Write};

    #[tokio::test]
    async fn meta_entries_are_replaced_removed_and_listed_by_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            Store::open(dir.path(), StoreOptions::default(), Default::default()).expect("store");
        let w = |o: OncallWrite| store.write(vec![Write::Oncall(o)]);
        w(OncallWrite {
            meta_if_absent: vec![("link_key".into(), b"k1".to_vec())],
            meta: vec![
                ("contacts/ana".into(), b"[1]".to_vec()),
                ("contacts/ben".into(), b"[2]".to_vec()),
            ],
            ..Default::default()
        })
        .await
        .expect("write");
        w(OncallWrite {
            meta_if_absent: vec![("link_key".into(), b"k2".to_vec())],
            meta: vec![("contacts/ana".into(), b"[3]".to_vec())],
            removed_meta: vec!["contacts/ben".into()],
            ..Default::default()
        })
        .await
        .expect("write");
        assert_eq!(
            store.oncall_meta("link_key").expect("meta"),
            Some(b"k1".to_vec()),
            "the key is written once"
        );
        assert_eq!(
            store.oncall_meta_prefix("contacts/").expect("prefix"),
            [("contacts/ana".to_string(), b"[3]".to_vec())]
        );
        assert!(
            store
                .oncall_meta_prefix("nobody/")
                .expect("prefix")
                .is_empty()
        );
    }
}
