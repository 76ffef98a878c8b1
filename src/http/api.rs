//! Handlers for the foundation routes: health, metrics, session, tokens, status, audit.

use std::net::SocketAddr;

use super::error::{ApiError, Json};
use super::page::{PageParams, cursor, slice};
use super::{AppState, authenticate, client_ip, session_cookie};
use crate::auth::{self, Principal};
use crate::clock::rfc3339;
use crate::store::Write;
use axum::Extension;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use panoptes_types::{
    AuditEntry, CreateToken, CreatedToken, Health, LoginRequest, Page, ServerStatus, TokenInfo,
};

pub async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.store.status();
    let ok = state.store.is_healthy();
    let body = Health {
        status: if ok {
            panoptes_types::HealthStatus::Ok
        } else {
            panoptes_types::HealthStatus::Degraded
        },
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
    if !state.server().public_metrics {
        authenticate(&state, &headers, &method).await?;
    }
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    state
        .metrics
        .http
        .runtime_tasks
        .set(i64::try_from(tasks).unwrap_or(i64::MAX));
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response())
}

/// Largest login body: a user name and a password (at most 64 and 1024 bytes) in JSON.
pub const LOGIN_MAX_BODY: usize = 16 * 1024;

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route {}", uri.path()))
}

pub async fn login(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = client_ip(connect.as_ref().map(|Extension(c)| c));
    let (secret, who) = match state.auth.login(&req.username, &req.password, ip).await {
        Ok(s) => s,
        Err(e) => {
            if matches!(e, auth::AuthError::InvalidCredentials) {
                state.metrics.login_failures.inc();
            }
            return Err(e.into());
        }
    };
    Ok(super::users::signed_in(
        &state,
        &secret,
        &who,
        StatusCode::OK,
    ))
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

/// API tokens by creation time.
pub async fn list_tokens(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<axum::Json<Page<TokenInfo>>, ApiError> {
    let rows = state.store.read(|s| s.tokens()).await?;
    let tokens: Vec<(u64, TokenInfo)> = rows
        .into_iter()
        .map(|(hash, t)| {
            (
                t.created_at_ms,
                TokenInfo {
                    id: auth::token_id(&hash),
                    name: t.name,
                    role: t.role,
                    created_at: rfc3339(t.created_at_ms),
                },
            )
        })
        .collect();
    let (items, next) = slice(
        tokens,
        |(at, t)| (*at, t.id.clone()),
        page.after::<(u64, String)>()?,
        page.limit,
    );
    Ok(axum::Json(Page {
        items: items.into_iter().map(|(_, t)| t).collect(),
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

pub async fn create_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Json(req): Json<CreateToken>,
) -> Result<(StatusCode, axum::Json<CreatedToken>), ApiError> {
    // A token can do at most what its creator can.
    let role = req.role.unwrap_or(p.role());
    if role > p.role() {
        return Err(ApiError::Forbidden(format!(
            "a {} cannot create a token with the {role} role",
            p.role()
        )));
    }
    let created = auth::create_token(&state.store, &state.clock, p.name(), &req.name, role).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

pub async fn delete_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hash = state
        .store
        .read(|s| s.tokens())
        .await?
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

/// Newest first; `cursor` is the `next_cursor` of the previous page.
pub async fn audit(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<axum::Json<Page<AuditEntry>>, ApiError> {
    let before = page.after::<(u64, u64)>()?;
    let limit = page.limit;
    let mut rows = state
        .store
        .read(move |s| s.audit(before, limit + 1))
        .await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|(k, _)| cursor(k))
    } else {
        None
    };
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

/// A consistent copy of the whole data file, as a download (`panoptes backup --server` reads
/// it). Taken from one read snapshot while the server keeps writing; restoring is starting
/// Panoptes on the file.
pub async fn backup(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    // One backup of a data file at a time: each is a full copy on the same disk, so parallel
    // calls would fill it. Held until the download ends (the copy's bytes live until then).
    let flight = BackupFlight::take(state.store.path()).ok_or_else(|| {
        ApiError::Conflict(
            "a backup of this server is already in progress; retry when it has finished".into(),
        )
    })?;
    let dir = state
        .store
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let tmp = dir.join(format!(".backup-{}.redb", uuid::Uuid::new_v4().simple()));
    let stats = state.store.backup(&tmp).await;
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    let file = tokio::fs::File::open(&tmp)
        .await
        .map_err(|e| ApiError::Internal(format!("opening the backup: {e}")))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    // The open handle keeps the bytes readable; the name goes at once, so nothing is left behind
    // if the client disconnects.
    let _ = std::fs::remove_file(&tmp);
    let now = state.clock.now_ms();
    let _ = state
        .store
        .write(vec![auth::audit(
            now,
            p.name(),
            "store.backup",
            &format!("{} tables, {} rows, {len} bytes", stats.tables, stats.rows),
        )])
        .await;
    let stream = tokio_util::io::ReaderStream::new(file).map(move |chunk| {
        let _held = &flight;
        chunk
    });
    let mut resp = axum::body::Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"panoptes-backup.redb\""),
    );
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    Ok(resp)
}

/// Data files with a backup in flight (per file, so servers sharing a process do not interfere).
static BACKUPS: std::sync::Mutex<std::collections::BTreeSet<std::path::PathBuf>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// The one backup of a data file in flight; dropping it lets the next one start.
struct BackupFlight(std::path::PathBuf);

impl BackupFlight {
    fn take(file: &std::path::Path) -> Option<BackupFlight> {
        let mut running = BACKUPS.lock().unwrap_or_else(|p| p.into_inner());
        running
            .insert(file.to_path_buf())
            .then(|| BackupFlight(file.to_path_buf()))
    }
}

impl Drop for BackupFlight {
    fn drop(&mut self) {
        BACKUPS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_backup_per_data_file_at_a_time() {
        let a = std::path::Path::new("/tmp/backup-flight-test/a.redb");
        let b = std::path::Path::new("/tmp/backup-flight-test/b.redb");
        let first = BackupFlight::take(a).expect("first");
        assert!(BackupFlight::take(a).is_none(), "a second one is refused");
        let other = BackupFlight::take(b).expect("another file is independent");
        drop(first);
        assert!(
            BackupFlight::take(a).is_some(),
            "free again once the first ended"
        );
        drop(other);
    }
}
