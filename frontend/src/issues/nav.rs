//! One event of an issue and the way through the others: Newest / Newer / Older. The event
//! shown is the address's `?event=ID`, else the issue's newest stored one, so a reload or a link
//! shows the same event. The buttons stay in place while the next event loads (keyboard focus
//! is not lost); one with nowhere to go is disabled.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use panoptes_types::IssueEvent;

use super::api;
use super::event::EventView;
use crate::components::{Empty, ErrorNote, Loading};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

/// Where the buttons lead, from the event last shown.
#[derive(Clone, Default, PartialEq)]
struct Neighbours {
    current: String,
    newest: Option<String>,
    newer: Option<String>,
    older: Option<String>,
}

#[component]
pub fn Events(
    id: Memo<Option<u64>>,
    /// The issue's newest stored event: `None` while the issue loads, `Some(None)` when no event
    /// of it is stored (only counted).
    latest: Memo<Option<Option<String>>>,
) -> impl IntoView {
    let query = use_query_map();
    let wanted = Memo::new(move |_| query.with(|q| q.get("event")).filter(|e| !e.is_empty()));
    let target = Memo::new(move |_| match wanted.get() {
        Some(e) => Some(Some(e)),
        None => latest.get(),
    });
    let event = use_poll_on(Topics::ISSUES, EVERY, move || {
        let (id, target) = (id.get(), target.get());
        async move {
            match (id, target) {
                (Some(id), Some(Some(e))) => api::issue_event(id, &e).await.map(Some),
                _ => Ok(None),
            }
        }
    });
    let near = RwSignal::new(Neighbours::default());
    Effect::new(move |_| {
        if let Some(Ok(Some(e))) = event.get() {
            near.set(Neighbours {
                current: e.event.event_id.clone(),
                newest: e.newest.clone(),
                newer: e.newer.clone(),
                older: e.older.clone(),
            });
        }
    });
    let navigate = use_navigate();
    let go = move |to: Option<String>| {
        let Some(id) = id.get_untracked() else {
            return;
        };
        let href = match to {
            Some(e) => format!("/issues/{id}?event={}", crate::api::segment(&e)),
            None => format!("/issues/{id}"),
        };
        navigate(&href, Default::default());
    };
    let (to_newest, to_newer, to_older) = (go.clone(), go.clone(), go);
    let is_newest = move || near.with(|n| n.newer.is_none());
    view! {
        <div class="event-nav" role="group" aria-label="Events of this issue"
            hidden=move || !matches!(target.get(), Some(Some(_)))>
            <button id="event-newest" class="secondary"
                disabled=move || is_newest() && wanted.with(Option::is_none)
                on:click=move |_| to_newest(None)>"Newest"</button>
            <button id="event-newer" class="secondary"
                disabled=move || near.with(|n| n.newer.is_none())
                on:click=move |_| {
                    if let Some(e) = near.with_untracked(|n| n.newer.clone()) {
                        to_newer(Some(e));
                    }
                }>"← Newer"</button>
            <button id="event-older" class="secondary"
                disabled=move || near.with(|n| n.older.is_none())
                on:click=move |_| {
                    if let Some(e) = near.with_untracked(|n| n.older.clone()) {
                        to_older(Some(e));
                    }
                }>"Older →"</button>
            <span class="muted" id="event-position" aria-live="polite">
                {move || near.with(|n| {
                    if n.current.is_empty() {
                        String::new()
                    } else if n.newer.is_none() {
                        "The newest event.".to_string()
                    } else if n.older.is_none() {
                        "The oldest stored event.".to_string()
                    } else {
                        "An earlier event.".to_string()
                    }
                })}
            </span>
        </div>
        {move || match (target.get(), event.get()) {
            (None, _) => ().into_any(),
            (Some(None), _) => view! { <Empty>"No event of this issue is stored (only counted)."</Empty> }.into_any(),
            (Some(Some(_)), None) => view! { <Loading what="event" /> }.into_any(),
            (Some(Some(_)), Some(Err(e))) => view! { <ErrorNote error=e /> }.into_any(),
            (Some(Some(_)), Some(Ok(None))) => ().into_any(),
            (Some(Some(_)), Some(Ok(Some(IssueEvent { event, newer, .. })))) => {
                let heading = if newer.is_none() { "Latest event" } else { "Event" };
                view! { <EventView e=event heading=heading /> }.into_any()
            }
        }}
    }
}
