//! A monitor checked from several locations shows them on its page: a simulated agent at `eu`
//! reports the target failing while the server's own checks pass; with a quorum of one the
//! monitor is DOWN across its locations, and the table shows eu DOWN with its error beside the
//! server's location UP.

use super::*;

#[tokio::test]
async fn a_monitors_page_shows_its_locations() {
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("target");
    let port = target.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    add_user(dir.path(), "root", "correct horse battery");
    let token = create_token(dir.path(), "admin");
    let cfg = dir.path().join("panoptes.yaml");
    std::fs::write(
        &cfg,
        format!(
            "monitors:\n  - {{name: api, type: tcp, host: 127.0.0.1, port: {port}, interval: 1s, locations: [local, eu], quorum: 1}}\n"
        ),
    )
    .expect("config");
    let s = start(dir.path(), &["--config", cfg.to_str().expect("utf8")]);
    let c = client();
    let created: Value = c
        .post(s.url("/api/v1/agents"))
        .bearer_auth(&token)
        .json(&json!({"name": "eu-1", "location": "eu"}))
        .send()
        .await
        .expect("create agent")
        .json()
        .await
        .expect("agent json");
    let agent = created["token"].as_str().expect("agent token").to_string();
    // A real agent reports every interval; the eu location goes stale (unknown) 3 intervals
    // plus a timeout (4 s here) after its last result, and Chromium alone can take longer than
    // that to start. So the simulated agent keeps reporting until the test ends.
    let post = {
        let (c, url) = (c.clone(), s.url("/api/v1/agent/results"));
        move |seq: u64| {
            let (c, url, agent) = (c.clone(), url.clone(), agent.clone());
            async move {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_millis() as u64;
                c.post(url)
                    .bearer_auth(&agent)
                    .json(
                        &json!({"results": [{"seq": seq, "monitor": "api", "at_ms": now - 100,
                    "ok": false, "latency_ms": 3, "error": "connection refused from eu"}]}),
                    )
                    .send()
                    .await
            }
        }
    };
    let r = post(1).await.expect("post results");
    assert!(r.status().is_success(), "{}", r.status());
    let reporter = tokio::spawn({
        let post = post.clone();
        async move {
            for seq in 2.. {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let r = post(seq).await.expect("post results");
                assert!(r.status().is_success(), "{}", r.status());
            }
        }
    });
    let monitors: Value = c
        .get(s.url("/api/v1/monitors"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("monitors")
        .json()
        .await
        .expect("monitors json");
    let id = monitors["items"][0]["id"].as_u64().expect("id");

    let d = Driver::start().await;
    d.goto(&s.url(&format!("/monitors/{id}"))).await;
    d.type_into("#username", "root").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.find("#monitor-locations").await;
    d.find("#monitor-locations .row [data-state='DOWN']").await;
    d.find("#monitor-locations tr[data-location='eu'] [data-state='DOWN']")
        .await;
    d.wait_text(
        "#monitor-locations tr[data-location='eu']",
        "connection refused from eu",
    )
    .await;
    d.find("#monitor-locations tr[data-location='local'] [data-state='UP']")
        .await;
    d.wait_text("#monitor-locations", "1 of 2 locations failing")
        .await;
    d.screenshot("monitor-locations.png").await;
    assert!(
        !reporter.is_finished(),
        "the simulated agent stopped reporting"
    );
    reporter.abort();
}
