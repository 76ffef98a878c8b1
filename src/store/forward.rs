//! Tables of the forward outbox (envelopes on their way to an upstream Sentry).
//!
//! Owns: the outbox rows and its counters, created on first write (no schema bump: reads treat
//! a missing table as empty). Depends on: redb only; `crate::forward` and `crate::sentry` own
//! what the bytes mean.
//!
//! - `forward_outbox` (project, key) -> row. The key is `received_ms << 20 | n`: time ordered,
//!   so the newest of a project is its last key and age is read off the key.
//! - `forward_counts` (project, counter) -> n: `backlog`, `bytes` (kept with every insert and
//!   delete, in the same transaction, so they are exact), `processed`, `ignored`, and
//!   `dropped_<reason>`.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const OUTBOX: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("forward_outbox");
pub const COUNTS: TableDefinition<(u64, &str), u64> = TableDefinition::new("forward_counts");

/// Bits of an outbox key below the millisecond (rows per project per ms).
pub const KEY_SHIFT: u32 = 20;

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Upstream accepted it.
    Processed,
    /// Gone without reaching upstream; the reason names the counter `dropped_<reason>`.
    Dropped(&'static str),
}

#[derive(Debug, Clone)]
pub enum ForwardWrite {
    /// Rows to send, and items ingest decided not to send (counted `ignored`).
    Enqueue {
        project: u64,
        rows: Vec<(u64, Vec<u8>)>,
        ignored: u64,
    },
    /// Rows answered (or given up on): deleted, counted.
    Done(Vec<(u64, u64, Outcome)>),
    /// Drops rows received before `before_ms` (`expired`), then the oldest rows across projects
    /// while the outbox holds more than `max_bytes` (`outbox_full`).
    Trim { before_ms: u64, max_bytes: u64 },
}

fn bump(
    t: &mut redb::Table<'_, (u64, &'static str), u64>,
    project: u64,
    name: &str,
    delta: i64,
) -> Result<(), StoreError> {
    let now = t
        .get((project, name))
        .map_err(StoreError::storage)?
        .map_or(0, |v| v.value());
    let next = if delta >= 0 {
        now.saturating_add(delta as u64)
    } else {
        now.saturating_sub(delta.unsigned_abs())
    };
    t.insert((project, name), next)
        .map_err(StoreError::storage)?;
    Ok(())
}

fn dropped_name(reason: &str) -> String {
    format!("dropped_{reason}")
}

pub(super) fn apply(tx: &WriteTransaction, w: &ForwardWrite) -> Result<u64, StoreError> {
    let mut out = tx.open_table(OUTBOX).map_err(StoreError::storage)?;
    let mut counts = tx.open_table(COUNTS).map_err(StoreError::storage)?;
    match w {
        ForwardWrite::Enqueue {
            project,
            rows,
            ignored,
        } => {
            let mut bytes = 0i64;
            let mut added = 0i64;
            for (key, row) in rows {
                // A key already present (clock stepped back within the same counter) would
                // otherwise lose a row silently; the next free key keeps it.
                let mut k = *key;
                while out
                    .get((*project, k))
                    .map_err(StoreError::storage)?
                    .is_some()
                {
                    k += 1;
                }
                out.insert((*project, k), row.as_slice())
                    .map_err(StoreError::storage)?;
                bytes += row.len() as i64;
                added += 1;
            }
            bump(&mut counts, *project, "backlog", added)?;
            bump(&mut counts, *project, "bytes", bytes)?;
            if *ignored > 0 {
                bump(&mut counts, *project, "ignored", *ignored as i64)?;
            }
            Ok(added as u64)
        }
        ForwardWrite::Done(done) => {
            let mut n = 0;
            for (project, key, outcome) in done {
                // Already gone (trimmed meanwhile): counted once, by whoever removed it.
                let Some(len) = out
                    .remove((*project, *key))
                    .map_err(StoreError::storage)?
                    .map(|v| v.value().len())
                else {
                    continue;
                };
                bump(&mut counts, *project, "backlog", -1)?;
                bump(&mut counts, *project, "bytes", -(len as i64))?;
                match outcome {
                    Outcome::Processed => bump(&mut counts, *project, "processed", 1)?,
                    Outcome::Dropped(r) => bump(&mut counts, *project, &dropped_name(r), 1)?,
                }
                n += 1;
            }
            Ok(n)
        }
        ForwardWrite::Trim {
            before_ms,
            max_bytes,
        } => {
            // Runs every second: the common case (nothing too old, under the bound) reads only
            // the counters and each project's oldest key, never the rows.
            let mut projects = Vec::new();
            let mut total = 0u64;
            for row in counts.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (p, name) = k.value();
                if name == "bytes" {
                    projects.push(p);
                    total += v.value();
                }
            }
            let mut doomed: Vec<(u64, u64, usize, &'static str)> = Vec::new();
            let cutoff = before_ms.saturating_mul(1 << KEY_SHIFT);
            for p in projects {
                for row in out
                    .range((p, 0)..(p, cutoff))
                    .map_err(StoreError::storage)?
                {
                    let (k, v) = row.map_err(StoreError::storage)?;
                    let len = v.value().len();
                    total = total.saturating_sub(len as u64);
                    doomed.push((p, k.value().1, len, "expired"));
                }
            }
            if total > *max_bytes {
                // Oldest first across projects: the key's high bits are the receive time.
                let mut live: Vec<(u64, u64, usize)> = Vec::new();
                for row in out.iter().map_err(StoreError::storage)? {
                    let (k, v) = row.map_err(StoreError::storage)?;
                    let (p, key) = k.value();
                    if key >= cutoff {
                        live.push((p, key, v.value().len()));
                    }
                }
                live.sort_by_key(|(_, k, _)| *k);
                for (p, key, len) in live {
                    if total <= *max_bytes {
                        break;
                    }
                    total -= len as u64;
                    doomed.push((p, key, len, "outbox_full"));
                }
            }
            let n = doomed.len() as u64;
            for (p, key, len, reason) in doomed {
                out.remove((p, key)).map_err(StoreError::storage)?;
                bump(&mut counts, p, "backlog", -1)?;
                bump(&mut counts, p, "bytes", -(len as i64))?;
                bump(&mut counts, p, &dropped_name(reason), 1)?;
            }
            Ok(n)
        }
    }
}

/// One outbox row as read for sending.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub project: u64,
    pub key: u64,
    pub bytes: Vec<u8>,
}

impl Store {
    /// Up to `limit` rows of `project`, newest first, skipping keys `skip` says are taken.
    pub fn forward_newest(
        &self,
        project: u64,
        limit: usize,
        skip: &dyn Fn(u64) -> bool,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(OUTBOX))? else {
            return Ok(Vec::new());
        };
        let mut rows = Vec::new();
        for row in t
            .range((project, 0)..=(project, u64::MAX))
            .map_err(StoreError::storage)?
            .rev()
        {
            let (k, v) = row.map_err(StoreError::storage)?;
            let key = k.value().1;
            if skip(key) {
                continue;
            }
            rows.push(OutboxRow {
                project,
                key,
                bytes: v.value().to_vec(),
            });
            if rows.len() >= limit {
                break;
            }
        }
        Ok(rows)
    }

    /// Every (project, counter, n) of the outbox.
    pub fn forward_counts(&self) -> Result<Vec<(u64, String, u64)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(COUNTS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            let (p, name) = k.value();
            out.push((p, name.to_string(), v.value()));
        }
        Ok(out)
    }

    /// Whether a `Trim` would drop anything (read first, so an idle outbox costs no commit).
    pub fn forward_trim_needed(&self, before_ms: u64, max_bytes: u64) -> Result<bool, StoreError> {
        let txn = self.read_txn()?;
        let Some(counts) = missing_is_empty(txn.open_table(COUNTS))? else {
            return Ok(false);
        };
        let Some(out) = missing_is_empty(txn.open_table(OUTBOX))? else {
            return Ok(false);
        };
        let cutoff = before_ms.saturating_mul(1 << KEY_SHIFT);
        let mut total = 0u64;
        for row in counts.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            let (p, name) = k.value();
            if name != "bytes" {
                continue;
            }
            total += v.value();
            if out
                .range((p, 0)..(p, cutoff))
                .map_err(StoreError::storage)?
                .next()
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(total > max_bytes)
    }

    /// The highest outbox key in use (so keys made after a restart stay above it).
    pub fn forward_last_key(&self) -> Result<u64, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(OUTBOX))? else {
            return Ok(0);
        };
        let mut last = 0;
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, _) = row.map_err(StoreError::storage)?;
            last = last.max(k.value().1);
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::StoreMetrics;
    use crate::store::{StoreOptions, Write};

    fn counts(store: &Store) -> std::collections::BTreeMap<(u64, String), u64> {
        store
            .forward_counts()
            .expect("counts")
            .into_iter()
            .map(|(p, n, v)| ((p, n), v))
            .collect()
    }

    #[tokio::test]
    async fn rows_are_counted_exactly_newest_first_and_trimmed_by_age_then_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default())
            .expect("open");
        assert!(store.forward_counts().expect("empty").is_empty());
        let key = |ms: u64, n: u64| (ms << KEY_SHIFT) | n;
        let enqueue = |project, rows: Vec<(u64, Vec<u8>)>, ignored| {
            Write::Forward(ForwardWrite::Enqueue {
                project,
                rows,
                ignored,
            })
        };
        store
            .write(vec![
                enqueue(
                    1,
                    vec![(key(10, 0), vec![0; 10]), (key(20, 0), vec![0; 10])],
                    3,
                ),
                enqueue(2, vec![(key(15, 0), vec![0; 10])], 0),
            ])
            .await
            .expect("enqueue");
        // The same key again (a clock stepping back) is kept under the next free key.
        store
            .write(vec![enqueue(1, vec![(key(20, 0), vec![1; 10])], 0)])
            .await
            .expect("enqueue");
        let newest = store.forward_newest(1, 2, &|_| false).expect("read");
        assert_eq!(
            newest.iter().map(|r| r.key).collect::<Vec<_>>(),
            [key(20, 1), key(20, 0)]
        );
        let skipping = store
            .forward_newest(1, 1, &|k| k >= key(20, 0))
            .expect("read");
        assert_eq!(skipping[0].key, key(10, 0));
        assert_eq!(store.forward_last_key().expect("last"), key(20, 1));
        let c = counts(&store);
        assert_eq!(c[&(1, "backlog".into())], 3);
        assert_eq!(c[&(1, "bytes".into())], 30);
        assert_eq!(c[&(1, "ignored".into())], 3);
        store
            .write(vec![Write::Forward(ForwardWrite::Done(vec![
                (1, key(20, 1), Outcome::Processed),
                (1, key(20, 0), Outcome::Dropped("rejected")),
                (1, key(99, 0), Outcome::Processed),
            ]))])
            .await
            .expect("done");
        let c = counts(&store);
        assert_eq!(c[&(1, "backlog".into())], 1);
        assert_eq!(
            c[&(1, "processed".into())],
            1,
            "a row already gone counts once"
        );
        assert_eq!(c[&(1, "dropped_rejected".into())], 1);
        assert!(!store.forward_trim_needed(5, 1000).expect("read"));
        assert!(
            store.forward_trim_needed(12, 1000).expect("read"),
            "too old"
        );
        assert!(store.forward_trim_needed(5, 10).expect("read"), "too large");
        // Age: project 1's row at 10 ms goes; size: then the oldest until 0 bytes are left.
        store
            .write(vec![Write::Forward(ForwardWrite::Trim {
                before_ms: 12,
                max_bytes: 0,
            })])
            .await
            .expect("trim");
        let c = counts(&store);
        assert_eq!(c[&(1, "dropped_expired".into())], 1);
        assert_eq!(c[&(2, "dropped_outbox_full".into())], 1);
        assert_eq!(c[&(1, "backlog".into())] + c[&(2, "backlog".into())], 0);
        assert_eq!(c[&(2, "bytes".into())], 0);
    }
}
