//! The pure core of probing: one check's outcome in; the stored result, the roll-up rows, the
//! state transition and the snapshot out. No I/O: the engine reads the clock and maintenance
//! windows before, and stores, counts and publishes after.

use super::check::Outcome;
use super::condition::{BodyCache, ConditionResult, Placeholder};
use super::config::MonitorConfig;
use super::rollup::{Resolution, ResultRecord, Rollup};
use super::state::{Attempt, State, Transition};
use super::uptime::HourTally;
use super::{LastCheck, Runtime, Snapshot};

/// What one result changed.
#[derive(Debug, Clone)]
pub struct Judged {
    /// When the result counts (never before the monitor's previous result: see [`judge`]).
    pub at_ms: u64,
    pub previous: State,
    pub transition: Transition,
    pub ok: bool,
    pub latency_ms: u64,
    pub record: ResultRecord,
    /// (resolution, bucket start, encoded roll-up) for every resolution.
    pub rollups: Vec<(u8, u64, Vec<u8>)>,
    /// The runtime state to store for restarts.
    pub snapshot: Vec<u8>,
}

/// Judges `outcome` against the monitor's conditions, advances the state machine and the
/// current roll-up buckets in `rt`, and returns what must be stored.
///
/// Time never runs backwards for a monitor, and never stands still: a wall-clock step back would
/// otherwise start an empty bucket for an hour or day that is already stored and overwrite it,
/// and two results in one millisecond (heartbeats pushed back to back) would share the raw
/// result's key and the second would replace the first. So a result counts at least one
/// millisecond after the previous one.
pub fn judge(
    cfg: &MonitorConfig,
    mut outcome: Outcome,
    maintenance: Option<String>,
    now_ms: u64,
    rt: &mut Runtime,
) -> Judged {
    let now = rt
        .last
        .as_ref()
        .map_or(now_ms, |l| now_ms.max(l.at_ms.saturating_add(1)));
    if let Some(not_after) = outcome.obs.certificate_not_after_ms {
        outcome.obs.certificate_expiration_ms = Some(not_after - now as i64);
    }
    let mut cache = BodyCache::default();
    let results: Vec<ConditionResult> = cfg
        .conditions
        .iter()
        .map(|c| c.evaluate(&outcome.obs, &mut cache))
        .collect();
    let tests_connected = cfg
        .conditions
        .iter()
        .any(|c| c.placeholders().contains(&Placeholder::Connected));
    // A check error fails the check unless a condition explicitly judges connectivity
    // (e.g. `[CONNECTED] == false` to assert a port is closed).
    let ok = results.iter().all(|r| r.ok) && (outcome.error.is_none() || tests_connected);
    let latency_ms = outcome.obs.response_time_ms;
    let slow = cfg
        .degraded
        .is_some_and(|d| latency_ms > d.get().as_millis() as u64);
    let failed_conditions = results
        .iter()
        .enumerate()
        .filter(|(i, r)| !r.ok && *i < 64)
        .fold(0u64, |acc, (i, _)| acc | (1 << i));
    let apdex_t = cfg.apdex_t.get().as_millis() as u64;
    let previous = rt.state;
    let t = rt.machine.apply(
        Attempt {
            ok,
            slow,
            in_maintenance: maintenance.is_some(),
        },
        cfg.retries,
        cfg.recovery,
    );
    rt.state = t.state;
    if let Some(not_after) = outcome.obs.certificate_not_after_ms {
        rt.cert_expires_at_ms = Some(not_after);
    }
    let mut rollups = Vec::with_capacity(3);
    for (i, res) in Resolution::ALL.iter().enumerate() {
        let bucket = res.bucket(now);
        if rt.current[i].0 != bucket {
            rt.current[i] = (bucket, Rollup::default());
        }
        rt.current[i].1.add(t.state, ok, latency_ms, apdex_t);
        rollups.push((*res as u8, bucket, rt.current[i].1.encode()));
    }
    let hour = Resolution::Hour.bucket(now);
    let tally = HourTally::of(hour, &rt.current[1].1);
    match rt.hours.back_mut() {
        Some(h) if h.start == hour => *h = tally,
        _ => rt.hours.push_back(tally),
    }
    while rt.hours.len() > 25 {
        rt.hours.pop_front();
    }
    rt.last = Some(LastCheck {
        at_ms: now,
        latency_ms,
        ok,
        status: outcome.obs.status,
        // Check-in and push text is the client's: kept as short as a stored result's error.
        error: outcome.error.as_deref().map(|e| clip(e, MAX_LAST_ERROR)),
        conditions: results,
        maintenance,
    });
    let snapshot = Snapshot {
        machine: rt.machine,
        state: Some(rt.state),
        last: rt.last.clone(),
        cert_expires_at_ms: rt.cert_expires_at_ms,
        last_push_ms: rt.last_push_ms,
    };
    let record = ResultRecord {
        state: t.state,
        ok,
        latency_us: latency_ms.saturating_mul(1000),
        status: outcome.obs.status,
        failed_conditions,
        error: outcome.error,
    };
    Judged {
        at_ms: now,
        previous,
        transition: t,
        ok,
        latency_ms,
        record,
        rollups,
        snapshot: serde_json::to_vec(&snapshot).unwrap_or_default(),
    }
}

/// An empty runtime (a monitor never checked).
pub fn fresh_runtime(now_ms: u64) -> Runtime {
    Runtime {
        machine: Default::default(),
        state: State::Unknown,
        last: None,
        cert_expires_at_ms: None,
        last_push_ms: None,
        current: Resolution::ALL.map(|r| (r.bucket(now_ms), Rollup::default())),
        hours: Default::default(),
    }
}

/// Longest error kept in a monitor's last check (as in a stored result).
const MAX_LAST_ERROR: usize = 512;

fn clip(s: &str, max: usize) -> String {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::condition::Observation;

    #[test]
    fn the_last_checks_error_is_bounded() {
        let m = monitor();
        let mut rt = fresh_runtime(1_800_000_000_000);
        let mut o = outcome(500);
        o.error = Some("é".repeat(10_000));
        judge(&m, o, None, 1_800_000_000_000, &mut rt);
        let e = rt.last.and_then(|l| l.error).expect("an error");
        assert!(
            e.len() <= MAX_LAST_ERROR && e.starts_with('é'),
            "{}",
            e.len()
        );
    }

    fn monitor() -> MonitorConfig {
        let c = crate::config::root::parse(
            "monitors:\n  - {name: a, type: http, url: \"http://h/\", conditions: [\"[STATUS] == 200\"]}\n",
            "t",
            &|_| None,
        )
        .expect("config");
        c.monitors[0].clone()
    }

    fn outcome(status: u16) -> Outcome {
        Outcome {
            obs: Observation {
                status: Some(status),
                response_time_ms: 12,
                connected: true,
                ..Default::default()
            },
            error: None,
        }
    }

    const DAY: u64 = 86_400_000;

    #[test]
    fn two_results_in_one_millisecond_get_their_own_times() {
        let m = monitor();
        let mut rt = fresh_runtime(1_800_000_000_000);
        let a = judge(&m, outcome(200), None, 1_800_000_000_000, &mut rt);
        let b = judge(&m, outcome(500), None, 1_800_000_000_000, &mut rt);
        assert_eq!(b.at_ms, a.at_ms + 1);
    }

    #[test]
    fn certificate_expiry_is_measured_with_the_given_clock() {
        let m = monitor();
        let now = 1_800_000_000_000u64;
        let mut rt = fresh_runtime(now);
        let mut o = outcome(200);
        o.obs.certificate_not_after_ms = Some(now as i64 + 3 * 86_400_000);
        judge(&m, o, None, now, &mut rt);
        assert_eq!(rt.cert_expires_at_ms, Some(now as i64 + 3 * 86_400_000));
        let shown = rt.last.as_ref().expect("last");
        assert!(shown.ok);
        // The same certificate judged "a day later" by the injected clock has two days left.
        let c = crate::probe::condition::Condition::parse("[CERTIFICATE_EXPIRATION] > 60h")
            .expect("condition");
        let mut o = outcome(200);
        o.obs.certificate_not_after_ms = Some(now as i64 + 3 * 86_400_000);
        let mut m2 = m.clone();
        m2.conditions = vec![c];
        let j = judge(&m2, o, None, now + 86_400_000, &mut rt);
        assert!(!j.ok, "48 h left is not more than 60 h");
    }

    #[test]
    fn results_move_state_and_roll_ups() {
        let m = monitor();
        let t0 = 1_800_000_000_000 - 1_800_000_000_000 % DAY;
        let mut rt = fresh_runtime(t0);
        let j = judge(&m, outcome(200), None, t0 + 1000, &mut rt);
        assert!(j.ok);
        assert_eq!(
            (j.previous, j.transition.state),
            (State::Unknown, State::Up)
        );
        let j = judge(&m, outcome(503), None, t0 + 2000, &mut rt);
        assert!(!j.ok);
        assert_eq!(j.transition.state, State::Down);
        assert_eq!(j.record.failed_conditions, 1);
        let day = Rollup::decode(&j.rollups[2].2).expect("day");
        assert_eq!((day.up, day.down), (1, 1));
    }

    /// A wall clock stepped back a day must not start an empty roll-up for a day that is
    /// already stored (that row would be overwritten with a count of 1).
    #[test]
    fn a_clock_step_backwards_never_replaces_a_stored_bucket() {
        let m = monitor();
        let t0 = 1_800_000_000_000 - 1_800_000_000_000 % DAY;
        let mut rt = fresh_runtime(t0 + DAY);
        for i in 0..5 {
            judge(&m, outcome(200), None, t0 + DAY + i * 1000, &mut rt);
        }
        let j = judge(&m, outcome(200), None, t0 + 10_000, &mut rt);
        assert!(
            j.at_ms >= t0 + DAY,
            "the result counts at the latest time seen"
        );
        for (res, bucket, _) in &j.rollups {
            assert!(
                *bucket >= Resolution::ALL[(*res - 1) as usize].bucket(t0 + DAY),
                "resolution {res}: bucket {bucket} is before the stored ones"
            );
        }
        let day = Rollup::decode(&j.rollups[2].2).expect("day");
        assert_eq!(day.up, 6, "the day's count kept growing");
    }
}
