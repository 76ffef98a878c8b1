//! Agent routes: managing agents (API credentials) and the agents' own two routes (agent
//! tokens). Translation only: the work is `crate::agent`'s.

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use panoptes_types::Page;

use super::AppState;
use super::credentials::{self, Credential};
use super::error::{ApiError, Json};
use super::page::{PageParams, cursor};
use crate::agent::wire::{AgentInfo, CreateAgent, CreatedAgent, MonitorLocations, VERSION_HEADER};
use crate::agent::{Agent, MAX_BATCH_BYTES};
use crate::auth::Principal;

/// Authenticated routes (merged under the credential layer).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list).post(create))
        .route("/agents/{name}", delete(revoke))
        .route("/monitors/{id}/locations", get(locations))
}

/// The agents' routes: their credential is an agent token, checked here.
pub fn agent_routes() -> Router<AppState> {
    Router::new()
        .route("/agent/assignments", get(assignments))
        .route("/agent/results", post(results))
}

async fn create(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(body): Json<CreateAgent>,
) -> Result<(StatusCode, axum::Json<CreatedAgent>), ApiError> {
    let created = state
        .agents
        .create(who.name(), &body.name, &body.location)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

async fn list(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<axum::Json<Page<AgentInfo>>, ApiError> {
    let (items, more) = state
        .agents
        .list(page.after::<String>()?, page.limit)
        .await?;
    let next_cursor = if more {
        items.last().map(|a| cursor(&a.name))
    } else {
        None
    };
    Ok(axum::Json(Page { items, next_cursor }))
}

async fn revoke(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.agents.revoke(who.name(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn locations(
    State(state): State<AppState>,
    Path(id): Path<u32>,
) -> Result<axum::Json<MonitorLocations>, ApiError> {
    let v = state
        .probes
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no monitor with id {id}")))?;
    let probes = state.probes.clone();
    let now = state.clock.now_ms();
    Ok(axum::Json(
        state
            .store
            .read(move |_| Ok(crate::agent::monitor_locations(&probes, &v.config, now)))
            .await?,
    ))
}

async fn agent(state: &AppState, headers: &HeaderMap) -> Result<Agent, ApiError> {
    match credentials::authorization(headers).map_err(|e| ApiError::Unauthorized(e.to_string()))? {
        Some(Credential::Bearer(token)) => Ok(state.agents.authenticate(&token).await?),
        _ => Err(ApiError::Unauthorized(
            "send `Authorization: Bearer <agent token>`".into(),
        )),
    }
}

async fn assignments(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let a = agent(&state, &headers).await?;
    let body = state.agents.assignments(&a);
    let etag = format!("\"{}\"", body.version);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok(([(header::ETAG, etag)], axum::Json(body)).into_response())
}

/// The token is checked before the body is read; the body is bounded as sent and decompressed.
async fn results(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let (parts, body): (_, Body) = req.into_parts();
    let a = agent(&state, &parts.headers).await?;
    let gzip = match parts
        .headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                super::ErrorCode::UnsupportedMediaType,
                format!("Content-Encoding `{other}` is not supported; send gzip"),
            ));
        }
    };
    let version = parts
        .headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = axum::body::to_bytes(body, MAX_BATCH_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            message: format!("a batch is at most {MAX_BATCH_BYTES} bytes as sent"),
        })?;
    let accepted = state.agents.ingest(&a, version, bytes, gzip).await?;
    Ok(axum::Json(accepted).into_response())
}
