//! Prometheus remote-write: probe results sent as samples (protobuf + snappy, remote-write 1.0)
//! to any Prometheus-compatible store (Prometheus with `--web.enable-remote-write-receiver`,
//! Mimir, Thanos Receive, VictoriaMetrics, Cortex), for long-term metrics and for when one
//! machine's dashboard is not enough.
//!
//! Owns: the `remote_write:` section (`config.rs`), the wire encoding and the series a result
//! becomes (`encode.rs`, pure), the sender task and its durable cursor (`sender.rs`). Depends
//! on: `store` (it reads stored probe results and keeps one cursor per endpoint in `meta`),
//! `clock`, `outbound` (the shared client factory), `probe` (the result record's decoding),
//! `tasks`.
//!
//! Why a cursor over the stored results instead of a queue of its own: the results table is
//! already a durable, retention-bounded log. Each endpoint remembers how far it has sent
//! (`remote_write/<name>` in `meta`, written after the receiver accepted), so an outage of the
//! receiver or of Panoptes loses nothing the store still holds and costs no second copy of the
//! data; Prometheus's own agent tails its WAL the same way.

pub mod config;
pub mod encode;
pub mod sender;
