//! The page an invite link opens (`/invite/:token`), outside the signed-in shell: what the link
//! offers, and a form to choose a user name and a password. Accepting signs the new user in and
//! goes to the overview; a used, expired or revoked link says so and points to the login.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use panoptes_types::{AcceptInvite, InviteState, Principal};

use crate::api::{self, ApiError};
use crate::app::{Session, use_session};
use crate::components::{Loading, RelativeTime};

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token").unwrap_or_default());
    // `None` while asking; then what the link offers, or why it cannot be used.
    let state = RwSignal::new(None::<Result<InviteState, ApiError>>);
    Effect::new(move || {
        let t = token();
        spawn_local(async move {
            let answer = api::get::<InviteState>(&format!("/invites/{}", api::segment(&t))).await;
            state.try_set(Some(answer));
        });
    });
    view! {
        <main>
            {move || match state.get() {
                None => view! { <Loading what="invite" /> }.into_any(),
                Some(Err(e)) => view! {
                    <section class="card login" id="invite-invalid">
                        <h1>"This invite cannot be used"</h1>
                        <p class="error" role="alert" id="invite-error">{e.to_string()}</p>
                        <p><A href="/login">"Sign in"</A></p>
                    </section>
                }
                .into_any(),
                Some(Ok(s)) => view! { <AcceptForm token=token() state=s /> }.into_any(),
            }}
        </main>
    }
}

#[component]
fn AcceptForm(token: String, state: InviteState) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let fixed = state.username.clone();
    let username = RwSignal::new(fixed.clone().unwrap_or_default());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let body = AcceptInvite {
            username: username.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        let path = format!("/invites/{}/accept", api::segment(&token));
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::post::<_, Principal>(&path, &body).await {
                Ok(p) => {
                    session.set(Session::User(p));
                    navigate(
                        "/",
                        NavigateOptions {
                            replace: true,
                            ..Default::default()
                        },
                    );
                }
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <form class="card login" id="invite-form" on:submit=submit>
            <h1>"Join Panoptes"</h1>
            <p class="muted">
                "You are invited as " <b id="invite-role">{state.role.as_str()}</b>
                ". The link works once, until " <RelativeTime at=state.expires_at.clone() /> "."
            </p>
            <label>
                "User name"
                <input id="invite-username" type="text" autocomplete="username" required
                    readonly=fixed.is_some()
                    prop:value=username on:input=move |ev| username.set(event_target_value(&ev)) />
            </label>
            <label>
                "Password (at least 8 characters)"
                <input id="invite-password" type="password" autocomplete="new-password" required
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
            </label>
            <button id="invite-accept" type="submit" disabled=move || busy.get()>"Create my account and sign in"</button>
            {move || error.get().map(|e| view! { <p id="invite-accept-error" class="error" role="alert">{e}</p> })}
        </form>
    }
}
