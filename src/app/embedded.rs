//! What the embedded default config gains at start, so that `make run` with no config file is
//! useful at once: Panoptes probing its own health check, and a Sentry project ready for an SDK.
//!
//! Owns: the default project's key file (`default-project.key` in the data directory).
//! Depends on: `config::root` (the additions are decoded like any config), `probe`, `sentry`.

use std::net::SocketAddr;

use crate::config;

/// The Sentry project the embedded default config gains, so an SDK can send to a fresh install
/// right after `make run`: id 1, named `default`, with a key made on the first start and kept
/// in the data directory (`default-project.key`, next to the data file; readable by its owner
/// only), so the DSN stays the same across restarts.
pub fn default_project(
    data_dir: &std::path::Path,
) -> Result<crate::sentry::config::ProjectConfig, String> {
    let path = data_dir.join("default-project.key");
    let key = match std::fs::read_to_string(&path) {
        Ok(k) if is_key(k.trim()) => k.trim().to_string(),
        Ok(_) => {
            return Err(format!(
                "{}: not a project key (32 hex digits); delete it for a new one",
                path.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 16];
            rand::fill(&mut bytes);
            let key = hex::encode(bytes);
            std::fs::create_dir_all(data_dir)
                .and_then(|()| write_private(&path, &key))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            key
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let yaml = format!("projects:\n  - {{id: 1, name: default, keys: [{key}]}}\n");
    config::root::parse(&yaml, "<embedded>", &|_| None)
        .map_err(|e| e.to_string())?
        .projects
        .pop()
        .ok_or_else(|| "the default project did not decode".to_string())
}

fn is_key(k: &str) -> bool {
    k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit())
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(format!("{text}\n").as_bytes())
}

/// The monitor the embedded default config gains: Panoptes probing its own health check, so a
/// new user sees a live check at once.
pub fn self_monitor(addr: SocketAddr) -> Option<crate::probe::config::MonitorConfig> {
    let host = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::IpAddr::from([127, 0, 0, 1]), addr.port())
    } else {
        addr
    };
    let yaml = format!(
        "monitors:\n  - name: panoptes\n    group: panoptes\n    type: http\n    url: http://{host}/healthz\n    interval: 10s\n    conditions: [\"[STATUS] == 200\", \"[BODY].status == ok\"]\n"
    );
    // The text above is fixed and covered by a test.
    config::root::parse(&yaml, "<embedded>", &|_| None)
        .ok()
        .and_then(|mut c| (!c.monitors.is_empty()).then(|| c.monitors.remove(0)))
}
