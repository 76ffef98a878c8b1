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
    pub async fn set_status(
        &self,
        id: u64,
        status: issues::Status,
    ) -> Result<Option<IssueRecord>, StoreError> {
        let (rec, ack) = {
            let mut st = lock(&self.inner.issues);
            let Some(rec) = st.by_id.get(&id) else {
                return Ok(None);
            };
            let mut rec = rec.clone();
            rec.status = status;
            match status {
                issues::Status::Resolved => {
                    rec.resolved_at_ms = Some(self.inner.clock.now_ms());
                    rec.regressed = false;
                }
                issues::Status::Unresolved => rec.resolved_at_ms = None,
                issues::Status::Ignored => {}
            }
            // Enqueued under the lock, so the writer sees status changes and digest updates of
            // this issue in the order they were made.
            let ack = self
                .inner
                .store
                .enqueue(vec![Write::Sentry(SentryWrite::Issue(
                    id,
                    serde_json::to_vec(&rec).unwrap_or_default(),
                ))])?;
            st.by_id.insert(id, rec.clone());
            (rec, ack)
        };
        ack.await.unwrap_or(Err(StoreError::Closed))?;
        Ok(Some(rec))
    }
}
