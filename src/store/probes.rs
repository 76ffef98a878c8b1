//! Probe data: monitor ids, raw results (append-only, keyed by monitor and time), roll-ups per
//! resolution and bucket, each monitor's state snapshot for restarts, and the monitors created
//! through the API (`probe::managed` owns what their records mean).

use std::collections::HashMap;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty, results};

/// Monitor name -> stable numeric id (names survive reloads; ids key every other table).
pub const IDS: TableDefinition<&str, u32> = TableDefinition::new("probe_ids");
/// (monitor id, chunk start unix ms) -> that monitor's `ResultRecord`s from then on, packed
/// (`chunk.rs`: ~1 KiB of results, each with its time). Appended to; `results.rs` reads them.
pub const RESULTS: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("probe_result_chunks");
/// (monitor id, resolution, bucket start ms) -> `Rollup` bytes.
pub const ROLLUPS: TableDefinition<(u32, u8, u64), &[u8]> = TableDefinition::new("probe_rollups");
/// Monitor id -> JSON snapshot of the state machine and last check.
pub const STATE: TableDefinition<u32, &[u8]> = TableDefinition::new("probe_state");
/// Monitor name -> record of a monitor created through the API (JSON: its fields as the config
/// names them, who and when). Config-declared monitors are never here.
pub const MANAGED: TableDefinition<&str, &[u8]> = TableDefinition::new("probe_managed");
/// Window name -> record of a maintenance window created through the API (JSON, as `MANAGED`).
pub const WINDOWS: TableDefinition<&str, &[u8]> = TableDefinition::new("probe_windows");

#[derive(Debug, Clone)]
pub enum ProbeWrite {
    AssignIds(Vec<(String, u32)>),
    /// Creates or replaces a monitor managed through the API.
    PutManaged {
        name: String,
        record: Vec<u8>,
    },
    /// Deletes one; counts 1 when it existed. Its results stay until retention removes them.
    RemoveManaged {
        name: String,
    },
    /// Creates or replaces a maintenance window managed through the API.
    PutWindow {
        name: String,
        record: Vec<u8>,
    },
    /// Deletes one; counts 1 when it existed.
    RemoveWindow {
        name: String,
    },
    Result {
        id: u32,
        at_ms: u64,
        record: Vec<u8>,
        /// (resolution, bucket start, encoded roll-up) for every resolution.
        rollups: Vec<(u8, u64, Vec<u8>)>,
        snapshot: Vec<u8>,
    },
    /// Deletes up to `limit` rows older than `before_ms` for each monitor in `ids`, from the raw
    /// results (`resolution: None`) or one roll-up resolution.
    Prune {
        ids: Vec<u32>,
        resolution: Option<u8>,
        before_ms: u64,
        limit: usize,
    },
}

/// Inserts a record of something made through the API (a monitor, a window, an invite) by
/// name.
pub(super) fn put_named(
    tx: &WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    name: &str,
    record: &[u8],
) -> Result<u64, StoreError> {
    tx.open_table(table)
        .map_err(StoreError::storage)?
        .insert(name, record)
        .map_err(StoreError::storage)?;
    Ok(0)
}

/// Removes one; counts 1 when it existed.
pub(super) fn remove_named(
    tx: &WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    name: &str,
) -> Result<u64, StoreError> {
    let existed = tx
        .open_table(table)
        .map_err(StoreError::storage)?
        .remove(name)
        .map_err(StoreError::storage)?
        .is_some();
    Ok(u64::from(existed))
}

pub(super) fn apply(tx: &WriteTransaction, w: &ProbeWrite) -> Result<u64, StoreError> {
    match w {
        ProbeWrite::AssignIds(pairs) => {
            let mut t = tx.open_table(IDS).map_err(StoreError::storage)?;
            for (name, id) in pairs {
                t.insert(name.as_str(), *id).map_err(StoreError::storage)?;
            }
            Ok(0)
        }
        ProbeWrite::PutManaged { name, record } => put_named(tx, MANAGED, name, record),
        ProbeWrite::PutWindow { name, record } => put_named(tx, WINDOWS, name, record),
        ProbeWrite::RemoveManaged { name } => remove_named(tx, MANAGED, name),
        ProbeWrite::RemoveWindow { name } => remove_named(tx, WINDOWS, name),
        ProbeWrite::Result {
            id,
            at_ms,
            record,
            rollups,
            snapshot,
        } => {
            let mut t = tx.open_table(RESULTS).map_err(StoreError::storage)?;
            results::put(&mut t, *id, *at_ms, record)?;
            let mut r = tx.open_table(ROLLUPS).map_err(StoreError::storage)?;
            for (res, bucket, bytes) in rollups {
                r.insert((*id, *res, *bucket), bytes.as_slice())
                    .map_err(StoreError::storage)?;
            }
            tx.open_table(STATE)
                .map_err(StoreError::storage)?
                .insert(*id, snapshot.as_slice())
                .map_err(StoreError::storage)?;
            Ok(0)
        }
        ProbeWrite::Prune {
            ids,
            resolution,
            before_ms,
            limit,
        } => {
            let mut removed = 0u64;
            match resolution {
                None => {
                    let mut t = tx.open_table(RESULTS).map_err(StoreError::storage)?;
                    for id in ids {
                        let budget = (*limit as u64).saturating_sub(removed);
                        if budget == 0 {
                            break;
                        }
                        removed += results::prune(&mut t, *id, *before_ms, budget)?;
                    }
                }
                Some(res) => {
                    let mut t = tx.open_table(ROLLUPS).map_err(StoreError::storage)?;
                    for id in ids {
                        let keys: Vec<(u32, u8, u64)> = t
                            .range((*id, *res, 0)..(*id, *res, *before_ms))
                            .map_err(StoreError::storage)?
                            .take(limit.saturating_sub(removed as usize))
                            .filter_map(|r| r.ok().map(|(k, _)| k.value()))
                            .collect();
                        for k in keys {
                            t.remove(k).map_err(StoreError::storage)?;
                            removed += 1;
                        }
                    }
                }
            }
            Ok(removed)
        }
    }
}

impl Store {
    pub fn probe_ids(&self) -> Result<HashMap<String, u32>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(IDS))? else {
            return Ok(HashMap::new());
        };
        let mut out = HashMap::new();
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.insert(k.value().to_string(), v.value());
        }
        Ok(out)
    }

    /// Raw results of one monitor in `[from_ms, to_ms)`, oldest first, at most `limit`.
    pub fn probe_results(
        &self,
        id: u32,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.results_of(id, from_ms, to_ms, limit, false)
    }

    /// Up to `limit` of a monitor's raw results in `[from_ms, to_ms)`, the newest first.
    pub fn probe_results_newest(
        &self,
        id: u32,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.results_of(id, from_ms, to_ms, limit, true)
    }

    fn results_of(
        &self,
        id: u32,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(RESULTS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        results::scan(&t, id, from_ms, to_ms, newest_first, |ms, record| {
            if out.len() >= limit {
                return false;
            }
            out.push((ms, record.to_vec()));
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Raw results of every monitor stamped in `[from_ms, to_ms)`, by monitor then time (one
    /// read transaction: a consistent cut for remote-write).
    /// Each stored result's (series id, time, encoded size) in `[from_ms, to_ms)`, without
    /// copying the results (the agent measures its spool so).
    pub fn probe_result_sizes_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<(u32, u64, usize)>, StoreError> {
        let txn = self.read_txn()?;
        let (Some(ids), Some(t)) = (
            missing_is_empty(txn.open_table(IDS))?,
            missing_is_empty(txn.open_table(RESULTS))?,
        ) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in ids.iter().map_err(StoreError::storage)? {
            let id = row.map_err(StoreError::storage)?.1.value();
            results::scan(&t, id, from_ms, to_ms, false, |ms, record| {
                out.push((id, ms, record.len()));
                true
            })?;
        }
        Ok(out)
    }

    pub fn probe_results_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<(u32, u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let (Some(ids), Some(t)) = (
            missing_is_empty(txn.open_table(IDS))?,
            missing_is_empty(txn.open_table(RESULTS))?,
        ) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in ids.iter().map_err(StoreError::storage)? {
            let id = row.map_err(StoreError::storage)?.1.value();
            results::scan(&t, id, from_ms, to_ms, false, |ms, record| {
                out.push((id, ms, record.to_vec()));
                true
            })?;
        }
        Ok(out)
    }

    /// Roll-ups of one monitor and resolution with bucket start in `[from_ms, to_ms)`.
    pub fn probe_rollups(
        &self,
        id: u32,
        resolution: u8,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(ROLLUPS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t
            .range((id, resolution, from_ms)..(id, resolution, to_ms.max(from_ms)))
            .map_err(StoreError::storage)?
        {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().2, v.value().to_vec()));
        }
        Ok(out)
    }

    /// Every monitor managed through the API, by name.
    pub fn managed_monitors(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.named_rows(MANAGED)
    }

    /// Every maintenance window managed through the API, by name.
    pub fn managed_windows(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.named_rows(WINDOWS)
    }

    fn named_rows(
        &self,
        table: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(table))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    pub fn probe_state(&self, id: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(STATE))? else {
            return Ok(None);
        };
        Ok(t.get(id)
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_vec()))
    }

    /// What monitors' runtimes are rebuilt from at start, for many monitors in one read
    /// transaction (one per read made 250,000 of them at 50,000 monitors and most of the
    /// start-up time): per id, its state snapshot and its roll-up rows in each of `ranges`
    /// (`(resolution, from_ms, to_ms)`), in the order of `ids` and `ranges`.
    pub fn probe_restore(
        &self,
        ids: &[u32],
        ranges: &[(u8, u64, u64)],
    ) -> Result<Vec<StoredRuntime>, StoreError> {
        let txn = self.read_txn()?;
        let state = missing_is_empty(txn.open_table(STATE))?;
        let rollups = missing_is_empty(txn.open_table(ROLLUPS))?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let snapshot = match &state {
                Some(t) => t
                    .get(id)
                    .map_err(StoreError::storage)?
                    .map(|v| v.value().to_vec()),
                None => None,
            };
            let mut rows = Vec::with_capacity(ranges.len());
            for &(res, from, to) in ranges {
                let mut r = Vec::new();
                if let Some(t) = &rollups {
                    for row in t
                        .range((id, res, from)..(id, res, to.max(from)))
                        .map_err(StoreError::storage)?
                    {
                        let (k, v) = row.map_err(StoreError::storage)?;
                        r.push((k.value().2, v.value().to_vec()));
                    }
                }
                rows.push(r);
            }
            out.push(StoredRuntime {
                state: snapshot,
                rollups: rows,
            });
        }
        Ok(out)
    }

    /// (results, stored key+value bytes, b-tree metadata bytes) of the raw results table, for
    /// the storage benchmark.
    pub fn probe_results_stats(&self) -> Result<(u64, u64, u64), StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(RESULTS))? else {
            return Ok((0, 0, 0));
        };
        let stats = t.stats().map_err(StoreError::storage)?;
        Ok((
            results::count(&t)?,
            stats.stored_bytes(),
            stats.metadata_bytes(),
        ))
    }
}

/// A monitor's stored state snapshot and roll-up rows (see [`Store::probe_restore`]).
#[derive(Debug, Default)]
pub struct StoredRuntime {
    pub state: Option<Vec<u8>>,
    /// Per requested range, its `(bucket_ms, encoded roll-up)` rows.
    pub rollups: Vec<Vec<(u64, Vec<u8>)>>,
}
