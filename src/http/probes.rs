//! Monitor API: list, detail, raw results, roll-ups, and the public push endpoint (changes are
//! `monitors.rs`). Translation only: the answers come from `probe::query`.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::get;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use panoptes_types::{
    MonitorChanges, MonitorDetail, MonitorResults, MonitorRollups, MonitorSummary, Page,
};

use super::AppState;
use super::error::ApiError;
use super::page::{PageParams, cursor};
use crate::probe::MonitorView;
use crate::probe::query::{self, MonitorFilter};
use crate::probe::rollup::Resolution;
use crate::probe::state::State as MonState;

/// Authenticated routes (merged under the credential layer).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/monitors", super::monitors::create_route().get(list))
        .route("/monitors/{id}", super::monitors::change_route(get(detail)))
        .route("/monitors/{id}/results", get(results))
        .route("/monitors/{id}/rollups", get(rollups))
        .route("/monitors/{id}/changes", get(changes))
}

/// Public: push monitors carry their own secret in the path.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/push/{token}", get(push).post(push))
}

#[derive(Deserialize)]
struct ListQuery {
    group: Option<String>,
    state: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
    page: PageParams,
) -> Result<axum::Json<Page<MonitorSummary>>, ApiError> {
    let filter = MonitorFilter {
        group: q.group.filter(|g| !g.is_empty()),
        state: match q.state.as_deref() {
            None | Some("") => None,
            Some(s) => Some(MonState::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "unknown state `{s}`; use UP, DEGRADED, DOWN, MAINTENANCE, PENDING or UNKNOWN"
                ))
            })?),
        },
    };
    let (views, more) = state.probes.list(&filter, page.after::<u32>()?, page.limit);
    let next_cursor = if more {
        views.last().map(|v| cursor(&v.id))
    } else {
        None
    };
    // Uptime reads touch only this page's roll-ups.
    let probes = state.probes.clone();
    let items = state
        .store
        .read(move |_| Ok(views.iter().map(|v| probes.summary(v)).collect()))
        .await?;
    Ok(axum::Json(Page { items, next_cursor }))
}

fn monitor(state: &AppState, id: u32) -> Result<MonitorView, ApiError> {
    state
        .probes
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("no monitor with id {id}")))
}

async fn detail(
    State(state): State<AppState>,
    Path(id): Path<u32>,
) -> Result<axum::Json<MonitorDetail>, ApiError> {
    let v = monitor(&state, id)?;
    let probes = state.probes.clone();
    Ok(axum::Json(
        state.store.read(move |_| Ok(probes.detail(&v))).await?,
    ))
}

#[derive(Deserialize)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    resolution: Option<String>,
    /// One location's series of a multi-location monitor (`locations:`).
    location: Option<String>,
}

/// The monitor, or its series at `?location=` (another location's results and roll-ups).
fn at_location(state: &AppState, v: MonitorView, q: &RangeQuery) -> Result<MonitorView, ApiError> {
    let Some(l) = q.location.as_deref().filter(|l| !l.is_empty()) else {
        return Ok(v);
    };
    let series = state
        .probes
        .locations_of(&v.config)
        .into_iter()
        .find(|x| x.location == l)
        .ok_or_else(|| {
            ApiError::NotFound(format!("`{}` is not checked from `{l}`", v.config.name))
        })?;
    match series.series_id {
        Some(id) => Ok(MonitorView { id, ..v }),
        None => Err(ApiError::NotFound(format!("no results from `{l}` yet"))),
    }
}

/// Milliseconds since the epoch, or RFC 3339.
fn parse_time(field: &'static str, s: &str) -> Result<u64, ApiError> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond().max(0) as u64)
        .map_err(|_| {
            ApiError::invalid(format!(
                "`{field}` must be RFC 3339 or milliseconds since the epoch"
            ))
        })
}

fn range(q: &RangeQuery, now: u64, default_span: u64) -> Result<(u64, u64), ApiError> {
    let to =
        q.to.as_deref()
            .map(|s| parse_time("to", s))
            .transpose()?
            .unwrap_or(now + 1);
    let from = q
        .from
        .as_deref()
        .map(|s| parse_time("from", s))
        .transpose()?
        .unwrap_or(to.saturating_sub(default_span));
    if from > to {
        return Err(ApiError::invalid("`from` is after `to`"));
    }
    Ok((from, to))
}

async fn results(
    State(state): State<AppState>,
    Path(id): Path<u32>,
    Query(q): Query<RangeQuery>,
) -> Result<axum::Json<MonitorResults>, ApiError> {
    let v = at_location(&state, monitor(&state, id)?, &q)?;
    let (from, to) = range(&q, state.clock.now_ms(), 3_600_000)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(axum::Json(
        state
            .store
            .read(move |s| query::results(s, &v, from, to, limit))
            .await?,
    ))
}

async fn changes(
    State(state): State<AppState>,
    Path(id): Path<u32>,
    Query(q): Query<RangeQuery>,
) -> Result<axum::Json<MonitorChanges>, ApiError> {
    let v = at_location(&state, monitor(&state, id)?, &q)?;
    let (from, to) = range(&q, state.clock.now_ms(), 7 * 86_400_000)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(axum::Json(
        state
            .store
            .read(move |s| query::changes(s, &v, from, to, limit))
            .await?,
    ))
}

async fn rollups(
    State(state): State<AppState>,
    Path(id): Path<u32>,
    Query(q): Query<RangeQuery>,
) -> Result<axum::Json<MonitorRollups>, ApiError> {
    let v = at_location(&state, monitor(&state, id)?, &q)?;
    let res = match q.resolution.as_deref() {
        None => Resolution::Hour,
        Some(s) => Resolution::parse(s)
            .ok_or_else(|| ApiError::invalid("resolution must be minute, hour or day"))?,
    };
    let (from, to) = range(&q, state.clock.now_ms(), res.millis() * 60)?;
    Ok(axum::Json(
        state
            .store
            .read(move |s| query::rollups(s, &v, res, from, to))
            .await?,
    ))
}

#[derive(Deserialize, Default)]
struct PushParams {
    status: Option<String>,
    msg: Option<String>,
    /// Uptime Kuma's name for the latency.
    ping: Option<f64>,
    latency: Option<f64>,
}

/// Largest push body: a status, a message (kept to 512 characters) and a latency.
const PUSH_MAX_BODY: usize = 4 * 1024;
/// How long a push body may take to arrive (never more than `server.request_timeout`).
const PUSH_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// `POST|GET /api/v1/push/{token}?status=up|down&msg=...&latency=ms` (JSON body also accepted).
async fn push(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PushParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<Value>, ApiError> {
    // The token is the credential: an unknown one is refused before any body is read.
    if !state.probes.has_push_token(&token) {
        return Err(ApiError::NotFound("no push monitor with this token".into()));
    }
    let wait = PUSH_BODY_TIMEOUT.min(state.server().request_timeout.get());
    let body =
        match tokio::time::timeout(wait, read_small_body(&headers, body, PUSH_MAX_BODY)).await {
            Ok(read) => read?,
            Err(_) => {
                return Err(ApiError::RequestTimeout(format!(
                    "the push body did not arrive within {}",
                    crate::config::Duration(wait)
                )));
            }
        };
    let from_body: PushParams = if body.is_empty() {
        PushParams::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(super::ErrorCode::InvalidJson, format!("push body: {e}"))
        })?
    };
    let status = q.status.or(from_body.status).unwrap_or_else(|| "up".into());
    let up = match status.to_ascii_lowercase().as_str() {
        "up" | "ok" | "success" => true,
        "down" | "fail" | "failure" | "error" => false,
        other => {
            return Err(ApiError::invalid(format!(
                "status must be up or down, not `{}`",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let msg = q
        .msg
        .or(from_body.msg)
        .map(|m| m.chars().take(512).collect());
    let latency = q
        .latency
        .or(q.ping)
        .or(from_body.latency)
        .or(from_body.ping)
        .filter(|l| l.is_finite() && *l >= 0.0)
        // A saturating cast; the engine clamps to a sane maximum.
        .map(|l| l as u64);
    // Answered after the heartbeat is durable (503 when the store cannot take it).
    let state_now = state
        .probes
        .push(&token, up, msg, latency)
        .await?
        .ok_or_else(|| ApiError::NotFound("no push monitor with this token".into()))?;
    Ok(axum::Json(
        json!({ "ok": true, "state": state_now.as_str() }),
    ))
}

/// Reads a body of at most `limit` bytes: refused at once when its declared length is larger,
/// and as soon as more than `limit` bytes have arrived otherwise.
async fn read_small_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::PayloadTooLarge {
        message: format!("the body is larger than {limit} bytes"),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::invalid(format!("could not read the body: {e}")))?;
        if out.len() + chunk.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
