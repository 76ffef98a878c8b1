//! What the clock does to scheduled maintenance: it starts at `scheduled_for` and completes at
//! `scheduled_until` without anyone posting an update (Statuspage's automatic transitions), so
//! subscribers hear of both. Maintenance an operator moved to `verifying` waits for them. Pure.

use super::model::{Incident, IncidentStatus};

/// The update posted when maintenance starts by the clock.
pub const STARTED: &str = "Scheduled maintenance is in progress.";
/// ... and when it ends.
pub const COMPLETED: &str = "Scheduled maintenance has been completed.";

/// The maintenance among `incidents` that moves on at `now_ms`, with its new status and the
/// update's text; maintenance whose whole window passed unseen (Panoptes was down) completes.
pub fn due<'a>(
    incidents: impl Iterator<Item = &'a Incident>,
    now_ms: u64,
) -> Vec<(u64, IncidentStatus, &'static str)> {
    incidents
        .filter_map(|i| {
            let (from, until) = (i.scheduled_for_ms?, i.scheduled_until_ms?);
            match i.status {
                IncidentStatus::Scheduled | IncidentStatus::InProgress if until <= now_ms => {
                    Some((i.id, IncidentStatus::Completed, COMPLETED))
                }
                IncidentStatus::Scheduled if from <= now_ms => {
                    Some((i.id, IncidentStatus::InProgress, STARTED))
                }
                _ => None,
            }
        })
        .collect()
}

/// When the clock next moves some maintenance among `incidents` (stored ones and configured
/// windows not yet started), so the engine wakes then rather than at its next refresh.
pub fn next_due<'a>(incidents: impl Iterator<Item = &'a Incident>, now_ms: u64) -> Option<u64> {
    incidents
        .filter_map(|i| {
            let (from, until) = (i.scheduled_for_ms?, i.scheduled_until_ms?);
            match i.status {
                IncidentStatus::Scheduled if from > now_ms => Some(from),
                IncidentStatus::Scheduled | IncidentStatus::InProgress => Some(until),
                _ => None,
            }
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statuspage::model::Impact;
    use std::collections::BTreeMap;

    fn m(id: u64, status: IncidentStatus, from: u64, until: u64) -> Incident {
        Incident {
            id,
            page: "p".into(),
            name: "db upgrade".into(),
            status,
            impact: Impact::Maintenance,
            created_ms: 0,
            updated_ms: 0,
            started_ms: from,
            monitoring_ms: None,
            resolved_ms: None,
            scheduled_for_ms: Some(from),
            scheduled_until_ms: Some(until),
            components: BTreeMap::new(),
            updates: Vec::new(),
            draft: false,
            alert: None,
        }
    }

    #[test]
    fn maintenance_starts_and_completes_on_time_and_verifying_waits() {
        use IncidentStatus::*;
        let all = [
            m(1, Scheduled, 100, 200),
            m(2, InProgress, 100, 200),
            m(3, Verifying, 100, 200),
            m(4, Completed, 100, 200),
            m(5, Scheduled, 300, 400),
        ];
        assert_eq!(due(all.iter(), 99), vec![]);
        assert_eq!(due(all.iter(), 100), vec![(1, InProgress, STARTED)]);
        assert_eq!(
            due(all.iter(), 200),
            vec![(1, Completed, COMPLETED), (2, Completed, COMPLETED)]
        );
        // A window that passed while nobody looked completes without starting.
        assert_eq!(due(all[4..].iter(), 1_000), vec![(5, Completed, COMPLETED)]);
        assert_eq!(next_due(all.iter(), 50), Some(100));
        assert_eq!(next_due(all.iter(), 150), Some(200));
        assert_eq!(next_due(all[2..4].iter(), 150), None);
        // Incidents are not maintenance: never moved by the clock.
        let mut inc = m(6, Investigating, 0, 1);
        inc.scheduled_for_ms = None;
        inc.scheduled_until_ms = None;
        assert_eq!(due([inc].iter(), 10), vec![]);
    }
}
