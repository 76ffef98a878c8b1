//! The `forward:` section: how Panoptes paces what it passes on to upstream Sentry. Which
//! projects forward, and where, is each project's `forward:` (`projects[].forward`, owned by
//! `crate::sentry::config`).
//!
//! Owns: the global forwarding knobs and their checks. Depends on: `config`.

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder};
use crate::config::yaml::Node;

/// What happens to envelopes of a category upstream rate-limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRateLimit {
    /// Kept in the outbox and sent once the limit ends (still bounded by `max_age`).
    Hold,
    /// Dropped and counted (`dropped_rate_limited`), as Relay does.
    Drop,
}

impl Decode for OnRateLimit {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        d.parse_with(node, path, "hold or drop", |s| match s {
            "hold" => Ok(OnRateLimit::Hold),
            "drop" => Ok(OnRateLimit::Drop),
            _ => Err(String::new()),
        })
    }
}

crate::config_section! {
    /// Pacing and bounds of forwarding, shared by every project that forwards.
    pub struct ForwardConfig {
        /// Bytes the outbox may hold; beyond, the oldest envelopes are dropped
        /// (`dropped_outbox_full`).
        pub max_outbox_bytes: u64 = 500 * 1024 * 1024,
        /// Envelopes older than this are dropped unsent (`dropped_expired`).
        pub max_age: Duration = Duration::secs(86_400),
        /// Requests to upstream in flight at once.
        pub max_concurrency: usize = 4,
        /// The pause between sends follows the p90 of upstream's recent response times, up to
        /// this.
        pub max_interval: Duration = Duration::secs(1),
        /// Longest wait after network errors and 5xx (the backoff doubles up to it).
        pub max_backoff: Duration = Duration::secs(60),
        /// Bound on one request to upstream.
        pub timeout: Duration = Duration::secs(30),
        /// `hold` (default) or `drop` what upstream rate-limits.
        pub on_rate_limit: OnRateLimit = OnRateLimit::Hold,
    }
    check = check;
}

fn check(c: &ForwardConfig, path: &str, d: &mut Decoder) {
    let at = |f: &str| crate::config::decode::join(path, f);
    if c.max_concurrency == 0 || c.max_concurrency > 1024 {
        d.error_at(&at("max_concurrency"), "1 to 1024");
    }
    if c.max_outbox_bytes < 1024 * 1024 {
        d.error_at(&at("max_outbox_bytes"), "at least 1 MiB");
    }
    if c.max_age.get().is_zero() {
        d.error_at(&at("max_age"), "must be positive");
    }
    if c.timeout.get().is_zero() {
        d.error_at(&at("timeout"), "must be positive");
    }
    if c.max_backoff.get() < std::time::Duration::from_secs(1) {
        d.error_at(&at("max_backoff"), "at least 1s");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::root::parse;

    #[test]
    fn section_parses_and_errors_point_at_the_line() {
        let ok = parse(
            "forward:\n  max_concurrency: 2\n  on_rate_limit: drop\n",
            "f",
            &|_| None,
        )
        .expect("valid");
        assert_eq!(ok.forward.max_concurrency, 2);
        assert_eq!(ok.forward.on_rate_limit, OnRateLimit::Drop);
        assert_eq!(ok.forward.max_outbox_bytes, 500 * 1024 * 1024);
        let e = parse(
            "forward:\n  max_concurrency: 0\n  on_rate_limit: wait\n",
            "f",
            &|_| None,
        )
        .expect_err("invalid")
        .to_string();
        assert!(e.contains("forward.max_concurrency: 1 to 1024"), "{e}");
        assert!(
            e.contains("f:3:18: forward.on_rate_limit: expected hold or drop"),
            "{e}"
        );
    }
}
