//! The single writer: drains the request queue into one transaction per batch (group commit).
//!
//! It runs on its own OS thread because redb's commit blocks on fsync. Each loop takes the first
//! waiting request, then whatever else is already queued (up to `max_batch`), applies them all in
//! one transaction and commits once; every request in the batch is acknowledged with the same
//! outcome. It does not wait for more requests to arrive, so a lone write costs one commit and
//! a crowd of concurrent writes shares one — except for writes queued with a linger (a probe
//! result that changes no state waits up to [`LINGER`]; the sentry digest's batch, once the
//! inbox is caught up, 20 ms): a batch of only those waits, until the earliest of their
//! deadlines (each counted from its enqueueing), for company, so at low rates several share a
//! commit (and its fsync) instead of one each. Any other write, a full batch or shutdown
//! commits at once, lingering ones included.
//!
//! A request that cannot be applied (a bad value, say) fails alone: the transaction is dropped
//! and the rest of the batch is applied again in a new one. Only a failed commit, or a panic of
//! this thread, marks the store failed (redb refuses writes after a failed commit until the file
//! is reopened): then `/healthz` answers 503 and every write is refused until restart.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable, Table, WriteTransaction};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

use super::events::StoreEvent;
use super::records::{SessionRecord, encode};
use super::tables::{AUDIT, AUDIT_SEQ_KEY, META, SCHEMA_VERSION_KEY, SESSIONS, TOKENS, USERS};
use super::{StoreError, Write};
use crate::events::Publisher;
use crate::metrics::StoreMetrics;

/// Longest a batch of lazy writes waits for more. At 1,000 monitors a minute (17 results/s) a
/// commit and its fsync cost about as much CPU as all the checking; 1 s puts ~17 results in
/// each. Nobody reads a lazy result from disk in the meantime (memory is current at once) and
/// only its live event waits; a result that changes state is eager and takes the batch with it.
pub const LINGER: Duration = Duration::from_secs(1);

pub enum Request {
    Write {
        writes: Vec<Write>,
        ack: oneshot::Sender<Result<u64, StoreError>>,
        /// Until when it may wait to share a commit: its enqueue time plus its linger (its
        /// enqueue time: commit at once).
        deadline: Instant,
    },
    /// Everything queued before this is committed, then the writer exits.
    Shutdown { ack: oneshot::Sender<()> },
}

/// Where the writer reports that the store failed (set once the event bus exists).
pub type FailureHook = Arc<OnceLock<Publisher<StoreEvent>>>;

pub fn spawn(
    db: Arc<Database>,
    rx: mpsc::Receiver<Request>,
    max_batch: usize,
    metrics: StoreMetrics,
    failure: Arc<Mutex<Option<String>>>,
    hook: FailureHook,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // A lingering batch sleeps in this runtime's timer until a request or its deadline comes
    // (polling instead woke the thread 100 times a second at low rates).
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || run(&db, rx, &timer, max_batch, &metrics, &failure, &hook))
}

fn fail(failure: &Mutex<Option<String>>, hook: &FailureHook, why: String) {
    let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
    if f.is_none() {
        *f = Some(why.clone());
        if let Some(p) = hook.get() {
            p.publish(StoreEvent::Failed { reason: why });
        }
    }
}

type Pending = (Vec<Write>, oneshot::Sender<Result<u64, StoreError>>);

fn run(
    db: &Database,
    mut rx: mpsc::Receiver<Request>,
    timer: &tokio::runtime::Runtime,
    max_batch: usize,
    metrics: &StoreMetrics,
    failure: &Mutex<Option<String>>,
    hook: &FailureHook,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    loop {
        let mut shutdown = None;
        // The batch commits at the earliest deadline of its writes (at once, for an eager one).
        let mut deadline = Instant::now();
        match rx.blocking_recv() {
            None => return,
            Some(Request::Shutdown { ack }) => shutdown = Some(ack),
            Some(Request::Write {
                writes,
                ack,
                deadline: until,
            }) => {
                deadline = until;
                batch.push((writes, ack));
            }
        }
        while shutdown.is_none() && batch.len() < max_batch {
            let next = match rx.try_recv() {
                Ok(req) => Some(req),
                Err(mpsc::error::TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        None
                    } else {
                        // None: the deadline passed or the queue closed; commit what we have.
                        // The timer is made inside `block_on`: it needs that runtime's context.
                        timer
                            .block_on(async { tokio::time::timeout(left, rx.recv()).await })
                            .ok()
                            .flatten()
                    }
                }
                Err(_) => None,
            };
            match next {
                Some(Request::Write {
                    writes,
                    ack,
                    deadline: until,
                }) => {
                    deadline = deadline.min(until);
                    batch.push((writes, ack));
                }
                Some(Request::Shutdown { ack }) => shutdown = Some(ack),
                None => break,
            }
        }
        if !batch.is_empty() {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                commit_batch(db, &mut batch, metrics, failure, hook)
            }));
            if let Err(panic) = outcome {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                error!(panic = %why, "the store writer panicked; refusing further writes");
                fail(failure, hook, format!("the store writer panicked: {why}"));
                // Whatever the batch still holds is answered, not left hanging.
                for (_, ack) in batch.drain(..) {
                    let _ = ack.send(Err(StoreError::Failed("the store writer panicked".into())));
                }
            }
        }
        if let Some(ack) = shutdown {
            // Requests that raced in after the shutdown marker are refused, not left hanging.
            rx.close();
            while let Ok(req) = rx.try_recv() {
                if let Request::Write { ack, .. } = req {
                    metrics.queue_depth.dec();
                    let _ = ack.send(Err(StoreError::Closed));
                }
            }
            let _ = ack.send(());
            return;
        }
    }
}

fn commit_batch(
    db: &Database,
    batch: &mut Vec<Pending>,
    metrics: &StoreMetrics,
    failure: &Mutex<Option<String>>,
    hook: &FailureHook,
) {
    let started = Instant::now();
    let n = batch.len();
    metrics.queue_depth.dec_by(n as i64);
    if let Some(why) = failure.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        for (_, ack) in batch.drain(..) {
            let _ = ack.send(Err(StoreError::Failed(why.clone())));
        }
        return;
    }
    // Requests still to commit stay in `batch` (so a panic leaves them to the caller, which
    // answers them after marking the store failed); one that cannot be applied is answered and
    // taken out, and the rest are tried again in a fresh transaction.
    loop {
        match apply(db, batch) {
            Ok(counts) => {
                metrics.batches.inc();
                metrics.writes.inc_by(batch.len() as u64);
                metrics.batch_size.observe(batch.len() as f64);
                metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                for ((_, ack), removed) in batch.drain(..).zip(counts) {
                    // The producer may have given up waiting; its write is durable either way.
                    let _ = ack.send(Ok(removed));
                }
                return;
            }
            // A failure of the file while applying one request is the file's, not the
            // request's: retrying the others over it would only fail again or worse.
            Err(Failure::Request(_, e @ StoreError::Disk(_))) | Err(Failure::Commit(e)) => {
                metrics.commit_errors.inc();
                error!(error = %e, writes = batch.len(), "store commit failed; refusing further writes");
                fail(failure, hook, e.to_string());
                for (_, ack) in batch.drain(..) {
                    let _ = ack.send(Err(e.clone()));
                }
                return;
            }
            Err(Failure::Request(i, e)) => {
                metrics.request_errors.inc();
                warn!(error = %e, "a store write could not be applied; it alone is refused");
                let (_, ack) = batch.remove(i);
                let _ = ack.send(Err(e));
                if batch.is_empty() {
                    return;
                }
            }
        }
    }
}

/// Why a batch did not commit.
enum Failure {
    /// Request `i` could not be applied; the others may commit without it.
    Request(usize, StoreError),
    /// The transaction could not begin or commit: the file is in trouble.
    Commit(StoreError),
}

struct Tables<'t> {
    meta: Table<'t, &'static str, u64>,
    audit: Table<'t, (u64, u64), &'static [u8]>,
    users: Table<'t, &'static str, &'static [u8]>,
    tokens: Table<'t, &'static str, &'static [u8]>,
    sessions: Table<'t, &'static str, &'static [u8]>,
    audit_seq: u64,
}

/// Applies the whole batch in one transaction; returns per-request row counts.
fn apply(db: &Database, batch: &[Pending]) -> Result<Vec<u64>, Failure> {
    fn commit(e: impl std::fmt::Display + 'static) -> Failure {
        Failure::Commit(StoreError::storage(e))
    }
    let mut tx: WriteTransaction = db.begin_write().map_err(commit)?;
    tx.set_durability(Durability::Immediate).map_err(commit)?;
    let mut counts = Vec::with_capacity(batch.len());
    {
        let mut t = open_tables(&tx).map_err(Failure::Commit)?;
        for (i, (writes, _)) in batch.iter().enumerate() {
            let mut removed = 0u64;
            for w in writes {
                removed += apply_one(&tx, &mut t, w).map_err(|e| Failure::Request(i, e))?;
            }
            counts.push(removed);
        }
        let seq = t.audit_seq;
        t.meta.insert(AUDIT_SEQ_KEY, seq).map_err(commit)?;
    }
    tx.commit().map_err(commit)?;
    Ok(counts)
}

fn open_tables(tx: &WriteTransaction) -> Result<Tables<'_>, StoreError> {
    let meta = tx.open_table(META).map_err(StoreError::storage)?;
    let audit_seq = meta
        .get(AUDIT_SEQ_KEY)
        .map_err(StoreError::storage)?
        .map(|v| v.value())
        .unwrap_or(0);
    Ok(Tables {
        meta,
        audit: tx.open_table(AUDIT).map_err(StoreError::storage)?,
        users: tx.open_table(USERS).map_err(StoreError::storage)?,
        tokens: tx.open_table(TOKENS).map_err(StoreError::storage)?,
        sessions: tx.open_table(SESSIONS).map_err(StoreError::storage)?,
        audit_seq,
    })
}

fn apply_one(tx: &WriteTransaction, t: &mut Tables<'_>, w: &Write) -> Result<u64, StoreError> {
    let e = StoreError::storage;
    match w {
        Write::Probe(p) => return super::probes::apply(tx, p),
        Write::Audit { at_ms, record } => {
            t.audit_seq += 1;
            t.audit
                .insert((*at_ms, t.audit_seq), encode(record).as_slice())
                .map_err(e)?;
        }
        Write::PutUser { name, record } => {
            t.users
                .insert(name.as_str(), encode(record).as_slice())
                .map_err(e)?;
        }
        Write::DeleteUser { name } => {
            return Ok(u64::from(
                t.users.remove(name.as_str()).map_err(e)?.is_some(),
            ));
        }
        Write::PutToken { hash, record } => {
            t.tokens
                .insert(hash.as_str(), encode(record).as_slice())
                .map_err(e)?;
        }
        Write::DeleteToken { hash } => {
            return Ok(u64::from(
                t.tokens.remove(hash.as_str()).map_err(e)?.is_some(),
            ));
        }
        Write::PutSession { hash, record } => {
            t.sessions
                .insert(hash.as_str(), encode(record).as_slice())
                .map_err(e)?;
        }
        Write::DeleteSession { hash } => {
            return Ok(u64::from(
                t.sessions.remove(hash.as_str()).map_err(e)?.is_some(),
            ));
        }
        Write::PutMeta { key, value } => {
            if key == SCHEMA_VERSION_KEY || key == AUDIT_SEQ_KEY {
                return Err(StoreError::Storage(format!("`{key}` is the store's own")));
            }
            t.meta
                .insert(key.as_str(), *value)
                .map_err(StoreError::storage)?;
        }
        Write::PruneAudit { before_ms, limit } => {
            // Keys are time-ordered, so the oldest rows are a prefix of the table.
            let mut removed = 0u64;
            while (removed as usize) < *limit {
                let Some((k, _)) = t.audit.first().map_err(e)? else {
                    break;
                };
                let key = k.value();
                drop(k);
                if key.0 >= *before_ms {
                    break;
                }
                t.audit.remove(key).map_err(e)?;
                removed += 1;
            }
            return Ok(removed);
        }
        Write::PruneSessions { now_ms, limit } => {
            let mut expired = Vec::new();
            for row in t.sessions.iter().map_err(e)? {
                let (k, v) = row.map_err(e)?;
                let keep = match serde_json::from_slice::<SessionRecord>(v.value()) {
                    Ok(s) => s.expires_at_ms > *now_ms,
                    Err(err) => {
                        warn!(error = %err, "dropping undecodable session");
                        false
                    }
                };
                if !keep {
                    expired.push(k.value().to_string());
                    if expired.len() >= *limit {
                        break;
                    }
                }
            }
            for k in &expired {
                t.sessions.remove(k.as_str()).map_err(e)?;
            }
            return Ok(expired.len() as u64);
        }
        Write::Periskop(p) => return super::periskop::apply(tx, p),
        Write::Sentry(s) => return super::sentry::apply(tx, s),
        Write::Alerts(a) => return super::alerts::apply(tx, a),
        Write::Oncall(o) => return super::oncall::apply(tx, o),
        Write::Status(w) => return super::statuspage::apply(tx, w),
        Write::Forward(w) => return super::forward::apply(tx, w),
        Write::Agents(w) => return super::agents::apply(tx, w),
        Write::Invites(w) => return super::invites::apply(tx, w),
        #[cfg(test)]
        Write::Refuse => return Err(StoreError::Storage("refused for the test".into())),
        #[cfg(test)]
        Write::DiskFail => {
            return Err(StoreError::storage(redb::StorageError::Io(
                std::io::Error::other("injected disk failure"),
            )));
        }
        #[cfg(test)]
        Write::Panic => panic!("writer panic for the test"),
    }
    Ok(0)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
