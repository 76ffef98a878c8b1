//! Slows down password guessing: after `free` failures for a key (a user name or a client
//! address), each further failure locks that key for `backoff * 2^(extra-1)`, capped at `max`.
//! A success clears the key. Memory is bounded: stale keys are purged, and at capacity the
//! oldest key is dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Keys remembered at most; enough for any real attack surface, small enough to never matter.
const MAX_KEYS: usize = 100_000;
/// A key with no failure for this long is forgotten.
const FORGET_AFTER_MS: u64 = 3_600_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: u64,
    locked_until_ms: u64,
}

pub struct Throttle {
    free: u32,
    backoff_ms: u64,
    max_ms: u64,
    keys: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    pub fn new(free: u32, backoff: Duration, max: Duration) -> Self {
        Throttle {
            free,
            backoff_ms: backoff.as_millis() as u64,
            max_ms: max.as_millis() as u64,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Milliseconds to wait before another attempt for any of `keys`, if locked.
    pub fn wait(&self, keys: &[&str], now_ms: u64) -> Option<u64> {
        let map = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| map.get(*k))
            .map(|e| e.locked_until_ms.saturating_sub(now_ms))
            .filter(|w| *w > 0)
            .max()
    }

    /// Reserves an attempt for `keys`: refused with the milliseconds to wait when any key is
    /// locked; otherwise counted as a failure right away (a success then clears it). Counting
    /// before the password is checked means concurrent attempts cannot all pass the check before
    /// the first of them fails: 30 parallel guesses get `free + 1` verifications, not 30.
    pub fn reserve(&self, keys: &[&str], now_ms: u64) -> Result<(), u64> {
        if let Some(wait) = self.wait(keys, now_ms) {
            return Err(wait);
        }
        self.fail(keys, now_ms);
        Ok(())
    }

    pub fn fail(&self, keys: &[&str], now_ms: u64) {
        let mut map = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, e| now_ms.saturating_sub(e.last_failure_ms) < FORGET_AFTER_MS);
            if map.len() >= MAX_KEYS
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.last_failure_ms)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        for key in keys {
            let e = map.entry((*key).to_string()).or_insert(Entry {
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
                let extra = (e.failures - self.free - 1).min(32);
                let wait = self
                    .backoff_ms
                    .saturating_mul(1u64 << extra)
                    .min(self.max_ms);
                e.locked_until_ms = now_ms.saturating_add(wait);
            }
        }
    }

    pub fn succeed(&self, keys: &[&str]) {
        let mut map = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            map.remove(*key);
        }
    }
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
}
