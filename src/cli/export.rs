//! `panoptes export` and `panoptes import`: switching in and out. Export writes the monitors
//! created through the API as a config file's `monitors:` section, from a running server
//! (`GET /api/v1/monitors/export`) or from the data file of a stopped one; import turns another
//! tool's config into Panoptes monitors.
//!
//! Owns: the commands' output and short error messages. Depends on: `probe::managed` (the
//! YAML), the store (offline), `outbound` (online), `import.rs` (Gatus).

use std::path::Path;
use std::process::ExitCode;

use panoptes::probe::managed::{self, Record};

/// Bytes of the server's answer read at most.
const MAX_EXPORT_BYTES: usize = 64 * 1024 * 1024;

/// The YAML: from the server at `server`, else from the data file `config` names.
pub async fn run(
    server: Option<String>,
    token: Option<String>,
    config: Option<panoptes::config::root::Config>,
) -> Result<String, String> {
    match (server, config) {
        (Some(url), _) => {
            let token = token.ok_or("--server needs --token (or PANOPTES_TOKEN)")?;
            online(&url, &token).await
        }
        (None, Some(config)) => {
            let store = panoptes::app::open_store(&config, &panoptes::metrics::Metrics::new())
                .map_err(|e| e.to_string())?;
            let r = offline(&store);
            store.close().await;
            r
        }
        (None, None) => Err("nothing to export from".into()),
    }
}

/// The YAML from a running server.
async fn online(base: &str, token: &str) -> Result<String, String> {
    let client =
        panoptes::outbound::default_clients().client(&panoptes::outbound::ClientOptions {
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            timeout: Some(std::time::Duration::from_secs(60)),
            ..Default::default()
        })?;
    let url = format!("{}/api/v1/monitors/export", base.trim_end_matches('/'));
    let resp = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", panoptes::outbound::error_chain(&e)))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{url}: {}", panoptes::outbound::error_chain(&e)))?;
    if body.len() > MAX_EXPORT_BYTES {
        return Err(format!(
            "{url}: answer larger than {MAX_EXPORT_BYTES} bytes"
        ));
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        let short: String = text.chars().take(300).collect();
        return Err(format!("{url}: HTTP {status}: {short}"));
    }
    Ok(text)
}

/// The YAML from a stopped server's data file.
fn offline(store: &panoptes::store::Store) -> Result<String, String> {
    let rows = store.managed_monitors().map_err(|e| e.to_string())?;
    let mut configs = Vec::with_capacity(rows.len());
    for (name, bytes) in rows {
        let r: Record = serde_json::from_slice(&bytes)
            .map_err(|e| format!("stored monitor `{name}` is unreadable: {e}"))?;
        configs.push(r.config);
    }
    Ok(managed::to_yaml(&configs.iter().collect::<Vec<_>>()))
}

/// `panoptes import gatus FILE`: the monitors on stdout, what has no counterpart on stderr.
pub fn import_gatus(file: &Path) -> Result<ExitCode, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let got = super::import::gatus(&text, &file.display().to_string())?;
    for n in &got.notes {
        eprintln!("note: {n}");
    }
    print!("{}", got.yaml);
    eprintln!(
        "{} monitor(s) imported, {} note(s); add them to your config and run `panoptes check`",
        got.monitors,
        got.notes.len()
    );
    Ok(ExitCode::SUCCESS)
}
