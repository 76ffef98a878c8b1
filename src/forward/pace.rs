//! The pure core of forwarding: how fast to send (from upstream's own response times), what
//! upstream's rate limits hold back, and what an answer means for an envelope. No I/O, no
//! clock: callers pass `now_ms`.
//!
//! Owns: latency statistics, the pace, rate-limit parsing and state, backoff, verdicts.
//! Depends on: nothing else in the crate.

use std::collections::{HashMap, VecDeque};

/// Response times remembered for the pace (Cyclops keeps 5000; fewer reacts faster).
const WINDOW: usize = 1000;
/// A 429 without `X-Sentry-Rate-Limits` or `Retry-After` holds everything this long.
const DEFAULT_LIMIT_MS: u64 = 60_000;
/// Longest rate limit honoured (a hostile header cannot park an envelope past its age anyway,
/// but this keeps the arithmetic sane).
const MAX_LIMIT_MS: u64 = 86_400_000;

/// Recent upstream response times.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    recent: VecDeque<u64>,
    sum: u64,
}

impl Latencies {
    pub fn record(&mut self, ms: u64) {
        if self.recent.len() == WINDOW
            && let Some(old) = self.recent.pop_front()
        {
            self.sum -= old;
        }
        self.recent.push_back(ms);
        self.sum += ms;
    }

    pub fn mean(&self) -> u64 {
        if self.recent.is_empty() {
            0
        } else {
            self.sum / self.recent.len() as u64
        }
    }

    /// The 90th percentile (nearest rank) of the remembered response times.
    pub fn p90(&self) -> u64 {
        if self.recent.is_empty() {
            return 0;
        }
        let mut v: Vec<u64> = self.recent.iter().copied().collect();
        let rank = (v.len() * 9).div_ceil(10).max(1) - 1;
        *v.select_nth_unstable(rank).1
    }

    /// The pause between two sends: upstream's p90, capped. A slow upstream is sent to
    /// slowly; a fast one quickly; never slower than `max_ms`.
    pub fn interval_ms(&self, max_ms: u64) -> u64 {
        self.p90().min(max_ms)
    }
}

/// Upstream's rate limits, per category (`""`: every category).
#[derive(Debug, Default, Clone)]
pub struct RateLimits {
    until: HashMap<String, u64>,
}

impl RateLimits {
    /// Applies `X-Sentry-Rate-Limits` (`retry_after:categories:scope:reason, ...`), present on
    /// any status; keeps the longest limit per category.
    pub fn apply_header(&mut self, header: &str, now_ms: u64) {
        for limit in header.split(',') {
            let mut parts = limit.trim().split(':');
            let Some(secs) = parts.next().and_then(|s| s.trim().parse::<f64>().ok()) else {
                continue;
            };
            if !secs.is_finite() || secs < 0.0 {
                continue;
            }
            let ms = ((secs * 1000.0) as u64).min(MAX_LIMIT_MS);
            let cats = parts.next().unwrap_or("");
            let cats: Vec<&str> = if cats.is_empty() {
                vec![""]
            } else {
                cats.split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            };
            for c in cats {
                let e = self.until.entry(c.to_string()).or_insert(0);
                *e = (*e).max(now_ms + ms);
            }
        }
    }

    /// A 429: its header when it has one, else `Retry-After` (seconds) for every category,
    /// else a minute, as Relay does.
    pub fn apply_429(&mut self, header: Option<&str>, retry_after: Option<&str>, now_ms: u64) {
        if let Some(h) = header.filter(|h| !h.trim().is_empty()) {
            self.apply_header(h, now_ms);
            return;
        }
        let ms = retry_after
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(DEFAULT_LIMIT_MS, |s| {
                ((s * 1000.0) as u64).min(MAX_LIMIT_MS)
            });
        let e = self.until.entry(String::new()).or_insert(0);
        *e = (*e).max(now_ms + ms);
    }

    /// When a category's limit ends (`None`: not limited). `default` and `error` are one
    /// category for events, as in Sentry.
    fn until(&self, category: &str, now_ms: u64) -> Option<u64> {
        let get = |c: &str| self.until.get(c).copied().filter(|u| *u > now_ms);
        let mut best = get("").max(get(category));
        if category == "error" {
            best = best.max(get("default"));
        }
        best
    }

    /// Whether an envelope with these categories must wait, and until when. Held while any of
    /// its items is limited: an envelope goes whole or not at all.
    pub fn held_until(&self, categories: &[String], now_ms: u64) -> Option<u64> {
        categories
            .iter()
            .filter_map(|c| self.until(c, now_ms))
            .max()
            .or_else(|| self.until("", now_ms))
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// Forgets limits that ended (bounds the map by the categories upstream named lately).
    pub fn expire(&mut self, now_ms: u64) {
        self.until.retain(|_, u| *u > now_ms);
    }
}

/// `Retry-After` in ms from `now_ms`: seconds (as Sentry sends it), or an HTTP date.
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64);
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(v)
        .ok()?
        .as_millisecond();
    Some(u64::try_from(at).ok()?.saturating_sub(now_ms))
}

/// Pause after consecutive failures: doubling from one second, capped.
pub fn backoff_ms(failures: u32, max_ms: u64) -> u64 {
    1000u64
        .saturating_mul(1u64 << failures.saturating_sub(1).min(20))
        .min(max_ms)
}

/// What an answer from upstream means for the envelope sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted (2xx): delete, count processed.
    Processed,
    /// 429: keep or drop by `on_rate_limit` (the limits were recorded).
    RateLimited,
    /// Network error, 408, 5xx: keep, back off, try again.
    Retry,
    /// Any other answer: upstream will never take it; drop, count, log its answer.
    Rejected,
}

pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        None => Verdict::Retry,
        Some(s) if (200..300).contains(&s) => Verdict::Processed,
        Some(429) => Verdict::RateLimited,
        Some(408) => Verdict::Retry,
        Some(s) if s >= 500 => Verdict::Retry,
        Some(_) => Verdict::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_follows_p90_capped() {
        let mut l = Latencies::default();
        assert_eq!(l.interval_ms(1000), 0);
        for ms in 1..=100 {
            l.record(ms);
        }
        assert_eq!(l.p90(), 90);
        assert_eq!(l.mean(), 50);
        assert_eq!(l.interval_ms(1000), 90);
        assert_eq!(l.interval_ms(40), 40);
        for _ in 0..WINDOW {
            l.record(5);
        }
        assert_eq!(l.p90(), 5, "old samples leave the window");
    }

    #[test]
    fn rate_limits_per_category_and_on_any_status() {
        let mut r = RateLimits::default();
        r.apply_header(
            "60:transaction:key, 2.5:error;attachment:project:quota",
            1000,
        );
        let cats = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(r.held_until(&cats(&["transaction"]), 1000), Some(61_000));
        assert_eq!(r.held_until(&cats(&["error"]), 1000), Some(3500));
        assert_eq!(r.held_until(&cats(&["session"]), 1000), None);
        assert_eq!(r.held_until(&cats(&["session", "error"]), 1000), Some(3500));
        assert_eq!(r.held_until(&cats(&["error"]), 3500), None);
        r.apply_header("10::organization", 0);
        assert_eq!(r.held_until(&cats(&["session"]), 0), Some(10_000));
        r.apply_header("garbage, -1:error, :x", 0);
        r.expire(20_000);
        assert_eq!(r.held_until(&cats(&["error"]), 20_000), None);
    }

    #[test]
    fn a_429_without_header_limits_everything() {
        let mut r = RateLimits::default();
        r.apply_429(None, Some("7"), 0);
        assert_eq!(r.held_until(&["error".to_string()], 0), Some(7000));
        let mut r = RateLimits::default();
        r.apply_429(None, None, 0);
        assert_eq!(r.held_until(&["session".to_string()], 0), Some(60_000));
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770_000),
            Some(7000)
        );
        assert_eq!(retry_after_ms("soon", 0), None);
        let mut r = RateLimits::default();
        r.apply_429(Some("3:session:key"), Some("99"), 0);
        assert_eq!(r.held_until(&["error".to_string()], 0), None);
    }

    #[test]
    fn verdicts_and_backoff() {
        assert_eq!(verdict(Some(200)), Verdict::Processed);
        assert_eq!(verdict(Some(429)), Verdict::RateLimited);
        assert_eq!(verdict(Some(503)), Verdict::Retry);
        assert_eq!(verdict(None), Verdict::Retry);
        assert_eq!(verdict(Some(413)), Verdict::Rejected);
        assert_eq!(backoff_ms(1, 60_000), 1000);
        assert_eq!(backoff_ms(3, 60_000), 4000);
        assert_eq!(backoff_ms(30, 60_000), 60_000);
    }
}
