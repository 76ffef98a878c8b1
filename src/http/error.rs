//! The one mapping from internal errors to HTTP: every API error is
//! `{"error": {"code": "...", "message": "..."}}` with a stable `code`. The codes are the
//! [`ErrorCode`] enum, which is the README's list; handlers cannot invent others.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use panoptes_types::{ErrorBody, ErrorDetail, FieldError};
use serde::de::DeserializeOwned;
use tracing::error;

use crate::auth::AuthError;
use crate::store::StoreError;

/// Every code an API error can carry (the README lists them with their statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Gone,
    InvalidJson,
    UnsupportedMediaType,
    InvalidInput,
    InvalidCursor,
    PayloadTooLarge,
    TooManyRequests,
    RequestTimeout,
    Busy,
    StoreBusy,
    StoreUnavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::Gone,
        ErrorCode::InvalidJson,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidInput,
        ErrorCode::InvalidCursor,
        ErrorCode::PayloadTooLarge,
        ErrorCode::TooManyRequests,
        ErrorCode::RequestTimeout,
        ErrorCode::Busy,
        ErrorCode::StoreBusy,
        ErrorCode::StoreUnavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Gone => "gone",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Busy => "busy",
            ErrorCode::StoreBusy => "store_busy",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Gone => StatusCode::GONE,
            ErrorCode::InvalidJson
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::InvalidInput
            | ErrorCode::InvalidCursor => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StoreBusy | ErrorCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    /// `invalid_input` with each wrong field of the body (the config decoder's messages).
    #[error("{}", fields_message(.0))]
    Fields(Vec<FieldError>),
    #[error("{message}")]
    PayloadTooLarge { message: String },
    #[error("too many attempts; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{message}")]
    Unavailable {
        code: ErrorCode,
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("internal error")]
    Internal(String),
}

fn fields_message(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// `invalid_input` naming the field: the most common refusal.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorCode::InvalidInput, message)
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::Gone(_) => ErrorCode::Gone,
            ApiError::BadRequest { code, .. } => *code,
            ApiError::Fields(_) => ErrorCode::InvalidInput,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            ApiError::RequestTimeout(_) => ErrorCode::RequestTimeout,
            ApiError::Unavailable { code, .. } => *code,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code().status()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            // The detail is for the operator's log, not for the client.
            error!(error = %detail, "internal error while serving a request");
        }
        let status = self.status();
        let message = self.to_string();
        let code = self.code().as_str().to_string();
        let retry = match &self {
            ApiError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Unavailable {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
        };
        let fields = match self {
            ApiError::Fields(f) => f,
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                fields,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => ApiError::Unavailable {
                code: ErrorCode::StoreBusy,
                message: e.to_string(),
                retry_after_secs: Some(1),
            },
            StoreError::Closed | StoreError::Failed(_) | StoreError::Disk(_) => {
                ApiError::Unavailable {
                    code: ErrorCode::StoreUnavailable,
                    message: e.to_string(),
                    retry_after_secs: None,
                }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::agent::AgentError> for ApiError {
    fn from(e: crate::agent::AgentError) -> Self {
        use crate::agent::AgentError as A;
        match e {
            A::Invalid(m) => ApiError::invalid(m),
            A::Exists(m) => ApiError::Conflict(m),
            A::NotFound(m) => ApiError::NotFound(m),
            A::Unauthorized(m) => ApiError::Unauthorized(m),
            A::TooLarge(message) => ApiError::PayloadTooLarge { message },
            A::Store(s) | A::Probe(crate::probe::ProbeError::Store(s)) => s.into(),
            A::Probe(p) => ApiError::Internal(p.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => ApiError::Unauthorized(e.to_string()),
            AuthError::Throttled { retry_after_secs } => {
                ApiError::TooManyRequests { retry_after_secs }
            }
            AuthError::Busy { retry_after_secs } => ApiError::Unavailable {
                code: ErrorCode::Busy,
                message: e.to_string(),
                retry_after_secs: Some(retry_after_secs),
            },
            AuthError::Invalid(m) => ApiError::invalid(m),
            AuthError::Conflict(m) => ApiError::Conflict(m),
            AuthError::NotFound(m) => ApiError::NotFound(m),
            AuthError::Gone(m) => ApiError::Gone(m),
            AuthError::Forbidden(m) => ApiError::Forbidden(m),
            AuthError::Store(s) => s.into(),
            AuthError::Hash(h) => ApiError::Internal(h),
        }
    }
}

/// `axum::Json`, with rejections mapped into our error shape.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(
                    ErrorCode::UnsupportedMediaType,
                    "expected Content-Type: application/json",
                ),
                JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge {
                        message: "request body too large".into(),
                    }
                }
                other => ApiError::bad_request(ErrorCode::InvalidJson, other.body_text()),
            }),
        }
    }
}

/// Ingest errors answer the way Sentry's Relay does, because SDKs read these responses:
/// `{"detail": "..."}` plus `X-Sentry-Error`, `Retry-After` on 429/503 and
/// `X-Sentry-Rate-Limits` on 429.
impl IntoResponse for crate::sentry::IngestError {
    fn into_response(self) -> Response {
        use crate::sentry::IngestError as E;
        let status = match &self {
            E::MissingAuth | E::MultipleAuth | E::UnknownKey | E::WrongProject(_) => {
                StatusCode::UNAUTHORIZED
            }
            E::BadAuth(_)
            | E::DsnMismatch
            | E::BadEncoding(_)
            | E::InvalidEnvelope(_)
            | E::InvalidEvent(_) => StatusCode::BAD_REQUEST,
            E::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            E::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            E::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            E::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            E::Store(StoreError::Closed | StoreError::Failed(_) | StoreError::Disk(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            E::Store(_) | E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = match &self {
            E::Store(e) if status == StatusCode::INTERNAL_SERVER_ERROR => {
                error!(error = %e, "store error while ingesting");
                "internal error".to_string()
            }
            E::Internal(e) => {
                error!(error = %e, "internal error while ingesting");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut resp =
            (status, axum::Json(serde_json::json!({ "detail": detail }))).into_response();
        let h = resp.headers_mut();
        if let Some(v) = x_sentry_error(&detail) {
            h.insert("x-sentry-error", v);
        }
        match &self {
            E::RateLimited {
                retry_after_secs,
                limits,
            } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
                if let Ok(v) = HeaderValue::from_str(limits) {
                    h.insert("x-sentry-rate-limits", v);
                }
            }
            E::Busy(_) | E::Store(StoreError::Closed) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        resp
    }
}

/// `X-Sentry-Error` for `detail`: header values must be visible ASCII; the JSON body keeps the
/// full text.
fn x_sentry_error(detail: &str) -> Option<HeaderValue> {
    let clean: String = detail
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect();
    HeaderValue::from_str(&clean).ok()
}

/// The code for a status that something other than our handlers answered (a path or query that
/// does not parse, a method the route does not have, a body over a limit).
fn code_for(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        429 => ErrorCode::TooManyRequests,
        503 => ErrorCode::StoreUnavailable,
        400..=499 => ErrorCode::InvalidInput,
        _ => ErrorCode::Internal,
    }
}

/// Makes every error answer the JSON shape: axum's own rejections (a path segment that is not a
/// number, a bad query value, 405, 413) are plain text, and clients branch on `code`. The
/// Periskop-compatible routes keep Periskop's own plain-text 404s; the Sentry ingest paths answer
/// Relay's shape instead.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // Decided before the request moves on (no copy of the path per request).
    let path = req.uri().path();
    let ingest = super::sentry::is_ingest_path(path);
    let periskop_compat = path.starts_with("/services/") || path.starts_with("/targets/");
    let resp = next.run(req).await;
    let status = resp.status();
    // SDKs read Relay's shape on the ingest paths, whoever answered (a 405, a deadline, an
    // unknown `/api/{id}/...` route).
    if ingest && (status.is_client_error() || status.is_server_error()) {
        return relay_shape(resp).await;
    }
    if periskop_compat {
        return resp;
    }
    as_json_error(resp).await
}

/// The layers of [`json_errors`] and [`security_headers`] for routes that skip the per-request
/// middleware (the status page's cached reads): successes pass untouched (they set their own
/// headers, and a widget must stay frameable), errors get the JSON shape and the headers.
pub async fn errors_only(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let mut resp = as_json_error(resp).await;
    add_security_headers(resp.headers_mut());
    resp
}

/// An error answer not already JSON (nor a page meant for people) in the API's error shape.
async fn as_json_error(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    // A handler that answered a page for people (an acknowledge link on a phone) meant it.
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_html {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string()
    } else {
        text
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code_for(status).as_str().to_string(),
            message,
            fields: Vec::new(),
        },
    };
    let mut out = (status, axum::Json(body)).into_response();
    // Keep what the original answer told the client (Allow on 405, Retry-After, ...).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// An error on an ingest path that the ingest handlers did not answer, in Relay's shape:
/// `{"detail": "..."}` plus `X-Sentry-Error`, keeping the status and headers (Allow,
/// Retry-After). Answers that already are in that shape pass.
async fn relay_shape(resp: Response) -> Response {
    if resp.headers().contains_key("x-sentry-error") {
        return resp;
    }
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    // Our own API error shape carries its message inside; anything else is text.
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
    let detail = if message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string()
    } else {
        message
    };
    let mut out = (status, axum::Json(serde_json::json!({ "detail": detail }))).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if let Some(v) = x_sentry_error(&detail) {
        out.headers_mut().insert("x-sentry-error", v);
    }
    out
}

/// Headers every answer carries: no MIME sniffing, no framing by other sites, no referrer
/// beyond this origin. (The dashboard adds its Content-Security-Policy.)
pub async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut resp = next.run(req).await;
    add_security_headers(resp.headers_mut());
    resp
}

fn add_security_headers(h: &mut axum::http::HeaderMap) {
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_we_did_not_answer_get_codes_from_the_list() {
        assert_eq!(
            code_for(StatusCode::METHOD_NOT_ALLOWED),
            ErrorCode::MethodNotAllowed
        );
        assert_eq!(code_for(StatusCode::BAD_REQUEST), ErrorCode::InvalidInput);
        assert_eq!(
            code_for(StatusCode::PAYLOAD_TOO_LARGE),
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(code_for(StatusCode::IM_A_TEAPOT), ErrorCode::InvalidInput);
        assert_eq!(code_for(StatusCode::BAD_GATEWAY), ErrorCode::Internal);
    }

    /// The README's list of codes and the enum are the same list.
    #[test]
    fn the_readme_lists_exactly_the_error_codes() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("Codes: ")
            .expect("the README lists the error codes after `Codes: `");
        let end = readme[start..]
            .find("\n\n")
            .map_or(readme.len(), |e| start + e);
        let listed: std::collections::BTreeSet<&str> =
            readme[start..end].split('`').skip(1).step_by(2).collect();
        let ours: std::collections::BTreeSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, ours);
        let text = readme[start..end].replace('\n', " ");
        for c in ErrorCode::ALL {
            let tag = format!("`{}` ", c.as_str());
            let at = text.find(&tag).expect("listed") + tag.len();
            let status: String = text[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert_eq!(
                status,
                c.status().as_u16().to_string(),
                "the README's status of `{}`",
                c.as_str()
            );
        }
    }
}
