//! Monitor API: list, detail, raw results, roll-ups, and the public push endpoint. Translation
//! only: the answers come from `probe::query`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use panoptes_types::{MonitorDetail, MonitorSummary, Page};

use super::AppState;
use super::error::ApiError;
use super::page::{PageParams, cursor};
use crate::clock::rfc3339;
use crate::probe::MonitorView;
use crate::probe::query::MonitorFilter;
use crate::probe::rollup::{Resolution, ResultRecord, Rollup};
use crate::probe::state::State as MonState;

/// Authenticated routes (merged under the credential layer).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/monitors", get(list))
        .route("/monitors/{id}", get(detail))
        .route("/monitors/{id}/results", get(results))
        .route("/monitors/{id}/rollups", get(rollups))
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
) -> Result<axum::Json<Value>, ApiError> {
    let v = monitor(&state, id)?;
    let (from, to) = range(&q, state.clock.now_ms(), 3_600_000)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let rows = state
        .store
        .read(move |s| s.probe_results(id, from, to, limit))
        .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .filter_map(|(at, bytes)| ResultRecord::decode(&bytes).map(|r| (at, r)))
        .map(|(at, r)| {
            let failed: Vec<String> = v
                .config
                .conditions
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < 64 && r.failed_conditions & (1 << i) != 0)
                .map(|(_, c)| c.to_string())
                .collect();
            json!({
                "at": rfc3339(at),
                "at_ms": at,
                "state": r.state.as_str(),
                "ok": r.ok,
                "latency_ms": r.latency_us as f64 / 1000.0,
                "status": r.status,
                "failed_conditions": failed,
                "error": r.error,
            })
        })
        .collect();
    Ok(axum::Json(
        json!({ "monitor": v.config.name, "from": rfc3339(from), "to": rfc3339(to), "items": items }),
    ))
}

async fn rollups(
    State(state): State<AppState>,
    Path(id): Path<u32>,
    Query(q): Query<RangeQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let v = monitor(&state, id)?;
    let res = match q.resolution.as_deref() {
        None => Resolution::Hour,
        Some(s) => Resolution::parse(s)
            .ok_or_else(|| ApiError::invalid("resolution must be minute, hour or day"))?,
    };
    let (from, to) = range(&q, state.clock.now_ms(), res.millis() * 60)?;
    let rows = state
        .store
        .read(move |s| s.probe_rollups(id, res as u8, res.bucket(from), to))
        .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .filter_map(|(start, bytes)| Rollup::decode(&bytes).map(|r| (start, r)))
        .map(|(start, r)| {
            let n = r.counted();
            json!({
                "start": rfc3339(start),
                "start_ms": start,
                "up": r.up, "degraded": r.degraded, "down": r.down,
                "maintenance": r.maintenance, "pending": r.pending,
                "availability": r.availability(),
                "apdex": r.apdex(),
                "latency_ms": {
                    "p50": r.percentile(0.50), "p95": r.percentile(0.95), "p99": r.percentile(0.99),
                    "avg": (n > 0).then(|| r.latency_sum_ms as f64 / f64::from(n)),
                },
            })
        })
        .collect();
    Ok(axum::Json(
        json!({ "monitor": v.config.name, "resolution": res.as_str(), "items": items }),
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

/// `POST|GET /api/v1/push/{token}?status=up|down&msg=...&latency=ms` (JSON body also accepted).
async fn push(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<PushParams>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Value>, ApiError> {
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
        .map(|l| l as u64);
    let state_now = state
        .probes
        .push(&token, up, msg, latency)
        .await
        .ok_or_else(|| ApiError::NotFound("no push monitor with this token".into()))?;
    Ok(axum::Json(
        json!({ "ok": true, "state": state_now.as_str() }),
    ))
}
