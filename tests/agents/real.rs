//! Real agent processes bound to 127.0.0.2 and 127.0.0.3 against a target that fails only for
//! the first: quorum decisions from real checks, a monitor the server does not check itself,
//! kill -9 of an agent and of the server, and the server's outage spooled and caught up.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use super::common::{client, create_token, panoptes};
use super::{agent_token_cli, location, now_ms};

/// An HTTP target that fails for one source address: 500 to 127.0.0.2, 200 to anyone else.
async fn picky_target() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("target");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, peer)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 65_536 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let status = if peer.ip() == std::net::IpAddr::from([127, 0, 0, 2]) {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = sock
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    port
}

/// `panoptes serve` on a fixed port (agents must find it again after a restart).
pub(super) fn serve_at(dir: &Path, cfg: &Path, port: u16) -> std::process::Child {
    panoptes()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server")
}

pub(super) fn spawn_agent(
    dir: &Path,
    server: &str,
    token: &str,
    location: &str,
    source: &str,
) -> Killed {
    let data = dir.join(format!("agent-{location}"));
    std::fs::create_dir_all(&data).expect("agent dir");
    let cfg = data.join("agent.yaml");
    std::fs::write(&cfg, format!("probing:\n  source_address: {source}\n")).expect("agent config");
    Killed(
        panoptes()
            .args([
                "agent",
                "--server",
                server,
                "--token",
                token,
                "--location",
                location,
            ])
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn agent"),
    )
}

/// A child process killed (-9) when dropped.
pub(super) struct Killed(pub(super) std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `f` until it returns `Some`, for at most `secs` (a bound, not an assertion on time).
pub(super) async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

pub(super) async fn get_json(c: &reqwest::Client, url: &str, token: &str) -> Option<Value> {
    let r = c.get(url).bearer_auth(token).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

#[tokio::test]
async fn real_agents_probe_from_their_addresses_and_catch_up_after_an_outage() {
    let target = picky_target().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            "monitors:\n  - {{name: web, type: http, url: \"http://127.0.0.1:{target}/\", interval: 1s, locations: [local, eu, ap], quorum: 2}}\n  - {{name: web-strict, type: http, url: \"http://127.0.0.1:{target}/\", interval: 1s, locations: [eu, ap], quorum: 1}}\n"
        ),
    )
    .expect("config");
    let token = create_token(dir.path(), "admin");
    let eu = agent_token_cli(dir.path(), "eu-1", "eu");
    let ap = agent_token_cli(dir.path(), "ap-1", "ap");
    let port = super::common::reserved_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Killed(serve_at(dir.path(), &cfg, port));
    let c = client();
    let _eu_agent = spawn_agent(dir.path(), &base, &eu, "eu", "127.0.0.2");
    let mut ap_agent = spawn_agent(dir.path(), &base, &ap, "ap", "127.0.0.3");

    let ids: HashMap<String, u64> = eventually(30, "the monitors", || async {
        let v = get_json(&c, &format!("{base}/api/v1/monitors"), &token).await?;
        let ids: HashMap<String, u64> = v["items"]
            .as_array()?
            .iter()
            .filter_map(|m| Some((m["name"].as_str()?.to_string(), m["id"].as_u64()?)))
            .collect();
        (ids.len() == 2).then_some(ids)
    })
    .await;
    let locs = |name: &str| format!("{base}/api/v1/monitors/{}/locations", ids[name]);

    // eu (127.0.0.2) sees the target failing, ap (127.0.0.3) and the server do not: one
    // failing location of a quorum of two is DEGRADED; of a quorum of one, DOWN.
    let web = eventually(60, "web DEGRADED from eu alone", || async {
        let v = get_json(&c, &locs("web"), &token).await?;
        (v["state"] == "DEGRADED"
            && location(&v, "eu")["state"] == "DOWN"
            && location(&v, "ap")["state"] == "UP")
            .then_some(v)
    })
    .await;
    assert_eq!(location(&web, "local")["state"], "UP", "{web}");
    assert_eq!(web["failing"], 1);
    let strict = eventually(60, "web-strict DOWN", || async {
        let v = get_json(&c, &locs("web-strict"), &token).await?;
        (v["state"] == "DOWN").then_some(v)
    })
    .await;
    assert_eq!(location(&strict, "eu")["status"], 500, "{strict}");
    assert_eq!(location(&strict, "ap")["status"], 200, "{strict}");

    // web-strict leaves the server's location out: the server never checks it itself.
    let own = get_json(
        &c,
        &format!("{base}/api/v1/monitors/{}/results", ids["web-strict"]),
        &token,
    )
    .await
    .expect("own results");
    assert_eq!(own["items"].as_array().map(Vec::len), Some(0), "{own}");
    let own = get_json(
        &c,
        &format!("{base}/api/v1/monitors/{}/results", ids["web"]),
        &token,
    )
    .await
    .expect("own results");
    assert!(
        own["items"].as_array().is_some_and(|i| !i.is_empty()),
        "{own}"
    );

    // The agents are listed with their version and location.
    let agents = get_json(&c, &format!("{base}/api/v1/agents"), &token)
        .await
        .expect("agents");
    let listed: Vec<(&str, &str)> = agents["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|a| a["version"].is_string())
        .filter_map(|a| Some((a["name"].as_str()?, a["location"].as_str()?)))
        .collect();
    assert_eq!(listed, [("ap-1", "ap"), ("eu-1", "eu")], "{agents}");

    // kill -9 of an agent: the others carry on; it comes back with its spool.
    ap_agent.0.kill().expect("kill ap");
    let _ = ap_agent.0.wait();
    let _ap_again = spawn_agent(dir.path(), &base, &ap, "ap", "127.0.0.3");

    // kill -9 of the server: the agents keep probing and spool; once it is back, the results
    // taken while it was away arrive (stamped when they were taken), each counted once.
    server.0.kill().expect("kill server");
    let _ = server.0.wait();
    let down_at = now_ms();
    // The agents record while the server is away (their own files grow); wait for a few.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let up_at = now_ms();
    let _server = Killed(serve_at(dir.path(), &cfg, port));
    let during = eventually(60, "results from the outage", || async {
        let v = get_json(
            &c,
            &format!(
                "{base}/api/v1/monitors/{}/results?location=eu&from={down_at}&to={up_at}",
                ids["web"]
            ),
            &token,
        )
        .await?;
        let items = v["items"].as_array()?.clone();
        (!items.is_empty()).then_some(items)
    })
    .await;
    assert!(
        during.iter().all(|r| r["ok"] == false),
        "eu's spooled results keep their verdict: {during:?}"
    );
    let stamps: Vec<u64> = during.iter().filter_map(|r| r["at_ms"].as_u64()).collect();
    let mut unique = stamps.clone();
    unique.dedup();
    assert_eq!(stamps, unique, "no result twice");
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "in order: {stamps:?}"
    );
    let agents = eventually(30, "eu-1 counted again", || async {
        let v = get_json(&c, &format!("{base}/api/v1/agents"), &token).await?;
        let eu = v["items"]
            .as_array()?
            .iter()
            .find(|a| a["name"] == "eu-1")?
            .clone();
        (eu["lag_ms"].as_u64().is_some()).then_some(eu)
    })
    .await;
    assert!(
        agents["results_total"].as_u64().unwrap_or(0) >= stamps.len() as u64,
        "{agents}"
    );
}
