//! What needs attention now, ranked: monitors down, then degraded, firing alerts, new and
//! regressed issues, exception keys growing. Each item links to its detail view. Built from
//! the same list routes the other views read (monitors, alerts and exception services are
//! answered from memory); issues and keys are asked for only where a count says there are
//! open ones.

use leptos::prelude::*;
use leptos_router::components::A;
use panoptes_types::{AlertState, ExceptionStatus, IssueSummary, MonitorState, Page};

use crate::api::{self, ApiError};
use crate::components::RelativeTime;

/// An issue first seen within this long is "new".
const NEW_ISSUE_MS: f64 = 24.0 * 3600.0 * 1000.0;
/// An open exception key whose count increased within this long is "growing".
const GROWING_MS: f64 = 3600.0 * 1000.0;
/// Issues looked at per project: the most recently seen unresolved ones.
const ISSUES_PER_PROJECT: usize = 100;

/// Why an item is listed; the order is the ranking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Down,
    Degraded,
    Alert,
    NewIssue,
    RegressedIssue,
    Exception,
}

impl Kind {
    /// The item's `data-kind`.
    fn slug(self) -> &'static str {
        match self {
            Kind::Down => "down",
            Kind::Degraded => "degraded",
            Kind::Alert => "alert",
            Kind::NewIssue => "new-issue",
            Kind::RegressedIssue => "regressed-issue",
            Kind::Exception => "exception",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Down => "down",
            Kind::Degraded => "degraded",
            Kind::Alert => "firing",
            Kind::NewIssue => "new issue",
            Kind::RegressedIssue => "regressed",
            Kind::Exception => "growing",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Kind::Down | Kind::Alert => "badge bad",
            _ => "badge warn",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: Kind,
    pub title: String,
    pub detail: String,
    pub href: String,
    /// RFC 3339: since when (newest first within a kind).
    pub since: Option<String>,
}

/// Ranks by kind, then newest first (RFC 3339 in UTC sorts as text).
pub fn rank(items: &mut [Item]) {
    items.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| b.since.cmp(&a.since)));
}

fn recent(at: &str, now: f64, within: f64) -> bool {
    let ms = js_sys::Date::parse(at);
    !ms.is_nan() && now - ms <= within
}

pub async fn attention() -> Result<Vec<Item>, ApiError> {
    let now = js_sys::Date::now();
    let mut items = Vec::new();
    for m in api::monitors().await? {
        let kind = match m.state {
            MonitorState::Down => Kind::Down,
            MonitorState::Degraded => Kind::Degraded,
            _ => continue,
        };
        items.push(Item {
            kind,
            detail: m.last_error.unwrap_or(m.target),
            title: m.name,
            href: format!("/monitors/{}", m.id),
            since: m.last_check_at,
        });
    }
    for a in api::alerts().await? {
        // A silenced or inhibited alert is already being dealt with.
        if a.state != AlertState::Firing || !a.silenced_by.is_empty() || a.inhibited {
            continue;
        }
        let title = a.labels.get("alertname").cloned().unwrap_or(a.rule);
        items.push(Item {
            kind: Kind::Alert,
            title,
            detail: a.value,
            href: "/alerts".into(),
            since: a.fired_at,
        });
    }
    for p in api::projects().await? {
        if p.unresolved == 0 {
            continue;
        }
        let path = format!(
            "/projects/{}/issues?status=unresolved&limit={ISSUES_PER_PROJECT}",
            p.id
        );
        for i in api::get::<Page<IssueSummary>>(&path).await?.items {
            let kind = if i.regressed {
                Kind::RegressedIssue
            } else if recent(&i.first_seen, now, NEW_ISSUE_MS) {
                Kind::NewIssue
            } else {
                continue;
            };
            items.push(Item {
                kind,
                detail: format!("{} · {} events", p.name, i.count),
                title: i.title,
                href: format!("/issues/{}", i.id),
                since: Some(i.last_seen),
            });
        }
    }
    for s in api::exception_services().await? {
        let active = s
            .last_seen
            .as_deref()
            .is_some_and(|at| recent(at, now, GROWING_MS));
        if s.open_errors == 0 || !active {
            continue;
        }
        for k in api::exception_keys(&s.name).await? {
            if k.status != ExceptionStatus::Open || !recent(&k.last_seen, now, GROWING_MS) {
                continue;
            }
            items.push(Item {
                kind: Kind::Exception,
                title: k.aggregation_key,
                detail: format!("{} · {} total", s.name, k.total_count),
                href: format!("/exceptions/{}", api::segment(&s.name)),
                since: Some(k.last_seen),
            });
        }
    }
    rank(&mut items);
    Ok(items)
}

#[component]
pub fn AttentionList(items: Vec<Item>) -> impl IntoView {
    view! {
        <ol class="attention">
            {items.into_iter().map(|i| view! {
                <li class="attention-item" data-kind=i.kind.slug()>
                    <span class=i.kind.class()>{i.kind.label()}</span> " "
                    <A href=i.href><b class="attention-title">{i.title}</b></A> " "
                    <span class="muted">{i.detail}</span>
                    {i.since.map(|at| view! { " " <span class="muted"><RelativeTime at=at /></span> })}
                </li>
            }).collect_view()}
        </ol>
    }
}
