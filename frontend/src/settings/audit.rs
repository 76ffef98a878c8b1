//! The audit log (admins only): who did what, newest first, a page at a time.

use leptos::prelude::*;
use panoptes_types::{AuditEntry, Page};

use super::QUIET;
use crate::api::{self, ApiError};
use crate::components::{Empty, RelativeTime, Table, loaded};
use crate::poll::use_poll_on;

/// Entries per page.
const PER_PAGE: usize = 50;

async fn page(cursor: Option<String>) -> Result<Page<AuditEntry>, ApiError> {
    let path = match cursor {
        None => format!("/audit?limit={PER_PAGE}"),
        Some(c) => format!("/audit?limit={PER_PAGE}&cursor={}", api::segment(&c)),
    };
    api::get(&path).await
}

/// Milliseconds since the epoch as RFC 3339, for [`RelativeTime`].
fn rfc3339(ms: u64) -> String {
    String::from(js_sys::Date::new(&(ms as f64).into()).to_iso_string())
}

#[component]
pub fn Audit() -> impl IntoView {
    // The cursors of the pages before the one shown (newest first): Newer pops, Older pushes.
    let before = RwSignal::new(Vec::<Option<String>>::new());
    let cursor = RwSignal::new(None::<String>);
    let entries = use_poll_on(QUIET.0, QUIET.1, move || page(cursor.get()));
    // A change made in this view (a user, a token) is shown at once.
    if let Some(changed) = super::Changed::of_context() {
        Effect::new(move |previous: Option<u64>| {
            let n = changed.0.get();
            if previous.is_some() {
                entries.refetch();
            }
            n
        });
    }
    let older = move |next: String| {
        before.update(|b| b.push(cursor.get_untracked()));
        cursor.set(Some(next));
    };
    let newer = move |_| {
        let previous = before.try_update(|b| b.pop()).flatten();
        if let Some(c) = previous {
            cursor.set(c);
        }
    };
    view! {
        <section class="card" id="settings-audit">
            <h2>"Audit log"</h2>
            {move || loaded(entries.get(), "audit log", move |p| {
                let next = p.next_cursor.clone();
                let rows = if p.items.is_empty() {
                    view! { <Empty>"Nothing recorded yet."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["When", "Who", "What", "Detail"] class="audit">
                            {p.items.into_iter().map(|e| view! {
                                <tr class="audit-row" data-action=e.action.clone() data-actor=e.actor.clone()>
                                    <td><RelativeTime at=rfc3339(e.at_ms) /></td>
                                    <td>{e.actor.clone()}</td>
                                    <td><code>{e.action.clone()}</code></td>
                                    <td>{e.detail.clone()}</td>
                                </tr>
                            }).collect_view()}
                        </Table>
                    }
                    .into_any()
                };
                view! {
                    {rows}
                    <p class="pager">
                        <button class="secondary" id="audit-newer"
                            disabled=move || before.with(Vec::is_empty) on:click=newer>"Newer"</button>
                        " "
                        <button class="secondary" id="audit-older" disabled=next.is_none()
                            on:click=move |_| if let Some(n) = next.clone() { older(n) }>"Older"</button>
                    </p>
                }
                .into_any()
            })}
        </section>
    }
}
