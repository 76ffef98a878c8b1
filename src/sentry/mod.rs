//! Sentry-compatible ingest: the official SDKs send here unchanged.
//!
//! Owns: project/key resolution, the fast ingest path, flood control, per-project quotas, the
//! digest that groups received items into issues, and the issue state in memory.
//! Depends on: `config`, `store` (the `sentry_*` tables), `metrics`, `clock`, and `probe` (cron
//! check-ins feed push monitors).
//!
//! Flow: an endpoint authenticates, bounds and decompresses the body, parses just enough
//! (envelope framing, each event's grouping facts), decides per event whether it is stored in
//! full or only counted (flood control), appends every accepted item to the durable inbox in one
//! store write, and answers 200 only after that commit. The digest task (`digest.rs`) reads the
//! inbox in arrival order and, in one transaction per batch, writes issues, events, users and
//! counters and deletes what it consumed: nothing acknowledged is lost, a crash only delays
//! grouping, and a restart finishes what was left.

pub mod auth;
pub mod body;
pub mod config;
pub mod digest;
pub mod envelope;
pub mod event;
pub mod issues;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::{IngestItemLabels, IngestLabels, Metrics};
use crate::store::sentry::{Received, SentryWrite};
use crate::store::{Store, StoreError, Write};
pub use auth::SentryAuth;
use config::ProjectConfig;
use event::Summary;
use issues::{IssueRecord, Issues};

/// Why an ingest request was refused. `http::sentry` maps each to the status and headers the
/// SDKs expect.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("missing authentication: send X-Sentry-Auth, or sentry_key in the query string")]
    MissingAuth,
    #[error("more than one authentication source (header, Authorization, query)")]
    MultipleAuth,
    #[error("bad authentication: {0}")]
    BadAuth(String),
    #[error("unknown public key")]
    UnknownKey,
    #[error("the key does not belong to project {0}")]
    WrongProject(u64),
    #[error("the envelope's dsn does not match the request's key or project")]
    DsnMismatch,
    #[error("{0}")]
    BadEncoding(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("invalid envelope: {0}")]
    InvalidEnvelope(String),
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("project rate limit reached; retry in {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        /// `X-Sentry-Rate-Limits` value.
        limits: String,
    },
    #[error("ingest is busy: {0}")]
    Busy(String),
    #[error(transparent)]
    Store(StoreError),
}

impl IngestError {
    /// Short reason for the `panoptes_ingest_rejected` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::MissingAuth
            | IngestError::MultipleAuth
            | IngestError::BadAuth(_)
            | IngestError::UnknownKey
            | IngestError::WrongProject(_)
            | IngestError::DsnMismatch => "auth",
            IngestError::BadEncoding(_) => "encoding",
            IngestError::TooLarge(_) => "too_large",
            IngestError::InvalidEnvelope(_) | IngestError::InvalidEvent(_) => "invalid",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::Busy(_) => "busy",
            IngestError::Store(_) => "store",
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => IngestError::Busy("the store's write queue is full".into()),
            other => IngestError::Store(other),
        }
    }
}

/// The kind of a row in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An event stored in full (its JSON is in the events table, not in the row).
    Event,
    /// A flood copy: counted, not stored (no payload).
    Sampled,
    Session,
    Sessions,
    ClientReport,
    CheckIn,
}

/// The header line of an inbox row; the payload follows after `\n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxHeader {
    pub kind: Kind,
    pub project: u64,
    pub received_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_type: Option<String>,
}

/// The header line of a stored event (the SDK's JSON follows after `\n`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventHeader {
    pub project: u64,
    pub received_ms: u64,
}

/// The header line of a stored attachment (its bytes follow after `\n`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentHeader {
    pub filename: String,
    pub content_type: Option<String>,
    pub attachment_type: Option<String>,
    pub size: u64,
}

/// A stored record: one JSON header line, `\n`, then the payload as received.
fn with_header<T: Serialize>(h: &T, payload: &[u8]) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    let mut out = serde_json::to_vec(h).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(payload);
    out
}

/// Splits a stored record into its header and payload.
pub fn split_record<T: serde::de::DeserializeOwned>(row: &[u8]) -> Option<(T, &[u8])> {
    let nl = row.iter().position(|b| *b == b'\n')?;
    Some((serde_json::from_slice(&row[..nl]).ok()?, &row[nl + 1..]))
}

pub fn encode_row(h: &InboxHeader, payload: &[u8]) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    let mut out = serde_json::to_vec(h).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(payload);
    out
}

pub fn decode_row(row: &[u8]) -> Option<(InboxHeader, &[u8])> {
    let nl = row.iter().position(|b| *b == b'\n')?;
    let h = serde_json::from_slice(&row[..nl]).ok()?;
    Some((h, &row[nl + 1..]))
}

/// A request that passed the fast path.
#[derive(Debug, Default)]
pub struct Accepted {
    /// The event id to answer with (`{"id": ...}`), if the request carried an event.
    pub id: Option<String>,
    /// Some items were refused by the project's quota: answer 429 with these.
    pub rate_limited: Option<(u64, String)>,
}

/// Per project counters since start (the stats API; `/metrics` has the same numbers).
#[derive(Debug, Clone, Default)]
struct Counters {
    outcomes: HashMap<&'static str, u64>,
    items: HashMap<String, u64>,
}

/// Item types Panoptes knows by name (others are counted as `other`, bounding label values).
const KNOWN_ITEMS: &[&str] = &[
    "event",
    "transaction",
    "attachment",
    "session",
    "sessions",
    "client_report",
    "check_in",
    "user_report",
    "feedback",
    "security",
    "profile",
    "profile_chunk",
    "replay_event",
    "replay_recording",
    "replay_video",
    "span",
    "log",
    "otel_log",
    "statsd",
    "metric_buckets",
    "raw_security",
    "nel",
    "form_data",
    "unreal_report",
];

#[derive(Clone)]
pub struct Ingest {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    config: watch::Receiver<Arc<Config>>,
    /// Next inbox sequence number.
    seq: AtomicU64,
    /// Items in the inbox not yet digested.
    backlog: AtomicU64,
    /// KiB of decompressed bodies held by requests waiting for their commit.
    inflight: Semaphore,
    inflight_kib: u32,
    /// (project, grouping hash) -> (window start ms, events seen in it).
    flood: Mutex<HashMap<(u64, String), (u64, u32)>>,
    /// project -> (minute start ms, events accepted in it).
    quotas: Mutex<HashMap<u64, (u64, u64)>>,
    counters: Mutex<HashMap<u64, Counters>>,
    issues: Mutex<Issues>,
    wake: Notify,
    probes: Option<crate::probe::ProbeEngine>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a thread panicked while holding it; the maps stay usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bound on the flood-control map; stale windows are dropped when it is reached.
const MAX_FLOOD_KEYS: usize = 100_000;

impl Ingest {
    /// Loads issues from the store and picks up the inbox where the last run left it.
    pub fn open(
        store: Store,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        config: watch::Receiver<Arc<Config>>,
        probes: Option<crate::probe::ProbeEngine>,
    ) -> Result<Ingest, StoreError> {
        let (records, groups) = store.sentry_issues()?;
        let mut issues = Vec::with_capacity(records.len());
        for (id, bytes) in records {
            match serde_json::from_slice::<IssueRecord>(&bytes) {
                Ok(r) => issues.push(r),
                Err(e) => tracing::warn!(issue = id, error = %e, "skipping undecodable issue"),
            }
        }
        let (backlog, last) = store.sentry_inbox_stats()?;
        metrics.ingest.backlog.set(backlog as i64);
        let inflight_kib = (config.borrow().ingest.max_inflight_bytes / 1024)
            .clamp(1, u64::from(u32::MAX >> 3)) as u32;
        Ok(Ingest {
            inner: Arc::new(Inner {
                store,
                clock,
                metrics,
                config,
                seq: AtomicU64::new(last.map_or(1, |l| l + 1)),
                backlog: AtomicU64::new(backlog),
                inflight: Semaphore::new(inflight_kib as usize),
                inflight_kib,
                flood: Mutex::new(HashMap::new()),
                quotas: Mutex::new(HashMap::new()),
                counters: Mutex::new(HashMap::new()),
                issues: Mutex::new(Issues::load(issues, groups)),
                wake: Notify::new(),
                probes,
            }),
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.inner.config.borrow().clone()
    }

    pub fn backlog(&self) -> u64 {
        self.inner.backlog.load(Ordering::Relaxed)
    }

    fn count(&self, project: u64, outcome: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        self.inner
            .metrics
            .ingest
            .events
            .get_or_create(&IngestLabels {
                project: project.to_string(),
                outcome: outcome.to_string(),
            })
            .inc_by(n);
        *lock(&self.inner.counters)
            .entry(project)
            .or_default()
            .outcomes
            .entry(outcome)
            .or_default() += n;
    }

    fn count_item(&self, project: u64, ty: &str) {
        let item = if KNOWN_ITEMS.contains(&ty) {
            ty
        } else {
            "other"
        };
        self.inner
            .metrics
            .ingest
            .items
            .get_or_create(&IngestItemLabels {
                project: project.to_string(),
                item: item.to_string(),
            })
            .inc();
        *lock(&self.inner.counters)
            .entry(project)
            .or_default()
            .items
            .entry(item.to_string())
            .or_default() += 1;
    }

    /// Counts a refused request (by reason, and as `invalid` for its project when known).
    pub fn reject(&self, project: Option<u64>, e: &IngestError) {
        self.inner
            .metrics
            .ingest
            .rejected
            .get_or_create(&vec![("reason".to_string(), e.reason().to_string())])
            .inc();
        if let Some(p) = project
            && matches!(
                e,
                IngestError::InvalidEnvelope(_)
                    | IngestError::InvalidEvent(_)
                    | IngestError::TooLarge(_)
                    | IngestError::BadEncoding(_)
            )
        {
            self.count(p, "invalid", 1);
        }
    }

    /// The project a request is for: its key must be one of the project's, and the project in
    /// the path (when the route has one) must be that project.
    pub fn project(
        &self,
        cfg: &Config,
        path_project: Option<u64>,
        auth: Option<&SentryAuth>,
    ) -> Result<ProjectConfig, IngestError> {
        let auth = auth.ok_or(IngestError::MissingAuth)?;
        let project = cfg
            .projects
            .iter()
            .find(|p| p.keys.iter().any(|k| k.0 == auth.key))
            .ok_or(IngestError::UnknownKey)?;
        if let Some(pid) = path_project
            && pid != project.id
        {
            return Err(IngestError::WrongProject(pid));
        }
        Ok(project.clone())
    }

    /// `POST /api/{project}/envelope/`. `body` is already decompressed.
    pub async fn envelope(
        &self,
        path_project: u64,
        request_auth: Option<SentryAuth>,
        body: Bytes,
    ) -> Result<Accepted, IngestError> {
        let cfg = self.config();
        let env = envelope::parse(&body)?;
        let dsn = env.header.dsn.as_deref().map(auth::parse_dsn).transpose()?;
        let auth = match (request_auth, dsn) {
            (Some(a), Some((key, pid))) => {
                if a.key != key || pid != path_project {
                    return Err(IngestError::DsnMismatch);
                }
                Some(a)
            }
            (Some(a), None) => Some(a),
            (None, Some((key, _))) => Some(SentryAuth {
                key,
                ..Default::default()
            }),
            (None, None) => None,
        };
        let project = self.project(&cfg, Some(path_project), auth.as_ref())?;
        let header_id = match env.header.event_id.as_deref() {
            Some(id) => Some(envelope::normalize_event_id(id).ok_or_else(|| {
                IngestError::InvalidEnvelope(format!(
                    "envelope event_id `{}` is not a UUID",
                    auth::truncate(id, 64)
                ))
            })?),
            None => None,
        };
        let now = self.inner.clock.now_ms();
        let limits = &cfg.ingest;
        let mut plan = Plan::default();
        let mut attachment_event: Option<String> = header_id.clone();
        for item in &env.items {
            let ty = item.header.ty.as_str();
            self.count_item(project.id, ty);
            let len = item.payload.len() as u64;
            match ty {
                "event" => {
                    if len > limits.max_event_bytes {
                        return Err(IngestError::TooLarge(format!(
                            "event item is larger than {} bytes",
                            limits.max_event_bytes
                        )));
                    }
                    let value = parse_event(item.payload)?;
                    let id = header_id.clone().unwrap_or_else(|| event_id_of(&value));
                    // Attachments follow their event: none for an event the quota refused.
                    let taken =
                        self.plan_event(&mut plan, &project, id.clone(), &value, item.payload, now);
                    attachment_event = taken.then_some(id);
                }
                "attachment" => {
                    if len > limits.max_attachment_bytes {
                        return Err(IngestError::TooLarge(format!(
                            "attachment is larger than {} bytes",
                            limits.max_attachment_bytes
                        )));
                    }
                    // An attachment belongs to the envelope's event; alone, it has nothing to
                    // belong to and is counted only.
                    if let Some(eid) = &attachment_event {
                        plan.attachments.push((
                            eid.clone(),
                            with_header(
                                &AttachmentHeader {
                                    filename: item
                                        .header
                                        .filename
                                        .clone()
                                        .unwrap_or_else(|| "attachment".into()),
                                    content_type: item.header.content_type.clone(),
                                    attachment_type: item.header.attachment_type.clone(),
                                    size: len,
                                },
                                item.payload,
                            ),
                        ));
                    }
                }
                "session" | "sessions" | "client_report" | "check_in" => {
                    if len > limits.max_event_bytes {
                        return Err(IngestError::TooLarge(format!(
                            "{ty} item is larger than {} bytes",
                            limits.max_event_bytes
                        )));
                    }
                    serde_json::from_slice::<serde::de::IgnoredAny>(item.payload).map_err(|e| {
                        IngestError::InvalidEnvelope(format!("{ty} item is not JSON: {e}"))
                    })?;
                    let kind = match ty {
                        "session" => Kind::Session,
                        "sessions" => Kind::Sessions,
                        "client_report" => Kind::ClientReport,
                        _ => Kind::CheckIn,
                    };
                    plan.rows.push((
                        InboxHeader {
                            kind,
                            project: project.id,
                            received_ms: now,
                            event_id: None,
                            summary: None,
                            filename: None,
                            content_type: None,
                            attachment_type: None,
                        },
                        item.payload.to_vec(),
                    ));
                }
                // Transactions, spans, profiles, replays, logs, feedback and types not yet
                // invented: counted above, not stored.
                _ => {}
            }
        }
        let id = plan.id.clone().or(header_id);
        self.commit(project.id, plan, body.len())
            .await
            .map(|mut a| {
                a.id = a.id.or(id);
                a
            })
    }

    /// `POST /api/{project}/store/` and `POST /api/store/`: one event, JSON or base64+zlib.
    pub async fn store_event(
        &self,
        path_project: Option<u64>,
        auth: Option<SentryAuth>,
        body: Bytes,
    ) -> Result<Accepted, IngestError> {
        let cfg = self.config();
        let project = self.project(&cfg, path_project, auth.as_ref())?;
        let json = body::legacy_store(body, cfg.ingest.max_event_bytes as usize)?;
        if json.len() as u64 > cfg.ingest.max_event_bytes {
            return Err(IngestError::TooLarge(format!(
                "event is larger than {} bytes",
                cfg.ingest.max_event_bytes
            )));
        }
        self.count_item(project.id, "event");
        let value = parse_event(&json)?;
        self.single_event(&project, value, Some(&json)).await
    }

    /// An event made by Panoptes from something else (a CSP report, a minidump's form fields).
    async fn single_event(
        &self,
        project: &ProjectConfig,
        value: Value,
        raw: Option<&[u8]>,
    ) -> Result<Accepted, IngestError> {
        let now = self.inner.clock.now_ms();
        let id = event_id_of(&value);
        let owned;
        let payload = match raw {
            Some(r) => r,
            None => {
                owned = serde_json::to_vec(&value).unwrap_or_default();
                &owned
            }
        };
        let mut plan = Plan::default();
        self.plan_event(&mut plan, project, id, &value, payload, now);
        let size = payload.len();
        self.commit(project.id, plan, size).await
    }

    /// `POST /api/{project}/security/` (and `/csp-report/`): a browser CSP report (the classic
    /// `{"csp-report": {...}}` or a Reporting API list) becomes an event.
    pub async fn security(
        &self,
        path_project: u64,
        auth: Option<SentryAuth>,
        query: &HashMap<String, String>,
        user_agent: Option<&str>,
        body: Bytes,
    ) -> Result<Accepted, IngestError> {
        let cfg = self.config();
        let project = self.project(&cfg, Some(path_project), auth.as_ref())?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| IngestError::InvalidEvent(format!("report is not JSON: {e}")))?;
        let reports: Vec<Value> = match v {
            Value::Array(list) => list
                .into_iter()
                .filter(|r| {
                    r.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t == "csp-violation")
                })
                .filter_map(|r| r.get("body").cloned())
                .map(reporting_api_to_classic)
                .collect(),
            Value::Object(mut o) => match o.remove("csp-report") {
                Some(r) => vec![r],
                None => {
                    return Err(IngestError::InvalidEvent(
                        "expected {\"csp-report\": {...}} or a Reporting API list".into(),
                    ));
                }
            },
            _ => return Err(IngestError::InvalidEvent("report must be an object".into())),
        };
        let mut last = Accepted::default();
        for r in reports.into_iter().take(100) {
            self.count_item(project.id, "security");
            let event = csp_event(&r, query, user_agent);
            last = self.single_event(&project, event, None).await?;
        }
        Ok(last)
    }

    /// `POST /api/{project}/minidump/`: the minidump is stored as an attachment of an event made
    /// from the form's `sentry` JSON (or `sentry[...]` fields), or of a bare native crash event.
    pub async fn minidump(
        &self,
        path_project: u64,
        auth: Option<SentryAuth>,
        mut event: Value,
        files: Vec<(String, Option<String>, Bytes, String)>,
    ) -> Result<Accepted, IngestError> {
        let cfg = self.config();
        let project = self.project(&cfg, Some(path_project), auth.as_ref())?;
        if !files.iter().any(|f| f.3 == "event.minidump") {
            return Err(IngestError::InvalidEvent(
                "no `upload_file_minidump` file in the form".into(),
            ));
        }
        for f in &files {
            if f.2.len() as u64 > cfg.ingest.max_attachment_bytes {
                return Err(IngestError::TooLarge(format!(
                    "{} is larger than {} bytes",
                    f.0, cfg.ingest.max_attachment_bytes
                )));
            }
        }
        if !event.is_object() {
            event = Value::Object(Default::default());
        }
        if event::exceptions(&event).is_empty() {
            event["exception"] = serde_json::json!({"values": [{
                "type": "Minidump",
                "value": "native crash (unsymbolicated minidump)",
                "mechanism": {"type": "minidump", "handled": false, "synthetic": true}
            }]});
        }
        if event.get("level").is_none() {
            event["level"] = Value::from("fatal");
        }
        if event.get("platform").is_none() {
            event["platform"] = Value::from("native");
        }
        self.count_item(project.id, "event");
        let now = self.inner.clock.now_ms();
        let id = event_id_of(&event);
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let mut plan = Plan::default();
        let taken = self.plan_event(&mut plan, &project, id.clone(), &event, &payload, now);
        let mut size = payload.len();
        // The dump follows its event: not stored when the quota refused the event.
        for (name, content_type, data, attachment_type) in files.into_iter().filter(|_| taken) {
            self.count_item(project.id, "attachment");
            size += data.len();
            let header = AttachmentHeader {
                filename: name,
                content_type,
                attachment_type: Some(attachment_type),
                size: data.len() as u64,
            };
            plan.attachments
                .push((id.clone(), with_header(&header, &data)));
        }
        self.commit(project.id, plan, size).await
    }

    /// Quota and flood decisions for one event; adds its rows to `plan`. False when the
    /// project's quota refused it.
    fn plan_event(
        &self,
        plan: &mut Plan,
        project: &ProjectConfig,
        id: String,
        value: &Value,
        payload: &[u8],
        now: u64,
    ) -> bool {
        if let Some(limit) = project.events_per_minute {
            let minute = now - now % 60_000;
            let mut q = lock(&self.inner.quotas);
            let e = q.entry(project.id).or_insert((minute, 0));
            if e.0 != minute {
                *e = (minute, 0);
            }
            if e.1 >= limit {
                let secs = (minute + 60_000 - now).div_ceil(1000).max(1);
                plan.rate_limited = Some((
                    secs,
                    format!("{secs}:error;default;security:project:project_quota"),
                ));
                plan.limited += 1;
                return false;
            }
            e.1 += 1;
        }
        let summary = event::summarize(value);
        let cfg = self.config();
        let max = project
            .flood_max_events
            .unwrap_or(cfg.ingest.flood_max_events);
        let window = cfg.ingest.flood_window.get().as_millis().max(1) as u64;
        let start = now - now % window;
        let full = {
            let mut f = lock(&self.inner.flood);
            if f.len() >= MAX_FLOOD_KEYS {
                f.retain(|_, (s, _)| *s == start);
                if f.len() >= MAX_FLOOD_KEYS {
                    f.clear();
                }
            }
            let e = f
                .entry((project.id, summary.group.clone()))
                .or_insert((start, 0));
            if e.0 != start {
                *e = (start, 0);
            }
            e.1 = e.1.saturating_add(1);
            e.1 <= max
        };
        let header = InboxHeader {
            kind: if full { Kind::Event } else { Kind::Sampled },
            project: project.id,
            received_ms: now,
            event_id: Some(id.clone()),
            summary: Some(summary),
            filename: None,
            content_type: None,
            attachment_type: None,
        };
        plan.rows.push((header, Vec::new()));
        if full {
            let stored = EventHeader {
                project: project.id,
                received_ms: now,
            };
            plan.events
                .push((id.clone(), with_header(&stored, payload)));
            plan.full += 1;
        } else {
            plan.sampled += 1;
        }
        plan.id = Some(id);
        true
    }

    /// Makes the planned rows durable; resolves after the commit.
    async fn commit(
        &self,
        project: u64,
        plan: Plan,
        body_len: usize,
    ) -> Result<Accepted, IngestError> {
        let accepted = Accepted {
            id: plan.id.clone(),
            rate_limited: plan.rate_limited.clone(),
        };
        self.count(project, "rate_limited", plan.limited);
        if plan.rows.is_empty() && plan.attachments.is_empty() {
            if let Some((secs, limits)) = plan.rate_limited {
                return Err(IngestError::RateLimited {
                    retry_after_secs: secs,
                    limits,
                });
            }
            return Ok(accepted);
        }
        let cfg = self.config();
        let n = plan.rows.len() as u64;
        if self.inner.backlog.load(Ordering::Relaxed) + n > cfg.ingest.max_backlog {
            return Err(IngestError::Busy(format!(
                "{} received items are waiting to be grouped (ingest.max_backlog)",
                self.backlog()
            )));
        }
        let kib = ((body_len / 1024) as u32 + 1).min(self.inner.inflight_kib);
        let _permit = self.inner.inflight.try_acquire_many(kib).map_err(|_| {
            IngestError::Busy(
                "too many bytes waiting for the store (ingest.max_inflight_bytes)".into(),
            )
        })?;
        // One sequence for inbox rows and attachments: unique, so it also names attachments.
        let first = self
            .inner
            .seq
            .fetch_add(n + plan.attachments.len() as u64, Ordering::Relaxed);
        let received = Received {
            inbox: plan
                .rows
                .iter()
                .enumerate()
                .map(|(i, (h, p))| (first + i as u64, encode_row(h, p)))
                .collect(),
            events: plan.events,
            attachments: plan
                .attachments
                .into_iter()
                .enumerate()
                .map(|(i, (eid, rec))| {
                    (
                        eid,
                        ((first + n + i as u64) & u64::from(u32::MAX)) as u32,
                        rec,
                    )
                })
                .collect(),
        };
        // Counted before the write: once committed, the digest may consume these rows before
        // this task runs again, and its decrement must find them counted.
        let backlog = self.inner.backlog.fetch_add(n, Ordering::Relaxed) + n;
        self.inner.metrics.ingest.backlog.set(backlog as i64);
        if let Err(e) = self
            .inner
            .store
            .write(vec![Write::Sentry(SentryWrite::Received(Box::new(
                received,
            )))])
            .await
        {
            let left = self
                .inner
                .backlog
                .fetch_sub(n, Ordering::Relaxed)
                .saturating_sub(n);
            self.inner.metrics.ingest.backlog.set(left as i64);
            return Err(e.into());
        }
        self.inner.wake.notify_one();
        self.count(project, "accepted", plan.full + plan.sampled);
        self.count(project, "stored", plan.full);
        self.count(project, "sampled", plan.sampled);
        Ok(accepted)
    }

    // ---- reads for the API --------------------------------------------------------------

    pub fn with_issues<T>(&self, f: impl FnOnce(&Issues) -> T) -> T {
        f(&lock(&self.inner.issues))
    }

    /// Sets an issue's status; returns the updated issue, or `None` if there is no such issue.
    pub async fn set_status(
        &self,
        id: u64,
        status: issues::Status,
    ) -> Result<Option<IssueRecord>, StoreError> {
        let (rec, ack) = {
            let mut st = lock(&self.inner.issues);
            let Some(rec) = st.by_id.get(&id) else {
                return Ok(None);
            };
            let mut rec = rec.clone();
            rec.status = status;
            match status {
                issues::Status::Resolved => {
                    rec.resolved_at_ms = Some(self.inner.clock.now_ms());
                    rec.regressed = false;
                }
                issues::Status::Unresolved => rec.resolved_at_ms = None,
                issues::Status::Ignored => {}
            }
            // Enqueued under the lock, so the writer sees status changes and digest updates of
            // this issue in the order they were made.
            let ack = self
                .inner
                .store
                .enqueue(vec![Write::Sentry(SentryWrite::Issue(
                    id,
                    serde_json::to_vec(&rec).unwrap_or_default(),
                ))])?;
            st.by_id.insert(id, rec.clone());
            (rec, ack)
        };
        ack.await.unwrap_or(Err(StoreError::Closed))?;
        Ok(Some(rec))
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Counters since start, per configured project, with stored session counts.
    pub fn stats(&self) -> Result<panoptes_types::IngestStats, StoreError> {
        let cfg = self.config();
        let counters = lock(&self.inner.counters).clone();
        let mut out = panoptes_types::IngestStats {
            backlog: self.backlog(),
            projects: Vec::new(),
        };
        for p in &cfg.projects {
            let c = counters.get(&p.id).cloned().unwrap_or_default();
            let get = |k: &str| c.outcomes.get(k).copied().unwrap_or(0);
            let mut releases: std::collections::BTreeMap<
                String,
                std::collections::BTreeMap<String, u64>,
            > = Default::default();
            for (release, name, n) in self.inner.store.sentry_counts(p.id)? {
                releases.entry(release).or_default().insert(name, n);
            }
            out.projects.push(panoptes_types::ProjectIngestStats {
                project: p.id,
                name: p.name.clone(),
                accepted: get("accepted"),
                stored: get("stored"),
                sampled: get("sampled"),
                rate_limited: get("rate_limited"),
                invalid: get("invalid"),
                duplicate: get("duplicate"),
                items: c.items.into_iter().collect(),
                releases,
            });
        }
        Ok(out)
    }
}

#[derive(Default)]
struct Plan {
    rows: Vec<(InboxHeader, Vec<u8>)>,
    /// (event id, record) of events stored in full.
    events: Vec<(String, Vec<u8>)>,
    /// (event id, record); indexes are assigned at commit.
    attachments: Vec<(String, Vec<u8>)>,
    id: Option<String>,
    full: u64,
    sampled: u64,
    limited: u64,
    rate_limited: Option<(u64, String)>,
}

fn parse_event(payload: &[u8]) -> Result<Value, IngestError> {
    // serde_json refuses nesting deeper than 128 levels with an error, never a stack overflow.
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| IngestError::InvalidEvent(format!("event is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(IngestError::InvalidEvent(
            "event must be a JSON object".into(),
        ));
    }
    Ok(v)
}

/// The payload's `event_id` when valid, else a new one.
fn event_id_of(v: &Value) -> String {
    v.get("event_id")
        .and_then(Value::as_str)
        .and_then(envelope::normalize_event_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// A Reporting API `csp-violation` body uses camelCase names; the classic report uses kebab-case.
fn reporting_api_to_classic(body: Value) -> Value {
    let map = [
        ("documentURL", "document-uri"),
        ("blockedURL", "blocked-uri"),
        ("effectiveDirective", "effective-directive"),
        ("originalPolicy", "original-policy"),
        ("sourceFile", "source-file"),
        ("lineNumber", "line-number"),
        ("columnNumber", "column-number"),
        ("disposition", "disposition"),
        ("referrer", "referrer"),
        ("statusCode", "status-code"),
    ];
    let mut out = serde_json::Map::new();
    for (from, to) in map {
        if let Some(v) = body.get(from) {
            out.insert(to.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn csp_event(r: &Value, query: &HashMap<String, String>, user_agent: Option<&str>) -> Value {
    let get = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let effective = {
        let e = get("effective-directive");
        if e.is_empty() {
            get("violated-directive")
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        } else {
            e
        }
    };
    let blocked = get("blocked-uri");
    let document = get("document-uri");
    let mut event = serde_json::json!({
        "level": "error",
        "platform": "javascript",
        "logger": "csp",
        "csp": {
            "effective_directive": effective,
            "blocked_uri": blocked,
            "document_uri": document,
            "violated_directive": get("violated-directive"),
            "original_policy": get("original-policy"),
            "source_file": get("source-file"),
            "disposition": get("disposition"),
        },
        "culprit": effective,
        "tags": {"effective-directive": effective, "blocked-uri": blocked},
        "request": {"url": document, "headers": {"User-Agent": user_agent.unwrap_or("")}},
    });
    if let Some(r) = query.get("sentry_release") {
        event["release"] = Value::from(r.as_str());
    }
    if let Some(e) = query.get("sentry_environment") {
        event["environment"] = Value::from(e.as_str());
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::StoreOptions;

    const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";

    fn envelope_with_attachment(id: &str) -> Bytes {
        let event = format!("{{\"event_id\":\"{id}\",\"message\":\"quota\"}}");
        Bytes::from(format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n{{\"type\":\"attachment\",\"length\":4,\"filename\":\"a.txt\"}}\nabcd\n"
        ))
    }

    #[tokio::test]
    async fn attachments_follow_their_event_past_the_quota() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::new());
        let store =
            Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("open");
        let yaml = format!(
            "projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\n    events_per_minute: 1\n"
        );
        let cfg = crate::config::parse(&yaml, "t", &|_| None).expect("config");
        let (_tx, rx) = watch::channel(Arc::new(cfg));
        let clock: SharedClock = ManualClock::new(1_800_000_000_000);
        let ingest = Ingest::open(store.clone(), clock, metrics, rx, None).expect("ingest");
        let auth = || {
            Some(SentryAuth {
                key: KEY.into(),
                ..Default::default()
            })
        };
        let first = "9ec79c33ec9942ab8353589fcb2e04dc";
        let second = "0ec79c33ec9942ab8353589fcb2e04dc";
        let ok = ingest
            .envelope(8, auth(), envelope_with_attachment(first))
            .await
            .expect("first");
        assert_eq!(ok.id.as_deref(), Some(first));
        assert!(ok.rate_limited.is_none());
        let limited = ingest
            .envelope(8, auth(), envelope_with_attachment(second))
            .await;
        assert!(
            matches!(limited, Err(IngestError::RateLimited { .. })),
            "{limited:?}"
        );
        assert_eq!(store.sentry_attachments(first).expect("read").len(), 1);
        assert!(store.sentry_attachments(second).expect("read").is_empty());
        assert!(store.sentry_event(second).expect("read").is_none());
        store.close().await;
    }
}
