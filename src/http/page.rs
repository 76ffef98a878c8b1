//! Pagination, written once: every list route takes `limit` and `cursor` from the query string
//! and answers `{"items": [...], "next_cursor": "..."}`. Cursors are opaque to clients: a
//! base64url-encoded position the route itself issued; anything else is `invalid_cursor`.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode};

/// Items per page when the request names no limit.
pub const DEFAULT_LIMIT: usize = 100;
/// Most items per page; larger limits are lowered to this.
pub const MAX_LIMIT: usize = 1000;
/// Bound on a cursor as sent.
const MAX_CURSOR: usize = 1024;

/// `?limit=&cursor=` of a list route.
#[derive(Debug, Clone)]
pub struct PageParams {
    pub limit: usize,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct Raw {
    limit: Option<String>,
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<Raw>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid(format!("query string: {}", e.body_text())))?;
        let limit = match raw.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "limit must be a number from 1 to {MAX_LIMIT}, not `{}`",
                        l.chars().take(20).collect::<String>()
                    ))
                })?
                .min(MAX_LIMIT),
        };
        let cursor = raw.cursor.filter(|c| !c.is_empty());
        if cursor.as_ref().is_some_and(|c| c.len() > MAX_CURSOR) {
            return Err(invalid_cursor());
        }
        Ok(PageParams { limit, cursor })
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidCursor,
        "cursor is not one this server issued",
    )
}

impl PageParams {
    /// The position the cursor names, decoded as the type this route issues.
    pub fn after<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        let Some(c) = &self.cursor else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .map_err(|_| invalid_cursor())?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| invalid_cursor())
    }
}

/// A position as a cursor.
pub fn cursor<T: serde::Serialize>(position: &T) -> String {
    // Positions are plain tuples of numbers and strings; they always serialise.
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(position).unwrap_or_default())
}

/// Pages a list that is not kept in order elsewhere: items after `after` in `key` order.
pub fn slice<T, K: Ord + Clone>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> K,
    after: Option<K>,
    limit: usize,
) -> (Vec<T>, Option<K>) {
    items.sort_by_key(|i| key(i));
    let mut page: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_ref().is_none_or(|a| key(i) > *a))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let next = if more { page.last().map(&key) } else { None };
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let p = PageParams {
            limit: 10,
            cursor: Some(cursor(&(17u64, "abc".to_string()))),
        };
        assert_eq!(
            p.after::<(u64, String)>().expect("ours"),
            Some((17, "abc".to_string()))
        );
        let forged = PageParams {
            limit: 10,
            cursor: Some("17.3".into()),
        };
        assert!(forged.after::<(u64, String)>().is_err());
        let wrong_type = PageParams {
            limit: 10,
            cursor: Some(cursor(&"x")),
        };
        assert!(wrong_type.after::<u64>().is_err());
    }

    #[test]
    fn slices_page_through_everything_once() {
        let items: Vec<u32> = (0..25).rev().collect();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = slice(items.clone(), |i| *i, after, 10);
            seen.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, (0..25).collect::<Vec<_>>());
    }
}
