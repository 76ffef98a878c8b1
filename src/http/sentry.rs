//! Sentry-compatible ingest routes: the endpoints SDKs post to (`/api/{project}/envelope/` and
//! friends, authenticated by their DSN key, with CORS for browser SDKs). The issue API is in
//! `issues.rs`.
//!
//! The ingest handlers only extract what the request carries (auth sources, encoding, body within
//! its limit) and hand it to `crate::sentry::Ingest`; the answer's status and headers come from
//! `error.rs`'s mapping of `IngestError`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::BytesMut;
use futures_util::StreamExt;
use serde_json::json;

use super::AppState;
use super::credentials::{self, Credential};
use crate::sentry::{Accepted, IngestError, RawBody, SentryAuth, auth};

/// The ingest endpoints (outside `/api/v1`; the DSN key is the credential).
pub fn ingest_routes() -> Router<AppState> {
    Router::new()
        .route("/api/{project}/envelope", post(envelope))
        .route("/api/{project}/store", post(store).get(store_get))
        .route("/api/store", post(store_without_project))
        .route("/api/{project}/security", post(security))
        .route("/api/{project}/csp-report", post(security))
        .route("/api/{project}/minidump", post(minidump))
        .layer(middleware::from_fn(cors))
}

/// Folds duplicate slashes and drops the trailing slash of ingest paths before routing, as
/// Relay does (`/api//7/envelope/` is `/api/7/envelope`). Our own API under `/api/v1` is left
/// as it is.
pub fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if !path.starts_with("/api/") && !path.starts_with("//") {
        return req;
    }
    // Nothing to fold (every SDK request): no copy.
    if !path.contains("//") && !path.ends_with('/') {
        return req;
    }
    let mut folded = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && folded.ends_with('/') {
            continue;
        }
        folded.push(c);
    }
    if !folded.starts_with("/api/") || folded.starts_with("/api/v1/") || folded == "/api/v1" {
        return req;
    }
    while folded.len() > 1 && folded.ends_with('/') {
        folded.pop();
    }
    if folded == path {
        return req;
    }
    let pq = match req.uri().query() {
        Some(q) => format!("{folded}?{q}"),
        None => folded,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(p) = pq.parse() {
        parts.path_and_query = Some(p);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Whether `path` (folded) is in the ingest routes' space: everything under `/api/` but our own
/// API. Errors there answer Relay's shape, whoever answered them.
pub fn is_ingest_path(path: &str) -> bool {
    let ours = panoptes_types::API_PREFIX;
    path.starts_with("/api/")
        && path != ours
        && !path
            .strip_prefix(ours)
            .is_some_and(|rest| rest.starts_with('/'))
}

const ALLOW_HEADERS: &str = "x-sentry-auth, x-requested-with, content-type, content-encoding, authorization, sentry-trace, baggage, origin, accept";
const EXPOSE_HEADERS: &str = "x-sentry-error, x-sentry-rate-limits, retry-after";

/// CORS for browser SDKs: any origin may post events (the DSN key is public by design).
async fn cors(req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    let mut resp = if req.method() == Method::OPTIONS {
        let mut r = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("3600"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn request_auth(headers: &HeaderMap, uri: &Uri) -> Result<Option<SentryAuth>, IngestError> {
    // Only `Authorization: Sentry ...` is ours; other schemes (a proxy's, say) are ignored.
    let sentry = match credentials::authorization(headers) {
        Ok(Some(Credential::Sentry(v))) => Some(v),
        _ => None,
    };
    auth::from_request(
        header_str(headers, "x-sentry-auth"),
        sentry.as_deref(),
        uri.query(),
    )
}

fn project_id(raw: &str) -> Result<u64, IngestError> {
    raw.parse::<u64>().map_err(|_| {
        IngestError::BadAuth(format!("`{}` is not a project id", auth::truncate(raw, 40)))
    })
}

/// Reads the body as sent: at most `limit` bytes, within `ingest.body_read_timeout` (then 408),
/// each chunk charged to the request's share of `ingest.max_inflight_bytes` as it arrives (503
/// when the budget is spent), holding a place among the bodies read at once. `key_checked`:
/// the request's key was checked before the read; otherwise (an envelope whose only credential
/// is its own `dsn`) the place comes from a small pool of its own, so senders without a key
/// cannot take the places of those with one. Decoding and parsing come later, on the blocking
/// pool, still holding the place and the charge.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    decompressed_limit: u64,
    key_checked: bool,
) -> Result<RawBody, IngestError> {
    let reading = state.ingest.body_permit(key_checked)?;
    let declared = header_str(headers, "content-length").and_then(|l| l.parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit
    {
        return Err(IngestError::TooLarge(format!(
            "request body of {len} bytes is larger than {limit} bytes"
        )));
    }
    let deadline = state.ingest.settings().ingest.body_read_timeout.get();
    let mut charge = state.ingest.charge();
    let read = async {
        // The announced length is the client's word: it only sizes the first allocation.
        let first = declared.unwrap_or(0).min(limit).min(64 * 1024) as usize;
        let mut buf = BytesMut::with_capacity(first);
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                IngestError::InvalidEnvelope(format!("could not read the body: {e}"))
            })?;
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(IngestError::TooLarge(format!(
                    "request body is larger than {limit} bytes"
                )));
            }
            charge.add(chunk.len())?;
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    };
    let bytes = match tokio::time::timeout(deadline, read).await {
        Ok(read) => read?,
        Err(_) => {
            return Err(IngestError::Timeout(format!(
                "the request body did not arrive within {} (ingest.body_read_timeout)",
                crate::config::Duration(deadline)
            )));
        }
    };
    Ok(RawBody {
        bytes,
        encoding: header_str(headers, "content-encoding").map(str::to_string),
        decompressed_limit,
        charge,
        reading: Some(reading),
    })
}

/// The one place an ingest outcome becomes a response: 200 `{"id": ...}` (or `{}`), 429 with
/// the rate-limit headers when the project's quota refused events, else the error's mapping.
fn respond(state: &AppState, project: Option<u64>, r: Result<Accepted, IngestError>) -> Response {
    match r {
        Ok(a) => {
            let body = match &a.id {
                Some(id) => json!({ "id": id }),
                None => json!({}),
            };
            match a.rate_limited {
                Some((secs, limits)) => {
                    let mut resp = IngestError::RateLimited {
                        retry_after_secs: secs,
                        limits,
                    }
                    .into_response();
                    *resp.body_mut() = Body::from(body.to_string());
                    resp
                }
                None => axum::Json(body).into_response(),
            }
        }
        Err(e) => {
            state.ingest.reject(project, &e);
            e.into_response()
        }
    }
}

async fn envelope(
    State(state): State<AppState>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let cfg = state.ingest.settings();
    let pid = project.parse::<u64>().ok();
    let result = async {
        let pid = project_id(&project)?;
        let auth = request_auth(&headers, &uri)?;
        // A key in a header or the query is checked before the body is read. Without one, the
        // key can only be the envelope's own `dsn`: read that body under a tight bound.
        let (limit, decompressed) = match &auth {
            Some(a) => {
                state.ingest.authorize(Some(pid), Some(a))?;
                (
                    cfg.ingest.max_envelope_bytes,
                    cfg.ingest.max_decompressed_bytes,
                )
            }
            None => {
                let tight = cfg.ingest.max_unauthenticated_bytes;
                (
                    tight.min(cfg.ingest.max_envelope_bytes),
                    tight.min(cfg.ingest.max_decompressed_bytes),
                )
            }
        };
        let key_checked = auth.is_some();
        let hint = |e: IngestError| match e {
            IngestError::TooLarge(m) if !key_checked => IngestError::TooLarge(format!(
                "{m}: without the key in X-Sentry-Auth or ?sentry_key=, an envelope may be at most {limit} bytes (ingest.max_unauthenticated_bytes)"
            )),
            e => e,
        };
        let body = read_body(&state, &headers, body, limit, decompressed, key_checked)
            .await
            .map_err(hint)?;
        state.ingest.envelope(pid, auth, body).await.map_err(hint)
    }
    .await;
    respond(&state, pid, result)
}

async fn store(
    State(state): State<AppState>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let pid = project.parse::<u64>().ok();
    let result = async {
        let pid = project_id(&project)?;
        store_inner(&state, Some(pid), &uri, &headers, body).await
    }
    .await;
    respond(&state, pid, result)
}

/// `GET /api/{project}/store/?sentry_key=...&sentry_data=...`: the image-beacon form older
/// browser clients use; the event (JSON, or base64 of zlib) is in the query.
async fn store_get(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let pid = project.parse::<u64>().ok();
    let result = async {
        let pid = project_id(&project)?;
        let cfg = state.ingest.settings();
        let auth = request_auth(&headers, &uri)?;
        state.ingest.authorize(Some(pid), auth.as_ref())?;
        let data = query
            .get("sentry_data")
            .ok_or_else(|| IngestError::InvalidEvent("missing sentry_data".into()))?;
        if data.len() as u64 > cfg.ingest.max_store_bytes {
            return Err(IngestError::TooLarge(format!(
                "sentry_data is larger than {} bytes (ingest.max_store_bytes)",
                cfg.ingest.max_store_bytes
            )));
        }
        let body = state
            .ingest
            .plain_body(bytes::Bytes::copy_from_slice(data.as_bytes()))?;
        state.ingest.store_event(Some(pid), auth, body).await
    }
    .await;
    respond(&state, pid, result)
}

async fn store_without_project(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = store_inner(&state, None, &uri, &headers, body).await;
    respond(&state, None, result)
}

async fn store_inner(
    state: &AppState,
    pid: Option<u64>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, IngestError> {
    let cfg = state.ingest.settings();
    let auth = request_auth(headers, uri)?;
    state.ingest.authorize(pid, auth.as_ref())?;
    let body = read_body(
        state,
        headers,
        body,
        cfg.ingest.max_store_bytes,
        cfg.ingest.max_event_bytes,
        true,
    )
    .await?;
    state.ingest.store_event(pid, auth, body).await
}

async fn security(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let pid = project.parse::<u64>().ok();
    let result = async {
        let cfg = state.ingest.settings();
        let pid = project_id(&project)?;
        let auth = request_auth(&headers, &uri)?;
        state.ingest.authorize(Some(pid), auth.as_ref())?;
        let body = read_body(
            &state,
            &headers,
            body,
            cfg.ingest.max_store_bytes,
            cfg.ingest.max_event_bytes,
            true,
        )
        .await?;
        let user_agent = header_str(&headers, "user-agent").map(str::to_string);
        state
            .ingest
            .security(pid, auth, query, user_agent, body)
            .await
    }
    .await;
    respond(&state, pid, result)
}

async fn minidump(
    State(state): State<AppState>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let pid = project.parse::<u64>().ok();
    let result = async {
        let cfg = state.ingest.settings();
        let pid = project_id(&project)?;
        let auth = request_auth(&headers, &uri)?;
        state.ingest.authorize(Some(pid), auth.as_ref())?;
        let body = read_body(
            &state,
            &headers,
            body,
            cfg.ingest.max_envelope_bytes,
            cfg.ingest.max_decompressed_bytes,
            true,
        )
        .await?;
        let content_type = header_str(&headers, "content-type")
            .unwrap_or("")
            .to_string();
        state.ingest.minidump(pid, auth, content_type, body).await
    }
    .await;
    // Crashpad and Breakpad read the event id as plain text.
    match result {
        Ok(a) => match a.id {
            Some(id) => (StatusCode::OK, hyphenated(&id)).into_response(),
            None => respond(&state, pid, Ok(a)),
        },
        Err(e) => respond(&state, pid, Err(e)),
    }
}

fn hyphenated(id: &str) -> String {
    uuid::Uuid::parse_str(id)
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_else(|_| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_paths_are_folded_and_ours_are_not() {
        let norm = |p: &str| {
            normalize_path(Request::builder().uri(p).body(Body::empty()).expect("req"))
                .uri()
                .to_string()
        };
        assert_eq!(
            norm("/api//7//envelope/?sentry_key=k"),
            "/api/7/envelope?sentry_key=k"
        );
        assert_eq!(norm("/api/7/store/"), "/api/7/store");
        assert_eq!(norm("/api/v1/monitors/"), "/api/v1/monitors/");
        assert_eq!(norm("/services/"), "/services/");
        assert_eq!(norm("//api/store/"), "/api/store");
    }

    #[test]
    fn ingest_paths_are_everything_under_api_but_ours() {
        assert!(is_ingest_path("/api/7/envelope"));
        assert!(is_ingest_path("/api/store"));
        assert!(is_ingest_path("/api/7/nothing/here"));
        assert!(!is_ingest_path("/api/v1"));
        assert!(!is_ingest_path("/api/v1/monitors"));
        assert!(!is_ingest_path("/healthz"));
        assert!(is_ingest_path("/api/v12/envelope"));
    }
}
