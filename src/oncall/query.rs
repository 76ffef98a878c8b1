//! Reads for the API and the dashboard: who is on call, schedules and shifts, overrides,
//! policies, people, pages; the calendar feeds. Answers in `panoptes_types` shapes.

use panoptes_types::{
    ContactMethodView, LayerView, NextOnCall, OnCallNow, OnCallUser, OverrideView,
    PageDeliveryView, PageView, PolicyView, ScheduleView, ShiftView, StepView, TimelineEntryView,
};

use super::ack::{calendar_matches, calendar_token};
use super::config::{ContactMethod, LayerConfig, Rotation, ScheduleConfig, Target};
use super::engine::{Oncall, read};
use super::page::Page;
use super::rotation::{Override, Schedule, Shift};
use crate::clock::rfc3339;
use crate::store::StoreError;

/// How far back and ahead calendar feeds reach.
const FEED_BACK_MS: u64 = 14 * 86_400_000;
const FEED_AHEAD_MS: u64 = 180 * 86_400_000;

fn next_view(s: &Schedule<'_>, at: u64) -> Option<NextOnCall> {
    s.next(at).map(|(user, from)| NextOnCall {
        user,
        from: rfc3339(from),
    })
}

pub fn shift_view(s: &Shift) -> ShiftView {
    ShiftView {
        user: s.user.clone(),
        start: rfc3339(s.start_ms),
        end: rfc3339(s.end_ms),
        override_id: s.override_id,
    }
}

fn rotation(r: Rotation) -> String {
    match r {
        Rotation::Days(1) => "daily".into(),
        Rotation::Days(7) => "weekly".into(),
        Rotation::Days(n) => format!("{n}d"),
        Rotation::Millis(ms) if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        Rotation::Millis(ms) => format!("{}m", ms / 60_000),
    }
}

fn layer_view(l: &LayerConfig) -> LayerView {
    let time = |t: jiff::civil::Time| format!("{:02}:{:02}", t.hour(), t.minute());
    LayerView {
        name: l.name.clone(),
        users: l.users.clone(),
        rotation: rotation(l.rotation),
        handoff: match l.handoff.day {
            Some(d) => format!(
                "{} {}",
                format!("{:?}", d.0).to_lowercase(),
                time(l.handoff.time.0)
            ),
            None => time(l.handoff.time.0),
        },
        start: l.start.0.to_string(),
        restrictions: l
            .restrictions
            .iter()
            .map(|r| {
                let days: Vec<String> = r
                    .days
                    .iter()
                    .map(|d| format!("{:?}", d.0).to_lowercase()[..3].to_string())
                    .collect();
                let days = if days.is_empty() {
                    "every day".to_string()
                } else {
                    days.join(",")
                };
                format!("{days} {}-{}", time(r.from.0), time(r.to.0))
            })
            .collect(),
    }
}

impl Oncall {
    fn calendar_url(&self, kind: &str, name: &str) -> String {
        format!(
            "{}/oncall/calendar/{}.ics",
            self.external_url(),
            calendar_token(self.key(), kind, name)
        )
    }

    /// Who is on call in `schedule` at `at`, and who is next.
    pub fn who(&self, schedule: &str, at: u64) -> Option<OnCallNow> {
        let settings = self.settings();
        let cfg = settings.oncall.schedule(schedule)?;
        let overrides = self.overrides();
        let s = Schedule::new(cfg, &overrides);
        Some(OnCallNow {
            schedule: schedule.to_string(),
            on_call: s.on_call(at),
            next: next_view(&s, at),
        })
    }

    pub fn schedules(&self, at: u64) -> Vec<ScheduleView> {
        let settings = self.settings();
        let overrides = self.overrides();
        settings
            .oncall
            .schedules
            .iter()
            .map(|cfg| {
                let s = Schedule::new(cfg, &overrides);
                ScheduleView {
                    name: cfg.name.clone(),
                    time_zone: cfg.time_zone.name(),
                    layers: cfg.layers.iter().map(layer_view).collect(),
                    on_call: s.on_call(at),
                    next: next_view(&s, at),
                    ical_url: self.calendar_url("schedule", &cfg.name),
                }
            })
            .collect()
    }

    pub fn shifts(&self, schedule: &str, from: u64, to: u64) -> Option<Vec<ShiftView>> {
        let settings = self.settings();
        let cfg = settings.oncall.schedule(schedule)?;
        let overrides = self.overrides();
        Some(
            Schedule::new(cfg, &overrides)
                .shifts(from, to)
                .iter()
                .map(shift_view)
                .collect(),
        )
    }

    pub fn override_views(&self) -> Vec<OverrideView> {
        let mut v: Vec<OverrideView> = self.overrides().iter().map(override_view).collect();
        v.sort_by(|a, b| (&a.start, a.id).cmp(&(&b.start, b.id)));
        v
    }

    pub fn policies(&self) -> Vec<PolicyView> {
        self.settings()
            .oncall
            .escalation_policies
            .iter()
            .map(|p| PolicyView {
                name: p.name.clone(),
                repeat: p.repeat,
                steps: p
                    .steps
                    .iter()
                    .map(|s| StepView {
                        delay_seconds: s.delay.get().as_secs(),
                        targets: s.targets.iter().map(target).collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// People with contact methods: their own where they set some, else the config's.
    pub fn users(&self) -> Vec<OnCallUser> {
        let settings = self.settings();
        let own = read(&self.shared).own_contacts.clone();
        super::contacts::merged(&settings.oncall, &own)
            .into_iter()
            .map(|(user, methods)| self.user_view(user, methods, own.contains_key(user)))
            .collect()
    }

    /// One person as `users` shows them; `None` when they have no contact methods.
    pub fn user(&self, user: &str) -> Option<OnCallUser> {
        self.users().into_iter().find(|u| u.user == user)
    }

    fn user_view(&self, user: &str, methods: &[ContactMethod], own: bool) -> OnCallUser {
        OnCallUser {
            user: user.to_string(),
            contacts: methods
                .iter()
                .map(|m| ContactMethodView {
                    method: m.kind.name().into(),
                    target: m.kind.target(),
                    after_seconds: m.after.get().as_secs(),
                })
                .collect(),
            ical_url: self.calendar_url("user", user),
            own,
        }
    }

    /// Pages newest first, optionally of one status; `before` is an id cursor.
    pub async fn pages(
        &self,
        status: Option<&str>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<PageView>, Option<u64>), StoreError> {
        let store = self.store.clone();
        let status = status.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut cursor = before;
            // Filtering reads in batches; a page of results is bounded by a few batches.
            for _ in 0..20 {
                let rows = store.oncall_pages(cursor, 500)?;
                let exhausted = rows.len() < 500;
                for (id, b) in rows {
                    cursor = Some(id);
                    let Ok(p) = serde_json::from_slice::<Page>(&b) else {
                        continue;
                    };
                    if status.as_deref().is_none_or(|s| s == p.status.as_str()) {
                        out.push(page_view(&p));
                        if out.len() == limit {
                            let next = (id > 1).then_some(id);
                            return Ok((out, next));
                        }
                    }
                }
                if exhausted {
                    return Ok((out, None));
                }
            }
            Ok((out, cursor))
        })
        .await
        .map_err(|e| StoreError::Storage(e.to_string()))?
    }

    pub fn page(&self, id: u64) -> Result<Option<PageView>, StoreError> {
        if let Some(p) = read(&self.shared).open.get(&id) {
            return Ok(Some(page_view(p)));
        }
        Ok(self
            .store
            .oncall_page(id)?
            .and_then(|b| serde_json::from_slice::<Page>(&b).ok())
            .map(|p| page_view(&p)))
    }

    /// The iCalendar feed a secret token names: a schedule's shifts, or one person's across
    /// every schedule.
    pub fn calendar(&self, token: &str, now: u64) -> Option<String> {
        let settings = self.settings();
        let overrides = self.overrides();
        let (from, to) = (now.saturating_sub(FEED_BACK_MS), now + FEED_AHEAD_MS);
        let shifts_of = |cfg: &ScheduleConfig| -> Vec<(String, Shift)> {
            Schedule::new(cfg, &overrides)
                .shifts(from, to)
                .into_iter()
                .map(|s| (cfg.name.clone(), s))
                .collect()
        };
        for cfg in &settings.oncall.schedules {
            if calendar_matches(self.key(), "schedule", &cfg.name, token) {
                return Some(super::ical::calendar(
                    &format!("On call: {}", cfg.name),
                    &shifts_of(cfg),
                    |_, s| format!("On call: {}", s.user),
                    now,
                ));
            }
        }
        let own: Vec<String> = read(&self.shared).own_contacts.keys().cloned().collect();
        let mut users: Vec<&String> = settings.oncall.contacts.keys().chain(&own).collect();
        for cfg in &settings.oncall.schedules {
            for l in &cfg.layers {
                users.extend(l.users.iter());
            }
        }
        let user = users
            .into_iter()
            .find(|u| calendar_matches(self.key(), "user", u, token))?;
        let mine: Vec<(String, Shift)> = settings
            .oncall
            .schedules
            .iter()
            .flat_map(shifts_of)
            .filter(|(_, s)| &s.user == user)
            .collect();
        Some(super::ical::calendar(
            &format!("{user} on call"),
            &mine,
            |schedule, _| format!("On call ({schedule})"),
            now,
        ))
    }
}

fn target(t: &Target) -> String {
    match t {
        Target::User(u) => format!("user:{u}"),
        Target::Schedule(s) => format!("schedule:{s}"),
        Target::ScheduleNext(s) => format!("schedule_next:{s}"),
        Target::ScheduleAll(s) => format!("schedule_all:{s}"),
        Target::Receiver(r) => format!("receiver:{r}"),
    }
}

pub fn override_view(o: &Override) -> OverrideView {
    OverrideView {
        id: o.id,
        schedule: o.schedule.clone(),
        user: o.user.clone(),
        start: rfc3339(o.start_ms),
        end: rfc3339(o.end_ms),
        created_by: o.created_by.clone(),
        created: rfc3339(o.created_ms),
    }
}

pub fn page_view(p: &Page) -> PageView {
    PageView {
        id: p.id,
        policy: p.policy.clone(),
        group_key: p.group_key.clone(),
        receiver: p.receiver.clone(),
        title: p.title.clone(),
        status: p.status,
        created: rfc3339(p.created_ms),
        acknowledged_by: p.acknowledged_by.clone(),
        acknowledged_at: p.acknowledged_ms.map(rfc3339),
        resolved_by: p.resolved_by.clone(),
        resolved_at: p.resolved_ms.map(rfc3339),
        step: p.step + 1,
        round: p.round,
        next_step_at: p.next_step_ms.map(rfc3339),
        labels: p.notification.common_labels.clone().into_iter().collect(),
        alerts: p.notification.firing().count(),
        deliveries: p
            .deliveries
            .iter()
            .map(|d| PageDeliveryView {
                user: d.user.clone(),
                method: d.method.clone(),
                target: d.target.clone(),
                step: d.step + 1,
                due: rfc3339(d.due_ms),
                attempts: d.attempts,
                state: d.state,
            })
            .collect(),
        timeline: p
            .timeline
            .iter()
            .map(|e| TimelineEntryView {
                at: rfc3339(e.at_ms),
                kind: e.kind,
                text: e.text.clone(),
                user: e.user.clone(),
            })
            .collect(),
    }
}
