//! Sentry-compatible ingest routes: the endpoints SDKs post to (`/api/{project}/envelope/` and
//! friends, authenticated by their DSN key, with CORS for browser SDKs). The issue API is in
//! `issues.rs`.
//!
//! The ingest handlers only extract what the request carries (auth sources, encoding, body within
//! its limit) and hand it to `crate::sentry::Ingest`; the answer's status and headers come from
//! `error.rs`'s mapping of `IngestError`.

use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::AppState;
use super::credentials::{self, Credential};
use crate::sentry::{Accepted, IngestError, SentryAuth, auth, body};

/// The ingest endpoints (outside `/api/v1`; the DSN key is the credential).
pub fn ingest_routes() -> Router<AppState> {
    Router::new()
        .route("/api/{project}/envelope", post(envelope))
        .route("/api/{project}/store", post(store))
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

/// Reads the body as sent (bounded), then undoes its `Content-Encoding` (bounded).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    decompressed_limit: u64,
) -> Result<Bytes, IngestError> {
    if let Some(len) = header_str(headers, "content-length").and_then(|l| l.parse::<u64>().ok())
        && len > limit
    {
        return Err(IngestError::TooLarge(format!(
            "request body of {len} bytes is larger than {limit} bytes"
        )));
    }
    let raw = axum::body::to_bytes(body, limit as usize)
        .await
        .map_err(|e| {
            // The only error with a limit set and a healthy connection is the limit itself.
            let text = e.to_string();
            if text.contains("length limit") {
                IngestError::TooLarge(format!("request body is larger than {limit} bytes"))
            } else {
                IngestError::InvalidEnvelope(format!("could not read the body: {text}"))
            }
        })?;
    body::decode(
        header_str(headers, "content-encoding"),
        raw,
        decompressed_limit as usize,
    )
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
        let body = read_body(
            &headers,
            body,
            cfg.ingest.max_envelope_bytes,
            cfg.ingest.max_decompressed_bytes,
        )
        .await?;
        state.ingest.envelope(pid, auth, body).await
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
    let body = read_body(
        headers,
        body,
        cfg.ingest.max_store_bytes,
        cfg.ingest.max_event_bytes,
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
        let body = read_body(
            &headers,
            body,
            cfg.ingest.max_store_bytes,
            cfg.ingest.max_event_bytes,
        )
        .await?;
        state
            .ingest
            .security(pid, auth, &query, header_str(&headers, "user-agent"), body)
            .await
    }
    .await;
    respond(&state, pid, result)
}

/// Most form fields read from a minidump upload.
const MAX_FORM_FIELDS: usize = 100;

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
        // Crashpad may gzip the whole form: undo that before reading the parts.
        let body = read_body(
            &headers,
            body,
            cfg.ingest.max_envelope_bytes,
            cfg.ingest.max_decompressed_bytes,
        )
        .await?;
        let mut req = Request::new(Body::from(body));
        if let Some(ct) = headers.get(header::CONTENT_TYPE) {
            req.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
        }
        let mut form = axum::extract::Multipart::from_request(req, &())
            .await
            .map_err(|e| IngestError::InvalidEvent(format!("not a multipart form: {e}")))?;
        let mut event = Value::Object(Default::default());
        let mut files = Vec::new();
        let mut fields = 0;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| IngestError::InvalidEvent(format!("bad form: {e}")))?
        {
            fields += 1;
            if fields > MAX_FORM_FIELDS {
                return Err(IngestError::InvalidEvent(format!(
                    "more than {MAX_FORM_FIELDS} form fields"
                )));
            }
            let name = field.name().unwrap_or("").to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let data = field
                .bytes()
                .await
                .map_err(|e| IngestError::InvalidEvent(format!("bad form field `{name}`: {e}")))?;
            if name == "upload_file_minidump" {
                files.push((
                    filename.unwrap_or_else(|| "minidump.dmp".into()),
                    content_type,
                    data,
                    "event.minidump".to_string(),
                ));
            } else if name == "sentry" {
                event = serde_json::from_slice(&data).map_err(|e| {
                    IngestError::InvalidEvent(format!("form field `sentry` is not JSON: {e}"))
                })?;
            } else if let Some(path) = bracket_path(&name) {
                set_path(
                    &mut event,
                    &path,
                    String::from_utf8_lossy(&data).into_owned(),
                );
            } else if let Some(f) = filename {
                files.push((f, content_type, data, "event.attachment".to_string()));
            }
        }
        state.ingest.minidump(pid, auth, event, files).await
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

/// `sentry[tags][region]` -> ["tags", "region"].
fn bracket_path(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix("sentry[")?;
    let parts: Vec<String> = rest
        .trim_end_matches(']')
        .split("][")
        .map(str::to_string)
        .collect();
    (parts.len() <= 4 && parts.iter().all(|p| !p.is_empty())).then_some(parts)
}

fn set_path(root: &mut Value, path: &[String], value: String) {
    let mut cur = root;
    for (i, key) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let Value::Object(map) = cur else { return };
        if i + 1 == path.len() {
            map.insert(key.clone(), Value::String(value));
            return;
        }
        cur = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
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
    fn form_field_paths() {
        let mut v = Value::Object(Default::default());
        set_path(
            &mut v,
            &bracket_path("sentry[release]").expect("p"),
            "r1".into(),
        );
        set_path(
            &mut v,
            &bracket_path("sentry[tags][region]").expect("p"),
            "eu".into(),
        );
        assert_eq!(v, json!({"release": "r1", "tags": {"region": "eu"}}));
        assert!(bracket_path("other").is_none());
    }
}
