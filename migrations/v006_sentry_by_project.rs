//! Version 6: stored Sentry events, their issue, their time index and their attachments are
//! keyed by project as well as event id. Version 5 keyed them by event id alone, so one
//! project's key could overwrite another project's event or add attachments to it; an event id
//! reused in another project is now that project's own event.
//!
//! Rows are copied into new tables (redb cannot change a table's key type in place) and the old
//! tables are deleted, all in the migration's one transaction. The project of each event comes
//! from its stored record's header line (`{"project":7,"received_ms":...}`); attachments follow
//! their event, and attachments without one (which version 5 could store) are dropped.

use std::collections::HashMap;

use redb::{ReadableTable, TableDefinition, WriteTransaction};

// As at version 5.
const EVENTS_V5: TableDefinition<&str, &[u8]> = TableDefinition::new("sentry_events");
const EVENT_ISSUE_V5: TableDefinition<&str, u64> = TableDefinition::new("sentry_event_issue");
const EVENT_TIMES_V5: TableDefinition<(u64, &str), u64> =
    TableDefinition::new("sentry_event_times");
const ATTACHMENTS_V5: TableDefinition<(&str, u32), &[u8]> =
    TableDefinition::new("sentry_attachments");

// As at version 6.
const EVENTS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("sentry_project_events");
const EVENT_ISSUE: TableDefinition<(u64, &str), u64> =
    TableDefinition::new("sentry_project_event_issue");
const EVENT_TIMES: TableDefinition<(u64, u64, &str), u64> =
    TableDefinition::new("sentry_project_event_times");
const ATTACHMENTS: TableDefinition<(u64, &str, u32), &[u8]> =
    TableDefinition::new("sentry_project_attachments");

/// The project named in a stored event record's header line.
fn project_of(record: &[u8]) -> Option<u64> {
    let nl = record.iter().position(|b| *b == b'\n')?;
    #[derive(serde::Deserialize)]
    struct Header {
        project: u64,
    }
    serde_json::from_slice::<Header>(&record[..nl])
        .ok()
        .map(|h| h.project)
}

pub fn up(tx: &WriteTransaction) -> Result<(), redb::Error> {
    let mut project: HashMap<String, u64> = HashMap::new();
    {
        let mut events = tx.open_table(EVENTS)?;
        {
            // Opening creates the table on a file that never had it; it is deleted below.
            let old = tx.open_table(EVENTS_V5)?;
            for row in old.iter()? {
                let (k, v) = row?;
                // An event whose header cannot be read was written by no version of Panoptes;
                // it cannot be placed in a project and is dropped.
                if let Some(p) = project_of(v.value()) {
                    events.insert((p, k.value()), v.value())?;
                    project.insert(k.value().to_string(), p);
                }
            }
        }
    }
    {
        let mut issue_of = tx.open_table(EVENT_ISSUE)?;
        {
            // Opening creates the table on a file that never had it; it is deleted below.
            let old = tx.open_table(EVENT_ISSUE_V5)?;
            for row in old.iter()? {
                let (k, v) = row?;
                if let Some(p) = project.get(k.value()) {
                    issue_of.insert((*p, k.value()), v.value())?;
                }
            }
        }
    }
    {
        let mut times = tx.open_table(EVENT_TIMES)?;
        {
            // Opening creates the table on a file that never had it; it is deleted below.
            let old = tx.open_table(EVENT_TIMES_V5)?;
            for row in old.iter()? {
                let (k, v) = row?;
                let (ms, id) = k.value();
                if let Some(p) = project.get(id) {
                    times.insert((ms, *p, id), v.value())?;
                }
            }
        }
    }
    {
        let mut attachments = tx.open_table(ATTACHMENTS)?;
        {
            // Opening creates the table on a file that never had it; it is deleted below.
            let old = tx.open_table(ATTACHMENTS_V5)?;
            for row in old.iter()? {
                let (k, v) = row?;
                let (id, idx) = k.value();
                if let Some(p) = project.get(id) {
                    attachments.insert((*p, id, idx), v.value())?;
                }
            }
        }
    }
    tx.delete_table(EVENTS_V5)?;
    tx.delete_table(EVENT_ISSUE_V5)?;
    tx.delete_table(EVENT_TIMES_V5)?;
    tx.delete_table(ATTACHMENTS_V5)?;
    Ok(())
}
