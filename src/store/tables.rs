//! The live table layout (schema version `LATEST_VERSION`). Migrations carry their own copies.

use redb::TableDefinition;

/// `schema_version`, `audit_seq`, and each remote-write endpoint's cursor (`remote_write/<name>`).
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Append-only, keyed by (unix ms, sequence): time-ordered scans and cheap range deletes.
pub const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("audit");
/// User name -> `UserRecord` JSON.
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// SHA-256 (hex) of the token secret -> `TokenRecord` JSON.
pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// SHA-256 (hex) of the session secret -> `SessionRecord` JSON.
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");

pub const SCHEMA_VERSION_KEY: &str = "schema_version";
pub const AUDIT_SEQ_KEY: &str = "audit_seq";
