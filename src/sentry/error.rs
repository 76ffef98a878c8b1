//! Why an ingest request was refused. `http::sentry` maps each to the status and headers the
//! SDKs expect (Relay's answers).

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("missing authentication: send X-Sentry-Auth, or sentry_key in the query string")]
    MissingAuth,
    #[error("more than one authentication source (header, Authorization, query)")]
    MultipleAuth,
    #[error("bad authentication: {0}")]
    BadAuth(String),
    #[error("unknown public key")]
    UnknownKey,
    #[error("the key does not belong to project {0}")]
    WrongProject(u64),
    #[error("the envelope's dsn does not match the request's key or project")]
    DsnMismatch,
    #[error("{0}")]
    BadEncoding(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("invalid envelope: {0}")]
    InvalidEnvelope(String),
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("project rate limit reached; retry in {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        /// `X-Sentry-Rate-Limits` value.
        limits: String,
    },
    #[error("ingest is busy: {0}")]
    Busy(String),
    /// The body did not arrive within `ingest.body_read_timeout`.
    #[error("{0}")]
    Timeout(String),
    #[error(transparent)]
    Store(StoreError),
    /// A bug, not the client's doing (a parsing task that panicked); the detail is for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    /// Short reason for the `panoptes_ingest_rejected` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::MissingAuth
            | IngestError::MultipleAuth
            | IngestError::BadAuth(_)
            | IngestError::UnknownKey
            | IngestError::WrongProject(_)
            | IngestError::DsnMismatch => "auth",
            IngestError::BadEncoding(_) => "encoding",
            IngestError::TooLarge(_) => "too_large",
            IngestError::InvalidEnvelope(_) | IngestError::InvalidEvent(_) => "invalid",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::Busy(_) => "busy",
            IngestError::Timeout(_) => "timeout",
            IngestError::Store(_) => "store",
            IngestError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => IngestError::Busy("the store's write queue is full".into()),
            other => IngestError::Store(other),
        }
    }
}
