//! The `store:` section: group-commit tuning, page cache and retention.

use crate::config::Duration;
use crate::config::decode::Decoder;

crate::config_section! {
    pub struct StoreConfig {
        /// How long audit-log entries are kept.
        pub audit_retention: Duration = Duration::secs(90 * 86_400),
        /// How often expired data is deleted.
        pub retention_interval: Duration = Duration::secs(3600),
        /// Rows deleted per transaction by retention, so deletes never stall writers.
        pub retention_batch: usize = 1000,
        /// Most write requests folded into one transaction.
        pub max_batch: usize = 4096,
        /// Writes waiting for the writer before producers are told to back off.
        pub queue_capacity: usize = 65_536,
        /// Memory for the storage engine's page cache (bounds the process's resident size).
        pub cache_bytes: u64 = 256 * 1024 * 1024,
        /// How long a request waits for its write to commit before it is answered 503 (the
        /// write stays queued and may still land).
        pub write_timeout: Duration = Duration::secs(30),
    }
}

/// Limits that only make sense together.
pub fn validate(c: &StoreConfig, d: &mut Decoder) {
    if c.max_batch == 0 {
        d.error_at("store.max_batch", "must be at least 1");
    }
    if c.queue_capacity < c.max_batch {
        d.error_at("store.queue_capacity", "must be at least store.max_batch");
    }
    if c.retention_batch == 0 {
        d.error_at("store.retention_batch", "must be at least 1");
    }
    if c.retention_interval.get().is_zero() {
        d.error_at("store.retention_interval", "must be positive");
    }
    if c.write_timeout.get().is_zero() {
        d.error_at("store.write_timeout", "must be positive");
    }
}
