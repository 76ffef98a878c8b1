//! Receivers: their channels, the last delivery, and a Test button that shows each channel's
//! answer.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{DeliveryState, ReceiverView, TestDelivery};

use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, RelativeTime, Table, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

#[component]
pub fn Receivers() -> impl IntoView {
    let receivers = use_poll_on(Topics::NONE, EVERY, api::receivers);
    view! {
        <section class="card" id="receivers">
            <h2>"Receivers"</h2>
            {move || loaded(receivers.get(), "receivers", |list| {
                if list.is_empty() {
                    view! { <Empty>"No receivers configured (see " <code>"alerts.receivers"</code> " in the config)."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["Receiver", "Channels", "Last delivery", ""] class="receivers">
                            {list.into_iter().map(|r| view! { <ReceiverRow r=r /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
        </section>
    }
}

fn delivery_class(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Delivered => "badge ok",
        DeliveryState::Queued | DeliveryState::Sending => "badge warn",
        DeliveryState::Failed | DeliveryState::Dead | DeliveryState::Uncertain => "badge bad",
    }
}

fn delivery_text(s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Queued => "queued",
        DeliveryState::Sending => "sending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
        DeliveryState::Dead => "dead",
        DeliveryState::Uncertain => "uncertain",
    }
}

#[component]
fn ReceiverRow(r: ReceiverView) -> impl IntoView {
    let results = RwSignal::new(None::<Result<Vec<TestDelivery>, ApiError>>);
    let busy = RwSignal::new(false);
    let name = r.name.clone();
    let test = move |_| {
        let name = name.clone();
        busy.set(true);
        spawn_local(async move {
            let r = api::test_receiver(&name).await;
            results.try_set(Some(r));
            busy.try_set(false);
        });
    };
    let last = r.last_delivery.clone();
    view! {
        <tr class="receiver-row" data-name=r.name.clone()>
            <td><b>{r.name.clone()}</b></td>
            <td class="muted">{r.channels.join(", ")}</td>
            <td>{match last {
                Some(n) => view! {
                    <span class=delivery_class(n.state)>{delivery_text(n.state)}</span>
                    " " <span class="muted">{n.channel.clone()}</span> " "
                    <RelativeTime at=n.finished_at.clone().unwrap_or(n.created_at.clone()) />
                    {n.attempts.last().and_then(|a| a.error.clone()).map(|e| view! { <br /><span class="muted">{e}</span> })}
                }.into_any(),
                None => view! { <span class="muted">"none yet"</span> }.into_any(),
            }}</td>
            <td>
                <button class="secondary test-receiver" disabled=move || busy.get() on:click=test>"Test"</button>
                {move || match results.get() {
                    None => ().into_any(),
                    Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="test-results">
                            {list.into_iter().map(|t| view! {
                                <li data-channel=t.channel.clone() data-delivered=t.delivered.to_string()>
                                    {if t.delivered { "✓ " } else { "✗ " }} {t.channel.clone()}
                                    {t.status.map(|s| format!(" ({s})"))}
                                    {t.error.map(|e| format!(": {e}"))}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
            </td>
        </tr>
    }
}
