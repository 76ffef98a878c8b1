//! Exception scraping end to end: real `periskop-client` exporters (Python, from PyPI) on
//! 127.0.0.1, discovered statically, through a real DNS server (hickory-server, in-process, UDP)
//! answering SRV and A records, and from a file_sd file; scraped by the real `panoptes` binary.

#[path = "../common/mod.rs"]
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

use common::PYTHON;
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

mod discovery;
mod push;
mod restart;
mod security;
