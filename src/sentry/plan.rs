//! The CPU half of the fast path, run on the blocking pool: undo the body's encoding, frame and
//! parse it, and decide per event (quota, flood control) what one request will store. The result
//! is a [`Plan`], which `ingest.rs` commits in one store write.
//!
//! Owns: what a request's items become (inbox rows, stored events, attachments) and the
//! reservations its decisions took. Depends on: `envelope`, `body`, `event`, `limits`,
//! `budget`.

use bytes::Bytes;
use serde_json::Value;

use super::budget::{Charge, RawBody};
use super::config::ProjectConfig;
use super::limits::Reservation;
use super::record::{AttachmentHeader, EventHeader, InboxHeader, Kind, with_header};
use super::upstream::{Candidate, Draft, draft};
use super::{Ingest, IngestError, SentryAuth, auth, body, envelope, event};

/// What one request stores, decided before anything is written.
pub(super) struct Plan {
    pub(super) project: u64,
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
    /// Quota and flood slots taken by the decisions above; given back unless committed.
    pub(super) held: Reservation,
    /// What goes to the project's upstream, if it forwards (`upstream.rs`).
    pub(super) forward: Draft,
}

impl Plan {
    pub(super) fn new(ingest: &Ingest, project: u64) -> Plan {
        Plan {
            project,
            rows: Vec::new(),
            events: Vec::new(),
            attachments: Vec::new(),
            id: None,
            full: 0,
            sampled: 0,
            limited: 0,
            rate_limited: None,
            held: Reservation::new(ingest.inner.limits.clone()),
            forward: Draft::default(),
        }
    }

    /// Bytes the plan holds in memory (what stays charged until its commit).
    pub(super) fn bytes(&self) -> u64 {
        let rows: usize = self.rows.iter().map(|(_, p)| p.len() + 256).sum::<usize>()
            + self.forward.row.as_ref().map_or(0, Vec::len);
        let events: usize = self.events.iter().map(|(_, r)| r.len()).sum();
        let attachments: usize = self.attachments.iter().map(|(_, r)| r.len()).sum();
        (rows + events + attachments) as u64
    }
}

/// Runs CPU-bound ingest work (decompression, parsing, grouping facts) on the blocking pool,
/// so a large or compressed body never holds an async worker; a small plain one
/// ([`RawBody::is_small_plain`]) is planned in place.
pub(super) async fn blocking<T: Send + 'static>(
    inline: bool,
    f: impl FnOnce() -> Result<T, IngestError> + Send + 'static,
) -> Result<T, IngestError> {
    if inline {
        return f();
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IngestError::Internal(format!("ingest task failed: {e}")))?
}

/// Undoes the body's `Content-Encoding`, charging what it decompresses to; the compressed bytes
/// are given back once decoded.
pub(super) fn decode(body: RawBody) -> Result<(Bytes, Charge), IngestError> {
    let RawBody {
        bytes,
        encoding,
        decompressed_limit,
        mut charge,
        reading: _reading,
    } = body;
    let limit = usize::try_from(decompressed_limit).unwrap_or(usize::MAX);
    let data = body::decode(encoding.as_deref(), bytes, limit, &mut charge)?;
    charge.resize(data.len() as u64)?;
    Ok((data, charge))
}

impl Ingest {
    /// `POST /api/{project}/envelope/`, up to its commit: decode, frame, authenticate by the
    /// envelope's `dsn` when the request carried no key, and plan every item.
    pub(super) fn plan_envelope(
        &self,
        path_project: u64,
        request_auth: Option<SentryAuth>,
        body: RawBody,
    ) -> Result<(Plan, Charge), IngestError> {
        let (data, charge) = decode(body)?;
        let cfg = self.settings();
        let env = envelope::parse(&data)?;
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
        let mut plan = Plan::new(self, project.id);
        // The event this envelope stored in full, if any: its attachments are kept with it.
        // Attachments of a counted-only (flood) copy, of an event the quota refused, or of no
        // event at all are counted, not stored: they would have nothing to expire with.
        let mut stored_event: Option<String> = None;
        let mut attachments: Vec<Vec<u8>> = Vec::new();
        let forwarding = project.forward.is_some();
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        let (mut event_fate, mut refused, mut event_id) = (None, false, header_id.clone());
        for item in &env.items {
            let ty = item.header.ty.as_str();
            if forwarding {
                candidates.push(candidate(item));
            }
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
                    event_fate = Some(fate == Some(true));
                    refused = fate.is_none();
                    event_id = Some(id.clone());
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
        if plan.id.is_none() {
            plan.id = header_id;
        }
        if forwarding {
            // The envelope header as sent (minus its DSN, see `upstream.rs`).
            let head = data
                .split(|b| *b == b'\n')
                .next()
                .and_then(|l| serde_json::from_slice(l).ok());
            let key = auth.as_ref().map_or("", |a| a.key.as_str());
            plan.forward = draft(
                &project,
                key,
                head,
                event_id.as_deref(),
                event_fate,
                refused,
                candidates,
                now,
            );
        }
        Ok((plan, charge))
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
        if let Err(refusal) = plan.held.quota(project.id, project.events_per_minute, now) {
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
        let full = plan
            .held
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

    /// An event made by Panoptes from something else (a CSP report, a minidump's form fields),
    /// serialised and bounded by `ingest.max_event_bytes` like an event an SDK sent.
    pub(super) fn plan_made_event(
        &self,
        plan: &mut Plan,
        project: &ProjectConfig,
        value: &Value,
        now: u64,
    ) -> Result<Option<bool>, IngestError> {
        let max = self.settings().ingest.max_event_bytes;
        let payload = serde_json::to_vec(value)
            .map_err(|e| IngestError::InvalidEvent(format!("event cannot be stored: {e}")))?;
        if payload.len() as u64 > max {
            return Err(IngestError::TooLarge(format!(
                "the event made from this request is larger than {max} bytes (ingest.max_event_bytes)"
            )));
        }
        Ok(self.plan_event(plan, project, event_id_of(value), value, &payload, now))
    }
}

/// An envelope item as forwarding sees it: its header restated, its payload as received.
fn candidate<'a>(item: &'a envelope::Item<'a>) -> Candidate<'a> {
    let h = &item.header;
    let mut m = serde_json::Map::new();
    m.insert("type".into(), h.ty.clone().into());
    for (k, v) in [
        ("content_type", &h.content_type),
        ("filename", &h.filename),
        ("attachment_type", &h.attachment_type),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    }
    Candidate {
        ty: item.header.ty.as_str(),
        header: Value::Object(m),
        payload: item.payload,
    }
}

pub(super) fn parse_event(payload: &[u8]) -> Result<Value, IngestError> {
    // serde_json refuses nesting deeper than 128 levels with an error, never a stack overflow.
    // Only the summary reads this tree (the payload is stored as received): see `lean.rs`.
    let v = super::event::lean::parse(payload)
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
