//! Exception routes: Periskop-compatible (`/services/`, `/targets/`), ours under
//! `/api/v1/exceptions`, the push gateway, and Panoptes' own export at `/-/exceptions`.
//! Translation only: the answers come from `periskop::query`.
//!
//! Authentication of the Periskop-compatible routes follows `periskop.compat_api`: `token`
//! (default; a bearer token, a session, or Basic auth with an API token as the password, which a
//! browser prompts for, so the Periskop UI served from the same origin works), `public_read`
//! (reads public, resolving needs a credential) or `public` (as Periskop itself).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use panoptes_types::{ExceptionDetail, ExceptionService, ExceptionSummary, ExceptionTarget, Page};
use serde::Deserialize;

use super::credentials::{self, Credential};
use super::error::{ApiError, ErrorCode};
use super::page::{PageParams, cursor, slice};
use super::{AppState, authenticate};
use crate::auth::Role;
use crate::periskop::PushError;
use crate::periskop::config::CompatAuth;
use crate::periskop::query::{self, KeyFilter, KeyPosition, Sort, Status};

/// Routes that live under `/api/v1` and need a credential (merged inside that group).
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/exceptions/services", get(api_services))
        .route("/exceptions/services/{name}/errors", get(api_errors))
        .route("/exceptions/services/{name}/errors/{key}", get(api_error))
        .route(
            "/exceptions/services/{name}/errors/{key}/resolve",
            post(api_resolve),
        )
        .route("/exceptions/targets", get(api_targets))
}

/// Routes outside `/api/v1`: Periskop-compatible, push gateway, own export. Each checks its own
/// credential.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/", get(compat_services))
        .route("/services/{name}/errors/", get(compat_errors))
        .route("/services/{name}/errors/{*key}", delete(compat_resolve))
        .route("/targets/", get(compat_targets))
        .route("/-/exceptions", get(own_exceptions))
        .route("/push/periskop/{service}/errors", post(push))
}

// ---- credentials ------------------------------------------------------------------------------

/// A bearer token, or Basic auth with an API token as the password (user name ignored), or the
/// dashboard session.
async fn credential(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<(), ApiError> {
    let who = match credentials::authorization(headers) {
        Ok(Some(Credential::Basic { password, .. })) => state
            .auth
            .token(&password)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API token".into()))?,
        _ => authenticate(state, headers, method).await?,
    };
    // Resolving through the compat API is a change like any other: viewers may only read.
    let reads = *method == Method::GET || *method == Method::HEAD;
    if !reads && who.role() < Role::Editor {
        return Err(ApiError::Forbidden(format!(
            "resolving needs the editor role; `{}` is a {}",
            who.name(),
            who.role()
        )));
    }
    Ok(())
}

/// Checks the compat routes' credential per `periskop.compat_api`; a 401 carries
/// `WWW-Authenticate: Basic` so a browser showing the Periskop UI asks for a token.
async fn compat_guard(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<(), Response> {
    let mode = state.periskop.settings().global.compat_api;
    let public = match mode {
        CompatAuth::Public => true,
        CompatAuth::PublicRead => *method == Method::GET || *method == Method::HEAD,
        CompatAuth::Token => false,
    };
    if public {
        return Ok(());
    }
    credential(state, headers, method).await.map_err(|e| {
        let unauthorized = matches!(e, ApiError::Unauthorized(_));
        let mut r = e.into_response();
        if unauthorized {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"panoptes\", charset=\"UTF-8\""),
            );
        }
        r
    })
}

// ---- Periskop-compatible -------------------------------------------------------------------

async fn compat_services(
    State(state): State<AppState>,
    headers: HeaderMap,
    method: Method,
) -> Response {
    if let Err(r) = compat_guard(&state, &headers, &method).await {
        return r;
    }
    let names: Vec<String> = state
        .periskop
        .services()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    axum::Json(names).into_response()
}

async fn compat_errors(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    method: Method,
) -> Response {
    if let Err(r) = compat_guard(&state, &headers, &method).await {
        return r;
    }
    match state.periskop.compat_errors(&name) {
        Some(out) => axum::Json(out).into_response(),
        // Periskop answers a plain-text 404 here.
        None => (StatusCode::NOT_FOUND, format!("service {name} not found\n")).into_response(),
    }
}

async fn compat_resolve(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    headers: HeaderMap,
    method: Method,
) -> Response {
    if let Err(r) = compat_guard(&state, &headers, &method).await {
        return r;
    }
    let key = key.strip_suffix('/').unwrap_or(&key);
    match state.periskop.resolve(&name, key).await {
        Ok(Some(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn compat_targets(
    State(state): State<AppState>,
    headers: HeaderMap,
    method: Method,
) -> Response {
    if let Err(r) = compat_guard(&state, &headers, &method).await {
        return r;
    }
    axum::Json(state.periskop.compat_targets()).into_response()
}

// ---- push gateway and own export -----------------------------------------------------------

/// Longest a push body may take to arrive (a Periskop export is read in well under a second).
const PUSH_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The credential is checked before the body is read: a wrong token costs nothing. Then a place
/// among `periskop.max_concurrent_pushes` is taken, so memory held by pushes stays bounded.
async fn push(
    State(state): State<AppState>,
    Path(service): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let secret = match credentials::authorization(&headers) {
        Ok(Some(Credential::Bearer(t))) => t,
        Ok(Some(Credential::Basic { password, .. })) => password,
        _ => {
            return Err(ApiError::Unauthorized(
                "push needs a token: `Authorization: Bearer <token>` or Basic auth with the token as password".into(),
            ));
        }
    };
    let configured = state
        .periskop
        .settings()
        .global
        .push_tokens
        .iter()
        .any(|t| crate::auth::same_secret(t, &secret));
    if !configured {
        match state.auth.token(&secret).await? {
            None => return Err(ApiError::Unauthorized("unknown push token".into())),
            Some(t) if t.role() < Role::Editor => {
                return Err(ApiError::Forbidden(
                    "a viewer's token cannot push (it may only read)".into(),
                ));
            }
            Some(_) => {}
        }
    }
    let Some(_reading) = state.periskop.push_permit() else {
        return Err(ApiError::Unavailable {
            code: ErrorCode::Busy,
            message: "too many pushes are being read (periskop.max_concurrent_pushes)".into(),
            retry_after_secs: Some(1),
        });
    };
    let limit = state.periskop.settings().global.max_body_bytes as usize;
    // A pusher that stops sending mid-body would otherwise keep its place for ever.
    let read = tokio::time::timeout(PUSH_READ_TIMEOUT, axum::body::to_bytes(body, limit));
    let body = read.await.map_err(|_| {
        ApiError::RequestTimeout(format!(
            "the export did not arrive within {} s",
            PUSH_READ_TIMEOUT.as_secs()
        ))
    })?;
    let body = body.map_err(|e| {
        if e.to_string().contains("length limit") {
            ApiError::PayloadTooLarge {
                message: format!(
                    "the export is larger than {limit} bytes (periskop.max_body_bytes)"
                ),
            }
        } else {
            ApiError::invalid(format!("could not read the body: {e}"))
        }
    })?;
    match state.periskop.push(&service, body).await {
        Ok(o) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({"keys": o.keys, "increase": o.increase})),
        )
            .into_response()),
        Err(PushError::InvalidService(s)) => Err(ApiError::invalid(format!(
            "`{s}` is not a valid service name"
        ))),
        Err(PushError::InvalidPayload(m)) => Err(ApiError::bad_request(ErrorCode::InvalidJson, m)),
        Err(e @ PushError::TooManyServices(_)) => Err(ApiError::Forbidden(e.to_string())),
        Err(PushError::Store(e)) => Err(e.into()),
    }
}

/// Panoptes' own errors in Periskop format. Protected like `/metrics`.
async fn own_exceptions(
    State(state): State<AppState>,
    headers: HeaderMap,
    method: Method,
) -> Result<Response, ApiError> {
    if !state.server().public_metrics {
        credential(&state, &headers, &method).await?;
    }
    Ok(axum::Json(state.periskop.internal().export()).into_response())
}

// ---- our API ---------------------------------------------------------------------------------

async fn api_services(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<axum::Json<Page<ExceptionService>>, ApiError> {
    let (items, next) = slice(
        state.periskop.service_summaries(),
        |s| s.name.clone(),
        page.after::<String>()?,
        page.limit,
    );
    Ok(axum::Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

#[derive(Deserialize)]
struct ErrorsQuery {
    severity: Option<String>,
    query: Option<String>,
    sort: Option<String>,
    status: Option<String>,
}

async fn api_errors(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ErrorsQuery>,
    page: PageParams,
) -> Result<axum::Json<Page<ExceptionSummary>>, ApiError> {
    if let Some(s) = &q.severity
        && !matches!(s.as_str(), "info" | "warning" | "error")
    {
        return Err(ApiError::invalid(format!(
            "severity must be info, warning or error, not `{s}`"
        )));
    }
    let status = q.status.as_deref().unwrap_or("open");
    let status = Status::parse(status).ok_or_else(|| {
        ApiError::invalid(format!(
            "status must be open, resolved or all, not `{status}`"
        ))
    })?;
    let sort = q.sort.as_deref().unwrap_or("count");
    let sort = Sort::parse(sort).ok_or_else(|| {
        ApiError::invalid(format!(
            "sort must be count, last_seen, first_seen, created_at or key, not `{sort}`"
        ))
    })?;
    let filter = KeyFilter {
        severity: q.severity,
        status,
        query: q.query.filter(|s| !s.trim().is_empty()),
        sort,
    };
    let after = page.after::<KeyPosition>()?;
    let (items, next) = state
        .periskop
        .keys(&name, &filter, after.as_ref(), page.limit)
        .ok_or_else(|| ApiError::NotFound(format!("no exception service `{name}`")))?;
    Ok(axum::Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

#[derive(Deserialize)]
struct DetailQuery {
    /// How far back the rate series goes, in minutes (default one day, at most 30 days).
    minutes: Option<u64>,
}

async fn api_error(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    Query(q): Query<DetailQuery>,
) -> Result<axum::Json<ExceptionDetail>, ApiError> {
    let minutes = q.minutes.unwrap_or(1440).clamp(1, 30 * 1440);
    let p = state.periskop.clone();
    let (n, k) = (name.clone(), key.clone());
    state
        .store
        .read(move |_| p.key_detail(&n, &k, minutes))
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::NotFound(format!("no error `{key}` in service `{name}`")))
}

async fn api_resolve(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<axum::Json<ExceptionSummary>, ApiError> {
    match state.periskop.resolve(&name, &key).await? {
        Some(k) => Ok(axum::Json(query::summary(&name, &key, &k))),
        None => Err(ApiError::NotFound(format!(
            "no error `{key}` in service `{name}`"
        ))),
    }
}

async fn api_targets(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<axum::Json<Page<ExceptionTarget>>, ApiError> {
    let (items, next) = slice(
        state.periskop.targets(),
        |t| (t.service.clone(), t.address.clone()),
        page.after::<(String, String)>()?,
        page.limit,
    );
    Ok(axum::Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}
