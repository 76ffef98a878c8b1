//! The one way the dashboard talks to the server: JSON over `fetch`, under `/api/v1`.
//!
//! Every request goes through [`send`], so three rules hold everywhere: state-changing requests
//! carry the CSRF header (the server refuses cookie-authenticated ones without it); an error
//! answer becomes an [`ApiError`] with the API's stable code and message; and a 401 on any
//! request made with the session tells the app to show the login screen (see
//! [`on_unauthorized`]).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use gloo_net::http::{Method, RequestBuilder, Response};
use panoptes_types::{
    API_PREFIX, AlertHistoryEntry, AlertView, CSRF_HEADER, ErrorBody, ExceptionDetail,
    ExceptionService, ExceptionSummary, IssueDetail, IssueStatus, IssueSummary, IssueUpdate,
    LoginRequest, MonitorChanges, MonitorDetail, MonitorResults, MonitorRollups, MonitorSummary,
    NewOverride, NewSilence, NewStatusIncident, OnCallNow, OverrideView, Page, PageView,
    PolicyView, Principal, ProjectInfo, ReceiverView, Resolution, ScheduleView, ServerStatus,
    SetupRequest, SetupState, Shifts, SilenceCreated, SilenceView, StatusIncident, StatusPageInfo,
    TestDelivery,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a request failed, in a form views can show and branch on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: no valid session (or wrong credentials, for the login request).
    Unauthorized(String),
    /// Any other error answer; `code` is the API's stable code (`not_found`, `store_busy`, ...),
    /// or `http_<status>` when the body was not ours (a proxy's page, say).
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// `invalid_input` naming each wrong field of the body (a monitor's, say).
    Invalid {
        message: String,
        fields: Vec<panoptes_types::FieldError>,
    },
    /// The request never got an answer: network down, server stopped.
    Network(String),
    /// A body that is not the shape this dashboard expects (an older or newer server).
    Decode(String),
}

impl ApiError {
    /// What a view shows for an address that cannot name anything (`/monitors/abc`).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::Api {
            status: 404,
            code: "not_found".into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthorized(m)
            | ApiError::Api { message: m, .. }
            | ApiError::Invalid { message: m, .. } => f.write_str(m),
            ApiError::Network(m) => write!(f, "cannot reach the server: {m}"),
            ApiError::Decode(m) => write!(f, "unexpected answer from the server: {m}"),
        }
    }
}

type Hook = Rc<dyn Fn()>;

thread_local! {
    // The browser runs us on one thread; the hook is installed once by the app shell.
    static ON_UNAUTHORIZED: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Sets what happens when the session turns out to be missing or expired (a 401 on any request
/// but the login itself): the app forgets the user and routes to the login screen.
pub fn on_unauthorized(hook: impl Fn() + 'static) {
    ON_UNAUTHORIZED.with(|h| *h.borrow_mut() = Some(Rc::new(hook)));
}

fn unauthorized() {
    // Clone out first: the hook may well trigger further requests.
    if let Some(hook) = ON_UNAUTHORIZED.with(|h| h.borrow().clone()) {
        hook();
    }
}

/// Whether a 401 means "session gone" (go to login) or "wrong password" (show it).
#[derive(Clone, Copy, PartialEq)]
enum On401 {
    Login,
    Report,
}

async fn send(
    method: Method,
    path: &str,
    body: Option<String>,
    on_401: On401,
) -> Result<Response, ApiError> {
    let changes_state = method != Method::GET && method != Method::HEAD;
    let mut builder = RequestBuilder::new(&format!("{API_PREFIX}{path}"))
        .method(method)
        .header("accept", "application/json");
    if changes_state {
        builder = builder.header(CSRF_HEADER, "1");
    }
    let request = match body {
        Some(json) => builder
            .header("content-type", "application/json")
            .body(json),
        None => builder.build(),
    }
    .map_err(|e| ApiError::Network(e.to_string()))?;
    let resp = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if resp.ok() {
        return Ok(resp);
    }
    let status = resp.status();
    let (code, message) = match resp.json::<ErrorBody>().await {
        Ok(b) if !b.error.fields.is_empty() => {
            return Err(ApiError::Invalid {
                message: b.error.message,
                fields: b.error.fields,
            });
        }
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (
            format!("http_{status}"),
            format!("request failed with HTTP {status}"),
        ),
    };
    if status == 401 {
        if on_401 == On401::Login {
            unauthorized();
        }
        return Err(ApiError::Unauthorized(message));
    }
    Err(ApiError::Api {
        status,
        code,
        message,
    })
}

async fn decode<T: DeserializeOwned>(resp: Response) -> Result<T, ApiError> {
    resp.json::<T>()
        .await
        .map_err(|e| ApiError::Decode(e.to_string()))
}

fn encode<B: Serialize>(body: &B) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::Decode(e.to_string()))
}

/// The body of a POST that needs none: `{}`.
#[derive(Serialize)]
pub struct NoBody {}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(send(Method::GET, path, None, On401::Login).await?).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    decode(send(Method::POST, path, Some(encode(body)?), On401::Login).await?).await
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    decode(send(Method::PATCH, path, Some(encode(body)?), On401::Login).await?).await
}

/// A POST whose answer has no body (204).
pub async fn post_no_content<B: Serialize>(path: &str, body: &B) -> Result<(), ApiError> {
    send(Method::POST, path, Some(encode(body)?), On401::Login)
        .await
        .map(drop)
}

pub async fn delete(path: &str) -> Result<(), ApiError> {
    send(Method::DELETE, path, None, On401::Login)
        .await
        .map(drop)
}

/// Most pages [`list`] follows: a view shows at most this many times [`PAGE`] items.
const MAX_PAGES: usize = 10;
/// Items asked for per page (the server's maximum).
const PAGE: usize = 1000;

/// Every item of a paginated list route, following `next_cursor` up to [`MAX_PAGES`] pages.
pub async fn list<T: DeserializeOwned>(path: &str) -> Result<Vec<T>, ApiError> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let url = match &cursor {
            None => format!("{path}{sep}limit={PAGE}"),
            Some(c) => format!("{path}{sep}limit={PAGE}&cursor={}", segment(c)),
        };
        let page: Page<T> = get(&url).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(items)
}

/// Encodes one path segment (a service name, an aggregation key).
pub fn segment(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

// ---- endpoints ----------------------------------------------------------------------------

/// `Err(Unauthorized)` without leaving the login screen: the message says what was wrong.
pub async fn login(username: String, password: String) -> Result<Principal, ApiError> {
    let body = encode(&LoginRequest { username, password })?;
    decode(send(Method::POST, "/session", Some(body), On401::Report).await?).await
}

/// Whether the first admin is still to be created (no credential needed).
pub async fn setup_state() -> Result<SetupState, ApiError> {
    decode(send(Method::GET, "/setup", None, On401::Report).await?).await
}

/// Creates the first admin and signs them in.
pub async fn setup(req: &SetupRequest) -> Result<Principal, ApiError> {
    decode(send(Method::POST, "/setup", Some(encode(req)?), On401::Report).await?).await
}

pub async fn logout() -> Result<(), ApiError> {
    delete("/session").await
}

/// Who the session belongs to; `Err(Unauthorized)` (and the login screen) when there is none.
pub async fn me() -> Result<Principal, ApiError> {
    get("/me").await
}

pub async fn status() -> Result<ServerStatus, ApiError> {
    get("/status").await
}

pub async fn monitors() -> Result<Vec<MonitorSummary>, ApiError> {
    list("/monitors").await
}

/// Creates a monitor from its config fields (`POST /monitors`).
pub async fn create_monitor(body: &serde_json::Value) -> Result<MonitorDetail, ApiError> {
    post("/monitors", body).await
}

/// Changes a managed monitor with a JSON merge patch (`{"enabled": false}` pauses it).
pub async fn update_monitor(id: u32, patch: &serde_json::Value) -> Result<MonitorDetail, ApiError> {
    self::patch(&format!("/monitors/{id}"), patch).await
}

pub async fn delete_monitor(id: u32) -> Result<(), ApiError> {
    delete(&format!("/monitors/{id}")).await
}

/// Every maintenance window in force (the config's and the API's).
pub async fn maintenance_windows() -> Result<Vec<panoptes_types::MaintenanceView>, ApiError> {
    get("/maintenance").await
}

pub async fn create_maintenance(body: &serde_json::Value) -> Result<(), ApiError> {
    post::<_, panoptes_types::MaintenanceView>("/maintenance", body)
        .await
        .map(drop)
}

pub async fn delete_maintenance(name: &str) -> Result<(), ApiError> {
    delete(&format!("/maintenance/{}", segment(name))).await
}

/// A monitor's fields as the config names them, and whether the config file declares it.
pub async fn monitor_config(id: u32) -> Result<panoptes_types::MonitorConfigView, ApiError> {
    get(&format!("/monitors/{id}/config")).await
}

pub async fn monitor(id: u32) -> Result<MonitorDetail, ApiError> {
    get(&format!("/monitors/{id}")).await
}

/// The last hour of raw results.
pub async fn monitor_results(id: u32) -> Result<MonitorResults, ApiError> {
    get(&format!("/monitors/{id}/results?limit=10000")).await
}

/// The monitor's state changes over the last 7 days, newest first.
pub async fn monitor_changes(id: u32) -> Result<MonitorChanges, ApiError> {
    get(&format!("/monitors/{id}/changes?limit=50")).await
}

/// Roll-ups from `from_ms` on (the latency chart's chosen range).
pub async fn monitor_rollups_since(
    id: u32,
    resolution: Resolution,
    from_ms: u64,
) -> Result<MonitorRollups, ApiError> {
    get(&format!(
        "/monitors/{id}/rollups?resolution={}&from={from_ms}",
        resolution.as_str()
    ))
    .await
}

pub async fn monitor_rollups(id: u32, resolution: Resolution) -> Result<MonitorRollups, ApiError> {
    get(&format!(
        "/monitors/{id}/rollups?resolution={}",
        resolution.as_str()
    ))
    .await
}

pub async fn projects() -> Result<Vec<ProjectInfo>, ApiError> {
    list("/projects").await
}

/// Creates a project with a generated key (`POST /projects`).
pub async fn create_project(p: &panoptes_types::NewProject) -> Result<ProjectInfo, ApiError> {
    post("/projects", p).await
}

pub async fn add_project_key(id: u64) -> Result<panoptes_types::NewProjectKey, ApiError> {
    post(&format!("/projects/{id}/keys"), &NoBody {}).await
}

pub async fn revoke_project_key(id: u64, key: &str) -> Result<(), ApiError> {
    delete(&format!("/projects/{id}/keys/{}", segment(key))).await
}

pub async fn delete_project(id: u64) -> Result<(), ApiError> {
    delete(&format!("/projects/{id}")).await
}

pub async fn issue(id: u64) -> Result<IssueDetail, ApiError> {
    get(&format!("/issues/{id}")).await
}

pub async fn set_issue_status(id: u64, status: IssueStatus) -> Result<IssueSummary, ApiError> {
    let update = IssueUpdate { status };
    patch(&format!("/issues/{id}"), &update).await
}

pub async fn exception_services() -> Result<Vec<ExceptionService>, ApiError> {
    list("/exceptions/services").await
}

pub async fn exception_keys(service: &str) -> Result<Vec<ExceptionSummary>, ApiError> {
    list(&format!("/exceptions/services/{}/errors", segment(service))).await
}

pub async fn exception_key(service: &str, key: &str) -> Result<ExceptionDetail, ApiError> {
    get(&format!(
        "/exceptions/services/{}/errors/{}",
        segment(service),
        segment(key)
    ))
    .await
}

/// Marks a key resolved; it reopens (as a regression) if its count increases again.
pub async fn resolve_exception(service: &str, key: &str) -> Result<ExceptionSummary, ApiError> {
    let path = format!(
        "/exceptions/services/{}/errors/{}/resolve",
        segment(service),
        segment(key)
    );
    post(&path, &NoBody {}).await
}

pub async fn alerts() -> Result<Vec<AlertView>, ApiError> {
    list("/alerts").await
}

/// The 50 most recently resolved.
pub async fn alert_history() -> Result<Vec<AlertHistoryEntry>, ApiError> {
    get::<Page<AlertHistoryEntry>>("/alerts/history?limit=50")
        .await
        .map(|p| p.items)
}

pub async fn silences() -> Result<Vec<SilenceView>, ApiError> {
    list("/silences").await
}

pub async fn create_silence(s: &NewSilence) -> Result<SilenceCreated, ApiError> {
    post("/silences", s).await
}

pub async fn expire_silence(id: &str) -> Result<(), ApiError> {
    delete(&format!("/silences/{}", segment(id))).await
}

pub async fn receivers() -> Result<Vec<ReceiverView>, ApiError> {
    list("/receivers").await
}

/// Sends a test message over every channel of the receiver.
pub async fn test_receiver(name: &str) -> Result<Vec<TestDelivery>, ApiError> {
    post(&format!("/receivers/{}/test", segment(name)), &NoBody {}).await
}

// ---- on-call --------------------------------------------------------------------------------

/// Who is on call now in every schedule.
pub async fn on_call_now() -> Result<Vec<OnCallNow>, ApiError> {
    get("/oncall").await
}

pub async fn schedules() -> Result<Vec<ScheduleView>, ApiError> {
    list("/oncall/schedules").await
}

/// The schedule's shifts over the next 14 days (the server's default range).
pub async fn shifts(schedule: &str) -> Result<Shifts, ApiError> {
    get(&format!("/oncall/schedules/{}/shifts", segment(schedule))).await
}

pub async fn overrides() -> Result<Vec<OverrideView>, ApiError> {
    list("/oncall/overrides").await
}

pub async fn create_override(o: &NewOverride) -> Result<OverrideView, ApiError> {
    post("/oncall/overrides", o).await
}

pub async fn delete_override(id: u64) -> Result<(), ApiError> {
    delete(&format!("/oncall/overrides/{id}")).await
}

pub async fn policies() -> Result<Vec<PolicyView>, ApiError> {
    list("/oncall/policies").await
}

/// The 50 newest pages.
pub async fn pages() -> Result<Vec<PageView>, ApiError> {
    get::<Page<PageView>>("/pages?limit=50")
        .await
        .map(|p| p.items)
}

pub async fn page(id: u64) -> Result<PageView, ApiError> {
    get(&format!("/pages/{id}")).await
}

pub async fn acknowledge_page(id: u64) -> Result<PageView, ApiError> {
    post(&format!("/pages/{id}/acknowledge"), &NoBody {}).await
}

pub async fn resolve_page(id: u64) -> Result<PageView, ApiError> {
    post(&format!("/pages/{id}/resolve"), &NoBody {}).await
}

// ---- status pages -------------------------------------------------------------------------

pub async fn status_pages() -> Result<Vec<StatusPageInfo>, ApiError> {
    list("/status-pages").await
}

pub async fn status_incidents(slug: &str) -> Result<Vec<StatusIncident>, ApiError> {
    list(&format!("/status-pages/{}/incidents", segment(slug))).await
}

pub async fn open_incident(slug: &str, i: &NewStatusIncident) -> Result<StatusIncident, ApiError> {
    post(&format!("/status-pages/{}/incidents", segment(slug)), i).await
}

pub async fn update_incident(
    slug: &str,
    id: &str,
    i: &NewStatusIncident,
) -> Result<StatusIncident, ApiError> {
    post(
        &format!(
            "/status-pages/{}/incidents/{}/updates",
            segment(slug),
            segment(id)
        ),
        i,
    )
    .await
}
