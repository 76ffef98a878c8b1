//! Nothing acknowledged is lost, even to kill -9 under load.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_kill_9_under_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(Server::start_in(dir.path()));
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..16 {
        let s = s.clone();
        let acked = acked.clone();
        tasks.spawn(async move {
            for i in 0..10_000 {
                // Distinct issues, so every event is stored in full.
                let e = exception_event(&format!("Crash{w}x{i}Error"), "kill -9");
                let id = e["event_id"].as_str().expect("id").to_string();
                match s.try_send_event(7, KEY, &e).await.map(|r| r.status()) {
                    Ok(StatusCode::OK) => acked.lock().expect("lock").push(id),
                    // Refused or cut off by the kill: not acknowledged, so not promised.
                    _ => return,
                }
            }
        });
    }
    // Let load build, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().expect("lock").len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.run.signal("KILL");
    while tasks.join_next().await.is_some() {}
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 300, "only {} acknowledged", acked.len());
    let token = s.token.clone();
    drop(s);
    let data = dir.path().join("data");
    let cfg = dir.path().join("panoptes.yaml");
    let run = common::start(&data, &["--config", cfg.to_str().expect("utf8")]);
    let http = common::client();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing = acked.clone();
    while !missing.is_empty() {
        let mut still = Vec::new();
        for id in &missing {
            let r = http
                .get(run.url(&format!("/api/v1/events/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get");
            if r.status() != StatusCode::OK {
                still.push(id.clone());
            }
        }
        missing = still;
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged events missing after restart, e.g. {}",
            missing.len(),
            acked.len(),
            missing[0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
