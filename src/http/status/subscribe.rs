//! Subscribing over HTTP: the form, the confirmation and unsubscribe links (a GET shows a
//! button, the POST acts: mail scanners fetch links), RFC 8058's one-click POST. Translation
//! only: `statuspage::subscribe` does the work.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};

use super::{CSP, clip, status_error};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::statuspage::engine::StatusError;

/// A small page in the status page's style: a heading, a sentence, optionally a button that
/// POSTs back to the same address (links in e-mail are fetched by scanners: a GET changes
/// nothing).
fn notice(
    status: StatusCode,
    title: &str,
    text: &str,
    button: Option<&str>,
    back: &str,
) -> Response {
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { "body{font:16px/1.5 system-ui,sans-serif;max-width:560px;margin:40px auto;padding:0 16px}button{font:inherit;padding:8px 16px}" }
            }
            body {
                h1 { (title) }
                p { (text) }
                @if let Some(label) = button {
                    form method="post" { button type="submit" { (label) } }
                }
                p { a href=(back) { "Back to the status page" } }
            }
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page.into_string(),
    )
        .into_response()
}

/// `POST /status/{slug}/subscribe` with form fields `email` and any number of `component`
/// (ids or names; none means all). The answer is the same whether or not the address is
/// known.
pub(super) async fn subscribe(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let back = format!("/status/{}", clip(&slug));
    let email = fields
        .iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let components: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "component")
        .take(100)
        .map(|(_, v)| v.clone())
        .collect();
    let client = crate::http::client_ip(connect.as_ref().map(|Extension(c)| c)).to_string();
    let endpoint = fields
        .iter()
        .find(|(k, _)| k == "endpoint")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty());
    if let Some(endpoint) = endpoint {
        let done = state
            .status
            .subscribe_webhook(&slug, endpoint, email, &components, &client)
            .await;
        return match done {
            Ok(_) => Ok(notice(
                StatusCode::OK,
                "Subscribed",
                "That URL will receive a JSON POST (Statuspage's webhook format) when an incident is opened or updated. Each one carries its unsubscribe link.",
                None,
                &back,
            )),
            Err(e) => refused(e, &back),
        };
    }
    match state
        .status
        .subscribe(&slug, email, &components, &client)
        .await
    {
        Ok(_) => Ok(notice(
            StatusCode::OK,
            "Check your inbox",
            "If that address can receive mail, a message with a confirmation link is on its way. Nothing is sent before you confirm.",
            None,
            &back,
        )),
        Err(e) => refused(e, &back),
    }
}

/// A subscription that was not taken, as the reader sees it.
fn refused(e: StatusError, back: &str) -> Result<Response, ApiError> {
    match e {
        StatusError::Invalid(m) => Ok(notice(
            StatusCode::BAD_REQUEST,
            "Not subscribed",
            &m,
            None,
            back,
        )),
        StatusError::RateLimited => Ok(notice(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "Too many subscriptions were asked for from here. Try again in a few minutes.",
            None,
            back,
        )),
        e => Err(status_error(e)),
    }
}

pub(super) async fn confirm_form(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
) -> Response {
    let back = format!("/status/{}", clip(&slug));
    match state.status.subscriber(&slug, &token) {
        Some(s) if s.confirmed => notice(
            StatusCode::OK,
            "Subscribed",
            "This address already gets updates.",
            None,
            &back,
        ),
        Some(s) => notice(
            StatusCode::OK,
            "Confirm your subscription",
            &format!("Send updates of this status page to {}?", s.email),
            Some("Confirm"),
            &back,
        ),
        None => notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This link names no subscription (it may have been cancelled).",
            None,
            &back,
        ),
    }
}

pub(super) async fn confirm(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let back = format!("/status/{}", clip(&slug));
    if state
        .status
        .confirm(&slug, &token)
        .await
        .map_err(status_error)?
    {
        Ok(notice(
            StatusCode::OK,
            "Subscribed",
            "You will get an e-mail when an incident is opened or updated. Every message has a link to unsubscribe.",
            None,
            &back,
        ))
    } else {
        Ok(notice(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This link names no subscription (it may have been cancelled).",
            None,
            &back,
        ))
    }
}

pub(super) async fn unsubscribe_form(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
) -> Response {
    let back = format!("/status/{}", clip(&slug));
    match state.status.subscriber(&slug, &token) {
        Some(s) => notice(
            StatusCode::OK,
            "Unsubscribe",
            &format!(
                "Stop sending updates of this status page to {}?",
                s.endpoint.as_deref().unwrap_or(&s.email)
            ),
            Some("Unsubscribe"),
            &back,
        ),
        None => notice(
            StatusCode::OK,
            "Unsubscribed",
            "This address gets no updates from this page.",
            None,
            &back,
        ),
    }
}

/// The button, and RFC 8058's one-click POST (`List-Unsubscribe=One-Click`) from mail clients.
pub(super) async fn unsubscribe(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let back = format!("/status/{}", clip(&slug));
    state
        .status
        .unsubscribe(&slug, &token)
        .await
        .map_err(status_error)?;
    Ok(notice(
        StatusCode::OK,
        "Unsubscribed",
        "This address gets no more updates from this page.",
        None,
        &back,
    ))
}
