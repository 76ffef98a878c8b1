//! Version 5: Sentry-compatible ingest (the durable inbox of received items, issues, their
//! grouping hashes, events, their issue and their indexes, users per issue, attachments, session counts).
//! New tables only; nothing to carry over.

use redb::{TableDefinition, WriteTransaction};

const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("sentry_inbox");
const ISSUES: TableDefinition<u64, &[u8]> = TableDefinition::new("sentry_issues");
const GROUPS: TableDefinition<(u64, &str), u64> = TableDefinition::new("sentry_groups");
const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("sentry_events");
const EVENT_ISSUE: TableDefinition<&str, u64> = TableDefinition::new("sentry_event_issue");
const ISSUE_EVENTS: TableDefinition<(u64, u64, &str), ()> =
    TableDefinition::new("sentry_issue_events");
const EVENT_TIMES: TableDefinition<(u64, &str), u64> = TableDefinition::new("sentry_event_times");
const ISSUE_USERS: TableDefinition<(u64, &str), ()> = TableDefinition::new("sentry_issue_users");
const ATTACHMENTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("sentry_attachments");
const COUNTS: TableDefinition<(u64, &str, &str), u64> = TableDefinition::new("sentry_counts");

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    tx.open_table(INBOX)?;
    tx.open_table(ISSUES)?;
    tx.open_table(GROUPS)?;
    tx.open_table(EVENTS)?;
    tx.open_table(EVENT_ISSUE)?;
    tx.open_table(ISSUE_EVENTS)?;
    tx.open_table(EVENT_TIMES)?;
    tx.open_table(ISSUE_USERS)?;
    tx.open_table(ATTACHMENTS)?;
    tx.open_table(COUNTS)?;
    Ok(())
}
