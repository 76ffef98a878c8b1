//! Online backup: taken while writes keep coming, restored by starting a server on the copy,
//! which holds everything acknowledged before the backup began.

use std::process::Command;

use super::*;

async fn create_token(s: &Server, name: &str) -> Option<String> {
    let resp = s
        .http
        .post(s.url("/api/v1/tokens"))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": name}))
        .send()
        .await
        .ok()?;
    if resp.status() != StatusCode::CREATED {
        return None;
    }
    let v: Value = resp.json().await.ok()?;
    v["info"]["id"].as_str().map(str::to_string)
}

const EVENT_ID: &str = "0b5c7e9d2f4a4c6e8a1b3d5f7092b4c6";
const BEAT_TOKEN: &str = "beat-token-0123456789";

/// The monitor (by name) of a server's list.
async fn monitor(run: &common::Running, token: &str, name: &str) -> Value {
    let list: Value = common::client()
        .get(run.url("/api/v1/monitors"))
        .bearer_auth(token)
        .send()
        .await
        .expect("monitors")
        .json()
        .await
        .expect("json");
    list["items"]
        .as_array()
        .and_then(|i| i.iter().find(|m| m["name"] == name))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_everything_acknowledged_before_it() {
    let config = format!(
        "{CONFIG}monitors:\n  - {{name: beat, type: push, token: {BEAT_TOKEN}, interval: 1h}}\n"
    );
    let s = Server::start(&config);
    // An event, grouped and stored, and a heartbeat: ingest's and probing's tables.
    let event = format!(
        "{{\"event_id\":\"{EVENT_ID}\"}}\n{{\"type\":\"event\"}}\n{{\"event_id\":\"{EVENT_ID}\",\"message\":\"kept in the backup\"}}\n"
    );
    let (st, _) = s.envelope(7, KEY7, event).await;
    assert_eq!(st, StatusCode::OK);
    let beat = s
        .http
        .post(s.url(&format!(
            "/api/v1/push/{BEAT_TOKEN}?status=down&msg=before-backup"
        )))
        .send()
        .await
        .expect("push");
    assert_eq!(beat.status(), StatusCode::OK);
    let event_path = format!("/api/v1/projects/7/events/{EVENT_ID}");
    eventually("the event is grouped", || async {
        let resp = s.get(&event_path).await;
        if resp.status() != StatusCode::OK {
            return None;
        }
        let v: Value = resp.json().await.ok()?;
        v["issue_id"].is_number().then_some(())
    })
    .await;
    let mut before = Vec::new();
    for i in 0..40 {
        before.push(
            create_token(&s, &format!("before-{i}"))
                .await
                .expect("created"),
        );
    }
    // Writers keep going while the backup runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (http, url, token, stop) = (
            s.http.clone(),
            s.url("/api/v1/tokens"),
            s.token.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"name": format!("during-{n}")}))
                    .send()
                    .await;
                n += 1;
            }
            n
        })
    };
    let copy = s.dir.path().join("backup.redb");
    let out = common::panoptes()
        .args(["backup", "--to"])
        .arg(&copy)
        .args(["--server", &s.url(""), "--token", &s.token])
        .output()
        .expect("run backup");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let writes_during = load.await.expect("join");
    assert!(
        out.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(writes_during > 0, "the load ran");
    // A file served by a running server cannot be copied offline: the command says what to do.
    let refused = common::panoptes()
        .args(["backup", "--to"])
        .arg(s.dir.path().join("offline.redb"))
        .arg("--data-dir")
        .arg(s.dir.path().join("data"))
        .output()
        .expect("run backup");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--server"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Restore: a second server on the copy.
    let restored = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&copy, restored.path().join(panoptes::store::DATA_FILE)).expect("copy");
    let cfg = s.dir.path().join("panoptes.yaml");
    let run = common::start(restored.path(), &["--config", cfg.to_str().expect("utf8")]);
    let event: Value = s
        .http
        .get(run.url(&event_path))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("event")
        .json()
        .await
        .expect("json");
    assert_eq!(event["event_id"], EVENT_ID, "{event}");
    assert!(
        event["event"].to_string().contains("kept in the backup"),
        "{event}"
    );
    let beat = monitor(&run, &s.token, "beat").await;
    let results: Value = s
        .http
        .get(run.url(&format!("/api/v1/monitors/{}/results", beat["id"])))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("results")
        .json()
        .await
        .expect("json");
    assert!(
        results["items"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x.to_string().contains("before-backup"))),
        "the heartbeat is in the copy: {results}"
    );
    let page: Value = s
        .http
        .get(run.url("/api/v1/tokens?limit=1000"))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("tokens")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    for id in &before {
        assert!(
            ids.contains(&id.as_str()),
            "token {id} acknowledged before the backup is missing"
        );
    }
    drop(run);
    // Offline, from the stopped server's file.
    drop(s.run);
    let offline = restored.path().join("offline.redb");
    let ok = Command::new(common::BIN)
        .args(["backup", "--to"])
        .arg(&offline)
        .arg("--data-dir")
        .arg(s.dir.path().join("data"))
        .output()
        .expect("run backup");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(offline.metadata().expect("file").len() > 0);
}
