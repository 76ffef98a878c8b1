//! `/issues/:id`: an issue's facts, the triage buttons, and one of its events in full with
//! Newest / Newer / Older to step through the others (`?event=ID`, see `nav`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use panoptes_types::{IssueDetail, IssueStatus};

use super::nav::Events;
use crate::api::{self, ApiError};
use crate::components::{ErrorNote, LevelBadge, RelativeTime, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

#[component]
pub fn IssuePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .with(|p| p.get("id"))
            .and_then(|s| s.parse::<u64>().ok())
    });
    let detail = use_poll_on(Topics::ISSUES, EVERY, move || {
        let id = id.get().ok_or_else(|| ApiError::not_found("no such issue"));
        async move { api::issue(id?).await }
    });
    let latest = Memo::new(move |_| match detail.get() {
        Some(Ok(d)) => Some(d.latest_event.map(|e| e.event_id)),
        _ => None,
    });
    view! {
        <p class="crumbs"><A href="/issues">"← Issues"</A></p>
        <section class="card" id="issue-detail">
            {move || loaded(detail.get(), "issue", |d| {
                view! { <Issue d=d refetch=Callback::new(move |()| detail.refetch()) /> }
            })}
            <Events id=id latest=latest />
        </section>
    }
}

#[component]
fn Issue(d: IssueDetail, refetch: Callback<()>) -> impl IntoView {
    let s = d.summary;
    let status = Some(s.status);
    let releases = if s.releases.is_empty() {
        "none".to_string()
    } else {
        s.releases.join(", ")
    };
    view! {
        <div class="row">
            <h1>{s.title}</h1>
            <LevelBadge level=s.level.clone() />
            <span class="badge muted" id="issue-status">{s.status.as_str()}</span>
        </div>
        <p class="muted culprit">{s.culprit}</p>
        <Actions id=s.id status=status refetch=refetch />
        <dl class="facts">
            <dt>"Events"</dt><dd>{format!("{} ({} stored)", s.count, s.stored_events)}</dd>
            <dt>"Users"</dt><dd>{s.users}</dd>
            <dt>"First seen"</dt><dd><RelativeTime at=s.first_seen /></dd>
            <dt>"Last seen"</dt><dd><RelativeTime at=s.last_seen /></dd>
            <dt>"Releases"</dt><dd id="issue-releases">{releases}</dd>
            {(!s.environments.is_empty()).then(|| view! {
                <dt>"Environments"</dt><dd>{s.environments.join(", ")}</dd>
            })}
            {s.regressed.then(|| view! {
                <dt>"Regressed"</dt><dd>{format!("reopened {} time(s) after being resolved", s.regressions)}</dd>
            })}
        </dl>
    }
}

/// Resolve / ignore / reopen. Resolving or ignoring returns to the list, where the issue is gone;
/// reopening stays and shows the new status.
#[component]
fn Actions(id: u64, status: Option<IssueStatus>, refetch: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let set = move |to: IssueStatus| {
        let navigate = navigate.clone();
        busy.set(true);
        spawn_local(async move {
            match api::set_issue_status(id, to).await {
                Ok(_) if to == IssueStatus::Unresolved => {
                    busy.try_set(false);
                    refetch.run(());
                }
                Ok(_) => navigate("/issues", Default::default()),
                Err(e) => {
                    error.try_set(Some(e));
                    busy.try_set(false);
                }
            }
        });
    };
    let (resolve, ignore, reopen) = (set.clone(), set.clone(), set);
    let open = status == Some(IssueStatus::Unresolved);
    view! {
        <div class="actions">
            {open.then(|| view! {
                <button id="resolve-issue" disabled=move || busy.get()
                    on:click=move |_| resolve(IssueStatus::Resolved)>"Resolve"</button>
                <button id="ignore-issue" class="secondary" disabled=move || busy.get()
                    on:click=move |_| ignore(IssueStatus::Ignored)>"Ignore"</button>
            })}
            {(!open).then(|| view! {
                <button id="reopen-issue" class="secondary" disabled=move || busy.get()
                    on:click=move |_| reopen(IssueStatus::Unresolved)>"Reopen"</button>
            })}
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
        </div>
    }
}
