//! Silences: active and pending ones first, with their matchers, author and comment; Expire.

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{SilenceState, SilenceView};

use crate::api::{self, ApiError};
use crate::components::{Empty, ErrorNote, RelativeTime, Table, loaded};
use crate::poll::Poll;

#[component]
pub fn Silences(silences: Poll<Vec<SilenceView>>) -> impl IntoView {
    let refresh = Callback::new(move |()| silences.refetch());
    view! {
        <section class="card" id="silences">
            <h2>"Silences"</h2>
            {move || loaded(silences.get(), "silences", move |list| {
                if list.is_empty() {
                    view! { <Empty>"No silences. Silence a firing alert from its row, or POST /api/v1/silences."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["State", "Matchers", "By", "Comment", "Ends", ""] class="silences">
                            {list.into_iter().map(|s| view! { <SilenceRow s=s refresh=refresh /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
        </section>
    }
}

fn state_text(s: SilenceState) -> &'static str {
    match s {
        SilenceState::Active => "active",
        SilenceState::Pending => "pending",
        SilenceState::Expired => "expired",
    }
}

#[component]
fn SilenceRow(s: SilenceView, refresh: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let id = s.id.clone();
    let expire = move |_| {
        let id = id.clone();
        spawn_local(async move {
            match api::expire_silence(&id).await {
                Ok(()) => refresh.run(()),
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let matchers = s
        .matchers
        .iter()
        .map(|m| {
            let op = match (m.is_regex, m.is_equal) {
                (false, true) => "=",
                (false, false) => "!=",
                (true, true) => "=~",
                (true, false) => "!~",
            };
            format!("{}{op}\"{}\"", m.name, m.value)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let state = s.status.state;
    view! {
        <tr class="silence-row" data-id=s.id.clone() data-state=state_text(state)>
            <td><span class="badge muted">{state_text(state)}</span></td>
            <td><code>{matchers}</code></td>
            <td>{s.created_by.clone()}</td>
            <td>{s.comment.clone()}</td>
            <td><RelativeTime at=s.ends_at.clone() /></td>
            <td>
                {(state != SilenceState::Expired).then(|| view! {
                    <button class="secondary expire-silence" on:click=expire>"Expire"</button>
                })}
                {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            </td>
        </tr>
    }
}
