//! Maintenance windows managed through the API, beside the config file's: decoded by the
//! config's decoder from a JSON body (as `managed.rs` does for monitors), stored, and in force at
//! once. A name the file takes wins over a managed window of that name.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::Value as Json;
use tracing::warn;

use panoptes_types::{FieldError, MonitorSource};

use super::maintenance::MaintenanceConfig;
use super::manage::ManageError;
use super::managed::{self, Record};
use super::{ProbeEngine, ProbeError, read, write};
use crate::store::probes::ProbeWrite;
use crate::store::{StoreError, Write};

/// A window created through the API: its stored record and the decoded window.
#[derive(Debug, Clone)]
pub struct ManagedWindow {
    pub record: Record,
    pub config: MaintenanceConfig,
}

/// The config decoder on a body, with every wrong field.
fn decode(j: &Json) -> Result<MaintenanceConfig, Vec<FieldError>> {
    managed::decode_as(j, "maintenance window")
}

impl ProbeEngine {
    pub(super) fn load_windows(&self) -> Result<(), ProbeError> {
        let mut out = BTreeMap::new();
        for (name, bytes) in self.inner.store.managed_windows()? {
            let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
                warn!(window = %name, "stored maintenance window is unreadable; left out");
                continue;
            };
            match decode(&record.config) {
                Ok(config) => {
                    out.insert(name, ManagedWindow { record, config });
                }
                Err(errors) => warn!(window = %name, errors = ?errors,
                    "stored maintenance window no longer validates; left out"),
            }
        }
        *write(&self.inner.managed_windows) = out;
        Ok(())
    }

    /// Puts the config's windows and the managed ones whose name it leaves free in force.
    pub(super) fn refresh_windows(&self) {
        let config = read(&self.inner.config_windows).clone();
        let taken: HashSet<&str> = config.iter().map(|w| w.name.as_str()).collect();
        let mut all: Vec<MaintenanceConfig> = config.iter().cloned().collect();
        for (name, w) in read(&self.inner.managed_windows).iter() {
            if !taken.contains(name.as_str()) {
                all.push(w.config.clone());
            }
        }
        *write(&self.inner.maintenance) = Arc::new(all);
    }

    /// Every window in force, with where it is declared and its fields as the config names them.
    pub fn windows(&self) -> Vec<(MonitorSource, Json)> {
        let config = read(&self.inner.config_windows).clone();
        let mut out: Vec<(MonitorSource, Json)> = config
            .iter()
            .map(|w| (MonitorSource::Config, window_json(w)))
            .collect();
        let taken: HashSet<&str> = config.iter().map(|w| w.name.as_str()).collect();
        for (name, w) in read(&self.inner.managed_windows).iter() {
            if !taken.contains(name.as_str()) {
                out.push((MonitorSource::Api, w.record.config.clone()));
            }
        }
        out
    }

    /// Creates a window; its monitors must exist. In force once this returns.
    pub async fn create_window(
        &self,
        body: Json,
        by: &str,
        audit: Write,
    ) -> Result<(), ManageError> {
        let config = decode(&body).map_err(ManageError::Invalid)?;
        let _one = self.inner.managing.lock().await;
        let exists = read(&self.inner.config_windows)
            .iter()
            .any(|w| w.name == config.name)
            || read(&self.inner.managed_windows).contains_key(&config.name);
        if exists {
            return Err(ManageError::Conflict(format!(
                "a maintenance window named `{}` exists",
                config.name
            )));
        }
        let names: HashSet<String> = self.effective(false).into_iter().map(|m| m.name).collect();
        let unknown: Vec<FieldError> = config
            .monitors
            .iter()
            .enumerate()
            .filter(|(_, m)| !names.contains(*m))
            .map(|(i, m)| FieldError {
                field: format!("monitors[{i}]"),
                message: format!("no monitor named `{m}`"),
            })
            .collect();
        if !unknown.is_empty() {
            return Err(ManageError::Invalid(unknown));
        }
        let now = self.inner.clock.now_ms();
        let record = Record {
            config: body,
            created_at_ms: now,
            updated_at_ms: now,
            by: by.to_string(),
        };
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| ProbeError::Config(format!("cannot encode the window: {e}")))?;
        self.inner
            .store
            .write(vec![
                Write::Probe(ProbeWrite::PutWindow {
                    name: config.name.clone(),
                    record: bytes,
                }),
                audit,
            ])
            .await
            .map_err(|e: StoreError| ManageError::Probe(e.into()))?;
        write(&self.inner.managed_windows)
            .insert(config.name.clone(), ManagedWindow { record, config });
        self.refresh_windows();
        Ok(())
    }

    /// Ends and deletes a managed window; a config one is refused, naming where to change it.
    pub async fn delete_window(&self, name: &str, audit: Write) -> Result<(), ManageError> {
        let _one = self.inner.managing.lock().await;
        if read(&self.inner.config_windows)
            .iter()
            .any(|w| w.name == name)
        {
            return Err(ManageError::Conflict(format!(
                "maintenance window `{name}` is declared in the config file; change it there"
            )));
        }
        if !read(&self.inner.managed_windows).contains_key(name) {
            return Err(ManageError::NotFound(format!(
                "no maintenance window named `{name}`"
            )));
        }
        self.inner
            .store
            .write(vec![
                Write::Probe(ProbeWrite::RemoveWindow {
                    name: name.to_string(),
                }),
                audit,
            ])
            .await
            .map_err(|e: StoreError| ManageError::Probe(e.into()))?;
        write(&self.inner.managed_windows).remove(name);
        self.refresh_windows();
        Ok(())
    }
}

/// A config window as JSON for listings, with the config's field names.
fn window_json(w: &MaintenanceConfig) -> Json {
    use super::maintenance::Schedule;
    let mut out = serde_json::json!({
        "name": w.name,
        "monitors": w.monitors,
        "groups": w.groups,
    });
    let time = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    match &w.schedule {
        Schedule::Once { start_ms, end_ms } => {
            out["start"] = Json::from(time(*start_ms));
            out["end"] = Json::from(time(*end_ms));
        }
        Schedule::Recurring {
            days,
            at,
            duration_ms,
            tz,
        } => {
            out["every"] = Json::from(
                days.iter()
                    .map(|d| format!("{d:?}").to_lowercase())
                    .collect::<Vec<_>>(),
            );
            out["at"] = Json::from(at.to_string());
            out["duration"] = Json::from(
                crate::config::Duration(std::time::Duration::from_millis(
                    (*duration_ms).max(0) as u64
                ))
                .to_string(),
            );
            out["timezone"] = Json::from(tz.iana_name().unwrap_or("UTC"));
        }
    }
    out
}
