//! Each monitor's loop: sleep until the planned start, take the permits, check under the
//! timeout, record, plan the next start (on the interval grid, or a retry). Push monitors wait
//! for heartbeats instead.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::check::Outcome;
use super::config::CheckKind;
use super::{Monitor, ProbeEngine};

/// About how many checks share one start slot (see [`slot_for`]).
const PER_SLOT: f64 = 16.0;
/// The widest slot: no check starts more than this much earlier than an exact spread would.
pub const MAX_SLOT: Duration = Duration::from_millis(256);

/// The width of the grid of slots checks start on, for `checks_per_s` in all: about
/// [`PER_SLOT`] checks per slot, as a power of two of milliseconds up to [`MAX_SLOT`] (so grids
/// of different widths nest, all anchored at the engine's start).
///
/// Why: spread to the millisecond, 1,000 monitors at 20 s woke the process 50 times a second,
/// one check each, and a check cost 0.43 ms of CPU against 0.19 ms at 50,000 monitors, where one
/// wake-up serves many. Started together, checks share their wake-ups: 0.20 ms each at 1,000
/// (probes bench, `docs/BENCHMARKS.md`). The width shrinks as the rate grows because a slot of
/// hundreds of checks starts them in a burst: at 50,000 monitors, 256 ms slots raised schedule
/// lag p99 from 2.5 to 42 ms and inflated the latencies measured, for no CPU saved.
pub fn slot_for(checks_per_s: f64) -> Duration {
    let ideal_ms = PER_SLOT * 1000.0 / checks_per_s;
    let mut ms = MAX_SLOT.as_millis() as u64;
    while ms > 1 && (ms as f64) > ideal_ms {
        ms /= 2;
    }
    Duration::from_millis(ms)
}

/// Deterministic offset in `[0, interval)` from the monitor name, a whole number of `slot`s, so
/// first runs spread evenly over the slots and stay put across restarts.
pub fn spread(name: &str, interval: Duration, slot: Duration) -> Duration {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3)
    });
    let slot = slot.max(Duration::from_millis(1));
    let slots = (interval.as_nanos() / slot.as_nanos()).max(1) as u64;
    slot * (h % slots) as u32
}

/// A monitor's first start: `offset` past `epoch`, on the first lap of `interval` not before
/// `now` (a monitor added later joins its slot of the same grid).
pub fn first_start(epoch: Instant, now: Instant, offset: Duration, interval: Duration) -> Instant {
    let t = epoch + offset;
    if t >= now {
        return t;
    }
    let laps = now
        .duration_since(t)
        .as_nanos()
        .div_ceil(interval.as_nanos().max(1));
    t + interval.saturating_mul(u32::try_from(laps).unwrap_or(u32::MAX))
}

impl ProbeEngine {
    /// `slot`: the start grid's width, from [`slot_for`].
    pub(super) async fn run(&self, m: Arc<Monitor>, slot: Duration) {
        if let CheckKind::Push(p) = &m.config.kind {
            return self.run_push(&m, p.grace.get()).await;
        }
        let interval = m.config.interval.get();
        let mut grid = first_start(
            self.inner.epoch,
            Instant::now(),
            spread(&m.config.name, interval, slot),
            interval,
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_hold_about_sixteen_checks_within_one_ms_and_256_ms() {
        let ms = |r: f64| slot_for(r).as_millis();
        // 1,000 monitors at 60 s and at 20 s: the widest slot.
        assert_eq!(ms(1_000.0 / 60.0), 256);
        assert_eq!(ms(50.0), 256);
        assert_eq!(ms(100.0), 128);
        // 50,000 at 20 s: 10 checks per 4 ms.
        assert_eq!(ms(2_500.0), 4);
        assert_eq!(ms(1.0e9), 1);
        assert_eq!(ms(0.0), 256);
        assert_eq!(ms(f64::NAN), 256);
    }

    #[test]
    fn offsets_are_whole_slots_within_the_interval_and_spread_over_them() {
        let interval = Duration::from_secs(20);
        for slot_ms in [1u64, 4, 256] {
            let slot = Duration::from_millis(slot_ms);
            let mut used = std::collections::HashSet::new();
            for i in 0..2_000 {
                let d = spread(&format!("m{i}"), interval, slot);
                assert!(d < interval, "{d:?}");
                assert_eq!(d.as_nanos() % slot.as_nanos(), 0, "{d:?}");
                used.insert(d);
            }
            // 2,000 names over 78 slots (256 ms) fill every slot; over 20,000 or 5,000 slots
            // they are spread, not bunched.
            let slots = (interval.as_millis() / slot.as_millis()) as usize;
            assert!(
                used.len() >= slots.min(2_000) * 3 / 4,
                "{slot_ms}: {}",
                used.len()
            );
        }
        let slot = Duration::from_millis(256);
        assert_eq!(
            spread("same", interval, slot),
            spread("same", interval, slot)
        );
        // An interval shorter than a slot still gets an offset inside it.
        assert_eq!(
            spread("x", Duration::from_millis(100), slot),
            Duration::ZERO
        );
        assert_eq!(
            spread("x", interval, Duration::ZERO).as_nanos() % 1_000_000,
            0
        );
    }

    #[test]
    fn a_first_start_is_on_the_grid_and_never_in_the_past() {
        let epoch = Instant::now();
        let interval = Duration::from_secs(20);
        let offset = Duration::from_millis(1_792);
        // From the start: the offset itself.
        assert_eq!(first_start(epoch, epoch, offset, interval), epoch + offset);
        for late_ms in [0u64, 1, 1_791, 1_792, 1_793, 21_792, 21_793, 400_000] {
            let now = epoch + Duration::from_millis(late_ms);
            let t = first_start(epoch, now, offset, interval);
            assert!(t >= now, "{late_ms}");
            assert!(t < now + interval, "{late_ms}");
            let past = t.duration_since(epoch + offset).as_nanos();
            assert_eq!(past % interval.as_nanos(), 0, "{late_ms}");
        }
    }
}
