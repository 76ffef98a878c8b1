//! Exception routes: Periskop-compatible (`/services/`, `/targets/`), ours under
//! `/api/v1/exceptions`, the push gateway, and Panoptes' own export at `/-/exceptions`.
//!
//! Authentication of the Periskop-compatible routes follows `periskop.compat_api`: `token`
//! (default; a bearer token, a session, or Basic auth with an API token as the password, which a
//! browser prompts for, so the Periskop UI served from the same origin works), `public_read`
//! (reads public, resolving needs a credential) or `public` (as Periskop itself).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use panoptes_types::{
    ExceptionDetail, ExceptionOccurrence, ExceptionService, ExceptionSummary, ExceptionTarget,
    RatePoint,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::{AppState, authenticate};
use crate::clock::rfc3339;
use crate::periskop::aggregate::KeyState;
use crate::periskop::config::CompatAuth;
use crate::periskop::model::{CompatAggregate, CompatOccurrence, CompatTarget};
use crate::periskop::{Periskop, PushError};

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
pub fn routes(max_push_body: usize) -> Router<AppState> {
    Router::new()
        .route("/services/", get(compat_services))
        .route("/services/{name}/errors/", get(compat_errors))
        .route("/services/{name}/errors/{*key}", delete(compat_resolve))
        .route("/targets/", get(compat_targets))
        .route("/-/exceptions", get(own_exceptions))
        .route(
            "/push/periskop/{service}/errors",
            post(push).layer(DefaultBodyLimit::max(max_push_body)),
        )
}

// ---- credentials ------------------------------------------------------------------------------

/// `Authorization: Basic` with an API token as the password (user name ignored).
fn basic_password(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    raw.split_once(':').map(|(_, p)| p.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(|t| t.trim().to_string())
}

async fn credential(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<(), ApiError> {
    if let Some(pw) = basic_password(headers) {
        return match state.auth.token(&pw)? {
            Some(_) => Ok(()),
            None => Err(ApiError::Unauthorized(
                "unknown or revoked API token".into(),
            )),
        };
    }
    authenticate(state, headers, method).await.map(|_| ())
}

/// Checks the compat routes' credential per `periskop.compat_api`; a 401 carries
/// `WWW-Authenticate: Basic` so a browser showing the Periskop UI asks for a token.
async fn compat_guard(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<(), Response> {
    let mode = state.config().periskop.compat_api;
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

/// Constant-time comparison through hashes, so the time taken says nothing about the secret.
fn same_secret(a: &str, b: &str) -> bool {
    let ha = Sha256::digest(a.as_bytes());
    let hb = Sha256::digest(b.as_bytes());
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
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

fn compat_aggregate(key: &str, k: &KeyState) -> CompatAggregate {
    let secs = |ms: u64| (ms / 1000) as i64;
    CompatAggregate {
        aggregation_key: key.to_string(),
        total_count: k.total,
        severity: k.severity.clone(),
        latest_errors: k
            .occurrences
            .iter()
            .map(|o| CompatOccurrence {
                error: o.error.clone(),
                uuid: o.uuid.clone(),
                timestamp: secs(o.timestamp_ms),
                severity: o.severity.clone(),
                http_context: o.http_context.clone(),
            })
            .collect(),
        created_at: secs(k.created_at_ms),
    }
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
    let Some(agg) = state.periskop.service(&name) else {
        // Periskop answers a plain-text 404 here.
        return (StatusCode::NOT_FOUND, format!("service {name} not found\n")).into_response();
    };
    let mut out: Vec<CompatAggregate> = {
        let a = agg.lock().unwrap_or_else(|p| p.into_inner());
        a.keys
            .iter()
            // As in Periskop, a resolved error leaves the list until it happens again.
            .filter(|(_, k)| k.resolved_at_ms.is_none())
            .map(|(key, k)| compat_aggregate(key, k))
            .collect()
    };
    out.sort_by(|a, b| a.aggregation_key.cmp(&b.aggregation_key));
    axum::Json(out).into_response()
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
    let mut out: std::collections::BTreeMap<String, Vec<CompatTarget>> = Default::default();
    for (name, agg) in state.periskop.services() {
        let a = agg.lock().unwrap_or_else(|p| p.into_inner());
        if !a.scraped {
            continue;
        }
        out.insert(
            name,
            a.targets
                .values()
                .map(|t| CompatTarget {
                    endpoint: t.url.clone(),
                })
                .collect(),
        );
    }
    axum::Json(out).into_response()
}

// ---- push gateway and own export -----------------------------------------------------------

async fn push(
    State(state): State<AppState>,
    Path(service): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let secret = bearer(&headers).or_else(|| basic_password(&headers));
    let Some(secret) = secret else {
        return Err(ApiError::Unauthorized(
            "push needs a token: `Authorization: Bearer <token>` or Basic auth with the token as password".into(),
        ));
    };
    let configured = state
        .config()
        .periskop
        .push_tokens
        .iter()
        .any(|t| same_secret(t, &secret));
    if !configured && state.auth.token(&secret)?.is_none() {
        return Err(ApiError::Unauthorized("unknown push token".into()));
    }
    match state.periskop.push(&service, &body).await {
        Ok(o) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({"keys": o.keys, "increase": o.increase})),
        )
            .into_response()),
        Err(PushError::InvalidService(s)) => Err(ApiError::bad_request(
            "invalid_input",
            format!("`{s}` is not a valid service name"),
        )),
        Err(PushError::InvalidPayload(m)) => Err(ApiError::bad_request("invalid_json", m)),
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
    if !state.config().server.public_metrics {
        credential(&state, &headers, &method).await?;
    }
    Ok(axum::Json(state.periskop.internal().export()).into_response())
}

// ---- our API ---------------------------------------------------------------------------------

fn summary(service: &str, key: &str, k: &KeyState) -> ExceptionSummary {
    let newest = k.occurrences.first();
    ExceptionSummary {
        service: service.to_string(),
        aggregation_key: key.to_string(),
        severity: k.severity.clone(),
        total_count: k.total,
        created_at: rfc3339(k.created_at_ms),
        first_seen: rfc3339(k.first_seen_ms),
        last_seen: rfc3339(k.last_seen_ms),
        status: if k.resolved_at_ms.is_some() {
            "resolved"
        } else {
            "open"
        }
        .to_string(),
        resolved_at: k.resolved_at_ms.map(rfc3339),
        regression: k.regression,
        regressed_at: k.regressed_at_ms.map(rfc3339),
        class: newest.map(|o| o.error.class.clone()).unwrap_or_default(),
        message: newest.map(|o| o.error.message.clone()).unwrap_or_default(),
    }
}

fn service_or_404(
    p: &Periskop,
    name: &str,
) -> Result<std::sync::Arc<std::sync::Mutex<crate::periskop::aggregate::ServiceAgg>>, ApiError> {
    p.service(name)
        .ok_or_else(|| ApiError::NotFound(format!("no exception service `{name}`")))
}

async fn api_services(State(state): State<AppState>) -> axum::Json<Vec<ExceptionService>> {
    let out = state
        .periskop
        .services()
        .into_iter()
        .map(|(name, agg)| {
            let a = agg.lock().unwrap_or_else(|p| p.into_inner());
            let resolved = a
                .keys
                .values()
                .filter(|k| k.resolved_at_ms.is_some())
                .count() as u64;
            ExceptionService {
                name,
                scraped: a.scraped,
                targets_up: a.targets.values().filter(|t| t.up == Some(true)).count() as u64,
                targets_total: a.targets.len() as u64,
                open_errors: a.keys.len() as u64 - resolved,
                resolved_errors: resolved,
                total_count: a.keys.values().map(|k| k.total).sum(),
                last_seen: a.keys.values().map(|k| k.last_seen_ms).max().map(rfc3339),
                dropped_keys: a.dropped_keys,
            }
        })
        .collect();
    axum::Json(out)
}

#[derive(Deserialize)]
struct ErrorsQuery {
    severity: Option<String>,
    query: Option<String>,
    sort: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

async fn api_errors(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ErrorsQuery>,
) -> Result<axum::Json<Vec<ExceptionSummary>>, ApiError> {
    let invalid = |m: String| ApiError::bad_request("invalid_input", m);
    if let Some(s) = &q.severity
        && !matches!(s.as_str(), "info" | "warning" | "error")
    {
        return Err(invalid(format!(
            "severity must be info, warning or error, not `{s}`"
        )));
    }
    let status = q.status.as_deref().unwrap_or("open");
    if !matches!(status, "open" | "resolved" | "all") {
        return Err(invalid(format!(
            "status must be open, resolved or all, not `{status}`"
        )));
    }
    let sort = q.sort.as_deref().unwrap_or("count");
    if !matches!(
        sort,
        "count" | "last_seen" | "first_seen" | "created_at" | "key"
    ) {
        return Err(invalid(format!(
            "sort must be count, last_seen, first_seen, created_at or key, not `{sort}`"
        )));
    }
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let needle = q.query.as_deref().map(str::to_lowercase);
    let agg = service_or_404(&state.periskop, &name)?;
    let mut rows: Vec<(ExceptionSummary, u64, u64)> = {
        let a = agg.lock().unwrap_or_else(|p| p.into_inner());
        a.keys
            .iter()
            .filter(|(_, k)| q.severity.as_deref().is_none_or(|s| k.severity == s))
            .filter(|(_, k)| match status {
                "open" => k.resolved_at_ms.is_none(),
                "resolved" => k.resolved_at_ms.is_some(),
                _ => true,
            })
            .map(|(key, k)| (summary(&name, key, k), k.last_seen_ms, k.first_seen_ms))
            .filter(|(s, _, _)| {
                needle.as_deref().is_none_or(|n| {
                    s.aggregation_key.to_lowercase().contains(n)
                        || s.class.to_lowercase().contains(n)
                        || s.message.to_lowercase().contains(n)
                })
            })
            .collect()
    };
    match sort {
        "count" => rows.sort_by(|a, b| {
            b.0.total_count
                .cmp(&a.0.total_count)
                .then(a.0.aggregation_key.cmp(&b.0.aggregation_key))
        }),
        "last_seen" => rows.sort_by_key(|r| std::cmp::Reverse(r.1)),
        "first_seen" => rows.sort_by_key(|r| std::cmp::Reverse(r.2)),
        "created_at" => rows.sort_by(|a, b| b.0.created_at.cmp(&a.0.created_at)),
        _ => rows.sort_by(|a, b| a.0.aggregation_key.cmp(&b.0.aggregation_key)),
    }
    rows.truncate(limit);
    Ok(axum::Json(rows.into_iter().map(|r| r.0).collect()))
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
    let agg = service_or_404(&state.periskop, &name)?;
    let k = agg
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keys
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no error `{key}` in service `{name}`")))?;
    let minutes = q.minutes.unwrap_or(1440).clamp(1, 30 * 1440);
    let from = state.periskop.now_ms().saturating_sub(minutes * 60_000);
    let p = state.periskop.clone();
    let (n2, k2) = (name.clone(), key.clone());
    let rate = tokio::task::spawn_blocking(move || p.rate(&n2, &k2, from))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(axum::Json(ExceptionDetail {
        summary: summary(&name, &key, &k),
        occurrences: k
            .occurrences
            .iter()
            .map(|o| ExceptionOccurrence {
                uuid: o.uuid.clone(),
                timestamp: rfc3339(o.timestamp_ms),
                severity: o.severity.clone(),
                instance: o.instance.clone(),
                error: o.error.clone(),
                http_context: o.http_context.clone(),
            })
            .collect(),
        rate: rate
            .into_iter()
            .map(|(m, n)| RatePoint {
                minute: rfc3339(m),
                count: n,
            })
            .collect(),
    }))
}

async fn api_resolve(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<axum::Json<ExceptionSummary>, ApiError> {
    match state.periskop.resolve(&name, &key).await? {
        Some(k) => Ok(axum::Json(summary(&name, &key, &k))),
        None => Err(ApiError::NotFound(format!(
            "no error `{key}` in service `{name}`"
        ))),
    }
}

async fn api_targets(State(state): State<AppState>) -> axum::Json<Vec<ExceptionTarget>> {
    let mut out = Vec::new();
    for (name, agg) in state.periskop.services() {
        let a = agg.lock().unwrap_or_else(|p| p.into_inner());
        for t in a.targets.values() {
            out.push(ExceptionTarget {
                service: name.clone(),
                address: t.address.clone(),
                url: t.url.clone(),
                source: t.source.clone(),
                labels: t.labels.clone(),
                health: match t.up {
                    Some(true) => "up",
                    Some(false) => "down",
                    None => "unknown",
                }
                .to_string(),
                last_error: t.last_error.clone(),
                last_duration_ms: t.last_duration_ms,
                last_scrape: t.last_scrape_ms.map(rfc3339),
                last_success: t.last_success_ms.map(rfc3339),
                target_uuid: t.target_uuid.clone(),
            });
        }
    }
    axum::Json(out)
}
