//! Probe results in their table, packed in chunks (`chunk.rs` owns the bytes): storing one,
//! reading a monitor's span in either direction, and pruning old ones.
//!
//! Owns: how chunks map onto `probes::RESULTS` rows. Depends on: `chunk`, redb.

use redb::{ReadableTable, Table};

use super::StoreError;
use super::chunk::{self, Put};

type Key = (u32, u64);

fn malformed(id: u32, start: u64, e: chunk::Malformed) -> StoreError {
    StoreError::Decode(format!("monitor {id}, chunk at {start} ms: {e}"))
}

/// Stores the result of monitor `id` stamped `at_ms` (the same time replaces).
pub(super) fn put(
    t: &mut Table<'_, Key, &'static [u8]>,
    id: u32,
    at_ms: u64,
    record: &[u8],
) -> Result<(), StoreError> {
    let found = match t
        .range((id, 0)..=(id, at_ms))
        .map_err(StoreError::storage)?
        .next_back()
    {
        Some(row) => {
            let (k, v) = row.map_err(StoreError::storage)?;
            Some((k.value().1, v.value().to_vec()))
        }
        None => None,
    };
    let chunk = found.as_ref().map(|(start, b)| (*start, b.as_slice()));
    // `chunk::put` rewrites or splits only a chunk it was given, so `start` is that chunk's key.
    let start = chunk.map_or(at_ms, |c| c.0);
    let put = chunk::put(chunk, at_ms, record).map_err(|e| malformed(id, start, e))?;
    let mut insert = |ms: u64, bytes: &[u8]| {
        t.insert((id, ms), bytes)
            .map(|_| ())
            .map_err(StoreError::storage)
    };
    match put {
        Put::New(b) => insert(at_ms, &b),
        Put::Rewrite(b) => insert(start, &b),
        Put::Split(a, second, b) => {
            insert(start, &a)?;
            insert(second, &b)
        }
    }
}

/// Calls `f` with monitor `id`'s results in `[from_ms, to_ms)`, oldest or newest first, until
/// it returns false.
pub(super) fn scan<T: ReadableTable<Key, &'static [u8]>>(
    t: &T,
    id: u32,
    from_ms: u64,
    to_ms: u64,
    newest_first: bool,
    mut f: impl FnMut(u64, &[u8]) -> bool,
) -> Result<(), StoreError> {
    if from_ms >= to_ms {
        return Ok(());
    }
    // The last chunk keyed at or before `from_ms` may hold results from `from_ms` on; the
    // chunks keyed after it up to `to_ms` are the rest.
    let head = t
        .range((id, 0)..=(id, from_ms))
        .map_err(StoreError::storage)?
        .next_back()
        .transpose()
        .map_err(StoreError::storage)?;
    let mut tail = t
        .range((id, from_ms + 1)..(id, to_ms))
        .map_err(StoreError::storage)?;
    // Visits one chunk's entries in the wanted order; false once `f` has had enough.
    let mut visit = |start: u64, bytes: &[u8]| -> Result<bool, StoreError> {
        let entries = chunk::decode(start, bytes).map_err(|e| malformed(id, start, e))?;
        let wanted = |e: &&(u64, &[u8])| e.0 >= from_ms && e.0 < to_ms;
        let go = if newest_first {
            entries.iter().rev().filter(wanted).all(|e| f(e.0, e.1))
        } else {
            entries.iter().filter(wanted).all(|e| f(e.0, e.1))
        };
        Ok(go)
    };
    if let (false, Some((k, v))) = (newest_first, &head)
        && !visit(k.value().1, v.value())?
    {
        return Ok(());
    }
    loop {
        let row = if newest_first {
            tail.next_back()
        } else {
            tail.next()
        };
        let Some(row) = row else { break };
        let (k, v) = row.map_err(StoreError::storage)?;
        if !visit(k.value().1, v.value())? {
            return Ok(());
        }
    }
    if let (true, Some((k, v))) = (newest_first, &head) {
        visit(k.value().1, v.value())?;
    }
    Ok(())
}

/// Deletes monitor `id`'s results older than `before_ms`, a whole chunk at a time, stopping
/// once `budget` results are gone (a chunk may take it past). Returns how many went.
pub(super) fn prune(
    t: &mut Table<'_, Key, &'static [u8]>,
    id: u32,
    before_ms: u64,
    budget: u64,
) -> Result<u64, StoreError> {
    let mut removed = 0u64;
    while removed < budget {
        let first = match t
            .range((id, 0)..(id, before_ms))
            .map_err(StoreError::storage)?
            .next()
        {
            Some(row) => {
                let (k, v) = row.map_err(StoreError::storage)?;
                (k.value().1, v.value().to_vec())
            }
            None => break,
        };
        let (start, bytes) = first;
        let entries = chunk::decode(start, &bytes).map_err(|e| malformed(id, start, e))?;
        let keep: Vec<(u64, &[u8])> = entries
            .iter()
            .copied()
            .filter(|e| e.0 >= before_ms)
            .collect();
        removed += (entries.len() - keep.len()) as u64;
        t.remove((id, start)).map_err(StoreError::storage)?;
        // Only the chunk that straddles `before_ms` keeps some; it is keyed anew at its first
        // kept result, which is still after every earlier chunk's results.
        if let Some(&(first_kept, _)) = keep.first() {
            t.insert(
                (id, first_kept),
                chunk::encode(first_kept, &keep).as_slice(),
            )
            .map_err(StoreError::storage)?;
            break;
        }
    }
    Ok(removed)
}

/// How many results the chunks hold (a full read: for the storage benchmark and tests).
pub(super) fn count<T: ReadableTable<Key, &'static [u8]>>(t: &T) -> Result<u64, StoreError> {
    let mut n = 0u64;
    for row in t.iter().map_err(StoreError::storage)? {
        let (k, v) = row.map_err(StoreError::storage)?;
        let (id, start) = k.value();
        n += chunk::decode(start, v.value())
            .map_err(|e| malformed(id, start, e))?
            .len() as u64;
    }
    Ok(n)
}

#[cfg(test)]
#[path = "results_tests.rs"]
mod tests;
