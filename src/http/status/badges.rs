//! Badges over HTTP: per component (SVG and shields.io JSON) and Gatus' paths for published
//! monitors. Translation only: `statuspage::badge` draws them from the cached view.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{clip, rendered};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::statuspage::view::{ComponentView, GATUS_DURATIONS, MonitorStat};
use crate::statuspage::{Rendered, badge};

fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        svg,
    )
        .into_response()
}

fn shields_response(v: serde_json::Value) -> Response {
    (
        [
            (header::CACHE_CONTROL, "public, max-age=60"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(v),
    )
        .into_response()
}

/// A component of page `slug` by id or public name.
fn component_of(
    state: &AppState,
    slug: &str,
    key: &str,
) -> Result<(Arc<Rendered>, usize), ApiError> {
    let r = rendered(state, slug)?;
    let i = r
        .view
        .all()
        .position(|c| c.id == key || c.name == key)
        .ok_or_else(|| {
            ApiError::NotFound(format!("no component `{}` on `{}`", clip(key), clip(slug)))
        })?;
    Ok((r, i))
}

/// `status.svg` or `status.json` (shields.io endpoint).
pub(super) async fn status_badge(
    State(state): State<AppState>,
    Path((slug, component, file)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (r, i) = component_of(&state, &slug, &component)?;
    let c = r
        .view
        .all()
        .nth(i)
        .ok_or_else(|| ApiError::NotFound("gone".into()))?;
    let (label, message, colour) = (
        c.name.as_str(),
        c.status.label().to_lowercase(),
        badge::status_colour(c.status),
    );
    match file.as_str() {
        "status.svg" => Ok(svg_response(badge::svg(label, &message, colour))),
        "status.json" => Ok(shields_response(badge::shields(label, &message, colour))),
        _ => Err(ApiError::NotFound(format!(
            "no badge `{}`: status.svg or status.json",
            clip(&file)
        ))),
    }
}

/// Mean of the known per-bucket means over the last `n` buckets.
fn mean_of(points: &[Option<f64>], n: usize) -> Option<f64> {
    let known: Vec<f64> = points.iter().rev().take(n).flatten().copied().collect();
    (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
}

/// `uptime/{24h,7d,30d,90d}.{svg,json}` and `response-time/{...}.{svg,json}`.
pub(super) async fn range_badge(
    State(state): State<AppState>,
    Path((slug, component, kind, file)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let (r, i) = component_of(&state, &slug, &component)?;
    let c: &ComponentView = r
        .view
        .all()
        .nth(i)
        .ok_or_else(|| ApiError::NotFound("gone".into()))?;
    let (range, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::NotFound(format!("no badge `{}`", clip(&file))))?;
    let idx = ["24h", "7d", "30d", "90d"]
        .iter()
        .position(|d| *d == range)
        .ok_or_else(|| {
            ApiError::NotFound(format!("no range `{}`: 24h, 7d, 30d or 90d", clip(range)))
        })?;
    let (label, message, colour) = match kind.as_str() {
        "uptime" => (
            format!("uptime {range}"),
            badge::uptime_text(c.uptime[idx]),
            badge::uptime_colour(c.uptime[idx]),
        ),
        "response-time" => {
            let ms = if idx == 0 {
                mean_of(&c.hourly_ms, 24)
            } else {
                mean_of(&c.daily_ms, [0, 7, 30, 90][idx])
            };
            (
                format!("response time {range}"),
                badge::latency_text(ms),
                badge::latency_colour(ms),
            )
        }
        _ => {
            return Err(ApiError::NotFound(format!(
                "no badge kind `{}`: uptime or response-time",
                clip(&kind)
            )));
        }
    };
    match ext {
        "svg" => Ok(svg_response(badge::svg(&label, &message, colour))),
        "json" => Ok(shields_response(badge::shields(&label, &message, colour))),
        _ => Err(ApiError::NotFound(format!(
            "no badge `{}`: .svg or .json",
            clip(&file)
        ))),
    }
}

fn public_monitor(state: &AppState, key: &str) -> Result<MonitorStat, ApiError> {
    state
        .status
        .public_monitor(key)
        .ok_or_else(|| ApiError::NotFound(format!("no public endpoint `{}`", clip(key))))
}

fn duration(d: &str) -> Result<usize, ApiError> {
    GATUS_DURATIONS.iter().position(|x| *x == d).ok_or_else(|| {
        ApiError::invalid(format!("duration: `{}` is not 1h, 24h, 7d or 30d", clip(d)))
    })
}

fn health(m: &MonitorStat) -> (&'static str, &'static str) {
    use crate::probe::state::State as S;
    match m.state {
        Some(S::Up) => ("up", "#40cc11"),
        Some(S::Degraded) => ("degraded", "#ccb311"),
        Some(S::Down) => ("down", "#c7130a"),
        Some(S::Maintenance) => ("maintenance", "#3182ce"),
        Some(S::Pending) => ("pending", "#cc8111"),
        Some(S::Unknown) | None => ("?", "#9f9f9f"),
    }
}

pub(super) async fn gatus_health(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let m = public_monitor(&state, &key)?;
    let (text, colour) = health(&m);
    Ok(svg_response(badge::svg("health", text, colour)))
}

pub(super) async fn gatus_health_shields(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let m = public_monitor(&state, &key)?;
    let (text, colour) = health(&m);
    Ok(shields_response(badge::shields("health", text, colour)))
}

pub(super) async fn gatus_uptime(
    State(state): State<AppState>,
    Path((key, d)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = public_monitor(&state, &key)?;
    let i = duration(&d)?;
    Ok(svg_response(badge::svg(
        &format!("uptime {d}"),
        &badge::uptime_text(m.uptime[i]),
        badge::uptime_colour(m.uptime[i]),
    )))
}

pub(super) async fn gatus_response_time(
    State(state): State<AppState>,
    Path((key, d)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = public_monitor(&state, &key)?;
    let i = duration(&d)?;
    Ok(svg_response(badge::svg(
        &format!("response time {d}"),
        &badge::latency_text(m.mean_ms[i]),
        badge::latency_colour(m.mean_ms[i]),
    )))
}
