//! `/issues`: Sentry-compatible projects with their DSN and unresolved issues, most recent
//! first; `/issues/:id` (see `detail`) for one issue and its latest event.

mod detail;
mod event;

pub use detail::IssuePage;

use leptos::prelude::*;
use leptos_router::components::A;
use panoptes_types::{IssueSummary, ProjectInfo};

use crate::api::{self, ApiError};
use crate::components::{Empty, LevelBadge, RelativeTime, Table, loaded, row_link};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

/// One project's unresolved issues.
#[derive(Clone, PartialEq)]
struct ProjectIssues {
    project: ProjectInfo,
    issues: Vec<IssueSummary>,
}

async fn fetch_issues() -> Result<Vec<ProjectIssues>, ApiError> {
    let projects = api::projects().await?;
    let mut out = Vec::with_capacity(projects.len());
    for project in projects {
        let issues = api::unresolved_issues(project.id).await?;
        out.push(ProjectIssues { project, issues });
    }
    Ok(out)
}

#[component]
pub fn IssueList() -> impl IntoView {
    let data = use_poll_on(Topics::ISSUES, EVERY, fetch_issues);
    view! {
        <section class="card" id="issues">
            <h1>"Issues"</h1>
            {move || loaded(data.get(), "issues", |projects| {
                if projects.is_empty() {
                    view! { <Empty>"No projects configured (see " <code>"projects:"</code> " in the config)."</Empty> }
                        .into_any()
                } else {
                    projects.into_iter().map(|p| view! { <Project p=p /> }).collect_view().into_any()
                }
            })}
        </section>
    }
}

#[component]
fn Project(p: ProjectIssues) -> impl IntoView {
    let ProjectIssues { project, issues } = p;
    view! {
        <div class="project" data-project=project.id>
            <h2>
                {project.name} " "
                <span class="muted">{format!("{} unresolved", project.unresolved)}</span>
            </h2>
            {project.dsn.into_iter().map(|dsn| view! {
                <p class="muted">"DSN " <code class="dsn">{dsn}</code></p>
            }).collect_view()}
            {if issues.is_empty() {
                view! { <Empty>"No unresolved issues."</Empty> }.into_any()
            } else {
                view! {
                    <Table headers=&["Level", "Issue", "Events", "Users", "Last seen"] class="issues">
                        {issues.into_iter().map(|i| view! { <IssueRow i=i /> }).collect_view()}
                    </Table>
                }
                    .into_any()
            }}
        </div>
    }
}

#[component]
fn IssueRow(i: IssueSummary) -> impl IntoView {
    let href = format!("/issues/{}", i.id);
    let on_click = row_link(href.clone());
    let title = i.title;
    view! {
        <tr class="issue-row link-row" data-id=i.id on:click=on_click>
            <td><LevelBadge level=i.level.clone() /></td>
            <td>
                <A href=href><span class="issue-title">{title}</span></A>
                {i.regressed.then(|| view! { " " <span class="badge warn">"regressed"</span> })}
                <br /><span class="muted">{i.culprit}</span>
            </td>
            <td class="issue-count num">{i.count}</td>
            <td class="num">{i.users}</td>
            <td><RelativeTime at=i.last_seen /></td>
        </tr>
    }
}
