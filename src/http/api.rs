//! Handlers for the foundation routes: health, metrics, session, tokens, status, audit.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use panoptes_types::{
    AuditEntry, CreateToken, CreatedToken, Health, LoginRequest, Page, SESSION_COOKIE,
    ServerStatus, TokenInfo,
};
use serde::Deserialize;

use super::error::{ApiError, Json};
use super::{AppState, authenticate, client_ip, session_cookie};
use crate::auth::{self, Principal};
use crate::clock::rfc3339;
use crate::store::Write;

pub async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.store.status();
    let ok = state.store.is_healthy();
    let body = Health {
        status: if ok { "ok" } else { "degraded" }.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: state.started.elapsed().as_secs(),
        store,
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    method: Method,
) -> Result<Response, ApiError> {
    if !state.config().server.public_metrics {
        authenticate(&state, &headers, &method).await?;
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response())
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route {}", uri.path()))
}

pub async fn login(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = client_ip(connect.as_ref().map(|Extension(c)| c));
    let secret = match state.auth.login(&req.username, &req.password, ip).await {
        Ok(s) => s,
        Err(e) => {
            if matches!(e, auth::AuthError::InvalidCredentials) {
                state.metrics.login_failures.inc();
            }
            return Err(e.into());
        }
    };
    let cfg = state.auth.config();
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cfg.session_ttl.get().as_secs(),
        if cfg.secure_cookies { "; Secure" } else { "" }
    );
    let principal = Principal::User(req.username).to_wire();
    let mut resp = axum::Json(principal).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_cookie(&headers) {
        state.auth.logout(secret).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("panoptes_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

pub async fn me(Extension(p): Extension<Principal>) -> axum::Json<panoptes_types::Principal> {
    axum::Json(p.to_wire())
}

pub async fn status(State(state): State<AppState>) -> axum::Json<ServerStatus> {
    axum::Json(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        instance_id: state.instance_id.clone(),
        started_at: rfc3339(state.started_at_ms),
        uptime_seconds: state.started.elapsed().as_secs(),
        store: state.store.status(),
    })
}

pub async fn list_tokens(
    State(state): State<AppState>,
) -> Result<axum::Json<Vec<TokenInfo>>, ApiError> {
    let mut tokens: Vec<TokenInfo> = state
        .store
        .tokens()?
        .into_iter()
        .map(|(hash, t)| TokenInfo {
            id: auth::token_id(&hash),
            name: t.name,
            created_at: rfc3339(t.created_at_ms),
        })
        .collect();
    tokens.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(axum::Json(tokens))
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Json(req): Json<CreateToken>,
) -> Result<(StatusCode, axum::Json<CreatedToken>), ApiError> {
    let created = auth::create_token(&state.store, &state.clock, p.name(), &req.name).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub async fn delete_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hash = state
        .store
        .tokens()?
        .into_iter()
        .map(|(hash, _)| hash)
        .find(|hash| auth::token_id(hash) == id)
        .ok_or_else(|| ApiError::NotFound(format!("no token with id {id}")))?;
    let now = state.clock.now_ms();
    state
        .store
        .write(vec![
            Write::DeleteToken { hash },
            auth::audit(now, p.name(), "token.delete", &id),
        ])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AuditQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// Newest first; `cursor` is the `next_cursor` of the previous page.
pub async fn audit(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<Page<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let before = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "cursor is not one this server issued")
        })?),
    };
    let rows = state.store.audit(before, limit)?;
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(|(k, _)| format!("{}.{}", k.0, k.1)))
        .flatten();
    let items = rows
        .into_iter()
        .map(|((at_ms, _), r)| AuditEntry {
            at_ms,
            actor: r.actor,
            action: r.action,
            detail: r.detail,
        })
        .collect();
    Ok(axum::Json(Page { items, next_cursor }))
}

fn parse_cursor(c: &str) -> Option<(u64, u64)> {
    let (a, b) = c.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}
