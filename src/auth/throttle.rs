//! Slows down password guessing: after `free` failures for a key (a user name or a client
//! address), each further failure locks that key for `backoff * 2^(extra-1)`, capped at `max`.
//! A success clears the key.
//!
//! Memory is bounded at `capacity` keys with O(1) amortised work per attempt: stale keys are
//! swept in one pass at most once a minute, and at capacity the oldest *unlocked* key makes
//! room. A locked key is never evicted (that would lift its lock-out, e.g. a `user:` key under
//! attack, by flooding the table with new client addresses); when only locked keys remain, a new
//! key is refused, and with it the attempt, until locks expire.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Keys remembered at most; enough for any real attack surface, small enough to never matter.
const MAX_KEYS: usize = 100_000;
/// A key with no failure for this long is forgotten.
const FORGET_AFTER_MS: u64 = 3_600_000;
/// Stale keys are swept at most this often (the sweep is one pass over every key).
const PRUNE_EVERY_MS: u64 = 60_000;
/// Locked keys stepped over while looking for one to evict; beyond, the new key is refused.
const EVICT_SCAN: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: u64,
    locked_until_ms: u64,
}

struct Keys {
    map: HashMap<String, Entry>,
    /// Keys in insertion order, oldest first: the eviction candidates. It may name keys already
    /// gone (skipped when met) and is rebuilt from `map` when it grows past twice the capacity.
    order: VecDeque<String>,
    last_prune_ms: u64,
}

pub struct Throttle {
    free: u32,
    backoff_ms: u64,
    max_ms: u64,
    capacity: usize,
    keys: Mutex<Keys>,
}

impl Throttle {
    pub fn new(free: u32, backoff: Duration, max: Duration) -> Self {
        Self::with_capacity(free, backoff, max, MAX_KEYS)
    }

    fn with_capacity(free: u32, backoff: Duration, max: Duration, capacity: usize) -> Self {
        Throttle {
            free,
            backoff_ms: backoff.as_millis() as u64,
            max_ms: max.as_millis() as u64,
            capacity: capacity.max(1),
            keys: Mutex::new(Keys {
                map: HashMap::new(),
                order: VecDeque::new(),
                last_prune_ms: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Milliseconds to wait before another attempt for any of `keys`, if locked.
    pub fn wait(&self, keys: &[&str], now_ms: u64) -> Option<u64> {
        wait_in(&self.lock().map, keys, now_ms)
    }

    /// Reserves an attempt for `keys`: refused with the milliseconds to wait when any key is
    /// locked, or when a key is new and the table has no room for it (only locked keys left);
    /// otherwise counted as a failure right away (a success then clears it, a verification that
    /// never ran is [`refund`](Self::refund)ed). Counting before the password is checked means
    /// concurrent attempts cannot all pass the check before the first of them fails: 30
    /// parallel guesses get `free + 1` verifications, not 30.
    pub fn reserve(&self, keys: &[&str], now_ms: u64) -> Result<(), u64> {
        let mut k = self.lock();
        if let Some(wait) = wait_in(&k.map, keys, now_ms) {
            return Err(wait);
        }
        let new = keys.iter().filter(|key| !k.map.contains_key(**key)).count();
        if !self.make_room(&mut k, new, now_ms) {
            return Err(self.backoff_ms.max(1000));
        }
        for key in keys {
            self.count(&mut k, key, now_ms);
        }
        Ok(())
    }

    /// Counts a failure for `keys` (a new key the table has no room for is not tracked).
    pub fn fail(&self, keys: &[&str], now_ms: u64) {
        let mut k = self.lock();
        for key in keys {
            if k.map.contains_key(*key) || self.make_room(&mut k, 1, now_ms) {
                self.count(&mut k, key, now_ms);
            }
        }
    }

    /// Gives back a reservation whose password was never checked (the attempt timed out waiting
    /// for a verification slot): the failure it counted, and the lock-out that failure caused.
    pub fn refund(&self, keys: &[&str]) {
        let mut k = self.lock();
        for key in keys {
            if let Some(e) = k.map.get_mut(*key) {
                e.failures = e.failures.saturating_sub(1);
                e.locked_until_ms = if e.failures > self.free {
                    e.last_failure_ms
                        .saturating_add(self.lockout_ms(e.failures))
                } else {
                    0
                };
            }
        }
    }

    pub fn succeed(&self, keys: &[&str]) {
        let mut k = self.lock();
        for key in keys {
            k.map.remove(*key);
        }
    }

    /// The lock-out after the `failures`-th failure (more than `free`).
    fn lockout_ms(&self, failures: u32) -> u64 {
        let extra = failures.saturating_sub(self.free).saturating_sub(1).min(32);
        self.backoff_ms
            .saturating_mul(1u64 << extra)
            .min(self.max_ms)
    }

    fn count(&self, k: &mut Keys, key: &str, now_ms: u64) {
        if !k.map.contains_key(key) {
            k.order.push_back(key.to_string());
            if k.order.len() > self.capacity.saturating_mul(2) {
                // Amortised over at least `capacity` insertions since the last rebuild.
                k.order = k.map.keys().cloned().chain([key.to_string()]).collect();
            }
        }
        let e = k.map.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            last_failure_ms: now_ms,
            locked_until_ms: 0,
        });
        if now_ms.saturating_sub(e.last_failure_ms) >= FORGET_AFTER_MS {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure_ms = now_ms;
        if e.failures > self.free {
            e.locked_until_ms = now_ms.saturating_add(self.lockout_ms(e.failures));
        }
    }

    /// Makes room for `needed` new keys: sweeps stale keys (at most once a minute), then evicts
    /// the oldest unlocked keys. False when only locked keys are left to evict.
    fn make_room(&self, k: &mut Keys, needed: usize, now_ms: u64) -> bool {
        let fits = |k: &Keys| k.map.len() + needed <= self.capacity;
        if fits(k) {
            return true;
        }
        if now_ms.saturating_sub(k.last_prune_ms) >= PRUNE_EVERY_MS {
            k.last_prune_ms = now_ms;
            k.map.retain(|_, e| {
                e.locked_until_ms > now_ms
                    || now_ms.saturating_sub(e.last_failure_ms) < FORGET_AFTER_MS
            });
        }
        let mut stepped_over = 0;
        while !fits(k) && stepped_over < EVICT_SCAN.min(k.order.len()) {
            let Some(key) = k.order.pop_front() else {
                break;
            };
            match k.map.get(&key) {
                // Gone already (a success, a sweep): each such entry is met once.
                None => {}
                Some(e) if e.locked_until_ms > now_ms => {
                    stepped_over += 1;
                    k.order.push_back(key);
                }
                Some(_) => {
                    k.map.remove(&key);
                }
            }
        }
        fits(k)
    }
}

fn wait_in(map: &HashMap<String, Entry>, keys: &[&str], now_ms: u64) -> Option<u64> {
    keys.iter()
        .filter_map(|k| map.get(*k))
        .map(|e| e.locked_until_ms.saturating_sub(now_ms))
        .filter(|w| *w > 0)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_free_failures_and_doubles() {
        let t = Throttle::new(3, Duration::from_secs(1), Duration::from_secs(10));
        let k = ["user:a"];
        for _ in 0..3 {
            assert_eq!(t.wait(&k, 0), None);
            t.fail(&k, 0);
        }
        assert_eq!(t.wait(&k, 0), None, "three failures are free");
        t.fail(&k, 0);
        assert_eq!(t.wait(&k, 0), Some(1000));
        t.fail(&k, 1000);
        assert_eq!(t.wait(&k, 1000), Some(2000));
        t.fail(&k, 3000);
        assert_eq!(t.wait(&k, 3000), Some(4000));
        for i in 0..10 {
            t.fail(&k, 10_000 + i);
        }
        assert_eq!(t.wait(&k, 10_009), Some(10_000), "capped at max");
        t.succeed(&k);
        assert_eq!(t.wait(&k, 10_009), None);
    }

    #[test]
    fn reservations_count_before_the_outcome_is_known() {
        let t = Throttle::new(5, Duration::from_secs(1), Duration::from_secs(10));
        let k = ["user:a"];
        // Thirty attempts in flight at once: only six get to verify.
        let admitted = (0..30).filter(|_| t.reserve(&k, 0).is_ok()).count();
        assert_eq!(admitted, 6);
        t.succeed(&k);
        assert!(t.reserve(&k, 0).is_ok(), "a success clears the key");
    }

    #[test]
    fn a_refunded_reservation_neither_counts_nor_locks() {
        let t = Throttle::new(1, Duration::from_secs(5), Duration::from_secs(60));
        let k = ["user:a", "ip:1.2.3.4"];
        for _ in 0..10 {
            assert_eq!(t.reserve(&k, 0), Ok(()));
            t.refund(&k);
        }
        assert_eq!(t.wait(&k, 0), None, "ten attempts that never verified");
        assert_eq!(t.reserve(&k, 0), Ok(()));
        assert_eq!(
            t.reserve(&k, 0),
            Ok(()),
            "the one free failure, then the first counted"
        );
        assert_eq!(t.wait(&k, 0), Some(5000));
    }

    #[test]
    fn any_locked_key_blocks() {
        let t = Throttle::new(0, Duration::from_secs(5), Duration::from_secs(60));
        t.fail(&["ip:1.2.3.4"], 0);
        assert_eq!(t.wait(&["user:b", "ip:1.2.3.4"], 1000), Some(4000));
        assert_eq!(t.wait(&["user:b", "ip:5.6.7.8"], 1000), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t = Throttle::new(1, Duration::from_secs(1), Duration::from_secs(60));
        t.fail(&["k"], 0);
        t.fail(&["k"], FORGET_AFTER_MS + 1);
        assert_eq!(t.wait(&["k"], FORGET_AFTER_MS + 1), None);
    }

    /// Flooding the table with new addresses must not evict a locked user: that would lift
    /// its lock-out (it was the oldest key, so it went first).
    #[test]
    fn a_locked_key_survives_a_flood_of_new_keys() {
        let t = Throttle::with_capacity(0, Duration::from_secs(60), Duration::from_secs(60), 10);
        t.fail(&["user:victim"], 0);
        assert_eq!(t.wait(&["user:victim"], 1), Some(59_999));
        for i in 0..1000 {
            let ip = format!("ip:10.0.{}.{}", i / 256, i % 256);
            let _ = t.reserve(&[ip.as_str()], 1);
            t.succeed(&[ip.as_str()]);
        }
        for i in 0..1000 {
            let ip = format!("ip:10.1.{}.{}", i / 256, i % 256);
            t.fail(&[ip.as_str()], 2);
        }
        assert_eq!(t.wait(&["user:victim"], 3), Some(59_997), "still locked");
        assert!(t.lock().map.len() <= 10);
    }

    #[test]
    fn when_only_locked_keys_remain_new_keys_are_refused_until_locks_expire() {
        let t = Throttle::with_capacity(0, Duration::from_secs(5), Duration::from_secs(5), 3);
        for ip in ["ip:a", "ip:b", "ip:c"] {
            assert_eq!(t.reserve(&[ip], 0), Ok(()));
        }
        assert_eq!(
            t.reserve(&["ip:d"], 1),
            Err(5000),
            "no room: refused, not untracked"
        );
        assert_eq!(t.wait(&["ip:a"], 1), Some(4999), "nobody was evicted");
        // Once the locks ran out, the oldest unlocked key makes room.
        assert_eq!(t.reserve(&["ip:d"], 5001), Ok(()));
        assert_eq!(t.wait(&["ip:d"], 5001), Some(5000));
        assert!(t.lock().map.len() <= 3);
    }

    #[test]
    fn stale_keys_are_swept_when_the_table_is_full() {
        let t = Throttle::with_capacity(5, Duration::from_secs(1), Duration::from_secs(1), 2);
        t.fail(&["ip:a"], 0);
        t.fail(&["ip:b"], 0);
        t.fail(&["ip:c"], FORGET_AFTER_MS + 1);
        let k = t.lock();
        assert!(k.map.contains_key("ip:c"));
        assert!(k.map.len() <= 2);
    }
}
