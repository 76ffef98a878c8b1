//! Public status pages: each configured page's components (from monitors, under incidents),
//! 90 days of uptime, response times, incidents and scheduled maintenance with their updates;
//! as HTML, Atlassian Statuspage-compatible JSON and Atom/RSS feeds.
//!
//! Owns: the `status_pages:` section, the pure core (`model.rs`: component status, the page's
//! indicator, incidents), what a page shows (`view.rs`), the renderers (`html.rs`, `json.rs`,
//! `feed.rs`, `badge.rs`), the cache of rendered, compressed bytes and the task that refreshes it
//! (`engine.rs`), incidents in the store (`status_incidents`).
//! Depends on: `store`, `clock`, `config`, `events` (it reacts to probe results), and probe's
//! state and roll-up types, read through the [`Monitors`] port the app wires to probing.
//!
//! Why cached bytes: a status page is read most when something is down, by everyone at once.
//! Every request is a map lookup and a copy of bytes rendered and compressed once per change,
//! never a store read.

pub mod badge;
pub mod config;
mod drafts;
pub mod engine;
pub mod feed;
pub mod html;
pub mod json;
mod mailer;
mod maintenance;
pub mod model;
pub mod schedule;
mod subscribe;
pub mod subscribers;
pub mod view;
pub mod webhooks;

use crate::probe::config::MonitorConfig;
use crate::probe::rollup::{Resolution, Rollup};
use crate::probe::state::State;

pub use engine::{Asset, Deps, Rendered, StatusPages};

/// What the status pages read of the configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub pages: Vec<config::StatusPageConfig>,
    pub monitors: Vec<MonitorConfig>,
    /// `alerts.external_url`, for absolute links in JSON, feeds and e-mail.
    pub external_url: Option<String>,
    /// Maintenance windows (`maintenance:`): those covering a published monitor are listed as
    /// scheduled maintenance.
    pub maintenance: Vec<crate::probe::maintenance::MaintenanceConfig>,
    /// `alerts.global`'s SMTP settings, the defaults of subscriber e-mail.
    pub smtp: crate::outbound::smtp::SmtpDefaults,
}

/// What the status pages read of probing (wired by the app; tests pass their own).
pub trait Monitors: Send + Sync {
    /// The monitor's state now; `None` if there is no such monitor.
    fn state(&self, name: &str) -> Option<State>;
    /// The last check's error text.
    fn last_error(&self, name: &str) -> Option<String>;
    /// Roll-ups of one resolution whose buckets start in `[from, to)`, by bucket start.
    fn rollups(&self, name: &str, res: Resolution, from_ms: u64, to_ms: u64) -> Vec<(u64, Rollup)>;
}
