//! The fast path of every ingest endpoint: resolve the project, parse just enough, decide per
//! event (quota, flood control), and make the whole request durable in one store write before
//! answering. The parsing and deciding run on the blocking pool (`plan.rs`); this file has the
//! entry points and the commit.

use std::sync::atomic::Ordering;

use super::budget::{Charge, RawBody};
use super::config::{ProjectConfig, SentrySettings};
use super::plan::{Plan, blocking, decode, event_id_of, parse_event};
use super::record::encode_row;
use super::upstream::{Candidate, draft};
use super::{Accepted, Ingest, IngestError, SentryAuth, body};
use crate::store::Write;
use crate::store::forward::{ForwardWrite, KEY_SHIFT};
use crate::store::sentry::{Received, SentryWrite};

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

    /// `POST /api/{project}/envelope/`: decoded, parsed and planned on the blocking pool (holding
    /// the body's charge and its place among the bodies read at once), then committed.
    pub async fn envelope(
        &self,
        path_project: u64,
        request_auth: Option<SentryAuth>,
        body: RawBody,
    ) -> Result<Accepted, IngestError> {
        let this = self.clone();
        let inline = body.is_small_plain();
        let (plan, charge) = blocking(inline, move || {
            this.plan_envelope(path_project, request_auth, body)
        })
        .await?;
        self.commit(plan, charge).await
    }

    /// `POST /api/{project}/store/` and `POST /api/store/`: one event, JSON or base64+zlib.
    pub async fn store_event(
        &self,
        path_project: Option<u64>,
        auth: Option<SentryAuth>,
        body: RawBody,
    ) -> Result<Accepted, IngestError> {
        let this = self.clone();
        // base64 of zlib inflates to up to `max_event_bytes`: the blocking pool's work.
        let inline = body.is_small_plain() && body::is_json_text(&body.bytes);
        let (plan, charge) = blocking(inline, move || {
            let cfg = this.settings();
            let project = this.project(&cfg, path_project, auth.as_ref())?;
            let max = cfg.ingest.max_event_bytes;
            let (data, mut charge) = decode(body)?;
            let json = body::legacy_store(data, max as usize, &mut charge)?;
            if json.len() as u64 > max {
                return Err(IngestError::TooLarge(format!(
                    "event is larger than {max} bytes"
                )));
            }
            charge.resize(json.len() as u64)?;
            this.count_item(project.id, "event");
            let value = parse_event(&json)?;
            let mut plan = Plan::new(&this, project.id);
            let id = event_id_of(&value);
            let now = this.inner.clock.now_ms();
            let fate = this.plan_event(&mut plan, &project, id.clone(), &value, &json, now);
            if project.forward.is_some() {
                let item = Candidate {
                    ty: "event",
                    header: serde_json::json!({ "type": "event" }),
                    payload: &json,
                };
                let key = auth.as_ref().map_or("", |a| a.key.as_str());
                plan.forward = draft(
                    &project,
                    key,
                    None,
                    Some(&id),
                    Some(fate == Some(true)),
                    fate.is_none(),
                    vec![item],
                    now,
                );
            }
            Ok((plan, charge))
        })
        .await?;
        self.commit(plan, charge).await
    }

    /// A new forward outbox key: the receive time in its high bits (age and newest-first order
    /// come from the key), above every key already used, even across a restart.
    fn forward_key(&self) -> u64 {
        let floor = self.inner.clock.now_ms() << KEY_SHIFT;
        let prev = self
            .inner
            .forward_seq
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |k| {
                Some(k.saturating_add(1).max(floor))
            })
            .unwrap_or(floor);
        prev.saturating_add(1).max(floor)
    }

    /// Makes the planned rows durable; resolves after the commit. The plan's quota and flood
    /// slots stay spent only if the commit succeeds; `charge` (the request's bytes) is held
    /// until then.
    pub(super) async fn commit(
        &self,
        plan: Plan,
        mut charge: Charge,
    ) -> Result<Accepted, IngestError> {
        let project = plan.project;
        let accepted = Accepted {
            id: plan.id.clone(),
            rate_limited: plan.rate_limited.clone(),
        };
        self.count(project, "rate_limited", plan.limited);
        let forwarding = plan.forward.row.is_some() || plan.forward.ignored > 0;
        if plan.rows.is_empty() && plan.attachments.is_empty() && !forwarding {
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
        // The body itself is gone by now; what is held until the commit is the plan's copies.
        charge.resize(plan.bytes())?;
        let Plan {
            rows,
            events,
            attachments,
            held,
            full,
            sampled,
            forward,
            ..
        } = plan;
        // One sequence for inbox rows and attachments: unique, so it also names attachments.
        let first = self
            .inner
            .seq
            .fetch_add(n + attachments.len() as u64, Ordering::Relaxed);
        let received = Received {
            project,
            inbox: rows
                .iter()
                .enumerate()
                .map(|(i, (h, p))| (first + i as u64, encode_row(h, p)))
                .collect(),
            events,
            attachments: attachments
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
        drop(rows);
        // Counted before the write: once committed, the digest may consume these rows before
        // this task runs again, and its decrement must find them counted.
        let backlog = self.inner.backlog.fetch_add(n, Ordering::Relaxed) + n;
        self.inner.metrics.ingest.backlog.set(backlog as i64);
        let mut writes = vec![Write::Sentry(SentryWrite::Received(Box::new(received)))];
        if forwarding {
            // Same write, same transaction: the row exists exactly when the inbox rows do.
            writes.push(Write::Forward(ForwardWrite::Enqueue {
                project,
                rows: forward
                    .row
                    .into_iter()
                    .map(|r| (self.forward_key(), r))
                    .collect(),
                ignored: forward.ignored,
            }));
        }
        if let Err(e) = self.inner.store.write(writes).await {
            let left = self
                .inner
                .backlog
                .fetch_sub(n, Ordering::Relaxed)
                .saturating_sub(n);
            self.inner.metrics.ingest.backlog.set(left as i64);
            // `held` is dropped here: the retry finds its quota and flood slots free.
            return Err(e.into());
        }
        held.keep();
        drop(charge);
        self.inner.wake.notify_one();
        self.count(project, "accepted", full + sampled);
        self.count(project, "stored", full);
        self.count(project, "sampled", sampled);
        Ok(accepted)
    }
}
