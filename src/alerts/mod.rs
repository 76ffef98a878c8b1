//! Alerting: rules over everything Panoptes observes, Alertmanager's routing, grouping,
//! inhibition and silences, and delivery through a durable outbox that never loses a page.
//!
//! Owns: the `alerts:` section, alert states (durable, so a restart neither loses a firing alert
//! nor fires it again), groups, silences, the outbox and delivery attempts, the `alerts_*`
//! tables' contents. Depends on: `config` (the framework), `store`, `clock`, `metrics`,
//! `outbound` (every channel's HTTP), `events` (it subscribes; it never calls a domain), `tasks`.

pub mod book;
pub mod channels;
pub mod compat;
pub mod config;
pub mod engine;
pub mod eval;
pub mod events;
pub mod groups;
pub mod matcher;
pub mod model;
pub mod notify;
pub mod outbox;
mod persist;
pub mod query;
pub mod retention;
pub mod routing;
pub mod rules;
pub mod silences;
pub mod state;
pub mod template;
pub mod test_message;
pub mod windows;

#[cfg(test)]
mod book_tests;
#[cfg(test)]
mod compat_tests;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests;

pub use engine::{Alerts, Deps};

/// Decodes a config fragment for tests, failing on any error.
#[cfg(test)]
pub(crate) fn decode<T: crate::config::decode::Decode>(src: &str) -> T {
    let node = crate::config::yaml::parse(src).expect("yaml");
    let env = |_: &str| None;
    let mut d = crate::config::decode::Decoder::new("test", &env);
    let v = d.decode(&node, "");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    v.expect("decoded")
}
