//! Version 9: public status pages (incidents and scheduled maintenance with their updates).
//! New table only; nothing to carry over.

use redb::{TableDefinition, WriteTransaction};

const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("status_incidents");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(INCIDENTS)?;
    Ok(())
}
