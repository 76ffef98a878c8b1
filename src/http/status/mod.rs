//! Status pages over HTTP: the public page, its incident history, the Statuspage-compatible
//! JSON and the feeds (no login: everything here is published), each served from the bytes the
//! status page engine rendered, in the encoding the reader accepts, with ETag and
//! `Cache-Control`; and the API that opens and updates incidents. Translation only.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use panoptes_types::{Page, StatusComponentInfo, StatusPageInfo};

use super::AppState;
use super::error::{ApiError, Json as JsonBody};
use super::page::{PageParams, cursor, slice};
use crate::auth::Principal;
use crate::statuspage::engine::StatusError;
use crate::statuspage::model::{Change, Incident};
use crate::statuspage::view::PageView;
use crate::statuspage::{Asset, Rendered, html, json};

mod badges;
mod subscribe;

use badges::{
    gatus_health, gatus_health_shields, gatus_response_time, gatus_uptime, range_badge,
    status_badge,
};
use subscribe::{confirm, confirm_form, subscribe, unsubscribe, unsubscribe_form};

/// The reads everyone makes at once during an outage, answered from the render cache. They are
/// merged outside the router's per-request layers (route metrics, deadline, error rewriting),
/// which cost more than the answer: they set their own headers and count in one counter.
pub fn cached_routes() -> Router<AppState> {
    Router::new()
        .route("/status/{slug}", get(page))
        .route("/status/{slug}/widget", get(widget))
        .route("/status/{slug}/history.atom", get(atom))
        .route("/status/{slug}/history.rss", get(rss))
        .route("/status/{slug}/api/v2/{*file}", get(api_file))
        .route("/status/{slug}/badge/{component}/{file}", get(status_badge))
        .route(
            "/status/{slug}/badge/{component}/{kind}/{file}",
            get(range_badge),
        )
}

/// Public routes (outside the API prefix) that go through the usual layers.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(only))
        .route("/status/{slug}/history", get(history))
        .route("/status/{slug}/subscribe", post(subscribe))
        .route(
            "/status/{slug}/subscribe/confirm/{token}",
            get(confirm_form).post(confirm),
        )
        .route(
            "/status/{slug}/unsubscribe/{token}",
            get(unsubscribe_form).post(unsubscribe),
        )
}

/// Gatus-compatible badge paths, public, under the API prefix; only for monitors a status
/// page publishes.
pub fn public_api_routes() -> Router<AppState> {
    Router::new()
        .route("/endpoints/{key}/health/badge.svg", get(gatus_health))
        .route(
            "/endpoints/{key}/health/badge.shields",
            get(gatus_health_shields),
        )
        .route(
            "/endpoints/{key}/uptimes/{duration}/badge.svg",
            get(gatus_uptime),
        )
        .route(
            "/endpoints/{key}/response-times/{duration}/badge.svg",
            get(gatus_response_time),
        )
}

/// Management routes under the API prefix (a login or token needed).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/status-pages", get(list_pages))
        .route(
            "/status-pages/{slug}/incidents",
            get(list_incidents).post(open_incident),
        )
        .route(
            "/status-pages/{slug}/incidents/{id}/updates",
            post(update_incident),
        )
}

/// The page's own policy: inline styles, images (a logo) and nothing else.
pub(super) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; base-uri 'none'; form-action 'self'";

/// `asset` in the best encoding `headers` accept; 304 when the reader has it already.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let mut resp = serve_inner(asset, headers);
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

fn serve_inner(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let cache = HeaderValue::from_static("public, max-age=10, stale-while-revalidate=30");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let accepts = |name: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let q_zero = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            coding.eq_ignore_ascii_case(name) && !q_zero
        })
    };
    let (body, encoding) = if accepts("br") && !asset.br.is_empty() {
        (asset.br.clone(), Some("br"))
    } else if accepts("gzip") && !asset.gzip.is_empty() {
        (asset.gzip.clone(), Some("gzip"))
    } else {
        (asset.body.clone(), None)
    };
    let mut resp = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ],
        body,
    )
        .into_response();
    if let Some(e) = encoding {
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    if asset.content_type.starts_with("text/html") {
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if asset.content_type.starts_with("application/json") {
        // Aggregators and widgets read these from other origins.
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    resp
}

/// A cached read (counted in `panoptes_status_page_reads_total`: these routes skip the
/// per-route counter).
pub(super) fn rendered(state: &AppState, slug: &str) -> Result<Arc<Rendered>, ApiError> {
    state.metrics.http.status_page_reads.inc();
    page_of(state, slug)
}

/// The rendered page, for routes the per-route counter already counts.
fn page_of(state: &AppState, slug: &str) -> Result<Arc<Rendered>, ApiError> {
    state
        .status
        .get(slug)
        .ok_or_else(|| ApiError::NotFound(format!("no status page `{}`", clip(slug))))
}

pub(super) fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// `/status`: the page when there is one, else a list of them.
async fn only(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(r) = state.status.only() {
        return Ok(serve(&r.html, &headers));
    }
    let pages = state.status.pages();
    if pages.is_empty() {
        return Err(ApiError::NotFound("no status pages are configured".into()));
    }
    let list = maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1"; title { "Status" } }
            body { h1 { "Status" } ul { @for (slug, title) in &pages { li { a href=(format!("/status/{slug}")) { (title) } } } } }
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        list.into_string(),
    )
        .into_response())
}

async fn page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Ok(serve(&rendered(&state, &slug)?.html, &headers))
}

/// Framed by other sites: the one status route that may be (`frame-ancestors *`).
async fn widget(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut resp = serve(&rendered(&state, &slug)?.widget, &headers);
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(WIDGET_CSP),
    );
    Ok(resp)
}

const WIDGET_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors *";

async fn atom(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    file(&state, &slug, "history.atom", &headers)
}

async fn rss(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    file(&state, &slug, "history.rss", &headers)
}

async fn api_file(
    State(state): State<AppState>,
    Path((slug, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !json::FILES.contains(&name.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no `{}`; there are {}",
            clip(&name),
            json::FILES.join(", ")
        )));
    }
    file(&state, &slug, &name, &headers)
}

fn file(
    state: &AppState,
    slug: &str,
    name: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let r = rendered(state, slug)?;
    let asset = r
        .files
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("no `{}`", clip(name))))?;
    Ok(serve(asset, headers))
}

#[derive(Deserialize)]
struct MonthQuery {
    month: Option<String>,
}

/// `?month=2026-11` (default: the newest month with an incident that has begun, else this
/// month).
async fn history(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<MonthQuery>,
) -> Result<Response, ApiError> {
    let r = page_of(&state, &slug)?;
    let month = match q.month.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => Some(
            m.split_once('-')
                .and_then(|(y, mo)| Some((y.parse::<i16>().ok()?, mo.parse::<i8>().ok()?)))
                .filter(|(y, mo)| (1970..=9999).contains(y) && (1..=12).contains(mo))
                .ok_or_else(|| {
                    ApiError::invalid(format!("month: expected YYYY-MM, found `{}`", clip(m)))
                })?,
        ),
        None => None,
    };
    let months = r.view.incident_months();
    let month = month.unwrap_or_else(|| r.view.latest_month());
    let body = html::history(&r.view, month, &months);
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "public, max-age=10"),
        ],
        body,
    )
        .into_response())
}

/// Serves a page at `/` for a request whose `Host` is the page's `domain`.
pub async fn custom_domain(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/"
        && let Some(host) = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        && let Some(r) = state.status.by_domain(host)
    {
        return serve(&r.html, req.headers());
    }
    next.run(req).await
}

pub(super) fn status_error(e: StatusError) -> ApiError {
    match e {
        StatusError::NotFound(m) => ApiError::NotFound(m),
        StatusError::Invalid(m) => ApiError::invalid(m),
        StatusError::RateLimited => ApiError::TooManyRequests {
            retry_after_secs: 600,
        },
        StatusError::Store(s) => s.into(),
    }
}

async fn list_pages(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<StatusPageInfo>>, ApiError> {
    let after = page.after::<String>()?;
    let pages: Vec<StatusPageInfo> = state
        .status
        .pages()
        .into_iter()
        .filter_map(|(slug, _)| state.status.get(&slug))
        .map(|r| StatusPageInfo {
            slug: r.view.config.slug.clone(),
            title: r.view.config.title.clone(),
            url: format!("/status/{}", r.view.config.slug),
            components: r
                .view
                .all()
                .map(|c| StatusComponentInfo {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    status: c.status,
                })
                .collect(),
        })
        .collect();
    let (items, next) = slice(pages, |p| p.slug.clone(), after, page.limit);
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

/// Highest id first, drafts included (the management view).
async fn list_incidents(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    page: PageParams,
) -> Result<Json<Page<serde_json::Value>>, ApiError> {
    let r = page_of(&state, &slug)?;
    let after = page.after::<u64>()?;
    // Highest id first (ids grow with time), as the engine keeps them.
    let key = |i: &Incident| u64::MAX - i.id;
    let (incidents, next) = slice(
        state.status.incidents(&slug).unwrap_or_default(),
        key,
        after,
        page.limit,
    );
    Ok(Json(Page {
        items: incidents.iter().map(|i| managed(i, &r.view)).collect(),
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

/// An incident as the management API shows it: Statuspage's shape, plus whether it is a
/// draft and the alert it was drafted from.
fn managed(i: &Incident, view: &PageView) -> serde_json::Value {
    let mut v = json::one(i, view);
    v["draft"] = i.draft.into();
    v["alert"] = i.alert.clone().into();
    v
}

/// Statuspage's fields, flat or wrapped as its management API sends them (`{"incident": {...}}`).
fn change_of(mut body: serde_json::Value) -> Result<Change, ApiError> {
    if let Some(inner) = body.get_mut("incident").filter(|v| v.is_object()) {
        body = inner.take();
    }
    serde_json::from_value(body).map_err(|e| ApiError::invalid(format!("incident: {e}")))
}

async fn open_incident(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(slug): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let change = change_of(body)?;
    let (incident, r) = state
        .status
        .change(&slug, None, &change, p.name())
        .await
        .map_err(status_error)?;
    Ok((StatusCode::CREATED, Json(managed(&incident, &r.view))))
}

async fn update_incident(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((slug, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let change = change_of(body)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no incident `{}`", clip(&id))))?;
    let (incident, r) = state
        .status
        .change(&slug, Some(id), &change, p.name())
        .await
        .map_err(status_error)?;
    Ok(Json(managed(&incident, &r.view)))
}
