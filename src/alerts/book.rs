//! The alerting ledger, pure: observations and time in; alert states, groups, silences and the
//! notifications to queue out, with a record of what changed so the engine writes exactly that
//! in one transaction. No I/O and no clock: `now` is a parameter, so every timing rule
//! (`for`, `keep_firing_for`, group wait/interval/repeat, silences) is tested by passing times.

use std::collections::{BTreeSet, HashMap};

use super::config::AlertsConfig;
use super::eval::Observation;
use super::groups::{Channel, Group, Timings};
use super::model::{Alert, AlertStatus, Labels, Notification};
use super::routing::{Inhibition, Route, inhibited};
use super::rules::RuleConfig;
use super::silences::Silence;
use super::state::{Change, Instance, Phase, Timing, fingerprint};

/// A resolved alert, for the history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Resolved {
    pub fingerprint: String,
    pub rule: String,
    pub labels: Labels,
    pub annotations: Labels,
    pub value: String,
    pub active_since_ms: u64,
    pub fired_at_ms: u64,
    pub resolved_at_ms: u64,
    pub generator_url: String,
}

/// A notification to queue for one channel of a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub receiver: String,
    pub channel: String,
    pub notification: Notification,
    /// The escalation policy of the route (on-call), if any.
    pub escalation_policy: Option<String>,
}

/// What changed since the engine last wrote.
#[derive(Debug, Default)]
pub struct Dirty {
    pub instances: BTreeSet<String>,
    pub removed_instances: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub removed_groups: BTreeSet<String>,
    /// Silences expired longer than the history is kept, dropped.
    pub removed_silences: BTreeSet<String>,
    pub history: Vec<Resolved>,
    pub queued: Vec<Queued>,
    /// (rule, phase before, phase after) for the metrics; `None` = not held.
    pub transitions: Vec<(String, Option<Phase>, Option<Phase>)>,
    /// Published once the change is stored.
    pub events: Vec<super::events::AlertEvent>,
}

impl Dirty {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
            && self.removed_instances.is_empty()
            && self.groups.is_empty()
            && self.removed_groups.is_empty()
            && self.removed_silences.is_empty()
            && self.history.is_empty()
            && self.queued.is_empty()
            && self.events.is_empty()
    }
}

/// Renders a rule's annotations for an alert; injected so the ledger does not depend on the
/// template engine's errors.
pub type Annotate<'a> = &'a dyn Fn(&RuleConfig, &serde_json::Value) -> Labels;

/// Most alerts held at once (pending and firing); beyond, new ones are refused and counted.
pub const MAX_INSTANCES: usize = 200_000;

/// The channels of each receiver: (id, send_resolved).
pub type ReceiverChannels = HashMap<String, Vec<Channel>>;

pub struct Book {
    pub rules: Vec<RuleConfig>,
    /// Rule name -> index in `rules`.
    by_name: HashMap<String, usize>,
    pub route: Option<Route>,
    routes: HashMap<String, Route>,
    pub inhibitions: Vec<Inhibition>,
    pub receivers: ReceiverChannels,
    pub external_url: String,
    resolve_timeout_ms: u64,
    pub instances: HashMap<String, Instance>,
    pub groups: HashMap<String, Group>,
    pub silences: HashMap<String, Silence>,
    pub dirty: Dirty,
    /// Alerts refused at `MAX_INSTANCES`.
    pub refused: u64,
}

impl Book {
    pub fn new(cfg: &AlertsConfig, receivers: ReceiverChannels, external_url: String) -> Book {
        let mut b = Book {
            rules: Vec::new(),
            by_name: HashMap::new(),
            route: None,
            routes: HashMap::new(),
            inhibitions: Vec::new(),
            receivers: HashMap::new(),
            external_url: String::new(),
            resolve_timeout_ms: 0,
            instances: HashMap::new(),
            groups: HashMap::new(),
            silences: HashMap::new(),
            dirty: Dirty::default(),
            refused: 0,
        };
        b.configure(cfg, receivers, external_url);
        b
    }

    /// Takes a new configuration (start-up and reload). Alerts of rules that are gone resolve
    /// at the next tick; groups keep their log under their key.
    pub fn configure(
        &mut self,
        cfg: &AlertsConfig,
        receivers: ReceiverChannels,
        external_url: String,
    ) {
        self.rules = super::rules::effective(&cfg.rules);
        self.by_name = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i))
            .collect();
        self.route = cfg.route.as_ref().map(Route::build);
        self.routes = self
            .route
            .as_ref()
            .map(|r| {
                r.walk()
                    .into_iter()
                    .map(|n| (n.key.clone(), n.clone()))
                    .collect()
            })
            .unwrap_or_default();
        self.inhibitions = cfg.inhibit_rules.iter().map(Inhibition::from).collect();
        self.receivers = receivers;
        self.external_url = external_url;
        self.resolve_timeout_ms = cfg.global.resolve_timeout.get().as_millis() as u64;
    }

    fn timing(&self, rule: &RuleConfig) -> Timing {
        let keep = rule
            .keep_firing_for
            .map(|d| d.get().as_millis() as u64)
            .unwrap_or(if is_momentary(rule) {
                self.resolve_timeout_ms
            } else {
                0
            });
        Timing {
            pending_for_ms: rule.pending_for.get().as_millis() as u64,
            keep_firing_for_ms: keep,
        }
    }

    fn rule_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The labels of the alert an observation is about: the source's `base` (a monitor's
    /// labels), overridden by the rule's (as in Prometheus), then the source's identity,
    /// `alertname` and `severity`.
    pub fn alert_labels(rule: &RuleConfig, base: &Labels, source: &Labels) -> Labels {
        let mut l = base.clone();
        for (k, v) in &rule.labels {
            l.insert(k.clone(), v.clone());
        }
        for (k, v) in source {
            l.insert(k.clone(), v.clone());
        }
        if let Some(s) = &rule.severity {
            l.insert("severity".into(), s.clone());
        }
        l.insert("alertname".into(), rule.name.clone());
        l
    }

    /// Applies observations at `now`.
    pub fn observe(&mut self, obs: Vec<Observation>, now: u64, annotate: Annotate<'_>) {
        for o in obs {
            let Some(rule) = self.rules.get(o.rule).cloned() else {
                continue;
            };
            let t = self.timing(&rule);
            let labels = Self::alert_labels(&rule, &o.base, &o.source);
            let fp = fingerprint(&labels);
            let link = format!("{}{}", self.external_url.trim_end_matches('/'), o.link);
            // Built only when annotations are rendered: most observations change nothing.
            let context = || with_link(&o.context, &link);
            let fresh = !self.instances.contains_key(&fp);
            let change = match self.instances.get_mut(&fp) {
                Some(i) => {
                    let before = (i.active, i.value.clone());
                    i.value = o.value.clone();
                    let c = i.step(Some(o.active), now, t);
                    if c == Some(Change::Fired)
                        || (o.active && i.phase == Phase::Firing && before.1 != o.value)
                    {
                        i.annotations = annotate(&rule, &context());
                    }
                    if o.momentary {
                        // An instant holds now and not after: `keep_firing_for` runs from here.
                        i.active = false;
                    }
                    if c.is_none() && before.0 != i.active {
                        self.dirty.instances.insert(fp.clone());
                    }
                    c
                }
                None if o.active => {
                    if self.instances.len() >= MAX_INSTANCES {
                        self.refused += 1;
                        continue;
                    }
                    let annotations = annotate(&rule, &context());
                    let (mut i, c) =
                        Instance::start(&rule.name, labels, o.value.clone(), link, now, t);
                    i.annotations = annotations;
                    if o.momentary {
                        i.active = false;
                    }
                    self.instances.insert(fp.clone(), i);
                    Some(c)
                }
                None => None,
            };
            if let Some(c) = change {
                self.changed(&fp, c, now, fresh);
            }
        }
    }

    /// Steps every alert whose timer ran out by `now` (pending → firing, keep_firing_for
    /// over → resolved), and resolves alerts of rules that no longer exist.
    pub fn tick(&mut self, now: u64) {
        let mut due = Vec::new();
        for (fp, i) in &self.instances {
            let Some(idx) = self.rule_index(&i.rule) else {
                due.push((fp.clone(), None));
                continue;
            };
            let t = self.timing(&self.rules[idx]);
            if i.next_change_at(t).is_some_and(|at| at <= now) {
                due.push((fp.clone(), Some(t)));
            }
        }
        for (fp, t) in due {
            let change = match (self.instances.get_mut(&fp), t) {
                (Some(i), Some(t)) => i.step(None, now, t),
                (Some(i), None) => Some(if i.phase == Phase::Firing {
                    Change::Resolved
                } else {
                    Change::Cleared
                }),
                (None, _) => None,
            };
            if let Some(c) = change {
                self.changed(&fp, c, now, false);
            }
        }
    }

    /// The earliest time a tick could change an alert, for the engine's timer.
    pub fn next_due(&self) -> Option<u64> {
        let instances = self.instances.values().filter_map(|i| {
            let idx = self.rule_index(&i.rule)?;
            let r = &self.rules[idx];
            i.next_change_at(self.timing(r))
        });
        let groups = self.groups.values().map(|g| g.next_flush_ms);
        instances.chain(groups).min()
    }

    /// Records a change of the alert `fp`; `fresh` when it was created by this observation.
    fn changed(&mut self, fp: &str, c: Change, now: u64, fresh: bool) {
        let Some(i) = self.instances.get(fp) else {
            return;
        };
        let rule = i.rule.clone();
        match c {
            Change::Pending => {
                self.dirty
                    .transitions
                    .push((rule, None, Some(Phase::Pending)));
                self.dirty.instances.insert(fp.to_string());
            }
            Change::Fired => {
                let was = (!fresh).then_some(Phase::Pending);
                self.dirty
                    .transitions
                    .push((rule, was, Some(Phase::Firing)));
                self.dirty.instances.insert(fp.to_string());
                let alert = to_alert(i, AlertStatus::Firing, None);
                self.dirty
                    .events
                    .push(super::events::AlertEvent::Fired(change_of(&alert)));
                self.route_alert(alert, now);
            }
            Change::Cleared => {
                self.dirty
                    .transitions
                    .push((rule, Some(Phase::Pending), None));
                self.instances.remove(fp);
                self.forget_instance(fp);
            }
            Change::Resolved => {
                self.dirty
                    .transitions
                    .push((rule.clone(), Some(Phase::Firing), None));
                let alert = to_alert(i, AlertStatus::Resolved, Some(now));
                self.dirty
                    .events
                    .push(super::events::AlertEvent::Resolved(change_of(&alert)));
                self.dirty.history.push(Resolved {
                    fingerprint: fp.to_string(),
                    rule,
                    labels: i.labels.clone(),
                    annotations: i.annotations.clone(),
                    value: i.value.clone(),
                    active_since_ms: i.active_since_ms,
                    fired_at_ms: i.fired_at_ms.unwrap_or(i.active_since_ms),
                    resolved_at_ms: now,
                    generator_url: i.generator_url.clone(),
                });
                self.instances.remove(fp);
                self.forget_instance(fp);
                self.route_alert(alert, now);
            }
        }
    }

    fn forget_instance(&mut self, fp: &str) {
        self.dirty.instances.remove(fp);
        self.dirty.removed_instances.insert(fp.to_string());
    }

    fn route_alert(&mut self, alert: Alert, now: u64) {
        let Some(route) = &self.route else { return };
        for r in route.matching(&alert.labels) {
            let gid = r.group(&alert.labels);
            let resolved = alert.status == AlertStatus::Resolved;
            match self.groups.get_mut(&gid.key) {
                Some(g) => {
                    if resolved && !g.alerts.contains_key(&alert.fingerprint) {
                        continue;
                    }
                    g.upsert(alert.clone());
                }
                // A resolved alert never starts a group: nobody was told it fired there.
                None if resolved => continue,
                None => {
                    let t = timings(r);
                    let mut g = Group::new(
                        gid.key.clone(),
                        r.key.clone(),
                        r.receiver.clone(),
                        gid.labels,
                        now,
                        t,
                    );
                    g.upsert(alert.clone());
                    self.groups.insert(gid.key.clone(), g);
                }
            }
            self.dirty.removed_groups.remove(&gid.key);
            self.dirty.groups.insert(gid.key);
        }
    }

    /// Whether a firing alert is silenced or inhibited at `now`, and by which silences.
    pub fn muted_by(&self, labels: &Labels, now: u64) -> (Vec<String>, bool) {
        let silenced = super::silences::muting(self.silences.values(), labels, now);
        let firing = self
            .instances
            .values()
            .filter(|i| i.phase == Phase::Firing)
            .map(|i| &i.labels);
        (silenced, inhibited(&self.inhibitions, labels, firing))
    }

    /// Flushes every group due at `now`, queueing its notifications.
    pub fn flush(&mut self, now: u64) {
        let due: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.is_due(now))
            .map(|g| g.key.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        // Sources of inhibition; not gathered at all when there are no inhibition rules.
        let firing: Vec<Labels> = if self.inhibitions.is_empty() {
            Vec::new()
        } else {
            self.instances
                .values()
                .filter(|i| i.phase == Phase::Firing)
                .map(|i| i.labels.clone())
                .collect()
        };
        for key in due {
            let Some(mut g) = self.groups.remove(&key) else {
                continue;
            };
            let route = self.routes.get(&g.route);
            let t = route.map(timings).unwrap_or(Timings {
                group_wait_ms: super::routing::GROUP_WAIT_MS,
                group_interval_ms: super::routing::GROUP_INTERVAL_MS,
                repeat_interval_ms: super::routing::REPEAT_INTERVAL_MS,
            });
            let escalation_policy = route.and_then(|r| r.escalation_policy.clone());
            let mut channels = self.receivers.get(&g.receiver).cloned().unwrap_or_default();
            if escalation_policy.is_some() {
                channels.push(super::channels::page_channel());
            }
            let silences = &self.silences;
            let inhibitions = &self.inhibitions;
            let muted = |a: &Alert| {
                silences.values().any(|s| s.mutes(&a.labels, now))
                    || inhibited(inhibitions, &a.labels, firing.iter())
            };
            for (channel, notification) in g.flush(now, t, &channels, muted, &self.external_url) {
                self.dirty.queued.push(Queued {
                    receiver: g.receiver.clone(),
                    channel,
                    notification,
                    escalation_policy: escalation_policy.clone(),
                });
            }
            if g.is_empty() {
                self.dirty.groups.remove(&key);
                self.dirty.removed_groups.insert(key);
            } else {
                self.dirty.groups.insert(key.clone());
                self.groups.insert(key, g);
            }
        }
    }

    /// Drops silences that ended before `before`.
    pub fn drop_silences(&mut self, before: u64) {
        let old: Vec<String> = self
            .silences
            .values()
            .filter(|s| s.ends_at_ms < before)
            .map(|s| s.id.clone())
            .collect();
        for id in old {
            self.silences.remove(&id);
            self.dirty.removed_silences.insert(id);
        }
    }

    pub fn take_dirty(&mut self) -> Dirty {
        std::mem::take(&mut self.dirty)
    }
}

/// An observation's template data with the alert's dashboard link, as `.Link` and as
/// `.GeneratorURL` (the name Alertmanager's templates know it by), so annotations can point
/// back at what fired.
fn with_link(context: &serde_json::Value, link: &str) -> serde_json::Value {
    let mut m = match context {
        serde_json::Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    m.insert("Link".into(), link.into());
    m.insert("GeneratorURL".into(), link.into());
    serde_json::Value::Object(m)
}

/// Rules over instants (a new issue, a regression, a new key, a dead notification).
pub fn is_momentary(r: &RuleConfig) -> bool {
    use super::rules::{ExceptionCondition, IssueCondition, SelfCondition};
    r.issue
        .as_ref()
        .is_some_and(|i| matches!(i.event, IssueCondition::New | IssueCondition::Regression))
        || r.exception.as_ref().is_some_and(|e| {
            matches!(
                e.event,
                ExceptionCondition::New | ExceptionCondition::Regressed
            )
        })
        || r.panoptes
            .as_ref()
            .is_some_and(|p| p.event == SelfCondition::NotificationDead)
}

pub fn timings(r: &Route) -> Timings {
    Timings {
        group_wait_ms: r.group_wait_ms,
        group_interval_ms: r.group_interval_ms,
        repeat_interval_ms: r.repeat_interval_ms,
    }
}

/// What listeners are told of an alert.
fn change_of(a: &Alert) -> super::events::AlertChange {
    super::events::AlertChange {
        fingerprint: a.fingerprint.clone(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_at_ms: a.starts_at_ms,
    }
}

pub fn to_alert(i: &Instance, status: AlertStatus, ends_at_ms: Option<u64>) -> Alert {
    Alert {
        fingerprint: i.fingerprint.clone(),
        status,
        labels: i.labels.clone(),
        annotations: i.annotations.clone(),
        starts_at_ms: i.fired_at_ms.unwrap_or(i.active_since_ms),
        ends_at_ms,
        generator_url: i.generator_url.clone(),
    }
}
