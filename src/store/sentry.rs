//! Tables for Sentry-compatible ingest.
//!
//! The store keeps bytes; `crate::sentry` owns what they mean. An ingest request is one write:
//! full events and attachments go straight to their tables (each payload is written once), and
//! a small row per item goes to the inbox, the durable log the digest works from. The digest
//! consumes inbox rows and, in the same transaction that writes issues and index rows, deletes
//! what it consumed, so every received item is grouped exactly once even across a crash.
//!
//! - `sentry_inbox` seq -> received item (header line, plus the payload of sessions/check-ins)
//! - `sentry_issues` issue id -> issue record
//! - `sentry_groups` (project, grouping hash) -> issue id
//! - `sentry_project_events` (project, event id) -> event record (the event as sent)
//! - `sentry_project_event_issue` (project, event id) -> issue id, once digested
//! - `sentry_issue_events` (issue, received ms, event id): an issue's events in time order
//! - `sentry_project_event_times` (received ms, project, event id) -> issue: retention in time
//!   order
//! - `sentry_issue_users` (issue, user key): distinct users per issue
//! - `sentry_project_attachments` (project, event id, index) -> attachment record
//!
//! Events are keyed by project as well as id (schema 6): an id one project's SDK chose cannot
//! reach another project's event.
//! - `sentry_counts` (project, release, counter) -> n: sessions and client reports

use std::collections::HashSet;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use super::{Store, StoreError, missing_is_empty};

pub const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("sentry_inbox");
/// Project id -> record of a project created through the API (`sentry::projects` owns it).
pub const PROJECTS: TableDefinition<u64, &[u8]> = TableDefinition::new("sentry_projects");
pub const ISSUES: TableDefinition<u64, &[u8]> = TableDefinition::new("sentry_issues");
pub const GROUPS: TableDefinition<(u64, &str), u64> = TableDefinition::new("sentry_groups");
pub const EVENTS: TableDefinition<(u64, &str), &[u8]> =
    TableDefinition::new("sentry_project_events");
pub const EVENT_ISSUE: TableDefinition<(u64, &str), u64> =
    TableDefinition::new("sentry_project_event_issue");
pub const ISSUE_EVENTS: TableDefinition<(u64, u64, &str), ()> =
    TableDefinition::new("sentry_issue_events");
pub const EVENT_TIMES: TableDefinition<(u64, u64, &str), u64> =
    TableDefinition::new("sentry_project_event_times");
pub const ISSUE_USERS: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("sentry_issue_users");
pub const ATTACHMENTS: TableDefinition<(u64, &str, u32), &[u8]> =
    TableDefinition::new("sentry_project_attachments");
pub const COUNTS: TableDefinition<(u64, &str, &str), u64> = TableDefinition::new("sentry_counts");

/// A digested event: which issue it belongs to, indexed by issue and by time.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub project: u64,
    pub event_id: String,
    pub issue: u64,
    pub received_ms: u64,
}

/// What one ingest request received, written atomically before it is acknowledged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    pub project: u64,
    pub inbox: Vec<(u64, Vec<u8>)>,
    /// (event id, record) of events stored in full.
    pub events: Vec<(String, Vec<u8>)>,
    /// (event id, index, record) of attachments of those events.
    pub attachments: Vec<(String, u32, Vec<u8>)>,
}

/// What one digest batch changes, applied atomically with the removal of what it consumed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DigestWrite {
    pub consumed: Vec<u64>,
    pub issues: Vec<(u64, Vec<u8>)>,
    pub groups: Vec<(u64, String, u64)>,
    pub events: Vec<EventRow>,
    pub users: Vec<(u64, String)>,
    /// (project, release, counter, amount to add)
    pub counts: Vec<(u64, String, String, u64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SentryWrite {
    /// Received items, written before the client gets its 200.
    Received(Box<Received>),
    Digest(Box<DigestWrite>),
    /// An issue record changed outside the digest (status set through the API).
    Issue(u64, Vec<u8>),
    /// Creates or replaces a project managed through the API.
    PutProject(u64, Vec<u8>),
    /// Deletes one; counts 1 when it existed. Its issues and events stay until retention.
    RemoveProject(u64),
    /// Deletes up to `limit` events received before `before_ms`, with their index rows and
    /// attachments; returns how many events went.
    PruneEvents {
        before_ms: u64,
        limit: usize,
    },
}

pub(super) fn apply(tx: &WriteTransaction, w: &SentryWrite) -> Result<u64, StoreError> {
    match w {
        SentryWrite::Received(r) => {
            let mut t = tx.open_table(INBOX).map_err(StoreError::storage)?;
            for (seq, bytes) in &r.inbox {
                t.insert(*seq, bytes.as_slice())
                    .map_err(StoreError::storage)?;
            }
            // An event id the project already has stored is an SDK's retry: the first body and
            // its attachments stay, and the retry's are not added (in the same transaction, so
            // two copies racing cannot both write).
            let mut resent: HashSet<&str> = HashSet::new();
            if !r.events.is_empty() {
                let mut t = tx.open_table(EVENTS).map_err(StoreError::storage)?;
                for (id, bytes) in &r.events {
                    let key = (r.project, id.as_str());
                    if t.get(key).map_err(StoreError::storage)?.is_some() {
                        resent.insert(id.as_str());
                        continue;
                    }
                    t.insert(key, bytes.as_slice())
                        .map_err(StoreError::storage)?;
                }
            }
            if r.attachments
                .iter()
                .any(|(e, _, _)| !resent.contains(e.as_str()))
            {
                let mut t = tx.open_table(ATTACHMENTS).map_err(StoreError::storage)?;
                for (event, idx, bytes) in &r.attachments {
                    if resent.contains(event.as_str()) {
                        continue;
                    }
                    t.insert((r.project, event.as_str(), *idx), bytes.as_slice())
                        .map_err(StoreError::storage)?;
                }
            }
        }
        SentryWrite::Issue(id, bytes) => {
            tx.open_table(ISSUES)
                .map_err(StoreError::storage)?
                .insert(*id, bytes.as_slice())
                .map_err(StoreError::storage)?;
        }
        SentryWrite::Digest(d) => apply_digest(tx, d)?,
        SentryWrite::PutProject(id, bytes) => {
            tx.open_table(PROJECTS)
                .map_err(StoreError::storage)?
                .insert(*id, bytes.as_slice())
                .map_err(StoreError::storage)?;
        }
        SentryWrite::RemoveProject(id) => {
            let existed = tx
                .open_table(PROJECTS)
                .map_err(StoreError::storage)?
                .remove(*id)
                .map_err(StoreError::storage)?
                .is_some();
            return Ok(u64::from(existed));
        }
        SentryWrite::PruneEvents { before_ms, limit } => {
            return prune_events(tx, *before_ms, *limit);
        }
    }
    Ok(0)
}

fn apply_digest(tx: &WriteTransaction, d: &DigestWrite) -> Result<(), StoreError> {
    {
        let mut t = tx.open_table(INBOX).map_err(StoreError::storage)?;
        for seq in &d.consumed {
            t.remove(*seq).map_err(StoreError::storage)?;
        }
    }
    if !d.issues.is_empty() {
        let mut t = tx.open_table(ISSUES).map_err(StoreError::storage)?;
        for (id, bytes) in &d.issues {
            t.insert(*id, bytes.as_slice())
                .map_err(StoreError::storage)?;
        }
    }
    if !d.groups.is_empty() {
        let mut t = tx.open_table(GROUPS).map_err(StoreError::storage)?;
        for (project, hash, issue) in &d.groups {
            t.insert((*project, hash.as_str()), *issue)
                .map_err(StoreError::storage)?;
        }
    }
    if !d.events.is_empty() {
        let mut issue_of = tx.open_table(EVENT_ISSUE).map_err(StoreError::storage)?;
        let mut by_issue = tx.open_table(ISSUE_EVENTS).map_err(StoreError::storage)?;
        let mut by_time = tx.open_table(EVENT_TIMES).map_err(StoreError::storage)?;
        for ev in &d.events {
            let id = ev.event_id.as_str();
            issue_of
                .insert((ev.project, id), ev.issue)
                .map_err(StoreError::storage)?;
            by_issue
                .insert((ev.issue, ev.received_ms, id), ())
                .map_err(StoreError::storage)?;
            by_time
                .insert((ev.received_ms, ev.project, id), ev.issue)
                .map_err(StoreError::storage)?;
        }
    }
    if !d.users.is_empty() {
        let mut t = tx.open_table(ISSUE_USERS).map_err(StoreError::storage)?;
        for (issue, user) in &d.users {
            t.insert((*issue, user.as_str()), ())
                .map_err(StoreError::storage)?;
        }
    }
    if !d.counts.is_empty() {
        let mut t = tx.open_table(COUNTS).map_err(StoreError::storage)?;
        for (project, release, name, n) in &d.counts {
            let key = (*project, release.as_str(), name.as_str());
            let old = t
                .get(key)
                .map_err(StoreError::storage)?
                .map(|v| v.value())
                .unwrap_or(0);
            t.insert(key, old.saturating_add(*n))
                .map_err(StoreError::storage)?;
        }
    }
    Ok(())
}

fn prune_events(tx: &WriteTransaction, before_ms: u64, limit: usize) -> Result<u64, StoreError> {
    let mut by_time = tx.open_table(EVENT_TIMES).map_err(StoreError::storage)?;
    let mut expired: Vec<(u64, u64, String, u64)> = Vec::new();
    for row in by_time
        .range((0u64, 0u64, "")..(before_ms, 0u64, ""))
        .map_err(StoreError::storage)?
    {
        let (k, v) = row.map_err(StoreError::storage)?;
        let (ms, project, id) = k.value();
        expired.push((ms, project, id.to_string(), v.value()));
        if expired.len() >= limit {
            break;
        }
    }
    let mut events = tx.open_table(EVENTS).map_err(StoreError::storage)?;
    let mut issue_of = tx.open_table(EVENT_ISSUE).map_err(StoreError::storage)?;
    let mut by_issue = tx.open_table(ISSUE_EVENTS).map_err(StoreError::storage)?;
    let mut attachments = tx.open_table(ATTACHMENTS).map_err(StoreError::storage)?;
    for (ms, project, id, issue) in &expired {
        let key = (*project, id.as_str());
        by_time
            .remove((*ms, *project, id.as_str()))
            .map_err(StoreError::storage)?;
        by_issue
            .remove((*issue, *ms, id.as_str()))
            .map_err(StoreError::storage)?;
        events.remove(key).map_err(StoreError::storage)?;
        issue_of.remove(key).map_err(StoreError::storage)?;
        let idx: Vec<u32> = attachments
            .range((*project, id.as_str(), 0)..=(*project, id.as_str(), u32::MAX))
            .map_err(StoreError::storage)?
            .filter_map(|r| r.ok().map(|(k, _)| k.value().2))
            .collect();
        for i in idx {
            attachments
                .remove((*project, id.as_str(), i))
                .map_err(StoreError::storage)?;
        }
    }
    Ok(expired.len() as u64)
}

impl Store {
    /// Every project managed through the API, by id.
    pub fn managed_projects(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(PROJECTS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The oldest `limit` undigested items, in arrival order.
    pub fn sentry_inbox(&self, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(INBOX))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::storage)?.take(limit) {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// (undigested items, highest sequence number in the inbox).
    pub fn sentry_inbox_stats(&self) -> Result<(u64, Option<u64>), StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(INBOX))? else {
            return Ok((0, None));
        };
        let last = t
            .last()
            .map_err(StoreError::storage)?
            .map(|(k, _)| k.value());
        Ok((t.len().map_err(StoreError::storage)?, last))
    }

    /// Every issue record (start-up only) and every (project, hash) -> issue mapping.
    #[allow(clippy::type_complexity)]
    pub fn sentry_issues(
        &self,
    ) -> Result<(Vec<(u64, Vec<u8>)>, Vec<(u64, String, u64)>), StoreError> {
        let txn = self.read_txn()?;
        let mut issues = Vec::new();
        if let Some(t) = missing_is_empty(txn.open_table(ISSUES))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                issues.push((k.value(), v.value().to_vec()));
            }
        }
        let mut groups = Vec::new();
        if let Some(t) = missing_is_empty(txn.open_table(GROUPS))? {
            for row in t.iter().map_err(StoreError::storage)? {
                let (k, v) = row.map_err(StoreError::storage)?;
                let (p, h) = k.value();
                groups.push((p, h.to_string(), v.value()));
            }
        }
        Ok((issues, groups))
    }

    pub fn sentry_event(
        &self,
        project: u64,
        event_id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(EVENTS))? else {
            return Ok(None);
        };
        Ok(t.get((project, event_id))
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_vec()))
    }

    /// The issue a digested event belongs to.
    pub fn sentry_event_issue(
        &self,
        project: u64,
        event_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(EVENT_ISSUE))? else {
            return Ok(None);
        };
        Ok(t.get((project, event_id))
            .map_err(StoreError::storage)?
            .map(|v| v.value()))
    }

    /// Which of `ids` (project, event id) are already digested events, and which (issue, user)
    /// pairs are known.
    #[allow(clippy::type_complexity)]
    pub fn sentry_known(
        &self,
        ids: &[(u64, &str)],
        users: &[(u64, &str)],
    ) -> Result<(HashSet<(u64, String)>, HashSet<(u64, String)>), StoreError> {
        let txn = self.read_txn()?;
        let mut known_ids = HashSet::new();
        if let Some(t) = missing_is_empty(txn.open_table(EVENT_ISSUE))? {
            for (project, id) in ids {
                if t.get((*project, *id))
                    .map_err(StoreError::storage)?
                    .is_some()
                {
                    known_ids.insert((*project, (*id).to_string()));
                }
            }
        }
        let mut known_users = HashSet::new();
        if let Some(t) = missing_is_empty(txn.open_table(ISSUE_USERS))? {
            for (issue, user) in users {
                if t.get((*issue, *user))
                    .map_err(StoreError::storage)?
                    .is_some()
                {
                    known_users.insert((*issue, (*user).to_string()));
                }
            }
        }
        Ok((known_ids, known_users))
    }

    /// An issue's events, newest first, strictly before `before` (received ms, event id).
    pub fn sentry_issue_events(
        &self,
        issue: u64,
        before: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(ISSUE_EVENTS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let range = match &before {
            Some((ms, id)) => t.range((issue, 0u64, "")..(issue, *ms, id.as_str())),
            None => t.range((issue, 0u64, "")..(issue + 1, 0u64, "")),
        }
        .map_err(StoreError::storage)?;
        for row in range.rev().take(limit) {
            let (k, _) = row.map_err(StoreError::storage)?;
            let (_, ms, id) = k.value();
            out.push((ms, id.to_string()));
        }
        Ok(out)
    }

    /// An issue's events, oldest first, strictly after `after` (received ms, event id).
    pub fn sentry_issue_events_after(
        &self,
        issue: u64,
        after: (u64, &str),
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(ISSUE_EVENTS))? else {
            return Ok(Vec::new());
        };
        let (ms, id) = after;
        let mut out = Vec::new();
        let range = t
            .range((issue, ms, id)..(issue + 1, 0u64, ""))
            .map_err(StoreError::storage)?;
        for row in range {
            let (k, _) = row.map_err(StoreError::storage)?;
            let (_, at, eid) = k.value();
            if (at, eid) == (ms, id) {
                continue;
            }
            out.push((at, eid.to_string()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// An event's attachments: (index, record).
    pub fn sentry_attachments(
        &self,
        project: u64,
        event_id: &str,
    ) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(ATTACHMENTS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t
            .range((project, event_id, 0u32)..=(project, event_id, u32::MAX))
            .map_err(StoreError::storage)?
        {
            let (k, v) = row.map_err(StoreError::storage)?;
            out.push((k.value().2, v.value().to_vec()));
        }
        Ok(out)
    }

    /// One attachment of an event, read by its key (no other attachment is read).
    pub fn sentry_attachment(
        &self,
        project: u64,
        event_id: &str,
        index: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(ATTACHMENTS))? else {
            return Ok(None);
        };
        Ok(t.get((project, event_id, index))
            .map_err(StoreError::storage)?
            .map(|v| v.value().to_vec()))
    }

    /// Visits an event's attachments in index order with each record borrowed from the store,
    /// so a caller that needs only their headers copies no payload.
    pub fn sentry_attachments_each(
        &self,
        project: u64,
        event_id: &str,
        mut f: impl FnMut(u32, &[u8]),
    ) -> Result<(), StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(ATTACHMENTS))? else {
            return Ok(());
        };
        for row in t
            .range((project, event_id, 0u32)..=(project, event_id, u32::MAX))
            .map_err(StoreError::storage)?
        {
            let (k, v) = row.map_err(StoreError::storage)?;
            f(k.value().2, v.value());
        }
        Ok(())
    }

    /// Every (project, release) that has counters (read once when ingest opens; bounded by
    /// `ingest.max_releases_per_project` per project).
    pub fn sentry_releases(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(COUNTS))? else {
            return Ok(Vec::new());
        };
        let mut out: Vec<(u64, String)> = Vec::new();
        for row in t.iter().map_err(StoreError::storage)? {
            let (k, _) = row.map_err(StoreError::storage)?;
            let (project, release, _) = k.value();
            // Rows are ordered by (project, release, counter): one entry per release.
            if out
                .last()
                .is_none_or(|(p, r)| *p != project || r != release)
            {
                out.push((project, release.to_string()));
            }
        }
        Ok(out)
    }

    /// A project's session and client-report counters: (release, counter, n).
    pub fn sentry_counts(&self, project: u64) -> Result<Vec<(String, String, u64)>, StoreError> {
        let txn = self.read_txn()?;
        let Some(t) = missing_is_empty(txn.open_table(COUNTS))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t
            .range((project, "", "")..(project + 1, "", ""))
            .map_err(StoreError::storage)?
        {
            let (k, v) = row.map_err(StoreError::storage)?;
            let (_, release, name) = k.value();
            out.push((release.to_string(), name.to_string(), v.value()));
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "sentry_tests.rs"]
mod tests;
