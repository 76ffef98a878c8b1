//! On-call API: who is on call, schedules and shifts, overrides, policies, people and their
//! own contact methods, pages with acknowledge and resolve; and the two public routes a phone or a calendar reaches without a
//! login: the signed acknowledge link and the secret calendar feed. Translation only: answers
//! come from `oncall::query` and the engine's handle.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use panoptes_types::{
    NewOverride, OnCallNow, OnCallUser, OverrideUpdate, OverrideView, Page, PageView, PolicyView,
    ScheduleView, Shifts,
};

use super::AppState;
use super::error::{ApiError, Json as JsonBody};
use super::page::{PageParams, cursor, slice};
use crate::auth::{Principal, Role};
use crate::clock::rfc3339;
use crate::oncall::contacts;
use crate::oncall::engine::{self, OncallError, OverrideChange};
use crate::oncall::query::override_view;

/// Routes under the API prefix (a login or token needed).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oncall", get(who))
        .route("/oncall/schedules", get(schedules))
        .route("/oncall/schedules/{name}/shifts", get(shifts))
        .route("/oncall/overrides", get(overrides).post(put_override))
        .route(
            "/oncall/overrides/{id}",
            get(get_override)
                .put(update_override)
                .delete(delete_override),
        )
        .route("/oncall/policies", get(policies))
        .route("/oncall/users", get(users))
        .route(
            "/oncall/users/{name}/contacts",
            get(own_contacts).put(set_contacts).delete(reset_contacts),
        )
        .route("/pages", get(pages))
        .route("/pages/{id}", get(page))
        .route("/pages/{id}/acknowledge", post(acknowledge))
        .route("/pages/{id}/resolve", post(resolve))
}

fn time(field: &str, s: &str) -> Result<u64, ApiError> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| u64::try_from(t.as_millisecond()).ok())
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{field}: expected an RFC 3339 time (2026-12-07T09:00:00Z), found `{}`",
                s.chars().take(40).collect::<String>()
            ))
        })
}

/// A time from a query string. Query decoding reads `+` as a space, so an offset written
/// unencoded (`at=2026-03-29T01:30:00+02:00`) arrives as `01:30:00 02:00`: read it as meant.
fn query_time(field: &str, s: &str) -> Result<u64, ApiError> {
    match time(field, s) {
        Err(e) if s.contains(' ') => time(field, &s.replace(' ', "+")).map_err(|_| e),
        r => r,
    }
}

fn oncall_error(e: OncallError) -> ApiError {
    match e {
        OncallError::NotFound(id) => ApiError::NotFound(format!("no page {id}")),
        OncallError::OverrideNotFound(id) => ApiError::NotFound(format!("no override {id}")),
        OncallError::Invalid(m) => ApiError::invalid(m),
        OncallError::TooMany(what) => ApiError::Conflict(format!("too many {what}")),
        OncallError::Stopped => ApiError::Internal("on-call is shutting down".into()),
        OncallError::Store(s) => s.into(),
    }
}

#[derive(Deserialize)]
struct WhoQuery {
    schedule: Option<String>,
    at: Option<String>,
}

/// One schedule's answer when `schedule` is named; every schedule's otherwise.
async fn who(
    State(state): State<AppState>,
    Query(q): Query<WhoQuery>,
) -> Result<Response, ApiError> {
    let at = match q.at.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => query_time("at", s)?,
        None => state.clock.now_ms(),
    };
    let oncall = &state.oncall;
    match q.schedule.as_deref().filter(|s| !s.is_empty()) {
        Some(name) => {
            let now: OnCallNow = oncall
                .who(name, at)
                .ok_or_else(|| ApiError::NotFound(format!("no schedule named `{name}`")))?;
            Ok(Json(now).into_response())
        }
        None => {
            let names: Vec<String> = oncall
                .settings()
                .oncall
                .schedules
                .iter()
                .map(|s| s.name.clone())
                .collect();
            let all: Vec<OnCallNow> = names.iter().filter_map(|n| oncall.who(n, at)).collect();
            Ok(Json(all).into_response())
        }
    }
}

/// A list kept in config order, paged by position (the config names them in this order).
fn page_in_order<T>(all: Vec<T>, page: &PageParams) -> Result<Json<Page<T>>, ApiError> {
    let after = page.after::<usize>()?;
    let (items, next) = slice(
        all.into_iter().enumerate().collect(),
        |(i, _)| *i,
        after,
        page.limit,
    );
    Ok(Json(Page {
        items: items.into_iter().map(|(_, v)| v).collect(),
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn schedules(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<ScheduleView>>, ApiError> {
    page_in_order(state.oncall.schedules(state.clock.now_ms()), &page)
}

#[derive(Deserialize)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn shifts(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Shifts>, ApiError> {
    let now = state.clock.now_ms();
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => query_time("from", s)?,
        None => now,
    };
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => query_time("to", s)?,
        None => from + 14 * 86_400_000,
    };
    if to <= from {
        return Err(ApiError::invalid("to: must be after from"));
    }
    if to - from > crate::oncall::rotation::MAX_RANGE_MS {
        return Err(ApiError::invalid("to: a range spans at most 366 days"));
    }
    let shifts = state
        .oncall
        .shifts(&name, from, to)
        .ok_or_else(|| ApiError::NotFound(format!("no schedule named `{name}`")))?;
    Ok(Json(Shifts {
        schedule: name,
        from: rfc3339(from),
        to: rfc3339(to),
        shifts,
    }))
}

/// By start, then id (the order the calendar shows them in).
async fn overrides(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<OverrideView>>, ApiError> {
    let after = page.after::<(String, u64)>()?;
    let key = |o: &OverrideView| (o.start.clone(), o.id);
    let (items, next) = slice(state.oncall.override_views(), key, after, page.limit);
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn put_override(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(o): JsonBody<NewOverride>,
) -> Result<(StatusCode, Json<OverrideView>), ApiError> {
    let new = engine::NewOverride {
        start_ms: time("start", &o.start)?,
        end_ms: time("end", &o.end)?,
        schedule: o.schedule,
        user: o.user,
    };
    let saved = state
        .oncall
        .put_override(new, p.name())
        .await
        .map_err(oncall_error)?;
    Ok((StatusCode::CREATED, Json(override_view(&saved))))
}

async fn get_override(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<OverrideView>, ApiError> {
    let o = state
        .oncall
        .get_override(id)
        .ok_or(OncallError::OverrideNotFound(id))
        .map_err(oncall_error)?;
    Ok(Json(override_view(&o)))
}

/// Who covers and when; checked as a new override is.
async fn update_override(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u64>,
    JsonBody(u): JsonBody<OverrideUpdate>,
) -> Result<Json<OverrideView>, ApiError> {
    let current = state
        .oncall
        .get_override(id)
        .ok_or(OncallError::OverrideNotFound(id))
        .map_err(oncall_error)?;
    if u.schedule.as_ref().is_some_and(|s| *s != current.schedule) {
        return Err(ApiError::invalid(
            "schedule: an override stays in its schedule (delete it and create another)",
        ));
    }
    let change = OverrideChange {
        user: u.user,
        start_ms: u.start.as_deref().map(|s| time("start", s)).transpose()?,
        end_ms: u.end.as_deref().map(|s| time("end", s)).transpose()?,
    };
    let saved = state
        .oncall
        .update_override(id, change, p.name())
        .await
        .map_err(oncall_error)?;
    Ok(Json(override_view(&saved)))
}

async fn delete_override(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u64>,
) -> Result<Json<OverrideView>, ApiError> {
    let gone = state
        .oncall
        .delete_override(id, p.name())
        .await
        .map_err(oncall_error)?;
    Ok(Json(override_view(&gone)))
}

async fn policies(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<PolicyView>>, ApiError> {
    page_in_order(state.oncall.policies(), &page)
}

async fn users(
    State(state): State<AppState>,
    page: PageParams,
) -> Result<Json<Page<OnCallUser>>, ApiError> {
    page_in_order(state.oncall.users(), &page)
}

/// Whether `p` may read or change `user`'s own contact methods: a person their own; an editor
/// or admin (a person or a token) anyone's.
fn may_edit_contacts(p: &Principal, user: &str) -> Result<(), ApiError> {
    if p.is_user(user) || p.role() >= Role::Editor {
        return Ok(());
    }
    Err(ApiError::Forbidden(
        "people set their own contact methods (an editor or admin may set anyone's)".into(),
    ))
}

/// The list as it was set (it may hold secrets, hence the same check as for changing it).
async fn own_contacts(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    may_edit_contacts(&p, &name)?;
    state
        .oncall
        .own_contacts(&name)
        .map(axum::Json)
        .ok_or_else(|| ApiError::NotFound(format!("`{name}` set no contact methods")))
}

/// Replaces the config's contact methods of `name` with the list posted (the config's shape).
async fn set_contacts(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<OnCallUser>, ApiError> {
    may_edit_contacts(&p, &name)?;
    contacts::check_name(&name).map_err(ApiError::invalid)?;
    if serde_json::to_vec(&body).map_or(0, |b| b.len()) > contacts::MAX_BODY {
        return Err(ApiError::PayloadTooLarge {
            message: format!("contacts: at most {} bytes", contacts::MAX_BODY),
        });
    }
    let methods = contacts::decode(&body).map_err(ApiError::invalid)?;
    state
        .oncall
        .set_contacts(&name, Some((body, methods)), p.name())
        .await
        .map_err(oncall_error)?;
    let view = state
        .oncall
        .user(&name)
        .ok_or_else(|| ApiError::Internal("the contact methods were not kept".into()))?;
    Ok(Json(view))
}

/// Drops `name`'s own contact methods: the config's apply again.
async fn reset_contacts(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    may_edit_contacts(&p, &name)?;
    let removed = state
        .oncall
        .set_contacts(&name, None, p.name())
        .await
        .map_err(oncall_error)?;
    if !removed {
        return Err(ApiError::NotFound(format!(
            "`{name}` set no contact methods"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PagesQuery {
    status: Option<String>,
}

async fn pages(
    State(state): State<AppState>,
    Query(q): Query<PagesQuery>,
    params: PageParams,
) -> Result<Json<Page<PageView>>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("triggered" | "acknowledged" | "resolved")) => Some(s),
        Some(s) => {
            return Err(ApiError::invalid(format!(
                "status: `{}` is not triggered, acknowledged or resolved",
                s.chars().take(20).collect::<String>()
            )));
        }
    };
    let (items, next) = state
        .oncall
        .pages(status, params.after::<u64>()?, params.limit)
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: next.map(|n| cursor(&n)),
    }))
}

async fn page(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<PageView>, ApiError> {
    state
        .oncall
        .page(id)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no page {id}")))
}

async fn acknowledge(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u64>,
) -> Result<Json<PageView>, ApiError> {
    let (page, _) = state
        .oncall
        .acknowledge(id, p.name(), "dashboard")
        .await
        .map_err(oncall_error)?;
    Ok(Json(crate::oncall::query::page_view(&page)))
}

async fn resolve(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u64>,
) -> Result<Json<PageView>, ApiError> {
    let (page, _) = state
        .oncall
        .resolve(id, p.name())
        .await
        .map_err(oncall_error)?;
    Ok(Json(crate::oncall::query::page_view(&page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unencoded_plus_in_a_query_time_is_an_offset() {
        // `+02:00` in a query string arrives as ` 02:00`.
        let t = query_time("at", "2026-03-29T01:30:00 02:00").expect("read as +02:00");
        assert_eq!(rfc3339(t), "2026-03-28T23:30:00Z");
        assert_eq!(
            query_time("at", "2026-03-29T01:30:00+02:00").ok(),
            Some(t),
            "encoded, as before"
        );
        assert_eq!(
            query_time("at", "2026-03-29T01:30:00Z")
                .ok()
                .map(rfc3339)
                .as_deref(),
            Some("2026-03-29T01:30:00Z")
        );
        let e = query_time("at", "next week").expect_err("not a time");
        assert!(e.to_string().contains("`next week`"), "{e}");
    }

    #[test]
    fn people_set_their_own_contacts_and_editors_anyones() {
        let ana = Principal::User {
            name: "ana".into(),
            role: Role::Viewer,
        };
        assert!(may_edit_contacts(&ana, "ana").is_ok());
        assert!(matches!(
            may_edit_contacts(&ana, "ben"),
            Err(ApiError::Forbidden(_))
        ));
        let token = |role| Principal::Token {
            id: "t".into(),
            name: "ana".into(),
            role,
        };
        assert!(may_edit_contacts(&token(Role::Editor), "ben").is_ok());
        assert!(
            may_edit_contacts(&token(Role::Viewer), "ana").is_err(),
            "a token named like a person is not that person"
        );
    }
}
