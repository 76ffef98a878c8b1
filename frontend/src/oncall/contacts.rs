//! People and how they are paged: everyone with contact methods (their own, or the config's),
//! their calendar, and a form for the signed-in person's own contact methods: a JSON list in
//! the config's shape (`[{"email": "ana@example.com"}, {"ntfy": {"topic": "ana"}, "after": "2m"}]`)
//! that replaces the config's for them, or goes away to bring the config's back.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{API_PREFIX, CSRF_HEADER, ErrorBody, OnCallUser};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, Table, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

const EXAMPLE: &str =
    r#"[{"email": "me@example.com"}, {"ntfy": {"topic": "me-pages"}, "after": "2m"}]"#;

/// A PUT under the API prefix, by the rules of `crate::api` (CSRF header, JSON, the API's
/// error body), which has no PUT of its own.
pub(super) async fn put<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    let json = serde_json::to_string(body).map_err(|e| ApiError::Decode(e.to_string()))?;
    let resp = gloo_net::http::Request::put(&format!("{API_PREFIX}{path}"))
        .header("accept", "application/json")
        .header(CSRF_HEADER, "1")
        .header("content-type", "application/json")
        .body(json)
        .map_err(|e| ApiError::Network(e.to_string()))?
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if !resp.ok() {
        let status = resp.status();
        let (code, message) = match resp.json::<ErrorBody>().await {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (
                format!("http_{status}"),
                format!("request failed with HTTP {status}"),
            ),
        };
        return Err(if status == 401 {
            ApiError::Unauthorized(message)
        } else {
            ApiError::Api {
                status,
                code,
                message,
            }
        });
    }
    resp.json::<T>()
        .await
        .map_err(|e| ApiError::Decode(e.to_string()))
}

fn contacts_path(user: &str) -> String {
    format!("/oncall/users/{}/contacts", api::segment(user))
}

/// Who is signed in, and the list they set (as they wrote it), if any.
#[derive(Clone, PartialEq)]
struct Mine {
    user: String,
    text: Option<String>,
}

async fn mine() -> Result<Mine, ApiError> {
    let me = api::me().await?;
    let text = match api::get::<serde_json::Value>(&contacts_path(&me.name)).await {
        Ok(v) => serde_json::to_string_pretty(&v).ok(),
        Err(ApiError::Api { status: 404, .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Mine {
        user: me.name,
        text,
    })
}

#[component]
pub fn People() -> impl IntoView {
    let users = use_poll_on(Topics::NONE, EVERY, || {
        api::list::<OnCallUser>("/oncall/users")
    });
    // The form's own state is what is being edited: fetched again only after a change.
    let me = use_poll_on(Topics::NONE, std::time::Duration::from_secs(3600), mine);
    let changed = Callback::new(move |()| {
        users.refetch();
        me.refetch();
    });
    view! {
        <section class="card" id="people">
            <h2>"People"</h2>
            {move || loaded(users.get(), "people", |list| {
                if list.is_empty() {
                    view! { <Empty>"Nobody has contact methods yet."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["Who", "Contact methods", "Calendar"] class="people">
                            {list.into_iter().map(|u| view! { <Person u=u /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
            {move || me.get().and_then(Result::ok).map(|m| view! { <MyContacts m=m changed=changed /> })}
        </section>
    }
}

#[component]
fn Person(u: OnCallUser) -> impl IntoView {
    let methods = u
        .contacts
        .iter()
        .map(|c| match c.after_seconds {
            0 => format!("{} {}", c.method, c.target),
            s => format!("{} {} (after {} min)", c.method, c.target, s / 60),
        })
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <tr class="person-row" data-user=u.user.clone()>
            <td><b>{u.user.clone()}</b></td>
            <td>
                {methods}
                {u.own.then(|| view! { " " <span class="badge">"set by them"</span> })}
            </td>
            <td><a href=u.ical_url.clone()>"iCalendar"</a></td>
        </tr>
    }
}

#[component]
fn MyContacts(m: Mine, changed: Callback<()>) -> impl IntoView {
    let has_own = m.text.is_some();
    let text = RwSignal::new(m.text.unwrap_or_default());
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let path = contacts_path(&m.user);
    let save_path = path.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body: serde_json::Value = match serde_json::from_str(&text.get_untracked()) {
            Ok(v) => v,
            Err(e) => {
                error.set(Some(ApiError::Api {
                    status: 400,
                    code: "invalid".into(),
                    message: format!("not JSON: {e}"),
                }));
                return;
            }
        };
        let path = save_path.clone();
        busy.set(true);
        spawn_local(async move {
            match put::<_, OnCallUser>(&path, &body).await {
                Ok(_) => {
                    error.try_set(None);
                    changed.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    let reset = move |_| {
        let path = path.clone();
        busy.set(true);
        spawn_local(async move {
            match api::delete(&path).await {
                Ok(()) => {
                    error.try_set(None);
                    text.try_set(String::new());
                    changed.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <form id="contacts-form" on:submit=save>
            <h3>{format!("Your contact methods ({})", m.user)}</h3>
            <p class="muted">
                "In the order they are tried, as in the config's `oncall.contacts`; they replace the config's for you."
            </p>
            <textarea name="contacts" rows="5" cols="80" placeholder=EXAMPLE
                prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <div>
                <button type="submit" disabled=move || busy.get()>"Save"</button>
                " "
                {has_own.then(|| view! {
                    <button type="button" class="secondary" disabled=move || busy.get() on:click=reset>
                        "Use the config's"
                    </button>
                })}
            </div>
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
        </form>
    }
}
