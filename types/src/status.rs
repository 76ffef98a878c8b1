//! Status pages as the dashboard manages them (`/api/v1/status-pages`): pages with their
//! components, and incidents in Atlassian Statuspage's shape (the fields the dashboard reads).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusComponentInfo {
    pub id: String,
    pub name: String,
    /// `operational`, `degraded_performance`, `partial_outage`, `major_outage`,
    /// `under_maintenance`.
    pub status: String,
}

/// `GET /api/v1/status-pages`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusPageInfo {
    pub slug: String,
    pub title: String,
    /// The public page's path (`/status/{slug}`).
    pub url: String,
    pub components: Vec<StatusComponentInfo>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusIncidentUpdate {
    pub id: String,
    pub status: String,
    pub body: String,
    pub created_at: String,
}

/// One incident or scheduled maintenance (a subset of Statuspage's fields).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusIncident {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    #[serde(default)]
    pub scheduled_for: Option<String>,
    #[serde(default)]
    pub scheduled_until: Option<String>,
    /// Newest first.
    pub incident_updates: Vec<StatusIncidentUpdate>,
    /// Not public yet (drafted by hand or from an alert).
    #[serde(default)]
    pub draft: bool,
}

/// `GET /api/v1/status-pages/{slug}/incidents`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusIncidentList {
    pub incidents: Vec<StatusIncident>,
}

/// `POST /api/v1/status-pages/{slug}/incidents` and `.../incidents/{id}/updates`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct NewStatusIncident {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Component id -> status during this update.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub components: BTreeMap<String, String>,
    /// `true` keeps a new incident private; `false` publishes a draft.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub draft: Option<bool>,
}
