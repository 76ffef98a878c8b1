//! API tokens (admins only): list, create with a role (the secret is shown once, right here),
//! revoke.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{CreateToken, CreatedToken, Role, TokenInfo};

use super::{QUIET, RoleSelect};
use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, RelativeTime, Table, loaded};
use crate::poll::use_poll_on;

#[component]
pub fn Tokens() -> impl IntoView {
    let tokens = use_poll_on(QUIET.0, QUIET.1, || api::list::<TokenInfo>("/tokens"));
    let changed = super::Changed::of_context();
    let refresh = Callback::new(move |()| {
        tokens.refetch();
        if let Some(c) = changed {
            c.bump();
        }
    });
    view! {
        <section class="card" id="settings-tokens">
            <h2>"API tokens"</h2>
            {move || loaded(tokens.get(), "tokens", move |list| {
                if list.is_empty() {
                    return view! { <Empty>"No API tokens."</Empty> }.into_any();
                }
                view! {
                    <Table headers=&["Name", "Role", "Created", ""] class="tokens">
                        {list.into_iter().map(|t| view! { <TokenRow t=t refresh=refresh /> }).collect_view()}
                    </Table>
                }
                .into_any()
            })}
            <NewTokenForm refresh=refresh />
        </section>
    }
}

#[component]
fn NewTokenForm(refresh: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let error = RwSignal::new(None::<ApiError>);
    // The secret of the token just created: shown until the next one.
    let secret = RwSignal::new(None::<CreatedToken>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = CreateToken {
            name: name.get_untracked().trim().to_string(),
            role: Some(role.get_untracked()),
        };
        busy.set(true);
        spawn_local(async move {
            match api::post::<_, CreatedToken>("/tokens", &body).await {
                Ok(created) => {
                    error.try_set(None);
                    name.try_set(String::new());
                    secret.try_set(Some(created));
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
        <form id="new-token" class="inline-form" on:submit=submit>
            <label>"Name"
                <input name="name" required=true autocomplete="off"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label>"Role " <RoleSelect value=role name="role" /></label>
            <button type="submit" disabled=move || busy.get()>"Create token"</button>
        </form>
        {move || secret.get().map(|c| view! {
            <p class="note" id="token-secret">
                "Token " <b>{c.info.name}</b> " (" {c.info.role.as_str()} "): "
                <code>{c.token}</code>
                <br />
                <span class="muted">"Copy it now: it is not shown again. Send it as `Authorization: Bearer <token>`."</span>
            </p>
        })}
        {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
    }
}

#[component]
fn TokenRow(t: TokenInfo, refresh: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let id = t.id.clone();
    let name = t.name.clone();
    let revoke = move |_| {
        let sure = window()
            .confirm_with_message(&format!(
                "Revoke the token {name}? Clients using it stop working."
            ))
            .unwrap_or(false);
        if !sure {
            return;
        }
        let id = id.clone();
        spawn_local(async move {
            match api::delete(&format!("/tokens/{}", api::segment(&id))).await {
                Ok(()) => refresh.run(()),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <tr class="token-row" data-id=t.id.clone()>
            <td>{t.name.clone()}</td>
            <td>{t.role.as_str()}</td>
            <td><RelativeTime at=t.created_at.clone() /></td>
            <td>
                <button class="secondary revoke-token" on:click=revoke>"Revoke"</button>
                {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            </td>
        </tr>
    }
}
