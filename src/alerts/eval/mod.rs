//! Rule evaluation: domain events (and, for windows that slide, a periodic tick) in; per rule
//! and source (a monitor, an issue, a key), whether the condition holds, out. Pure: the engine
//! turns these observations into alert state changes.

mod agents;
mod events;
mod monitors;

use std::collections::HashMap;

use serde_json::{Value, json};

use super::model::Labels;
use super::rules::{MonitorCondition, RuleConfig, SelfCondition};
use super::windows::{Buckets, MINUTE, MinuteSeries};
use crate::events::{DomainEvent, ProbeEvent, StoreEvent};
use crate::probe::events::Checked;
use crate::probe::rollup::Rollup;

const HOUR: u64 = 3_600_000;
/// Sources tracked per rule at most (issues and keys are created by clients).
const MAX_SOURCES_PER_RULE: usize = 100_000;

/// Whether a rule's condition holds for one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub rule: usize,
    /// Labels the source brings that the rule's own labels override, as Prometheus lets a
    /// rule's labels override its series' (a monitor's `labels:`).
    pub base: Labels,
    /// Labels of the source (`monitor`, `issue`, `service`, ...), added to the rule's.
    pub source: Labels,
    pub active: bool,
    /// True for conditions that are an instant (a new issue): they hold now and not after, and
    /// `keep_firing_for` decides how long the alert fires.
    pub momentary: bool,
    pub value: String,
    /// What annotation templates see (`.Monitor`, `.State`, `.Value`, ...).
    pub context: Value,
    /// Path of the dashboard view, e.g. `/monitors/12`.
    pub link: String,
}

/// Panoptes' own figures, sampled from its metrics by the engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelfStats {
    pub backlog: u64,
    pub quota_rejected_total: u64,
    pub events_dropped_total: u64,
}

#[derive(Default)]
struct MonitorWindow {
    minutes: Option<Buckets<Rollup>>,
    hours: Option<Buckets<Rollup>>,
    last: Option<Checked>,
    /// For a monitor checked from several locations, its state across them: what rules about
    /// states (`down`, `degraded`) follow instead of the server's own location's.
    combined: Option<Checked>,
}

/// Which monitor rules may select a monitor, so one result costs the rules about it, not every
/// rule (a rule per monitor is common: 50,000 monitors, 50,000 rules).
#[derive(Default)]
struct MonitorIndex {
    by_name: HashMap<String, Vec<usize>>,
    by_group: HashMap<String, Vec<usize>>,
    every: Vec<usize>,
}

impl MonitorIndex {
    fn new(rules: &[RuleConfig]) -> MonitorIndex {
        let mut ix = MonitorIndex::default();
        for (i, r) in rules.iter().enumerate() {
            let Some(m) = &r.monitor else { continue };
            if m.monitors.is_empty() && m.groups.is_empty() {
                ix.every.push(i);
            }
            for n in &m.monitors {
                ix.by_name.entry(n.clone()).or_default().push(i);
            }
            for g in &m.groups {
                ix.by_group.entry(g.clone()).or_default().push(i);
            }
        }
        ix
    }

    /// Rule indexes that may select a monitor, in rule order, once each.
    fn candidates(&self, name: &str, group: Option<&str>) -> Vec<usize> {
        let mut out = self.every.clone();
        if let Some(v) = self.by_name.get(name) {
            out.extend(v);
        }
        if let Some(v) = group.and_then(|g| self.by_group.get(g)) {
            out.extend(v);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// How a counted window reads against its rule's threshold.
#[derive(Debug, Clone, Copy)]
enum Measure {
    /// `frequency` / `users`: the sum, as "N events in 10m".
    Count(&'static str),
    /// `rate`: the sum per minute over the window.
    PerMinute,
    /// `increase`: the sum, as "+N in 5m".
    Increase,
}

/// One source of a counted rule (an issue's events, a key's increase), with what an
/// observation of it carries. Kept whole so a tick can re-check it without an event: windows
/// only empty with time, and an alert over one must resolve when the traffic stops.
struct Window {
    counts: MinuteSeries,
    window_ms: u64,
    /// Holds when the measure is above this.
    limit: u64,
    measure: Measure,
    source: Labels,
    context: Value,
    link: String,
    /// What the last observation said. Only windows that held need a tick: one that did not
    /// cannot start holding as counts leave it.
    active: bool,
}

impl Window {
    fn new(window_ms: u64, limit: u64, measure: Measure) -> Window {
        Window {
            counts: MinuteSeries::default(),
            window_ms,
            limit,
            measure,
            source: Labels::new(),
            context: Value::Null,
            link: String::new(),
            active: false,
        }
    }

    /// Whether the window holds at `now`, as an observation of `rule`.
    fn observe(&mut self, rule: usize, now: u64) -> Observation {
        let sum = self.counts.sum(now, self.window_ms);
        let span = crate::config::Duration(std::time::Duration::from_millis(self.window_ms));
        let (measured, value) = match self.measure {
            Measure::Count(what) => (sum, format!("{sum} {what} in {span}")),
            Measure::PerMinute => {
                let per_minute = sum * MINUTE / self.window_ms.max(MINUTE);
                (per_minute, format!("{per_minute} events/min"))
            }
            Measure::Increase => (sum, format!("+{sum} in {span}")),
        };
        self.active = measured > self.limit;
        let mut context = self.context.clone();
        if let Value::Object(m) = &mut context {
            m.insert("Value".into(), Value::String(value.clone()));
        }
        Observation {
            rule,
            base: Labels::new(),
            source: self.source.clone(),
            active: self.active,
            momentary: false,
            value,
            context,
            link: self.link.clone(),
        }
    }
}

pub struct Evaluator {
    rules: Vec<RuleConfig>,
    index: MonitorIndex,
    monitors: HashMap<u32, MonitorWindow>,
    /// (rule, source key) -> counted window of an issue or exception rule.
    series: HashMap<(usize, String), Window>,
    /// Counted windows of `panoptes:` rules, by rule.
    self_series: HashMap<usize, MinuteSeries>,
    store_failed: Option<String>,
    /// Probing agents by name: location and when last heard from (`agent_silent`).
    agents: HashMap<String, (String, u64)>,
    last_stats: Option<SelfStats>,
    /// Longest minute window of any monitor rule, and longest trend span.
    minute_span: u64,
    hour_span: u64,
}

fn labels(pairs: &[(&str, String)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

impl Evaluator {
    pub fn new(rules: Vec<RuleConfig>) -> Evaluator {
        let mut minute_span = 0;
        let mut hour_span = 0;
        for r in &rules {
            if let Some(m) = &r.monitor {
                let w = m.window.get().as_millis() as u64;
                match m.state {
                    MonitorCondition::Trend => {
                        hour_span = hour_span.max(m.compared_to.get().as_millis() as u64 + w)
                    }
                    MonitorCondition::Availability
                    | MonitorCondition::Latency
                    | MonitorCondition::Apdex => minute_span = minute_span.max(w),
                    _ => {}
                }
            }
        }
        Evaluator {
            index: MonitorIndex::new(&rules),
            rules,
            monitors: HashMap::new(),
            series: HashMap::new(),
            self_series: HashMap::new(),
            store_failed: None,
            agents: HashMap::new(),
            last_stats: None,
            minute_span,
            hour_span,
        }
    }

    pub fn rules(&self) -> &[RuleConfig] {
        &self.rules
    }

    /// How far back minute and hour windows reach (0: no rule keeps them).
    pub fn window_spans(&self) -> (u64, u64) {
        (self.minute_span, self.hour_span)
    }

    /// Seeds a monitor's windows from stored roll-ups, so a restart or a reload does not blind
    /// availability, latency and trend rules until their windows fill again.
    pub fn seed(&mut self, monitor: u32, minutes: Vec<(u64, Rollup)>, hours: Vec<(u64, Rollup)>) {
        let (minute_span, hour_span) = (self.minute_span, self.hour_span);
        if minutes.is_empty() && hours.is_empty() {
            return;
        }
        let w = self.monitors.entry(monitor).or_default();
        for (span, width, rows, slot) in [
            (minute_span, MINUTE, minutes, &mut w.minutes),
            (hour_span, HOUR, hours, &mut w.hours),
        ] {
            if span == 0 || rows.is_empty() {
                continue;
            }
            let b = slot.get_or_insert_with(|| Buckets::new(span, width));
            for (start, r) in rows {
                b.insert(start, r);
            }
        }
    }

    pub fn on_event(&mut self, e: &DomainEvent, now: u64) -> Vec<Observation> {
        match e {
            DomainEvent::Probe(ProbeEvent::Checked(c)) => self.checked(c),
            DomainEvent::Probe(ProbeEvent::Combined(c)) => self.combined(c),
            DomainEvent::Probe(ProbeEvent::HeartbeatMissed {
                monitor_id, name, ..
            }) => self.missed(*monitor_id, name),
            DomainEvent::Probe(ProbeEvent::Removed { monitor_id, .. }) => {
                self.monitors.remove(monitor_id);
                Vec::new()
            }
            DomainEvent::Sentry(s) => self.sentry(s, now),
            DomainEvent::Periskop(p) => self.periskop(p, now),
            DomainEvent::Store(StoreEvent::Failed { reason }) => {
                self.store_failed = Some(reason.clone());
                self.self_rules(None, now)
            }
            DomainEvent::Agent(a) => self.agent_event(a, now),
            // Alerting's own reports and the pages made of them: rules do not watch alerts.
            DomainEvent::Alert(_) | DomainEvent::Oncall(_) => Vec::new(),
        }
    }

    /// A delivery gave up (`alerts.delivery.dead_after`): every `notification_dead` rule (the
    /// built-in `PanoptesNotificationDead` among them) fires for the receiver's channel. A
    /// notification that carried only such alerts raises nothing: its own death would
    /// notify the same broken channel again, and again, for ever.
    pub fn notification_dead(
        &self,
        receiver: &str,
        channel: &str,
        reason: &str,
        alertnames: &[String],
    ) -> Vec<Observation> {
        let dead_rules: Vec<usize> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.panoptes
                    .as_ref()
                    .is_some_and(|p| p.event == SelfCondition::NotificationDead)
            })
            .map(|(idx, _)| idx)
            .collect();
        let about_dead = |name: &String| dead_rules.iter().any(|i| self.rules[*i].name == *name);
        if !alertnames.is_empty() && alertnames.iter().all(about_dead) {
            return Vec::new();
        }
        dead_rules
            .into_iter()
            .map(|idx| Observation {
                rule: idx,
                base: Labels::new(),
                source: labels(&[
                    ("receiver", receiver.to_string()),
                    ("channel", channel.to_string()),
                ]),
                active: true,
                momentary: true,
                value: reason.to_string(),
                context: json!({"Receiver": receiver, "Channel": channel, "Value": reason}),
                link: "/alerts".into(),
            })
            .collect()
    }

    /// Re-evaluates what slides with time: monitor windows, issue and key windows, Panoptes'
    /// own figures.
    pub fn tick(&mut self, now: u64, stats: SelfStats) -> Vec<Observation> {
        let mut out = Vec::new();
        let ids: Vec<u32> = self
            .monitors
            .iter()
            .filter(|(_, w)| w.minutes.is_some() || w.hours.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            out.extend(self.monitor_rules(id, now).into_iter().filter(|o| {
                self.rules[o.rule].monitor.as_ref().is_some_and(|m| {
                    matches!(
                        m.state,
                        MonitorCondition::Availability
                            | MonitorCondition::Latency
                            | MonitorCondition::Apdex
                            | MonitorCondition::Trend
                            | MonitorCondition::CertExpiry
                    )
                })
            }));
        }
        // Windows of issues and keys: one that held is checked again, so its alert resolves
        // once the traffic stops; one whose sum fell to nothing is forgotten.
        let mut gone = Vec::new();
        for ((idx, key), w) in &mut self.series {
            w.counts.prune(now, w.window_ms);
            if w.active {
                out.push(w.observe(*idx, now));
            }
            if !w.active && w.counts.is_empty() {
                gone.push((*idx, key.clone()));
            }
        }
        for k in gone {
            self.series.remove(&k);
        }
        out.extend(self.self_rules(Some(stats), now));
        out
    }
}

#[cfg(test)]
mod located_tests;
#[cfg(test)]
mod tests;
