//! Version 10: probe results packed in chunks. Version 3 stored a row per result, keyed by
//! (monitor, unix ms): ~20 bytes a result with the b-tree's slot, for a record of ~6. Version 10
//! keys a chunk of a monitor's results by (monitor, its first result's ms); a chunk is the
//! sequence `varint(ms - previous ms) varint(len) record` (the first entry's previous is the
//! key), appended to until it would pass 1,024 bytes: ~10 bytes a result.
//!
//! Rows are copied into the new table in order (per monitor, by time) and the old table is
//! deleted, in the migration's one transaction. The encoding is restated here as it is at this
//! version, so later changes to `src/store/chunk.rs` cannot change what this migration writes.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

// As at version 3.
const RESULTS_V3: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("probe_results");
// As at version 10.
const RESULT_CHUNKS: TableDefinition<(u32, u64), &[u8]> =
    TableDefinition::new("probe_result_chunks");
const CHUNK_BYTES: usize = 1024;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The monitor, key and bytes of the chunk being filled, and its last result's time.
struct Open {
    id: u32,
    start: u64,
    last: u64,
    bytes: Vec<u8>,
}

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    {
        let mut chunks = tx.open_table(RESULT_CHUNKS)?;
        // Opening creates the table on a file that never had it; it is deleted below.
        let old = tx.open_table(RESULTS_V3)?;
        let mut open: Option<Open> = None;
        for row in old.iter()? {
            let (k, v) = row?;
            let ((id, ms), record) = (k.value(), v.value());
            let mut entry = Vec::with_capacity(record.len() + 12);
            if let Some(c) = open.as_mut().filter(|c| c.id == id) {
                put_varint(&mut entry, ms.saturating_sub(c.last));
                put_varint(&mut entry, record.len() as u64);
                entry.extend_from_slice(record);
                if c.bytes.len() + entry.len() <= CHUNK_BYTES {
                    c.bytes.extend_from_slice(&entry);
                    c.last = ms;
                    continue;
                }
                entry.clear();
            }
            if let Some(c) = open.take() {
                chunks.insert((c.id, c.start), c.bytes.as_slice())?;
            }
            put_varint(&mut entry, 0);
            put_varint(&mut entry, record.len() as u64);
            entry.extend_from_slice(record);
            open = Some(Open {
                id,
                start: ms,
                last: ms,
                bytes: entry,
            });
        }
        if let Some(c) = open {
            chunks.insert((c.id, c.start), c.bytes.as_slice())?;
        }
    }
    tx.delete_table(RESULTS_V3)?;
    Ok(())
}
