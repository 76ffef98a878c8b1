//! Probing agents' tables. The store keeps bytes; `crate::agent` owns what they mean.
//!
//! - `agents` name -> agent record (JSON: location, token hash, progress, last seen)
//! - `agent_tokens` SHA-256 (hex) of an agent token -> agent name

use redb::{TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");
pub const TOKENS: TableDefinition<&str, &str> = TableDefinition::new("agent_tokens");

#[derive(Debug, Clone, PartialEq)]
pub enum AgentsWrite {
    /// Creates or updates an agent; with `token_hash`, also registers its token.
    Put {
        name: String,
        record: Vec<u8>,
        token_hash: Option<String>,
    },
    /// Removes an agent and its token (revocation). Counts 1 when it existed.
    Remove { name: String, token_hash: String },
}

pub(super) fn apply(tx: &WriteTransaction, w: &AgentsWrite) -> Result<u64, StoreError> {
    match w {
        AgentsWrite::Put {
            name,
            record,
            token_hash,
        } => {
            tx.open_table(AGENTS)
                .map_err(StoreError::storage)?
                .insert(name.as_str(), record.as_slice())
                .map_err(StoreError::storage)?;
            if let Some(h) = token_hash {
                tx.open_table(TOKENS)
                    .map_err(StoreError::storage)?
                    .insert(h.as_str(), name.as_str())
                    .map_err(StoreError::storage)?;
            }
            Ok(0)
        }
        AgentsWrite::Remove { name, token_hash } => {
            tx.open_table(TOKENS)
                .map_err(StoreError::storage)?
                .remove(token_hash.as_str())
                .map_err(StoreError::storage)?;
            let existed = tx
                .open_table(AGENTS)
                .map_err(StoreError::storage)?
                .remove(name.as_str())
                .map_err(StoreError::storage)?
                .is_some();
            Ok(u64::from(existed))
        }
    }
}

impl Store {
    /// Agents by name, after `after`, at most `limit`.
    pub fn agents(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(AGENTS))? else {
            return Ok(Vec::new());
        };
        let rows = match after {
            Some(a) => t.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => t.range::<&str>(..),
        }
        .map_err(StoreError::storage)?;
        let mut out = Vec::new();
        for row in rows.take(limit) {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    pub fn agent(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(AGENTS))? else {
            return Ok(None);
        };
        Ok(t.get(name)
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_vec()))
    }

    /// The agent a token hash belongs to.
    pub fn agent_by_token(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(TOKENS))? else {
            return Ok(None);
        };
        Ok(t.get(hash)
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_string()))
    }
}
