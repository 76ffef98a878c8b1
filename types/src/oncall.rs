//! On-call: who is on call, schedules and their shifts, overrides, escalation policies and
//! pages with their timelines (`/api/v1/oncall`, `/api/v1/oncall/*`, `/api/v1/pages`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a page stands.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    Triggered,
    Acknowledged,
    Resolved,
}

impl PageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PageStatus::Triggered => "triggered",
            PageStatus::Acknowledged => "acknowledged",
            PageStatus::Resolved => "resolved",
        }
    }
}

/// Where one message of a page (to a person's contact method or a receiver) stands.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PageDeliveryState {
    Pending,
    Delivered,
    Failed,
    /// Acknowledged or resolved before it went out.
    Cancelled,
}

impl PageDeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            PageDeliveryState::Pending => "pending",
            PageDeliveryState::Delivered => "delivered",
            PageDeliveryState::Failed => "failed",
            PageDeliveryState::Cancelled => "cancelled",
        }
    }
}

/// What a line of a page's timeline records.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Triggered,
    /// A step of the policy started.
    Step,
    Notified,
    Retry,
    Failed,
    Acknowledged,
    Resolved,
    /// The policy starts over.
    Repeat,
    /// Every step ran and nobody acknowledged.
    Exhausted,
}

impl TimelineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Triggered => "triggered",
            TimelineKind::Step => "step",
            TimelineKind::Notified => "notified",
            TimelineKind::Retry => "retry",
            TimelineKind::Failed => "failed",
            TimelineKind::Acknowledged => "acknowledged",
            TimelineKind::Resolved => "resolved",
            TimelineKind::Repeat => "repeat",
            TimelineKind::Exhausted => "exhausted",
        }
    }
}

/// `GET /api/v1/oncall?schedule=&at=`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OnCallNow {
    pub schedule: String,
    pub on_call: Vec<String>,
    pub next: Option<NextOnCall>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NextOnCall {
    pub user: String,
    /// RFC 3339.
    pub from: String,
}

/// One person's uninterrupted time on call.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ShiftView {
    pub user: String,
    pub start: String,
    pub end: String,
    /// Set when an override, not a layer, put them there.
    pub override_id: Option<u64>,
}

/// `GET /api/v1/oncall/schedules/{name}/shifts?from=&to=`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Shifts {
    pub schedule: String,
    pub from: String,
    pub to: String,
    pub shifts: Vec<ShiftView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LayerView {
    pub name: Option<String>,
    pub users: Vec<String>,
    /// `daily`, `weekly`, `36h`, ...
    pub rotation: String,
    /// `monday 09:00`, `09:00`.
    pub handoff: String,
    pub start: String,
    /// `mon,tue 09:00-17:00`.
    pub restrictions: Vec<String>,
}

/// `GET /api/v1/oncall/schedules`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ScheduleView {
    pub name: String,
    pub time_zone: String,
    pub layers: Vec<LayerView>,
    pub on_call: Vec<String>,
    pub next: Option<NextOnCall>,
    /// Secret iCalendar URL of the schedule's shifts.
    pub ical_url: String,
}

/// `GET /api/v1/oncall/overrides`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OverrideView {
    pub id: u64,
    pub schedule: String,
    pub user: String,
    pub start: String,
    pub end: String,
    pub created_by: String,
    pub created: String,
}

/// `POST /api/v1/oncall/overrides`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NewOverride {
    pub schedule: String,
    pub user: String,
    /// RFC 3339.
    pub start: String,
    pub end: String,
}

/// `PUT /api/v1/oncall/overrides/{id}`: who covers and when; fields left out stay. The
/// schedule cannot change (if given, it must be the override's).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct OverrideUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StepView {
    pub delay_seconds: u64,
    /// `schedule:platform`, `user:ana`, `receiver:team`, ...
    pub targets: Vec<String>,
}

/// `GET /api/v1/oncall/policies`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PolicyView {
    pub name: String,
    pub repeat: u32,
    pub steps: Vec<StepView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ContactMethodView {
    /// `email`, `ntfy`, `telegram`, `slack`, `webhook`.
    pub method: String,
    pub target: String,
    pub after_seconds: u64,
}

/// `GET /api/v1/oncall/users`: people with contact methods, and their calendar.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OnCallUser {
    pub user: String,
    pub contacts: Vec<ContactMethodView>,
    pub ical_url: String,
    /// The person set these contact methods (API or dashboard), in place of the config's.
    #[serde(default)]
    pub own: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PageDeliveryView {
    pub user: Option<String>,
    pub method: String,
    pub target: String,
    /// 1-based step of the policy.
    pub step: usize,
    pub due: String,
    pub attempts: u32,
    pub state: PageDeliveryState,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TimelineEntryView {
    pub at: String,
    pub kind: TimelineKind,
    pub text: String,
    pub user: Option<String>,
}

/// `GET /api/v1/pages`, `/api/v1/pages/{id}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PageView {
    pub id: u64,
    pub policy: String,
    pub group_key: String,
    pub receiver: String,
    pub title: String,
    pub status: PageStatus,
    pub created: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    /// The next step (1-based) and round.
    pub step: usize,
    pub round: u32,
    pub next_step_at: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Firing alerts of the group at the last notification.
    pub alerts: usize,
    pub deliveries: Vec<PageDeliveryView>,
    pub timeline: Vec<TimelineEntryView>,
}
