//! What the API and the dashboard ask of ingest: projects with their DSNs, issues, an issue's
//! events, one event as stored with its attachments. Issues come from memory; events from the
//! store (call these off the async workers). An attachment is read by its key alone; listing an
//! event's attachments copies none of their payloads.

use panoptes_types::{EventSummary, IssueSummary, ProjectInfo};
use serde_json::{Value, json};

use super::Ingest;
use super::envelope::normalize_event_id;
use super::issues::Filter;
use super::record::{AttachmentHeader, EventHeader, split_record};
use crate::clock::rfc3339;
use crate::store::StoreError;

/// A page of an issue's events and where the next one starts (receive time, event id).
pub type EventPage = (Vec<EventSummary>, Option<(u64, String)>);

impl Ingest {
    /// Every configured project with its DSNs (on `base`, e.g. `http://host:8080`) and issue
    /// counts.
    pub fn projects(&self, base: &str) -> Vec<ProjectInfo> {
        let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
        let rest = rest.trim_end_matches('/');
        self.settings()
            .projects
            .iter()
            .map(|p| {
                let (issues, unresolved) = self.with_issues(|i| i.counts(p.id));
                ProjectInfo {
                    id: p.id,
                    name: p.name.clone(),
                    dsn: p
                        .keys
                        .iter()
                        .map(|k| format!("{scheme}://{}@{rest}/{}", k.0, p.id))
                        .collect(),
                    events_per_minute: p.events_per_minute,
                    issues,
                    unresolved,
                    // The API layer says which ones were created through it.
                    source: Default::default(),
                }
            })
            .collect()
    }

    pub fn has_project(&self, id: u64) -> bool {
        self.settings().projects.iter().any(|p| p.id == id)
    }

    /// A page of a project's issues and the key after its last one when more match.
    pub fn issues(&self, filter: &Filter) -> (Vec<IssueSummary>, Option<(u64, u64)>) {
        self.with_issues(|i| {
            let (page, next) = i.list(filter);
            (page.iter().map(|r| r.summary()).collect(), next)
        })
    }

    pub fn issue(&self, id: u64) -> Option<IssueSummary> {
        self.with_issues(|i| i.by_id.get(&id).map(|r| r.summary()))
    }

    /// The issue and its latest stored event.
    pub fn issue_detail(&self, id: u64) -> Result<Option<Value>, StoreError> {
        let Some(summary) = self.issue(id) else {
            return Ok(None);
        };
        let latest = match &summary.last_event_id {
            Some(eid) => self.event(summary.project, eid)?,
            None => None,
        };
        let mut v =
            serde_json::to_value(&summary).map_err(|e| StoreError::Decode(e.to_string()))?;
        v["latest_event"] = latest.unwrap_or(Value::Null);
        Ok(Some(v))
    }

    /// Event ids of an issue, newest first, before `before` (time, id); at most `limit`, and
    /// the position after the last one when more exist.
    pub fn issue_events(
        &self,
        id: u64,
        before: Option<(u64, String)>,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        let mut rows = self.store().sentry_issue_events(id, before, limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().cloned() } else { None };
        Ok((
            rows.into_iter()
                .map(|(ms, e)| EventSummary {
                    event_id: e,
                    received: rfc3339(ms),
                })
                .collect(),
            next,
        ))
    }

    /// One stored event of an issue with its neighbours in the issue's events (by receive
    /// time): `None` when the issue has no such event.
    pub fn issue_event(&self, id: u64, event_id: &str) -> Result<Option<Value>, StoreError> {
        let Some(issue) = self.issue(id) else {
            return Ok(None);
        };
        let Some(event) = self.event(issue.project, event_id)? else {
            return Ok(None);
        };
        if event["issue_id"].as_u64() != Some(id) {
            return Ok(None);
        }
        let (Some(eid), Some(ms)) = (
            event["event_id"].as_str().map(str::to_string),
            self.received_ms(issue.project, event_id)?,
        ) else {
            return Ok(None);
        };
        let store = self.store();
        let older = store.sentry_issue_events(id, Some((ms, eid.clone())), 1)?;
        let newer = store.sentry_issue_events_after(id, (ms, &eid), 1)?;
        let newest = store.sentry_issue_events(id, None, 1)?;
        let first = |rows: Vec<(u64, String)>| rows.into_iter().next().map(|(_, e)| e);
        Ok(Some(json!({
            "event": event,
            "newest": first(newest),
            "newer": first(newer),
            "older": first(older),
        })))
    }

    /// When a stored event was received.
    fn received_ms(&self, project: u64, event_id: &str) -> Result<Option<u64>, StoreError> {
        let Some(id) = normalize_event_id(event_id) else {
            return Ok(None);
        };
        Ok(self
            .store()
            .sentry_event(project, &id)?
            .and_then(|b| split_record::<EventHeader>(&b).map(|(h, _)| h.received_ms)))
    }

    /// The configured projects that hold a stored event with this id (usually one; an id is
    /// unique only within its project).
    pub fn projects_with_event(&self, event_id: &str) -> Result<Vec<u64>, StoreError> {
        let Some(id) = normalize_event_id(event_id) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for p in &self.settings().projects {
            if self.store().sentry_event(p.id, &id)?.is_some() {
                out.push(p.id);
            }
        }
        Ok(out)
    }

    /// A stored event as the API shows it: what the SDK sent under `event`, plus where it went.
    pub fn event(&self, project: u64, event_id: &str) -> Result<Option<Value>, StoreError> {
        let Some(id) = normalize_event_id(event_id) else {
            return Ok(None);
        };
        let store = self.store();
        let Some(bytes) = store.sentry_event(project, &id)? else {
            return Ok(None);
        };
        let (h, payload) = split_record::<EventHeader>(&bytes)
            .ok_or_else(|| StoreError::Decode(format!("stored event {id} is damaged")))?;
        let event: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        // Only each attachment's header line is decoded; no payload is copied.
        let mut attachments: Vec<Value> = Vec::new();
        store.sentry_attachments_each(project, &id, |idx, row| {
            if let Some((a, _)) = split_record::<AttachmentHeader>(row) {
                attachments.push(json!({"index": idx, "filename": a.filename, "size": a.size,
                    "content_type": a.content_type, "attachment_type": a.attachment_type}));
            }
        })?;
        Ok(Some(json!({
            "event_id": id,
            // null until the digest has grouped it (a moment after the SDK got its 200).
            "issue_id": store.sentry_event_issue(project, &id)?,
            "project": h.project,
            "received": rfc3339(h.received_ms),
            "attachments": attachments,
            "event": event,
        })))
    }

    /// One attachment of a stored event: its header and bytes.
    pub fn attachment(
        &self,
        project: u64,
        event_id: &str,
        index: u32,
    ) -> Result<Option<(AttachmentHeader, Vec<u8>)>, StoreError> {
        let Some(id) = normalize_event_id(event_id) else {
            return Ok(None);
        };
        let Some(row) = self.store().sentry_attachment(project, &id, index)? else {
            return Ok(None);
        };
        let (h, data) = split_record::<AttachmentHeader>(&row)
            .ok_or_else(|| StoreError::Decode("stored attachment is damaged".into()))?;
        Ok(Some((h, data.to_vec())))
    }
}
