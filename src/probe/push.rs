//! Push heartbeats: a monitor of type `push` is judged by the heartbeats it receives (the push
//! URL, or a Sentry cron check-in naming it).

use super::check::Outcome;
use super::condition::Observation;
use super::config::CheckKind;
use super::state::State;
use super::{MAX_PUSH_LATENCY_MS, ProbeEngine, lock, read};
use crate::store::StoreError;

impl ProbeEngine {
    /// Records a push heartbeat. `up` false reports a failure (e.g. a failed cron job).
    /// `Ok(None)` when no push monitor has this token; `Ok(Some(state))` once the heartbeat is
    /// durable.
    pub async fn push(
        &self,
        token: &str,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Result<Option<State>, StoreError> {
        let Some(id) = read(&self.inner.push_tokens).get(token).copied() else {
            return Ok(None);
        };
        self.heartbeat(id, up, msg, latency_ms).await
    }

    /// A heartbeat for the push monitor named `name` from Sentry project `project` (a cron
    /// `check_in` names its monitor by slug). Only a push monitor that lists the project in
    /// `check_in_projects` takes it: a DSN key is public, so any project's key must not be able
    /// to heartbeat any monitor. `Ok(None)` when no such monitor takes it.
    pub async fn push_by_name(
        &self,
        project: u64,
        name: &str,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Result<Option<State>, StoreError> {
        let id = read(&self.inner.monitors)
            .values()
            .find_map(|m| match &m.config.kind {
                CheckKind::Push(p)
                    if m.config.name == name && p.check_in_projects.contains(&project) =>
                {
                    Some(m.id)
                }
                _ => None,
            });
        match id {
            Some(id) => self.heartbeat(id, up, msg, latency_ms).await,
            None => Ok(None),
        }
    }

    /// Whether a push monitor has this token (checked before a push body is read).
    pub fn has_push_token(&self, token: &str) -> bool {
        read(&self.inner.push_tokens).contains_key(token)
    }

    async fn heartbeat(
        &self,
        id: u32,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Result<Option<State>, StoreError> {
        let Some(m) = read(&self.inner.monitors).get(&id).cloned() else {
            return Ok(None);
        };
        // One heartbeat of a monitor at a time, in arrival order; its state changes only once
        // it is stored (see `record_durably`).
        let _writing = m.writing.lock().await;
        let now = self.inner.clock.now_ms();
        // Each result of a monitor is stamped at least 1 ms after the previous one (see
        // `judge`), so more than a thousand heartbeats a second would move its time into the
        // future. A heartbeat in the same millisecond as the previous one is merged into it:
        // answered as a success with the state that one left, and not stored again.
        {
            let rt = lock(&m.rt);
            if rt.last_push_ms == Some(now) {
                return Ok(Some(rt.state));
            }
        }
        let outcome = Outcome {
            obs: Observation {
                status: Some(if up { 200 } else { 500 }),
                response_time_ms: latency_ms.unwrap_or(0).min(MAX_PUSH_LATENCY_MS),
                body: msg.clone(),
                connected: true,
                ..Default::default()
            },
            error: (!up).then(|| msg.unwrap_or_else(|| "push reported down".into())),
        };
        let state = self.record_durably(&m, outcome, now).await?;
        m.pushed.notify_one();
        Ok(Some(state))
    }
}
