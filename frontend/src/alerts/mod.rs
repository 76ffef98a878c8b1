//! `/alerts`: what fires and what is pending (silence one from its row), silences (expire one),
//! receivers with their last delivery and a Test button, and recently resolved alerts.

mod receivers;
mod silences;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use panoptes_types::{AlertHistoryEntry, AlertState, AlertView, NewSilence, SilenceMatcher};

use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, RelativeTime, Table, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

#[component]
pub fn AlertsPage() -> impl IntoView {
    let alerts = use_poll_on(Topics::ALERTS, EVERY, api::alerts);
    let history = use_poll_on(Topics::ALERTS, EVERY, api::alert_history);
    // Silencing from a row changes both lists; the feed may say so later than the answer.
    let silence_list = use_poll_on(Topics::ALERTS, EVERY, api::silences);
    let refresh = Callback::new(move |()| {
        alerts.refetch();
        silence_list.refetch();
    });
    view! {
        <section class="card" id="alerts">
            <h1>"Alerts"</h1>
            {move || loaded(alerts.get(), "alerts", move |list| {
                if list.is_empty() {
                    view! { <Empty>"Nothing is firing or pending."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["State", "Alert", "Labels", "Value", "Since", ""] class="alerts">
                            {list.into_iter().map(|a| view! { <AlertRow a=a refresh=refresh /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
        </section>
        <silences::Silences silences=silence_list />
        <receivers::Receivers />
        <section class="card" id="alert-history">
            <h2>"Resolved"</h2>
            {move || loaded(history.get(), "history", |list| {
                if list.is_empty() {
                    view! { <Empty>"No alert has resolved yet."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["Alert", "Labels", "Fired", "Resolved"] class="history">
                            {list.into_iter().map(|h| view! { <HistoryRow h=h /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
        </section>
    }
}

/// `k=v` labels other than `alertname`.
fn labels_text(l: &std::collections::BTreeMap<String, String>) -> String {
    l.iter()
        .filter(|(k, _)| *k != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dashboard path of a generator URL (`http://host/monitors/3` -> `/monitors/3`).
fn local_link(url: &str) -> String {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| url[i + 3 + j..].to_string()))
        .unwrap_or_else(|| "/alerts".into())
}

/// Now and `hours` later as RFC 3339.
fn window(hours: f64) -> (String, String) {
    let now = js_sys::Date::now();
    let iso = |ms: f64| {
        String::from(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)).to_iso_string())
    };
    (iso(now), iso(now + hours * 3_600_000.0))
}

#[component]
fn AlertRow(a: AlertView, refresh: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let labels = a.labels.clone();
    let silence = move |_| {
        let (starts_at, ends_at) = window(2.0);
        let body = NewSilence {
            id: None,
            matchers: labels
                .iter()
                .map(|(k, v)| SilenceMatcher {
                    name: k.clone(),
                    value: v.clone(),
                    is_regex: false,
                    is_equal: true,
                })
                .collect(),
            starts_at,
            ends_at,
            // The server names the signed-in user.
            created_by: String::new(),
            comment: "Silenced for 2 h from the dashboard".into(),
        };
        busy.set(true);
        spawn_local(async move {
            match api::create_silence(&body).await {
                Ok(_) => refresh.run(()),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let state_class = match a.state {
        AlertState::Firing => "badge bad",
        AlertState::Pending => "badge warn",
    };
    let muted = !a.silenced_by.is_empty() || a.inhibited;
    let summary = a.annotations.get("summary").cloned().unwrap_or_default();
    view! {
        <tr class="alert-row" data-fingerprint=a.fingerprint.clone() data-state=a.state.as_str()>
            <td><span class=state_class>{a.state.as_str()}</span>
                {(!a.silenced_by.is_empty()).then(|| view! { " " <span class="badge muted">"silenced"</span> })}
                {a.inhibited.then(|| view! { " " <span class="badge muted">"inhibited"</span> })}
            </td>
            <td><A href=local_link(&a.generator_url)><b class="alert-name">{a.rule.clone()}</b></A>
                <br /><span class="muted">{summary}</span></td>
            <td class="muted">{labels_text(&a.labels)}</td>
            <td>{a.value.clone()}</td>
            <td><RelativeTime at=a.fired_at.clone().unwrap_or(a.since.clone()) /></td>
            <td>
                {(!muted).then(|| view! {
                    <button class="secondary silence-alert" disabled=move || busy.get() on:click=silence>"Silence 2 h"</button>
                })}
                {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            </td>
        </tr>
    }
}

#[component]
fn HistoryRow(h: AlertHistoryEntry) -> impl IntoView {
    view! {
        <tr class="history-row" data-fingerprint=h.fingerprint.clone()>
            <td><A href=local_link(&h.generator_url)>{h.rule.clone()}</A>
                <br /><span class="muted">{h.annotations.get("summary").cloned().unwrap_or_default()}</span></td>
            <td class="muted">{labels_text(&h.labels)}</td>
            <td><RelativeTime at=h.fired_at /></td>
            <td><RelativeTime at=h.resolved_at /></td>
        </tr>
    }
}
