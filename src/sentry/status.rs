//! Triage: an issue's status set by a person (resolve, ignore, reopen), one issue or many of a
//! project at once, durable before it is shown, in the same order as the digest's updates of
//! those issues.

use super::issues::{self, IssueRecord, Issues};
use super::{Ingest, lock};
use crate::store::sentry::SentryWrite;
use crate::store::{StoreError, Write};

/// Why a bulk change was refused (nothing changed).
#[derive(Debug)]
pub enum BulkError {
    /// These ids are no issue of the project (unknown, or another project's).
    NotInProject(Vec<u64>),
    Store(StoreError),
}

impl From<StoreError> for BulkError {
    fn from(e: StoreError) -> Self {
        BulkError::Store(e)
    }
}

impl Ingest {
    pub fn with_issues<T>(&self, f: impl FnOnce(&Issues) -> T) -> T {
        f(&lock(&self.inner.issues))
    }

    /// Sets an issue's status; returns the updated issue, or `None` if there is no such issue.
    /// The change is durable before it is visible, and never interleaves with a digest batch
    /// touching the same issue.
    pub async fn set_status(
        &self,
        id: u64,
        status: issues::Status,
    ) -> Result<Option<IssueRecord>, StoreError> {
        let project = match lock(&self.inner.issues).by_id.get(&id) {
            Some(r) => r.project,
            None => return Ok(None),
        };
        match self.set_statuses(project, &[id], status).await {
            Ok(mut recs) => Ok(recs.pop()),
            // Issues never move between projects nor disappear.
            Err(BulkError::NotInProject(_)) => Ok(None),
            Err(BulkError::Store(e)) => Err(e),
        }
    }

    /// Sets the status of several issues of `project` (duplicates counted once), all in one
    /// store write, or none when any id is not an issue of the project. Returns the updated
    /// issues in the order first named.
    pub async fn set_statuses(
        &self,
        project: u64,
        ids: &[u64],
        status: issues::Status,
    ) -> Result<Vec<IssueRecord>, BulkError> {
        let _writes = self.inner.writes.lock().await;
        let now = self.inner.clock.now_ms();
        let mut seen = std::collections::HashSet::new();
        let mut recs = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let all = lock(&self.inner.issues);
            for id in ids {
                if !seen.insert(*id) {
                    continue;
                }
                match all.by_id.get(id).filter(|r| r.project == project) {
                    Some(r) => recs.push(r.clone()),
                    None => missing.push(*id),
                }
            }
        }
        if !missing.is_empty() {
            return Err(BulkError::NotInProject(missing));
        }
        for rec in &mut recs {
            apply(rec, status, now);
        }
        if recs.is_empty() {
            return Ok(recs);
        }
        let writes = recs
            .iter()
            .map(|r| {
                Write::Sentry(SentryWrite::Issue(
                    r.id,
                    serde_json::to_vec(r).unwrap_or_default(),
                ))
            })
            .collect();
        self.inner.store.write(writes).await?;
        let mut all = lock(&self.inner.issues);
        for rec in &recs {
            all.upsert(rec.clone());
        }
        Ok(recs)
    }
}

/// A person's status change: resolving clears the regression mark and remembers when (a later
/// event reopens it as a regression); reopening forgets the resolve time.
fn apply(rec: &mut IssueRecord, status: issues::Status, now_ms: u64) {
    rec.status = status;
    match status {
        issues::Status::Resolved => {
            rec.resolved_at_ms = Some(now_ms);
            rec.regressed = false;
        }
        issues::Status::Unresolved => rec.resolved_at_ms = None,
        issues::Status::Ignored => {}
    }
}
