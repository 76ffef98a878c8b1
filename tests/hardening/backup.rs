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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_everything_acknowledged_before_it() {
    let s = Server::start(CONFIG);
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
    let run = common::start(restored.path(), &[]);
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
