//! Ingest end to end in process: a real store in a temp dir, the fast path, the digest.

use super::*;
use crate::clock::ManualClock;
use crate::store::StoreOptions;
use bytes::Bytes;

const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";

/// An ingest on a fresh store with `yaml` as its config, and the sender of its settings.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    ingest: Ingest,
    settings: watch::Sender<Arc<SentrySettings>>,
}

fn settings(yaml: &str) -> SentrySettings {
    let cfg = crate::config::root::parse(yaml, "t", &|_| None).expect("config");
    SentrySettings {
        projects: cfg.projects.clone(),
        ingest: cfg.ingest.clone(),
    }
}

fn open_with(
    dir: tempfile::TempDir,
    yaml: &str,
    events: Publisher<SentryEvent>,
    check_ins: Option<Arc<dyn CheckIns>>,
) -> Fixture {
    let metrics = Arc::new(Metrics::new());
    let store =
        Store::open(dir.path(), StoreOptions::default(), metrics.store.clone()).expect("open");
    let (tx, rx) = watch::channel(Arc::new(settings(yaml)));
    let ingest = Ingest::open(IngestDeps {
        store: store.clone(),
        clock: ManualClock::new(1_800_000_000_000),
        metrics,
        settings: rx,
        events,
        check_ins,
    })
    .expect("ingest");
    Fixture {
        _dir: dir,
        store,
        ingest,
        settings: tx,
    }
}

/// Project 8 with `extra` appended to its config (project fields or an `ingest:` section).
fn open(extra: &str) -> Fixture {
    let yaml = format!("projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\n{extra}");
    let dir = tempfile::tempdir().expect("tempdir");
    open_with(dir, &yaml, Publisher::discard(), None)
}

fn auth() -> Option<SentryAuth> {
    Some(SentryAuth {
        key: KEY.into(),
        ..Default::default()
    })
}

impl Fixture {
    async fn envelope(&self, body: impl Into<Bytes>) -> Result<Accepted, IngestError> {
        let raw = self.ingest.plain_body(body.into())?;
        self.ingest.envelope(8, auth(), raw).await
    }
}

fn envelope_with_attachment(id: &str) -> Bytes {
    let event = format!("{{\"event_id\":\"{id}\",\"message\":\"quota\"}}");
    Bytes::from(format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n{{\"type\":\"attachment\",\"length\":4,\"filename\":\"a.txt\"}}\nabcd\n"
    ))
}

#[tokio::test]
async fn attachments_follow_their_event_past_the_quota() {
    let f = open("    events_per_minute: 1\n");
    let first = "9ec79c33ec9942ab8353589fcb2e04dc";
    let second = "0ec79c33ec9942ab8353589fcb2e04dc";
    let ok = f
        .envelope(envelope_with_attachment(first))
        .await
        .expect("first");
    assert_eq!(ok.id.as_deref(), Some(first));
    assert!(ok.rate_limited.is_none());
    let limited = f.envelope(envelope_with_attachment(second)).await;
    assert!(
        matches!(limited, Err(IngestError::RateLimited { .. })),
        "{limited:?}"
    );
    assert_eq!(f.store.sentry_attachments(8, first).expect("read").len(), 1);
    assert!(
        f.store
            .sentry_attachments(8, second)
            .expect("read")
            .is_empty()
    );
    assert!(f.store.sentry_event(8, second).expect("read").is_none());
    f.store.close().await;
}

/// Attachments are kept only with an event stored in full: not with a flood copy that is
/// only counted, and not on their own (an envelope with an `event_id` but no event item).
#[tokio::test]
async fn attachments_of_counted_only_events_and_lone_attachments_are_not_stored() {
    let f = open("    flood_max_events: 1\ningest:\n  flood_window: 1h\n");
    let full = "1ec79c33ec9942ab8353589fcb2e04dc";
    let copy = "2ec79c33ec9942ab8353589fcb2e04dc";
    let lone = "3ec79c33ec9942ab8353589fcb2e04dc";
    for id in [full, copy] {
        f.envelope(envelope_with_attachment(id))
            .await
            .expect("accepted");
    }
    let only_attachment = Bytes::from(format!(
        "{{\"event_id\":\"{lone}\"}}\n{{\"type\":\"attachment\",\"length\":4,\"filename\":\"a.txt\"}}\nabcd\n"
    ));
    f.envelope(only_attachment).await.expect("accepted");
    assert_eq!(f.store.sentry_attachments(8, full).expect("read").len(), 1);
    assert!(f.store.sentry_event(8, copy).expect("read").is_none());
    assert!(
        f.store
            .sentry_attachments(8, copy)
            .expect("read")
            .is_empty()
    );
    assert!(
        f.store
            .sentry_attachments(8, lone)
            .expect("read")
            .is_empty()
    );
    f.store.close().await;
}

/// Sets a client can grow are bounded: distinct users per issue, releases with their own
/// counters per project.
#[tokio::test]
async fn users_per_issue_and_releases_per_project_are_bounded() {
    let f = open("ingest:\n  max_users_per_issue: 2\n  max_releases_per_project: 1\n");
    for u in ["a", "b", "c", "d"] {
        let body = format!(
            "{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"boom\",\"user\":{{\"id\":\"{u}\"}}}}\n"
        );
        f.envelope(body).await.expect("accepted");
    }
    for r in ["r1", "r2", "r3"] {
        let body = format!(
            "{{}}\n{{\"type\":\"session\"}}\n{{\"init\":true,\"status\":\"exited\",\"attrs\":{{\"release\":\"{r}\"}}}}\n"
        );
        f.envelope(body).await.expect("accepted");
    }
    digest::digest_once(&f.ingest, 100).await.expect("digest");
    let users = f
        .ingest
        .with_issues(|i| i.by_id.values().map(|r| r.users).max());
    assert_eq!(users, Some(2));
    let mut releases: Vec<String> = f
        .store
        .sentry_counts(8)
        .expect("counts")
        .into_iter()
        .map(|(r, _, _)| r)
        .collect();
    releases.dedup();
    assert_eq!(releases, ["other", "r1"]);
    let other_started: u64 = f
        .store
        .sentry_counts(8)
        .expect("counts")
        .into_iter()
        .filter(|(r, n, _)| r == "other" && n == "sessions.started")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(other_started, 2, "r2 and r3 add up under other");
    f.store.close().await;
}

/// A committed digest batch publishes new issues, regressions and events per issue.
#[tokio::test]
async fn the_digest_publishes_what_it_committed() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let yaml = format!("projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\n");
    let f = open_with(
        tempfile::tempdir().expect("tempdir"),
        &yaml,
        Publisher::from_fn(move |e| sink.lock().expect("lock").push(e)),
        None,
    );
    let event = |user: &str| {
        format!(
            "{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"boom\",\"environment\":\"prod\",\"tags\":{{\"customer\":\"{user}\"}},\"user\":{{\"id\":\"{user}\"}}}}\n"
        )
    };
    for u in ["a", "b", "a"] {
        f.envelope(event(u)).await.expect("accepted");
    }
    digest::digest_once(&f.ingest, 100).await.expect("digest");
    let issue = {
        let got = lock(&seen).clone();
        assert_eq!(got.len(), 2, "{got:?}");
        let SentryEvent::IssueCreated { issue, tags, .. } = &got[0] else {
            panic!("{got:?}")
        };
        // The batch's tags, for alert rules' tag matchers: each distinct pair once.
        let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            pairs,
            [
                "customer=a",
                "customer=b",
                "environment=prod",
                "level=error"
            ]
        );
        let SentryEvent::EventsAccepted {
            count,
            new_users,
            environments,
            ..
        } = &got[1]
        else {
            panic!("{got:?}")
        };
        assert_eq!((*count, *new_users), (3, 2));
        assert_eq!(environments, &["prod".to_string()]);
        issue.issue_id
    };
    f.ingest
        .set_status(issue, issues::Status::Resolved)
        .await
        .expect("resolve");
    f.envelope(event("c")).await.expect("accepted");
    digest::digest_once(&f.ingest, 100).await.expect("digest");
    let got = lock(&seen).clone();
    assert!(
        matches!(&got[2], SentryEvent::IssueRegressed { issue: f, .. } if f.issue_id == issue),
        "{got:?}"
    );
    assert!(matches!(
        &got[3],
        SentryEvent::EventsAccepted {
            count: 1,
            new_users: 1,
            ..
        }
    ));
    f.store.close().await;
}

/// A request answered 503 (here: the backlog is full) gives back the quota and flood slots it
/// took: the SDK's retry is stored in full, not refused with 429 nor counted only.
#[tokio::test]
async fn a_refused_commit_gives_its_quota_and_flood_slots_back() {
    let f = open("    events_per_minute: 1\n    flood_max_events: 1\ningest:\n  max_backlog: 0\n");
    let id = "4ec79c33ec9942ab8353589fcb2e04dc";
    let busy = f.envelope(envelope_with_attachment(id)).await;
    assert!(matches!(busy, Err(IngestError::Busy(_))), "{busy:?}");
    let mut roomy = (**f.settings.borrow()).clone();
    roomy.ingest.max_backlog = 100;
    f.settings.send_replace(Arc::new(roomy));
    let retry = f
        .envelope(envelope_with_attachment(id))
        .await
        .expect("the retry is accepted");
    assert!(retry.rate_limited.is_none(), "{retry:?}");
    assert!(
        f.store.sentry_event(8, id).expect("read").is_some(),
        "stored in full, not as a flood copy"
    );
    assert_eq!(f.store.sentry_attachments(8, id).expect("read").len(), 1);
    f.store.close().await;
}

/// The reports of one CSP request are committed together: a refusal stores none of them, so
/// the retry duplicates nothing.
#[tokio::test]
async fn csp_reports_of_one_request_are_one_commit() {
    let f = open("ingest:\n  max_backlog: 2\n");
    let report = |uri: &str| {
        serde_json::json!({"type": "csp-violation", "body": {
            "documentURL": "https://shop.example/", "blockedURL": uri,
            "effectiveDirective": "script-src"}})
    };
    let list = serde_json::json!([
        report("https://a.example/x.js"),
        report("https://b.example/x.js"),
        report("https://c.example/x.js")
    ]);
    let body = f
        .ingest
        .plain_body(Bytes::from(list.to_string()))
        .expect("body");
    let r = f
        .ingest
        .security(8, auth(), Default::default(), None, body)
        .await;
    assert!(matches!(r, Err(IngestError::Busy(_))), "{r:?}");
    assert_eq!(f.ingest.backlog(), 0, "no report of the request was stored");
    let two = serde_json::json!([
        report("https://a.example/x.js"),
        report("https://b.example/y.js")
    ]);
    let body = f
        .ingest
        .plain_body(Bytes::from(two.to_string()))
        .expect("body");
    f.ingest
        .security(8, auth(), Default::default(), None, body)
        .await
        .expect("both fit");
    assert_eq!(f.ingest.backlog(), 2);
    f.store.close().await;
}

/// An event id sent again keeps its first body and attachments (an SDK's retry is not a
/// second event with a second set of attachments).
#[tokio::test]
async fn a_resent_event_id_adds_no_attachments_and_keeps_its_body() {
    let f = open("");
    let id = "6ec79c33ec9942ab8353589fcb2e04dc";
    let body = |message: &str| {
        format!(
            "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"{message}\"}}\n{{\"type\":\"attachment\",\"length\":4,\"filename\":\"a.txt\"}}\nabcd\n"
        )
    };
    f.envelope(body("first")).await.expect("first");
    f.envelope(body("second")).await.expect("retry");
    assert_eq!(f.store.sentry_attachments(8, id).expect("read").len(), 1);
    let stored = f.ingest.event(8, id).expect("read").expect("stored");
    assert_eq!(stored["event"]["message"], "first");
    assert_eq!(stored["attachments"].as_array().map(Vec::len), Some(1));
    let (header, data) = f
        .ingest
        .attachment(
            8,
            id,
            stored["attachments"][0]["index"].as_u64().unwrap_or(0) as u32,
        )
        .expect("read")
        .expect("one attachment");
    assert_eq!(
        (header.filename.as_str(), &data[..]),
        ("a.txt", &b"abcd"[..])
    );
    f.store.close().await;
}

/// The event a minidump form makes is bounded like any event once serialised (control
/// characters grow sixfold as JSON escapes).
#[tokio::test]
async fn a_minidump_event_over_max_event_bytes_is_refused() {
    let f = open("ingest:\n  max_event_bytes: 65536\n");
    let boundary = "XyZ123";
    let field = "\u{1}".repeat(30_000);
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"sentry[extra][x]\"\r\n\r\n{field}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"c.dmp\"\r\n\r\nMDMP\r\n--{boundary}--\r\n"
    );
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let raw = f.ingest.plain_body(Bytes::from(body)).expect("body");
    let r = f.ingest.minidump(8, auth(), content_type, raw).await;
    assert!(matches!(r, Err(IngestError::TooLarge(_))), "{r:?}");
    assert_eq!(f.ingest.backlog(), 0);
    f.store.close().await;
}

/// Releases with counters are read when ingest opens (not by the digest under its locks), and
/// a release the digest saw joins them only once its batch is durable.
#[tokio::test]
async fn releases_are_preloaded_and_remembered_only_after_their_commit() {
    let yaml = format!("projects:\n  - id: 8\n    name: q\n    keys: [{KEY}]\n");
    let f = open_with(
        tempfile::tempdir().expect("tempdir"),
        &yaml,
        Publisher::discard(),
        None,
    );
    let session = |r: &str| {
        format!(
            "{{}}\n{{\"type\":\"session\"}}\n{{\"init\":true,\"attrs\":{{\"release\":\"{r}\"}}}}\n"
        )
    };
    f.envelope(session("r1")).await.expect("accepted");
    digest::digest_once(&f.ingest, 100).await.expect("digest");
    f.envelope(session("r2")).await.expect("accepted");
    // The store refuses writes from here on: the digest of r2 fails.
    f.store.close().await;
    assert!(digest::digest_once(&f.ingest, 100).await.is_err());
    let known = lock(&f.ingest.inner.releases).get(&8).cloned();
    assert_eq!(known, Some(HashSet::from(["r1".to_string()])));
    let Fixture {
        _dir: dir,
        store,
        ingest,
        settings,
    } = f;
    drop((store, ingest, settings));
    let reopened = open_with(dir, &yaml, Publisher::discard(), None);
    let known = lock(&reopened.ingest.inner.releases).get(&8).cloned();
    assert_eq!(
        known,
        Some(HashSet::from(["r1".to_string()])),
        "loaded when ingest opens"
    );
    reopened.store.close().await;
}

/// Session quantities are the client's, up to u64::MAX: the digest's sums saturate (a panic
/// there would stop grouping for good).
#[tokio::test]
async fn huge_session_counts_saturate_in_the_digest() {
    let f = open("");
    let aggregate = "{}\n{\"type\":\"sessions\"}\n{\"aggregates\":[{\"exited\":18446744073709551615}],\"attrs\":{\"release\":\"r\"}}\n";
    for _ in 0..2 {
        f.envelope(aggregate).await.expect("accepted");
    }
    digest::digest_once(&f.ingest, 100).await.expect("digest");
    let started: Vec<u64> = f
        .store
        .sentry_counts(8)
        .expect("counts")
        .into_iter()
        .filter(|(_, n, _)| n == "sessions.started")
        .map(|(_, _, v)| v)
        .collect();
    assert_eq!(started, vec![u64::MAX]);
    f.store.close().await;
}
