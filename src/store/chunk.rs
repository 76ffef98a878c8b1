//! The packed layout of probe results: a monitor's results in chunks of about a kilobyte, each
//! stored under `(monitor, chunk start ms)`. Pure: bytes in, bytes out; `results.rs` puts the
//! chunks in their table.
//!
//! Owns: the chunk encoding. Depends on: nothing.
//!
//! Why chunks: a row per result cost 12 bytes of key, a length and the b-tree's slot, ~20 bytes
//! for a result whose own record is ~6. Packed, a healthy result costs its record, its time as a
//! varint delta from the previous result (3 bytes at a 20 s interval) and a length byte: ~10.
//! Chunks stay small so that appending (a read, a copy and a write of the chunk in the writer's
//! transaction) costs about what inserting a row did, and a range read decodes little it skips.
//!
//! A chunk is a sequence of entries `varint(ms - previous ms) varint(len) record`, where the
//! first entry's previous is the chunk's key. Entries are strictly increasing in time, and every
//! entry of a chunk is earlier than the next chunk's key (the chunks of a monitor hold disjoint,
//! ordered spans), so a range read starts at the last chunk keyed at or before its start.

/// An append that would take a chunk past this starts a new chunk.
pub const CHUNK_BYTES: usize = 1024;
/// An out-of-order insert (an agent's late batch) that takes a chunk past this splits it.
const SPLIT_BYTES: usize = 2 * CHUNK_BYTES;

/// A chunk that does not decode: the store's own bytes were damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub at: usize,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "probe results chunk malformed at byte {}", self.at)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = b.get(*pos) else {
            return Err(Malformed { at: *pos });
        };
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Malformed { at: *pos })
}

/// The bytes one entry adds to a chunk.
pub fn entry_len(delta_ms: u64, record: &[u8]) -> usize {
    let varint_len = |v: u64| (64 - v.max(1).leading_zeros() as usize).div_ceil(7);
    varint_len(delta_ms) + varint_len(record.len() as u64) + record.len()
}

/// Appends an entry stamped `at_ms` after one stamped `prev_ms` (or the chunk's key).
pub fn append(chunk: &mut Vec<u8>, prev_ms: u64, at_ms: u64, record: &[u8]) {
    put_varint(chunk, at_ms.saturating_sub(prev_ms));
    put_varint(chunk, record.len() as u64);
    chunk.extend_from_slice(record);
}

/// Encodes entries (strictly increasing, none before `start_ms`) as the chunk keyed `start_ms`.
pub fn encode(start_ms: u64, entries: &[(u64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = start_ms;
    for (ms, record) in entries {
        append(&mut out, prev, *ms, record);
        prev = *ms;
    }
    out
}

/// Reads the entry at `*pos` (after one stamped `*ms`): advances both, returns its record.
fn next_entry<'a>(b: &'a [u8], pos: &mut usize, ms: &mut u64) -> Result<&'a [u8], Malformed> {
    let entry = *pos;
    *ms = ms
        .checked_add(varint(b, pos)?)
        .ok_or(Malformed { at: entry })?;
    let len = usize::try_from(varint(b, pos)?).map_err(|_| Malformed { at: entry })?;
    let end = pos.checked_add(len).ok_or(Malformed { at: entry })?;
    let record = b.get(*pos..end).ok_or(Malformed { at: entry })?;
    *pos = end;
    Ok(record)
}

/// The entries of the chunk keyed `start_ms`, oldest first, borrowing their records.
pub fn decode(start_ms: u64, b: &[u8]) -> Result<Vec<(u64, &[u8])>, Malformed> {
    let (mut out, mut pos, mut ms) = (Vec::new(), 0, start_ms);
    while pos < b.len() {
        let record = next_entry(b, &mut pos, &mut ms)?;
        out.push((ms, record));
    }
    Ok(out)
}

/// The time of a chunk's last entry (its key for an empty chunk), without collecting entries.
pub fn last_ms(start_ms: u64, b: &[u8]) -> Result<u64, Malformed> {
    let (mut pos, mut ms) = (0, start_ms);
    while pos < b.len() {
        next_entry(b, &mut pos, &mut ms)?;
    }
    Ok(ms)
}

/// What storing one result does to the chunk it falls in (the last one keyed at or before it).
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// Replace the chunk keyed at the given start with these bytes.
    Rewrite(Vec<u8>),
    /// Start a new chunk keyed at the result's own time, with these bytes.
    New(Vec<u8>),
    /// Replace the chunk with the first bytes and add a chunk keyed at the given time.
    Split(Vec<u8>, u64, Vec<u8>),
}

/// How to store a result stamped `at_ms` given the chunk it falls in (`None`: it precedes every
/// chunk of its monitor). The common case, a result later than everything stored, appends or
/// starts a new chunk; an earlier one is inserted in order (the same time replaces, as a row
/// keyed by time did), splitting a chunk that grows past twice the usual size.
pub fn put(chunk: Option<(u64, &[u8])>, at_ms: u64, record: &[u8]) -> Result<Put, Malformed> {
    let Some((start, bytes)) = chunk else {
        return Ok(Put::New(encode(at_ms, &[(at_ms, record)])));
    };
    let last = last_ms(start, bytes)?;
    if at_ms > last || bytes.is_empty() {
        if !bytes.is_empty() && bytes.len() + entry_len(at_ms - last, record) > CHUNK_BYTES {
            return Ok(Put::New(encode(at_ms, &[(at_ms, record)])));
        }
        let mut out = Vec::with_capacity(bytes.len() + 16 + record.len());
        out.extend_from_slice(bytes);
        append(&mut out, last, at_ms, record);
        return Ok(Put::Rewrite(out));
    }
    let mut entries = decode(start, bytes)?;
    match entries.binary_search_by_key(&at_ms, |e| e.0) {
        Ok(i) => entries[i] = (at_ms, record),
        Err(i) => entries.insert(i, (at_ms, record)),
    }
    let out = encode(start, &entries);
    if out.len() <= SPLIT_BYTES || entries.len() < 2 {
        return Ok(Put::Rewrite(out));
    }
    let (first, second) = entries.split_at(entries.len() / 2);
    let second_start = second[0].0;
    Ok(Put::Split(
        encode(start, first),
        second_start,
        encode(second_start, second),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(start: u64, b: &[u8]) -> Vec<(u64, Vec<u8>)> {
        decode(start, b)
            .expect("decodes")
            .into_iter()
            .map(|(ms, r)| (ms, r.to_vec()))
            .collect()
    }

    /// Applies `put` to an in-memory table of chunks, as `results.rs` does to redb's.
    fn store(table: &mut std::collections::BTreeMap<u64, Vec<u8>>, at_ms: u64, record: &[u8]) {
        let chunk = table
            .range(..=at_ms)
            .next_back()
            .map(|(k, v)| (*k, v.clone()));
        match put(
            chunk.as_ref().map(|(k, v)| (*k, v.as_slice())),
            at_ms,
            record,
        )
        .expect("put")
        {
            Put::Rewrite(b) => {
                table.insert(chunk.expect("a chunk").0, b);
            }
            Put::New(b) => {
                table.insert(at_ms, b);
            }
            Put::Split(a, second, b) => {
                table.insert(chunk.expect("a chunk").0, a);
                table.insert(second, b);
            }
        }
    }

    fn all(table: &std::collections::BTreeMap<u64, Vec<u8>>) -> Vec<(u64, Vec<u8>)> {
        table.iter().flat_map(|(k, v)| owned(*k, v)).collect()
    }

    #[test]
    fn a_healthy_result_costs_about_ten_bytes_packed() {
        let record = [0x09u8, 0xe8, 0x07, 0xc8, 0x01]; // flags, latency varint, status 200
        let mut table = std::collections::BTreeMap::new();
        let t0 = 1_699_920_000_000u64;
        for i in 0..1000u64 {
            store(&mut table, t0 + i * 20_000, &record);
        }
        let bytes: usize = table.values().map(Vec::len).sum();
        let keys = table.len() * 12;
        assert_eq!(all(&table).len(), 1000);
        // 3 bytes of time delta, 1 of length, 5 of record; keys amortised over ~110 entries.
        assert!(
            (bytes + keys) as f64 / 1000.0 < 9.5,
            "{} bytes in {} chunks",
            bytes,
            table.len()
        );
        assert!(table.values().all(|c| c.len() <= CHUNK_BYTES));
    }

    #[test]
    fn results_in_any_order_read_back_sorted_and_the_same_time_replaces() {
        let mut table = std::collections::BTreeMap::new();
        let mut want = std::collections::BTreeMap::new();
        // A deterministic shuffle of 3,000 times, some repeated, records of varied size.
        let mut x = 12345u64;
        for i in 0..3000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ms = (x >> 33) % 2_000 * 1_000;
            let record = vec![(i % 251) as u8; (x % 40) as usize];
            store(&mut table, ms, &record);
            want.insert(ms, record);
        }
        let want: Vec<(u64, Vec<u8>)> = want.into_iter().collect();
        assert_eq!(all(&table), want);
        // Chunks hold disjoint spans: each entry is before the next chunk's key.
        let keys: Vec<u64> = table.keys().copied().collect();
        for (i, (k, v)) in table.iter().enumerate() {
            let entries = owned(*k, v);
            assert!(entries.iter().all(|e| e.0 >= *k));
            if let Some(next) = keys.get(i + 1) {
                assert!(entries.iter().all(|e| e.0 < *next));
            }
            assert!(v.len() <= SPLIT_BYTES + 64, "chunk of {} bytes", v.len());
        }
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let good = encode(10, &[(10, b"abc"), (25, b"de")]);
        for cut in 0..good.len() {
            let _ = decode(10, &good[..cut]);
            let _ = last_ms(10, &good[..cut]);
        }
        assert!(decode(10, &good[..good.len() - 1]).is_err());
        assert!(last_ms(10, &[0x80; 11]).is_err());
        assert!(decode(u64::MAX, &[0x05, 0x00]).is_err(), "time overflow");
        assert_eq!(last_ms(10, &good), Ok(25));
        assert!(put(Some((10, &[0xff, 0xff][..])), 11, b"x").is_err());
    }

    #[test]
    fn varints_round_trip_at_their_edges() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(varint(&b, &mut pos), Ok(v));
            assert_eq!(pos, b.len());
            assert_eq!(entry_len(v, b""), b.len() + 1);
        }
    }
}
