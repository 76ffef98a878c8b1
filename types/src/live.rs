//! The dashboard's live feed (`GET /api/v1/live`, server-sent events): one small JSON message
//! per change worth showing at once. A message says *what* changed, not the whole new state:
//! the dashboard refetches the views it concerns, so the API stays the one source of truth and
//! a missed message costs only a delay (the dashboard also polls slowly).

use serde::{Deserialize, Serialize};

use crate::MonitorState;

/// One message of the live feed, tagged by `type` (`{"type":"monitor_state",...}`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// The first message of every connection. A different `instance_id` than last time means
    /// the server restarted; either way the client refetches what it shows.
    Hello { instance_id: String },
    /// Messages were lost (this client fell behind): refetch everything shown.
    Resync,
    /// A monitor's state changed (not sent for results that keep the state).
    MonitorState {
        monitor_id: u32,
        name: String,
        previous: MonitorState,
        state: MonitorState,
        at_ms: u64,
    },
    /// A monitor left the configuration (a reload).
    MonitorRemoved { monitor_id: u32, name: String },
    /// Results that kept their monitor's state were stored: `results` of them since the last
    /// such message. Sent at most every few seconds, however many monitors there are, for
    /// the views that show latencies and last checks.
    MonitorsChecked { results: u64 },
    /// A new issue was opened by an event.
    IssueOpened {
        project: u64,
        issue_id: u64,
        title: String,
        level: String,
        at_ms: u64,
    },
    /// A resolved issue got an event again.
    IssueRegressed {
        project: u64,
        issue_id: u64,
        title: String,
        level: String,
        at_ms: u64,
    },
    /// An exception key was seen for the first time in a service, or (`regressed`) a resolved
    /// one grew again.
    ExceptionKey {
        service: String,
        key: String,
        regressed: bool,
        at_ms: u64,
    },
    /// A scrape target of an exceptions service went up or down.
    ScrapeTarget {
        service: String,
        target: String,
        up: bool,
        at_ms: u64,
    },
    /// An alert fired (`firing`) or resolved.
    Alert {
        fingerprint: String,
        alertname: Option<String>,
        firing: bool,
    },
    /// An on-call page changed once stored: `change` is `created`, `acknowledged`,
    /// `escalated`, `resolved` or `updated` (a delivery's outcome, its alerts).
    Page {
        page_id: u64,
        title: String,
        change: String,
        at_ms: u64,
    },
    /// The store failed; it refuses writes until restart.
    StoreFailed { reason: String },
    /// A message type this client does not know (a newer server): treated like [`Resync`].
    ///
    /// [`Resync`]: LiveMessage::Resync
    #[serde(other)]
    Other,
}

/// What part of the dashboard a message concerns, so a view refetches only for its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Monitors' states: changes, additions, removals.
    Monitors,
    /// Monitors' results that changed no state (latencies, last checks).
    Checks,
    Issues,
    Exceptions,
    Alerts,
    /// On-call pages.
    Pages,
    Server,
}

impl Topic {
    pub const ALL: [Topic; 7] = [
        Topic::Monitors,
        Topic::Checks,
        Topic::Issues,
        Topic::Exceptions,
        Topic::Alerts,
        Topic::Pages,
        Topic::Server,
    ];
}

impl LiveMessage {
    /// The topic this message concerns; `None` for every topic at once (a new connection, a
    /// resync, a message this client does not know).
    pub fn topic(&self) -> Option<Topic> {
        match self {
            LiveMessage::Hello { .. } | LiveMessage::Resync | LiveMessage::Other => None,
            LiveMessage::MonitorState { .. } | LiveMessage::MonitorRemoved { .. } => {
                Some(Topic::Monitors)
            }
            LiveMessage::MonitorsChecked { .. } => Some(Topic::Checks),
            LiveMessage::IssueOpened { .. } | LiveMessage::IssueRegressed { .. } => {
                Some(Topic::Issues)
            }
            LiveMessage::ExceptionKey { .. } | LiveMessage::ScrapeTarget { .. } => {
                Some(Topic::Exceptions)
            }
            LiveMessage::Alert { .. } => Some(Topic::Alerts),
            LiveMessage::Page { .. } => Some(Topic::Pages),
            LiveMessage::StoreFailed { .. } => Some(Topic::Server),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_by_type_and_unknown_types_decode_as_other() {
        let m = LiveMessage::MonitorState {
            monitor_id: 3,
            name: "api".into(),
            previous: MonitorState::Up,
            state: MonitorState::Down,
            at_ms: 7,
        };
        let text = serde_json::to_string(&m).expect("encode");
        assert_eq!(
            text,
            r#"{"type":"monitor_state","monitor_id":3,"name":"api","previous":"UP","state":"DOWN","at_ms":7}"#
        );
        assert_eq!(
            serde_json::from_str::<LiveMessage>(&text).expect("decode"),
            m
        );
        let later: LiveMessage =
            serde_json::from_str(r#"{"type":"something_new","x":1}"#).expect("decode");
        assert_eq!(later, LiveMessage::Other);
        assert_eq!(later.topic(), None);
        assert_eq!(
            serde_json::to_string(&LiveMessage::Resync).expect("encode"),
            r#"{"type":"resync"}"#
        );
    }
}
