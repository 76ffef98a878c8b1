//! What ingest reports after each digest batch is committed (see `crate::events`).
//!
//! `environments`, `releases` and `tags` are those of the batch's events for the issue: the
//! distinct values, bounded ([`MAX_BATCH_TAGS`] tag pairs; each event's own tags are bounded
//! by `event/tags.rs`), so an event never carries more than the stored events did.

/// Most distinct `(key, value)` tag pairs one event reports (the first ones, in key order).
pub const MAX_BATCH_TAGS: usize = 256;

/// An issue as it was when the event was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueFacts {
    pub project: u64,
    pub issue_id: u64,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentryEvent {
    /// A new issue was opened.
    IssueCreated {
        issue: IssueFacts,
        environments: Vec<String>,
        releases: Vec<String>,
        tags: Vec<(String, String)>,
        at_ms: u64,
    },
    /// A resolved issue got an event again.
    IssueRegressed {
        issue: IssueFacts,
        environments: Vec<String>,
        releases: Vec<String>,
        tags: Vec<(String, String)>,
        at_ms: u64,
    },
    /// Events grouped into an issue by one digest batch (count-only flood copies included).
    EventsAccepted {
        issue: IssueFacts,
        count: u64,
        /// Users seen for the first time on this issue.
        new_users: u64,
        environments: Vec<String>,
        releases: Vec<String>,
        tags: Vec<(String, String)>,
        at_ms: u64,
    },
}
