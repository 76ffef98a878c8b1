//! Sentry projects managed through the API: create (with a generated key), add and revoke keys,
//! delete. Translation only: the rules are `sentry::projects`; listing is `issues.rs`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Extension, Router};

use panoptes_types::{MonitorSource, NewProject, NewProjectKey, ProjectInfo};

use super::AppState;
use super::error::{ApiError, Json};
use crate::auth::{self, Principal};
use crate::sentry::projects::ProjectError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects/{id}", delete(remove))
        .route("/projects/{id}/keys", post(add_key))
        .route("/projects/{id}/keys/{key}", delete(revoke_key))
}

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Invalid(m) => ApiError::invalid(m),
            ProjectError::NotFound(m) => ApiError::NotFound(m),
            ProjectError::Conflict(m) => ApiError::Conflict(m),
            ProjectError::Store(s) => s.into(),
        }
    }
}

/// Where DSNs point: `ingest.public_url`, else the address the client used.
pub fn dsn_base(state: &AppState, headers: &HeaderMap) -> String {
    let settings = state.ingest.settings();
    settings.ingest.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| state.server().listen.to_string());
        format!("http://{host}")
    })
}

/// Every project with its DSNs, each marked with where it is declared.
pub fn all(state: &AppState, headers: &HeaderMap) -> Vec<ProjectInfo> {
    let mut items = state.ingest.projects(&dsn_base(state, headers));
    for p in &mut items {
        if state.projects.is_managed(p.id) {
            p.source = MonitorSource::Api;
        }
    }
    items
}

fn one(state: &AppState, headers: &HeaderMap, id: u64) -> Result<ProjectInfo, ApiError> {
    all(state, headers)
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no project with id {id}")))
}

/// `POST /projects` (joined to the listing's `GET` in `issues.rs`).
pub async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Json(req): Json<NewProject>,
) -> Result<Response, ApiError> {
    let now = state.clock.now_ms();
    let id = state
        .projects
        .create(&req.name, req.events_per_minute, p.name(), |id| {
            auth::audit(
                now,
                p.name(),
                "project.create",
                &format!("{id} {}", req.name),
            )
        })
        .await?;
    // Ingest sees it once the merged settings moved on; wait for that, so the DSN works now.
    wait_listed(&state, id, true).await;
    let info = one(&state, &headers, id)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/projects/{id}"))],
        axum::Json(info),
    )
        .into_response())
}

async fn wait_listed(state: &AppState, id: u64, present: bool) {
    for _ in 0..200 {
        if state.ingest.has_project(id) == present {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

async fn remove(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    let audit = auth::audit(
        state.clock.now_ms(),
        p.name(),
        "project.delete",
        &id.to_string(),
    );
    state.projects.delete(id, audit).await?;
    wait_listed(&state, id, false).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_key(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<(StatusCode, axum::Json<NewProjectKey>), ApiError> {
    let audit = auth::audit(
        state.clock.now_ms(),
        p.name(),
        "project.key.add",
        &id.to_string(),
    );
    let key = state.projects.add_key(id, audit).await?;
    let base = dsn_base(&state, &headers);
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base.as_str()));
    let dsn = format!("{scheme}://{key}@{}/{id}", rest.trim_end_matches('/'));
    Ok((StatusCode::CREATED, axum::Json(NewProjectKey { key, dsn })))
}

async fn revoke_key(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((id, key)): Path<(u64, String)>,
) -> Result<StatusCode, ApiError> {
    let audit = auth::audit(
        state.clock.now_ms(),
        p.name(),
        "project.key.revoke",
        &format!("{id} {}…", key.chars().take(8).collect::<String>()),
    );
    state.projects.revoke_key(id, &key, audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
