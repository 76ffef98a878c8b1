//! Each monitor's loop: sleep until the planned start, take the permits, check under the
//! timeout, record, plan the next start (on the interval grid, or a retry). Push monitors wait
//! for heartbeats instead.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::check::Outcome;
use super::config::CheckKind;
use super::{Monitor, ProbeEngine};

/// Deterministic offset in `[0, interval)` from the monitor name, so first runs spread evenly and
/// stay put across restarts.
pub fn spread(name: &str, interval: Duration) -> Duration {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3)
    });
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % ms)
}

impl ProbeEngine {
    pub(super) async fn run(&self, m: Arc<Monitor>) {
        if let CheckKind::Push(p) = &m.config.kind {
            return self.run_push(&m, p.grace.get()).await;
        }
        let interval = m.config.interval.get();
        let mut grid = Instant::now() + spread(&m.config.name, interval);
        let mut planned = grid;
        let host = self.host_permit(&m.config.kind.host());
        loop {
            tokio::time::sleep_until(planned).await;
            let Ok(_global) = self.permits().clone().acquire_owned().await else {
                return;
            };
            let Ok(_host) = host.clone().acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            self.metrics()
                .schedule_lag
                .observe(started.saturating_duration_since(planned).as_secs_f64());
            let outcome =
                match tokio::time::timeout(m.config.timeout.get(), self.checkers().run(&m.config))
                    .await
                {
                    Ok(o) => o,
                    Err(_) => Outcome::failed(
                        started.into_std(),
                        format!("timed out after {}", m.config.timeout),
                    ),
                };
            drop((_global, _host));
            let retry = self.record(&m, outcome).await;
            let now = Instant::now();
            while grid <= now {
                grid += interval;
            }
            planned = if retry {
                (now + m.config.retry_interval.get()).min(grid)
            } else {
                grid
            };
        }
    }

    /// Push monitors wait for heartbeats; a missing one past interval + grace is a failure.
    async fn run_push(&self, m: &Monitor, grace: Duration) {
        let window = m.config.interval.get() + grace;
        let mut deadline = Instant::now() + window;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    let outcome = Outcome {
                        error: Some(format!("no push received within {}", crate::config::Duration(window))),
                        ..Default::default()
                    };
                    self.heartbeat_missed(m);
                    let retry = self.record(m, outcome).await;
                    deadline = Instant::now() + if retry { m.config.retry_interval.get() } else { window };
                }
                _ = m.pushed.notified() => {
                    deadline = Instant::now() + window;
                }
            }
        }
    }
}
