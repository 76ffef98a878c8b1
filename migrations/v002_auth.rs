//! Version 2: dashboard users, API tokens (stored as SHA-256 of the secret) and sessions.
//!
//! Version 1 kept no credentials, so there is nothing to carry over; the audit log is untouched.

use redb::{TableDefinition, WriteTransaction};

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(USERS)?;
    tx.open_table(TOKENS)?;
    tx.open_table(SESSIONS)?;
    Ok(())
}
