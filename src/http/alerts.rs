//! Alerting API: alerts held now and their history, silences (Alertmanager's v2 JSON),
//! notifications with their attempts, receivers and their Test button. Translation only: the
//! answers come from `alerts::query` and the engine's handle.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use panoptes_types::{
    AlertHistoryEntry, AlertState, AlertView, NewSilence, NotificationView, Page, ReceiverView,
    SilenceCreated, SilenceView, TestDelivery,
};

use super::AppState;
use super::error::{ApiError, Json as JsonBody};
use super::page::{PageParams, cursor, slice};
use crate::alerts::engine::SilenceError;
use crate::alerts::matcher::Matcher;
use crate::alerts::query::{self, AlertFilter};
use crate::auth::{self, Principal};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(list))
        .route("/alerts/history", get(history))
        .route("/silences", get(silences).post(put_silence))
        .route("/silences/{id}", get(silence).delete(expire_silence))
        .route("/notifications", get(notifications))
        .route("/receivers", get(receivers))
        .route("/receivers/{name}/test", post(test_receiver))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    /// Matchers, comma-separated or repeated (`filter=severity="critical"`).
    filter: Option<String>,
    /// `false` hides silenced and inhibited alerts.
    silenced: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
    page: PageParams,
) -> Result<Json<Page<AlertView>>, ApiError> {
    let mut f = AlertFilter {
        state: match q.state.as_deref() {
            None | Some("") => None,
            Some("pending") => Some(AlertState::Pending),
            Some("firing") => Some(AlertState::Firing),
            Some(s) => {
                return Err(ApiError::invalid(format!(
                    "unknown state `{}`; use pending or firing",
                    s.chars().take(20).collect::<String>()
                )));
            }
        },
        matchers: Vec::new(),
        active_only: q.silenced == Some(false),
    };
    if let Some(filter) = q.filter.as_deref().filter(|s| !s.is_empty()) {
        for part in split_matchers(filter) {
            f.matchers
                .push(Matcher::parse(part).map_err(|e| ApiError::invalid(format!("filter: {e}")))?);
        }
    }
    let (items, more) = state.alerts.alerts(&f, page.after::<String>()?, page.limit);
    let next_cursor = if more {
        items.last().map(|a| cursor(&a.fingerprint))
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

/// Splits `a="x,y",b=~"z"` at commas outside quotes; `{...}` braces are optional.
fn split_matchers(s: &str) -> Vec<&str> {
    let s = s.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            '\\' if quoted => escaped = !escaped,
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

async fn history(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<AlertHistoryEntry>>, ApiError> {
    let before = page.after::<(u64, String)>()?;
    let (items, next) = query::history(&state.store, before, page.limit).await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn silences(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<SilenceView>>, ApiError> {
    // Listed in display order; the cursor is the position in that order.
    let all: Vec<(usize, SilenceView)> = state.alerts.silences().into_iter().enumerate().collect();
    let (items, next) = slice(all, |(i, _)| *i, page.after::<usize>()?, page.limit);
    Ok(Json(Page {
        items: items.into_iter().map(|(_, s)| s).collect(),
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SilenceView>, ApiError> {
    state
        .alerts
        .silence(&id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no silence with id `{id}`")))
}

fn silence_error(e: SilenceError) -> ApiError {
    match e {
        SilenceError::Invalid(i) => ApiError::invalid(format!("{}: {}", i.field, i.message)),
        SilenceError::NotFound(id) => ApiError::NotFound(format!("no silence with id `{id}`")),
        SilenceError::TooMany => ApiError::Conflict(e.to_string()),
        SilenceError::Stopped => ApiError::Internal(e.to_string()),
        SilenceError::Store(s) => s.into(),
    }
}

async fn put_silence(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(mut post): JsonBody<NewSilence>,
) -> Result<(StatusCode, Json<SilenceCreated>), ApiError> {
    if post.created_by.trim().is_empty() {
        post.created_by = p.name().to_string();
    }
    let updating = post.id.is_some();
    let s = state
        .alerts
        .put_silence(post)
        .await
        .map_err(silence_error)?;
    let now = state.clock.now_ms();
    let action = if updating {
        "silence.update"
    } else {
        "silence.create"
    };
    // The silence is stored; an audit entry that fails to write is logged, not fatal.
    if let Err(e) = state
        .store
        .write(vec![auth::audit(now, p.name(), action, &s.id)])
        .await
    {
        tracing::warn!(error = %e, "audit entry for a silence not written");
    }
    Ok((
        if updating {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(SilenceCreated { silence_id: s.id }),
    ))
}

async fn expire_silence(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<SilenceView>, ApiError> {
    let s = state
        .alerts
        .expire_silence(id)
        .await
        .map_err(silence_error)?;
    let now = state.clock.now_ms();
    if let Err(e) = state
        .store
        .write(vec![auth::audit(now, p.name(), "silence.expire", &s.id)])
        .await
    {
        tracing::warn!(error = %e, "audit entry for a silence not written");
    }
    Ok(Json(s.view(now)))
}

#[derive(Deserialize)]
struct NotificationQuery {
    receiver: Option<String>,
}

async fn notifications(
    State(state): State<AppState>,
    Query(q): Query<NotificationQuery>,
    page: PageParams,
) -> Result<Json<Page<NotificationView>>, ApiError> {
    let before = page.after::<u64>()?;
    let receiver = q.receiver.filter(|r| !r.is_empty());
    let (items, next) = query::notifications(&state.store, before, receiver, page.limit).await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn receivers(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<ReceiverView>>, ApiError> {
    let after = page.after::<usize>()?;
    // In config order (the order the routing tree names them), so the position is the key.
    let all: Vec<_> = state
        .alerts
        .receivers()
        .await?
        .into_iter()
        .enumerate()
        .collect();
    let (items, next) = slice(all, |(i, _)| *i, after, page.limit);
    Ok(Json(Page {
        items: items.into_iter().map(|(_, r)| r).collect(),
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn test_receiver(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<Vec<TestDelivery>>, ApiError> {
    let results = state
        .alerts
        .test_receiver(&name)
        .await
        .ok_or_else(|| ApiError::NotFound(format!("no receiver named `{name}`")))?;
    let now = state.clock.now_ms();
    if let Err(e) = state
        .store
        .write(vec![auth::audit(now, p.name(), "receiver.test", &name)])
        .await
    {
        tracing::warn!(error = %e, "audit entry for a receiver test not written");
    }
    Ok(Json(results))
}

#[cfg(test)]
mod tests {
    use super::split_matchers;

    #[test]
    fn filters_split_outside_quotes() {
        assert_eq!(
            split_matchers(r#"{a="x,y", b=~"z\",w"}"#),
            vec![r#"a="x,y""#, r#" b=~"z\",w""#]
        );
        assert_eq!(
            split_matchers("severity=critical"),
            vec!["severity=critical"]
        );
    }
}
