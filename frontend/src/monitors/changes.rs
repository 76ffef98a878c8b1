//! A monitor's state changes as a timeline (`GET /api/v1/monitors/{id}/changes`): newest first,
//! each with how long the state lasted and what the result that changed it saw.

use leptos::prelude::*;
use panoptes_types::{MonitorChanges, StateChange};

use crate::components::{Empty, RelativeTime, StateBadge, duration_text};

#[component]
pub fn Changes(c: MonitorChanges) -> impl IntoView {
    if c.items.is_empty() {
        return view! { <Empty>"No change of state in the last 7 days."</Empty> }.into_any();
    }
    // Newest first: a change lasted until the one listed before it (the newest, until now).
    let mut until: Option<u64> = None;
    let rows: Vec<_> = c
        .items
        .into_iter()
        .map(|ch| {
            let lasted = until.map(|u| u.saturating_sub(ch.at_ms) / 1000);
            until = Some(ch.at_ms);
            view! { <Change ch=ch lasted=lasted /> }
        })
        .collect();
    view! {
        <ol class="timeline" aria-label="State changes, newest first">{rows}</ol>
        {c.truncated.then(|| view! {
            <p class="muted">"Older changes are not shown: the range holds more results than are read at once."</p>
        })}
    }
    .into_any()
}

#[component]
fn Change(ch: StateChange, lasted: Option<u64>) -> impl IntoView {
    let from = ch.from.map(|f| format!("from {f}"));
    let detail = [
        ch.status.map(|s| format!("HTTP {s}")),
        (!ch.failed_conditions.is_empty())
            .then(|| format!("failed: {}", ch.failed_conditions.join(", "))),
        ch.error.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    view! {
        <li class="change" data-to=ch.to.as_str()>
            <StateBadge state=ch.to />
            " "
            <RelativeTime at=ch.at.clone() />
            {from.map(|f| view! { <span class="muted">" " {f}</span> })}
            {lasted.map(|s| view! { <span class="muted">{format!(" · lasted {}", duration_text(s))}</span> })}
            {(!detail.is_empty()).then(|| view! { <div class="muted change-detail">{detail}</div> })}
        </li>
    }
}
