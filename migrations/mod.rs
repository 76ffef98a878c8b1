//! Schema migrations, applied in order at start-up by `store::migrate`.
//!
//! Migration N takes a data file from schema version N-1 to N, inside the same write transaction
//! that records the new version, so a crash mid-migration leaves the old version intact. Table
//! definitions are repeated here as they were *at that version*, so later changes to the live
//! tables in `src/store/tables.rs` cannot change what an old migration does.
//!
//! To add one: write `vNNN_name.rs` with `pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error>`,
//! append it to `MIGRATIONS`, bump nothing else (the latest version is the list's length), and
//! commit a data file of the previous version to `fixtures/store/` (`cargo run --example
//! store-fixture`) so the test suite proves old files still open.

use redb::WriteTransaction;

mod v001_initial;
mod v002_auth;
mod v003_probes;
mod v004_periskop;
mod v005_sentry;
mod v006_sentry_by_project;
mod v007_alerts;
mod v008_oncall;
mod v009_status_pages;
mod v010_probe_result_chunks;

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub up: fn(&WriteTransaction) -> Result<(), redb::Error>,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial: meta and audit log",
        up: v001_initial::up,
    },
    Migration {
        version: 2,
        name: "auth: users, API tokens, sessions",
        up: v002_auth::up,
    },
    Migration {
        version: 3,
        name: "probes: monitor ids, results, roll-ups, state",
        up: v003_probes::up,
    },
    Migration {
        version: 4,
        name: "periskop: exception keys, rates, instances, baselines",
        up: v004_periskop::up,
    },
    Migration {
        version: 5,
        name: "sentry: inbox, issues, groups, events, users, attachments, counts",
        up: v005_sentry::up,
    },
    Migration {
        version: 6,
        name: "sentry: events, their issue, time index and attachments keyed by project",
        up: v006_sentry_by_project::up,
    },
    Migration {
        version: 7,
        name: "alerts: alert states, history, groups, silences, notifications",
        up: v007_alerts::up,
    },
    Migration {
        version: 8,
        name: "oncall: pages, overrides, link-signing key",
        up: v008_oncall::up,
    },
    Migration {
        version: 9,
        name: "status pages: incidents, scheduled maintenance, subscribers, their outbox",
        up: v009_status_pages::up,
    },
    Migration {
        version: 10,
        name: "probes: results packed in chunks per monitor",
        up: v010_probe_result_chunks::up,
    },
];
