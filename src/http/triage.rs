//! Triage routes of the issue API: a status for many issues of a project at once, the values
//! the list's filters can take, and one event of an issue with its neighbours (newest / newer /
//! older). Translation only: the work is in `sentry::status` and `sentry::query`.

use axum::Json;
use axum::extract::{Path, State};
use panoptes_types::{IssueBulkResult, IssueBulkUpdate, IssueFacets, MAX_BULK_ISSUES};
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, Json as JsonBody};
use crate::sentry::auth::truncate;
use crate::sentry::issues::Status;
use crate::sentry::status::BulkError;

/// `PATCH /projects/{id}/issues` `{"ids": [...], "status"}`: all or nothing. Every id must be
/// an issue of this project (else 400 naming the others, and nothing changes); 1 to
/// `MAX_BULK_ISSUES` ids, duplicates counted once. Each issue changes exactly as through
/// `PATCH /issues/{id}`, in one store write.
pub async fn bulk_status(
    State(state): State<AppState>,
    Path(project): Path<u64>,
    JsonBody(update): JsonBody<IssueBulkUpdate>,
) -> Result<Json<IssueBulkResult>, ApiError> {
    if !state.ingest.has_project(project) {
        return Err(ApiError::NotFound(format!("no project {project}")));
    }
    if update.ids.is_empty() || update.ids.len() > MAX_BULK_ISSUES {
        return Err(ApiError::invalid(format!(
            "ids must name 1 to {MAX_BULK_ISSUES} issues"
        )));
    }
    let status = Status::from_wire(update.status);
    match state
        .ingest
        .set_statuses(project, &update.ids, status)
        .await
    {
        Ok(recs) => Ok(Json(IssueBulkResult {
            items: recs.iter().map(|r| r.summary()).collect(),
        })),
        Err(BulkError::NotInProject(ids)) => {
            let shown: Vec<String> = ids.iter().take(20).map(u64::to_string).collect();
            let more = if ids.len() > 20 {
                format!(" and {} more", ids.len() - 20)
            } else {
                String::new()
            };
            Err(ApiError::invalid(format!(
                "not issues of project {project}: {}{more}; nothing was changed",
                shown.join(", ")
            )))
        }
        Err(BulkError::Store(e)) => Err(e.into()),
    }
}

/// `GET /projects/{id}/issues/facets`: the levels, environments and releases seen on the
/// project's issues (from memory).
pub async fn facets(
    State(state): State<AppState>,
    Path(project): Path<u64>,
) -> Result<Json<IssueFacets>, ApiError> {
    if !state.ingest.has_project(project) {
        return Err(ApiError::NotFound(format!("no project {project}")));
    }
    Ok(Json(state.ingest.with_issues(|i| i.facets(project))))
}

/// `GET /issues/{id}/events/{event_id}`: that event of the issue and the ids of the newest, the
/// next newer and the next older of the issue's stored events.
pub async fn issue_event(
    State(state): State<AppState>,
    Path((id, event_id)): Path<(u64, String)>,
) -> Result<Json<Value>, ApiError> {
    let ingest = state.ingest.clone();
    let eid = event_id.clone();
    state
        .store
        .read(move |_| ingest.issue_event(id, &eid))
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no event {} of issue {id}",
                truncate(&event_id, 64)
            ))
        })
}
