//! The login screen (`/login?next=/where/you/were`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api;
use crate::app::{Session, use_session};

/// Only paths of this site: `next` comes from the URL, so anyone can craft it.
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/login"))
        .unwrap_or_else(|| "/".into())
}

#[component]
pub fn Login() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let navigate = use_navigate();
    // Signed in (just now, or already when the page loaded): go where the user was headed.
    Effect::new(move || {
        if let Session::User(_) = session.get() {
            let next = safe_next(query.with_untracked(|q| q.get("next")));
            navigate(
                &next,
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let (u, p) = (username.get_untracked(), password.get_untracked());
        spawn_local(async move {
            match api::login(u, p).await {
                Ok(principal) => session.set(Session::User(principal)),
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <main>
            <form class="card login" id="login-form" on:submit=submit>
                <h1>"Panoptes"</h1>
                <p class="muted">"Sign in to the dashboard."</p>
                <label>
                    "User name"
                    <input id="username" type="text" autocomplete="username" required
                        prop:value=username on:input=move |ev| username.set(event_target_value(&ev)) />
                </label>
                <label>
                    "Password"
                    <input id="password" type="password" autocomplete="current-password" required
                        prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                </label>
                <button id="login" type="submit" disabled=move || busy.get()>"Sign in"</button>
                {move || error.get().map(|e| view! { <p id="login-error" class="error" role="alert">{e}</p> })}
            </form>
        </main>
    }
}
