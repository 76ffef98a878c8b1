//! Pages: an alert group routed to an escalation policy opens one; it escalates step by step
//! until someone acknowledges or the alert resolves, and keeps a timeline of who was told when,
//! how, and what came of it. Pure: the engine runs due steps and deliveries and records their
//! outcomes here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::{ContactMethod, OncallConfig, Target};
use super::rotation::{Override, Schedule};
use crate::alerts::model::{Notification, Verdict};

/// Timeline entries and deliveries kept per page at most (a policy repeated 100 times over a
/// large team must not grow a page without bound).
pub const MAX_TIMELINE: usize = 1000;
pub const MAX_DELIVERIES: usize = 1000;
/// Attempts per delivery before it is given up.
pub const MAX_ATTEMPTS: u32 = 5;

// The wire types are the stored ones (same words, snake_case): a page reads back as it was
// shown.
pub use panoptes_types::{PageDeliveryState as DeliveryState, PageStatus, TimelineKind};

/// One message to one person (a contact method) or one alert receiver's channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The person paged; `None` for a receiver target.
    pub user: Option<String>,
    /// The receiver the outbound transport renders for (`oncall:ana` for a person's contacts).
    pub receiver: String,
    /// `email_configs[0]`, ...
    pub channel: String,
    /// `email`, `ntfy`, ... or the receiver's channel type.
    pub method: String,
    /// Address, topic or chat (never a secret).
    pub target: String,
    pub step: usize,
    pub due_ms: u64,
    pub attempts: u32,
    pub state: DeliveryState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub at_ms: u64,
    pub kind: TimelineKind,
    pub text: String,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub id: u64,
    pub policy: String,
    pub group_key: String,
    /// The alert route's receiver.
    pub receiver: String,
    pub title: String,
    pub status: PageStatus,
    pub created_ms: u64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_ms: Option<u64>,
    pub resolved_by: Option<String>,
    pub resolved_ms: Option<u64>,
    /// The latest notification of the alert group (what messages show).
    pub notification: Notification,
    /// The next step to run, in round `round` (0-based) of `repeat + 1`.
    pub step: usize,
    pub round: u32,
    pub next_step_ms: Option<u64>,
    pub deliveries: Vec<Delivery>,
    pub timeline: Vec<Entry>,
}

/// Who a target stands for now.
#[derive(Debug, Clone, PartialEq)]
pub enum Recipient {
    User(String),
    Receiver(String),
}

/// What the core needs to know about people: schedules, overrides, contacts, receivers.
pub struct Directory<'a> {
    pub cfg: &'a OncallConfig,
    pub overrides: &'a [Override],
    /// Contact methods people set for themselves, in place of the config's.
    pub own_contacts: &'a BTreeMap<String, Vec<ContactMethod>>,
    /// Channel ids of each alert receiver (`webhook_configs[0]`, ...).
    pub receiver_channels: &'a dyn Fn(&str) -> Vec<String>,
}

impl Directory<'_> {
    pub fn recipients(&self, t: &Target, now: u64) -> Vec<Recipient> {
        let schedule = |name: &str| {
            self.cfg
                .schedule(name)
                .map(|s| Schedule::new(s, self.overrides))
        };
        let users = |v: Vec<String>| v.into_iter().map(Recipient::User).collect();
        match t {
            Target::User(u) => vec![Recipient::User(u.clone())],
            Target::Receiver(r) => vec![Recipient::Receiver(r.clone())],
            Target::Schedule(s) => schedule(s)
                .map(|s| users(s.on_call(now)))
                .unwrap_or_default(),
            Target::ScheduleNext(s) => schedule(s)
                .and_then(|s| s.next(now))
                .map(|(u, _)| vec![Recipient::User(u)])
                .unwrap_or_default(),
            Target::ScheduleAll(s) => schedule(s).map(|s| users(s.everyone())).unwrap_or_default(),
        }
    }

    pub fn contacts(&self, user: &str) -> &[ContactMethod] {
        self.own_contacts
            .get(user)
            .or_else(|| self.cfg.contacts.get(user))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// The receiver name a person's contact methods are rendered under.
pub fn user_receiver(user: &str) -> String {
    format!("oncall:{user}")
}

/// `email_configs[0]`, `ntfy_configs[0]`, `email_configs[1]`, ...: each method's channel in
/// its person's synthetic receiver.
pub fn contact_channels(methods: &[ContactMethod]) -> Vec<String> {
    let mut counts = std::collections::HashMap::new();
    methods
        .iter()
        .map(|m| {
            let list = match m.kind.name() {
                "email" => "email_configs",
                "ntfy" => "ntfy_configs",
                "telegram" => "telegram_configs",
                "slack" => "slack_configs",
                _ => "webhook_configs",
            };
            let n = counts.entry(list).or_insert(0usize);
            let id = format!("{list}[{n}]");
            *n += 1;
            id
        })
        .collect()
}

impl Page {
    pub fn open(
        id: u64,
        policy: &super::config::PolicyConfig,
        receiver: &str,
        n: Notification,
        now: u64,
    ) -> Page {
        let delay = policy
            .steps
            .first()
            .map_or(0, |s| s.delay.get().as_millis() as u64);
        let mut p = Page {
            id,
            policy: policy.name.clone(),
            group_key: n.group_key.clone(),
            receiver: receiver.to_string(),
            title: n.title(),
            status: PageStatus::Triggered,
            created_ms: now,
            acknowledged_by: None,
            acknowledged_ms: None,
            resolved_by: None,
            resolved_ms: None,
            notification: n,
            step: 0,
            round: 0,
            next_step_ms: Some(now + delay),
            deliveries: Vec::new(),
            timeline: Vec::new(),
        };
        let text = format!("{} (policy {})", p.title, p.policy);
        p.log(now, TimelineKind::Triggered, text, None);
        p
    }

    pub fn is_open(&self) -> bool {
        self.status != PageStatus::Resolved
    }

    fn log(&mut self, at_ms: u64, kind: TimelineKind, text: String, user: Option<String>) {
        if self.timeline.len() < MAX_TIMELINE {
            self.timeline.push(Entry {
                at_ms,
                kind,
                text,
                user,
            });
        }
    }

    /// The group fired again (new alerts, a repeat): the page shows the latest; an open page
    /// is not paged again.
    pub fn update(&mut self, n: Notification) {
        self.title = n.title();
        self.notification = n;
    }

    /// When something is due next: a step or a delivery.
    pub fn next_due(&self) -> Option<u64> {
        let d = self
            .deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .map(|d| d.due_ms)
            .min();
        [self.next_step_ms, d].into_iter().flatten().min()
    }

    /// Runs every step due at `now`: targets become deliveries (due after each contact
    /// method's `after`); the next step is scheduled, the policy repeated, or exhausted.
    pub fn run_steps(
        &mut self,
        policy: &super::config::PolicyConfig,
        dir: &Directory<'_>,
        now: u64,
    ) {
        let mut guard = 0;
        while self.status == PageStatus::Triggered
            && self.next_step_ms.is_some_and(|t| t <= now)
            && guard < 1000
        {
            guard += 1;
            let Some(step) = policy.steps.get(self.step) else {
                self.next_step_ms = None;
                break;
            };
            let mut told = Vec::new();
            for t in &step.targets {
                for r in dir.recipients(t, now) {
                    self.deliver_to(&r, dir, now, &mut told);
                }
            }
            let who = if told.is_empty() {
                "nobody (no one on call, or no contact methods)".to_string()
            } else {
                told.join(", ")
            };
            let text = format!("step {} of {}: {who}", self.step + 1, policy.steps.len());
            self.log(now, TimelineKind::Step, text, None);
            self.step += 1;
            if self.step < policy.steps.len() {
                let d = policy.steps[self.step].delay.get().as_millis() as u64;
                self.next_step_ms = Some(now + d);
            } else if self.round < policy.repeat {
                self.round += 1;
                self.step = 0;
                let d = policy.steps[0].delay.get().as_millis() as u64;
                // A repeat waits at least a minute, so a policy of zero delays cannot spin.
                self.next_step_ms = Some(now + d.max(60_000));
                let text = format!("repeating the policy ({} of {})", self.round, policy.repeat);
                self.log(now, TimelineKind::Repeat, text, None);
            } else {
                self.next_step_ms = None;
                self.log(
                    now,
                    TimelineKind::Exhausted,
                    "every step ran; nobody acknowledged".into(),
                    None,
                );
            }
        }
    }

    fn deliver_to(&mut self, r: &Recipient, dir: &Directory<'_>, now: u64, told: &mut Vec<String>) {
        let step = self.step;
        match r {
            Recipient::User(u) => {
                let methods = dir.contacts(u);
                if methods.is_empty() {
                    self.log(
                        now,
                        TimelineKind::Failed,
                        format!("{u} has no contact methods"),
                        Some(u.clone()),
                    );
                    return;
                }
                told.push(u.clone());
                for (m, channel) in methods.iter().zip(contact_channels(methods)) {
                    self.push(Delivery {
                        user: Some(u.clone()),
                        receiver: user_receiver(u),
                        channel,
                        method: m.kind.name().into(),
                        target: m.kind.target(),
                        step,
                        due_ms: now + m.after.get().as_millis() as u64,
                        attempts: 0,
                        state: DeliveryState::Pending,
                    });
                }
            }
            Recipient::Receiver(name) => {
                told.push(format!("receiver {name}"));
                for channel in (dir.receiver_channels)(name) {
                    let method = channel.split('[').next().unwrap_or("").to_string();
                    self.push(Delivery {
                        user: None,
                        receiver: name.clone(),
                        channel,
                        method,
                        target: name.clone(),
                        step,
                        due_ms: now,
                        attempts: 0,
                        state: DeliveryState::Pending,
                    });
                }
            }
        }
    }

    fn push(&mut self, d: Delivery) {
        if self.deliveries.len() < MAX_DELIVERIES {
            self.deliveries.push(d);
        }
    }

    /// Indices of deliveries due at `now`.
    pub fn due_deliveries(&self, now: u64) -> Vec<usize> {
        if self.status != PageStatus::Triggered {
            return Vec::new();
        }
        self.deliveries
            .iter()
            .enumerate()
            .filter(|(_, d)| d.state == DeliveryState::Pending && d.due_ms <= now)
            .map(|(i, _)| i)
            .collect()
    }

    /// Records what an attempt came to.
    pub fn delivered(&mut self, i: usize, v: &Verdict, now: u64) {
        let Some(d) = self.deliveries.get_mut(i) else {
            return;
        };
        if d.state != DeliveryState::Pending {
            return;
        }
        d.attempts += 1;
        let who = d.user.clone();
        let how = format!("{} {}", d.method, d.target);
        let (kind, text) = match v {
            Verdict::Delivered => {
                d.state = DeliveryState::Delivered;
                (TimelineKind::Notified, format!("notified via {how}"))
            }
            Verdict::Retry { after_ms, reason } if d.attempts < MAX_ATTEMPTS => {
                let backoff = 10_000u64 << d.attempts.min(6);
                d.due_ms = now + after_ms.unwrap_or(backoff).clamp(1000, 600_000);
                (TimelineKind::Retry, format!("{how}: {reason}; retrying"))
            }
            Verdict::Retry { reason, .. } | Verdict::Failed { reason } => {
                d.state = DeliveryState::Failed;
                (TimelineKind::Failed, format!("{how}: {reason}"))
            }
        };
        self.log(now, kind, text, who);
    }

    fn cancel_pending(&mut self) {
        for d in &mut self.deliveries {
            if d.state == DeliveryState::Pending {
                d.state = DeliveryState::Cancelled;
            }
        }
        self.next_step_ms = None;
    }

    /// Stops escalation. False when it was not triggered (already acknowledged or resolved).
    pub fn acknowledge(&mut self, by: &str, via: &str, now: u64) -> bool {
        if self.status != PageStatus::Triggered {
            return false;
        }
        self.status = PageStatus::Acknowledged;
        self.acknowledged_by = Some(by.to_string());
        self.acknowledged_ms = Some(now);
        self.cancel_pending();
        self.log(
            now,
            TimelineKind::Acknowledged,
            format!("acknowledged by {by} ({via})"),
            Some(by.into()),
        );
        true
    }

    /// Ends the page. False when it was resolved already.
    pub fn resolve(&mut self, by: &str, now: u64) -> bool {
        if self.status == PageStatus::Resolved {
            return false;
        }
        self.status = PageStatus::Resolved;
        self.resolved_by = Some(by.to_string());
        self.resolved_ms = Some(now);
        self.cancel_pending();
        self.log(
            now,
            TimelineKind::Resolved,
            format!("resolved by {by}"),
            None,
        );
        true
    }
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
