//! Maintenance windows on the monitors page: every window in force (the config's marked and
//! read-only), and for editors a form for a one-off window (name, monitors or groups, start and
//! end) and a Delete for the ones made here. Recurring windows are written in the config, or
//! sent to `POST /api/v1/maintenance` with `every`/`at`/`duration`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{MaintenanceView, MonitorSource};
use serde_json::{Value, json};

use crate::api::{self, ApiError};
use crate::components::{ErrorNote, Table, loaded};
use crate::live::Topics;
use crate::poll::{FALLBACK, use_poll_on};

fn list_text(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn when(c: &Value) -> String {
    match (
        c["start"].as_str(),
        c["end"].as_str(),
        c["every"].as_array(),
    ) {
        (Some(s), Some(e), _) => format!("{s} → {e}"),
        (_, _, Some(_)) => format!(
            "every {} at {} for {} ({})",
            list_text(&c["every"]),
            c["at"].as_str().unwrap_or(""),
            c["duration"].as_str().unwrap_or(""),
            c["timezone"].as_str().unwrap_or("UTC")
        ),
        _ => String::new(),
    }
}

/// `2026-12-06T10:00` from a `datetime-local` input, as RFC 3339 in the browser's time zone.
fn local_to_rfc3339(s: &str) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(s));
    if d.get_time().is_nan() {
        return s.to_string();
    }
    String::from(d.to_iso_string())
}

#[component]
pub fn Windows(editor: impl Fn() -> bool + Copy + Send + Sync + 'static) -> impl IntoView {
    let windows = use_poll_on(Topics::NONE, FALLBACK, api::maintenance_windows);
    let error = RwSignal::new(None::<ApiError>);
    let done = move |r: Result<(), ApiError>| match r {
        Ok(()) => {
            error.set(None);
            windows.refetch();
        }
        Err(e) => error.set(Some(e)),
    };
    let (name, monitors, start, end) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scope: Vec<String> = monitors
            .get_untracked()
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        let body = json!({
            "name": name.get_untracked().trim(),
            "monitors": scope,
            "start": local_to_rfc3339(&start.get_untracked()),
            "end": local_to_rfc3339(&end.get_untracked()),
        });
        spawn_local(async move { done(api::create_maintenance(&body).await) });
    };
    view! {
        <section class="card" id="maintenance">
            <h2>"Maintenance windows"</h2>
            {move || loaded(windows.get(), "maintenance windows", move |list| {
                if list.is_empty() {
                    return view! { <p class="muted empty">"None. Results inside a window count as MAINTENANCE, not downtime."</p> }.into_any();
                }
                view! {
                    <Table headers=&["Name", "Monitors", "Groups", "When", ""] class="windows">
                        {list.into_iter().map(|w: MaintenanceView| {
                            let c = w.config;
                            let wname = c["name"].as_str().unwrap_or("").to_string();
                            let managed = w.source == MonitorSource::Api;
                            let target = wname.clone();
                            let shown = wname.clone();
                            let remove = move |_| {
                                let target = target.clone();
                                spawn_local(async move { done(api::delete_maintenance(&target).await) });
                            };
                            view! {
                                <tr class="window-row" data-name=wname.clone()>
                                    <td>{shown}{(!managed).then(|| view! { <span class="badge muted from-config">" config"</span> })}</td>
                                    <td>{list_text(&c["monitors"])}</td>
                                    <td>{list_text(&c["groups"])}</td>
                                    <td>{when(&c)}</td>
                                    <td>{(managed && editor()).then(|| view! {
                                        <button class="secondary small delete-window" on:click=remove>"End"</button>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </Table>
                }
                .into_any()
            })}
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            <Show when=editor>
                <form class="inline-form" id="new-window" on:submit=submit>
                    <label>"Name"<input name="name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) /></label>
                    <label>"Monitors (comma-separated; none: all)"<input name="monitors" prop:value=monitors on:input=move |ev| monitors.set(event_target_value(&ev)) /></label>
                    <label>"Start"<input name="start" type="datetime-local" required prop:value=start on:input=move |ev| start.set(event_target_value(&ev)) /></label>
                    <label>"End"<input name="end" type="datetime-local" required prop:value=end on:input=move |ev| end.set(event_target_value(&ev)) /></label>
                    <button type="submit">"Add window"</button>
                </form>
            </Show>
        </section>
    }
}
