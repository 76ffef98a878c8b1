//! What alerting reports after an alert's change is stored (see `crate::events`): an alert
//! fired or resolved. A leaf: plain fields, so listeners (the status pages' drafts) need
//! nothing else of alerting.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at_ms: u64,
}

impl AlertChange {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlertEvent {
    Fired(AlertChange),
    Resolved(AlertChange),
}
