//! One's own password: the current one, then the new one twice.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::PasswordChange;

use crate::api::{self, ApiError};
use crate::components::ErrorNote;

#[component]
pub fn Password() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let done = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        done.set(false);
        if new.get_untracked() != again.get_untracked() {
            error.set(Some(ApiError::Api {
                status: 400,
                code: "invalid".into(),
                message: "the two new passwords differ".into(),
            }));
            return;
        }
        let body = PasswordChange {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        };
        busy.set(true);
        spawn_local(async move {
            match api::post_no_content("/me/password", &body).await {
                Ok(()) => {
                    error.try_set(None);
                    done.try_set(true);
                    for s in [current, new, again] {
                        s.try_set(String::new());
                    }
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let field = |label: &'static str,
                 name: &'static str,
                 auto: &'static str,
                 v: RwSignal<String>| {
        view! {
            <label>{label}
                <input type="password" name=name autocomplete=auto required=true
                    prop:value=move || v.get() on:input=move |ev| v.set(event_target_value(&ev)) />
            </label>
        }
    };
    view! {
        <section class="card" id="settings-password">
            <h2>"Your password"</h2>
            <form id="password-form" class="inline-form" on:submit=submit>
                {field("Current password", "current", "current-password", current)}
                {field("New password", "new", "new-password", new)}
                {field("New password again", "again", "new-password", again)}
                <button type="submit" disabled=move || busy.get()>"Change password"</button>
            </form>
            {move || done.get().then(|| view! { <p class="ok note" id="password-changed">"Password changed."</p> })}
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
        </section>
    }
}
