//! Panoptes: a self-hosted observability server in one binary.
//!
//! The module map (also in the README's architecture section):
//! - `config`: typed YAML configuration with located errors.
//! - `store`: the embedded redb store, its single group-committing writer, migrations, retention.
//! - `auth`: users, sessions, API tokens, login throttling.
//! - `http`: routes, authentication at the edge, error mapping, the embedded dashboard.
//! - `probe`: monitors, checks, conditions, scheduling, states, roll-ups.
//! - `metrics`: the Prometheus registry.
//! - `periskop`: Periskop-compatible exception discovery, scraping, aggregation, push gateway.
//! - `alerts`: rules, Alertmanager-style routing, silences, notification channels.
//! - `oncall`: schedules, overrides, escalation policies, pages and acknowledge links.
//! - `clock`: time as a parameter.
//! - `app`: wires the parts together for `panoptes serve` (signals, reload, shutdown).
//! - `live`: the dashboard's live feed (domain events as small messages, server-sent).
//! - `telemetry`: logging setup.

pub mod agent;
pub mod alerts;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod events;
pub mod forward;
pub mod http;
pub mod live;
pub mod metrics;
pub mod oncall;
pub mod outbound;
pub mod periskop;
pub mod probe;
pub mod remote_write;
pub mod sentry;
pub mod statuspage;
pub mod store;
pub mod tasks;
pub mod telemetry;
