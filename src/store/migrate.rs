//! Runs the migrations in `migrations/` at open, one transaction per version.

use redb::{Database, ReadableDatabase, TableError};
use tracing::info;

use super::StoreError;
use super::tables::{META, SCHEMA_VERSION_KEY};

#[path = "../../migrations/mod.rs"]
mod list;

/// The schema version this build writes.
pub const LATEST_VERSION: u32 = list::MIGRATIONS.len() as u32;

/// Reads the file's schema version; a file without the meta table is version 0 (new).
fn current_version(db: &Database) -> Result<u64, redb::Error> {
    let txn = db.begin_read()?;
    let table = match txn.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    Ok(table
        .get(SCHEMA_VERSION_KEY)?
        .map(|v| v.value())
        .unwrap_or(0))
}

/// Migrates to the latest version; refuses files from a newer panoptes.
pub fn run(db: &Database, path: &str) -> Result<u32, StoreError> {
    migrate_to(db, path, LATEST_VERSION)
}

fn migrate_to(db: &Database, path: &str, target: u32) -> Result<u32, StoreError> {
    let found = current_version(db).map_err(|e| StoreError::Corrupt {
        path: path.to_string(),
        detail: format!("cannot read the schema version: {e}"),
    })?;
    if found > u64::from(LATEST_VERSION) {
        return Err(StoreError::TooNew {
            path: path.to_string(),
            found,
            supported: LATEST_VERSION,
        });
    }
    for m in list::MIGRATIONS
        .iter()
        .filter(|m| u64::from(m.version) > found && m.version <= target)
    {
        let fail = |e: redb::Error| StoreError::Migration {
            path: path.to_string(),
            version: m.version,
            detail: e.to_string(),
        };
        let tx = db.begin_write().map_err(|e| fail(e.into()))?;
        (m.up)(&tx).map_err(fail)?;
        {
            let mut meta = tx.open_table(META).map_err(|e| fail(e.into()))?;
            meta.insert(SCHEMA_VERSION_KEY, u64::from(m.version))
                .map_err(|e| fail(e.into()))?;
        }
        tx.commit().map_err(|e| fail(e.into()))?;
        info!(version = m.version, name = m.name, "migrated data file");
    }
    Ok(target.min(LATEST_VERSION).max(found as u32))
}

/// Creates a data file at an older schema version, for the migration fixtures
/// (`cargo run --example store-fixture`). Not used by the server.
#[doc(hidden)]
pub fn create_at_version(path: &std::path::Path, version: u32) -> Result<(), StoreError> {
    let db = super::open_database(path, super::StoreOptions::default().cache_bytes)?;
    migrate_to(&db, &path.display().to_string(), version)?;
    Ok(())
}
