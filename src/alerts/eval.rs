//! Rule evaluation: domain events (and, for windows that slide, a periodic tick) in; per rule
//! and source (a monitor, an issue, a key), whether the condition holds, out. Pure: the engine
//! turns these observations into alert state changes.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::model::Labels;
use super::rules::{
    ExceptionCondition, IssueCondition, IssueRule, MonitorCondition, MonitorRule, RuleConfig,
    SelfCondition,
};
use super::windows::{Buckets, MINUTE, MinuteSeries};
use crate::events::{DomainEvent, PeriskopEvent, ProbeEvent, SentryEvent, StoreEvent};
use crate::probe::events::Checked;
use crate::probe::rollup::Rollup;
use crate::probe::state::State;
use crate::sentry::events::IssueFacts;

const HOUR: u64 = 3_600_000;
/// Sources tracked per rule at most (issues and keys are created by clients).
const MAX_SOURCES_PER_RULE: usize = 100_000;

/// Whether a rule's condition holds for one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub rule: usize,
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

pub struct Evaluator {
    rules: Vec<RuleConfig>,
    index: MonitorIndex,
    monitors: HashMap<u32, MonitorWindow>,
    /// (rule, source key) -> series.
    series: HashMap<(usize, String), MinuteSeries>,
    store_failed: Option<String>,
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

fn selects(r: &MonitorRule, c: &Checked) -> bool {
    (r.monitors.is_empty() && r.groups.is_empty())
        || r.monitors.iter().any(|m| **m == *c.name)
        || c.group
            .as_deref()
            .is_some_and(|g| r.groups.iter().any(|x| x == g))
}

fn issue_matches(
    r: &IssueRule,
    i: &IssueFacts,
    environments: &[String],
    releases: &[String],
) -> bool {
    (r.projects.is_empty() || r.projects.contains(&i.project))
        && (r.levels.is_empty() || r.levels.iter().any(|l| l.eq_ignore_ascii_case(&i.level)))
        && r.title.as_ref().is_none_or(|p| p.0.is_match(&i.title))
        && r.culprit.as_ref().is_none_or(|p| p.0.is_match(&i.culprit))
        && r.environment
            .as_ref()
            .is_none_or(|e| environments.iter().any(|x| x == e))
        && r.release
            .as_ref()
            .is_none_or(|p| releases.iter().any(|x| p.0.is_match(x)))
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
            store_failed: None,
            last_stats: None,
            minute_span,
            hour_span,
        }
    }

    pub fn rules(&self) -> &[RuleConfig] {
        &self.rules
    }

    /// Whether any rule keeps hour buckets for trends (the engine then seeds them).
    pub fn wants_hours(&self) -> bool {
        self.hour_span > 0
    }

    /// Seeds a monitor's hour buckets from stored roll-ups (at start, for trends).
    pub fn seed_hours(&mut self, monitor: u32, rows: Vec<(u64, Rollup)>) {
        let span = self.hour_span;
        let w = self.monitors.entry(monitor).or_default();
        let hours = w.hours.get_or_insert_with(|| Buckets::new(span, HOUR));
        for (start, r) in rows {
            hours.insert(start, r);
        }
    }

    pub fn on_event(&mut self, e: &DomainEvent, now: u64) -> Vec<Observation> {
        match e {
            DomainEvent::Probe(ProbeEvent::Checked(c)) => self.checked(c),
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
        }
    }

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
        })
    }

    fn monitor_source(c: &Checked) -> Labels {
        let mut l = labels(&[("monitor", c.name.to_string())]);
        if let Some(g) = &c.group {
            l.insert("group".into(), g.to_string());
        }
        l
    }

    fn checked(&mut self, c: &Checked) -> Vec<Observation> {
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

    /// Every monitor rule's condition for one monitor at `now`.
    fn monitor_rules(&self, id: u32, now: u64) -> Vec<Observation> {
        let Some(w) = self.monitors.get(&id) else {
            return Vec::new();
        };
        let Some(c) = &w.last else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in self.index.candidates(&c.name, c.group.as_deref()) {
            let r = &self.rules[i];
            let Some(m) = &r.monitor else { continue };
            if !selects(m, c) {
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
            let (active, value) = match m.state {
                MonitorCondition::Down => (c.state == State::Down, c.state.as_str().to_string()),
                MonitorCondition::Degraded => {
                    (c.state == State::Degraded, c.state.as_str().to_string())
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
            let active = active && !c.maintenance;
            out.push(Observation {
                rule: i,
                source: Self::monitor_source(c),
                active,
                momentary: false,
                context: Self::monitor_context(c, &value),
                value,
                link: format!("/monitors/{}", c.monitor_id),
            });
        }
        out
    }

    fn missed(&mut self, id: u32, name: &str) -> Vec<Observation> {
        let last = self.monitors.get(&id).and_then(|w| w.last.clone());
        let group = last.as_ref().and_then(|c| c.group.clone());
        let mut out = Vec::new();
        for i in self.index.candidates(name, group.as_deref()) {
            let r = &self.rules[i];
            let Some(m) = &r.monitor else { continue };
            if m.state != MonitorCondition::Missed {
                continue;
            }
            let group = last.as_ref().and_then(|c| c.group.clone());
            let selected = (m.monitors.is_empty() && m.groups.is_empty())
                || m.monitors.iter().any(|x| x == name)
                || group
                    .as_deref()
                    .is_some_and(|g| m.groups.iter().any(|x| x == g));
            if !selected || last.as_ref().is_some_and(|c| c.maintenance) {
                continue;
            }
            let mut source = labels(&[("monitor", name.to_string())]);
            if let Some(g) = &group {
                source.insert("group".into(), g.to_string());
            }
            out.push(Observation {
                rule: i,
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

    fn sentry(&mut self, e: &SentryEvent, now: u64) -> Vec<Observation> {
        let mut out = Vec::new();
        let ctx = |i: &IssueFacts, value: &str| {
            json!({"Project": i.project, "Issue": i.issue_id, "Title": i.title,
                "Culprit": i.culprit, "Level": i.level, "Platform": i.platform, "Value": value})
        };
        let source = |i: &IssueFacts| {
            labels(&[
                ("project", i.project.to_string()),
                ("issue", i.issue_id.to_string()),
            ])
        };
        for (idx, r) in self.rules.iter().enumerate() {
            let Some(rule) = &r.issue else { continue };
            let window = rule.window.get().as_millis() as u64;
            let obs = match (rule.event, e) {
                (
                    IssueCondition::New,
                    SentryEvent::IssueCreated {
                        issue,
                        environments,
                        releases,
                        ..
                    },
                )
                | (
                    IssueCondition::Regression,
                    SentryEvent::IssueRegressed {
                        issue,
                        environments,
                        releases,
                        ..
                    },
                ) => issue_matches(rule, issue, environments, releases).then(|| {
                    let what = if rule.event == IssueCondition::New {
                        "new issue"
                    } else {
                        "regression"
                    };
                    (issue.clone(), true, true, what.to_string())
                }),
                (
                    IssueCondition::Frequency | IssueCondition::Users,
                    SentryEvent::EventsAccepted {
                        issue,
                        count,
                        new_users,
                        environments,
                        releases,
                        ..
                    },
                ) if issue_matches(rule, issue, environments, releases) => {
                    let key = (idx, format!("issue:{}", issue.issue_id));
                    if !self.series.contains_key(&key) && self.series.len() >= MAX_SOURCES_PER_RULE
                    {
                        continue;
                    }
                    let s = self.series.entry(key).or_default();
                    let (n, limit, what) = if rule.event == IssueCondition::Frequency {
                        (*count, rule.count.unwrap_or(0), "events")
                    } else {
                        (*new_users, rule.users.unwrap_or(0), "users")
                    };
                    s.add(now, n, window);
                    let sum = s.sum(now, window);
                    Some((
                        issue.clone(),
                        sum > limit,
                        false,
                        format!(
                            "{sum} {what} in {}",
                            crate::config::Duration(rule.window.get())
                        ),
                    ))
                }
                (
                    IssueCondition::Rate,
                    SentryEvent::EventsAccepted {
                        issue,
                        count,
                        environments,
                        releases,
                        ..
                    },
                ) if issue_matches(rule, issue, environments, releases) => {
                    let s = self
                        .series
                        .entry((idx, format!("project:{}", issue.project)))
                        .or_default();
                    s.add(now, *count, window);
                    let per_minute = s.sum(now, window) * MINUTE / window.max(MINUTE);
                    let active = per_minute > rule.per_minute.unwrap_or(u64::MAX);
                    let mut src = labels(&[("project", issue.project.to_string())]);
                    src.remove("issue");
                    out.push(Observation {
                        rule: idx,
                        source: src,
                        active,
                        momentary: false,
                        value: format!("{per_minute} events/min"),
                        context: json!({"Project": issue.project, "Value": format!("{per_minute} events/min")}),
                        link: "/issues".into(),
                    });
                    None
                }
                _ => None,
            };
            if let Some((issue, active, momentary, value)) = obs {
                out.push(Observation {
                    rule: idx,
                    source: source(&issue),
                    active,
                    momentary,
                    context: ctx(&issue, &value),
                    value,
                    link: format!("/issues/{}", issue.issue_id),
                });
            }
        }
        out
    }

    fn periskop(&mut self, e: &PeriskopEvent, now: u64) -> Vec<Observation> {
        let mut out = Vec::new();
        for (idx, r) in self.rules.iter().enumerate() {
            let Some(rule) = &r.exception else { continue };
            let service_ok =
                |s: &str| rule.services.is_empty() || rule.services.iter().any(|x| x == s);
            let key_ok = |k: &str| rule.keys.as_ref().is_none_or(|p| p.0.is_match(k));
            let window = rule.window.get().as_millis() as u64;
            let mut push = |source: Labels,
                            active: bool,
                            momentary: bool,
                            value: String,
                            service: &str,
                            key: &str| {
                out.push(Observation {
                    rule: idx,
                    context: json!({"Service": service, "Key": key, "Value": value}),
                    source,
                    active,
                    momentary,
                    value,
                    link: format!("/exceptions/{service}"),
                });
            };
            match (rule.event, e) {
                (
                    ExceptionCondition::New,
                    PeriskopEvent::KeyCreated {
                        service,
                        key,
                        total,
                        ..
                    },
                ) if service_ok(service) && key_ok(key) => {
                    let src = labels(&[("service", service.clone()), ("key", key.clone())]);
                    push(
                        src,
                        true,
                        true,
                        format!("new key, {total} so far"),
                        service,
                        key,
                    );
                }
                (
                    ExceptionCondition::Regressed,
                    PeriskopEvent::KeyRegressed {
                        service,
                        key,
                        total,
                        ..
                    },
                ) if service_ok(service) && key_ok(key) => {
                    let src = labels(&[("service", service.clone()), ("key", key.clone())]);
                    push(
                        src,
                        true,
                        true,
                        format!("regressed, {total} in all"),
                        service,
                        key,
                    );
                }
                (
                    ExceptionCondition::Increase,
                    PeriskopEvent::CountIncreased {
                        service,
                        key,
                        increase,
                        ..
                    },
                ) if service_ok(service) && key_ok(key) => {
                    let per_service = rule.per == "service";
                    let skey = if per_service {
                        format!("s:{service}")
                    } else {
                        format!("k:{service}\u{0}{key}")
                    };
                    let k = (idx, skey);
                    if !self.series.contains_key(&k) && self.series.len() >= MAX_SOURCES_PER_RULE {
                        continue;
                    }
                    let s = self.series.entry(k).or_default();
                    s.add(now, *increase, window);
                    let sum = s.sum(now, window);
                    let src = if per_service {
                        labels(&[("service", service.clone())])
                    } else {
                        labels(&[("service", service.clone()), ("key", key.clone())])
                    };
                    let active = sum > rule.increase.unwrap_or(u64::MAX);
                    push(
                        src,
                        active,
                        false,
                        format!("+{sum} in {}", crate::config::Duration(rule.window.get())),
                        service,
                        key,
                    );
                }
                (
                    ExceptionCondition::TargetsDown,
                    PeriskopEvent::TargetHealth {
                        service,
                        target,
                        up,
                        error,
                        ..
                    },
                ) if service_ok(service) => {
                    let src = labels(&[("service", service.clone()), ("target", target.clone())]);
                    let value = if *up {
                        "up".to_string()
                    } else {
                        format!("down: {}", error.clone().unwrap_or_default())
                    };
                    push(src, !*up, false, value, service, "");
                }
                _ => {}
            }
        }
        out
    }

    /// Panoptes' own conditions; `stats` is `None` when only the store's state changed.
    fn self_rules(&mut self, stats: Option<SelfStats>, now: u64) -> Vec<Observation> {
        let deltas = match (stats, self.last_stats) {
            (Some(s), Some(p)) => Some((
                s.quota_rejected_total
                    .saturating_sub(p.quota_rejected_total),
                s.events_dropped_total
                    .saturating_sub(p.events_dropped_total),
            )),
            _ => None,
        };
        if let Some(s) = stats {
            self.last_stats = Some(s);
        }
        let mut out = Vec::new();
        for (idx, r) in self.rules.iter().enumerate() {
            let Some(rule) = &r.panoptes else { continue };
            let window = rule.window.get().as_millis() as u64;
            let (active, value) = match rule.event {
                SelfCondition::StoreFailed => match &self.store_failed {
                    Some(why) => (true, why.clone()),
                    None if stats.is_some() => (false, "ok".into()),
                    None => continue,
                },
                SelfCondition::Backlog => match stats {
                    Some(s) => (s.backlog > rule.above, format!("{} items", s.backlog)),
                    None => continue,
                },
                SelfCondition::QuotaRejections | SelfCondition::EventsDropped => {
                    let Some((quota, dropped)) = deltas else {
                        continue;
                    };
                    let n = if rule.event == SelfCondition::QuotaRejections {
                        quota
                    } else {
                        dropped
                    };
                    let s = self.series.entry((idx, String::new())).or_default();
                    s.add(now, n, window);
                    let sum = s.sum(now, window);
                    (
                        sum > rule.above,
                        format!("{sum} in {}", crate::config::Duration(rule.window.get())),
                    )
                }
                // Reported by the outbox through `notification_dead`.
                SelfCondition::NotificationDead => continue,
            };
            out.push(Observation {
                rule: idx,
                source: Labels::new(),
                active,
                momentary: false,
                context: json!({"Value": value}),
                value,
                link: "/".into(),
            });
        }
        out
    }

    /// A delivery gave up (`alerts.delivery.dead_after`): every `notification_dead` rule fires.
    pub fn notification_dead(&self, receiver: &str, reason: &str) -> Vec<Observation> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.panoptes
                    .as_ref()
                    .is_some_and(|p| p.event == SelfCondition::NotificationDead)
            })
            .map(|(idx, _)| Observation {
                rule: idx,
                source: labels(&[("receiver", receiver.to_string())]),
                active: true,
                momentary: true,
                value: reason.to_string(),
                context: json!({"Receiver": receiver, "Value": reason}),
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
        // Windows of issues and keys: a source whose sum fell to nothing is inactive now and
        // forgotten.
        let mut gone = Vec::new();
        for ((idx, key), s) in &mut self.series {
            let Some(window) = self.rules.get(*idx).and_then(|r| {
                r.issue
                    .as_ref()
                    .map(|i| i.window.get())
                    .or_else(|| r.exception.as_ref().map(|e| e.window.get()))
            }) else {
                continue;
            };
            let w = window.as_millis() as u64;
            s.prune(now, w);
            if s.is_empty() {
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
