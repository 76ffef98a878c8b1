//! The status pages' table. The store keeps bytes; `crate::statuspage` owns what they mean
//! (JSON incidents with their updates).
//!
//! - `status_incidents` id -> incident or scheduled maintenance, with every update

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("status_incidents");

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusWrite {
    pub incidents: Vec<(u64, Vec<u8>)>,
    pub removed: Vec<u64>,
}

pub(super) fn apply(tx: &WriteTransaction, w: &StatusWrite) -> Result<u64, StoreError> {
    let mut removed = 0;
    let mut t = tx.open_table(INCIDENTS).map_err(StoreError::storage)?;
    for (k, v) in &w.incidents {
        t.insert(*k, v.as_slice()).map_err(StoreError::storage)?;
    }
    for k in &w.removed {
        if t.remove(*k).map_err(StoreError::storage)?.is_some() {
            removed += 1;
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
}
