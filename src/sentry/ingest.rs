//! The fast path of every ingest endpoint: resolve the project, parse just enough, decide per
//! event (quota, flood control), and make the whole request durable in one store write before
//! answering.

use bytes::Bytes;
use serde_json::Value;

use super::config::{ProjectConfig, SentrySettings};
use super::record::{AttachmentHeader, EventHeader, InboxHeader, Kind, encode_row, with_header};
use super::{Accepted, Ingest, IngestError, SentryAuth, auth, body, envelope, event};
use crate::store::Write;
use crate::store::sentry::{Received, SentryWrite};
use std::sync::atomic::Ordering;

impl Ingest {
    /// The project a request is for: its key must be one of the project's, and the project in
    /// the path (when the route has one) must be that project.
    pub fn project(
        &self,
        cfg: &SentrySettings,
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
        let cfg = self.settings();
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
        // The event this envelope stored in full, if any: its attachments are kept with it.
        // Attachments of a counted-only (flood) copy, of an event the quota refused, or of no
        // event at all are counted, not stored: they would have nothing to expire with.
        let mut stored_event: Option<String> = None;
        let mut attachments: Vec<Vec<u8>> = Vec::new();
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
                    let fate =
                        self.plan_event(&mut plan, &project, id.clone(), &value, item.payload, now);
                    stored_event = (fate == Some(true)).then_some(id);
                }
                "attachment" => {
                    if len > limits.max_attachment_bytes {
                        return Err(IngestError::TooLarge(format!(
                            "attachment is larger than {} bytes",
                            limits.max_attachment_bytes
                        )));
                    }
                    // Kept only if the envelope's event is stored in full (decided below,
                    // whatever the order of the items).
                    attachments.push(with_header(
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
                    ));
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
        match &stored_event {
            Some(eid) => plan
                .attachments
                .extend(attachments.into_iter().map(|a| (eid.clone(), a))),
            None => self.count(project.id, "attachment_dropped", attachments.len() as u64),
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
        let cfg = self.settings();
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
    pub(super) async fn single_event(
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

    /// Quota and flood decisions for one event; adds its rows to `plan`. `None` when the
    /// project's quota refused it, else whether it is stored in full (`false`: a flood copy,
    /// counted only).
    pub(super) fn plan_event(
        &self,
        plan: &mut Plan,
        project: &ProjectConfig,
        id: String,
        value: &Value,
        payload: &[u8],
        now: u64,
    ) -> Option<bool> {
        if let Err(refusal) = self
            .inner
            .limits
            .quota(project.id, project.events_per_minute, now)
        {
            plan.rate_limited = Some(refusal);
            plan.limited += 1;
            return None;
        }
        let summary = event::summarize(value);
        let settings = self.settings();
        let max = project
            .flood_max_events
            .unwrap_or(settings.ingest.flood_max_events);
        let window = settings.ingest.flood_window.get().as_millis() as u64;
        let full = self
            .inner
            .limits
            .store_in_full(project.id, &summary.group, max, window, now);
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
        Some(full)
    }

    /// Makes the planned rows durable; resolves after the commit.
    pub(super) async fn commit(
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
        let cfg = self.settings();
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
            project,
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
}

#[derive(Default)]
pub(super) struct Plan {
    pub(super) rows: Vec<(InboxHeader, Vec<u8>)>,
    /// (event id, record) of events stored in full.
    pub(super) events: Vec<(String, Vec<u8>)>,
    /// (event id, record); indexes are assigned at commit.
    pub(super) attachments: Vec<(String, Vec<u8>)>,
    pub(super) id: Option<String>,
    pub(super) full: u64,
    pub(super) sampled: u64,
    pub(super) limited: u64,
    pub(super) rate_limited: Option<(u64, String)>,
}

pub(super) fn parse_event(payload: &[u8]) -> Result<Value, IngestError> {
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
pub(super) fn event_id_of(v: &Value) -> String {
    v.get("event_id")
        .and_then(Value::as_str)
        .and_then(envelope::normalize_event_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}
