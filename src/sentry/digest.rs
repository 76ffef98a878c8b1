//! The digest: turns the durable inbox into issues, events, user sets and counters.
//!
//! One task, one batch at a time (arrival order). A batch's changes and the removal of the
//! inbox rows it consumed are one store write, so a crash between receiving and digesting only
//! delays grouping: the next start digests what is left, exactly once. The in-memory issue state
//! is changed only after the write was queued, under the same lock that status changes take, so
//! memory and store see changes in the same order.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tracing::{debug, warn};

use super::counts::{Count, release_label, session_counts};
use super::events::{IssueFacts, MAX_BATCH_TAGS, SentryEvent};
use super::issues::{IssueRecord, OVERFLOW_GROUP, Status};
use super::record::decode_row;
use super::{CheckIns, InboxHeader, Ingest, Kind, lock};
use crate::store::sentry::{DigestWrite, EventRow, SentryWrite};
use crate::store::{StoreError, Write};
use crate::tasks::Shutdown;

/// Longest a batch's write waits for company (`Store::enqueue_within`) when the batch emptied
/// the inbox. Under steady ingest the next request's commit comes sooner and takes it along:
/// one fsync per request instead of two (the digest's and the request's), and a request no
/// longer queues behind the digest's own fsync. Idle, an issue shows up this much later, and a
/// status change (which waits for `writes`) at most this much longer. A full batch (a backlog
/// to drain) commits at once.
pub const LINGER: Duration = Duration::from_millis(20);

/// Runs until `shutdown`; what is left in the inbox is digested on the next start.
pub async fn run(ingest: Ingest, mut shutdown: Shutdown) {
    loop {
        if shutdown.is_set() {
            return;
        }
        let batch = ingest.settings().ingest.digest_batch.max(1);
        let pause = match digest_once(&ingest, batch).await {
            Ok(0) => Some(Duration::from_secs(1)),
            Ok(n) => {
                debug!(items = n, "digested");
                None
            }
            Err(e) => {
                warn!(error = %e, "digest failed; retrying");
                Some(Duration::from_millis(500))
            }
        };
        match pause {
            // Woken by the next accepted request, or a periodic look as a safety net.
            Some(d) => tokio::select! {
                _ = ingest.inner.wake.notified() => {}
                _ = tokio::time::sleep(d) => {}
                _ = shutdown.wait() => return,
            },
            None => tokio::task::yield_now().await,
        }
    }
}

struct Row {
    header: InboxHeader,
    payload: Vec<u8>,
}

#[derive(Debug)]
struct CheckIn {
    project: u64,
    slug: String,
    up: bool,
    msg: String,
    latency_ms: Option<u64>,
}

/// Longest environment name kept in a check-in's message.
const MAX_ENV: usize = 64;

/// The check-ins of a batch as heartbeats: only the last one per (project, slug) counts (a
/// monitor's state is its latest check-in; a thousand of them must not be a thousand durable
/// writes while the digest holds its lock), and those are sent together, so the store commits
/// them in one transaction. A heartbeat the store refused fails the batch, which is retried.
async fn apply_check_ins(sink: &dyn CheckIns, rows: &[Row]) -> Result<(), StoreError> {
    let mut latest: Vec<CheckIn> = Vec::new();
    let mut at: HashMap<(u64, String), usize> = HashMap::new();
    for c in rows
        .iter()
        .filter(|r| r.header.kind == Kind::CheckIn)
        .filter_map(|r| {
            let v = serde_json::from_slice::<Value>(&r.payload).ok()?;
            check_in(r.header.project, &v)
        })
    {
        match at.get(&(c.project, c.slug.clone())) {
            Some(i) => latest[*i] = c,
            None => {
                at.insert((c.project, c.slug.clone()), latest.len());
                latest.push(c);
            }
        }
    }
    let sent = latest.into_iter().map(|c| async move {
        let CheckIn {
            project,
            slug,
            up,
            msg,
            latency_ms,
        } = c;
        let found = sink.check_in(project, &slug, up, msg, latency_ms).await;
        (project, slug, found)
    });
    for (project, slug, found) in futures_util::future::join_all(sent).await {
        if !found? {
            // `?`: the slug is client text and may hold anything, newlines included.
            debug!(project, monitor = ?slug, "check-in for no push monitor of that name");
        }
    }
    Ok(())
}

/// Digests up to `limit` inbox rows; returns how many were consumed.
pub async fn digest_once(ingest: &Ingest, limit: usize) -> Result<usize, StoreError> {
    let inner = &ingest.inner;
    // Issue writes are one at a time (this batch, or a status change), each computed from
    // memory, made durable, then applied to memory: no write is computed from a state another
    // one is about to replace.
    let _writes = inner.writes.lock().await;
    let raw = inner.store.sentry_inbox(limit)?;
    if raw.is_empty() {
        return Ok(0);
    }
    let linger = if raw.len() < limit {
        LINGER
    } else {
        Duration::ZERO
    };
    let consumed: Vec<u64> = raw.iter().map(|(s, _)| *s).collect();
    let mut rows = Vec::with_capacity(raw.len());
    for (seq, bytes) in &raw {
        match decode_row(bytes) {
            Some((header, payload)) => rows.push(Row {
                header,
                payload: payload.to_vec(),
            }),
            // Written by this code, so only a damaged file gets here; it must not block the rest.
            None => warn!(seq, "dropping an undecodable inbox row"),
        }
    }

    // Check-ins go to their push monitors, durably, before this batch's write deletes their
    // inbox rows: a crash in between applies a check-in twice (a repeated heartbeat), never
    // loses it; a heartbeat the store refused leaves the batch for the next try.
    if let Some(sink) = &inner.check_ins {
        apply_check_ins(sink.as_ref(), &rows).await?;
    }

    // Session and client-report counters, with the release each is kept under. Releases new to
    // a project are remembered only once this batch is durable.
    let max_releases = ingest.settings().ingest.max_releases_per_project;
    let per_row: Vec<(u64, Vec<Count>)> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.header.kind,
                Kind::Session | Kind::Sessions | Kind::ClientReport
            )
        })
        .filter_map(|r| {
            let v = serde_json::from_slice::<Value>(&r.payload).ok()?;
            Some((r.header.project, session_counts(r.header.kind, &v)))
        })
        .collect();
    let mut counts: HashMap<(u64, String, String), u64> = HashMap::new();
    let mut new_releases: HashMap<u64, HashSet<String>> = HashMap::new();
    {
        let known = lock(&inner.releases);
        for (project, row) in per_row {
            for (release, name, n) in row {
                let release =
                    release_label(&known, &mut new_releases, project, release, max_releases);
                let c = counts.entry((project, release, name)).or_default();
                *c = c.saturating_add(n);
            }
        }
    }

    // What the store already knows: stored event ids (SDK retries are duplicates) and users
    // already counted for existing issues. Read without the lock; only the digest adds to either.
    let existing: HashMap<(u64, String), u64> = {
        let st = lock(&inner.issues);
        rows.iter()
            .filter_map(|r| {
                let g = r.header.summary.as_ref()?.group.clone();
                let key = (r.header.project, g);
                st.groups.get(&key).map(|id| (key, *id))
            })
            .collect()
    };
    let ids: Vec<(u64, &str)> = rows
        .iter()
        .filter(|r| r.header.kind == Kind::Event)
        .filter_map(|r| Some((r.header.project, r.header.event_id.as_deref()?)))
        .collect();
    let pairs: Vec<(u64, &str)> = rows
        .iter()
        .filter_map(|r| {
            let s = r.header.summary.as_ref()?;
            let issue = existing.get(&(r.header.project, s.group.clone()))?;
            Some((*issue, s.user.as_deref()?))
        })
        .collect();
    let (known_ids, known_users) = inner.store.sentry_known(&ids, &pairs)?;

    let mut w = DigestWrite {
        consumed,
        ..Default::default()
    };
    let mut duplicates: HashMap<u64, u64> = HashMap::new();
    let mut batch: HashMap<u64, BatchFacts> = HashMap::new();
    let mut regressed: BTreeSet<u64> = BTreeSet::new();
    let ack = {
        let st = lock(&inner.issues);
        let mut touched: HashMap<u64, IssueRecord> = HashMap::new();
        let mut new_groups: HashMap<(u64, String), u64> = HashMap::new();
        let mut next_id = st.next_id;
        let mut seen_ids: HashSet<(u64, String)> = HashSet::new();
        let mut seen_users: HashSet<(u64, String)> = HashSet::new();
        let mut new_per_project: HashMap<u64, u64> = HashMap::new();
        let settings = ingest.settings();
        let max_issues = settings.ingest.max_issues_per_project;
        let max_users = settings.ingest.max_users_per_issue;
        for r in &rows {
            let h = &r.header;
            match h.kind {
                Kind::Event | Kind::Sampled => {
                    let Some(summary) = &h.summary else { continue };
                    let eid = h.event_id.clone().unwrap_or_default();
                    if h.kind == Kind::Event
                        && (known_ids.contains(&(h.project, eid.clone()))
                            || !seen_ids.insert((h.project, eid.clone())))
                    {
                        let d = duplicates.entry(h.project).or_default();
                        *d = d.saturating_add(1);
                        continue;
                    }
                    let mut key = (h.project, summary.group.clone());
                    let known = |k: &(u64, String)| st.groups.get(k).or(new_groups.get(k)).copied();
                    let issue_id = match known(&key) {
                        Some(id) => id,
                        None => {
                            let have = st.issue_count(h.project)
                                + new_per_project.get(&h.project).copied().unwrap_or(0);
                            let overflow = have >= max_issues;
                            if overflow {
                                key = (h.project, OVERFLOW_GROUP.to_string());
                            }
                            match known(&key) {
                                Some(id) => id,
                                None => {
                                    let id = next_id;
                                    next_id += 1;
                                    new_groups.insert(key, id);
                                    *new_per_project.entry(h.project).or_default() += 1;
                                    let rec = if overflow {
                                        IssueRecord::overflow(id, h.project, summary, h.received_ms)
                                    } else {
                                        IssueRecord::new(id, h.project, summary, h.received_ms)
                                    };
                                    touched.insert(id, rec);
                                    id
                                }
                            }
                        }
                    };
                    let rec = match touched.entry(issue_id) {
                        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            match st.by_id.get(&issue_id) {
                                Some(r) => v.insert(r.clone()),
                                None => v.insert(IssueRecord::new(
                                    issue_id,
                                    h.project,
                                    summary,
                                    h.received_ms,
                                )),
                            }
                        }
                    };
                    // Server receive time, not the SDK's clock, orders first and last seen.
                    let was = rec.status;
                    rec.observe(summary, h.received_ms);
                    if was == Status::Resolved && rec.status == Status::Unresolved {
                        regressed.insert(issue_id);
                    }
                    let seen = batch.entry(issue_id).or_default();
                    seen.count += 1;
                    seen.at_ms = seen.at_ms.max(h.received_ms);
                    if let Some(e) = &summary.environment {
                        seen.environments.insert(e.clone());
                    }
                    if let Some(r) = &summary.release {
                        seen.releases.insert(r.clone());
                    }
                    for t in &summary.tags {
                        if seen.tags.len() >= MAX_BATCH_TAGS {
                            break;
                        }
                        seen.tags.insert(t.clone());
                    }
                    // Distinct users are kept up to `ingest.max_users_per_issue` per issue (the
                    // set is stored: a client inventing a user per event must not grow it for
                    // ever); beyond, the issue's count says "at least".
                    if let Some(u) = &summary.user
                        && rec.users < max_users
                        && !known_users.contains(&(issue_id, u.clone()))
                        && seen_users.insert((issue_id, u.clone()))
                    {
                        rec.users += 1;
                        w.users.push((issue_id, u.clone()));
                        batch.entry(issue_id).or_default().new_users += 1;
                    }
                    if h.kind == Kind::Event {
                        rec.stored_events += 1;
                        rec.last_event_id = Some(eid.clone());
                        w.events.push(EventRow {
                            project: h.project,
                            event_id: eid,
                            issue: issue_id,
                            received_ms: h.received_ms,
                        });
                    }
                }
                // Counted, and applied, before the batch (above).
                Kind::Session | Kind::Sessions | Kind::ClientReport | Kind::CheckIn => {}
            }
        }
        w.issues = touched
            .iter()
            .map(|(id, r)| (*id, serde_json::to_vec(r).unwrap_or_default()))
            .collect();
        w.groups = new_groups
            .iter()
            .map(|((p, g), id)| (*p, g.clone(), *id))
            .collect();
        w.counts = counts
            .into_iter()
            .map(|((p, r, n), c)| (p, r, n, c))
            .collect();
        let created: HashSet<u64> = new_groups.values().copied().collect();
        let events = batch_events(&touched, &created, &regressed, batch);
        let ack = inner.store.enqueue_within(
            vec![Write::Sentry(SentryWrite::Digest(Box::new(w)))],
            linger,
        )?;
        (ack, events, (touched, new_groups, next_id))
    };
    let (ack, events, (touched, new_groups, next_id)) = ack;
    ack.await.unwrap_or(Err(StoreError::Closed))?;
    // Memory follows the store: the batch is applied only once it is durable. Nothing else
    // changed issues meanwhile (`writes` is held).
    {
        let mut st = lock(&inner.issues);
        for (_, rec) in touched {
            st.upsert(rec);
        }
        st.groups.extend(new_groups);
        st.next_id = next_id;
    }
    {
        let mut known = lock(&inner.releases);
        for (p, r) in new_releases {
            known.entry(p).or_default().extend(r);
        }
    }
    // Durable now: tell whoever listens.
    for e in events {
        inner.events.publish(e);
    }
    let n = raw.len() as u64;
    // Every committed row was counted before its write, so this cannot go below zero; the
    // saturation only guards against a damaged count.
    let left = inner
        .backlog
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
            Some(b.saturating_sub(n))
        })
        .map(|b| b.saturating_sub(n))
        .unwrap_or(0);
    inner.metrics.ingest.backlog.set(left as i64);
    for (p, d) in duplicates {
        ingest.count(p, "duplicate", d);
    }
    Ok(raw.len())
}

/// What one batch did to one issue.
#[derive(Default)]
struct BatchFacts {
    count: u64,
    new_users: u64,
    environments: BTreeSet<String>,
    releases: BTreeSet<String>,
    tags: BTreeSet<(String, String)>,
    at_ms: u64,
}

fn facts(r: &IssueRecord) -> IssueFacts {
    IssueFacts {
        project: r.project,
        issue_id: r.id,
        title: r.title.clone(),
        culprit: r.culprit.clone(),
        level: r.level.clone(),
        platform: r.platform.clone(),
    }
}

/// The events a committed batch publishes: new issues, regressions, then events per issue.
fn batch_events(
    touched: &HashMap<u64, IssueRecord>,
    created: &HashSet<u64>,
    regressed: &BTreeSet<u64>,
    batch: HashMap<u64, BatchFacts>,
) -> Vec<SentryEvent> {
    let mut out = Vec::new();
    let mut ids: Vec<&u64> = batch.keys().collect();
    ids.sort();
    for id in ids {
        let (Some(rec), Some(b)) = (touched.get(id), batch.get(id)) else {
            continue;
        };
        if created.contains(id) {
            out.push(SentryEvent::IssueCreated {
                issue: facts(rec),
                environments: b.environments.iter().cloned().collect(),
                releases: b.releases.iter().cloned().collect(),
                tags: b.tags.iter().cloned().collect(),
                at_ms: b.at_ms,
            });
        }
        if regressed.contains(id) {
            out.push(SentryEvent::IssueRegressed {
                issue: facts(rec),
                environments: b.environments.iter().cloned().collect(),
                releases: b.releases.iter().cloned().collect(),
                tags: b.tags.iter().cloned().collect(),
                at_ms: b.at_ms,
            });
        }
        out.push(SentryEvent::EventsAccepted {
            issue: facts(rec),
            count: b.count,
            new_users: b.new_users,
            environments: b.environments.iter().cloned().collect(),
            releases: b.releases.iter().cloned().collect(),
            tags: b.tags.iter().cloned().collect(),
            at_ms: b.at_ms,
        });
    }
    out
}

/// A cron check-in: `ok` and `error` are heartbeats of the push monitor named by the slug;
/// `in_progress` only says a run started.
fn check_in(project: u64, v: &Value) -> Option<CheckIn> {
    let slug = v.get("monitor_slug").and_then(Value::as_str)?;
    let status = v.get("status").and_then(Value::as_str)?;
    let up = match status {
        "ok" => true,
        "error" | "timeout" => false,
        _ => return None,
    };
    let duration = v.get("duration").and_then(Value::as_f64);
    // Client text that lands in the monitor's last check: kept short, like an environment.
    let env = v
        .get("environment")
        .and_then(Value::as_str)
        .map_or("default", |e| super::auth::truncate(e, MAX_ENV));
    Some(CheckIn {
        project,
        slug: super::auth::truncate(slug, 128).to_string(),
        up,
        msg: format!("Sentry check-in `{status}` ({env})"),
        latency_ms: duration
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| (d * 1000.0) as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn check_ins() {
        let c = check_in(
            7,
            &json!({"monitor_slug": "nightly", "status": "ok", "duration": 1.5}),
        )
        .expect("ok");
        assert!(c.up);
        assert_eq!(c.latency_ms, Some(1500));
        assert!(
            !check_in(7, &json!({"monitor_slug": "n", "status": "error"}))
                .expect("e")
                .up
        );
        assert!(check_in(7, &json!({"monitor_slug": "n", "status": "in_progress"})).is_none());
    }

    /// A client-chosen environment does not make the monitor's message long.
    #[test]
    fn check_in_messages_are_bounded() {
        let env = "e\n".repeat(100_000);
        let c = check_in(
            7,
            &json!({"monitor_slug": "n", "status": "error", "environment": env}),
        )
        .expect("e");
        assert!(c.msg.len() <= 40 + MAX_ENV, "{}", c.msg.len());
    }

    /// Records the heartbeats it is given.
    #[derive(Default)]
    struct Sink(std::sync::Mutex<Vec<(u64, String, bool)>>);

    impl CheckIns for Sink {
        fn check_in<'a>(
            &'a self,
            project: u64,
            slug: &'a str,
            up: bool,
            _message: String,
            _latency_ms: Option<u64>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<bool, StoreError>> + Send + 'a>,
        > {
            lock(&self.0).push((project, slug.to_string(), up));
            Box::pin(async { Ok(true) })
        }
    }

    fn row(project: u64, v: Value) -> Row {
        Row {
            header: InboxHeader {
                kind: Kind::CheckIn,
                project,
                received_ms: 0,
                event_id: None,
                summary: None,
                filename: None,
                content_type: None,
                attachment_type: None,
            },
            payload: v.to_string().into_bytes(),
        }
    }

    /// A thousand check-ins of one monitor in a batch are one heartbeat, its last; other
    /// monitors and projects keep theirs.
    #[tokio::test]
    async fn only_the_last_check_in_per_monitor_of_a_batch_is_applied() {
        let mut rows: Vec<Row> = (0..1000)
            .map(|i| {
                let status = if i == 999 { "error" } else { "ok" };
                row(7, json!({"monitor_slug": "nightly", "status": status}))
            })
            .collect();
        rows.push(row(7, json!({"monitor_slug": "hourly", "status": "ok"})));
        rows.push(row(8, json!({"monitor_slug": "nightly", "status": "ok"})));
        let sink = Sink::default();
        apply_check_ins(&sink, &rows).await.expect("applied");
        let mut got = lock(&sink.0).clone();
        got.sort();
        assert_eq!(
            got,
            vec![
                (7, "hourly".to_string(), true),
                (7, "nightly".to_string(), false),
                (8, "nightly".to_string(), true),
            ]
        );
    }
}
