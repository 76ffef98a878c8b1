//! The HTTP edge: routes, authentication, request metrics, the embedded dashboard.
//!
//! Owns: URL layout, credential extraction (`credentials.rs`), pagination (`page.rs`), the
//! error-to-HTTP mapping (`error.rs`), the `server:` section. Depends on: `auth`, `store`,
//! `metrics`, `clock`, and each domain's handle. Handlers stay thin: they parse, call into the
//! domain that owns the work (its `query` module for reads), and map the result.

mod agents;
mod alerts;
mod api;
mod assets;
pub mod config;
pub mod credentials;
pub mod error;
mod forward;
mod invites;
mod issues;
mod live;
mod monitors;
mod oncall;
mod oncall_links;
pub mod page;
mod periskop;
mod probes;
mod projects;
mod sentry;
mod serve;
mod settings;
mod status;
mod triage;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Layer;

use crate::auth::{Auth, Principal, Role, roles};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::store::Store;
use config::ServerConfig;
use credentials::Credential;
pub use error::{ApiError, ErrorCode};
use panoptes_types::{CSRF_HEADER, SESSION_COOKIE};
pub use settings::RunningConfig;

/// Everything a handler may need. One pointer: every extractor and middleware clones it per
/// request (copying the handles inside cost ~4 % of ingest's CPU in a profile).
#[derive(Clone)]
pub struct AppState(Arc<Handles>);

impl AppState {
    pub fn new(handles: Handles) -> AppState {
        AppState(Arc::new(handles))
    }
}

impl std::ops::Deref for AppState {
    type Target = Handles;
    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Handles {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub metrics: Arc<Metrics>,
    pub clock: SharedClock,
    /// The `server:` section; each domain's settings live with its handle.
    pub server: watch::Receiver<Arc<ServerConfig>>,
    /// The whole running config, for the admins' read-only view of it (`settings.rs`).
    pub running: Arc<dyn RunningConfig>,
    pub started: Instant,
    pub started_at_ms: u64,
    pub instance_id: String,
    pub probes: crate::probe::ProbeEngine,
    pub periskop: crate::periskop::Periskop,
    pub ingest: crate::sentry::Ingest,
    pub alerts: crate::alerts::Alerts,
    pub oncall: crate::oncall::Oncall,
    pub status: crate::statuspage::StatusPages,
    pub forward: crate::forward::Forwarder,
    pub agents: crate::agent::Agents,
    pub live: crate::live::Live,
    pub projects: crate::sentry::projects::ManagedProjects,
}

impl Handles {
    pub fn server(&self) -> Arc<ServerConfig> {
        self.server.borrow().clone()
    }
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    let max_body = state.server().max_body_bytes as usize;
    let api = Router::new()
        .route("/me", get(api::me))
        .route("/status", get(api::status))
        .route("/session", delete(api::logout))
        .route("/tokens", get(api::list_tokens).post(api::create_token))
        .route("/tokens/{id}", delete(api::delete_token))
        .route("/audit", get(api::audit))
        .route("/live", get(live::stream))
        .merge(users::routes())
        .merge(settings::routes())
        .merge(invites::routes())
        .route("/backup", get(api::backup))
        .merge(probes::routes())
        .merge(monitors::routes())
        .merge(periskop::api_routes())
        .merge(issues::routes())
        .merge(projects::routes())
        .merge(alerts::routes())
        .merge(oncall::routes())
        .merge(status::routes())
        .merge(agents::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_principal,
        ))
        // Login is the one API route that takes no credential: it hands one out. Its body is a
        // name and a password, so it gets a small limit of its own, not the API's.
        .route(
            "/session",
            post(api::login).layer(DefaultBodyLimit::max(api::LOGIN_MAX_BODY)),
        )
        .merge(users::setup_routes())
        .merge(invites::public_routes())
        .merge(probes::public_routes())
        .merge(agents::agent_routes())
        .merge(status::public_api_routes())
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(max_body));

    let layered = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/count", get(forward::count))
        .nest(panoptes_types::API_PREFIX, api)
        .merge(periskop::routes())
        .merge(sentry::ingest_routes())
        .merge(oncall_links::public_routes())
        .merge(status::public_routes())
        .fallback(assets::serve)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            status::custom_domain,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            serve::request_deadline,
        ))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(error::security_headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ));
    Router::new()
        .merge(status::cached_routes().layer(middleware::map_response(error::errors_only)))
        .merge(layered)
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
/// Connections are bounded by the `server:` section (see `serve.rs`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let server = state.server.clone();
    // Path folding must happen before routing, so it wraps the router rather than being one
    // of its layers.
    let app = tower::util::MapRequestLayer::new(sentry::normalize_path).layer(router(state));
    serve::run(listener, app, server, shutdown).await
}

/// The method as a metric label: the standard ones by name, anything a client invents as
/// `other` (`curl -X ZZ1`, `-X ZZ2`, ... must not each add a series).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    // `MatchedPath` is an `Arc<str>` inside: kept, not copied.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let route = match &matched {
        Some(p) => p.as_str(),
        None if api => "/api/unmatched",
        None => "/{dashboard}",
    };
    state
        .metrics
        .http
        .count(method, route, resp.status().as_u16());
    resp
}

/// Credential extraction: a bearer token, or the dashboard's session cookie. Cookie-authenticated
/// state changes must carry the CSRF header (see `panoptes_types::CSRF_HEADER`).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Principal, ApiError> {
    match credentials::authorization(headers).map_err(|e| ApiError::Unauthorized(e.to_string()))? {
        Some(Credential::Bearer(token)) => {
            return state
                .auth
                .token(&token)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API token".into()));
        }
        Some(_) => {
            return Err(ApiError::Unauthorized(
                "Authorization must be `Bearer <token>`".into(),
            ));
        }
        None => {}
    }
    let Some(secret) = session_cookie(headers) else {
        return Err(ApiError::Unauthorized(
            "log in, or send `Authorization: Bearer <token>`".into(),
        ));
    };
    let principal = state
        .auth
        .session(secret)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("session expired; log in again".into()))?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !headers.contains_key(CSRF_HEADER) {
        return Err(ApiError::Forbidden(format!(
            "cookie-authenticated requests that change state must send the {CSRF_HEADER} header"
        )));
    }
    Ok(principal)
}

async fn require_principal(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&state, req.headers(), req.method()).await {
        Ok(p) => {
            let needed = roles::required(req.method(), req.uri().path());
            if p.role() < needed {
                return ApiError::Forbidden(format!(
                    "this needs the {needed} role; `{}` is {} {}",
                    p.name(),
                    if p.role() == Role::Admin { "an" } else { "a" },
                    p.role()
                ))
                .into_response();
            }
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

/// The client's address, for login throttling.
pub fn client_ip(connect: Option<&ConnectInfo<SocketAddr>>) -> std::net::IpAddr {
    connect
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
}
