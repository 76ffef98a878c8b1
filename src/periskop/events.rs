//! What exception scraping reports after each aggregation is stored (see `crate::events`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriskopEvent {
    /// A key seen for the first time in a service.
    KeyCreated {
        service: String,
        key: String,
        severity: String,
        total: u64,
        at_ms: u64,
    },
    /// A resolved key's count grew again.
    KeyRegressed {
        service: String,
        key: String,
        total: u64,
        at_ms: u64,
    },
    /// A key's count grew (by `increase`, to `total`).
    CountIncreased {
        service: String,
        key: String,
        increase: u64,
        total: u64,
        at_ms: u64,
    },
    /// A scrape target's health changed.
    TargetHealth {
        service: String,
        target: String,
        up: bool,
        error: Option<String>,
        at_ms: u64,
    },
}
