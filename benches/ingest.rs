//! Sentry ingest throughput: captured SDK requests replayed by `wrk` (Debian package `wrk`,
//! Lua script `scripts/bench/sentry.lua`) at concurrency 1, 8 and 64, against three servers in
//! the same run: a bare axum handler that answers 200 (the ceiling of this machine and load
//! generator), Panoptes (release binary, its own process and data directory), and Bugsink
//! (`pip install bugsink`, its single-server setup; with `--bugsink`).
//!
//!     cargo bench --bench ingest -- [--secs 10] [--concurrency 1,8,64] [--bugsink]
//!
//! Each row also gives the server's CPU time per accepted request, and a table after the rows
//! what each step of the request path costs on one core.
//!
//! Two loads: "same error" (the Python SDK's ZeroDivisionError event, a fresh event id each
//! request: one issue, flood control applies) and "distinct errors" (the exception type renamed
//! per request: every event a new issue, stored in full). Panoptes answers 200 only after the
//! event is durably in its inbox (fsynced); after each run the bench also times how long the
//! digest needs to group the backlog.

#[path = "util.rs"]
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// The server's allocator, so the stage timings below are what the server pays.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const KEY: &str = "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43";
/// The captured request every load is built from (`scripts/bench/sentry.lua`'s default).
const FIXTURE: &str = "fixtures/sentry/python-sdk-2.75.0/001";

/// What one wrk run measured.
struct Run {
    ok_per_s: f64,
    /// Non-200 answers, refused connections and timeouts.
    errors: u64,
    p50: f64,
    p99: f64,
    /// wrk's own CPU seconds over the run: what the same cores spent on the other side.
    cpu_s: f64,
}

impl Run {
    /// CPU microseconds per accepted request, for `cpu_s` spent over this run of `secs`.
    fn per_request(&self, cpu_s: f64, secs: u64) -> f64 {
        let n = self.ok_per_s * secs as f64;
        if n > 0.0 { cpu_s * 1e6 / n } else { f64::NAN }
    }
}

struct Row {
    target: String,
    load: &'static str,
    c: usize,
    run: Run,
    rss_mib: f64,
    /// The server's CPU seconds (its process's user + system) over the run; NaN if not measured.
    server_cpu_s: f64,
    note: String,
}

/// Microseconds per call of `f`, the best of three rounds of `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

/// What each step of the request path costs on one core, for the fixture the loads send: the
/// floor under any request that reads the event (a validating JSON pass that builds nothing),
/// and the steps Panoptes takes. Compared with the bare handler's CPU per request, it says how
/// much of the budget a given share of the ceiling leaves.
struct Stages {
    envelope_bytes: usize,
    inbox_row_bytes: usize,
    /// (step, µs per call)
    steps: Vec<(&'static str, f64)>,
}

fn stages() -> Stages {
    use panoptes::sentry::event;
    use panoptes::sentry::record::{InboxHeader, Kind, decode_row, encode_row};
    let body = std::fs::read(format!("{ROOT}/{FIXTURE}.decoded")).expect("fixture");
    let env = panoptes::sentry::envelope::parse(&body).expect("fixture envelope");
    let payload = env.items.first().expect("an item").payload.to_vec();
    let value = event::lean::parse(&payload).expect("fixture event");
    let summary = event::summarize(&value);
    let header = InboxHeader {
        kind: Kind::Sampled,
        project: 7,
        received_ms: 1,
        event_id: Some("b2009f4eb987439db47ea6680d56339e".into()),
        summary: Some(summary),
        filename: None,
        content_type: None,
        attachment_type: None,
    };
    let row_bytes = encode_row(&header, &[]).len();
    let n = 20_000;
    let steps = vec![
        (
            "validate the event as JSON, build nothing (serde IgnoredAny)",
            per_call(n, || {
                let r = serde_json::from_slice::<serde::de::IgnoredAny>(&payload);
                std::hint::black_box(r.is_ok());
            }),
        ),
        (
            "frame the envelope (envelope::parse)",
            per_call(n, || {
                std::hint::black_box(panoptes::sentry::envelope::parse(&body).is_ok());
            }),
        ),
        (
            "parse the event for grouping (event::lean::parse)",
            per_call(n, || {
                std::hint::black_box(event::lean::parse(&payload).is_ok());
            }),
        ),
        (
            "summarize: group hash, title, tags (event::summarize)",
            per_call(n, || {
                std::hint::black_box(event::summarize(&value));
            }),
        ),
        (
            "encode and decode the inbox row (record)",
            per_call(n, || {
                let r = encode_row(&header, &[]);
                std::hint::black_box(decode_row(&r).is_some());
            }),
        ),
    ];
    Stages {
        envelope_bytes: body.len(),
        inbox_row_bytes: row_bytes,
        steps,
    }
}

fn wrk(url: &str, key: &str, project: &str, c: usize, secs: u64, errors: &str) -> Run {
    let threads = c.min(2);
    let children0 = util::children_cpu_seconds();
    let out = Command::new("wrk")
        .current_dir(ROOT)
        .args([
            &format!("-t{threads}"),
            &format!("-c{c}"),
            &format!("-d{secs}s"),
            "--latency",
            "-s",
            "scripts/bench/sentry.lua",
            url,
            "--",
            "mode=distinct",
            &format!("errors={errors}"),
            &format!("key={key}"),
            &format!("project={project}"),
        ])
        .output()
        .expect("run wrk (apt-get install wrk)");
    // wrk has been waited for, so its CPU time is in this process's children's.
    let cpu_s = util::children_cpu_seconds() - children0;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no RESULT:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let errors = (field("requests") - field("ok")) as u64
        + field("errors_connect") as u64
        + field("timeout") as u64;
    Run {
        ok_per_s: field("ok_per_s"),
        errors,
        p50: field("p50_ms"),
        p99: field("p99_ms"),
        cpu_s,
    }
}

/// Sum of VmRSS over a process tree (gunicorn master + workers + snappea).
fn tree_rss_mib(pids: &[u32]) -> f64 {
    let mut all: Vec<u32> = pids.to_vec();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid.is_some_and(|p| pids.contains(&p)) {
                all.push(pid);
            }
        }
    }
    all.iter().map(|p| util::pid_mem_mib(*p, "VmRSS")).sum()
}

fn bare_handler() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = axum::Router::new().fallback(|| async { axum::Json(serde_json::json!({})) });
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr").port()).expect("send");
            axum::serve(l, app).await.expect("serve");
        });
    });
    rx.recv().expect("port")
}

/// The Bugsink release compared against (pinned, so reruns compare like with like).
const BUGSINK_VERSION: &str = "2.6.2";

fn panoptes(dir: &Path) -> util::Server {
    let data = dir.join("data");
    let cfg = dir.join("panoptes.yaml");
    std::fs::create_dir_all(dir).expect("row directory");
    std::fs::write(
        &cfg,
        format!("projects:\n  - id: 7\n    name: bench\n    keys: [{KEY}]\n"),
    )
    .expect("config");
    util::start_server(env!("CARGO_BIN_EXE_panoptes"), &cfg, &data)
}

/// Seconds until Panoptes' digest has grouped everything received.
fn drain(p: &util::Server) -> f64 {
    let t = Instant::now();
    loop {
        let out = Command::new("curl")
            .args(["-s", "-H", &format!("Authorization: Bearer {}", p.token)])
            .arg(format!("http://127.0.0.1:{}/api/v1/ingest/stats", p.port))
            .output()
            .expect("curl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if v["backlog"].as_u64() == Some(0) || t.elapsed() > Duration::from_secs(600) {
            return t.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Bugsink {
    data: PathBuf,
    port: u16,
    key: String,
    project: String,
}

fn bugsink(dir: &Path) -> Option<Bugsink> {
    let venv = PathBuf::from(ROOT).join(".tools/bugsink-venv");
    if !venv.join("bin/bugsink-manage").exists() {
        eprintln!("installing bugsink into {}", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .ok()?
            .success()
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", &format!("bugsink=={BUGSINK_VERSION}")])
                .status()
                .ok()?
                .success();
        if !ok {
            eprintln!("could not install bugsink; skipping it");
            return None;
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let data = dir.join("bugsink");
    let out = Command::new(format!("{ROOT}/scripts/bench/bugsink-run.sh"))
        .arg(port.to_string())
        .arg(&data)
        .env("BUGSINK_VENV", &venv)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let get = |k: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    match (get("DSN_KEY"), get("PROJECT_ID")) {
        (Some(key), Some(project)) => Some(Bugsink {
            data,
            port,
            key,
            project,
        }),
        _ => {
            eprintln!(
                "bugsink did not start: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let secs: u64 = arg("--secs").and_then(|s| s.parse().ok()).unwrap_or(10);
    let cs: Vec<usize> = arg("--concurrency")
        .unwrap_or_else(|| "1,8,64".into())
        .split(',')
        .filter_map(|c| c.parse().ok())
        .collect();
    let with_bugsink = args.iter().any(|a| a == "--bugsink");
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("needs wrk: apt-get install wrk");
        std::process::exit(1);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let loads = [("same error", "same"), ("distinct errors", "distinct")];
    let mut rows = Vec::new();

    let bare = bare_handler();
    for (load, errors) in loads {
        for &c in &cs {
            // The bare handler runs in this process, whose other threads sleep meanwhile.
            let cpu0 = util::cpu_seconds();
            let run = wrk(
                &format!("http://127.0.0.1:{bare}"),
                KEY,
                "7",
                c,
                secs,
                errors,
            );
            rows.push(Row {
                target: "bare axum 200 (ceiling)".into(),
                load,
                c,
                run,
                rss_mib: util::peak_rss_mib(),
                server_cpu_s: util::cpu_seconds() - cpu0,
                note: String::new(),
            });
        }
    }

    for (load, errors) in loads {
        for &c in &cs {
            // A fresh server and data file per row: each row's figures (peak RSS above all)
            // are its own, not what the rows before it left behind.
            let row_dir = dir
                .path()
                .join(format!("panoptes-{}-c{c}", load.replace(' ', "-")));
            let mut p = panoptes(&row_dir);
            let cpu0 = util::pid_cpu_seconds(p.child.id());
            let run = wrk(
                &format!("http://127.0.0.1:{}", p.port),
                KEY,
                "7",
                c,
                secs,
                errors,
            );
            let cpu = util::pid_cpu_seconds(p.child.id()) - cpu0;
            let lag = drain(&p);
            rows.push(Row {
                target: "Panoptes (200 = fsynced)".into(),
                load,
                c,
                run,
                rss_mib: util::pid_mem_mib(p.child.id(), "VmHWM"),
                server_cpu_s: cpu,
                note: format!("digest caught up {lag:.1} s after the run"),
            });
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }

    if with_bugsink && let Some(b) = bugsink(dir.path()) {
        let pid_of = |f: &str| {
            std::fs::read_to_string(b.data.join(f))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
        };
        let pids: Vec<u32> = ["gunicorn.pid", "snappea.pid"]
            .iter()
            .filter_map(|f| pid_of(f))
            .collect();
        for (load, errors) in loads {
            for &c in &cs {
                let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let (s2, pids2) = (stop.clone(), pids.clone());
                let sampler = std::thread::spawn(move || {
                    let mut peak: f64 = 0.0;
                    while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                        peak = peak.max(tree_rss_mib(&pids2));
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    peak
                });
                let run = wrk(
                    &format!("http://127.0.0.1:{}", b.port),
                    &b.key,
                    &b.project,
                    c,
                    secs,
                    errors,
                );
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                let rss = sampler.join().unwrap_or(0.0);
                rows.push(Row {
                    target: "Bugsink (async: 200 = spooled)".into(),
                    load,
                    c,
                    run,
                    rss_mib: rss,
                    server_cpu_s: f64::NAN,
                    note: String::new(),
                });
            }
        }
        let count = Command::new(format!("{ROOT}/scripts/bench/bugsink-run.sh"))
            .arg("count")
            .arg(&b.data)
            .env(
                "BUGSINK_VENV",
                PathBuf::from(ROOT).join(".tools/bugsink-venv"),
            )
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        println!("bugsink after the runs: {count}");
        let _ = Command::new(format!("{ROOT}/scripts/bench/bugsink-run.sh"))
            .arg("stop")
            .arg(&b.data)
            .status();
    }

    println!(
        "\n{secs} s per row, wrk -t min(c,2); every load sends uncompressed envelopes built from {FIXTURE}\n"
    );
    println!(
        "| server | load | c | accepted/s | non-200 | p50 ms | p99 ms | peak RSS MiB | server CPU µs/request | wrk CPU µs/request | note |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {:.2} | {:.2} | {:.0} | {:.1} | {:.1} | {} |",
            r.target,
            r.load,
            r.c,
            r.run.ok_per_s,
            r.run.errors,
            r.run.p50,
            r.run.p99,
            r.rss_mib,
            r.run.per_request(r.server_cpu_s, secs),
            r.run.per_request(r.run.cpu_s, secs),
            r.note
        );
    }
    let st = stages();
    println!(
        "\nOne core, the fixture's envelope ({} bytes; its inbox row {} bytes), µs per call:\n",
        st.envelope_bytes, st.inbox_row_bytes
    );
    println!("| step | µs |\n|---|---:|");
    for (name, us) in st.steps {
        println!("| {name} | {us:.2} |");
    }
}
