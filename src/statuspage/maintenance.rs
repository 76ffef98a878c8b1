//! Scheduled maintenance moved by the clock: the I/O edge of `schedule.rs`. Due maintenance
//! gets its update (`in_progress`, `completed`) through the same path as an editor's, and a
//! configured window that opens is stored as a maintenance incident, once; the engine's task
//! calls [`StatusPages::advance_maintenance`] on each pass and sleeps until
//! [`StatusPages::until_maintenance_moves`].

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::engine::{REFRESH, Rendered, StatusError, StatusPages, read};
use super::model::{Change, Incident, IncidentStatus};
use super::schedule;

impl StatusPages {
    /// Moves scheduled maintenance on by the clock (`schedule::due`), and stores configured
    /// maintenance windows as they start: from then on each is an incident like any other —
    /// subscribers hear of its start and end once, it stays in the history. A failure is
    /// logged and tried again at the next pass.
    pub(super) async fn advance_maintenance(&self) {
        let now = self.inner.clock.now_ms();
        let mut moved = false;
        // Maintenance of a page no longer configured stays as it is.
        let due = {
            let cache = read(&self.inner.cache);
            let incidents = read(&self.inner.incidents);
            let live = incidents.values().filter(|i| cache.contains_key(&i.page));
            schedule::due(live, now)
        };
        for (id, status, body) in due {
            let Some(slug) = read(&self.inner.incidents).get(&id).map(|i| i.page.clone()) else {
                continue;
            };
            let change = Change {
                status: Some(status.as_str().into()),
                body: Some(body.into()),
                ..Change::default()
            };
            match self.change_quietly(&slug, id, &change).await {
                Ok(()) => moved = true,
                Err(e) => warn!(id, error = %e, "scheduled maintenance not moved on"),
            }
        }
        let pages: Vec<Arc<Rendered>> = read(&self.inner.cache).values().cloned().collect();
        for r in pages {
            // By the clock, not by the status the (older) render gave the window.
            let open = |w: &&Incident| {
                w.scheduled_for_ms.is_some_and(|f| f <= now)
                    && w.scheduled_until_ms.is_some_and(|u| now < u)
            };
            for w in r.view.windows.iter().filter(open) {
                let guard = self.inner.changes.lock().await;
                if read(&self.inner.incidents).contains_key(&w.id) {
                    continue;
                }
                let mut started = w.clone();
                started.updated_ms = now;
                started.status = IncidentStatus::InProgress;
                if let Some(u) = started.updates.first_mut() {
                    u.status = IncidentStatus::InProgress;
                    u.body = schedule::STARTED.into();
                    u.created_ms = now;
                    u.by = "schedule".into();
                }
                match self.commit(&r, started, None).await {
                    Ok(_) => moved = true,
                    Err(e) => warn!(window = %w.name, error = %e, "maintenance window not stored"),
                }
                drop(guard);
            }
        }
        if moved {
            self.render_all().await;
        }
    }

    /// How long until the clock moves some maintenance (at most the refresh interval).
    pub(super) fn until_maintenance_moves(&self) -> Duration {
        let now = self.inner.clock.now_ms();
        let cache = read(&self.inner.cache);
        let incidents = read(&self.inner.incidents);
        let windows = cache.values().flat_map(|r| r.view.windows.iter());
        let live = incidents.values().filter(|i| cache.contains_key(&i.page));
        schedule::next_due(live.chain(windows), now)
            .map(|at| Duration::from_millis(at.saturating_sub(now)))
            .unwrap_or(REFRESH)
            .min(REFRESH)
    }

    /// One update by the clock, without the render `change` ends with.
    async fn change_quietly(
        &self,
        slug: &str,
        id: u64,
        change: &Change,
    ) -> Result<(), StatusError> {
        let _guard = self.inner.changes.lock().await;
        let rendered = self
            .get(slug)
            .ok_or_else(|| StatusError::NotFound(format!("no status page `{slug}`")))?;
        let Some(existing) = read(&self.inner.incidents).get(&id).cloned() else {
            return Ok(());
        };
        self.apply_change(&rendered, Some(&existing), change, "schedule", None)
            .await
            .map(|_| ())
    }
}
