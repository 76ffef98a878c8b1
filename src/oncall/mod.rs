//! On-call: schedules with rotation layers and overrides, escalation policies, and pages that
//! escalate until someone acknowledges, built on the alert engine and its channels.
//!
//! Owns: the `oncall:` section (`config.rs`), rotations (`rotation.rs`, pure), pages and their
//! escalation (`page.rs`, pure), contact methods people set for themselves (`contacts.rs`,
//! pure), signed acknowledge and calendar links (`ack.rs`), iCalendar feeds (`ical.rs`), what a
//! delivery sends (`deliver.rs`), the task (`engine.rs`), the changes it applies for the API
//! (`edits.rs`) and its handle (`handle.rs`), reads (`query.rs`), expiry (`retention.rs`), the
//! page changes it publishes (`events.rs`, a leaf). Depends on: `store`, `clock`, `tasks`,
//! `events` (publishing), `auth` (audit entries), and the alert domain's channel settings,
//! notification model and transport (pages arrive as records of the alert outbox on channel
//! `oncall[0]`; messages go out through the same transport as alerts).

pub mod ack;
pub mod config;
pub mod contacts;
pub mod deliver;
mod edits;
pub mod engine;
pub mod events;
pub mod handle;
pub mod ical;
pub mod page;
pub mod query;
pub mod retention;
pub mod rotation;

pub use engine::{Deps, Oncall, Settings};
