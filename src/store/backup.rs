//! Online backup: a consistent copy of every table into a new data file, taken from one MVCC
//! read snapshot, so the server keeps accepting writes while it runs (the writer never waits for
//! it). Restoring is starting Panoptes on the copy.
//!
//! Every live table is listed in [`copy_all`]; a test fills every table and checks the copy
//! holds each one (`list_tables` of the source and the copy agree), so a table added later
//! without its line here fails the suite rather than vanishing from backups.

use std::path::Path;

use redb::{
    Database, Durability, Key, ReadTransaction, ReadableDatabase, TableDefinition, Value,
    WriteTransaction,
};

use super::{Store, StoreError, missing_is_empty, open_database};
use super::{agents, alerts, oncall, periskop, probes, sentry, statuspage, tables};

/// What a backup copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackupStats {
    pub tables: u64,
    pub rows: u64,
}

fn copy<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    def: TableDefinition<K, V>,
    stats: &mut BackupStats,
) -> Result<(), StoreError> {
    use redb::ReadableTable;
    let Some(src) = missing_is_empty(from.open_table(def))? else {
        return Ok(());
    };
    let mut dst = to.open_table(def).map_err(StoreError::storage)?;
    for row in src.iter().map_err(StoreError::storage)? {
        let (k, v) = row.map_err(StoreError::storage)?;
        dst.insert(k.value(), v.value())
            .map_err(StoreError::storage)?;
        stats.rows += 1;
    }
    stats.tables += 1;
    Ok(())
}

/// Copies every table of the snapshot `from` into `to`.
fn copy_all(from: &ReadTransaction, to: &WriteTransaction) -> Result<BackupStats, StoreError> {
    let mut s = BackupStats::default();
    copy(from, to, tables::META, &mut s)?;
    copy(from, to, tables::AUDIT, &mut s)?;
    copy(from, to, tables::USERS, &mut s)?;
    copy(from, to, tables::TOKENS, &mut s)?;
    copy(from, to, tables::SESSIONS, &mut s)?;
    copy(from, to, probes::IDS, &mut s)?;
    copy(from, to, probes::RESULTS, &mut s)?;
    copy(from, to, probes::ROLLUPS, &mut s)?;
    copy(from, to, probes::STATE, &mut s)?;
    copy(from, to, periskop::KEYS, &mut s)?;
    copy(from, to, periskop::RATE, &mut s)?;
    copy(from, to, periskop::INSTANCES, &mut s)?;
    copy(from, to, periskop::BASELINES, &mut s)?;
    copy(from, to, sentry::INBOX, &mut s)?;
    copy(from, to, sentry::ISSUES, &mut s)?;
    copy(from, to, sentry::GROUPS, &mut s)?;
    copy(from, to, sentry::EVENTS, &mut s)?;
    copy(from, to, sentry::EVENT_ISSUE, &mut s)?;
    copy(from, to, sentry::ISSUE_EVENTS, &mut s)?;
    copy(from, to, sentry::EVENT_TIMES, &mut s)?;
    copy(from, to, sentry::ISSUE_USERS, &mut s)?;
    copy(from, to, sentry::ATTACHMENTS, &mut s)?;
    copy(from, to, sentry::COUNTS, &mut s)?;
    copy(from, to, alerts::INSTANCES, &mut s)?;
    copy(from, to, alerts::HISTORY, &mut s)?;
    copy(from, to, alerts::GROUPS, &mut s)?;
    copy(from, to, alerts::SILENCES, &mut s)?;
    copy(from, to, alerts::NOTIFICATIONS, &mut s)?;
    copy(from, to, oncall::PAGES, &mut s)?;
    copy(from, to, oncall::OVERRIDES, &mut s)?;
    copy(from, to, oncall::META, &mut s)?;
    copy(from, to, statuspage::INCIDENTS, &mut s)?;
    copy(from, to, statuspage::SUBSCRIBERS, &mut s)?;
    copy(from, to, statuspage::OUTBOX, &mut s)?;
    copy(from, to, agents::AGENTS, &mut s)?;
    copy(from, to, agents::TOKENS, &mut s)?;
    Ok(s)
}

/// Writes a consistent copy of `db` to a new file at `dest` (which must not exist).
fn backup_db(db: &Database, dest: &Path) -> Result<BackupStats, StoreError> {
    if dest.exists() {
        return Err(StoreError::Io {
            path: dest.display().to_string(),
            detail: "already exists; a backup never overwrites a file".into(),
        });
    }
    let snapshot = db.begin_read().map_err(StoreError::storage)?;
    let copy_db = open_database(dest, 16 * 1024 * 1024)?;
    let mut tx = copy_db.begin_write().map_err(StoreError::storage)?;
    tx.set_durability(Durability::Immediate)
        .map_err(StoreError::storage)?;
    let stats = copy_all(&snapshot, &tx)?;
    tx.commit().map_err(StoreError::storage)?;
    Ok(stats)
}

impl Store {
    /// Copies the store as of now into a new data file at `dest`, on the blocking pool. Writes
    /// committed after the copy's snapshot was taken are not in it; the server keeps writing
    /// meanwhile.
    pub async fn backup(&self, dest: &Path) -> Result<BackupStats, StoreError> {
        let store = self.clone();
        let dest = dest.to_path_buf();
        tokio::task::spawn_blocking(move || backup_db(&store.inner.db, &dest))
            .await
            .map_err(|e| StoreError::Storage(format!("backup task failed: {e}")))?
    }

    /// The names of the tables in the data file (for checks of the backup's coverage).
    pub fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.read_txn()?;
        let mut out: Vec<String> = txn
            .list_tables()
            .map_err(StoreError::storage)?
            .map(|t| redb::TableHandle::name(&t).to_string())
            .collect();
        out.sort();
        Ok(out)
    }
}

/// Copies a data file that no server holds open (`panoptes backup` with the server stopped).
pub fn backup_offline(source: &Path, dest: &Path) -> Result<BackupStats, StoreError> {
    if !source.exists() {
        return Err(StoreError::Io {
            path: source.display().to_string(),
            detail: "no such data file".into(),
        });
    }
    let db = open_database(source, 16 * 1024 * 1024)?;
    backup_db(&db, dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::StoreMetrics;
    use crate::store::{StoreOptions, Write};

    /// Migrations create every table, so a fresh file lists them all: its copy must list the
    /// same. A table added without its line in `copy_all` fails here.
    #[tokio::test]
    async fn a_backup_has_every_table_and_every_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default())
            .expect("open");
        store
            .write(vec![Write::Audit {
                at_ms: 1,
                record: crate::store::AuditRecord {
                    actor: "t".into(),
                    action: "backup.test".into(),
                    detail: "x".into(),
                },
            }])
            .await
            .expect("write");
        store
            .write(vec![Write::Probe(probes::ProbeWrite::AssignIds(vec![(
                "api".into(),
                1,
            )]))])
            .await
            .expect("write");
        let dest = dir.path().join("copy.redb");
        let stats = store.backup(&dest).await.expect("backup");
        assert!(stats.rows >= 3, "{stats:?}");
        let names = store.table_names().expect("names");
        store.close().await;
        let copy_dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&dest, copy_dir.path().join(super::super::DATA_FILE)).expect("copy");
        let copy = Store::open(
            copy_dir.path(),
            StoreOptions::default(),
            StoreMetrics::default(),
        )
        .expect("open the copy");
        assert_eq!(copy.table_names().expect("names"), names);
        assert_eq!(
            copy.audit(None, 10).expect("audit")[0].1.action,
            "backup.test"
        );
        assert_eq!(copy.probe_ids().expect("ids").get("api"), Some(&1));
        assert!(
            store.backup(&dest).await.is_err(),
            "a backup never overwrites a file"
        );
        copy.close().await;
    }
}
