//! Triage: an issue's status set by a person (resolve, ignore, reopen), durable before it is
//! shown, in the same order as the digest's updates of that issue.

use super::issues::{self, IssueRecord, Issues};
use super::{Ingest, lock};
use crate::store::sentry::SentryWrite;
use crate::store::{StoreError, Write};

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
        let _writes = self.inner.writes.lock().await;
        let Some(mut rec) = lock(&self.inner.issues).by_id.get(&id).cloned() else {
            return Ok(None);
        };
        rec.status = status;
        match status {
            issues::Status::Resolved => {
                rec.resolved_at_ms = Some(self.inner.clock.now_ms());
                rec.regressed = false;
            }
            issues::Status::Unresolved => rec.resolved_at_ms = None,
            issues::Status::Ignored => {}
        }
        self.inner
            .store
            .write(vec![Write::Sentry(SentryWrite::Issue(
                id,
                serde_json::to_vec(&rec).unwrap_or_default(),
            ))])
            .await?;
        lock(&self.inner.issues).upsert(rec.clone());
        Ok(Some(rec))
    }
}
