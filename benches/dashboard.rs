//! The dashboard at 10,000 monitors and 10,000 issues, server side and in a real browser:
//!
//!     cargo bench --bench dashboard -- [--monitors 10000] [--issues 10000]
//!
//! Panoptes (release binary, own data directory) holds N push monitors (nothing to probe, so
//! the machine's time goes to the dashboard). Server side: every page of `GET /api/v1/monitors`
//! (1000 per page, each with its 7/30/90-day uptime read from the day roll-ups), against
//! `GET /healthz` in the same run as the baseline (one round trip with nothing behind it).
//! Client side (headless Chromium through chromedriver, as the browser tests drive it): from
//! navigating to `/monitors` to the list shown with every monitor counted, the rows actually in
//! the page, and the time of each of 40 scroll steps across the whole list (from setting the
//! scroll offset to the second animation frame after it, i.e. the rows re-drawn and painted).
//! Each monitor gets one heartbeat first, so every row has a state and its 24 h bar data.
//! Issues: the data file is filled first with 2 events per issue (`sentry_fill.rs`); server side,
//! every page of `GET /api/v1/projects/7/issues?limit=100` and the same filtered by level; in the
//! browser, `/issues` to its first 100 rows shown, then each "Load more" to its 100 more shown.

#[path = "../tests/common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "../tests/browser/driver.rs"]
mod driver;
#[path = "sentry_fill.rs"]
mod sentry_fill;
#[path = "util.rs"]
mod util;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Reads every page of a list from `url` on (following `next_cursor`), each page's time in
/// ms pushed to `times`; returns how many items there were.
async fn every_page(http: &reqwest::Client, token: &str, url: &str, times: &mut Vec<f64>) -> usize {
    let mut cursor: Option<String> = None;
    let mut count = 0;
    loop {
        let page = match &cursor {
            None => url.to_string(),
            Some(c) => format!("{url}&cursor={c}"),
        };
        let t = Instant::now();
        let v: Value = http
            .get(page)
            .bearer_auth(token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        count += v["items"].as_array().map_or(0, Vec::len);
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return count,
        }
    }
}

#[tokio::main]
async fn main() {
    let n: usize = util::arg("--monitors", 10_000);
    let issues: u64 = util::arg("--issues", 10_000);
    let bin = env!("CARGO_BIN_EXE_panoptes");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut cfg = String::from(
        "projects:\n  - {id: 7, name: shop, keys: [0123456789abcdef0123456789abcdef]}\nmonitors:\n",
    );
    for i in 0..n {
        cfg.push_str(&format!(
            "  - {{name: m{i:05}, group: g{:02}, type: push, token: bench-token-{i:05}, interval: 1h}}\n",
            i % 20
        ));
    }
    let cfg_path = dir.path().join("c.yaml");
    std::fs::write(&cfg_path, cfg).expect("config");
    std::fs::create_dir_all(&data).expect("data dir");
    {
        let metrics = panoptes::metrics::Metrics::new();
        let store = panoptes::store::Store::open(
            &data,
            panoptes::store::StoreOptions::default(),
            metrics.store.clone(),
        )
        .expect("open the data file");
        sentry_fill::fill(&store, issues * 2, issues).await;
        store.close().await;
    }
    let mut add = std::process::Command::new(bin)
        .args(["user", "add", "bench", "--data-dir"])
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse battery\n")
        .expect("password");
    assert!(add.wait().expect("user add").success());
    let s = util::start_server(bin, &cfg_path, &data);
    let base = format!("http://127.0.0.1:{}", s.port);
    panoptes::outbound::install_crypto_provider();
    let http = reqwest::Client::new();

    // One heartbeat per monitor: each row then has a state, a result and its hour's tally.
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut beats = Vec::with_capacity(n);
    for i in 0..n {
        let (http, url) = (
            http.clone(),
            format!(
                "{base}/api/v1/push/bench-token-{i:05}?status={}",
                if i % 50 == 0 { "down" } else { "up" }
            ),
        );
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        beats.push(tokio::spawn(async move {
            let ok = http
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            drop(permit);
            ok
        }));
    }
    for b in beats {
        assert!(b.await.unwrap_or(false), "a heartbeat refused");
    }

    // Issues, server side: every page of 100, unfiltered and by level, three rounds.
    let mut issue_pages = Vec::new();
    let mut issue_pages_level = Vec::new();
    for _ in 0..3 {
        for (filter, out) in [
            ("", &mut issue_pages),
            ("&level=error", &mut issue_pages_level),
        ] {
            let url = format!("{base}/api/v1/projects/7/issues?limit=100{filter}");
            let count = every_page(&http, &s.token, &url, out).await as u64;
            assert_eq!(count, issues, "every issue listed ({filter})");
        }
    }

    // Server side: the baseline, then every page of the list, five rounds.
    let mut health = Vec::new();
    let mut pages = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .expect("healthz");
        health.push(t.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let url = format!("{base}/api/v1/monitors?limit=1000");
        let count = every_page(&http, &s.token, &url, &mut pages).await;
        assert_eq!(count, n, "every monitor listed");
        whole.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    // Client side.
    let d = driver::Driver::start().await;
    d.goto(&format!("{base}/login")).await;
    d.type_into("#username", "bench").await;
    d.type_into("#password", "correct horse battery").await;
    d.click("#login").await;
    d.find("#principal").await;
    let mut shown = Vec::new();
    let mut rows = 0;
    for _ in 0..3 {
        d.goto(&format!("{base}/")).await;
        d.find("#principal").await;
        let t = Instant::now();
        d.goto(&format!("{base}/monitors")).await;
        d.wait_text("#monitor-count", &format!("{n} of {n}")).await;
        shown.push(t.elapsed().as_secs_f64() * 1000.0);
        let v = d
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                json!({"script": "return document.querySelectorAll('tr.monitor-row').length", "args": []}),
            )
            .await;
        rows = v["value"].as_u64().unwrap_or(0);
    }
    let v = d
        .call(
            reqwest::Method::POST,
            "/execute/async",
            json!({"script": r#"
                const done = arguments[arguments.length - 1];
                const el = document.querySelector('#monitor-scroller');
                const frame = () => new Promise(r => requestAnimationFrame(() => r()));
                const out = [];
                (async () => {
                  for (let i = 1; i <= 40; i++) {
                    const t = performance.now();
                    el.scrollTop = el.scrollHeight * i / 41;
                    el.dispatchEvent(new Event('scroll'));
                    await frame(); await frame();
                    out.push(performance.now() - t);
                  }
                  done(out);
                })();
            "#, "args": []}),
        )
        .await;
    let mut scroll: Vec<f64> = v["value"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    // Issues in the browser: the first 100 rows, then "Load more" nine times.
    let mut issues_shown = Vec::new();
    for _ in 0..3 {
        d.goto(&format!("{base}/")).await;
        d.find("#principal").await;
        let t = Instant::now();
        d.goto(&format!("{base}/issues")).await;
        d.wait_text("#issue-count", "100 issues shown").await;
        issues_shown.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut load_more = Vec::new();
    for k in 2..=10 {
        let t = Instant::now();
        d.click("#load-more").await;
        d.wait_text("#issue-count", &format!("{}", k * 100)).await;
        load_more.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    drop(d);
    tokio::time::sleep(Duration::from_millis(10)).await;

    println!("dashboard at {n} monitors");
    println!(
        "  server: GET /healthz (baseline) p50 {:.2} ms; one page of 1000 monitors p50 {:.1} ms, max {:.1} ms; all {} pages p50 {:.0} ms",
        percentile(&mut health, 0.5),
        percentile(&mut pages.clone(), 0.5),
        percentile(&mut pages, 1.0),
        n.div_ceil(1000),
        percentile(&mut whole, 0.5)
    );
    println!(
        "  browser: /monitors shown with all {n} counted p50 {:.0} ms (of 3), max {:.0} ms; rows in the page {rows}",
        percentile(&mut shown.clone(), 0.5),
        percentile(&mut shown, 1.0)
    );
    println!(
        "  scrolling: 40 jumps across the list, offset set to second frame painted: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        percentile(&mut scroll.clone(), 0.5),
        percentile(&mut scroll.clone(), 0.95),
        percentile(&mut scroll, 1.0)
    );
    println!(
        "  issues ({issues}): one page of 100 p50 {:.2} ms, max {:.2} ms; filtered by level p50 {:.2} ms, max {:.2} ms",
        percentile(&mut issue_pages.clone(), 0.5),
        percentile(&mut issue_pages, 1.0),
        percentile(&mut issue_pages_level.clone(), 0.5),
        percentile(&mut issue_pages_level, 1.0),
    );
    println!(
        "  browser: /issues with its first 100 rows p50 {:.0} ms (of 3), max {:.0} ms; Load more to 100 more rows p50 {:.0} ms, max {:.0} ms (to 1000 rows)",
        percentile(&mut issues_shown.clone(), 0.5),
        percentile(&mut issues_shown, 1.0),
        percentile(&mut load_more.clone(), 0.5),
        percentile(&mut load_more, 1.0),
    );
    let rss = util::pid_mem_mib(s.child.id(), "VmHWM");
    println!("  server peak RSS {rss:.0} MiB");
}
