//! Signals: SIGTERM with writes in flight, SIGINT, SIGHUP reloads.

use super::*;

/// Writes keep arriving while SIGTERM does: every write that got a 2xx is there after a
/// restart (a write refused with 503 or cut off with its connection was not acknowledged, and
/// may be missing), and the exit is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_keeps_every_acknowledged_write() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    const WRITERS: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "writer");
    let s = start(dir.path(), &[]);
    let c = client();
    let stop = Arc::new(AtomicBool::new(false));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let term_sent = Arc::new(AtomicBool::new(false));
    // (token name, acknowledged after SIGTERM was sent)
    let acked = Arc::new(Mutex::new(Vec::<(String, bool)>::new()));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (c, url, token) = (c.clone(), s.url("/api/v1/tokens"), token.clone());
        let (stop, acked, acked_count, term_sent) = (
            stop.clone(),
            acked.clone(),
            acked_count.clone(),
            term_sent.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut refused = 0u64;
            for n in 0u64.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("w{w}-{n}");
                let sent = c
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"name": name}))
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status().is_success() => {
                        let after_term = term_sent.load(Ordering::SeqCst);
                        acked.lock().expect("lock").push((name, after_term));
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(resp) if resp.status() == StatusCode::SERVICE_UNAVAILABLE => refused += 1,
                    Ok(resp) => panic!("write {name}: unexpected {}", resp.status()),
                    // Refused or cut off: the server is going or gone.
                    Err(_) => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            refused
        }));
    }
    // SIGTERM while the writers are busy: some requests are always in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked_count.load(Ordering::SeqCst) < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writers got no acknowledgements: {}",
            s.log_text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    term_sent.store(true, Ordering::SeqCst);
    s.signal("TERM");
    let (s, status) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        let status = s.wait(Duration::from_secs(30));
        (s, status)
    })
    .await
    .expect("wait");
    stop.store(true, Ordering::SeqCst);
    let mut refused = 0;
    for w in writers {
        refused += w.await.expect("writer");
    }
    assert_eq!(status.code(), Some(0), "logs:\n{}", s.log_text());
    assert!(
        s.log_text()
            .contains("all acknowledged writes are committed")
    );
    drop(s);
    let acked = acked.lock().expect("lock").clone();
    let late = acked.iter().filter(|(_, after)| *after).count();
    eprintln!(
        "{} writes acknowledged ({late} of them after SIGTERM was sent), {refused} refused or cut off",
        acked.len()
    );

    let s = start(dir.path(), &[]);
    let mut names = std::collections::HashSet::new();
    let mut cursor = String::new();
    // Bounded: a server that hands back the same cursor (or never ends) fails the test instead
    // of hanging it; each page must move the cursor forward and add names.
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(
            pages <= acked.len() / 1000 + 100,
            "pagination did not end after {pages} pages"
        );
        let page: Value = c
            .get(s.url(&format!("/api/v1/tokens?limit=1000&cursor={cursor}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        for t in page["items"].as_array().expect("items") {
            names.insert(t["name"].as_str().expect("name").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_ne!(next, cursor, "the cursor did not advance");
                cursor = next.to_string();
            }
            None => break,
        }
    }
    let lost: Vec<&str> = acked
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged tokens lost: {lost:?}",
        lost.len()
    );
}

/// SIGINT (and SIGTERM) while the server is still starting — the port is bound, the store is
/// still opening — shuts down cleanly once it has started. The handlers used to be installed
/// only after "panoptes is serving" was logged, so an early signal took its default action and
/// the process died of it: CI saw exit status "None" instead of 0.
#[test]
fn sigint_also_shuts_down_cleanly() {
    for sig in ["INT", "TERM"] {
        let dir = tempfile::tempdir().expect("tempdir");
        // A free port chosen here, so the test can see the moment it is bound.
        let port = common::reserved_port();
        let child = common::panoptes()
            .args(["--log-format", "json", "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn panoptes");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "{port} never bound");
            std::thread::sleep(Duration::from_millis(2));
        }
        let killed = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(killed.success());
        let out = child.wait_with_output().expect("wait");
        let logs = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "SIG{sig}: {logs}");
        assert!(logs.contains("shutting down"), "SIG{sig}: {logs}");
    }
}

#[tokio::test]
async fn sighup_applies_a_valid_config_and_keeps_the_running_one_on_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "server:\n  public_metrics: true\n").expect("write");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    assert_eq!(
        c.get(s.url("/metrics")).send().await.expect("m").status(),
        StatusCode::OK
    );

    // An invalid file is rejected and the running config stays.
    std::fs::write(&cfg, "server:\n  public_metrics: maybe\n").expect("write");
    s.signal("HUP");
    let line = s.wait_for_log("keeping the running configuration", Duration::from_secs(10));
    assert!(line.contains("server.public_metrics"), "{line}");
    assert_eq!(
        c.get(s.url("/metrics")).send().await.expect("m").status(),
        StatusCode::OK
    );

    // A valid one takes effect without a restart.
    std::fs::write(&cfg, "server:\n  public_metrics: false\n").expect("write");
    s.signal("HUP");
    s.wait_for_log("configuration reloaded", Duration::from_secs(10));
    assert_eq!(
        c.get(s.url("/metrics")).send().await.expect("m").status(),
        StatusCode::UNAUTHORIZED
    );
}
