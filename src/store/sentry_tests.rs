//! The Sentry tables: what a request receives, what the digest consumes, what retention
//! prunes, and what the API reads back.

use super::*;
use crate::metrics::StoreMetrics;
use crate::store::{StoreOptions, Write};

#[tokio::test]
async fn digest_consumes_the_inbox_atomically_and_retention_prunes_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    store
        .write(vec![Write::Sentry(SentryWrite::Received(Box::new(
            Received {
                project: 7,
                inbox: vec![(1, b"a".to_vec()), (2, b"b".to_vec()), (3, b"c".to_vec())],
                events: vec![("e1".into(), b"{}".to_vec()), ("e2".into(), b"{}".to_vec())],
                attachments: vec![("e1".into(), 0, b"att".to_vec())],
            },
        )))])
        .await
        .expect("received");
    assert_eq!(store.sentry_inbox_stats().expect("stats"), (3, Some(3)));
    let first_two = store.sentry_inbox(2).expect("read");
    assert_eq!(first_two, vec![(1, b"a".to_vec()), (2, b"b".to_vec())]);
    let ev = |id: &str, ms: u64| EventRow {
        project: 7,
        event_id: id.into(),
        issue: 9,
        received_ms: ms,
    };
    assert!(
        store.sentry_event(7, "e1").expect("get").is_some(),
        "readable before the digest"
    );
    assert_eq!(store.sentry_event_issue(7, "e1").expect("get"), None);
    store
        .write(vec![Write::Sentry(SentryWrite::Digest(Box::new(
            DigestWrite {
                consumed: vec![1, 2],
                issues: vec![(9, b"{\"id\":9}".to_vec())],
                groups: vec![(7, "h".into(), 9)],
                events: vec![ev("e1", 1000), ev("e2", 2000)],
                users: vec![(9, "id:u".into())],
                counts: vec![(7, "r1".into(), "sessions.ok".into(), 2)],
            },
        )))])
        .await
        .expect("digest");
    assert_eq!(
        store.sentry_inbox(10).expect("read"),
        vec![(3, b"c".to_vec())]
    );
    let (issues, groups) = store.sentry_issues().expect("issues");
    assert_eq!(issues.len(), 1);
    assert_eq!(groups, vec![(7, "h".to_string(), 9)]);
    assert_eq!(
        store.sentry_issue_events(9, None, 10).expect("events"),
        vec![(2000, "e2".to_string()), (1000, "e1".to_string())]
    );
    assert_eq!(
        store
            .sentry_issue_events(9, Some((2000, "e2".into())), 10)
            .expect("page 2"),
        vec![(1000, "e1".to_string())]
    );
    let (ids, users) = store
        .sentry_known(
            &[(7, "e1"), (7, "nope"), (8, "e1")],
            &[(9, "id:u"), (9, "id:v")],
        )
        .expect("known");
    assert!(
        ids.contains(&(7, "e1".to_string())) && ids.len() == 1,
        "{ids:?}"
    );
    assert!(users.contains(&(9, "id:u".to_string())) && users.len() == 1);
    assert_eq!(store.sentry_attachments(7, "e1").expect("att").len(), 1);
    assert_eq!(store.sentry_event_issue(7, "e1").expect("get"), Some(9));
    store
        .write(vec![Write::Sentry(SentryWrite::Digest(Box::new(
            DigestWrite {
                consumed: vec![3],
                counts: vec![(7, "r1".into(), "sessions.ok".into(), 3)],
                ..Default::default()
            },
        )))])
        .await
        .expect("digest 2");
    assert_eq!(
        store.sentry_counts(7).expect("counts"),
        vec![("r1".to_string(), "sessions.ok".to_string(), 5)]
    );
    let removed = store
        .write(vec![Write::Sentry(SentryWrite::PruneEvents {
            before_ms: 1500,
            limit: 10,
        })])
        .await
        .expect("prune");
    assert_eq!(removed, 1);
    assert!(store.sentry_event(7, "e1").expect("get").is_none());
    assert_eq!(store.sentry_event_issue(7, "e1").expect("get"), None);
    assert!(store.sentry_event(7, "e2").expect("get").is_some());
    assert!(store.sentry_attachments(7, "e1").expect("att").is_empty());
    assert_eq!(
        store
            .sentry_issue_events(9, None, 10)
            .expect("events")
            .len(),
        1
    );
    store.close().await;
}

/// The same event id in two projects is two events: neither project's write reaches the
/// other's event or attachments.
#[tokio::test]
async fn an_event_id_belongs_to_its_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    let received = |project: u64, body: &[u8], att: &[u8]| {
        Write::Sentry(SentryWrite::Received(Box::new(Received {
            project,
            inbox: Vec::new(),
            events: vec![("same".into(), body.to_vec())],
            attachments: vec![("same".into(), 0, att.to_vec())],
        })))
    };
    store
        .write(vec![received(7, b"seven", b"a7")])
        .await
        .expect("7");
    store
        .write(vec![received(8, b"eight", b"a8")])
        .await
        .expect("8");
    assert_eq!(
        store.sentry_event(7, "same").expect("get").as_deref(),
        Some(&b"seven"[..])
    );
    assert_eq!(
        store.sentry_event(8, "same").expect("get").as_deref(),
        Some(&b"eight"[..])
    );
    assert_eq!(
        store.sentry_attachments(7, "same").expect("att"),
        vec![(0, b"a7".to_vec())]
    );
    store.close().await;
}

/// An event id sent again (an SDK's retry) keeps the first body and its attachments; one
/// attachment is read by its key; headers are visited without copies.
#[tokio::test]
async fn a_resent_event_keeps_its_first_body_and_attachments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    let received = |body: &[u8], idx: u32, att: &[u8]| {
        Write::Sentry(SentryWrite::Received(Box::new(Received {
            project: 7,
            inbox: Vec::new(),
            events: vec![("e".into(), body.to_vec())],
            attachments: vec![("e".into(), idx, att.to_vec())],
        })))
    };
    store
        .write(vec![received(b"first", 1, b"a1")])
        .await
        .expect("first");
    store
        .write(vec![received(b"retry", 2, b"a2")])
        .await
        .expect("retry");
    assert_eq!(
        store.sentry_event(7, "e").expect("get").as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        store.sentry_attachments(7, "e").expect("att"),
        vec![(1, b"a1".to_vec())]
    );
    assert_eq!(
        store.sentry_attachment(7, "e", 1).expect("one").as_deref(),
        Some(&b"a1"[..])
    );
    assert_eq!(store.sentry_attachment(7, "e", 2).expect("none"), None);
    assert_eq!(store.sentry_attachment(8, "e", 1).expect("none"), None);
    let mut seen = Vec::new();
    store
        .sentry_attachments_each(7, "e", |i, row| seen.push((i, row.len())))
        .expect("each");
    assert_eq!(seen, vec![(1, 2)]);
    store.close().await;
}

#[tokio::test]
async fn releases_with_counters_are_listed_once_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store =
        Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default()).expect("open");
    assert!(store.sentry_releases().expect("empty").is_empty());
    store
        .write(vec![Write::Sentry(SentryWrite::Digest(Box::new(
            DigestWrite {
                counts: vec![
                    (7, "r1".into(), "sessions.started".into(), 1),
                    (7, "r1".into(), "sessions.exited".into(), 1),
                    (7, "r2".into(), "sessions.started".into(), 1),
                    (8, "r1".into(), "sessions.started".into(), 1),
                ],
                ..Default::default()
            },
        )))])
        .await
        .expect("counts");
    assert_eq!(
        store.sentry_releases().expect("releases"),
        vec![(7, "r1".into()), (7, "r2".into()), (8, "r1".into())]
    );
    store.close().await;
}
