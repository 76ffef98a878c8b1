//! Push heartbeats: a monitor of type `push` is judged by the heartbeats it receives (the push
//! URL, or a Sentry cron check-in naming it).

use super::check::Outcome;
use super::condition::Observation;
use super::config::CheckKind;
use super::state::State;
use super::{ProbeEngine, lock, read};
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
        let now = self.inner.clock.now_ms();
        lock(&m.rt).last_push_ms = Some(now);
        let outcome = Outcome {
            obs: Observation {
                status: Some(if up { 200 } else { 500 }),
                response_time_ms: latency_ms.unwrap_or(0),
                body: msg.clone(),
                connected: true,
                ..Default::default()
            },
            error: (!up).then(|| msg.unwrap_or_else(|| "push reported down".into())),
        };
        self.record_durably(&m, outcome).await?;
        m.pushed.notify_one();
        Ok(Some(lock(&m.rt).state))
    }
}
