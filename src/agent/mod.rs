//! Probing agents: the same binary run elsewhere, checking the monitors assigned to its
//! location and reporting results to the server.
//!
//! Owns: agent tokens (their own kind: an agent token fetches its location's assignments and
//! posts its location's results, nothing else; stored only as a SHA-256 like API tokens),
//! the agent records (version, last seen, progress), result batches (bounded, gzip, idempotent
//! by sequence). The decision across locations is probing's (`probe::quorum`): the combined state
//! is the monitor's state, which alerts and status pages follow. Depends on:
//! `store` (the agent tables), `probe` (assignments and each location's series; the agent runs
//! a `ProbeEngine` of its own, `run.rs`), `auth` (secret generation and hashing), `config` (the
//! monitor decoder, `node.rs`), `outbound`, `events`, `clock`.
//!
//! Idempotence: each result carries the agent's sequence number; the highest accepted one is
//! stored in the agent's record in the same write as the results, so a batch sent again after
//! a lost answer (or a crash on either side) is counted once.

pub mod events;
pub mod node;
pub mod run;
pub mod wire;

use std::io::Read;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::{audit, new_secret, sha256_hex};
use crate::clock::{SharedClock, rfc3339};
use crate::events::Publisher;
use crate::probe::locations::{RemoteResult, valid_location};
use crate::probe::quorum;
use crate::probe::{ProbeEngine, ProbeError};
use crate::store::agents::AgentsWrite;
use crate::store::records::{decode, encode};
use crate::store::{Store, StoreError, Write};
use events::AgentEvent;
use wire::{Accepted, AgentInfo, Assignment, Assignments, Batch, CreatedAgent};

/// Prefix of agent tokens (API tokens are `pnp_`).
pub const TOKEN_PREFIX: &str = "pnpa_";
/// Largest result batch as sent (compressed).
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Largest result batch once decompressed.
pub const MAX_DECOMPRESSED_BYTES: u64 = 32 * 1024 * 1024;
/// Most results in one batch.
pub const MAX_RESULTS: usize = 50_000;
const MAX_NAME: usize = 64;
const MAX_VERSION: usize = 64;
const MAX_ERROR: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Exists(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

/// An agent as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AgentRecord {
    location: String,
    token_hash: String,
    created_at_ms: u64,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    first_seen_ms: Option<u64>,
    #[serde(default)]
    last_seen_ms: Option<u64>,
    #[serde(default)]
    last_seq: u64,
    #[serde(default)]
    results: u64,
    #[serde(default)]
    duplicates: u64,
    #[serde(default)]
    lag_ms: Option<u64>,
}

/// An authenticated agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub name: String,
    pub location: String,
}

fn check_name(name: &str) -> Result<(), AgentError> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(AgentError::Invalid(format!(
            "agent name must be 1 to {MAX_NAME} of [A-Za-z0-9._-]"
        )));
    }
    Ok(())
}

/// Creates an agent; its token is returned once and stored only as a hash. Used by the API and
/// by `panoptes agent token` (the data file of a stopped server).
pub async fn create(
    store: &Store,
    clock: &SharedClock,
    actor: &str,
    name: &str,
    location: &str,
) -> Result<CreatedAgent, AgentError> {
    check_name(name)?;
    if !valid_location(location) {
        return Err(AgentError::Invalid(
            "location must be 1 to 64 of [A-Za-z0-9._-]".into(),
        ));
    }
    let key = name.to_string();
    if store.read(move |s| s.agent(&key)).await?.is_some() {
        return Err(AgentError::Exists(format!(
            "an agent named `{name}` exists; revoke it first"
        )));
    }
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let now = clock.now_ms();
    let record = AgentRecord {
        location: location.to_string(),
        token_hash: sha256_hex(&token),
        created_at_ms: now,
        ..Default::default()
    };
    store
        .write(vec![
            Write::Agents(AgentsWrite::Put {
                name: name.to_string(),
                record: encode(&record),
                token_hash: Some(record.token_hash.clone()),
            }),
            audit(now, actor, "agent.create", &format!("{name} ({location})")),
        ])
        .await?;
    Ok(CreatedAgent {
        name: name.to_string(),
        location: location.to_string(),
        token,
    })
}

/// The agents' side of the server; cheap to clone.
#[derive(Clone)]
pub struct Agents {
    store: Store,
    clock: SharedClock,
    probes: ProbeEngine,
    /// One batch (or revocation) at a time: the sequence check and the write that moves it
    /// must not interleave with another's.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// When agents are heard from (alerting tells a silent one by it).
    events: Publisher<AgentEvent>,
}

impl Agents {
    pub fn new(
        store: Store,
        clock: SharedClock,
        probes: ProbeEngine,
        events: Publisher<AgentEvent>,
    ) -> Agents {
        Agents {
            store,
            clock,
            probes,
            turn: Arc::new(tokio::sync::Mutex::new(())),
            events,
        }
    }

    /// Reports every known agent with when it was last heard from (its creation if never), so
    /// an agent that went silent before a restart is still noticed after it.
    pub async fn announce(&self) -> Result<(), AgentError> {
        let mut after: Option<String> = None;
        loop {
            let from = after.clone();
            let rows = self
                .store
                .read(move |s| s.agents(from.as_deref(), 500))
                .await?;
            let Some((last, _)) = rows.last() else {
                return Ok(());
            };
            after = Some(last.clone());
            let full = rows.len() == 500;
            for (name, bytes) in rows {
                let r: AgentRecord = decode(&bytes)?;
                self.events.publish(AgentEvent::Seen {
                    name,
                    location: r.location,
                    at_ms: r.last_seen_ms.unwrap_or(r.created_at_ms),
                });
            }
            if !full {
                return Ok(());
            }
        }
    }

    pub async fn create(
        &self,
        actor: &str,
        name: &str,
        location: &str,
    ) -> Result<CreatedAgent, AgentError> {
        create(&self.store, &self.clock, actor, name, location).await
    }

    async fn record(&self, name: &str) -> Result<Option<AgentRecord>, AgentError> {
        let key = name.to_string();
        match self.store.read(move |s| s.agent(&key)).await? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Revokes an agent: its token stops working at once.
    pub async fn revoke(&self, actor: &str, name: &str) -> Result<(), AgentError> {
        let _turn = self.turn.lock().await;
        let r = self
            .record(name)
            .await?
            .ok_or_else(|| AgentError::NotFound(format!("no agent named `{name}`")))?;
        let now = self.clock.now_ms();
        self.store
            .write(vec![
                Write::Agents(AgentsWrite::Remove {
                    name: name.to_string(),
                    token_hash: r.token_hash,
                }),
                audit(now, actor, "agent.revoke", name),
            ])
            .await?;
        self.events.publish(AgentEvent::Revoked {
            name: name.to_string(),
        });
        Ok(())
    }

    /// Agents by name after `after`; `limit + 1` are read to tell whether more follow.
    pub async fn list(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<AgentInfo>, bool), AgentError> {
        let rows = self
            .store
            .read(move |s| s.agents(after.as_deref(), limit + 1))
            .await?;
        let more = rows.len() > limit;
        let mut out = Vec::with_capacity(rows.len().min(limit));
        for (name, bytes) in rows.into_iter().take(limit) {
            let r: AgentRecord = decode(&bytes)?;
            let rate = match (r.first_seen_ms, r.last_seen_ms) {
                (Some(a), Some(b)) if b > a => Some(r.results as f64 * 60_000.0 / (b - a) as f64),
                _ => None,
            };
            out.push(AgentInfo {
                name,
                location: r.location,
                version: r.version,
                created_at: rfc3339(r.created_at_ms),
                last_seen: r.last_seen_ms.map(rfc3339),
                lag_ms: r.lag_ms,
                results_per_minute: rate,
                results_total: r.results,
                duplicates_total: r.duplicates,
                last_sequence: r.last_seq,
            });
        }
        Ok((out, more))
    }

    /// The agent behind a bearer token (only agent tokens: an API token is refused here, and
    /// an agent token is unknown to every other route).
    pub async fn authenticate(&self, secret: &str) -> Result<Agent, AgentError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(AgentError::Unauthorized(
                "this route takes an agent token (`pnpa_...`)".into(),
            ));
        }
        let hash = sha256_hex(secret);
        let name = self
            .store
            .read(move |s| s.agent_by_token(&hash))
            .await?
            .ok_or_else(|| AgentError::Unauthorized("unknown or revoked agent token".into()))?;
        let r = self
            .record(&name)
            .await?
            .ok_or_else(|| AgentError::Unauthorized("unknown or revoked agent token".into()))?;
        // Any authenticated contact counts as heard from: an agent with nothing assigned
        // still polls its assignments.
        self.events.publish(AgentEvent::Seen {
            name: name.clone(),
            location: r.location.clone(),
            at_ms: self.clock.now_ms(),
        });
        Ok(Agent {
            name,
            location: r.location,
        })
    }

    /// The monitors the agent's location checks, with a version that changes when they do.
    pub fn assignments(&self, agent: &Agent) -> Assignments {
        let mut monitors: Vec<Assignment> = self
            .probes
            .assigned(&agent.location)
            .into_iter()
            .map(|m| Assignment {
                kind: m.kind.type_name().to_string(),
                target: m.kind.target(),
                interval_ms: m.interval.get().as_millis() as u64,
                timeout_ms: m.timeout.get().as_millis() as u64,
                retries: m.retries,
                locations: m.locations.clone(),
                quorum: m.quorum,
                config: node::to_json(&m.source),
                name: m.name,
            })
            .collect();
        monitors.sort_by(|a, b| a.name.cmp(&b.name));
        let version = sha256_hex(&serde_json::to_string(&monitors).unwrap_or_default());
        Assignments {
            location: agent.location.clone(),
            version: version.chars().take(16).collect(),
            monitors,
        }
    }

    /// Takes a batch of results: decompresses it off the async workers (bounded), skips what
    /// was accepted before, and stores the rest with the agent's progress in one write.
    pub async fn ingest(
        &self,
        agent: &Agent,
        version: Option<String>,
        body: bytes::Bytes,
        gzip: bool,
    ) -> Result<Accepted, AgentError> {
        let batch: Batch = tokio::task::spawn_blocking(move || decode_batch(&body, gzip))
            .await
            .map_err(|e| AgentError::Invalid(format!("batch not decoded: {e}")))??;
        if batch.results.len() > MAX_RESULTS {
            return Err(AgentError::TooLarge(format!(
                "at most {MAX_RESULTS} results per batch"
            )));
        }
        let _turn = self.turn.lock().await;
        let mut r = self
            .record(&agent.name)
            .await?
            .ok_or_else(|| AgentError::Unauthorized("unknown or revoked agent token".into()))?;
        let now = self.clock.now_ms();
        let mut results = batch.results;
        results.sort_by_key(|x| x.seq);
        let before = results.len();
        results.retain(|x| x.seq > r.last_seq);
        results.dedup_by_key(|x| x.seq);
        let duplicates = before - results.len();
        let last_seq = results.last().map_or(r.last_seq, |x| x.seq);
        let newest = results.iter().map(|x| x.at_ms).max();
        let remote: Vec<RemoteResult> = results
            .into_iter()
            .map(|x| RemoteResult {
                monitor: x.monitor,
                location: agent.location.clone(),
                at_ms: x.at_ms,
                ok: x.ok,
                latency_ms: x.latency_ms,
                status: x.status,
                error: x.error.map(|e| clip(&e, MAX_ERROR)),
            })
            .collect();
        let n = remote.len();
        r.last_seq = last_seq;
        r.results += n as u64;
        r.duplicates += duplicates as u64;
        r.first_seen_ms.get_or_insert(now);
        r.last_seen_ms = Some(now);
        if let Some(v) = version {
            r.version = Some(clip(&v, MAX_VERSION));
        }
        if let Some(newest) = newest {
            r.lag_ms = Some(now.saturating_sub(newest));
        }
        let progress = Write::Agents(AgentsWrite::Put {
            name: agent.name.clone(),
            record: encode(&r),
            token_hash: None,
        });
        let recorded = self.probes.record_remote(remote, vec![progress]).await?;
        Ok(Accepted {
            accepted: recorded,
            duplicates,
            skipped: n - recorded,
            last_sequence: last_seq,
        })
    }
}

fn clip(s: &str, max: usize) -> String {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_string()
}

/// Decompresses (gzip, when sent so) at most [`MAX_DECOMPRESSED_BYTES`] and parses the batch.
fn decode_batch(body: &[u8], gzip: bool) -> Result<Batch, AgentError> {
    let mut json = Vec::new();
    if gzip {
        flate2::read::GzDecoder::new(body)
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(&mut json)
            .map_err(|e| AgentError::Invalid(format!("gzip body: {e}")))?;
        if json.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(AgentError::TooLarge(format!(
                "the batch is larger than {MAX_DECOMPRESSED_BYTES} bytes decompressed"
            )));
        }
    } else {
        json.extend_from_slice(body);
    }
    serde_json::from_slice(&json).map_err(|e| AgentError::Invalid(format!("batch: {e}")))
}

/// Each location of a monitor and the state across them (`GET /api/v1/monitors/{id}/locations`).
pub fn monitor_locations(
    probes: &ProbeEngine,
    cfg: &crate::probe::config::MonitorConfig,
    now_ms: u64,
) -> wire::MonitorLocations {
    let views = probes.locations_of(cfg);
    let stale_after = quorum::stale_after_ms(
        cfg.interval.get().as_millis() as u64,
        cfg.timeout.get().as_millis() as u64,
    );
    let seen: Vec<quorum::Seen> = views
        .iter()
        .map(|v| quorum::Seen {
            state: v.state,
            at_ms: v.last.as_ref().map(|l| l.at_ms),
        })
        .collect();
    let verdict = quorum::decide(&seen, cfg.quorum, now_ms, stale_after);
    wire::MonitorLocations {
        monitor: cfg.name.clone(),
        quorum: cfg.quorum,
        state: verdict.state.wire(),
        failing: verdict.failing,
        reporting: verdict.reporting,
        locations: views
            .into_iter()
            .map(|v| wire::LocationInfo {
                stale: v
                    .last
                    .as_ref()
                    .is_none_or(|l| now_ms.saturating_sub(l.at_ms) > stale_after),
                location: v.location,
                local: v.local,
                state: v.state.wire(),
                series_id: v.series_id,
                last_at: v.last.as_ref().map(|l| rfc3339(l.at_ms)),
                ok: v.last.as_ref().map(|l| l.ok),
                latency_ms: v.last.as_ref().map(|l| l.latency_ms),
                status: v.last.as_ref().and_then(|l| l.status),
                error: v.last.as_ref().and_then(|l| l.error.clone()),
                uptime_24h: v.uptime_24h,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_and_parsed() {
        let json = br#"{"results":[{"seq":1,"monitor":"m","at_ms":5,"ok":true,"latency_ms":3}]}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, json).expect("gzip");
        let b = decode_batch(&gz.finish().expect("gzip"), true).expect("batch");
        assert_eq!(b.results.len(), 1);
        assert!(matches!(
            decode_batch(b"not gzip", true),
            Err(AgentError::Invalid(_))
        ));
        // A small body that inflates past the bound is refused, not read whole.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..=(MAX_DECOMPRESSED_BYTES / zeros.len() as u64) {
            std::io::Write::write_all(&mut gz, &zeros).expect("gzip");
        }
        let bomb = gz.finish().expect("gzip");
        assert!(bomb.len() < MAX_BATCH_BYTES);
        assert!(matches!(
            decode_batch(&bomb, true),
            Err(AgentError::TooLarge(_))
        ));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("eu-1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
    }
}
