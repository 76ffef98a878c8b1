//! Users (admins only): the list with each one's role and whether they may sign in; create one
//! with a role; change a role; disable or enable; delete; invite by link (`invites.rs`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{NewUser, Role, UserUpdate, UserView};

use super::invites::Invites;
use super::{QUIET, RoleSelect};
use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, RelativeTime, Table, loaded};
use crate::poll::use_poll_on;

fn path(name: &str) -> String {
    format!("/users/{}", api::segment(name))
}

#[component]
pub fn Users() -> impl IntoView {
    let users = use_poll_on(QUIET.0, QUIET.1, || api::list::<UserView>("/users"));
    let changed = super::Changed::of_context();
    let refresh = Callback::new(move |()| {
        users.refetch();
        if let Some(c) = changed {
            c.bump();
        }
    });
    view! {
        <section class="card" id="settings-users">
            <h2>"Users"</h2>
            {move || loaded(users.get(), "users", move |list| {
                if list.is_empty() {
                    return view! { <Empty>"No users."</Empty> }.into_any();
                }
                view! {
                    <Table headers=&["Name", "Role", "Signs in", "Created", ""] class="users">
                        {list.into_iter().map(|u| view! { <UserRow u=u refresh=refresh /> }).collect_view()}
                    </Table>
                }
                .into_any()
            })}
            <NewUserForm refresh=refresh />
            <Invites />
        </section>
    }
}

#[component]
fn NewUserForm(refresh: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewUser {
            username: name.get_untracked().trim().to_string(),
            password: password.get_untracked(),
            role: role.get_untracked(),
        };
        busy.set(true);
        spawn_local(async move {
            match api::post::<_, UserView>("/users", &body).await {
                Ok(_) => {
                    error.try_set(None);
                    name.try_set(String::new());
                    password.try_set(String::new());
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
        <form id="new-user" class="inline-form" on:submit=submit>
            <label>"Name"
                <input name="username" required=true autocomplete="off"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label>"Password"
                <input name="password" type="password" required=true autocomplete="new-password"
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
            </label>
            <label>"Role " <RoleSelect value=role name="role" /></label>
            <button type="submit" disabled=move || busy.get()>"Add user"</button>
        </form>
        {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
    }
}

#[component]
fn UserRow(u: UserView, refresh: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let role = RwSignal::new(u.role);
    let disabled = u.disabled;
    let name = u.username.clone();
    // Every change is a PATCH of the fields it changes, then the list again.
    let change = {
        let name = name.clone();
        move |update: UserUpdate| {
            let name = name.clone();
            spawn_local(async move {
                match api::patch::<_, UserView>(&path(&name), &update).await {
                    Ok(_) => {
                        error.try_set(None);
                        refresh.run(());
                    }
                    Err(e) => {
                        error.try_set(Some(e));
                    }
                }
            });
        }
    };
    let save_role = {
        let change = change.clone();
        move |_| {
            change(UserUpdate {
                role: Some(role.get_untracked()),
                ..Default::default()
            })
        }
    };
    let toggle = move |_| {
        change(UserUpdate {
            disabled: Some(!disabled),
            ..Default::default()
        })
    };
    let remove = {
        let name = name.clone();
        move |_| {
            let sure = window()
                .confirm_with_message(&format!("Delete the user {name}?"))
                .unwrap_or(false);
            if !sure {
                return;
            }
            let name = name.clone();
            spawn_local(async move {
                match api::delete(&path(&name)).await {
                    Ok(()) => refresh.run(()),
                    Err(e) => {
                        error.try_set(Some(e));
                    }
                }
            });
        }
    };
    view! {
        <tr class="user-row" data-name=name.clone() data-role=u.role.as_str() data-disabled=disabled.to_string()>
            <td>{name.clone()}</td>
            <td>
                <RoleSelect value=role />
                " "
                <button class="secondary save-role" disabled=move || role.get() == u.role on:click=save_role>
                    "Save"
                </button>
            </td>
            <td>
                {if disabled {
                    view! { <span class="badge bad">"disabled"</span> }.into_any()
                } else {
                    view! { <span class="badge ok">"yes"</span> }.into_any()
                }}
            </td>
            <td><RelativeTime at=u.created_at.clone() /></td>
            <td>
                <button class="secondary toggle-user" on:click=toggle>
                    {if disabled { "Enable" } else { "Disable" }}
                </button>
                " "
                <button class="secondary delete-user" on:click=remove>"Delete"</button>
                {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            </td>
        </tr>
    }
}
