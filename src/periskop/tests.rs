//! The push gateway against a real store: nothing shows before it is stored, pushed instances
//! are bounded, rejected pushes cannot mint internal-error keys.

use std::sync::Arc;

use serde_json::json;

use super::config::PeriskopSettings;
use super::*;
use crate::clock::ManualClock;

struct Fixture {
    _dir: tempfile::TempDir,
    _settings: watch::Sender<Arc<PeriskopSettings>>,
    store: Store,
    clock: Arc<ManualClock>,
    p: Periskop,
}

fn fixture(yaml: &str) -> Fixture {
    let c = crate::config::root::parse(yaml, "t.yaml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default(), Default::default()).expect("store");
    let (tx, rx) = watch::channel(Arc::new(PeriskopSettings {
        services: c.services,
        global: c.periskop,
    }));
    let clock = ManualClock::new(1_800_000_000_000);
    let p = Periskop::open(PeriskopDeps {
        store: store.clone(),
        clock: clock.clone(),
        metrics: Arc::new(Metrics::new()),
        settings: rx,
        events: Publisher::discard(),
        instance_id: "test".into(),
    })
    .expect("open");
    Fixture {
        _dir: dir,
        _settings: tx,
        store,
        clock,
        p,
    }
}

fn export(uuid: &str, count: u64) -> bytes::Bytes {
    let v = json!({
        "target_uuid": uuid,
        "aggregated_errors": [
            {"aggregation_key": "K", "total_count": count, "severity": "error", "latest_errors": []}
        ]
    });
    serde_json::to_vec(&v).expect("json").into()
}

fn total(p: &Periskop, service: &str) -> Option<u64> {
    let agg = p.service(service)?;
    let a = lock(&agg);
    a.keys.get("K").map(|k| k.total)
}

/// A push whose write fails shows nothing: no totals, and no new service counting against
/// `max_push_services`.
#[tokio::test]
async fn a_push_that_is_not_stored_changes_nothing() {
    let f = fixture("periskop: {max_push_services: 2}\n");
    f.p.push("billing", export("u1", 3)).await.expect("stored");
    assert_eq!(total(&f.p, "billing"), Some(3));
    f.store.close().await;
    assert!(matches!(
        f.p.push("billing", export("u1", 10)).await,
        Err(PushError::Store(_))
    ));
    assert_eq!(
        total(&f.p, "billing"),
        Some(3),
        "the refused increase never showed"
    );
    let a = f.p.service("billing").expect("service");
    assert_eq!(
        lock(&a).instances["push:u1"].counts["K"],
        3,
        "nor its baseline"
    );
    drop(a);
    assert!(matches!(
        f.p.push("payroll", export("u2", 1)).await,
        Err(PushError::Store(_))
    ));
    assert!(
        f.p.service("payroll").is_none(),
        "no service without a stored push"
    );
}

/// A cron job that pushes with a fresh `target_uuid` on every run adds one instance per run:
/// beyond `max_push_instances_per_service`, the one heard from longest ago goes.
#[tokio::test]
async fn pushed_instances_per_service_are_capped_oldest_first() {
    let f = fixture("periskop: {max_push_instances_per_service: 3}\n");
    for run in 0..10 {
        f.p.push("cron", export(&format!("run-{run}"), 1))
            .await
            .expect("stored");
        f.clock.advance(1000);
    }
    let agg = f.p.service("cron").expect("service");
    let mut ids: Vec<String> = lock(&agg).instances.keys().cloned().collect();
    ids.sort();
    assert_eq!(ids, ["push:run-7", "push:run-8", "push:run-9"]);
    assert_eq!(total(&f.p, "cron"), Some(10), "every run still counted");
    // What is stored agrees: a restart does not bring the evicted ones back.
    let snap = f.store.periskop_snapshot().expect("snapshot");
    assert_eq!(snap.instances.len(), 3);
    assert_eq!(snap.baselines.len(), 3);
}

/// An export that does not parse is reported at `/-/exceptions` under its service, or under one
/// shared scope when the service does not exist: a name in a URL cannot mint keys.
#[tokio::test]
async fn rejected_pushes_to_unknown_services_share_one_key() {
    let f = fixture("");
    for i in 0..20 {
        let r =
            f.p.push(&format!("svc-{i}"), bytes::Bytes::from_static(b"{nope"))
                .await;
        assert!(matches!(r, Err(PushError::InvalidPayload(_))));
    }
    let huge = format!(
        "{{\"aggregated_errors\": [{{\"aggregation_key\": \"k\", \"total_count\": \"{}\"}}]}}",
        "9".repeat(1 << 20)
    );
    let Err(PushError::InvalidPayload(msg)) = f.p.push("svc-x", huge.into()).await else {
        panic!("not refused");
    };
    assert!(
        msg.len() <= internal::MAX_MESSAGE + 3,
        "{} bytes",
        msg.len()
    );
    let export = f.p.internal().export();
    let rejected: Vec<_> = export
        .aggregated_errors
        .iter()
        .filter(|a| a.aggregation_key.starts_with("PushRejected@"))
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0].total_count, 21);
    assert!(
        rejected[0]
            .latest_errors
            .iter()
            .all(|o| o.error.message.len() <= internal::MAX_MESSAGE + 3)
    );
}
