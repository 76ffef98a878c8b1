//! `/statuspages`: each public status page with its components' status, a form to open an
//! incident (name, impact, status, Markdown body, the status of each affected component), and
//! its incidents with a form to post an update (status and body). Drafts (saved as such, or
//! opened from an alert) are marked and have a Publish button.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::status::{ComponentStatus, Impact, IncidentStatus};
use panoptes_types::{NewStatusIncident, StatusIncident, StatusPageInfo};

use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, RelativeTime, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

const COMPONENT_STATUSES: [ComponentStatus; 5] = [
    ComponentStatus::Operational,
    ComponentStatus::DegradedPerformance,
    ComponentStatus::PartialOutage,
    ComponentStatus::MajorOutage,
    ComponentStatus::UnderMaintenance,
];
const OPEN_STATUSES: [IncidentStatus; 3] = [
    IncidentStatus::Investigating,
    IncidentStatus::Identified,
    IncidentStatus::Monitoring,
];
const UPDATE_STATUSES: [IncidentStatus; 5] = [
    IncidentStatus::Investigating,
    IncidentStatus::Identified,
    IncidentStatus::Monitoring,
    IncidentStatus::Resolved,
    IncidentStatus::Postmortem,
];
const MAINTENANCE_STATUSES: [IncidentStatus; 4] = [
    IncidentStatus::Scheduled,
    IncidentStatus::InProgress,
    IncidentStatus::Verifying,
    IncidentStatus::Completed,
];
const IMPACTS: [Impact; 4] = [Impact::None, Impact::Minor, Impact::Major, Impact::Critical];

#[component]
pub fn StatusPagesPage() -> impl IntoView {
    let pages = use_poll_on(
        Topics::MONITORS.union(Topics::ALERTS),
        EVERY,
        api::status_pages,
    );
    view! {
        <section class="card" id="statuspages">
            <h1>"Status pages"</h1>
            {move || loaded(pages.get(), "status pages", |list| {
                if list.is_empty() {
                    view! { <Empty>"No status pages. Add one under " <code>"status_pages"</code> " in the config."</Empty> }.into_any()
                } else {
                    list.into_iter().map(|p| view! { <StatusPageCard p=p /> }).collect_view().into_any()
                }
            })}
        </section>
    }
}

fn badge_class(status: &str) -> &'static str {
    match status {
        "operational" | "resolved" | "completed" | "postmortem" => "badge ok",
        "degraded_performance" | "monitoring" | "identified" | "scheduled" | "verifying" => {
            "badge warn"
        }
        "under_maintenance" | "in_progress" => "badge muted",
        _ => "badge bad",
    }
}

/// `<option>`s of an enum's values, by their wire names.
fn options<T: Copy>(values: &[T], name: fn(T) -> &'static str) -> impl IntoView {
    values
        .iter()
        .map(|v| {
            let v = name(*v);
            view! { <option value=v>{v.replace('_', " ")}</option> }
        })
        .collect_view()
}

#[component]
fn StatusPageCard(p: StatusPageInfo) -> impl IntoView {
    let slug = p.slug.clone();
    let incidents = use_poll_on(Topics::ALERTS, EVERY, move || {
        let slug = slug.clone();
        async move { api::status_incidents(&slug).await }
    });
    let refresh = Callback::new(move |()| incidents.refetch());
    let slug = p.slug.clone();
    view! {
        <div class="status-page" data-slug=p.slug.clone()>
            <h2>{p.title.clone()} " " <a href=p.url.clone() target="_blank" rel="noopener" class="muted">{p.url.clone()}</a></h2>
            <ul class="components">
                {p.components.iter().map(|c| view! {
                    <li data-component=c.id.clone()>{c.name.clone()} " " <span class=badge_class(c.status.as_str())>{c.status.as_str().replace('_', " ")}</span></li>
                }).collect_view()}
            </ul>
            <OpenIncident p=p.clone() refresh=refresh />
            <h3>"Incidents"</h3>
            {move || {
                let slug = slug.clone();
                loaded(incidents.get(), "incidents", move |list| {
                    if list.is_empty() {
                        view! { <Empty>"No incidents yet."</Empty> }.into_any()
                    } else {
                        list.into_iter()
                            .map(|i| view! { <IncidentRow slug=slug.clone() i=i refresh=refresh /> })
                            .collect_view()
                            .into_any()
                    }
                })
            }}
        </div>
    }
}

#[component]
fn OpenIncident(p: StatusPageInfo, refresh: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let impact = RwSignal::new("minor".to_string());
    let status = RwSignal::new("investigating".to_string());
    let body = RwSignal::new(String::new());
    let draft = RwSignal::new(false);
    // Component id -> status chosen ("" = not affected).
    let chosen: RwSignal<BTreeMap<String, String>> = RwSignal::new(BTreeMap::new());
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let slug = p.slug.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewStatusIncident {
            name: Some(name.get_untracked()),
            status: IncidentStatus::parse(&status.get_untracked()),
            impact: Impact::parse(&impact.get_untracked()),
            body: Some(body.get_untracked()),
            components: chosen
                .get_untracked()
                .into_iter()
                .filter_map(|(id, s)| ComponentStatus::parse(&s).map(|c| (id, c)))
                .collect(),
            draft: draft.get_untracked().then_some(true),
        };
        let slug = slug.clone();
        busy.set(true);
        spawn_local(async move {
            match api::open_incident(&slug, &new).await {
                Ok(_) => {
                    error.try_set(None);
                    name.try_set(String::new());
                    body.try_set(String::new());
                    chosen.try_set(BTreeMap::new());
                    refresh.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <details class="open-incident">
            <summary>"Open an incident"</summary>
            <form class="incident-form" on:submit=submit>
                <label>"Name"
                    <input name="name" required=true maxlength="200"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <div class="inline-form">
                    <label>"Impact"
                        <select name="impact" prop:value=move || impact.get() on:change=move |ev| impact.set(event_target_value(&ev))>
                            {options(&IMPACTS, Impact::as_str)}
                        </select>
                    </label>
                    <label>"Status"
                        <select name="status" prop:value=move || status.get() on:change=move |ev| status.set(event_target_value(&ev))>
                            {options(&OPEN_STATUSES, IncidentStatus::as_str)}
                        </select>
                    </label>
                </div>
                <label>"Message (Markdown)"
                    <textarea name="body" rows="3" prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                </label>
                <fieldset>
                    <legend>"Affected components"</legend>
                    {p.components.iter().map(|c| {
                        let id = c.id.clone();
                        let id_for_value = c.id.clone();
                        view! {
                            <label class="component-choice">{c.name.clone()}
                                <select name=format!("component-{}", c.id)
                                    prop:value=move || chosen.get().get(&id_for_value).cloned().unwrap_or_default()
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        chosen.update(|m| { m.insert(id.clone(), v); });
                                    }>
                                    <option value="">"not affected"</option>
                                    {options(&COMPONENT_STATUSES, ComponentStatus::as_str)}
                                </select>
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <label class="inline"><input type="checkbox" name="draft" prop:checked=move || draft.get()
                    on:change=move |ev| draft.set(event_target_checked(&ev)) />
                    " Save as a draft (not public, nobody notified)"</label>
                <button type="submit" disabled=move || busy.get()>"Open incident"</button>
                {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            </form>
        </details>
    }
}

#[component]
fn IncidentRow(slug: String, i: StatusIncident, refresh: Callback<()>) -> impl IntoView {
    let maintenance = i.scheduled_for.is_some();
    let statuses: &'static [IncidentStatus] = if maintenance {
        &MAINTENANCE_STATUSES
    } else {
        &UPDATE_STATUSES
    };
    let status = RwSignal::new(i.status.as_str().to_string());
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let id = i.id.clone();
    let (slug2, id2) = (slug.clone(), i.id.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let update = NewStatusIncident {
            status: IncidentStatus::parse(&status.get_untracked()),
            body: Some(body.get_untracked()),
            ..Default::default()
        };
        let (slug, id) = (slug.clone(), id.clone());
        busy.set(true);
        spawn_local(async move {
            match api::update_incident(&slug, &id, &update).await {
                Ok(_) => {
                    error.try_set(None);
                    body.try_set(String::new());
                    refresh.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let publish = move |_| {
        let (slug, id) = (slug2.clone(), id2.clone());
        let publish = NewStatusIncident {
            draft: Some(false),
            ..Default::default()
        };
        busy.set(true);
        spawn_local(async move {
            match api::update_incident(&slug, &id, &publish).await {
                Ok(_) => {
                    error.try_set(None);
                    refresh.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let latest = i.incident_updates.first().cloned();
    let closed = matches!(
        i.status,
        IncidentStatus::Resolved | IncidentStatus::Postmortem | IncidentStatus::Completed
    );
    view! {
        <article class="incident-row" data-id=i.id.clone() data-status=i.status.as_str() data-draft=i.draft.to_string()>
            <h4>{i.draft.then(|| view! { <span class="badge warn draft">"draft — not public"</span> " " })}
                <span class=badge_class(i.status.as_str())>{i.status.as_str().replace('_', " ")}</span> " "
                <b class="incident-name">{i.name.clone()}</b> " "
                <span class="muted">{format!("impact {}", i.impact.as_str())} " · opened " <RelativeTime at=i.created_at.clone() /></span></h4>
            {latest.map(|u| view! { <p class="latest"><span class="muted">{u.status.as_str().replace('_', " ")} ": "</span>{u.body}</p> })}
            {i.draft.then(|| view! {
                <button type="button" class="publish" disabled=move || busy.get() on:click=publish>"Publish"</button>
            })}
            {(!closed).then(|| view! {
                <form class="update-form inline-form" on:submit=submit>
                    <select name="status" prop:value=move || status.get() on:change=move |ev| status.set(event_target_value(&ev))>
                        {options(statuses, IncidentStatus::as_str)}
                    </select>
                    <input name="body" placeholder="What changed?" prop:value=move || body.get()
                        on:input=move |ev| body.set(event_target_value(&ev)) />
                    <button type="submit" class="post-update" disabled=move || busy.get()>"Post update"</button>
                </form>
            })}
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
        </article>
    }
}
