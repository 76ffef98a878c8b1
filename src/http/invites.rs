//! Invites by one-time link: translation only (`auth::invites` owns the rules). An admin makes,
//! lists and revokes them (the role table keeps `/invites` to admins); the link's page reads
//! one and accepts it without a credential, the token being the credential.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use panoptes_types::{AcceptInvite, CreatedInvite, InviteInfo, InviteState, NewInvite, Page};

use super::AppState;
use super::error::{ApiError, Json};
use super::page::{PageParams, cursor, slice};
use crate::auth::Principal;

/// Behind the API's authentication (admins only).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/invites", get(list).post(create))
        .route("/invites/{key}", delete(revoke))
}

/// Open to anyone holding a link. The accept body is a name and a password: the login's limit.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/invites/{key}", get(state_of)).route(
        "/invites/{key}/accept",
        post(accept).layer(DefaultBodyLimit::max(super::api::LOGIN_MAX_BODY)),
    )
}

/// The dashboard's address for links: `alerts.external_url` (where people reach it, as
/// Alertmanager's), else the address the admin used.
fn dashboard_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = state.running.external_url() {
        return url;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| state.server().listen.to_string());
    format!("http://{host}")
}

async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Json(req): Json<NewInvite>,
) -> Result<(StatusCode, axum::Json<CreatedInvite>), ApiError> {
    let base = dashboard_base(&state, &headers);
    let created = state.auth.create_invite(p.name(), &req, &base).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

async fn list(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<axum::Json<Page<InviteInfo>>, ApiError> {
    let all = state.auth.invites().await?;
    let (items, next) = slice(
        all,
        |i| (i.created_at.clone(), i.id.clone()),
        page.after::<(String, String)>()?,
        page.limit,
    );
    Ok(axum::Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn revoke(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.revoke_invite(p.name(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn state_of(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<axum::Json<InviteState>, ApiError> {
    Ok(axum::Json(state.auth.invite_state(&token).await?))
}

async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(req): Json<AcceptInvite>,
) -> Result<Response, ApiError> {
    let (secret, who) = state
        .auth
        .accept_invite(&token, &req.username, &req.password)
        .await?;
    Ok(super::users::signed_in(
        &state,
        &secret,
        &who,
        StatusCode::CREATED,
    ))
}
