//! The issue rows of one project under the address's filters: the first page kept fresh (live
//! feed, polling), further pages added by "Load more" through the server's cursor, at most
//! [`MAX_ROWS`] rows drawn; each row keyed, so a page added or a refresh draws only the rows that
//! changed. Editors get a checkbox per row, a select-all and bulk Resolve / Ignore / Unresolve.

use std::collections::{BTreeSet, HashMap, HashSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use panoptes_types::{IssueStatus, IssueSummary, Page};

use super::api;
use super::filters::ListQuery;
use crate::api::ApiError;
use crate::components::{Empty, ErrorNote, LevelBadge, Loading, RelativeTime, row_link};
use crate::live::Topics;
use crate::monitors::can_edit;
use crate::poll::{EVERY, use_poll_on};

/// Most rows the list draws: past this, narrowing the filters beats scrolling.
pub const MAX_ROWS: usize = 1000;

/// The first page, then the pages "Load more" added, without repeats (a refresh of the first
/// page may have moved an issue into it), without the ones a bulk change took out of the
/// filter, at most [`MAX_ROWS`].
fn merge(head: &[IssueSummary], tail: &[IssueSummary], gone: &HashSet<u64>) -> Vec<IssueSummary> {
    let mut seen = HashSet::new();
    head.iter()
        .chain(tail)
        .filter(|i| !gone.contains(&i.id) && seen.insert(i.id))
        .take(MAX_ROWS)
        .cloned()
        .collect()
}

#[component]
pub fn Rows(q: Memo<ListQuery>, project: Memo<Option<u64>>) -> impl IntoView {
    let head = use_poll_on(Topics::ISSUES, EVERY, move || {
        let (p, f) = (project.get(), q.get());
        async move {
            match p {
                Some(p) => api::issues_page(p, &f, None).await,
                None => Ok(Page {
                    items: vec![],
                    next_cursor: None,
                }),
            }
        }
    });
    // Pages after the first, and the cursor after the last of them (`None`: none loaded).
    let tail = RwSignal::new(Vec::<IssueSummary>::new());
    let tail_next = RwSignal::new(None::<Option<String>>);
    // Issues a bulk change took out of this filter, hidden until the first page is fetched anew.
    let gone = RwSignal::new(HashSet::<u64>::new());
    let selected = RwSignal::new(BTreeSet::<u64>::new());
    let more_error = RwSignal::new(None::<ApiError>);
    let loading_more = RwSignal::new(false);
    // Another list (project or filters): start over.
    Effect::new(move |_| {
        project.track();
        q.track();
        tail.set(vec![]);
        tail_next.set(None);
        gone.set(HashSet::new());
        selected.set(BTreeSet::new());
        more_error.set(None);
    });
    Effect::new(move |_| {
        head.get();
        gone.set(HashSet::new());
    });
    let first = Memo::new(move |_| head.get().map(|r| r.map(|p| (p.items, p.next_cursor))));
    let rows = Memo::new(move |_| {
        let Some(Ok((items, _))) = first.get() else {
            return vec![];
        };
        tail.with(|t| gone.with(|g| merge(&items, t, g)))
    });
    let next = Memo::new(move |_| {
        let head_next = first.with(|f| match f {
            Some(Ok((_, n))) => n.clone(),
            _ => None,
        });
        tail_next.get().unwrap_or(head_next)
    });
    let full = move || rows.with(Vec::len) >= MAX_ROWS;

    let load_more = move |_| {
        let (Some(p), Some(cursor)) = (project.get_untracked(), next.get_untracked()) else {
            return;
        };
        let f = q.get_untracked();
        loading_more.set(true);
        more_error.set(None);
        spawn_local(async move {
            let answer = api::issues_page(p, &f, Some(&cursor)).await;
            // Dropped when the list changed meanwhile.
            if project.try_get_untracked() != Some(Some(p)) || q.try_get_untracked() != Some(f) {
                return;
            }
            match answer {
                Ok(page) => {
                    tail.update(|t| t.extend(page.items));
                    tail_next.set(Some(page.next_cursor));
                }
                Err(e) => more_error.set(Some(e)),
            }
            loading_more.set(false);
        });
    };

    let editor = can_edit();
    let changed = Callback::new(move |items: Vec<IssueSummary>| {
        let f = q.get_untracked();
        let now: HashMap<u64, IssueSummary> = items.into_iter().map(|i| (i.id, i)).collect();
        let out: HashSet<u64> = now
            .values()
            .filter(|i| !f.keeps_status(i.status))
            .map(|i| i.id)
            .collect();
        tail.update(|t| {
            for i in t.iter_mut() {
                if let Some(n) = now.get(&i.id) {
                    *i = n.clone();
                }
            }
        });
        gone.update(|g| g.extend(out));
        selected.set(BTreeSet::new());
        head.refetch();
    });

    view! {
        {move || match head.get() {
            None => view! { <Loading what="issues" /> }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
            // Read here, where the first answer is known to have arrived: a block of its own
            // drawn before it did was not redrawn when it came.
            Some(Ok(_)) if rows.with(Vec::is_empty) => {
                if q.with(ListQuery::narrowed) {
                    view! { <Empty>"No issues match these filters."</Empty> }.into_any()
                } else {
                    view! { <Empty>"No unresolved issues."</Empty> }.into_any()
                }
            }
            Some(Ok(_)) => ().into_any(),
        }}
        <Show when=editor>
            <super::bulk::BulkBar project=project rows=rows selected=selected changed=changed />
        </Show>
        <Show when=move || !rows.with(Vec::is_empty)>
            <table class="data issues" aria-describedby="issue-count">
                <thead>
                    <tr>
                        {move || editor().then(|| view! { <th class="select"><SelectAll rows=rows selected=selected /></th> })}
                        <th>"Level"</th>
                        <th>"Issue"</th>
                        <th>"Events"</th>
                        <th>"Users"</th>
                        <th>"Last seen"</th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || rows.get()
                        key=|i| (i.id, i.count, i.users, i.status, i.regressed, i.last_seen.clone())
                        let:i
                    >
                        <IssueRow i=i selected=selected editor=editor() />
                    </For>
                </tbody>
            </table>
        </Show>
        <p class="muted count" id="issue-count" aria-live="polite">
            {move || {
                let n = rows.with(Vec::len);
                match (n, next.with(Option::is_some)) {
                    (0, _) => String::new(),
                    (n, _) if n >= MAX_ROWS => format!("The first {n} issues: narrow the filters to see others."),
                    (n, true) => format!("{n} issues shown, more to load."),
                    (1, false) => "1 issue.".to_string(),
                    (n, false) => format!("{n} issues."),
                }
            }}
        </p>
        <Show when=move || next.with(Option::is_some) && !full()>
            <button id="load-more" class="secondary" disabled=move || loading_more.get()
                on:click=load_more>
                {move || if loading_more.get() { "Loading…" } else { "Load more" }}
            </button>
        </Show>
        {move || more_error.get().map(|e| view! { <ErrorNote error=e /> })}
    }
}

/// Checks every row shown, or clears them all; mixed shows as indeterminate.
#[component]
fn SelectAll(rows: Memo<Vec<IssueSummary>>, selected: RwSignal<BTreeSet<u64>>) -> impl IntoView {
    let count = move || {
        let shown: Vec<u64> = rows.with(|r| r.iter().map(|i| i.id).collect());
        let n = selected.with(|s| shown.iter().filter(|id| s.contains(id)).count());
        (n, shown.len())
    };
    let on_change = move |ev: leptos::ev::Event| {
        if event_target_checked(&ev) {
            selected.set(rows.with(|r| r.iter().map(|i| i.id).collect()));
        } else {
            selected.set(BTreeSet::new());
        }
    };
    view! {
        <input type="checkbox" id="select-all" aria-label="Select every issue shown"
            prop:checked=move || { let (n, all) = count(); n > 0 && n == all }
            prop:indeterminate=move || { let (n, all) = count(); n > 0 && n < all }
            on:change=on_change />
    }
}

#[component]
fn IssueRow(i: IssueSummary, selected: RwSignal<BTreeSet<u64>>, editor: bool) -> impl IntoView {
    let id = i.id;
    let href = format!("/issues/{id}");
    let on_click = row_link(href.clone());
    let title = i.title;
    let label = format!("Select {title}");
    let status = (i.status != IssueStatus::Unresolved).then_some(i.status.as_str());
    view! {
        <tr class="issue-row link-row" data-id=id data-status=i.status.as_str() on:click=on_click>
            {editor.then(|| view! {
                // The row leads to the issue; its checkbox does not.
                <td class="select" on:click=|ev| ev.stop_propagation()>
                    <input type="checkbox" class="select-issue" aria-label=label
                        prop:checked=move || selected.with(|s| s.contains(&id))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            selected.update(|s| {
                                if on { s.insert(id); } else { s.remove(&id); }
                            });
                        } />
                </td>
            })}
            <td><LevelBadge level=i.level.clone() /></td>
            <td>
                <A href=href><span class="issue-title">{title}</span></A>
                {status.map(|s| view! { " " <span class="badge muted issue-status">{s}</span> })}
                {i.regressed.then(|| view! { " " <span class="badge warn">"regressed"</span> })}
                <br /><span class="muted">{i.culprit}</span>
            </td>
            <td class="issue-count num">{i.count}</td>
            <td class="num">{i.users}</td>
            <td><RelativeTime at=i.last_seen /></td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(id: u64) -> IssueSummary {
        IssueSummary {
            id,
            project: 1,
            title: format!("issue {id}"),
            culprit: String::new(),
            level: panoptes_types::Level::Error,
            platform: "python".into(),
            status: IssueStatus::Unresolved,
            regressed: false,
            regressions: 0,
            first_seen: String::new(),
            last_seen: String::new(),
            count: 1,
            stored_events: 1,
            users: 0,
            releases: vec![],
            environments: vec![],
            first_release: None,
            last_event_id: None,
            grouping_hash: String::new(),
        }
    }

    #[test]
    fn rows_are_the_pages_without_repeats_or_the_gone() {
        let head = [issue(1), issue(2)];
        let tail = [issue(2), issue(3), issue(4)];
        let gone = HashSet::from([3]);
        let ids: Vec<u64> = merge(&head, &tail, &gone).iter().map(|i| i.id).collect();
        assert_eq!(ids, [1, 2, 4]);
    }
}
