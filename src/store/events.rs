//! What the store reports to the rest of Panoptes (see `crate::events`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A commit failed (or the writer died): the store refuses writes until restart.
    Failed { reason: String },
}
