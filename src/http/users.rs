//! First-run setup, users and a person's own password: translation only (the rules are in
//! `auth::users`, which roles may call what in `auth::roles`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use panoptes_types::{
    NewUser, Page, PasswordChange, SESSION_COOKIE, SetupRequest, SetupState, UserUpdate, UserView,
};

use super::error::{ApiError, Json};
use super::page::{PageParams, cursor, slice};
use super::{AppState, client_ip};
use crate::auth::Principal;

/// Behind the API's authentication (and its role table: admins only, but `/me/password`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{name}", get(one).patch(update).delete(remove))
        .route("/me/password", post(change_password))
}

/// Open to anyone: it answers only while nobody exists, and then only a person at the server
/// (or holding the code it logged).
pub fn setup_routes() -> Router<AppState> {
    Router::new().route(
        "/setup",
        get(setup_state)
            .post(setup)
            .layer(DefaultBodyLimit::max(super::api::LOGIN_MAX_BODY)),
    )
}

/// Whether the request comes from the server's own machine: a loopback peer, and no sign of a
/// proxy in between (behind a local reverse proxy every client would look local).
fn local(connect: Option<&ConnectInfo<SocketAddr>>, headers: &HeaderMap) -> bool {
    let proxied = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    connect.is_some() && client_ip(connect).is_loopback() && !proxied
}

async fn setup_state(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<axum::Json<SetupState>, ApiError> {
    let needed = state.auth.setup_needed().await?;
    let here = local(connect.as_ref().map(|Extension(c)| c), &headers);
    Ok(axum::Json(SetupState {
        needed,
        code_required: needed && !here,
    }))
}

async fn setup(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(req): Json<SetupRequest>,
) -> Result<Response, ApiError> {
    let here = local(connect.as_ref().map(|Extension(c)| c), &headers);
    let (secret, who) = state
        .auth
        .setup(&req.username, &req.password, req.code.as_deref(), here)
        .await?;
    Ok(signed_in(&state, &secret, &who, StatusCode::CREATED))
}

/// The answer that signs `who` in: their principal and the session cookie.
pub fn signed_in(state: &AppState, secret: &str, who: &Principal, status: StatusCode) -> Response {
    let cfg = state.auth.config();
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cfg.session_ttl.get().as_secs(),
        if cfg.secure_cookies { "; Secure" } else { "" }
    );
    let mut resp = (status, axum::Json(who.to_wire())).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn list(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<axum::Json<Page<UserView>>, ApiError> {
    let after = page.after::<String>()?;
    let users = state.auth.users().await?;
    let (items, next) = slice(users, |u| u.username.clone(), after, page.limit);
    Ok(axum::Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::Json<UserView>, ApiError> {
    state
        .auth
        .user(&name)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::NotFound(format!("no user named `{name}`")))
}

async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Json(req): Json<NewUser>,
) -> Result<(StatusCode, axum::Json<UserView>), ApiError> {
    let user = state.auth.create_user(p.name(), &req).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

async fn update(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Json(req): Json<UserUpdate>,
) -> Result<axum::Json<UserView>, ApiError> {
    Ok(axum::Json(
        state.auth.update_user(p.name(), &name, &req).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.delete_user(p.name(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Json(req): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    if !matches!(p, Principal::User { .. }) {
        return Err(ApiError::Forbidden(
            "an API token has no password; sign in as the person".into(),
        ));
    }
    state
        .auth
        .change_password(p.name(), &req.current_password, &req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
