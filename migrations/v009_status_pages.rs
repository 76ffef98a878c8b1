//! Version 9: public status pages (incidents and scheduled maintenance with their updates,
//! e-mail subscribers, the outbox of their mails). New tables only; nothing to carry over.

use redb::{TableDefinition, WriteTransaction};

const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("status_incidents");
const SUBSCRIBERS: TableDefinition<&str, &[u8]> = TableDefinition::new("status_subscribers");
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("status_outbox");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(INCIDENTS)?;
    tx.open_table(SUBSCRIBERS)?;
    tx.open_table(OUTBOX)?;
    Ok(())
}
