//! Monitor rules: probe results and missed heartbeats against each rule about the monitor.

use serde_json::{Value, json};

use super::{Evaluator, HOUR, Observation, labels};
use crate::alerts::matcher::all_match;
use crate::alerts::model::Labels;
use crate::alerts::rules::{MonitorCondition, MonitorRule};
use crate::alerts::windows::{Buckets, MINUTE};
use crate::probe::events::Checked;
use crate::probe::rollup::Rollup;
use crate::probe::state::State;

/// Whether a rule selects a monitor: by name or group (none: every monitor), then by its
/// matchers over the monitor's labels.
fn selects(r: &MonitorRule, name: &str, group: Option<&str>, labels: &Labels) -> bool {
    let named = (r.monitors.is_empty() && r.groups.is_empty())
        || r.monitors.iter().any(|m| m == name)
        || group.is_some_and(|g| r.groups.iter().any(|x| x == g));
    named && (r.matchers.is_empty() || all_match(&r.matchers, &matched_labels(name, group, labels)))
}

/// What `matchers` see: the monitor's labels, `monitor` and `group`.
fn matched_labels(name: &str, group: Option<&str>, labels: &Labels) -> Labels {
    let mut l = labels.clone();
    l.insert("monitor".into(), name.to_string());
    if let Some(g) = group {
        l.insert("group".into(), g.to_string());
    }
    l
}

impl Evaluator {
    fn monitor_context(c: &Checked, value: &str) -> Value {
        json!({
            "Monitor": &*c.name,
            "Group": c.group.as_deref().unwrap_or(""),
            "Kind": c.kind,
            "State": c.state.as_str(),
            "Value": value,
            "Error": c.error.clone().unwrap_or_default(),
            "Latency": c.latency_ms,
            "Status": c.status,
            "Labels": &*c.labels,
        })
    }

    fn monitor_source(c: &Checked) -> Labels {
        let mut l = labels(&[("monitor", c.name.to_string())]);
        if let Some(g) = &c.group {
            l.insert("group".into(), g.to_string());
        }
        l
    }

    pub(super) fn checked(&mut self, c: &Checked) -> Vec<Observation> {
        let (minute_span, hour_span) = (self.minute_span, self.hour_span);
        let wants = !self
            .index
            .candidates(&c.name, c.group.as_deref())
            .is_empty();
        if !wants {
            return Vec::new();
        }
        let w = self.monitors.entry(c.monitor_id).or_default();
        // Results inside maintenance are left out of windows, as out of availability.
        if !c.maintenance {
            if minute_span > 0 {
                w.minutes
                    .get_or_insert_with(|| Buckets::new(minute_span, MINUTE))
                    .at(c.at_ms)
                    .add(c.state, c.ok, c.latency_ms, c.apdex_t_ms);
            }
            if hour_span > 0 {
                w.hours
                    .get_or_insert_with(|| Buckets::new(hour_span, HOUR))
                    .at(c.at_ms)
                    .add(c.state, c.ok, c.latency_ms, c.apdex_t_ms);
            }
        }
        w.last = Some(c.clone());
        self.monitor_rules(c.monitor_id, c.at_ms)
    }

    /// A multi-location monitor decided again: rules about its state follow this one.
    pub(super) fn combined(&mut self, c: &Checked) -> Vec<Observation> {
        if self
            .index
            .candidates(&c.name, c.group.as_deref())
            .is_empty()
        {
            return Vec::new();
        }
        self.monitors.entry(c.monitor_id).or_default().combined = Some(c.clone());
        self.monitor_rules(c.monitor_id, c.at_ms)
    }

    /// Every monitor rule's condition for one monitor at `now`.
    pub(super) fn monitor_rules(&self, id: u32, now: u64) -> Vec<Observation> {
        let Some(w) = self.monitors.get(&id) else {
            return Vec::new();
        };
        // A monitor whose locations leave out the server's has only combined results.
        let Some(c) = w.last.as_ref().or(w.combined.as_ref()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in self.index.candidates(&c.name, c.group.as_deref()) {
            let r = &self.rules[i];
            let Some(m) = &r.monitor else { continue };
            if !selects(m, &c.name, c.group.as_deref(), &c.labels) {
                continue;
            }
            let window = m.window.get().as_millis() as u64;
            let merged = |b: &Option<Buckets<Rollup>>, from: u64, to: u64| {
                let mut total = Rollup::default();
                if let Some(b) = b {
                    for r in b.range(from, to) {
                        total.merge(r);
                    }
                }
                total
            };
            // Rules about states read the state across locations when there are several.
            let mut subject = c;
            let (active, value) = match m.state {
                MonitorCondition::Down | MonitorCondition::Degraded => {
                    if c.located {
                        match &w.combined {
                            Some(k) => subject = k,
                            None => continue,
                        }
                    }
                    let want = if m.state == MonitorCondition::Down {
                        State::Down
                    } else {
                        State::Degraded
                    };
                    let mut value = subject.state.as_str().to_string();
                    if let Some(why) = subject.error.as_deref().filter(|_| subject.located) {
                        value = format!("{value} ({why})");
                    }
                    (subject.state == want, value)
                }
                // Cleared by the next heartbeat that arrives (a passing result).
                MonitorCondition::Missed => {
                    if c.kind != "push" || c.ok {
                        (false, "heartbeat received".to_string())
                    } else {
                        continue;
                    }
                }
                MonitorCondition::CertExpiry => match c.cert_expires_at_ms {
                    Some(at) => {
                        let days = (at - now as i64) as f64 / 86_400_000.0;
                        (days <= m.days, format!("{days:.1} days left"))
                    }
                    None => continue,
                },
                MonitorCondition::Availability => {
                    let r = merged(&w.minutes, now.saturating_sub(window), now + 1);
                    match r.availability() {
                        Some(a) => {
                            let pct = a * 100.0;
                            (pct < m.below.unwrap_or(100.0), format!("{pct:.3} %"))
                        }
                        None => continue,
                    }
                }
                MonitorCondition::Latency => {
                    let r = merged(&w.minutes, now.saturating_sub(window), now + 1);
                    match r.percentile(f64::from(m.percentile) / 100.0) {
                        Some(ms) => {
                            let above = m.above.map_or(0.0, |d| d.get().as_millis() as f64);
                            (ms > above, format!("p{} {ms:.0} ms", m.percentile))
                        }
                        None => continue,
                    }
                }
                MonitorCondition::Apdex => {
                    let r = merged(&w.minutes, now.saturating_sub(window), now + 1);
                    match r.apdex() {
                        Some(a) => (a < m.below.unwrap_or(0.0), format!("apdex {a:.3}")),
                        None => continue,
                    }
                }
                MonitorCondition::Trend => {
                    let back = m.compared_to.get().as_millis() as u64;
                    let now_r = merged(&w.hours, now.saturating_sub(window), now + 1);
                    let then_r = merged(
                        &w.hours,
                        now.saturating_sub(back + window),
                        now.saturating_sub(back) + 1,
                    );
                    let worse = if m.metric == "latency" {
                        match (now_r.percentile(0.95), then_r.percentile(0.95)) {
                            (Some(a), Some(b)) if b > 0.0 => (a - b) / b * 100.0,
                            _ => continue,
                        }
                    } else {
                        match (now_r.apdex(), then_r.apdex()) {
                            (Some(a), Some(b)) if b > 0.0 => (b - a) / b * 100.0,
                            _ => continue,
                        }
                    };
                    (worse > m.worse_by, format!("{} {worse:+.1} %", m.metric))
                }
            };
            // Maintenance never alerts.
            let active = active && !subject.maintenance;
            out.push(Observation {
                rule: i,
                base: (*c.labels).clone(),
                source: Self::monitor_source(c),
                active,
                momentary: false,
                context: Self::monitor_context(subject, &value),
                value,
                link: format!("/monitors/{}", c.monitor_id),
            });
        }
        out
    }

    pub(super) fn missed(&mut self, id: u32, name: &str) -> Vec<Observation> {
        let last = self.monitors.get(&id).and_then(|w| w.last.clone());
        let group = last.as_ref().and_then(|c| c.group.clone());
        let mut out = Vec::new();
        for i in self.index.candidates(name, group.as_deref()) {
            let r = &self.rules[i];
            let Some(m) = &r.monitor else { continue };
            if m.state != MonitorCondition::Missed {
                continue;
            }
            let base = last
                .as_ref()
                .map(|c| (*c.labels).clone())
                .unwrap_or_default();
            if !selects(m, name, group.as_deref(), &base)
                || last.as_ref().is_some_and(|c| c.maintenance)
            {
                continue;
            }
            let mut source = labels(&[("monitor", name.to_string())]);
            if let Some(g) = &group {
                source.insert("group".into(), g.to_string());
            }
            out.push(Observation {
                rule: i,
                base,
                source,
                active: true,
                momentary: false,
                value: "no heartbeat".into(),
                context: json!({"Monitor": name, "Group": group.as_deref().unwrap_or(""),
                    "State": "MISSED", "Value": "no heartbeat"}),
                link: format!("/monitors/{id}"),
            });
        }
        out
    }
}
