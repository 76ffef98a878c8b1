//! `GET /api/v1/live`: the dashboard's live feed as server-sent events. Translation only: the
//! messages, their fan-out and each client's bounds are `crate::live`'s.
//!
//! Behind the API's authentication like every read (any role). Each frame is one
//! `panoptes_types::LiveMessage` as the event's `data`; a comment every [`KEEP_ALIVE`] keeps
//! proxies from closing a quiet stream and lets a dead client be noticed. There is no
//! `Last-Event-ID` replay: a client that (re)connects gets `hello` and refetches its view.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::AppState;

/// How often a quiet stream carries a comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(super) async fn stream(State(state): State<AppState>) -> Response {
    let frames = state
        .live
        .stream()
        .map(|f| Ok::<_, Infallible>(Event::default().data(&*f)));
    let mut resp = Sse::new(frames)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // A buffering reverse proxy (nginx) would hold the frames back.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
