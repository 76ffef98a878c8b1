//! What on-call reports after a page's change is stored (see `crate::events`): a page opened,
//! was acknowledged, escalated to its next step, resolved, or otherwise changed (a delivery's
//! outcome, its alerts). A leaf: plain fields, nothing else of on-call.

/// How a page changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageChange {
    Created,
    Acknowledged,
    Escalated,
    Resolved,
    /// Anything else shown on the page: a delivery's outcome, the alerts it carries.
    Updated,
}

impl PageChange {
    pub fn as_str(self) -> &'static str {
        match self {
            PageChange::Created => "created",
            PageChange::Acknowledged => "acknowledged",
            PageChange::Escalated => "escalated",
            PageChange::Resolved => "resolved",
            PageChange::Updated => "updated",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum OncallEvent {
    Page {
        page_id: u64,
        title: String,
        change: PageChange,
        at_ms: u64,
    },
}
