//! Version 4: Periskop exception aggregation (key states, per-minute rates, instances and their
//! last reported counts). New tables only; nothing to carry over.

use redb::{TableDefinition, WriteTransaction};

const KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("periskop_keys");
const RATE: TableDefinition<(&str, &str, u64), u64> = TableDefinition::new("periskop_rate");
const INSTANCES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("periskop_instances");
const BASELINES: TableDefinition<(&str, &str, &str), u64> =
    TableDefinition::new("periskop_baselines");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(KEYS)?;
    tx.open_table(RATE)?;
    tx.open_table(INSTANCES)?;
    tx.open_table(BASELINES)?;
    Ok(())
}
