//! Push heartbeats: a monitor of type `push` is judged by the heartbeats it receives (the push
//! URL, or a Sentry cron check-in naming it).

use super::check::Outcome;
use super::condition::Observation;
use super::config::CheckKind;
use super::state::State;
use super::{ProbeEngine, lock, read};

impl ProbeEngine {
    /// Records a push heartbeat. `up` false reports a failure (e.g. a failed cron job).
    pub async fn push(
        &self,
        token: &str,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Option<State> {
        let id = *read(&self.inner.push_tokens).get(token)?;
        self.heartbeat(id, up, msg, latency_ms).await
    }

    /// A heartbeat for the push monitor named `name` (Sentry cron `check_in` items use the
    /// monitor slug). Returns `None` when no push monitor has that name.
    pub async fn push_by_name(
        &self,
        name: &str,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Option<State> {
        let id = read(&self.inner.monitors)
            .values()
            .find(|m| m.config.name == name && matches!(m.config.kind, CheckKind::Push(_)))?
            .id;
        self.heartbeat(id, up, msg, latency_ms).await
    }

    async fn heartbeat(
        &self,
        id: u32,
        up: bool,
        msg: Option<String>,
        latency_ms: Option<u64>,
    ) -> Option<State> {
        let m = read(&self.inner.monitors).get(&id)?.clone();
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
        self.record(&m, outcome).await;
        m.pushed.notify_one();
        Some(lock(&m.rt).state)
    }
}
