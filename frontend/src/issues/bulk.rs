//! Resolve / Ignore / Unresolve for the checked rows: one `PATCH /projects/{id}/issues`, all or
//! nothing. The outcome, or the server's refusal, is announced to screen readers.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use panoptes_types::{IssueStatus, IssueSummary};

use super::api;
use crate::api::ApiError;
use crate::components::ErrorNote;

const ACTIONS: [(IssueStatus, &str, &str, &str); 3] = [
    (IssueStatus::Resolved, "bulk-resolve", "Resolve", "resolved"),
    (IssueStatus::Ignored, "bulk-ignore", "Ignore", "ignored"),
    (
        IssueStatus::Unresolved,
        "bulk-unresolve",
        "Unresolve",
        "unresolved",
    ),
];

#[component]
pub fn BulkBar(
    project: Memo<Option<u64>>,
    rows: Memo<Vec<IssueSummary>>,
    selected: RwSignal<BTreeSet<u64>>,
    /// Called with the changed issues as they now are.
    changed: Callback<Vec<IssueSummary>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let outcome = RwSignal::new(String::new());
    // Only rows still shown count (a refresh may have taken some away).
    let chosen = Memo::new(move |_| {
        selected.with(|s| {
            rows.with(|r| {
                r.iter()
                    .map(|i| i.id)
                    .filter(|id| s.contains(id))
                    .collect::<Vec<_>>()
            })
        })
    });
    let act = move |status: IssueStatus, done: &'static str| {
        let (Some(p), ids) = (project.get_untracked(), chosen.get_untracked()) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        busy.set(true);
        error.set(None);
        outcome.set(String::new());
        spawn_local(async move {
            match api::set_statuses(p, ids, status).await {
                Ok(r) => {
                    let n = r.items.len();
                    outcome.try_set(format!(
                        "{n} issue{} {done}.",
                        if n == 1 { "" } else { "s" }
                    ));
                    changed.run(r.items);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            busy.try_set(false);
        });
    };
    view! {
        <div class="bulk" role="toolbar" aria-label="Change the checked issues">
            {ACTIONS.into_iter().map(|(status, id, label, done)| view! {
                <button id=id class="secondary"
                    disabled=move || busy.get() || chosen.with(Vec::is_empty)
                    on:click=move |_| act(status, done)>{label}</button>
            }).collect_view()}
            <span class="muted" id="bulk-status" aria-live="polite">
                {move || {
                    let n = chosen.with(Vec::len);
                    let said = outcome.get();
                    match (n, said.is_empty()) {
                        (0, true) => "Check issues to change several at once.".to_string(),
                        (0, false) => said,
                        (n, _) => format!("{n} checked."),
                    }
                }}
            </span>
        </div>
        {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
    }
}
