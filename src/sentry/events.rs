//! What ingest reports after each digest batch is committed (see `crate::events`).

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
    /// A new issue was opened. `environments` and `releases` are those of the batch's events.
    IssueCreated {
        issue: IssueFacts,
        environments: Vec<String>,
        releases: Vec<String>,
        at_ms: u64,
    },
    /// A resolved issue got an event again.
    IssueRegressed {
        issue: IssueFacts,
        environments: Vec<String>,
        releases: Vec<String>,
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
        at_ms: u64,
    },
}
