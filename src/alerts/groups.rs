//! Alertmanager's aggregation groups and notification log, pure: alerts that share a route and
//! the route's `group_by` labels are notified together, first after `group_wait`, then at most
//! every `group_interval`, and again every `repeat_interval` while nothing changes. Each channel
//! of the receiver remembers what it was told, so it hears of a new firing alert, of the
//! resolution of an alert it was told about (with `send_resolved`), and otherwise only when the
//! repeat interval passed (Alertmanager's `DedupStage`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::model::{Alert, AlertStatus, Labels, Notification};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub group_wait_ms: u64,
    pub group_interval_ms: u64,
    pub repeat_interval_ms: u64,
}

/// What one channel was last told about the group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub firing: BTreeSet<String>,
    pub resolved: BTreeSet<String>,
    pub at_ms: u64,
}

/// One channel of the group's receiver: its id (`webhook_configs[0]`) and `send_resolved`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub send_resolved: bool,
    /// Firing alerts are sent again this often whatever the repeat interval (pushing to an
    /// Alertmanager, which forgets alerts not pushed again).
    pub resend_ms: Option<u64>,
}

/// A group. Stored with its notification log, so a restart neither repeats nor forgets a
/// notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    /// Key of the route (its timings and receiver are looked up there at each flush).
    pub route: String,
    pub receiver: String,
    pub labels: Labels,
    /// Firing alerts, and resolved ones the next flush reports.
    pub alerts: BTreeMap<String, Alert>,
    pub next_flush_ms: u64,
    pub sent: BTreeMap<String, Sent>,
}

impl Group {
    pub fn new(
        key: String,
        route: String,
        receiver: String,
        labels: Labels,
        now: u64,
        t: Timings,
    ) -> Group {
        Group {
            key,
            route,
            receiver,
            labels,
            alerts: BTreeMap::new(),
            next_flush_ms: now.saturating_add(t.group_wait_ms),
            sent: BTreeMap::new(),
        }
    }

    /// Adds an alert or updates it (firing, or now resolved).
    pub fn upsert(&mut self, alert: Alert) {
        self.alerts.insert(alert.fingerprint.clone(), alert);
    }

    pub fn is_due(&self, now: u64) -> bool {
        now >= self.next_flush_ms
    }

    /// Nothing left to report: the group can be forgotten.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Flushes the group at `now`: one notification per channel that needs one. `muted` says
    /// whether a firing alert is silenced or inhibited (muted alerts are left out, as if they
    /// were not there, and so are announced when the mute ends). Resolved alerts reported are
    /// dropped from the group.
    pub fn flush(
        &mut self,
        now: u64,
        t: Timings,
        channels: &[Channel],
        muted: impl Fn(&Alert) -> bool,
        external_url: &str,
    ) -> Vec<(String, Notification)> {
        self.next_flush_ms = now.saturating_add(t.group_interval_ms.max(1));
        let firing: Vec<&Alert> = self
            .alerts
            .values()
            .filter(|a| a.status == AlertStatus::Firing && !muted(a))
            .collect();
        let firing_fps: BTreeSet<String> = firing.iter().map(|a| a.fingerprint.clone()).collect();
        let mut out = Vec::new();
        for ch in channels {
            let prev = self.sent.get(&ch.id);
            // Only the resolution of alerts this channel was told about is news to it.
            let resolved: Vec<&Alert> = self
                .alerts
                .values()
                .filter(|a| {
                    a.status == AlertStatus::Resolved
                        && prev.is_some_and(|p| p.firing.contains(&a.fingerprint))
                })
                .collect();
            let resolved_fps: BTreeSet<String> =
                resolved.iter().map(|a| a.fingerprint.clone()).collect();
            let needs = match prev {
                None => !firing_fps.is_empty(),
                Some(p) => {
                    if !firing_fps.is_subset(&p.firing) {
                        true
                    } else if firing_fps.is_empty() {
                        !p.firing.is_empty()
                    } else if ch.send_resolved && !resolved_fps.is_subset(&p.resolved) {
                        true
                    } else {
                        let repeat = ch
                            .resend_ms
                            .map_or(t.repeat_interval_ms, |r| r.min(t.repeat_interval_ms));
                        now.saturating_sub(p.at_ms) >= repeat
                    }
                }
            };
            if !needs {
                continue;
            }
            self.sent.insert(
                ch.id.clone(),
                Sent {
                    firing: firing_fps.clone(),
                    resolved: resolved_fps,
                    at_ms: now,
                },
            );
            let mut alerts: Vec<Alert> = firing.iter().map(|a| (*a).clone()).collect();
            if ch.send_resolved {
                alerts.extend(resolved.iter().map(|a| (*a).clone()));
            }
            if alerts.is_empty() {
                continue;
            }
            out.push((ch.id.clone(), self.notification(alerts, external_url)));
        }
        self.alerts.retain(|_, a| a.status == AlertStatus::Firing);
        // A channel that must hear again soon brings the next flush forward.
        if !self.alerts.is_empty()
            && let Some(r) = channels.iter().filter_map(|c| c.resend_ms).min()
        {
            self.next_flush_ms = self.next_flush_ms.min(now.saturating_add(r.max(1)));
        }
        // Channels that no longer exist, or were told everything resolved, need no log.
        self.sent
            .retain(|id, s| channels.iter().any(|c| &c.id == id) && !s.firing.is_empty());
        out
    }

    fn notification(&self, alerts: Vec<Alert>, external_url: &str) -> Notification {
        let common = |get: fn(&Alert) -> &Labels| -> Labels {
            let mut it = alerts.iter();
            let Some(first) = it.next() else {
                return Labels::new();
            };
            let mut c = get(first).clone();
            for a in it {
                let l = get(a);
                c.retain(|k, v| l.get(k) == Some(v));
            }
            c
        };
        let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        Notification {
            receiver: self.receiver.clone(),
            group_key: self.key.clone(),
            status,
            group_labels: self.labels.clone(),
            common_labels: common(|a| &a.labels),
            common_annotations: common(|a| &a.annotations),
            external_url: external_url.to_string(),
            truncated_alerts: 0,
            alerts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timings = Timings {
        group_wait_ms: 30_000,
        group_interval_ms: 300_000,
        repeat_interval_ms: 4 * 3_600_000,
    };

    fn alert(fp: &str, status: AlertStatus) -> Alert {
        Alert {
            fingerprint: fp.into(),
            status,
            labels: [
                ("alertname".to_string(), "ApiDown".to_string()),
                ("m".to_string(), fp.to_string()),
            ]
            .into_iter()
            .collect(),
            annotations: Labels::new(),
            starts_at_ms: 0,
            ends_at_ms: (status == AlertStatus::Resolved).then_some(1),
            generator_url: String::new(),
        }
    }

    fn chans(send_resolved: bool) -> Vec<Channel> {
        vec![Channel {
            id: "webhook_configs[0]".into(),
            send_resolved,
            resend_ms: None,
        }]
    }

    fn fps(n: &Notification) -> Vec<(String, AlertStatus)> {
        n.alerts
            .iter()
            .map(|a| (a.fingerprint.clone(), a.status))
            .collect()
    }

    #[test]
    fn waits_then_batches_then_repeats() {
        let mut g = Group::new("k".into(), "{}".into(), "web".into(), Labels::new(), 0, T);
        g.upsert(alert("a", AlertStatus::Firing));
        assert!(!g.is_due(29_999));
        assert!(g.is_due(30_000));
        g.upsert(alert("b", AlertStatus::Firing));
        let n = g.flush(30_000, T, &chans(true), |_| false, "http://x");
        assert_eq!(n.len(), 1, "both alerts in one notification");
        assert_eq!(n[0].1.alerts.len(), 2);
        assert_eq!(
            n[0].1.common_labels.get("alertname").map(String::as_str),
            Some("ApiDown")
        );
        assert!(!n[0].1.common_labels.contains_key("m"));
        assert_eq!(g.next_flush_ms, 330_000);
        // Nothing changed: silence until the repeat interval.
        assert!(g.flush(330_000, T, &chans(true), |_| false, "").is_empty());
        let again = g.flush(
            30_000 + T.repeat_interval_ms,
            T,
            &chans(true),
            |_| false,
            "",
        );
        assert_eq!(again.len(), 1, "repeated after repeat_interval");
    }

    #[test]
    fn resolved_is_told_once_and_only_to_who_heard_the_firing() {
        let mut g = Group::new("k".into(), "{}".into(), "web".into(), Labels::new(), 0, T);
        g.upsert(alert("a", AlertStatus::Firing));
        g.upsert(alert("b", AlertStatus::Firing));
        assert_eq!(g.flush(30_000, T, &chans(true), |_| false, "").len(), 1);
        g.upsert(alert("a", AlertStatus::Resolved));
        let n = g.flush(330_000, T, &chans(true), |_| false, "");
        assert_eq!(
            fps(&n[0].1),
            [
                ("b".to_string(), AlertStatus::Firing),
                ("a".to_string(), AlertStatus::Resolved)
            ]
        );
        assert!(
            g.flush(630_000, T, &chans(true), |_| false, "").is_empty(),
            "once"
        );
        g.upsert(alert("b", AlertStatus::Resolved));
        let n = g.flush(930_000, T, &chans(true), |_| false, "");
        assert_eq!(n[0].1.status, AlertStatus::Resolved);
        assert!(g.is_empty());
        // An alert that fired and resolved between flushes is never announced.
        let mut g = Group::new("k".into(), "{}".into(), "web".into(), Labels::new(), 0, T);
        g.upsert(alert("c", AlertStatus::Resolved));
        assert!(g.flush(30_000, T, &chans(true), |_| false, "").is_empty());
        assert!(g.is_empty());
    }

    #[test]
    fn without_send_resolved_the_resolution_is_logged_not_sent() {
        let mut g = Group::new("k".into(), "{}".into(), "web".into(), Labels::new(), 0, T);
        g.upsert(alert("a", AlertStatus::Firing));
        assert_eq!(g.flush(30_000, T, &chans(false), |_| false, "").len(), 1);
        g.upsert(alert("a", AlertStatus::Resolved));
        assert!(g.flush(330_000, T, &chans(false), |_| false, "").is_empty());
        assert!(g.is_empty());
    }

    #[test]
    fn muted_alerts_are_announced_when_the_mute_ends() {
        let mut g = Group::new("k".into(), "{}".into(), "web".into(), Labels::new(), 0, T);
        g.upsert(alert("a", AlertStatus::Firing));
        assert!(g.flush(30_000, T, &chans(true), |_| true, "").is_empty());
        let n = g.flush(330_000, T, &chans(true), |_| false, "");
        assert_eq!(fps(&n[0].1), [("a".to_string(), AlertStatus::Firing)]);
    }
}
