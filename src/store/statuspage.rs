//! The status pages' table. The store keeps bytes; `crate::statuspage` owns what they mean
//! (JSON incidents with their updates).
//!
//! - `status_incidents` id -> incident or scheduled maintenance, with every update
//! - `status_subscribers` token -> e-mail subscriber (pending or confirmed)
//! - `status_outbox` id -> an e-mail waiting to go out (removed once sent)

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("status_incidents");
pub const SUBSCRIBERS: TableDefinition<&str, &[u8]> = TableDefinition::new("status_subscribers");
pub const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("status_outbox");

/// Everything one change of the status pages writes, in one transaction (an incident update
/// and the e-mails it causes are durable together).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusWrite {
    pub incidents: Vec<(u64, Vec<u8>)>,
    pub removed: Vec<u64>,
    pub subscribers: Vec<(String, Vec<u8>)>,
    pub removed_subscribers: Vec<String>,
    pub mails: Vec<(u64, Vec<u8>)>,
    pub removed_mails: Vec<u64>,
}

pub(super) fn apply(tx: &WriteTransaction, w: &StatusWrite) -> Result<u64, StoreError> {
    let mut removed = 0;
    if !w.incidents.is_empty() || !w.removed.is_empty() {
        let mut t = tx.open_table(INCIDENTS).map_err(StoreError::storage)?;
        for (k, v) in &w.incidents {
            t.insert(*k, v.as_slice()).map_err(StoreError::storage)?;
        }
        for k in &w.removed {
            if t.remove(*k).map_err(StoreError::storage)?.is_some() {
                removed += 1;
            }
        }
    }
    if !w.subscribers.is_empty() || !w.removed_subscribers.is_empty() {
        let mut t = tx.open_table(SUBSCRIBERS).map_err(StoreError::storage)?;
        for (k, v) in &w.subscribers {
            t.insert(k.as_str(), v.as_slice())
                .map_err(StoreError::storage)?;
        }
        for k in &w.removed_subscribers {
            t.remove(k.as_str()).map_err(StoreError::storage)?;
        }
    }
    if !w.mails.is_empty() || !w.removed_mails.is_empty() {
        let mut t = tx.open_table(OUTBOX).map_err(StoreError::storage)?;
        for (k, v) in &w.mails {
            t.insert(*k, v.as_slice()).map_err(StoreError::storage)?;
        }
        for k in &w.removed_mails {
            t.remove(*k).map_err(StoreError::storage)?;
        }
    }
    Ok(removed)
}

impl Store {
    /// Every incident, oldest first (start-up only: the engine keeps them in memory).
    pub fn status_incidents(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let mut out = Vec::new();
        if let Some(t) = missing_is_empty(txn.open_table(INCIDENTS))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                out.push((k.value(), v.value().to_vec()));
            }
        }
        Ok(out)
    }

    /// Every subscriber (start-up only).
    pub fn status_subscribers(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let mut out = Vec::new();
        if let Some(t) = missing_is_empty(txn.open_table(SUBSCRIBERS))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (_, v) = row.map_err(StoreError::storage)?;
                out.push(v.value().to_vec());
            }
        }
        Ok(out)
    }

    /// Every mail not yet sent, oldest first (start-up only).
    pub fn status_outbox(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let mut out = Vec::new();
        if let Some(t) = missing_is_empty(txn.open_table(OUTBOX))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                out.push((k.value(), v.value().to_vec()));
            }
        }
        Ok(out)
    }
}
