//! Status pages as the dashboard manages them (`/api/v1/status-pages`): pages with their
//! components, and incidents in Atlassian Statuspage's shape (the fields the dashboard reads).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

// The vocabulary of Atlassian Statuspage, shared by the server (its pure core, the stored
// incidents, the public JSON) and the dashboard.

/// A component's public status, in increasing severity (maintenance aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentStatus {
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::UnderMaintenance,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::UnderMaintenance => "under_maintenance",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }

    pub fn parse(s: &str) -> Option<ComponentStatus> {
        ComponentStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What a reader sees.
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under maintenance",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }
}

/// How bad an incident is (`maintenance` only for scheduled maintenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Maintenance,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub const ALL: [Impact; 5] = [
        Impact::None,
        Impact::Maintenance,
        Impact::Minor,
        Impact::Major,
        Impact::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Maintenance => "maintenance",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Impact> {
        Impact::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

/// Where an incident stands; scheduled maintenance has its own four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 9] = [
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
        IncidentStatus::Postmortem,
        IncidentStatus::Scheduled,
        IncidentStatus::InProgress,
        IncidentStatus::Verifying,
        IncidentStatus::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Postmortem => "postmortem",
            IncidentStatus::Scheduled => "scheduled",
            IncidentStatus::InProgress => "in_progress",
            IncidentStatus::Verifying => "verifying",
            IncidentStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|i| i.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
            IncidentStatus::Postmortem => "Postmortem",
            IncidentStatus::Scheduled => "Scheduled",
            IncidentStatus::InProgress => "In progress",
            IncidentStatus::Verifying => "Verifying",
            IncidentStatus::Completed => "Completed",
        }
    }

    pub fn is_maintenance(self) -> bool {
        matches!(
            self,
            IncidentStatus::Scheduled
                | IncidentStatus::InProgress
                | IncidentStatus::Verifying
                | IncidentStatus::Completed
        )
    }

    /// Still going on: counts towards the page's state and the components'.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IncidentStatus::Investigating
                | IncidentStatus::Identified
                | IncidentStatus::Monitoring
                | IncidentStatus::InProgress
                | IncidentStatus::Verifying
        )
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusComponentInfo {
    pub id: String,
    pub name: String,
    pub status: ComponentStatus,
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
    pub status: IncidentStatus,
    pub body: String,
    pub created_at: String,
}

/// One incident or scheduled maintenance (a subset of Statuspage's fields).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusIncident {
    pub id: String,
    pub name: String,
    pub status: IncidentStatus,
    pub impact: Impact,
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

/// `POST /api/v1/status-pages/{slug}/incidents` and `.../incidents/{id}/updates`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct NewStatusIncident {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<IncidentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Component id -> status during this update.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub components: BTreeMap<String, ComponentStatus>,
    /// `true` keeps a new incident private; `false` publishes a draft.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub draft: Option<bool>,
}
