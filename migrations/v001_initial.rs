//! Version 1: the schema-version table and the append-only audit log.

use redb::{TableDefinition, WriteTransaction};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("audit");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(META)?;
    tx.open_table(AUDIT)?;
    Ok(())
}
