//! The issue triage calls: a filtered page of a project's issues, the values its filters can
//! take, one status for many issues, and one event of an issue with its neighbours. Through
//! `crate::api`, so the CSRF header, error decoding and the 401 hook apply.

use panoptes_types::{
    IssueBulkResult, IssueBulkUpdate, IssueEvent, IssueFacets, IssueStatus, IssueSummary, Page,
};

use super::filters::ListQuery;
use crate::api::{ApiError, get, patch, segment};

/// Issues asked for per page (the list's "Load more" fetches the next one).
pub const PAGE: usize = 100;

/// One page of the project's issues matching `q`, after `cursor` (the previous page's).
pub async fn issues_page(
    project: u64,
    q: &ListQuery,
    cursor: Option<&str>,
) -> Result<Page<IssueSummary>, ApiError> {
    let mut url = format!("/projects/{project}/issues?limit={PAGE}{}", q.api_params());
    if let Some(c) = cursor {
        url.push_str(&format!("&cursor={}", segment(c)));
    }
    get(&url).await
}

/// The levels, environments and releases seen on the project's issues.
pub async fn issue_facets(project: u64) -> Result<IssueFacets, ApiError> {
    get(&format!("/projects/{project}/issues/facets")).await
}

/// One status for every issue in `ids` (all of the project, or none changes: 400).
pub async fn set_statuses(
    project: u64,
    ids: Vec<u64>,
    status: IssueStatus,
) -> Result<IssueBulkResult, ApiError> {
    patch(
        &format!("/projects/{project}/issues"),
        &IssueBulkUpdate { ids, status },
    )
    .await
}

/// An event of the issue with the ids of the newest, the next newer and the next older.
pub async fn issue_event(id: u64, event_id: &str) -> Result<IssueEvent, ApiError> {
    get(&format!("/issues/{id}/events/{}", segment(event_id))).await
}
