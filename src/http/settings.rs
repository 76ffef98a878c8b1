//! What an admin reads about the server itself: the running configuration, redacted
//! (`GET /api/v1/config`). Translation only: `config::effective` owns the tree and the rule of
//! what is a secret; the role table (`auth::roles`) keeps the route to admins.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use panoptes_types::EffectiveConfig;

use super::AppState;
use super::error::ApiError;
use crate::config::effective::{RenderError, Rendered};

/// What the HTTP edge reads of the whole running config. `app` implements it over the config
/// it runs with: the edge does not reach the root config (which names the edge's own section).
pub trait RunningConfig: Send + Sync {
    /// Every section, redacted (`config::effective`). Slow for a large config: call it off
    /// the async workers.
    fn render(&self) -> Result<Rendered, RenderError>;
    /// Where people reach the dashboard (`alerts.external_url`), when set.
    fn external_url(&self) -> Option<String>;
}

/// Behind the API's authentication (admins only, reads included: the layout of every
/// receiver and target says a lot even without its secrets).
pub fn routes() -> Router<AppState> {
    Router::new().route("/config", get(running_config))
}

async fn running_config(
    State(state): State<AppState>,
) -> Result<axum::Json<EffectiveConfig>, ApiError> {
    let running = state.running.clone();
    // A large config (50k monitors) takes a while to print and parse: off the async workers.
    let shown = tokio::task::spawn_blocking(move || running.render())
        .await
        .map_err(|e| ApiError::Internal(format!("config rendering task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(axum::Json(EffectiveConfig {
        yaml: shown.yaml,
        config: shown.json,
    }))
}
