//! Invites (admins only, under Users): make a one-time link with a role (and, optionally, the
//! user name it must create); the link is shown once, to copy and send; pending invites are
//! listed with a button to revoke each.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{CreatedInvite, InviteInfo, NewInvite, Role};

use super::{QUIET, RoleSelect};
use crate::api::{self, ApiError};
use crate::components::{ErrorNote, RelativeTime, Table, loaded};
use crate::poll::use_poll_on;

/// The lifetimes offered (the API takes any from 1 s to 30 d).
const LIFETIMES: &[(&str, &str)] = &[("1d", "1 day"), ("7d", "7 days"), ("30d", "30 days")];

#[component]
pub fn Invites() -> impl IntoView {
    let invites = use_poll_on(QUIET.0, QUIET.1, || api::list::<InviteInfo>("/invites"));
    let changed = super::Changed::of_context();
    let refresh = Callback::new(move |()| {
        invites.refetch();
        if let Some(c) = changed {
            c.bump();
        }
    });
    view! {
        <div id="settings-invites">
            <h3>"Invites"</h3>
            <p class="muted">
                "A one-time link lets someone choose their own name and password and join with the role you pick."
            </p>
            <NewInviteForm refresh=refresh />
            {move || loaded(invites.get(), "invites", move |list| {
                if list.is_empty() {
                    return view! { <p class="muted" id="no-invites">"No pending invites."</p> }.into_any();
                }
                view! {
                    <Table headers=&["Invite", "Role", "For", "By", "Expires", ""] class="invites">
                        {list.into_iter().map(|i| view! { <InviteRow i=i refresh=refresh /> }).collect_view()}
                    </Table>
                }
                .into_any()
            })}
        </div>
    }
}

#[component]
fn NewInviteForm(refresh: Callback<()>) -> impl IntoView {
    let role = RwSignal::new(Role::Viewer);
    let username = RwSignal::new(String::new());
    let lifetime = RwSignal::new("7d".to_string());
    let error = RwSignal::new(None::<ApiError>);
    // The link just made: shown until the next one.
    let made = RwSignal::new(None::<CreatedInvite>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = username.get_untracked().trim().to_string();
        let body = NewInvite {
            role: role.get_untracked(),
            username: (!name.is_empty()).then_some(name),
            expires_in: Some(lifetime.get_untracked()),
        };
        busy.set(true);
        spawn_local(async move {
            match api::post::<_, CreatedInvite>("/invites", &body).await {
                Ok(created) => {
                    error.try_set(None);
                    username.try_set(String::new());
                    made.try_set(Some(created));
                    refresh.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <form id="new-invite" class="inline-form" on:submit=submit>
            <label>"Role " <RoleSelect value=role name="invite-role" /></label>
            <label>"User name (optional)"
                <input name="invite-username" autocomplete="off" placeholder="their choice"
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
            </label>
            <label>"Expires in "
                <select name="invite-expires" prop:value=move || lifetime.get()
                    on:change=move |ev| lifetime.set(event_target_value(&ev))>
                    {LIFETIMES.iter().map(|(v, label)| view! { <option value=*v>{*label}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" id="invite" disabled=move || busy.get()>"Invite"</button>
        </form>
        {move || made.get().map(|c| view! {
            <p class="note" id="invite-link">
                "Invite link (" {c.role.as_str()} ", until " <RelativeTime at=c.expires_at.clone() /> "): "
                <code class="dsn" id="invite-url">{c.url}</code>
                <br />
                <span class="muted">"Copy it now and send it: it is not shown again, and it works once."</span>
            </p>
        })}
        {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
    }
}

#[component]
fn InviteRow(i: InviteInfo, refresh: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let id = i.id.clone();
    let revoke = move |_| {
        let sure = window()
            .confirm_with_message("Revoke this invite? Its link stops working.")
            .unwrap_or(false);
        if !sure {
            return;
        }
        let id = id.clone();
        spawn_local(async move {
            match api::delete(&format!("/invites/{}", api::segment(&id))).await {
                Ok(()) => refresh.run(()),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <tr class="invite-row" data-id=i.id.clone()>
            <td><code>{i.id.clone()}</code></td>
            <td>{i.role.as_str()}</td>
            <td>{i.username.clone().unwrap_or_else(|| "anyone".into())}</td>
            <td>{i.created_by.clone()}</td>
            <td><RelativeTime at=i.expires_at.clone() /></td>
            <td>
                <button class="secondary revoke-invite" on:click=revoke>"Revoke"</button>
                {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            </td>
        </tr>
    }
}
