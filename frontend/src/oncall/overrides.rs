//! Overrides: someone covers a schedule for a while (a swap, a sick day). The form takes the
//! schedule, who covers, and a start and end in the browser's time zone; each override can be
//! edited (who and when) or deleted.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{NewOverride, OverrideUpdate, OverrideView};

use super::local_time;
use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, Table, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

/// Who the form offers: everyone in a layer or with contact methods.
#[derive(Clone, PartialEq)]
struct Choices {
    schedules: Vec<String>,
    users: Vec<String>,
}

async fn choices() -> Result<Choices, ApiError> {
    let schedules = api::schedules().await?;
    let mut users: Vec<String> = schedules
        .iter()
        .flat_map(|s| s.layers.iter().flat_map(|l| l.users.iter().cloned()))
        .collect();
    users.sort();
    users.dedup();
    Ok(Choices {
        schedules: schedules.into_iter().map(|s| s.name).collect(),
        users,
    })
}

/// A `datetime-local` value (`2026-12-05T09:00`, the browser's zone) as RFC 3339 UTC; `None`
/// when the browser cannot read it.
fn to_rfc3339(local: &str) -> Option<String> {
    if local.is_empty() {
        return None;
    }
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(local));
    (!d.get_time().is_nan()).then(|| String::from(d.to_iso_string()))
}

/// Now rounded down to the minute plus `hours`, as a `datetime-local` value.
fn local_input(hours: f64) -> String {
    input_value(&js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        js_sys::Date::now() + hours * 3_600_000.0,
    )))
}

/// An RFC 3339 time as a `datetime-local` value in the browser's zone (empty if unreadable).
fn input_of(rfc3339: &str) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(rfc3339));
    if d.get_time().is_nan() {
        return String::new();
    }
    input_value(&d)
}

fn input_value(d: &js_sys::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

#[component]
pub fn Overrides(changed: Callback<()>) -> impl IntoView {
    let list = use_poll_on(Topics::NONE, EVERY, api::overrides);
    let choices = use_poll_on(Topics::NONE, EVERY, choices);
    let refresh = Callback::new(move |()| {
        list.refetch();
        changed.run(());
    });
    view! {
        <section class="card" id="overrides">
            <h2>"Overrides"</h2>
            {move || loaded(list.get(), "overrides", move |items| {
                if items.is_empty() {
                    view! { <Empty>"No overrides."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["Schedule", "Who", "From", "Until", "By", ""] class="overrides">
                            {items.into_iter().map(|o| view! { <OverrideRow o=o refresh=refresh /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
            {move || loaded(choices.get(), "schedules", move |c| view! { <OverrideForm c=c refresh=refresh /> })}
        </section>
    }
}

#[component]
fn OverrideForm(c: Choices, refresh: Callback<()>) -> impl IntoView {
    let schedule = RwSignal::new(c.schedules.first().cloned().unwrap_or_default());
    let user = RwSignal::new(String::new());
    let start = RwSignal::new(local_input(0.0));
    let end = RwSignal::new(local_input(8.0));
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(s), Some(e)) = (
            to_rfc3339(&start.get_untracked()),
            to_rfc3339(&end.get_untracked()),
        ) else {
            error.set(Some(unreadable_times()));
            return;
        };
        let body = NewOverride {
            schedule: schedule.get_untracked(),
            user: user.get_untracked().trim().to_string(),
            start: s,
            end: e,
        };
        busy.set(true);
        spawn_local(async move {
            match api::create_override(&body).await {
                Ok(_) => {
                    error.try_set(None);
                    user.try_set(String::new());
                    refresh.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    if c.schedules.is_empty() {
        return ().into_any();
    }
    view! {
        <form id="override-form" class="inline-form" on:submit=submit>
            <label>"Schedule "
                <select name="schedule" prop:value=move || schedule.get()
                    on:change=move |ev| schedule.set(event_target_value(&ev))>
                    {c.schedules.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                </select>
            </label>
            <label>" Who "
                <input name="user" list="oncall-users" required=true autocomplete="off"
                    prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev)) />
                <datalist id="oncall-users">
                    {c.users.into_iter().map(|u| view! { <option value=u /> }).collect_view()}
                </datalist>
            </label>
            <label>" From "
                <input name="start" type="datetime-local" required=true
                    prop:value=move || start.get() on:input=move |ev| start.set(event_target_value(&ev)) />
            </label>
            <label>" Until "
                <input name="end" type="datetime-local" required=true
                    prop:value=move || end.get() on:input=move |ev| end.set(event_target_value(&ev)) />
            </label>
            " "
            <button type="submit" disabled=move || busy.get()>"Add override"</button>
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
        </form>
    }
    .into_any()
}

/// The error a form shows when a time input cannot be read.
fn unreadable_times() -> ApiError {
    ApiError::Api {
        status: 400,
        code: "invalid".into(),
        message: "start and end: pick a date and a time".into(),
    }
}

#[component]
fn OverrideRow(o: OverrideView, refresh: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let editing = RwSignal::new(false);
    let user = RwSignal::new(o.user.clone());
    let start = RwSignal::new(input_of(&o.start));
    let end = RwSignal::new(input_of(&o.end));
    let id = o.id;
    let remove = move |_| {
        spawn_local(async move {
            match api::delete_override(id).await {
                Ok(()) => refresh.run(()),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let save = move |_| {
        let (Some(s), Some(e)) = (
            to_rfc3339(&start.get_untracked()),
            to_rfc3339(&end.get_untracked()),
        ) else {
            error.set(Some(unreadable_times()));
            return;
        };
        let body = OverrideUpdate {
            schedule: None,
            user: Some(user.get_untracked().trim().to_string()),
            start: Some(s),
            end: Some(e),
        };
        spawn_local(async move {
            let path = format!("/oncall/overrides/{id}");
            match super::contacts::put::<_, OverrideView>(&path, &body).await {
                Ok(_) => {
                    error.try_set(None);
                    editing.try_set(false);
                    refresh.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let (shown_user, shown_start, shown_end) = (o.user.clone(), o.start.clone(), o.end.clone());
    let cells = move || {
        if editing.get() {
            view! {
                <td><input name="user" required=true autocomplete="off"
                    prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev)) /></td>
                <td><input name="start" type="datetime-local" required=true
                    prop:value=move || start.get() on:input=move |ev| start.set(event_target_value(&ev)) /></td>
                <td><input name="end" type="datetime-local" required=true
                    prop:value=move || end.get() on:input=move |ev| end.set(event_target_value(&ev)) /></td>
            }
            .into_any()
        } else {
            view! {
                <td><b>{shown_user.clone()}</b></td>
                <td>{local_time(&shown_start)}</td>
                <td>{local_time(&shown_end)}</td>
            }
            .into_any()
        }
    };
    view! {
        <tr class="override-row" data-id=o.id.to_string() data-user=o.user.clone()>
            <td>{o.schedule.clone()}</td>
            {cells}
            <td class="muted">{o.created_by.clone()}</td>
            <td>
                {move || if editing.get() {
                    view! {
                        <button class="save-override" on:click=save>"Save"</button>
                        " "
                        <button class="secondary" on:click=move |_| editing.set(false)>"Cancel"</button>
                    }
                    .into_any()
                } else {
                    view! {
                        <button class="secondary edit-override" on:click=move |_| editing.set(true)>"Edit"</button>
                        " "
                        <button class="secondary delete-override" on:click=remove>"Delete"</button>
                    }
                    .into_any()
                }}
                {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            </td>
        </tr>
    }
}
