//! Invites: one-time links that let someone create their own user with a given role. The
//! store keeps them by the SHA-256 of their token (never the token); `auth::invites` owns what
//! they mean (expiry, single use).
//!
//! - `invites` SHA-256 (hex) of the invite token -> `InviteRecord` JSON

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::probes::{put_named, remove_named};
use super::records::{self, InviteRecord};
use super::{Store, StoreError, missing_is_empty};

pub const INVITES: TableDefinition<&str, &[u8]> = TableDefinition::new("invites");

#[derive(Debug, Clone)]
pub enum InvitesWrite {
    /// Creates or replaces (marks used) an invite.
    Put { hash: String, record: InviteRecord },
    /// Removes one (revocation, or pruning an old one); counts 1 when it existed.
    Remove { hash: String },
}

pub(super) fn apply(tx: &WriteTransaction, w: &InvitesWrite) -> Result<u64, StoreError> {
    match w {
        InvitesWrite::Put { hash, record } => {
            put_named(tx, INVITES, hash, &records::encode(record))
        }
        InvitesWrite::Remove { hash } => remove_named(tx, INVITES, hash),
    }
}

impl Store {
    /// The invite a token hash names.
    pub fn invite(&self, hash: &str) -> Result<Option<InviteRecord>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(INVITES))? else {
            return Ok(None);
        };
        let value = t.get(hash).map_err(StoreError::storage)?;
        value.map(|v| records::decode(v.value())).transpose()
    }

    /// Every invite (used and expired ones included), by token hash.
    pub fn invites(&self) -> Result<Vec<(String, InviteRecord)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(INVITES))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().to_string(), records::decode(v.value())?));
        }
        Ok(out)
    }
}
