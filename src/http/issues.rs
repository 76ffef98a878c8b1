//! The issue API under `/api/v1`: projects with their DSNs, issues, an issue's events, stored
//! events and attachments, ingest counters. Translation only: the answers come from
//! `sentry::query`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use panoptes_types::{EventSummary, IssueSummary, IssueUpdate, Level, Page, ProjectInfo};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, Json as JsonBody};
use super::page::{PageParams, cursor, slice};
use crate::sentry::auth::truncate;
use crate::sentry::issues::{Filter, Sort, Status};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects", get(projects).post(super::projects::create))
        .route(
            "/projects/{id}/issues",
            get(list_issues).patch(super::triage::bulk_status),
        )
        .route("/projects/{id}/issues/facets", get(super::triage::facets))
        .route("/issues/{id}", get(get_issue).patch(patch_issue))
        .route("/issues/{id}/events", get(issue_events))
        .route(
            "/issues/{id}/events/{event_id}",
            get(super::triage::issue_event),
        )
        .route("/projects/{id}/events/{event_id}", get(project_event))
        .route(
            "/projects/{id}/events/{event_id}/attachments/{index}",
            get(project_attachment),
        )
        .route("/events/{event_id}", get(get_event))
        .route(
            "/events/{event_id}/attachments/{index}",
            get(get_attachment),
        )
        .route("/ingest/stats", get(stats))
}

async fn projects(
    State(state): State<AppState>,
    headers: HeaderMap,
    page: PageParams,
) -> Result<Json<Page<ProjectInfo>>, ApiError> {
    let (items, next) = slice(
        super::projects::all(&state, &headers),
        |p| p.id,
        page.after::<u64>()?,
        page.limit,
    );
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

#[derive(Deserialize)]
struct IssueQuery {
    status: Option<String>,
    query: Option<String>,
    sort: Option<String>,
    level: Option<String>,
    environment: Option<String>,
    release: Option<String>,
}

/// Longest environment or release name a filter may give (the SDKs' own limit is 200).
const MAX_FACET_LEN: usize = 200;

/// An exact-match filter: empty means none; too long is a client error.
fn facet(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.len() > MAX_FACET_LEN => Err(ApiError::invalid(format!(
            "{name} is at most {MAX_FACET_LEN} bytes"
        ))),
        Some(v) if !v.is_empty() => Ok(Some(v)),
        _ => Ok(None),
    }
}

async fn list_issues(
    State(state): State<AppState>,
    Path(project): Path<u64>,
    Query(q): Query<IssueQuery>,
    page: PageParams,
) -> Result<Json<Page<IssueSummary>>, ApiError> {
    if !state.ingest.has_project(project) {
        return Err(ApiError::NotFound(format!("no project {project}")));
    }
    let status = match q.status.as_deref().unwrap_or("unresolved") {
        "all" => None,
        s => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid("status must be unresolved, resolved, ignored or all")
        })?),
    };
    let sort = match q.sort.as_deref() {
        None => Sort::LastSeen,
        Some(s) => Sort::parse(s).ok_or_else(|| {
            ApiError::invalid("sort must be last_seen, first_seen, count or users")
        })?,
    };
    let level = match q.level.as_deref().filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match Level::parse(l) {
            Level::Other(_) => {
                return Err(ApiError::invalid(
                    "level must be fatal, error, warning, info or debug",
                ));
            }
            known => Some(known),
        },
    };
    let filter = Filter {
        project,
        status,
        query: q.query.filter(|s| !s.trim().is_empty()),
        level,
        environment: facet("environment", q.environment)?,
        release: facet("release", q.release)?,
        sort,
        after: page.after::<(u64, u64)>()?,
        limit: page.limit,
    };
    let (items, next) = state.ingest.issues(&filter);
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn get_issue(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    let ingest = state.ingest.clone();
    state
        .store
        .read(move |_| ingest.issue_detail(id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no issue {id}")))
}

async fn patch_issue(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    JsonBody(update): JsonBody<IssueUpdate>,
) -> Result<Json<IssueSummary>, ApiError> {
    let status = Status::from_wire(update.status);
    match state.ingest.set_status(id, status).await? {
        Some(r) => Ok(Json(r.summary())),
        None => Err(ApiError::NotFound(format!("no issue {id}"))),
    }
}

async fn issue_events(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    page: PageParams,
) -> Result<Json<Page<EventSummary>>, ApiError> {
    if state.ingest.issue(id).is_none() {
        return Err(ApiError::NotFound(format!("no issue {id}")));
    }
    let before = page.after::<(u64, String)>()?;
    let limit = page.limit;
    let ingest = state.ingest.clone();
    let (items, next) = state
        .store
        .read(move |_| ingest.issue_events(id, before, limit))
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

/// The project holding `event_id` when the URL names none: event ids are unique within a
/// project only, so an id two projects used is ambiguous here (409).
async fn project_of_event(state: &AppState, event_id: &str) -> Result<u64, ApiError> {
    let ingest = state.ingest.clone();
    let id = event_id.to_string();
    let found = state
        .store
        .read(move |_| ingest.projects_with_event(&id))
        .await?;
    match found.as_slice() {
        [] => Err(ApiError::NotFound(format!(
            "no event {}",
            truncate(event_id, 64)
        ))),
        [p] => Ok(*p),
        many => Err(ApiError::Conflict(format!(
            "event {} exists in projects {many:?}; ask /api/v1/projects/{{id}}/events/{{event_id}}",
            truncate(event_id, 64)
        ))),
    }
}

async fn event_of(
    state: &AppState,
    project: u64,
    event_id: String,
) -> Result<Json<Value>, ApiError> {
    let ingest = state.ingest.clone();
    let id = event_id.clone();
    state
        .store
        .read(move |_| ingest.event(project, &id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no event {}", truncate(&event_id, 64))))
}

async fn project_event(
    State(state): State<AppState>,
    Path((project, event_id)): Path<(u64, String)>,
) -> Result<Json<Value>, ApiError> {
    event_of(&state, project, event_id).await
}

async fn get_event(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let project = project_of_event(&state, &event_id).await?;
    event_of(&state, project, event_id).await
}

/// An attachment's bytes, always as a download: the content type an SDK claimed (`text/html`,
/// say) is never served inline in the dashboard's origin.
async fn attachment_of(
    state: &AppState,
    project: u64,
    event_id: String,
    index: u32,
) -> Result<Response, ApiError> {
    let ingest = state.ingest.clone();
    let id = event_id.clone();
    let (h, data) = state
        .store
        .read(move |_| ingest.attachment(project, &id, index))
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no attachment {index} of event {}",
                truncate(&event_id, 64)
            ))
        })?;
    let name: String = h
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let mut resp = Bytes::from(data).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(resp)
}

async fn project_attachment(
    State(state): State<AppState>,
    Path((project, event_id, index)): Path<(u64, String, u32)>,
) -> Result<Response, ApiError> {
    attachment_of(&state, project, event_id, index).await
}

async fn get_attachment(
    State(state): State<AppState>,
    Path((event_id, index)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    let project = project_of_event(&state, &event_id).await?;
    attachment_of(&state, project, event_id, index).await
}

async fn stats(
    State(state): State<AppState>,
) -> Result<Json<panoptes_types::IngestStats>, ApiError> {
    let ingest = state.ingest.clone();
    let forward = state.forward.clone();
    Ok(Json(
        state
            .store
            .read(move |s| {
                let mut stats = ingest.stats()?;
                stats.forward = Some(forward.stats(s)?);
                Ok(stats)
            })
            .await?,
    ))
}
