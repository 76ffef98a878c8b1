//! Version 8: on-call (pages with their timelines, schedule overrides, the link-signing key).
//! New tables only; nothing to carry over.

use redb::{TableDefinition, WriteTransaction};

const PAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("oncall_pages");
const OVERRIDES: TableDefinition<u64, &[u8]> = TableDefinition::new("oncall_overrides");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("oncall_meta");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(PAGES)?;
    tx.open_table(OVERRIDES)?;
    tx.open_table(META)?;
    Ok(())
}
