//! Pages: each alert group an escalation policy is working through, newest first, with
//! Acknowledge (stops the escalation) and Resolve, and a timeline of who was notified when.
//! `?page=ID` opens that page's timeline and deliveries above the list. Both refetch on the
//! live feed's page messages (opened, acknowledged, escalated, resolved, a delivery's outcome)
//! and on every (re)connection, so they resume after a server restart; they poll only while
//! the feed is down.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use panoptes_types::{PageStatus, PageView};

use super::local_time;
use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, RelativeTime, Table, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

#[component]
pub fn PageList() -> impl IntoView {
    let pages = use_poll_on(Topics::PAGES, EVERY, api::pages);
    let query = use_query_map();
    let open = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse::<u64>().ok()));
    let detail = use_poll_on(Topics::PAGES, EVERY, move || {
        let id = open.get();
        async move {
            match id {
                Some(id) => api::page(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let refresh = Callback::new(move |()| {
        pages.refetch();
        detail.refetch();
    });
    view! {
        {move || match detail.get() {
            Some(Ok(Some(p))) => view! { <PageDetail p=p refresh=refresh /> }.into_any(),
            Some(Err(e)) => view! { <section class="card" id="page-detail"><ErrorNote error=e /></section> }.into_any(),
            _ => ().into_any(),
        }}
        <section class="card" id="pages">
            <h2>"Pages"</h2>
            {move || loaded(pages.get(), "pages", move |list| {
                if list.is_empty() {
                    view! { <Empty>"Nobody has been paged. An alert route with an `escalation_policy` pages."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["Status", "Page", "Policy", "Opened", "Who", ""] class="pages">
                            {list.into_iter().map(|p| view! { <PageRow p=p refresh=refresh /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
        </section>
    }
}

fn status_class(status: PageStatus) -> &'static str {
    match status {
        PageStatus::Triggered => "badge bad",
        PageStatus::Acknowledged => "badge warn",
        PageStatus::Resolved => "badge ok",
    }
}

/// Acknowledge and Resolve, as far as the page's status allows.
#[component]
fn Actions(id: u64, status: PageStatus, refresh: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let act = move |resolve: bool| {
        busy.set(true);
        spawn_local(async move {
            let answer = if resolve {
                api::resolve_page(id).await
            } else {
                api::acknowledge_page(id).await
            };
            match answer {
                Ok(_) => refresh.run(()),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        {(status == PageStatus::Triggered).then(|| view! {
            <button class="ack" disabled=move || busy.get() on:click=move |_| act(false)>"Acknowledge"</button>
            " "
        })}
        {(status != PageStatus::Resolved).then(|| view! {
            <button class="secondary resolve" disabled=move || busy.get() on:click=move |_| act(true)>"Resolve"</button>
        })}
        {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
    }
}

/// Who acknowledged or resolved it, or where the escalation stands.
fn who(p: &PageView) -> String {
    match (&p.resolved_by, &p.acknowledged_by, &p.next_step_at) {
        (Some(r), _, _) => format!("resolved by {r}"),
        (None, Some(a), _) => format!("acknowledged by {a}"),
        (None, None, Some(at)) => format!("step {} at {}", p.step, local_time(at)),
        (None, None, None) => format!("step {}, round {}", p.step, p.round + 1),
    }
}

#[component]
fn PageRow(p: PageView, refresh: Callback<()>) -> impl IntoView {
    let href = format!("/oncall?page={}", p.id);
    view! {
        <tr class="page-row" data-id=p.id.to_string() data-status=p.status.as_str()>
            <td><span class=status_class(p.status)>{p.status.as_str()}</span></td>
            <td><a href=href><b class="page-title">{format!("#{} {}", p.id, p.title)}</b></a>
                <br /><span class="muted">{format!("{} firing · {}", p.alerts, p.receiver)}</span></td>
            <td>{p.policy.clone()}</td>
            <td><RelativeTime at=p.created.clone() /></td>
            <td class="muted">{who(&p)}</td>
            <td><Actions id=p.id status=p.status refresh=refresh /></td>
        </tr>
    }
}

#[component]
fn PageDetail(p: PageView, refresh: Callback<()>) -> impl IntoView {
    let labels = p
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <section class="card" id="page-detail" data-id=p.id.to_string() data-status=p.status.as_str()>
            <h2><span class=status_class(p.status)>{p.status.as_str()}</span> " "
                {format!("Page #{}: {}", p.id, p.title)}</h2>
            <p class="muted">{format!("policy {} · {} · {labels}", p.policy, who(&p))}</p>
            <p><Actions id=p.id status=p.status refresh=refresh /></p>
            <h3>"Timeline"</h3>
            <ol class="timeline">
                {p.timeline.into_iter().map(|t| view! {
                    <li class="timeline-entry" data-kind=t.kind.as_str()>
                        <span class="muted">{local_time(&t.at)}</span> " "
                        <b>{t.kind.as_str()}</b> " " {t.text.clone()}
                    </li>
                }).collect_view()}
            </ol>
            <h3>"Deliveries"</h3>
            {if p.deliveries.is_empty() {
                view! { <Empty>"No notification sent yet."</Empty> }.into_any()
            } else {
                view! {
                    <Table headers=&["Step", "Who", "Method", "Due", "Attempts", "State"] class="deliveries">
                        {p.deliveries.into_iter().map(|d| view! {
                            <tr class="delivery-row" data-state=d.state.as_str()>
                                <td>{d.step}</td>
                                <td>{d.user.unwrap_or_default()}</td>
                                <td>{format!("{} {}", d.method, d.target)}</td>
                                <td>{local_time(&d.due)}</td>
                                <td>{d.attempts}</td>
                                <td>{d.state.as_str()}</td>
                            </tr>
                        }).collect_view()}
                    </Table>
                }
                .into_any()
            }}
        </section>
    }
}
