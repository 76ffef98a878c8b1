//! Data files from every earlier schema version: each committed fixture opens with this build,
//! migrates, and every row of every table it had reads back through the store's typed reads.

use super::tests::{audit, open};
use super::*;

/// What each fixture holds (also what `examples/store-fixture.rs` writes).
#[path = "../../fixtures/store/rows.rs"]
pub(crate) mod rows;

/// Reads back the rows a fixture got at one schema version, through the store's read functions.
type Check = fn(&Store, u32);

/// `CHECKS[n - 1]` checks the tables version n added.
const CHECKS: &[Check] = &[
    check_v1, check_v2, check_v3, check_v4, check_v5, check_v6, check_v7, check_v8, check_v9,
];

/// Every committed fixture (one per schema version; the newest version's may wait until the
/// next one is added) opens with this build, migrates to the latest version, and every row of
/// every table it had reads back through the store's typed reads; then it takes new writes.
#[tokio::test]
async fn data_files_from_every_earlier_version_migrate_with_all_their_rows() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/store");
    let mut tested = 0;
    for version in 1..=LATEST_VERSION {
        let src = fixtures.join(format!("schema-v{version}.redb"));
        if !src.is_file() && version == LATEST_VERSION {
            continue;
        }
        assert!(
            src.is_file(),
            "missing fixture {} (create it with `cargo run --example store-fixture -- {version}` before adding schema version {})",
            src.display(),
            version + 1
        );
        assert!(
            CHECKS.len() >= version as usize,
            "fixture v{version} has rows nothing checks: add check_v{version}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&src, dir.path().join(DATA_FILE)).expect("copy fixture");
        let store = open(dir.path());
        assert_eq!(store.schema_version(), LATEST_VERSION);
        for check in &CHECKS[..version as usize] {
            check(&store, version);
        }
        // The time index of events has no read of its own: retention is how it is read.
        if version >= 5 {
            let pruned = store
                .write(vec![Write::Sentry(sentry::SentryWrite::PruneEvents {
                    before_ms: rows::SENTRY_RECEIVED_MS + 1,
                    limit: 10,
                })])
                .await
                .expect("prune events");
            assert_eq!(pruned, 1, "fixture v{version}: the event's time index row");
            let (p, id) = (rows::SENTRY_PROJECT, rows::SENTRY_EVENT);
            assert_eq!(store.sentry_event(p, id).expect("event"), None);
            assert!(store.sentry_attachments(p, id).expect("att").is_empty());
        }
        // The migrated file takes writes: the audit sequence continues from the stored counter,
        // and the newest tables exist.
        store
            .write(vec![audit(rows::T0 + 10_000, "after migration")])
            .await
            .expect("audit after migration");
        let newest = store.audit(None, 1).expect("audit");
        assert_eq!(newest[0].0, (rows::T0 + 10_000, rows::AUDIT_SEQ + 1));
        let tokens = store.tokens().expect("tokens").len();
        store
            .write(vec![Write::PutToken {
                hash: "h".into(),
                record: TokenRecord {
                    name: "after-migration".into(),
                    created_at_ms: 1,
                    role: panoptes_types::Role::Viewer,
                },
            }])
            .await
            .expect("write after migration");
        assert_eq!(store.tokens().expect("tokens").len(), tokens + 1);
        store
            .write(vec![Write::Sentry(sentry::SentryWrite::Received(
                Box::new(sentry::Received {
                    inbox: vec![(1000, b"row".to_vec())],
                    ..Default::default()
                }),
            ))])
            .await
            .expect("sentry tables exist after migration");
        assert_eq!(store.sentry_inbox_stats().expect("inbox").1, Some(1000));
        store.close().await;
        tested += 1;
    }
    assert!(tested >= 5, "only {tested} fixtures found");
}

fn check_v1(store: &Store, v: u32) {
    let got = store.audit(None, 100).expect("audit");
    let want: Vec<(AuditKey, AuditRecord)> = rows::AUDIT
        .iter()
        .rev()
        .map(|(ms, seq, json)| ((*ms, *seq), records::decode(json.as_bytes()).expect("row")))
        .collect();
    assert_eq!(got, want, "fixture v{v}: audit");
}

fn check_v2(store: &Store, v: u32) {
    let user = UserRecord {
        password_hash: rows::USER_HASH.into(),
        created_at_ms: rows::USER_CREATED_MS,
        // Stored before roles: read back as an admin, enabled.
        role: panoptes_types::Role::Admin,
        disabled: false,
    };
    assert_eq!(
        store.user(rows::USER).expect("user"),
        Some(user),
        "fixture v{v}"
    );
    assert_eq!(store.user_count().expect("users"), 1, "fixture v{v}");
    let token: TokenRecord = records::decode(rows::TOKEN_RECORD.as_bytes()).expect("row");
    assert_eq!(
        store.token(rows::TOKEN_HASH).expect("token"),
        Some(token.clone()),
        "fixture v{v}"
    );
    assert_eq!(
        store.tokens().expect("tokens"),
        vec![(rows::TOKEN_HASH.to_string(), token)],
        "fixture v{v}"
    );
    let session: SessionRecord = records::decode(rows::SESSION_RECORD.as_bytes()).expect("row");
    assert_eq!(
        store.session(rows::SESSION_HASH).expect("session"),
        Some(session),
        "fixture v{v}"
    );
}

fn check_v3(store: &Store, v: u32) {
    let ids: std::collections::HashMap<String, u32> = rows::PROBE_IDS
        .iter()
        .map(|(n, id)| (n.to_string(), *id))
        .collect();
    assert_eq!(store.probe_ids().expect("ids"), ids, "fixture v{v}");
    for (_, id) in rows::PROBE_IDS {
        let results: Vec<(u64, Vec<u8>)> = rows::PROBE_RESULTS
            .iter()
            .filter(|r| r.0 == id)
            .map(|(_, ms, b)| (*ms, b.to_vec()))
            .collect();
        assert_eq!(
            store.probe_results(id, 0, u64::MAX, 100).expect("results"),
            results,
            "fixture v{v}: results of monitor {id}"
        );
        for res in 1..=3u8 {
            let rollups: Vec<(u64, Vec<u8>)> = rows::PROBE_ROLLUPS
                .iter()
                .filter(|r| r.0 == id && r.1 == res)
                .map(|(_, _, bucket, b)| (*bucket, b.to_vec()))
                .collect();
            assert_eq!(
                store.probe_rollups(id, res, 0, u64::MAX).expect("rollups"),
                rollups,
                "fixture v{v}: roll-ups of monitor {id} at resolution {res}"
            );
        }
        let state = rows::PROBE_STATE.iter().find(|s| s.0 == id).map(|s| s.1);
        assert_eq!(
            store.probe_state(id).expect("state").as_deref(),
            state.map(str::as_bytes),
            "fixture v{v}: state of monitor {id}"
        );
    }
}

fn check_v4(store: &Store, v: u32) {
    let snap = store.periskop_snapshot().expect("snapshot");
    let own = |s: &str| s.to_string();
    let keys: Vec<_> = rows::PERISKOP_KEYS
        .iter()
        .map(|(s, k, j)| (own(s), own(k), j.as_bytes().to_vec()))
        .collect();
    assert_eq!(snap.keys, keys, "fixture v{v}: keys");
    let instances: Vec<_> = rows::PERISKOP_INSTANCES
        .iter()
        .map(|(s, i, j)| (own(s), own(i), j.as_bytes().to_vec()))
        .collect();
    assert_eq!(snap.instances, instances, "fixture v{v}: instances");
    let baselines: Vec<_> = rows::PERISKOP_BASELINES
        .iter()
        .map(|(s, i, k, n)| (own(s), own(i), own(k), *n))
        .collect();
    assert_eq!(snap.baselines, baselines, "fixture v{v}: baselines");
    for (service, key, _) in rows::PERISKOP_KEYS {
        let rate: Vec<(u64, u64)> = rows::PERISKOP_RATE
            .iter()
            .filter(|r| r.0 == service && r.1 == key)
            .map(|r| (r.2, r.3))
            .collect();
        assert_eq!(
            store.periskop_rate(service, key, 0).expect("rate"),
            rate,
            "fixture v{v}: rate of {key}"
        );
    }
}

fn check_v5(store: &Store, v: u32) {
    let (p, issue, id) = (rows::SENTRY_PROJECT, rows::SENTRY_ISSUE, rows::SENTRY_EVENT);
    let inbox: Vec<(u64, Vec<u8>)> = rows::SENTRY_INBOX
        .iter()
        .map(|(seq, b)| (*seq, b.to_vec()))
        .collect();
    assert_eq!(
        store.sentry_inbox(100).expect("inbox"),
        inbox,
        "fixture v{v}"
    );
    let issues: Vec<(u64, Vec<u8>)> = rows::SENTRY_ISSUES
        .iter()
        .map(|(i, j)| (*i, j.as_bytes().to_vec()))
        .collect();
    let groups = vec![(p, rows::SENTRY_GROUP.to_string(), issue)];
    assert_eq!(
        store.sentry_issues().expect("issues"),
        (issues, groups),
        "fixture v{v}"
    );
    assert_eq!(
        store.sentry_event(p, id).expect("event").as_deref(),
        Some(rows::SENTRY_EVENT_RECORD),
        "fixture v{v}"
    );
    assert_eq!(store.sentry_event_issue(p, id).expect("issue"), Some(issue));
    assert_eq!(
        store.sentry_issue_events(issue, None, 100).expect("events"),
        vec![(rows::SENTRY_RECEIVED_MS, id.to_string())],
        "fixture v{v}"
    );
    let (known, users) = store
        .sentry_known(&[(p, id)], &[(issue, rows::SENTRY_USER)])
        .expect("known");
    assert!(
        known.contains(&(p, id.to_string())),
        "fixture v{v}: {known:?}"
    );
    assert!(
        users.contains(&(issue, rows::SENTRY_USER.to_string())),
        "fixture v{v}: issue users"
    );
    assert_eq!(
        store.sentry_attachments(p, id).expect("attachments"),
        vec![(0, rows::SENTRY_ATTACHMENT.to_vec())],
        "fixture v{v}"
    );
    let counts: Vec<(String, String, u64)> = rows::SENTRY_COUNTS
        .iter()
        .map(|(_, r, c, n)| (r.to_string(), c.to_string(), *n))
        .collect();
    assert_eq!(
        store.sentry_counts(p).expect("counts"),
        counts,
        "fixture v{v}"
    );
}

/// Version 6 keyed events by project: the event, its issue and its attachments belong to the
/// project that sent it, and another project's key reaches none of them.
fn check_v6(store: &Store, v: u32) {
    let (other, id) = (rows::SENTRY_PROJECT + 1, rows::SENTRY_EVENT);
    assert_eq!(
        store.sentry_event(other, id).expect("event"),
        None,
        "fixture v{v}"
    );
    assert_eq!(store.sentry_event_issue(other, id).expect("issue"), None);
    assert!(store.sentry_attachments(other, id).expect("att").is_empty());
    let (known, _) = store.sentry_known(&[(other, id)], &[]).expect("known");
    assert!(known.is_empty(), "fixture v{v}: {known:?}");
}

/// Version 7 added alerting: the engine's start-up snapshot (with its own test of which
/// notifications are still open), the history and the notifications read back every row byte
/// for byte. (That each still decodes as the alerting record it is, the store cannot know:
/// `alerts::fixture_tests` checks it.)
fn check_v7(store: &Store, v: u32) {
    // A delivery record is open while queued or sending (`alerts::outbox::DeliveryState`).
    fn is_open(bytes: &[u8]) -> bool {
        let record: serde_json::Value = serde_json::from_slice(bytes).expect("a JSON record");
        matches!(record["state"].as_str(), Some("queued" | "sending"))
    }
    let bytes = |json: &str| json.as_bytes().to_vec();
    // As `alerts::engine::start` reads it.
    let snap = store.alerts_snapshot(is_open).expect("alerts snapshot");
    let instances: Vec<Vec<u8>> = rows::ALERTS_INSTANCES.iter().map(|r| bytes(r.1)).collect();
    assert_eq!(snap.instances, instances, "fixture v{v}: alert instances");
    let groups: Vec<(String, Vec<u8>)> = rows::ALERTS_GROUPS
        .iter()
        .map(|(k, j)| (k.to_string(), bytes(j)))
        .collect();
    assert_eq!(snap.groups, groups, "fixture v{v}: alert groups");
    let silences: Vec<Vec<u8>> = rows::ALERTS_SILENCES.iter().map(|r| bytes(r.1)).collect();
    assert_eq!(snap.silences, silences, "fixture v{v}: silences");
    let notifications: Vec<(u64, Vec<u8>)> = rows::ALERTS_NOTIFICATIONS
        .iter()
        .map(|(id, j)| (*id, bytes(j)))
        .collect();
    assert_eq!(
        snap.notifications, notifications,
        "fixture v{v}: open notifications"
    );
    assert_eq!(snap.max_notification_id, rows::NOTIFICATION_ID);

    // Finished notifications are left out of the snapshot; the highest id is still known.
    let closed = store.alerts_snapshot(|_| false).expect("alerts snapshot");
    assert!(closed.notifications.is_empty(), "fixture v{v}");
    assert_eq!(closed.max_notification_id, rows::NOTIFICATION_ID);

    let history: Vec<super::alerts::HistoryRow> = rows::ALERTS_HISTORY
        .iter()
        .map(|(ms, fp, j)| ((*ms, fp.to_string()), bytes(j)))
        .collect();
    assert_eq!(
        store.alerts_history(None, 10).expect("history"),
        history,
        "fixture v{v}: alert history"
    );
    assert!(
        store
            .alerts_history(Some(history[0].0.clone()), 10)
            .expect("history")
            .is_empty(),
        "fixture v{v}: nothing older"
    );

    assert_eq!(
        store.alerts_notifications(None, 10).expect("notifications"),
        notifications,
        "fixture v{v}: notifications"
    );
    assert!(
        store
            .alerts_notifications(Some(rows::NOTIFICATION_ID), 10)
            .expect("notifications")
            .is_empty()
    );
    assert_eq!(
        store
            .alerts_notification(rows::NOTIFICATION_ID)
            .expect("notification"),
        Some(notifications[0].1.clone()),
        "fixture v{v}"
    );
    assert_eq!(
        store
            .alerts_notification(rows::NOTIFICATION_ID + 1)
            .expect("notification"),
        None
    );
    // Retention's read: the queued notification is not finished, so not expired.
    assert!(
        store
            .alerts_expired_notifications(10, |b| !is_open(b))
            .expect("expired")
            .is_empty(),
        "fixture v{v}"
    );
}

/// Version 8 added on-call: the start-up snapshot holds the open (acknowledged) page and the
/// override, the page reads back by id and in the list, and the link key is the one written.
fn check_v8(store: &Store, v: u32) {
    let bytes = |json: &str| json.as_bytes().to_vec();
    // As `oncall::engine::start` reads it: a page is open unless resolved.
    let open = |b: &[u8]| {
        let page: serde_json::Value = serde_json::from_slice(b).expect("a JSON page");
        page["status"] != "resolved"
    };
    let snap = store.oncall_snapshot(open).expect("oncall snapshot");
    let pages: Vec<Vec<u8>> = rows::ONCALL_PAGES.iter().map(|r| bytes(r.1)).collect();
    assert_eq!(snap.open_pages, pages, "fixture v{v}: open pages");
    assert_eq!(snap.max_page_id, 1);
    let overrides: Vec<Vec<u8>> = rows::ONCALL_OVERRIDES.iter().map(|r| bytes(r.1)).collect();
    assert_eq!(snap.overrides, overrides, "fixture v{v}: overrides");
    assert_eq!(snap.max_override_id, 1);
    assert_eq!(
        store.oncall_page(1).expect("page"),
        Some(pages[0].clone()),
        "fixture v{v}"
    );
    assert_eq!(store.oncall_page(2).expect("page"), None);
    assert_eq!(
        store.oncall_pages(None, 10).expect("pages"),
        vec![(1, pages[0].clone())],
        "fixture v{v}: the page list"
    );
    assert_eq!(
        store.oncall_meta("link_key").expect("meta"),
        Some(rows::ONCALL_LINK_KEY.to_vec()),
        "fixture v{v}: the link key"
    );
    // Retention's read: the page is not resolved, so not expired.
    assert!(
        store
            .oncall_expired_pages(10, |b| !open(b))
            .expect("expired")
            .is_empty(),
        "fixture v{v}"
    );
}

/// Version 9 added status pages: the engine's start-up reads (incidents, subscribers, the
/// outbox) give back every row byte for byte, in key order.
fn check_v9(store: &Store, v: u32) {
    let bytes = |json: &str| json.as_bytes().to_vec();
    let incidents: Vec<(u64, Vec<u8>)> = rows::STATUS_INCIDENTS
        .iter()
        .map(|(id, j)| (*id, bytes(j)))
        .collect();
    assert_eq!(
        store.status_incidents().expect("status incidents"),
        incidents,
        "fixture v{v}: status incidents"
    );
    let subscribers: Vec<Vec<u8>> = rows::STATUS_SUBSCRIBERS
        .iter()
        .map(|r| bytes(r.1))
        .collect();
    assert_eq!(
        store.status_subscribers().expect("status subscribers"),
        subscribers,
        "fixture v{v}: status subscribers"
    );
    let outbox: Vec<(u64, Vec<u8>)> = rows::STATUS_OUTBOX
        .iter()
        .map(|(id, j)| (*id, bytes(j)))
        .collect();
    assert_eq!(
        store.status_outbox().expect("status outbox"),
        outbox,
        "fixture v{v}: status outbox"
    );
}
