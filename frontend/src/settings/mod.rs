//! `/settings`: who may sign in and with what role (users, invites), API tokens, the audit log,
//! the running config, the projects' DSNs, and one's own password.
//!
//! Owns: the settings view, one file per section. Depends on: `api` (the users, tokens, audit,
//! projects and password routes), `poll`, `components`, the session (`app`).
//!
//! Users, invites, tokens, the audit log and the config are shown to admins only: the server
//! refuses them to anyone else anyway (`auth::roles`), so hiding them only spares others a wall
//! of 403s.

mod audit;
mod config;
mod invites;
mod password;
mod projects;
mod tokens;
mod users;

use leptos::prelude::*;
use panoptes_types::Role;

use crate::app::{Session, use_session};
use crate::live::Topics;
use crate::poll::FALLBACK;

/// What the settings lists refetch on: none of the live feed's messages concern them, so
/// they refresh after their own changes and on the slow fallback.
const QUIET: (Topics, std::time::Duration) = (Topics::NONE, FALLBACK);

/// Bumped by every change made in this view, so the audit log shows it at once.
#[derive(Clone, Copy)]
struct Changed(RwSignal<u64>);

impl Changed {
    fn of_context() -> Option<Changed> {
        use_context::<Changed>()
    }

    fn bump(self) {
        self.0.try_update(|n| *n += 1);
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    provide_context(Changed(RwSignal::new(0)));
    let session = use_session();
    let admin = move || matches!(session.get(), Session::User(p) if p.role == Role::Admin);
    view! {
        <section class="card" id="settings">
            <h1>"Settings"</h1>
            <Show
                when=admin
                fallback=|| view! {
                    <p class="muted" id="settings-not-admin">
                        "Users, API tokens and the audit log are managed by admins."
                    </p>
                }
            >
                <p class="muted">"Users, API tokens, the audit log, the config, projects and your password."</p>
            </Show>
        </section>
        <Show when=admin>
            <users::Users />
            <tokens::Tokens />
            <audit::Audit />
            <config::RunningConfig />
        </Show>
        <projects::Projects />
        <password::Password />
    }
}

/// The role picker the user and token forms share.
#[component]
fn RoleSelect(value: RwSignal<Role>, #[prop(optional)] name: &'static str) -> impl IntoView {
    view! {
        <select
            name=name
            prop:value=move || value.get().as_str()
            on:change=move |ev| {
                if let Ok(r) = event_target_value(&ev).parse() {
                    value.set(r);
                }
            }
        >
            {Role::ALL
                .into_iter()
                .map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> })
                .collect_view()}
        </select>
    }
}
