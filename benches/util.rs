//! Process measurements and the Panoptes server process shared by the bench binaries (included
//! with `#[path]`).

#![allow(dead_code)]

/// The value after `name` on the command line (`--secs 8`), else `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) of this process so far.
pub fn cpu_seconds() -> f64 {
    pid_cpu_seconds("self")
}

/// CPU seconds (user + system) of process `pid` (a number, or `self`) so far; 0 if it is gone.
pub fn pid_cpu_seconds(pid: impl std::fmt::Display) -> f64 {
    // utime and stime are fields 14 and 15 of /proc/pid/stat.
    stat_seconds(pid, 14, 15)
}

/// CPU seconds (user + system) of this process's children that it has waited for.
pub fn children_cpu_seconds() -> f64 {
    // cutime and cstime are fields 16 and 17 of /proc/pid/stat.
    stat_seconds("self", 16, 17)
}

/// The sum of two clock-tick fields of `/proc/PID/stat` (numbered from 1, as in proc(5)), in
/// seconds; 0 if the process is gone.
fn stat_seconds(pid: impl std::fmt::Display, a: usize, b: usize) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')', with
    // field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(a) + ticks(b)) / 100.0
}

/// Peak resident set size of this process (VmHWM), MiB.
pub fn peak_rss_mib() -> f64 {
    pid_mem_mib("self", "VmHWM")
}

/// A memory figure of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...) in MiB; 0 if it is gone.
pub fn pid_mem_mib(pid: impl std::fmt::Display, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Panoptes in its own process (the release binary), killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub port: u16,
    /// An API token created before the start.
    pub token: String,
}

impl Drop for Server {
    /// SIGTERM and up to 20 s for the clean shutdown a service manager would allow, then
    /// SIGKILL: a killed server's next start repairs its data file first (redb scans all of
    /// it), which a restart bench would otherwise measure instead of the start.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // stopped (and reaped) already: its pid may be another process's now
        }
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates an API token in `data`, then `serve`.
pub fn start_server(bin: &str, cfg: &std::path::Path, data: &std::path::Path) -> Server {
    let token = create_token(bin, data);
    serve(bin, cfg, data, token)
}

/// An API token created offline in `data` (`panoptes token create`).
pub fn create_token(bin: &str, data: &std::path::Path) -> String {
    let out = std::process::Command::new(bin)
        .args(["token", "create", "bench", "--data-dir"])
        .arg(data)
        .output()
        .expect("token");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts `panoptes serve` on 127.0.0.1:0 with `cfg` and waits (up to a minute) for its
/// "serving" line to learn the port; `token` is one created before.
pub fn serve(bin: &str, cfg: &std::path::Path, data: &std::path::Path, token: String) -> Server {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn panoptes");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("panoptes is serving") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("panoptes started");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json log");
    let port = v["fields"]["addr"]
        .as_str()
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("port");
    Server { child, port, token }
}

/// `n` local HTTP targets in this process, each answering `GET /health/{id}` with
/// `{"status": "UP"}`: what the probing benchmarks check.
pub async fn http_targets(n: usize) -> Vec<std::net::SocketAddr> {
    let mut addrs = Vec::new();
    for _ in 0..n {
        let app = axum::Router::new().route(
            "/health/{id}",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "UP"})) }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        addrs.push(l.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(l, app).await });
    }
    addrs
}
