//! Exception scraping end to end: real `periskop-client` exporters (Python, from PyPI) on
//! 127.0.0.1, discovered statically, through a real DNS server (hickory-server, in-process, UDP)
//! answering SRV and A records, and from a file_sd file; scraped by the real `panoptes` binary.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, create_token, start};
use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use reqwest::StatusCode;
use serde_json::Value;

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/python");
const EXPORTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/periskop_exporter.py"
);

/// One instrumented Python process.
struct Exporter {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
    port: u16,
}

impl Exporter {
    fn spawn(port: u16) -> Exporter {
        assert!(
            std::path::Path::new(PYTHON).exists(),
            "{PYTHON} is missing: run ./scripts/setup.sh --no-browser to install periskop-client"
        );
        let mut child = Command::new(PYTHON)
            .arg(EXPORTER)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python exporter");
        let stdin = child.stdin.take().expect("stdin");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("exporter banner");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected exporter banner {line:?}"))
            .parse()
            .expect("port");
        Exporter {
            child,
            stdin,
            out,
            port,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn cmd(&mut self, c: &str) {
        writeln!(self.stdin, "{c}").expect("write command");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.out.read_line(&mut line).expect("ack");
        assert_eq!(line.trim(), "OK", "exporter answered {line:?} to {c:?}");
    }

    /// A restart: the process dies and a new one (new target_uuid, counts from zero) takes
    /// the same port.
    fn restart(mut self) -> Exporter {
        let port = self.port;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let e = Exporter::spawn(port);
            if e.port == port {
                return e;
            }
            assert!(Instant::now() < deadline, "port {port} not free again");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An authoritative DNS server for `test.internal.` on 127.0.0.1 (UDP), backed by a zone the
/// test can change while it runs.
struct Dns {
    addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    origin: Name,
    _server: Server<Catalog>,
}

impl Dns {
    async fn start() -> Dns {
        let origin = Name::from_ascii("test.internal.").expect("name");
        let zone = Arc::new(InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        ));
        let soa = SOA::new(
            Name::from_ascii("ns.test.internal.").expect("name"),
            Name::from_ascii("admin.test.internal.").expect("name"),
            1,
            60,
            60,
            60,
            0,
        );
        assert!(
            zone.upsert(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1)
                .await
        );
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![zone.clone()]);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind dns");
        let addr = socket.local_addr().expect("addr");
        let mut server = Server::new(catalog);
        server.register_socket(socket);
        Dns {
            addr,
            zone,
            origin,
            _server: server,
        }
    }

    fn name(&self, label: &str) -> Name {
        Name::from_ascii(format!("{label}.{}", self.origin)).expect("name")
    }

    async fn add_a(&self, label: &str) {
        let r = Record::from_rdata(
            self.name(label),
            0,
            RData::A(A("127.0.0.1".parse().expect("ip"))),
        );
        assert!(self.zone.upsert(r, 2).await);
    }

    async fn add_srv(&self, label: &str, target: &str, port: u16) {
        let r = Record::from_rdata(
            self.name(label),
            0,
            RData::SRV(SRV::new(0, 0, port, self.name(target))),
        );
        assert!(self.zone.upsert(r, 2).await);
    }

    /// Replaces the SRV set of `label` with only `keep`.
    async fn set_srv(&self, label: &str, keep: &[(&str, u16)]) {
        let key = RrKey::new(LowerName::new(&self.name(label)), RecordType::SRV);
        self.zone.records_mut().await.remove(&key);
        for (target, port) in keep {
            self.add_srv(label, target, *port).await;
        }
    }
}

async fn get_json(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let resp = c.get(url).bearer_auth(token).send().await.expect("get");
    assert_eq!(resp.status(), StatusCode::OK, "{url}");
    resp.json().await.expect("json")
}

/// Every item of a paged list route, following `next_cursor` through pages of 3, so each list
/// read also checks that pages neither skip nor repeat items.
async fn list_json(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let page_url = match &cursor {
            Some(cur) => format!("{url}{sep}limit=3&cursor={cur}"),
            None => format!("{url}{sep}limit=3"),
        };
        let page = get_json(c, &page_url, token).await;
        let got = page["items"].as_array().expect("a page has items");
        assert!(got.len() <= 3, "{page}");
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return Value::Array(items),
        }
    }
    panic!("{url}: more than 1000 pages");
}

/// Polls `f` until it returns Some, or fails with `what` after 60 s.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Totals per class (keys are `Class@hash`) for all keys of `service`, resolved or not.
async fn totals(
    c: &reqwest::Client,
    base: &str,
    token: &str,
) -> std::collections::BTreeMap<String, u64> {
    let v = list_json(
        c,
        &format!("{base}/api/v1/exceptions/services/shop/errors?status=all"),
        token,
    )
    .await;
    v.as_array()
        .expect("list")
        .iter()
        .map(|e| {
            let key = e["aggregation_key"].as_str().expect("key");
            let class = key.split('@').next().expect("class").to_string();
            (class, e["total_count"].as_u64().expect("count"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_are_discovered_scraped_and_aggregated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");

    // Seven instances: three static (one healthy, one hanging, one answering garbage), two
    // behind an SRV name, one behind an A name, one in a file_sd file.
    let mut fixed = Exporter::spawn(0);
    let mut hang = Exporter::spawn(0);
    let mut garbage = Exporter::spawn(0);
    let mut srv1 = Exporter::spawn(0);
    let mut srv2 = Exporter::spawn(0);
    let mut by_a = Exporter::spawn(0);
    let mut filed = Exporter::spawn(0);
    fixed.cmd("record zero 3");
    fixed.cmd("record key 2");
    srv1.cmd("record zero 4");
    srv2.cmd("record zero 5");
    by_a.cmd("record value 1");
    filed.cmd("record zero 2");
    hang.cmd("record zero 100");
    hang.cmd("hang");
    garbage.cmd("record zero 100");
    garbage.cmd("garbage");

    let dns = Dns::start().await;
    dns.add_a("node1").await;
    dns.add_a("node2").await;
    dns.add_a("single").await;
    dns.add_srv("_periskop._tcp.shop", "node1", srv1.port).await;
    dns.add_srv("_periskop._tcp.shop", "node2", srv2.port).await;

    let sd_dir = dir.path().join("sd");
    std::fs::create_dir(&sd_dir).expect("mkdir");
    let sd_file = sd_dir.join("targets.yaml");
    std::fs::write(
        &sd_file,
        format!("- targets: [\"{}\"]\n  labels: {{zone: a}}\n", filed.addr()),
    )
    .expect("write sd file");
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
periskop:
  nameserver: "{ns}"
services:
  - name: shop
    static_configs: [{{targets: ["{fixed}", "{hang}", "{garbage}"]}}]
    dns_sd_configs:
      - {{names: [_periskop._tcp.shop.test.internal], refresh_interval: 200ms}}
      - {{names: [single.test.internal], type: A, port: {a_port}, refresh_interval: 200ms}}
    file_sd_configs: [{{files: ["{glob}"], refresh_interval: 200ms}}]
    scraper: {{endpoint: /-/exceptions, refresh_interval: 200ms, timeout: 1s}}
"#,
            ns = dns.addr,
            fixed = fixed.addr(),
            hang = hang.addr(),
            garbage = garbage.addr(),
            a_port = by_a.port,
            glob = sd_dir.join("*.yaml").display(),
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();

    // Totals match what the clients reported; the hanging and the garbage targets add nothing.
    let t = eventually("totals of every healthy instance", || async {
        let t = totals(&c, &base, &token).await;
        (t.get("ZeroDivisionError") == Some(&14)).then_some(t)
    })
    .await;
    assert_eq!(t["KeyError"], 2);
    assert_eq!(t["ValueError"], 1);

    let targets = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
    let targets = targets.as_array().expect("targets");
    assert_eq!(targets.len(), 7, "{targets:#?}");
    let find = |addr: &str| {
        targets
            .iter()
            .find(|t| t["address"] == addr)
            .unwrap_or_else(|| panic!("no target {addr}: {targets:#?}"))
            .clone()
    };
    let h = find(&hang.addr());
    assert_eq!(h["health"], "down");
    assert!(
        h["last_error"]
            .as_str()
            .expect("error")
            .contains("timed out"),
        "{h}"
    );
    let g = find(&garbage.addr());
    assert_eq!(g["health"], "down");
    assert!(
        g["last_error"]
            .as_str()
            .expect("error")
            .contains("invalid JSON"),
        "{g}"
    );
    for (addr, source) in [
        (fixed.addr(), "static".to_string()),
        (
            srv1.addr(),
            "dns:_periskop._tcp.shop.test.internal".to_string(),
        ),
        (by_a.addr(), "dns:single.test.internal".to_string()),
        (filed.addr(), format!("file:{}", sd_file.display())),
    ] {
        let t = find(&addr);
        assert_eq!(t["health"], "up", "{t}");
        assert_eq!(t["source"], source.as_str(), "{t}");
        assert!(t["target_uuid"].is_string(), "{t}");
        assert!(t["last_success"].is_string(), "{t}");
    }
    assert_eq!(find(&filed.addr())["labels"]["zone"], "a");

    // Detail: occurrences newest first with the HTTP context, and the rate series adds up.
    let list = list_json(
        &c,
        &format!("{base}/api/v1/exceptions/services/shop/errors?query=keyerror"),
        &token,
    )
    .await;
    let key_error = list[0]["aggregation_key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_eq!(list.as_array().expect("list").len(), 1);
    let detail = get_json(
        &c,
        &format!("{base}/api/v1/exceptions/services/shop/errors/{key_error}"),
        &token,
    )
    .await;
    assert_eq!(detail["total_count"], 2);
    let occ = detail["occurrences"].as_array().expect("occurrences");
    assert_eq!(occ.len(), 2);
    assert_eq!(occ[0]["http_context"]["request_method"], "POST");
    assert_eq!(
        occ[0]["http_context"]["request_url"],
        "http://svc.internal/reserve/1"
    );
    assert_eq!(
        occ[1]["http_context"]["request_url"],
        "http://svc.internal/reserve/0"
    );
    let rate: u64 = detail["rate"]
        .as_array()
        .expect("rate")
        .iter()
        .map(|p| p["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(rate, 2);

    // The Periskop-compatible routes: same shapes as Periskop's server, behind a token.
    let resp = c
        .get(format!("{base}/services/"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .expect("h")
            .starts_with("Basic")
    );
    let services = get_json(&c, &format!("{base}/services/"), &token).await;
    assert_eq!(services, serde_json::json!(["shop"]));
    let resp = c
        .get(format!("{base}/services/"))
        .basic_auth("periskop-ui", Some(&token))
        .send()
        .await
        .expect("get");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "Basic auth with the token as password"
    );
    let compat = get_json(&c, &format!("{base}/services/shop/errors/"), &token).await;
    let zde = compat
        .as_array()
        .expect("list")
        .iter()
        .find(|a| {
            a["aggregation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("ZeroDivisionError@"))
        })
        .expect("zero division aggregate")
        .clone();
    assert_eq!(zde["total_count"], 14);
    assert_eq!(zde["severity"], "error");
    assert!(zde["created_at"].is_i64());
    assert!(zde["latest_errors"][0]["timestamp"].is_i64());
    assert_eq!(
        zde["latest_errors"][0]["error"]["class"],
        "ZeroDivisionError"
    );
    let compat_targets = get_json(&c, &format!("{base}/targets/"), &token).await;
    assert_eq!(compat_targets["shop"].as_array().expect("targets").len(), 7);
    assert!(
        compat_targets["shop"]
            .as_array()
            .expect("t")
            .iter()
            .any(|t| t["endpoint"] == format!("http://{}/-/exceptions", fixed.addr()))
    );

    // A restart: the new process counts from zero under a new target_uuid; its count is new.
    let mut fixed = fixed.restart();
    fixed.cmd("record zero 1");
    srv1.cmd("record zero 2");
    eventually("restart and increase counted", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&17)).then_some(())
    })
    .await;

    // Removed from DNS: the target leaves, and what it records afterwards is not counted.
    dns.set_srv("_periskop._tcp.shop", &[("node1", srv1.port)])
        .await;
    eventually("srv2 leaves the targets", || async {
        let t = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        let gone = !t
            .as_array()
            .expect("targets")
            .iter()
            .any(|t| t["address"] == srv2.addr());
        gone.then_some(())
    })
    .await;
    srv2.cmd("record zero 50");
    fixed.cmd("record zero 1");
    // Once fixed's new error is counted, srv2 had several cycles in which it was not scraped.
    eventually("fixed's increase counted", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&18)).then_some(())
    })
    .await;
    let t = totals(&c, &base, &token).await;
    assert_eq!(
        t["ZeroDivisionError"], 18,
        "the removed instance is not scraped"
    );

    // Resolve holds while the count stays, then an increase reopens it as a regression.
    let value_key = list_json(
        &c,
        &format!("{base}/api/v1/exceptions/services/shop/errors?query=valueerror"),
        &token,
    )
    .await[0]["aggregation_key"]
        .as_str()
        .expect("key")
        .to_string();
    let resp = c
        .delete(format!("{base}/services/shop/errors/{value_key}/"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let compat = get_json(&c, &format!("{base}/services/shop/errors/"), &token).await;
    assert!(
        !compat
            .as_array()
            .expect("list")
            .iter()
            .any(|a| a["aggregation_key"] == value_key.as_str()),
        "resolved keys leave the Periskop list"
    );
    let detail_url = format!("{base}/api/v1/exceptions/services/shop/errors/{value_key}");
    // Several scrapes later it is still resolved (the count did not change).
    fixed.cmd("record zero 1");
    eventually("another cycle", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&19)).then_some(())
    })
    .await;
    let d = get_json(&c, &detail_url, &token).await;
    assert_eq!(d["status"], "resolved");
    assert_eq!(d["regression"], false);
    by_a.cmd("record value 1");
    let d = eventually("regression", || async {
        let d = get_json(&c, &detail_url, &token).await;
        (d["status"] == "open").then_some(d)
    })
    .await;
    assert_eq!(d["regression"], true);
    assert_eq!(d["total_count"], 2);

    // Panoptes' own errors in Periskop format: the failing scrapes are there.
    let own: Value = c
        .get(format!("{base}/-/exceptions"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let scrape_errors: u64 = own["aggregated_errors"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|a| {
            a["aggregation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("ScrapeError@"))
        })
        .map(|a| a["total_count"].as_u64().expect("count"))
        .sum();
    assert!(scrape_errors >= 2, "{own}");
    assert!(own["target_uuid"].is_string());

    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(&format!(
            "panoptes_periskop_target_up{{service=\"shop\",target=\"{}\"}} 0",
            hang.addr()
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "panoptes_periskop_target_up{{service=\"shop\",target=\"{}\"}} 1",
        fixed.addr()
    )));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_gateway_takes_the_python_clients_push_to_gateway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let secret = "push-secret-0123456789";
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!("periskop:\n  push_tokens: [\"{secret}\"]\n"),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let c = client();

    let resp = c
        .post(server.url("/push/periskop/billing-cron/errors"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The client appends `/errors` to the address it is given; the secret rides in the URL's
    // user info, which `requests` sends as Basic auth.
    let mut job = Exporter::spawn(0);
    let gateway = format!(
        "http://push:{secret}@{}/push/periskop/billing-cron",
        server.addr
    );
    job.cmd(&format!("push {gateway} 3"));
    let url = server.url("/api/v1/exceptions/services/billing-cron/errors");
    let v = list_json(&c, &url, &token).await;
    assert_eq!(v[0]["total_count"], 3, "{v}");
    // Same process pushing again: only the increase counts.
    job.cmd(&format!("push {gateway} 2"));
    let v = list_json(&c, &url, &token).await;
    assert_eq!(v[0]["total_count"], 5, "{v}");
    // A second run of the job (new process, new target_uuid) adds its whole count.
    let mut next = Exporter::spawn(0);
    next.cmd(&format!("push {gateway} 4"));
    let v = list_json(&c, &url, &token).await;
    assert_eq!(v[0]["total_count"], 9, "{v}");

    let resp = c
        .post(server.url("/push/periskop/billing-cron/errors"))
        .bearer_auth(secret)
        .body("not json")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["code"], "invalid_json");
    drop(server);
}

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/periskop/python-client-0.2.0.json"
));

/// An HTTP target on 127.0.0.1 that serves the captured python-client export only to requests
/// carrying `want` as Authorization (and `X-Scraper: panoptes` when `header` is set).
async fn guarded_target(want: &'static str, header: bool) -> SocketAddr {
    use axum::http::HeaderMap;
    let app = axum::Router::new().route(
        "/-/exceptions",
        axum::routing::get(move |h: HeaderMap| async move {
            let auth_ok = h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want);
            let header_ok =
                !header || h.get("x-scraper").and_then(|v| v.to_str().ok()) == Some("panoptes");
            if auth_ok && header_ok {
                (axum::http::StatusCode::OK, FIXTURE.to_string())
            } else {
                (axum::http::StatusCode::UNAUTHORIZED, String::new())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A target whose export is larger than `periskop.max_body_bytes`.
async fn huge_target() -> SocketAddr {
    let app = axum::Router::new().route(
        "/-/exceptions",
        axum::routing::get(|| async { " ".repeat(2 * 1024 * 1024) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_send_credentials_and_headers_and_bodies_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let bearer = guarded_target("Bearer scrape-secret", true).await;
    // base64("scraper:pw")
    let basic = guarded_target("Basic c2NyYXBlcjpwdw==", false).await;
    let huge = huge_target().await;
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
periskop:
  max_body_bytes: 1048576
services:
  - name: shop
    static_configs: [{{targets: ["{bearer}", "{huge}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
    bearer_token: scrape-secret
    headers: {{X-Scraper: panoptes}}
  - name: billing
    static_configs: [{{targets: ["{basic}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
    basic_auth: {{username: scraper, password: pw}}
"#
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();
    // The captured export's counts: 7 ZeroDivisionError, 3 KeyError, 1 RuntimeError.
    let t = eventually("the guarded target's export", || async {
        let t = totals(&c, &base, &token).await;
        (t.len() == 3).then_some(t)
    })
    .await;
    assert_eq!(t["ZeroDivisionError"], 7);
    assert_eq!(t["KeyError"], 3);
    assert_eq!(t["RuntimeError"], 1);
    let targets = eventually("the huge target is down", || async {
        let v = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        // All three targets listed (each service's list appears after its discovery) and judged.
        let list = v.as_array().expect("targets");
        let done = [bearer, basic, huge]
            .iter()
            .all(|a| list.iter().any(|t| t["address"] == a.to_string()))
            && list.iter().all(|t| t["health"] != "unknown");
        done.then_some(v)
    })
    .await;
    let by_addr = |a: &SocketAddr| {
        targets
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["address"] == a.to_string())
            .expect("target")
            .clone()
    };
    assert_eq!(by_addr(&bearer)["health"], "up");
    assert_eq!(by_addr(&basic)["health"], "up", "{targets}");
    let h = by_addr(&huge);
    assert_eq!(h["health"], "down");
    assert!(
        h["last_error"]
            .as_str()
            .expect("error")
            .contains("larger than 1048576 bytes"),
        "{h}"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_and_resolve_survive_a_restart_without_counting_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let mut exporter = Exporter::spawn(0);
    exporter.cmd("record zero 3");
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            "periskop:\n  compat_api: public_read\nservices:\n  - name: shop\n    static_configs: [{{targets: [\"{}\"]}}]\n    scraper: {{refresh_interval: 200ms, timeout: 2s}}\n",
            exporter.addr()
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let mut server = start(dir.path(), &["--config", &config_arg]);
    let c = client();
    let base = server.url("");
    eventually("first scrape", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&3)).then_some(())
    })
    .await;
    // public_read: the Periskop UI reads without a login, but cannot resolve.
    let compat: Value = c
        .get(server.url("/services/shop/errors/"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let key = compat[0]["aggregation_key"]
        .as_str()
        .expect("key")
        .to_string();
    let resp = c
        .delete(server.url(&format!("/services/shop/errors/{key}/")))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = c
        .post(server.url(&format!(
            "/api/v1/exceptions/services/shop/errors/{key}/resolve"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("resolve");
    assert_eq!(resp.status(), StatusCode::OK);
    server.signal("TERM");
    assert!(server.wait(Duration::from_secs(30)).success());

    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let detail_url = format!("{base}/api/v1/exceptions/services/shop/errors/{key}");
    eventually("a scrape after the restart", || async {
        let t = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        (t[0]["health"] == "up").then_some(())
    })
    .await;
    let d = get_json(&c, &detail_url, &token).await;
    assert_eq!(
        d["total_count"], 3,
        "the instance's history is not counted again"
    );
    assert_eq!(d["status"], "resolved");
    exporter.cmd("record zero 1");
    let d = eventually("the new error", || async {
        let d = get_json(&c, &detail_url, &token).await;
        (d["total_count"] == 4).then_some(d)
    })
    .await;
    assert_eq!(d["status"], "open");
    assert_eq!(d["regression"], true);
    drop(server);
}

/// An https target on 127.0.0.1 with a certificate for 127.0.0.1 issued by a fresh private CA.
/// Returns its address and the CA certificate (PEM). Speaks just enough HTTP/1.1 to answer one
/// request per connection with the captured python-client export.
async fn tls_target() -> (SocketAddr, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;
    panoptes::periskop::scrape::install_crypto_provider();
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
        .expect("leaf cert");
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 65_536 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{FIXTURE}",
                    FIXTURE.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, ca_cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_are_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let (target, ca_pem) = tls_target().await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("write ca");
    let config = dir.path().join("panoptes.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
services:
  - name: shop
    scheme: https
    tls_config: {{ca_file: "{ca}", ca_only: true}}
    static_configs: [{{targets: ["{target}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
  - name: untrusted
    scheme: https
    static_configs: [{{targets: ["{target}"]}}]
    scraper: {{refresh_interval: 200ms, timeout: 2s}}
"#,
            ca = ca_file.display()
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();
    let t = eventually("the https export", || async {
        let t = totals(&c, &base, &token).await;
        (t.len() == 3).then_some(t)
    })
    .await;
    assert_eq!(t["ZeroDivisionError"], 7);
    let targets = eventually("both scraped", || async {
        let v = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        // Both services must be listed (the second one's target appears only once its
        // discovery ran) and every listed target judged; reading earlier found no "untrusted".
        let list = v.as_array().expect("targets");
        let listed = |svc: &str| list.iter().any(|t| t["service"] == svc);
        let done =
            listed("shop") && listed("untrusted") && list.iter().all(|t| t["health"] != "unknown");
        done.then_some(v)
    })
    .await;
    let of = |svc: &str| {
        targets
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["service"] == svc)
            .expect("target")
            .clone()
    };
    assert_eq!(of("shop")["health"], "up");
    assert_eq!(of("shop")["url"], format!("https://{target}/-/exceptions"));
    let u = of("untrusted");
    assert_eq!(
        u["health"], "down",
        "a certificate from an unknown CA is refused"
    );
    assert!(
        u["last_error"]
            .as_str()
            .expect("error")
            .to_lowercase()
            .contains("certificate"),
        "{u}"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changes_services_and_targets_without_losing_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test");
    let mut first = Exporter::spawn(0);
    let mut second = Exporter::spawn(0);
    first.cmd("record zero 2");
    second.cmd("record zero 5");
    let config = dir.path().join("panoptes.yaml");
    let write = |targets: &[String], extra: &str| {
        let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        std::fs::write(
            &config,
            format!(
                "services:\n  - name: shop\n    static_configs: [{{targets: [{}]}}]\n    scraper: {{refresh_interval: 200ms, timeout: 2s}}\n{extra}",
                list.join(", ")
            ),
        )
        .expect("write config");
    };
    write(&[first.addr()], "");
    let config_arg = config.display().to_string();
    let server = start(dir.path(), &["--config", &config_arg]);
    let base = server.url("");
    let c = client();
    eventually("first target counted", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&2)).then_some(())
    })
    .await;

    // Swap the target and add a service; a reload applies both at once.
    write(
        &[second.addr()],
        &format!(
            "  - name: billing\n    static_configs: [{{targets: [\"{}\"]}}]\n    scraper: {{refresh_interval: 200ms, timeout: 2s}}\n",
            first.addr()
        ),
    );
    server.signal("HUP");
    eventually("the new target counted, the old total kept", || async {
        (totals(&c, &base, &token).await.get("ZeroDivisionError") == Some(&7)).then_some(())
    })
    .await;
    let targets = eventually("targets follow the new config", || async {
        let v = list_json(&c, &format!("{base}/api/v1/exceptions/targets"), &token).await;
        let pairs: Vec<(String, String)> = v
            .as_array()
            .expect("targets")
            .iter()
            .map(|t| {
                (
                    t["service"].as_str().expect("svc").to_string(),
                    t["address"].as_str().expect("addr").to_string(),
                )
            })
            .collect();
        (pairs.len() == 2).then_some(pairs)
    })
    .await;
    assert!(
        targets.contains(&("shop".to_string(), second.addr())),
        "{targets:?}"
    );
    assert!(
        targets.contains(&("billing".to_string(), first.addr())),
        "{targets:?}"
    );
    let services = list_json(&c, &format!("{base}/api/v1/exceptions/services"), &token).await;
    let names: Vec<&str> = services
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["billing", "shop"]);
    drop(server);
}
