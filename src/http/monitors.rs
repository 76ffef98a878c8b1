//! Monitors managed through the API: create, change (a JSON merge patch; `{"enabled": false}`
//! pauses), delete, read one's fields, export them as config; maintenance windows likewise
//! (list, create, delete). Translation only: decoding and the
//! rules are `probe::managed` and `probe::manage`; who may call what is `auth::roles`.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Router};
use serde_json::Value;

use panoptes_types::{MaintenanceView, MonitorConfigView, MonitorDetail};

use super::AppState;
use super::error::{ApiError, Json};
use crate::auth::{self, Principal};
use crate::probe::ManageError;
use crate::probe::managed::{self, MAX_BODY_BYTES};

/// `POST /monitors`, joined to the listing's `GET` in `probes::routes`.
pub fn create_route() -> MethodRouter<AppState> {
    post(create).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// `PATCH`/`DELETE /monitors/{id}`, joined to its `GET`.
pub fn change_route(r: MethodRouter<AppState>) -> MethodRouter<AppState> {
    r.patch(update)
        .delete(remove)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/monitors/{id}/config", get(config))
        .route("/monitors/export", get(export))
        .route(
            "/maintenance",
            get(windows)
                .post(create_window)
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/maintenance/{name}", axum::routing::delete(delete_window))
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(fields) => ApiError::Fields(fields),
            ManageError::NotFound(m) => ApiError::NotFound(m),
            ManageError::Conflict(m) => ApiError::Conflict(m),
            ManageError::Probe(crate::probe::ProbeError::Store(s)) => s.into(),
            ManageError::Probe(p) => ApiError::Internal(p.to_string()),
        }
    }
}

async fn detail_of(state: &AppState, id: u32) -> Result<MonitorDetail, ApiError> {
    let v = state
        .probes
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no monitor with id {id}")))?;
    let probes = state.probes.clone();
    Ok(state.store.read(move |_| Ok(probes.detail(&v))).await?)
}

async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let now = state.clock.now_ms();
    let id = state
        .probes
        .create_managed(body, p.name(), |m| {
            auth::audit(now, p.name(), "monitor.create", &m.name)
        })
        .await?;
    let detail = detail_of(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/monitors/{id}"))],
        axum::Json(detail),
    )
        .into_response())
}

async fn update(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u32>,
    Json(patch): Json<Value>,
) -> Result<axum::Json<MonitorDetail>, ApiError> {
    let now = state.clock.now_ms();
    let fields: Vec<String> = patch
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    state
        .probes
        .update_managed(id, &patch, p.name(), |m| {
            let detail = format!("{} ({})", m.name, fields.join(", "));
            auth::audit(now, p.name(), "monitor.update", &detail)
        })
        .await?;
    Ok(axum::Json(detail_of(&state, id).await?))
}

async fn remove(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u32>,
) -> Result<StatusCode, ApiError> {
    let name = state
        .probes
        .get(id)
        .map(|v| v.config.name)
        .unwrap_or_default();
    let audit = auth::audit(state.clock.now_ms(), p.name(), "monitor.delete", &name);
    state.probes.delete_managed(id, audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn config(
    State(state): State<AppState>,
    Path(id): Path<u32>,
) -> Result<axum::Json<MonitorConfigView>, ApiError> {
    let v = state
        .probes
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no monitor with id {id}")))?;
    let (source, config) = state
        .probes
        .config_json(&v.config.name)
        .ok_or_else(|| ApiError::NotFound(format!("no monitor with id {id}")))?;
    Ok(axum::Json(MonitorConfigView { id, source, config }))
}

/// The managed monitors as a `monitors:` section (`panoptes export --server`).
async fn export(State(state): State<AppState>) -> Response {
    let configs = state.probes.managed_configs();
    let yaml = managed::to_yaml(&configs.iter().collect::<Vec<_>>());
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        yaml,
    )
        .into_response()
}

/// Every maintenance window in force (config and API).
async fn windows(State(state): State<AppState>) -> axum::Json<Vec<MaintenanceView>> {
    axum::Json(
        state
            .probes
            .windows()
            .into_iter()
            .map(|(source, config)| MaintenanceView { source, config })
            .collect(),
    )
}

async fn create_window(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, axum::Json<MaintenanceView>), ApiError> {
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let audit = auth::audit(state.clock.now_ms(), p.name(), "maintenance.create", &name);
    state
        .probes
        .create_window(body.clone(), p.name(), audit)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(MaintenanceView {
            source: panoptes_types::MonitorSource::Api,
            config: body,
        }),
    ))
}

async fn delete_window(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let audit = auth::audit(state.clock.now_ms(), p.name(), "maintenance.delete", &name);
    state.probes.delete_window(&name, audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
