//! Expiry of resolved pages (`oncall.page_retention`), as a pruner of the shared retention
//! task. Open pages are never pruned; overrides that ended are kept (they are the record of
//! who covered whom).

use std::sync::Arc;

use tokio::sync::watch;

use super::engine::Settings;
use super::page::{Page, PageStatus};
use crate::store::oncall::OncallWrite;
use crate::store::retention::{PruneFuture, Pruner};
use crate::store::{Store, Write};

pub struct PagePruner {
    pub settings: watch::Receiver<Arc<Settings>>,
}

impl Pruner for PagePruner {
    fn name(&self) -> &'static str {
        "oncall"
    }

    fn prune<'a>(&'a self, store: &'a Store, now_ms: u64, batch: usize) -> PruneFuture<'a> {
        let keep = self
            .settings
            .borrow()
            .oncall
            .page_retention
            .get()
            .as_millis() as u64;
        let before_ms = now_ms.saturating_sub(keep);
        Box::pin(async move {
            let mut total = 0;
            loop {
                let ids = store
                    .read(move |s| {
                        s.oncall_expired_pages(batch.max(1), |b| {
                            serde_json::from_slice::<Page>(b).is_ok_and(|p| {
                                p.status == PageStatus::Resolved
                                    && p.resolved_ms.unwrap_or(p.created_ms) < before_ms
                            })
                        })
                    })
                    .await?;
                if ids.is_empty() {
                    return Ok(total);
                }
                let short = ids.len() < batch.max(1);
                total += store
                    .write(vec![Write::Oncall(OncallWrite {
                        removed_pages: ids,
                        ..OncallWrite::default()
                    })])
                    .await?;
                if short {
                    return Ok(total);
                }
                tokio::task::yield_now().await;
            }
        })
    }
}
