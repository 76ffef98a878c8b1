//! The one mapping from internal errors to HTTP: every API error is
//! `{"error": {"code": "...", "message": "..."}}` with a stable `code`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use panoptes_types::{ErrorBody, ErrorDetail};
use serde::de::DeserializeOwned;
use tracing::error;

use crate::auth::AuthError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    PayloadTooLarge { message: String },
    #[error("too many attempts; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{message}")]
    Unavailable {
        code: &'static str,
        message: String,
        retry_after_secs: Option<u64>,
    },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable { code, .. } => code,
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            // The detail is for the operator's log, not for the client.
            error!(error = %detail, "internal error while serving a request");
        }
        let status = self.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        let retry = match &self {
            ApiError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Unavailable {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
        };
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
                code: "store_busy",
                message: e.to_string(),
                retry_after_secs: Some(1),
            },
            StoreError::Closed | StoreError::Failed(_) => ApiError::Unavailable {
                code: "store_unavailable",
                message: e.to_string(),
                retry_after_secs: None,
            },
            other => ApiError::Internal(other.to_string()),
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
            AuthError::Invalid(m) => ApiError::bad_request("invalid_input", m),
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
                    "unsupported_media_type",
                    "expected Content-Type: application/json",
                ),
                JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge {
                        message: "request body too large".into(),
                    }
                }
                other => ApiError::bad_request("invalid_json", other.body_text()),
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
            E::Store(StoreError::Closed | StoreError::Failed(_)) => StatusCode::SERVICE_UNAVAILABLE,
            E::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = match &self {
            E::Store(e) if status == StatusCode::INTERNAL_SERVER_ERROR => {
                error!(error = %e, "store error while ingesting");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut resp =
            (status, axum::Json(serde_json::json!({ "detail": detail }))).into_response();
        let h = resp.headers_mut();
        // Header values must be visible ASCII; the JSON body keeps the full text.
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
        if let Ok(v) = HeaderValue::from_str(&clean) {
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
