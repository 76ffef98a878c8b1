//! `GET /count`: forwarding figures per instance, with Cyclops's field names, so a farm of
//! Panoptes behind a load balancer is watched as Cyclops farms are. Same access rule as
//! `/metrics` (public unless `server.public_metrics: false`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method};

use super::AppState;
use super::error::ApiError;

pub async fn count(
    State(state): State<AppState>,
    headers: HeaderMap,
    method: Method,
) -> Result<Json<panoptes_types::ForwardCount>, ApiError> {
    if !state.server().public_metrics {
        super::authenticate(&state, &headers, &method).await?;
    }
    let f = state.forward.clone();
    Ok(Json(state.store.read(move |s| f.count(s)).await?))
}
