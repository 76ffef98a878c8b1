//! Runs the real `panoptes` binary for end-to-end tests: a temp data dir, port 0, JSON logs
//! parsed for the bound address, a health-check wait, and signals for shutdown.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Python with the real SDKs and tools the tests drive (`scripts/setup.sh` makes it).
pub const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/python");
/// Sends with the official `sentry-sdk` (Python).
pub const PY_SDK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/sentry_sdk_client.py"
);
/// Where `@sentry/node` is installed (`npm ci` by `scripts/setup.sh`).
pub const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");

pub const BIN: &str = env!("CARGO_BIN_EXE_panoptes");

pub fn panoptes() -> Command {
    let mut c = Command::new(BIN);
    without_panoptes_env(&mut c);
    c
}

/// Tests must not pick up a developer's environment (`PANOPTES_CONFIG`, ...).
pub fn without_panoptes_env(c: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("PANOPTES_") {
            c.env_remove(k);
        }
    }
}

pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    pub logs: Arc<Mutex<Vec<String>>>,
    pub data_dir: PathBuf,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for exit (bounded) and returns the status.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "panoptes did not exit within {within:?}; logs:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self
                .logs
                .lock()
                .ok()
                .and_then(|l| l.iter().find(|l| l.contains(needle)).cloned())
            {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line containing {needle:?} within {within:?}; logs:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `panoptes serve` on 127.0.0.1:0 with `args` and waits until it serves.
pub fn start(data_dir: &Path, args: &[&str]) -> Running {
    let mut cmd = panoptes();
    cmd.args([
        "--log-format",
        "json",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(data_dir)
    .args(args);
    spawn_serving(cmd, data_dir)
}

/// Spawns `cmd` (a `panoptes serve` with JSON logs on 127.0.0.1:0, possibly behind a wrapper
/// such as `prlimit`), collects its log lines and waits until it serves.
pub fn spawn_serving(mut cmd: Command, data_dir: &Path) -> Running {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn panoptes");
    let stderr = child.stderr.take().expect("stderr");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("panoptes is serving") {
                let _ = tx.send(line.clone());
            }
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    let line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output().ok();
            panic!(
                "panoptes did not start: {:?}\n{}",
                out.map(|o| o.status),
                logs.lock().map(|l| l.join("\n")).unwrap_or_default()
            );
        }
    };
    let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
    let addr: SocketAddr = v["fields"]["addr"]
        .as_str()
        .expect("addr field")
        .parse()
        .expect("socket addr");
    Running {
        child,
        addr,
        logs,
        data_dir: data_dir.to_path_buf(),
    }
}

/// `panoptes user add NAME` with the password on stdin (an admin).
pub fn add_user(data_dir: &Path, name: &str, password: &str) {
    add_user_as(data_dir, name, password, "admin");
}

/// `panoptes user add NAME --role ROLE` with the password on stdin.
pub fn add_user_as(data_dir: &Path, name: &str, password: &str, role: &str) {
    let mut child = panoptes()
        .args(["user", "add", name, "--role", role, "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write password");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "user add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `panoptes token create NAME`; returns the token.
pub fn create_token(data_dir: &Path, name: &str) -> String {
    let out = panoptes()
        .args(["token", "create", name, "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run token create");
    assert!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// A port for a program that must be told its port before it starts (Alertmanager, Prometheus,
/// chromedriver, the SMTP sink), where binding port 0 and reading the address back is not possible.
///
/// Why not "bind port 0, drop, reuse": the kernel hands out the ports it just freed to the next
/// `bind(0)` or outgoing connection of any test running in parallel, so the program can find
/// its port taken. These ports lie below the ephemeral range (32768-60999 on Linux), which the
/// kernel never assigns by itself; only an explicit bind can take one, and the ones this
/// process handed out are remembered so two tests never get the same one.
pub fn reserved_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    // Spread across processes (test binaries can run side by side) by the process id.
    let span = 12_000u32;
    let start = std::process::id().wrapping_mul(2_654_435_761) % span;
    for i in 0..span {
        let port = (20_000 + (start + i * 7) % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port in 20000-31999");
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a default rustls provider (the server installs ring's).
    panoptes::outbound::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}
