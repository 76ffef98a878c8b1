//! The on-call routes outside the API, where a signed token in the URL is the credential: the
//! acknowledge link sent with a page (a form, then the acknowledgement) and the iCalendar feeds.
//! Translation only; the signatures are checked by `oncall::ack`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use panoptes_types::PageStatus;

use super::AppState;
use super::error::ApiError;
use crate::oncall::ack::{AckError, MAX_TOKEN, verify_ack};
use crate::oncall::engine::OncallError;

/// Routes outside the API: the signed link is the credential.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/oncall/ack/{token}", get(ack_form).post(ack_link))
        .route("/oncall/calendar/{file}", get(calendar))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small page that works without JavaScript, on any phone.
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let doc = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    let mut r = (status, Html(doc)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn link_error(e: AckError) -> Response {
    let status = match e {
        AckError::Expired => StatusCode::GONE,
        AckError::Malformed | AckError::BadSignature => StatusCode::FORBIDDEN,
    };
    html(
        status,
        "Link not valid",
        &format!("<p>{}.</p>", escape(&e.to_string())),
    )
}

/// GET shows what the link acknowledges and a button: link previews and mail scanners fetch
/// links, and must not acknowledge a page on someone's behalf.
async fn ack_form(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let now = state.clock.now_ms();
    let claim = match verify_ack(state.oncall.key(), &token, now) {
        Ok(c) => c,
        Err(e) => return link_error(e),
    };
    let Ok(Some(p)) = state.oncall.page(claim.page) else {
        return html(
            StatusCode::NOT_FOUND,
            "Page not found",
            "<p>This page no longer exists.</p>",
        );
    };
    let what = format!(
        "<p><strong>{}</strong></p><p>Page {} is {}.</p>",
        escape(&p.title),
        p.id,
        p.status.as_str()
    );
    if p.status != PageStatus::Triggered {
        let by = p
            .acknowledged_by
            .as_deref()
            .or(p.resolved_by.as_deref())
            .unwrap_or("");
        return html(
            StatusCode::OK,
            "Nothing to acknowledge",
            &format!("{what}<p>{}</p>", escape(by)),
        );
    }
    html(
        StatusCode::OK,
        "Acknowledge this page?",
        &format!(
            "{what}<form method=\"post\"><button type=\"submit\">Acknowledge as {}</button></form>",
            escape(&claim.user)
        ),
    )
}

async fn ack_link(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let now = state.clock.now_ms();
    let claim = match verify_ack(state.oncall.key(), &token, now) {
        Ok(c) => c,
        Err(e) => return link_error(e),
    };
    match state
        .oncall
        .acknowledge(claim.page, &claim.user, "link")
        .await
    {
        Ok((p, acknowledged)) => {
            let by = p.acknowledged_by.clone().unwrap_or_default();
            let body = format!(
                "<p><strong>{}</strong></p><p>Page {} is {}{}.</p>",
                escape(&p.title),
                p.id,
                p.status.as_str(),
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", escape(&by))
                }
            );
            let title = if acknowledged {
                "Acknowledged"
            } else {
                "Already handled"
            };
            html(StatusCode::OK, title, &body)
        }
        Err(OncallError::NotFound(_)) => html(
            StatusCode::NOT_FOUND,
            "Page not found",
            "<p>This page no longer exists.</p>",
        ),
        Err(e) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            &format!("<p>{}</p>", escape(&e.to_string())),
        ),
    }
}

async fn calendar(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound("no such calendar".into());
    let token = file.strip_suffix(".ics").ok_or_else(not_found)?;
    if token.len() > MAX_TOKEN {
        return Err(not_found());
    }
    let body = state
        .oncall
        .calendar(token, state.clock.now_ms())
        .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
