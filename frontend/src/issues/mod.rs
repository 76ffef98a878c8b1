//! `/issues`: one Sentry-compatible project's issues (the address's `project`, else the first),
//! with its DSN; filters in the address (see `filters`), rows with checkboxes for bulk triage
//! and "Load more" (see `list`). `/issues/:id` (see `detail`) for one issue and its events.

mod api;
mod bulk;
mod detail;
mod event;
mod filters;
mod list;
mod nav;

pub use detail::IssuePage;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use panoptes_types::{IssueFacets, ProjectInfo};

use crate::components::{Empty, ErrorNote, Loading};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};
use filters::{FilterBar, ListQuery};

#[component]
pub fn IssueList() -> impl IntoView {
    let projects = use_poll_on(Topics::ISSUES, EVERY, crate::api::projects);
    let query = use_query_map();
    let q = Memo::new(move |_| query.with(ListQuery::from_params));
    let project_list = Memo::new(move |_| projects.get().and_then(Result::ok));
    // The address's project, else the first one.
    let project_id = Memo::new(move |_| {
        q.with(|q| q.project)
            .or_else(|| project_list.with(|l| l.as_ref()?.first().map(|p| p.id)))
    });
    let project = Memo::new(move |_| {
        let id = project_id.get()?;
        project_list.with(|l| l.as_ref()?.iter().find(|p| p.id == id).cloned())
    });
    let facets = use_poll_on(Topics::ISSUES, EVERY, move || {
        let id = project_id.get();
        async move {
            match id {
                Some(id) => api::issue_facets(id).await,
                None => Ok(IssueFacets::default()),
            }
        }
    });
    let facets = Signal::derive(move || facets.get().and_then(Result::ok).unwrap_or_default());
    let all_projects = Signal::derive(move || project_list.get().unwrap_or_default());
    view! {
        <section class="card" id="issues">
            <h1>"Issues"</h1>
            {move || match projects.get() {
                None => view! { <Loading what="issues" /> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <Empty>"No projects configured (see " <code>"projects:"</code> " in the config)."</Empty>
                }
                .into_any(),
                Some(Ok(_)) => ().into_any(),
            }}
            {move || project.get().map(|p| view! { <ProjectHead p=p /> })}
            <Show when=move || project_id.with(Option::is_some)>
                <FilterBar q=q facets=facets projects=all_projects />
                <list::Rows q=q project=project_id />
            </Show>
        </section>
    }
}

#[component]
fn ProjectHead(p: ProjectInfo) -> impl IntoView {
    view! {
        <div class="project" data-project=p.id>
            <h2>
                {p.name} " "
                <span class="muted">{format!("{} unresolved", p.unresolved)}</span>
            </h2>
            {p.dsn.into_iter().map(|dsn| view! {
                <p class="muted">"DSN " <code class="dsn">{dsn}</code></p>
            }).collect_view()}
        </div>
    }
}
