//! The agent's spool is bounded by size too: with the server killed, a real agent records
//! failing checks past `--max-spool-bytes`, drops the oldest unsent results (logged with their
//! count and where the spool now starts), and once the server is back delivers only what it
//! kept: nothing stamped between the outage's start and that point, something after it.

use std::process::Stdio;

use serde_json::Value;

use super::common::{client, create_token, panoptes, reserved_port};
use super::real::{Killed, eventually, get_json, serve_at};
use super::{agent_token_cli, now_ms};

const MONITORS: usize = 8;

/// The agent's JSON log lines whose message contains `needle`.
fn logged(path: &std::path::Path, needle: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle))
        })
        .collect()
}

#[tokio::test]
async fn a_full_spool_drops_its_oldest_results_counted_and_logged() {
    // Nothing listens there: every check fails with an error text, so the spool fills fast.
    let closed = reserved_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("panoptes.yaml");
    let monitors: String = (0..MONITORS)
        .map(|i| {
            format!(
                "  - {{name: m{i}, type: tcp, host: 127.0.0.1, port: {closed}, interval: 1s, locations: [eu]}}\n"
            )
        })
        .collect();
    std::fs::write(&cfg, format!("monitors:\n{monitors}")).expect("config");
    let token = create_token(dir.path(), "admin");
    let eu = agent_token_cli(dir.path(), "eu-1", "eu");
    let port = reserved_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Killed(serve_at(dir.path(), &cfg, port));
    let c = client();

    let data = dir.path().join("agent-eu");
    std::fs::create_dir_all(&data).expect("agent dir");
    let log = dir.path().join("agent.log");
    let _agent = Killed(
        panoptes()
            .args([
                "--log-format",
                "json",
                "agent",
                "--server",
                &base,
                "--token",
                &eu,
            ])
            .args([
                "--location",
                "eu",
                "--max-spool-bytes",
                "3000",
                "--data-dir",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn agent"),
    );
    eventually(60, "the agent reports", || async {
        let v = get_json(&c, &format!("{base}/api/v1/agents"), &token).await?;
        (v["items"][0]["results_total"].as_u64()? > 0).then_some(())
    })
    .await;

    // The server goes away; the spool passes its bound and its oldest results are dropped.
    server.0.kill().expect("kill server");
    let _ = server.0.wait();
    let down_at = now_ms();
    eventually(60, "a drop past the outage's start", || async {
        logged(&log, "spool over its size bound")
            .iter()
            .any(|l| l["fields"]["to_ms"].as_u64().is_some_and(|t| t > down_at))
            .then_some(())
    })
    .await;
    // The bound holds a few seconds of results, more than the server needs to come back: a
    // drop measured while it starts keeps results from before `up_at`.
    let up_at = now_ms();
    let _server = Killed(serve_at(dir.path(), &cfg, port));

    // Caught up: results taken after the restart arrive (so the spool before them was sent).
    let ids: Vec<u64> = eventually(60, "the monitors", || async {
        let v = get_json(&c, &format!("{base}/api/v1/monitors"), &token).await?;
        let ids: Vec<u64> = v["items"]
            .as_array()?
            .iter()
            .filter_map(|m| m["id"].as_u64())
            .collect();
        (ids.len() == MONITORS).then_some(ids)
    })
    .await;
    let results = |id: u64, from: u64, to: u64| {
        let url = format!("{base}/api/v1/monitors/{id}/results?location=eu&from={from}&to={to}");
        let (c, token) = (c.clone(), token.clone());
        async move {
            let v = get_json(&c, &url, &token).await?;
            Some(
                v["items"]
                    .as_array()?
                    .iter()
                    .filter_map(|r| r["at_ms"].as_u64())
                    .collect::<Vec<u64>>(),
            )
        }
    };
    eventually(60, "results taken after the restart", || async {
        let after = results(ids[0], up_at + 2_000, now_ms()).await?;
        (!after.is_empty()).then_some(())
    })
    .await;

    // Every drop is logged with its count; the last one says where the spool started.
    let drops = logged(&log, "spool over its size bound");
    let dropped: u64 = drops
        .iter()
        .filter_map(|l| l["fields"]["dropped"].as_u64())
        .sum();
    let last = drops.last().expect("a drop");
    assert!(dropped > 0, "{drops:?}");
    assert_eq!(
        last["fields"]["dropped_total"].as_u64(),
        Some(dropped),
        "{drops:?}"
    );
    let kept_from = last["fields"]["to_ms"].as_u64().expect("to_ms");
    assert_eq!(last["fields"]["max_spool_bytes"], 3000);

    // What was dropped never arrived; what was kept did.
    let mut kept = 0;
    for id in &ids {
        let lost = results(*id, down_at, kept_from).await.expect("results");
        assert!(
            lost.is_empty(),
            "monitor {id}: dropped results arrived: {lost:?}"
        );
        kept += results(*id, kept_from, up_at).await.expect("results").len();
    }
    assert!(kept > 0, "the newest spooled results arrive");
}
