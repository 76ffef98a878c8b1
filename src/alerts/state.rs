//! The life of one alert: inactive → pending (`for`) → firing → resolved (`keep_firing_for`
//! holding it firing after the condition cleared), and its identity, a fingerprint of its
//! labels (the same FNV-1a hash Prometheus and Alertmanager compute). Pure.

use serde::{Deserialize, Serialize};

use super::model::Labels;

/// Prometheus' label-set fingerprint: FNV-1a 64 over each `name 0xff value 0xff`, names sorted;
/// 16 hex digits.
pub fn fingerprint(labels: &Labels) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for (k, v) in labels {
        add(k.as_bytes());
        add(&[0xff]);
        add(v.as_bytes());
        add(&[0xff]);
    }
    format!("{h:016x}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The condition holds, for less than the rule's `for`.
    Pending,
    /// Notified receivers (subject to routing, silences and inhibition).
    Firing,
}

/// An alert that is pending or firing (inactive and resolved ones are not kept here; resolved
/// ones go to the history). Stored, so a restart resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub rule: String,
    pub fingerprint: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub phase: Phase,
    /// When the condition started to hold (pending since).
    pub active_since_ms: u64,
    /// When it started firing.
    pub fired_at_ms: Option<u64>,
    /// The last time the condition held.
    pub last_active_ms: u64,
    /// Whether the condition held at the last observation.
    pub active: bool,
    /// The value seen (e.g. `availability 98.2 %`), for the API and templates.
    pub value: String,
    /// Link to the dashboard's view of the source.
    pub generator_url: String,
}

/// What a step changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Newly pending.
    Pending,
    /// Started firing.
    Fired,
    /// Stopped firing (the condition cleared and `keep_firing_for` passed).
    Resolved,
    /// Was pending; the condition cleared before `for`: forgotten, nobody was told.
    Cleared,
}

/// Timing of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub pending_for_ms: u64,
    pub keep_firing_for_ms: u64,
}

impl Instance {
    /// A new instance whose condition holds from `now`: pending, or firing at once when the
    /// rule has no `for`.
    pub fn start(
        rule: &str,
        labels: Labels,
        value: String,
        generator_url: String,
        now: u64,
        t: Timing,
    ) -> (Instance, Change) {
        let mut i = Instance {
            rule: rule.to_string(),
            fingerprint: fingerprint(&labels),
            labels,
            annotations: Labels::new(),
            phase: Phase::Pending,
            active_since_ms: now,
            fired_at_ms: None,
            last_active_ms: now,
            active: true,
            value,
            generator_url,
        };
        if t.pending_for_ms == 0 {
            i.phase = Phase::Firing;
            i.fired_at_ms = Some(now);
            return (i, Change::Fired);
        }
        (i, Change::Pending)
    }

    /// Applies an observation of the condition (`active`) at `now`, or a tick (`active: None`:
    /// the last observation still stands). Returns what changed, if anything.
    pub fn step(&mut self, active: Option<bool>, now: u64, t: Timing) -> Option<Change> {
        // A condition is a level: seen holding, it held until whatever observation comes next,
        // so one that clears now held until now.
        let held = self.active && active.is_some();
        if let Some(a) = active {
            self.active = a;
        }
        if self.active || held {
            self.last_active_ms = now.max(self.last_active_ms);
        }
        match (self.phase, self.active) {
            (Phase::Pending, true) => {
                if now.saturating_sub(self.active_since_ms) >= t.pending_for_ms {
                    self.phase = Phase::Firing;
                    self.fired_at_ms = Some(now);
                    return Some(Change::Fired);
                }
                None
            }
            (Phase::Pending, false) => Some(Change::Cleared),
            (Phase::Firing, true) => None,
            (Phase::Firing, false) => (now.saturating_sub(self.last_active_ms)
                >= t.keep_firing_for_ms)
                .then_some(Change::Resolved),
        }
    }

    /// When a tick could next change this instance (pending → firing, firing → resolved).
    pub fn next_change_at(&self, t: Timing) -> Option<u64> {
        match (self.phase, self.active) {
            (Phase::Pending, true) => Some(self.active_since_ms + t.pending_for_ms),
            (Phase::Firing, false) => Some(self.last_active_ms + t.keep_firing_for_ms),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The value Prometheus computes for `{alertname="ApiDown", severity="critical"}` with
    /// `model.LabelSet.Fingerprint()` (FNV-1a 64 over name, 0xff, value, 0xff).
    #[test]
    fn fingerprints_are_prometheus_fnv_and_stable() {
        let l = labels(&[("alertname", "ApiDown"), ("severity", "critical")]);
        assert_eq!(fingerprint(&l), fingerprint(&l.clone()));
        assert_eq!(fingerprint(&Labels::new()), "cbf29ce484222325");
        assert_ne!(
            fingerprint(&labels(&[("a", "bc")])),
            fingerprint(&labels(&[("ab", "c")])),
            "the separator keeps name and value apart"
        );
        assert_eq!(fingerprint(&l).len(), 16);
    }

    const T: Timing = Timing {
        pending_for_ms: 60_000,
        keep_firing_for_ms: 30_000,
    };

    #[test]
    fn for_holds_it_pending_and_keep_firing_for_holds_it_firing() {
        let (mut i, c) = Instance::start("r", labels(&[]), String::new(), String::new(), 0, T);
        assert_eq!(c, Change::Pending);
        assert_eq!(i.step(Some(true), 30_000, T), None);
        assert_eq!(i.next_change_at(T), Some(60_000));
        assert_eq!(i.step(None, 60_000, T), Some(Change::Fired));
        assert_eq!(i.fired_at_ms, Some(60_000));
        // The condition clears at 70 s; keep_firing_for holds it for 30 s from then.
        assert_eq!(i.step(Some(false), 70_000, T), None);
        assert_eq!(i.next_change_at(T), Some(100_000));
        assert_eq!(i.step(None, 99_999, T), None);
        // It comes back meanwhile: still firing, the clock restarts when it clears again.
        assert_eq!(i.step(Some(true), 99_999, T), None);
        assert_eq!(i.step(Some(false), 110_000, T), None);
        assert_eq!(i.step(None, 139_999, T), None);
        assert_eq!(i.step(None, 140_000, T), Some(Change::Resolved));
    }

    #[test]
    fn a_condition_that_clears_while_pending_is_forgotten() {
        let (mut i, _) = Instance::start("r", labels(&[]), String::new(), String::new(), 0, T);
        assert_eq!(i.step(Some(false), 10_000, T), Some(Change::Cleared));
    }

    #[test]
    fn no_for_fires_at_once() {
        let t = Timing {
            pending_for_ms: 0,
            keep_firing_for_ms: 0,
        };
        let (mut i, c) = Instance::start("r", labels(&[]), String::new(), String::new(), 5, t);
        assert_eq!(c, Change::Fired);
        assert_eq!(i.step(Some(false), 6, t), Some(Change::Resolved));
    }
}
