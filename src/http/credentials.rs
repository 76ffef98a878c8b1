//! The one parser of the `Authorization` header. Every route that reads it (API bearer tokens,
//! Basic auth on the Periskop-compatible routes and the push gateway, `Authorization: Sentry` on
//! ingest) gets its scheme and parameters from here.

use axum::http::{HeaderMap, header};
use base64::Engine;

/// What an `Authorization` header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Bearer <token>`.
    Bearer(String),
    /// `Basic base64(user:password)`.
    Basic { user: String, password: String },
    /// `Sentry sentry_key=..., ...`: the whole value, parsed by ingest.
    Sentry(String),
    /// Any other scheme (not ours; ignored by every route).
    Other(String),
}

/// Bound on a header we parse; real credentials are far shorter.
const MAX_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the Authorization header is not visible ASCII")]
    NotAscii,
    #[error("the Authorization header is longer than {MAX_LEN} bytes")]
    TooLong,
    #[error("malformed Basic credentials")]
    BadBasic,
    #[error("the Authorization header has no credentials after its scheme")]
    Empty,
}

/// Parses the request's `Authorization` header; `Ok(None)` when there is none.
pub fn authorization(headers: &HeaderMap) -> Result<Option<Credential>, CredentialError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| CredentialError::NotAscii)?;
    parse(v).map(Some)
}

pub fn parse(value: &str) -> Result<Credential, CredentialError> {
    if value.len() > MAX_LEN {
        return Err(CredentialError::TooLong);
    }
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("sentry") {
        return Ok(Credential::Sentry(value.to_string()));
    }
    if rest.is_empty() {
        return if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("basic") {
            Err(CredentialError::Empty)
        } else {
            Ok(Credential::Other(scheme.to_string()))
        };
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Credential::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| CredentialError::BadBasic)?;
        let raw = String::from_utf8(raw).map_err(|_| CredentialError::BadBasic)?;
        let (user, password) = raw.split_once(':').ok_or(CredentialError::BadBasic)?;
        return Ok(Credential::Basic {
            user: user.to_string(),
            password: password.to_string(),
        });
    }
    Ok(Credential::Other(scheme.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(parse("Bearer abc"), Ok(Credential::Bearer("abc".into())));
        assert_eq!(parse("bearer  abc "), Ok(Credential::Bearer("abc".into())));
        assert_eq!(
            parse("Basic cHVzaDpzM2NyZXQ="),
            Ok(Credential::Basic {
                user: "push".into(),
                password: "s3cret".into()
            })
        );
        assert_eq!(parse("Basic !!"), Err(CredentialError::BadBasic));
        assert_eq!(parse("Basic bm9jb2xvbg=="), Err(CredentialError::BadBasic));
        assert_eq!(parse("Bearer"), Err(CredentialError::Empty));
        assert_eq!(
            parse("Sentry sentry_key=k, sentry_version=7"),
            Ok(Credential::Sentry(
                "Sentry sentry_key=k, sentry_version=7".into()
            ))
        );
        assert_eq!(parse("Digest x=1"), Ok(Credential::Other("Digest".into())));
        assert_eq!(parse(&"x".repeat(9000)), Err(CredentialError::TooLong));
    }
}
