//! The store write of the ledger's change sets: what changed (alert states, groups, history,
//! silences) and the notifications queued, folded so a failed write is retried with the next.

use std::collections::HashMap;

use super::book::{Book, Dirty};
use super::outbox::Record;
use crate::store::alerts::AlertsWrite;

/// Folds several change sets into one (a failed write's, then the new one's).
pub(super) fn merge(all: Vec<(Dirty, Vec<Record>)>) -> (Dirty, Vec<Record>) {
    let mut out = Dirty::default();
    let mut records = Vec::new();
    for (d, r) in all {
        for k in d.removed_instances {
            out.instances.remove(&k);
            out.removed_instances.insert(k);
        }
        for k in d.instances {
            out.removed_instances.remove(&k);
            out.instances.insert(k);
        }
        for k in d.removed_groups {
            out.groups.remove(&k);
            out.removed_groups.insert(k);
        }
        for k in d.groups {
            out.removed_groups.remove(&k);
            out.groups.insert(k);
        }
        out.removed_silences.extend(d.removed_silences);
        out.history.extend(d.history);
        out.events.extend(d.events);
        records.extend(r);
    }
    (out, records)
}

/// The store write for change sets, reading current values from the ledger.
pub(super) fn write_of(book: &Book, all: &[(Dirty, Vec<Record>)]) -> AlertsWrite {
    let mut w = AlertsWrite::default();
    let mut seen_i = HashMap::new();
    let mut seen_g = HashMap::new();
    for (d, records) in all {
        for fp in &d.instances {
            seen_i.insert(fp.clone(), true);
        }
        for fp in &d.removed_instances {
            seen_i.insert(fp.clone(), false);
        }
        for k in &d.groups {
            seen_g.insert(k.clone(), true);
        }
        for k in &d.removed_groups {
            seen_g.insert(k.clone(), false);
        }
        for h in &d.history {
            w.history.push((
                h.resolved_at_ms,
                h.fingerprint.clone(),
                serde_json::to_vec(h).unwrap_or_default(),
            ));
        }
        for r in records {
            w.notifications
                .push((r.id, serde_json::to_vec(r).unwrap_or_default()));
        }
        w.removed_silences
            .extend(d.removed_silences.iter().cloned());
    }
    for (fp, keep) in seen_i {
        match book.instances.get(&fp) {
            Some(i) if keep => w
                .instances
                .push((fp, serde_json::to_vec(i).unwrap_or_default())),
            _ => w.removed_instances.push(fp),
        }
    }
    for (k, keep) in seen_g {
        match book.groups.get(&k) {
            Some(g) if keep => w
                .groups
                .push((k, serde_json::to_vec(g).unwrap_or_default())),
            _ => w.removed_groups.push(k),
        }
    }
    w
}
