//! Version 7: alerting (alert states, history, notification groups, silences, notifications).
//! New tables only; nothing to carry over.

use redb::{TableDefinition, WriteTransaction};

const INSTANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_instances");
const HISTORY: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("alerts_history");
const GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_groups");
const SILENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts_silences");
const NOTIFICATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts_notifications");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(INSTANCES)?;
    tx.open_table(HISTORY)?;
    tx.open_table(GROUPS)?;
    tx.open_table(SILENCES)?;
    tx.open_table(NOTIFICATIONS)?;
    Ok(())
}
