//! The login screen (`/login?next=/where/you/were`), or, while nobody exists yet, the form that
//! creates the first admin.

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

    // While no user exists, the first-admin form takes the login form's place.
    let setup = RwSignal::new(None::<panoptes_types::SetupState>);
    spawn_local(async move {
        if let Ok(state) = api::setup_state().await {
            setup.try_set(Some(state));
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
            {move || setup.get().filter(|s| s.needed).map(|s| view! { <FirstAdmin code_required=s.code_required /> })}
            <form class="card login" id="login-form" on:submit=submit
                hidden=move || setup.get().is_some_and(|s| s.needed)>
                <h1>"Panoptes"</h1>
                <p class="muted">"Sign in to the dashboard."</p>
                <Field label="User name" id="username" kind="text" autocomplete="username" value=username />
                <Field label="Password" id="password" kind="password" autocomplete="current-password" value=password />
                <button id="login" type="submit" disabled=move || busy.get()>"Sign in"</button>
                {move || error.get().map(|e| view! { <p id="login-error" class="error" role="alert">{e}</p> })}
            </form>
        </main>
    }
}

/// Creates the first admin (only while nobody exists) and signs them in.
#[component]
fn FirstAdmin(code_required: bool) -> impl IntoView {
    let session = use_session();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let req = panoptes_types::SetupRequest {
            username: username.get_untracked(),
            password: password.get_untracked(),
            code: Some(code.get_untracked()).filter(|c| !c.is_empty()),
        };
        spawn_local(async move {
            match api::setup(&req).await {
                Ok(principal) => session.set(Session::User(principal)),
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <form class="card login" id="setup-form" on:submit=submit>
            <h1>"Welcome to Panoptes"</h1>
            <p class="muted">"Nobody has an account yet. Create the first admin: they can add everyone else."</p>
            <Field label="User name" id="setup-username" kind="text" autocomplete="username" value=username />
            <Field label="Password (at least 8 characters)" id="setup-password" kind="password" autocomplete="new-password" value=password />
            {code_required.then(|| view! {
                <Field label="Setup code (printed in the server's log at start-up)" id="setup-code" kind="text" autocomplete="off" value=code />
            })}
            <button id="setup" type="submit" disabled=move || busy.get()>"Create admin and sign in"</button>
            {move || error.get().map(|e| view! { <p id="setup-error" class="error" role="alert">{e}</p> })}
        </form>
    }
}

/// A labelled, required text input bound to `value`.
#[component]
fn Field(
    label: &'static str,
    id: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input id=id type=kind autocomplete=autocomplete required
                prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}
