//! What an ingest request holds while it is served: a place among the bodies read at once, and
//! its share of `ingest.max_inflight_bytes`, charged chunk by chunk as the body arrives and as
//! it is decompressed, then carried into the commit.
//!
//! Owns: the two body-reading pools (requests whose key was checked before the read, and
//! envelopes whose only credential is the `dsn` inside them) and the inflight byte budget.
//! Depends on: nothing but tokio's semaphores.
//!
//! Charging as bytes arrive (not once the body is whole) is what bounds memory: 256 parallel
//! gzip bombs each decompressing to 100 MiB are refused at the budget, not after allocating it.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Ingest, IngestError};

/// A request's share of `ingest.max_inflight_bytes`, in KiB permits. Dropping it gives the
/// share back.
pub struct Charge {
    pool: Arc<Semaphore>,
    held: Option<OwnedSemaphorePermit>,
    /// The whole budget in KiB: a charge beyond it can never be granted.
    total_kib: u32,
}

fn kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

impl Charge {
    pub fn new(pool: Arc<Semaphore>, total_kib: u32) -> Charge {
        Charge {
            pool,
            held: None,
            total_kib,
        }
    }

    /// A budget of its own of `bytes` (fuzzing, tools that decode outside a server).
    pub fn standalone(bytes: u64) -> Charge {
        let total = kib(bytes).min(u64::from(u32::MAX >> 3)) as u32;
        Charge::new(Arc::new(Semaphore::new(total as usize)), total)
    }

    /// KiB held now.
    pub fn held_kib(&self) -> u64 {
        self.held.as_ref().map_or(0, |p| p.num_permits() as u64)
    }

    /// Charges `bytes` more, on top of what is held; `Busy` when the budget has no room.
    pub fn add(&mut self, bytes: usize) -> Result<(), IngestError> {
        // Bytes are charged in whole KiB; a chunk's remainder rounds up, which only errs on
        // the side of refusing.
        let want = self.held_kib() + kib(bytes as u64);
        self.resize_kib(want)
    }

    /// Holds exactly what `bytes` needs: more is taken (`Busy` when there is no room), the
    /// excess given back (a compressed body once it is decoded, a body once its plan holds
    /// the copies that are stored).
    pub fn resize(&mut self, bytes: u64) -> Result<(), IngestError> {
        self.resize_kib(kib(bytes))
    }

    fn resize_kib(&mut self, want: u64) -> Result<(), IngestError> {
        let have = self.held_kib();
        if want <= have {
            if want < have
                && let Some(p) = self.held.as_mut()
            {
                // `split` hands back a permit of `have - want` that is released when dropped.
                drop(p.split((have - want) as usize));
            }
            return Ok(());
        }
        let busy = || {
            IngestError::Busy(
                "too many bytes are held by requests waiting for the store (ingest.max_inflight_bytes)"
                    .into(),
            )
        };
        if want > u64::from(self.total_kib) {
            return Err(busy());
        }
        let more = u32::try_from(want - have).map_err(|_| busy())?;
        let permit = self
            .pool
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| busy())?;
        match self.held.as_mut() {
            Some(p) => p.merge(permit),
            None => self.held = Some(permit),
        }
        Ok(())
    }
}

/// A request body as read from the network, before its `Content-Encoding` is undone, with what
/// it holds: its place among the bodies being read (kept until it is parsed) and its charge.
pub struct RawBody {
    pub bytes: Bytes,
    pub encoding: Option<String>,
    /// Most bytes it may decompress to.
    pub decompressed_limit: u64,
    pub charge: Charge,
    pub reading: Option<OwnedSemaphorePermit>,
}

/// Largest plain body planned on the request's own task (see [`RawBody::is_small_plain`]).
pub const INLINE_BYTES: usize = 64 * 1024;

impl RawBody {
    /// Whether planning this body is cheap enough for an async worker: not compressed and at
    /// most [`INLINE_BYTES`]. Parsing a few KiB of JSON takes tens of microseconds, less than
    /// handing the work to the blocking pool and back (two thread wake-ups per request, and at
    /// 64 requests at once a pool thread each); a compressed or large body still goes there, so
    /// no worker is held for long.
    pub fn is_small_plain(&self) -> bool {
        self.bytes.len() <= INLINE_BYTES
            && self.encoding.as_deref().is_none_or(|e| {
                e.split(',')
                    .all(|c| super::body::is_identity(&c.trim().to_ascii_lowercase()))
            })
    }
}

impl Ingest {
    /// A place among the bodies read at once, or `Busy`. `key_checked`: the request's key (in
    /// a header or the query) was checked before the read; otherwise its only credential is
    /// inside the body, and it reads from a small pool of its own so that it cannot take the
    /// places of senders with a key.
    pub fn body_permit(&self, key_checked: bool) -> Result<OwnedSemaphorePermit, IngestError> {
        let (pool, what) = if key_checked {
            (
                &self.inner.bodies,
                "too many request bodies are being read (ingest.max_concurrent_bodies)",
            )
        } else {
            (
                &self.inner.unauthenticated_bodies,
                "too many envelopes without a key in a header or the query are being read \
                 (ingest.max_concurrent_unauthenticated_bodies)",
            )
        };
        pool.clone()
            .try_acquire_owned()
            .map_err(|_| IngestError::Busy(what.into()))
    }

    /// A new, empty charge against `ingest.max_inflight_bytes`.
    pub fn charge(&self) -> Charge {
        Charge::new(self.inner.inflight.clone(), self.inner.inflight_kib)
    }

    /// A body already in memory and not encoded, charged as such (tests, in-process callers).
    pub fn plain_body(&self, bytes: Bytes) -> Result<RawBody, IngestError> {
        let mut charge = self.charge();
        charge.add(bytes.len())?;
        Ok(RawBody {
            decompressed_limit: bytes.len() as u64,
            bytes,
            encoding: None,
            charge,
            reading: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_grow_by_chunk_shrink_on_resize_and_return_when_dropped() {
        let pool = Arc::new(Semaphore::new(10));
        let mut a = Charge::new(pool.clone(), 10);
        a.add(4 * 1024).expect("4 KiB");
        a.add(1).expect("a byte rounds up to a KiB");
        assert_eq!((a.held_kib(), pool.available_permits()), (5, 5));
        let mut b = Charge::new(pool.clone(), 10);
        assert!(matches!(b.add(6 * 1024), Err(IngestError::Busy(_))));
        assert_eq!(b.held_kib(), 0, "a refused chunk takes nothing");
        a.resize(1024).expect("shrink");
        assert_eq!(pool.available_permits(), 9);
        b.add(6 * 1024).expect("room again");
        assert!(
            matches!(b.resize(11 * 1024), Err(IngestError::Busy(_))),
            "more than the whole budget is never granted"
        );
        drop((a, b));
        assert_eq!(pool.available_permits(), 10);
    }
}
