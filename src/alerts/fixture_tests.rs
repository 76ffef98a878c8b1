//! The alerting records in the committed store fixtures still decode as this build's types
//! (the store's own fixture test reads them back byte for byte but cannot know their types).

use std::path::Path;

use crate::alerts::book::Resolved;
use crate::alerts::groups::Group;
use crate::alerts::model::AlertStatus;
use crate::alerts::outbox::{DeliveryState, Record};
use crate::alerts::silences::Silence;
use crate::alerts::state::{Instance, Phase};
use crate::metrics::StoreMetrics;
use crate::store::migrate_tests::rows;
use crate::store::{DATA_FILE, Store, StoreOptions};

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    serde_json::from_slice(bytes).expect("an alerting record")
}

/// Every fixture from version 7 on, migrated to this build's schema.
#[tokio::test]
async fn alerting_rows_of_every_fixture_decode_as_their_records() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/store");
    let mut tested = 0;
    for version in 7..=crate::store::LATEST_VERSION {
        let src = fixtures.join(format!("schema-v{version}.redb"));
        if !src.is_file() {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&src, dir.path().join(DATA_FILE)).expect("copy fixture");
        let store = Store::open(dir.path(), StoreOptions::default(), StoreMetrics::default())
            .expect("open store");
        check(&store);
        tested += 1;
    }
    assert!(tested >= 1, "no fixture with alerting tables");
}

fn check(store: &Store) {
    let snap = store
        .alerts_snapshot(|b| decode::<Record>(b).state.is_open())
        .expect("alerts snapshot");
    assert_eq!(
        snap.notifications.len(),
        1,
        "the queued notification is open"
    );
    let history = store.alerts_history(None, 10).expect("history");
    let i: Instance = decode(&snap.instances[0]);
    assert_eq!(i.fingerprint, rows::ALERT_FIRING);
    assert_eq!(i.fingerprint, crate::alerts::state::fingerprint(&i.labels));
    assert_eq!(i.rule, "MonitorDown");
    assert_eq!(i.labels["monitor"], "db");
    assert_eq!(i.phase, Phase::Firing);
    assert!(i.active);
    assert_eq!(
        (i.active_since_ms, i.fired_at_ms, i.last_active_ms),
        (
            rows::T0,
            Some(rows::T0 + rows::MINUTE),
            rows::T0 + 5 * rows::MINUTE
        )
    );
    assert_eq!(i.value, "DOWN");
    assert_eq!(i.annotations["summary"], "db is DOWN");

    let g: Group = decode(&snap.groups[0].1);
    assert_eq!(g.key, rows::ALERT_GROUP);
    assert_eq!((g.route.as_str(), g.receiver.as_str()), ("{}", "ops"));
    assert_eq!(g.labels["alertname"], "MonitorDown");
    let alerts: Vec<(&str, AlertStatus, Option<u64>)> = g
        .alerts
        .iter()
        .map(|(fp, a)| (fp.as_str(), a.status, a.ends_at_ms))
        .collect();
    assert_eq!(
        alerts,
        [
            (rows::ALERT_FIRING, AlertStatus::Firing, None),
            (
                rows::ALERT_RESOLVED,
                AlertStatus::Resolved,
                Some(rows::T0 + 3 * rows::MINUTE)
            ),
        ]
    );
    assert_eq!(g.next_flush_ms, rows::T0 + 390_000);
    let sent = &g.sent["webhook_configs[0]"];
    assert_eq!(sent.firing.iter().collect::<Vec<_>>(), [rows::ALERT_FIRING]);
    assert!(sent.resolved.is_empty());
    assert_eq!(sent.at_ms, rows::T0 + 90_000);

    let s: Silence = decode(&snap.silences[0]);
    assert_eq!(s.id, rows::SILENCE_ID);
    assert_eq!(s.matchers.len(), 1);
    assert_eq!(
        (s.matchers[0].name.as_str(), s.matchers[0].value.as_str()),
        ("monitor", "api")
    );
    assert!(s.matchers[0].is_equal && !s.matchers[0].is_regex);
    assert_eq!(
        (s.starts_at_ms, s.ends_at_ms, s.updated_at_ms),
        (rows::T0 + 200_000, rows::T0 + 7_400_000, rows::T0 + 200_000)
    );
    assert_eq!(
        (s.created_by.as_str(), s.comment.as_str()),
        ("alice", "api redeploy")
    );

    let n: Record = decode(&snap.notifications[0].1);
    assert_eq!(n.id, rows::NOTIFICATION_ID);
    assert_eq!(
        (n.receiver.as_str(), n.channel.as_str()),
        ("ops", "webhook_configs[0]")
    );
    assert_eq!(n.escalation_policy.as_deref(), Some("ops-primary"));
    assert_eq!(n.state, DeliveryState::Queued);
    assert_eq!(n.notification.group_key, rows::ALERT_GROUP);
    assert_eq!(n.notification.status, AlertStatus::Firing);
    let told: Vec<&str> = n
        .notification
        .alerts
        .iter()
        .map(|a| a.fingerprint.as_str())
        .collect();
    assert_eq!(told, [rows::ALERT_FIRING]);
    assert_eq!(
        (
            n.created_ms,
            n.next_attempt_ms,
            n.attempt_count,
            n.finished_ms
        ),
        (rows::T0 + 90_000, rows::T0 + 390_000, 1, None)
    );
    assert_eq!(n.attempts.len(), 1);
    assert_eq!(
        (n.attempts[0].status, n.attempts[0].outcome.as_str()),
        (Some(429), "retry")
    );

    let r: Resolved = decode(&history[0].1);
    assert_eq!(r.fingerprint, rows::ALERT_RESOLVED);
    assert_eq!(r.fingerprint, crate::alerts::state::fingerprint(&r.labels));
    assert_eq!(r.labels["monitor"], "api");
    assert_eq!(
        (r.active_since_ms, r.fired_at_ms, r.resolved_at_ms),
        (
            rows::T0 + rows::MINUTE,
            rows::T0 + 2 * rows::MINUTE,
            rows::T0 + 3 * rows::MINUTE
        )
    );
    assert_eq!(r.value, "UP");
}
