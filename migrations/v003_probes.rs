//! Version 3: probing. Monitor ids by name, raw results keyed (monitor, ms), roll-ups keyed
//! (monitor, resolution, bucket), and a state snapshot per monitor.

use redb::{TableDefinition, WriteTransaction};

const IDS: TableDefinition<&str, u32> = TableDefinition::new("probe_ids");
const RESULTS: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("probe_results");
const ROLLUPS: TableDefinition<(u32, u8, u64), &[u8]> = TableDefinition::new("probe_rollups");
const STATE: TableDefinition<u32, &[u8]> = TableDefinition::new("probe_state");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(IDS)?;
    tx.open_table(RESULTS)?;
    tx.open_table(ROLLUPS)?;
    tx.open_table(STATE)?;
    Ok(())
}
