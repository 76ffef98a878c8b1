//! Bugsink (PyPI `bugsink` 2.6.2, installed by `scripts/setup.sh` into `.tools/bugsink-venv`) as
//! a second real upstream: Panoptes forwards to its DSN and the events are in Bugsink's database
//! with their ids. Bugsink runs in its eager mode (`scripts/bench/bugsink-run.sh`: the digest
//! runs inside the request), so a 200 from it means the event is stored.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{KEY_A, Server, forwarding_config};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Stops the Bugsink this test started, whatever happens.
struct Bugsink {
    data: PathBuf,
}

impl Drop for Bugsink {
    fn drop(&mut self) {
        let _ = Command::new(format!("{ROOT}/scripts/bench/bugsink-run.sh"))
            .arg("stop")
            .arg(&self.data)
            .env("BUGSINK_VENV", venv())
            .status();
    }
}

fn venv() -> PathBuf {
    Path::new(ROOT).join(".tools/bugsink-venv")
}

/// Event ids Bugsink has stored (hex without dashes).
fn stored_ids(data: &Path) -> HashSet<String> {
    let out = Command::new(venv().join("bin/bugsink-manage"))
        .current_dir(data)
        .args([
            "shell",
            "-c",
            "from events.models import Event\nprint('IDS=' + ','.join(str(e.event_id).replace('-', '') for e in Event.objects.all()))",
        ])
        .output()
        .expect("bugsink-manage");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.strip_prefix("IDS="))
        .flat_map(|l| l.split(','))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bugsink_receives_forwarded_events_with_their_ids() {
    assert!(
        venv().join("bin/bugsink-manage").exists(),
        "Bugsink is not installed: run scripts/setup.sh"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let data = dir.path().join("bugsink");
    let out = Command::new(format!("{ROOT}/scripts/bench/bugsink-run.sh"))
        .arg(port.to_string())
        .arg(&data)
        .env("BUGSINK_VENV", venv())
        .env("BUGSINK_MODE", "eager")
        .output()
        .expect("bugsink-run.sh");
    let _guard = Bugsink { data: data.clone() };
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let dsn = text
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("DSN="))
        .unwrap_or_else(|| {
            panic!(
                "bugsink did not start: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string();
    let a_dir = tempfile::tempdir().expect("tempdir");
    let a = Server::start(a_dir.path(), &forwarding_config(&dsn, 1000));
    let mut sent = HashSet::new();
    for n in 0..5 {
        sent.insert(a.send(7, KEY_A, n).await);
    }
    let c = a
        .count_until("forwarded to Bugsink", |c| c["count"] == 0)
        .await;
    assert_eq!(c["processed"], 5, "{c}; A:\n{}", a.run.log_text());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = stored_ids(&data);
        if sent.is_subset(&got) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Bugsink has {got:?}, sent {sent:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
