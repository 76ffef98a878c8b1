//! What ingest hands to forwarding: for a project with `forward:`, the envelope to pass upstream
//! (the accepted items only), framed as one forward outbox row and written in the same store
//! write as the inbox rows, so a 200 to the SDK means it will reach upstream or be counted as
//! dropped with a reason.
//!
//! Owns: which items of a request are forwarded (flood copies and sampled-out events are
//! counted `ignored`, never sent), the row's framing. Depends on: `config` (the project's
//! `forward`), `record` (header framing). The sending itself is `crate::forward`'s.

use serde::{Deserialize, Serialize};

use super::config::{ForwardItem, ProjectConfig};
use super::record::{split_record, with_header};

/// The header line of a forward outbox row; the envelope to send follows after `\n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardHeader {
    /// The public key the client sent with (used upstream in proxy mode).
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Rate-limit categories of the items (`error`, `transaction`, `session`, `attachment`,
    /// `internal`).
    pub categories: Vec<String>,
    pub received_ms: u64,
}

pub fn decode_row(row: &[u8]) -> Option<(ForwardHeader, &[u8])> {
    split_record(row)
}

/// One item a request carried, with what ingest decided about it.
pub(super) struct Candidate<'a> {
    pub ty: &'a str,
    pub header: serde_json::Value,
    pub payload: &'a [u8],
}

/// What one request gives forwarding: a row to enqueue and how many items it ignored.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub row: Option<Vec<u8>>,
    pub ignored: u64,
}

fn item_kind(ty: &str) -> Option<(ForwardItem, &'static str)> {
    Some(match ty {
        "event" => (ForwardItem::Events, "error"),
        "transaction" => (ForwardItem::Transactions, "transaction"),
        "session" | "sessions" => (ForwardItem::Sessions, "session"),
        "attachment" => (ForwardItem::Attachments, "attachment"),
        "client_report" => (ForwardItem::ClientReports, "internal"),
        _ => return None,
    })
}

/// Whether `sample_percent` drops this event id: by a hash of the id, so every instance of a
/// farm (and every retry of the SDK) decides alike.
fn sampled_out(event_id: &str, percent: u32) -> bool {
    if percent == 0 {
        return false;
    }
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in event_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 100) < u64::from(percent)
}

/// The forward row for a request. `event_fate`: `None` without an event item, else whether the
/// event was stored in full (`Some(false)`: a flood copy or refused by the quota; `refused`
/// tells which, refused events are not accepted and so not ignored either).
#[allow(clippy::too_many_arguments)]
pub(super) fn draft(
    project: &ProjectConfig,
    key: &str,
    envelope_header: Option<serde_json::Map<String, serde_json::Value>>,
    event_id: Option<&str>,
    event_fate: Option<bool>,
    refused: bool,
    items: Vec<Candidate<'_>>,
    now_ms: u64,
) -> Draft {
    let Some(fwd) = &project.forward else {
        return Draft::default();
    };
    let mut ignored = 0;
    // A flood copy's event and its attachments stay here: that is what protects upstream.
    let mut drop_event = match event_fate {
        Some(false) => {
            if !refused {
                ignored += 1;
            }
            true
        }
        _ => false,
    };
    let has_sampled_kind = items
        .iter()
        .any(|c| c.ty == "event" || c.ty == "transaction");
    if !drop_event
        && has_sampled_kind
        && let Some(id) = event_id
        && sampled_out(id, fwd.sample_percent)
    {
        ignored += 1;
        drop_event = true;
    }
    let mut categories: Vec<String> = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    let mut head = envelope_header.unwrap_or_default();
    // The client's DSN inside the envelope would contradict the key we send with.
    head.remove("dsn");
    if let Some(id) = event_id {
        head.insert("event_id".into(), serde_json::Value::String(id.into()));
    }
    let mut any = false;
    for c in items {
        let Some((kind, category)) = item_kind(c.ty) else {
            continue;
        };
        if !fwd.items.contains(&kind) {
            continue;
        }
        if drop_event && matches!(c.ty, "event" | "transaction" | "attachment") {
            continue;
        }
        let mut h = c.header;
        if let Some(m) = h.as_object_mut() {
            m.insert("length".into(), c.payload.len().into());
        }
        body.extend_from_slice(&serde_json::to_vec(&h).unwrap_or_default());
        body.push(b'\n');
        body.extend_from_slice(c.payload);
        body.push(b'\n');
        if !categories.iter().any(|x| x == category) {
            categories.push(category.to_string());
        }
        any = true;
    }
    if !any {
        return Draft { row: None, ignored };
    }
    let mut envelope = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    envelope.push(b'\n');
    envelope.extend_from_slice(&body);
    let header = ForwardHeader {
        key: key.to_string(),
        event_id: event_id.map(str::to_string),
        categories,
        received_ms: now_ms,
    };
    Draft {
        row: Some(with_header(&header, &envelope)),
        ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentry::config::{ProjectForward, PublicKey};

    fn project(sample: u32, items: Vec<ForwardItem>) -> ProjectConfig {
        ProjectConfig {
            id: 1,
            name: "p".into(),
            keys: vec![PublicKey("k".into())],
            events_per_minute: None,
            flood_max_events: None,
            forward: Some(ProjectForward {
                upstream: "http://up".into(),
                sample_percent: sample,
                items,
            }),
        }
    }

    fn cand<'a>(ty: &'a str, payload: &'a [u8]) -> Candidate<'a> {
        Candidate {
            ty,
            header: serde_json::json!({ "type": ty }),
            payload,
        }
    }

    #[test]
    fn flood_copies_are_ignored_and_filters_apply() {
        let p = project(0, ForwardItem::ALL.to_vec());
        let d = draft(
            &p,
            "k",
            None,
            Some("e1"),
            Some(false),
            false,
            vec![cand("event", b"{}"), cand("attachment", b"x")],
            5,
        );
        assert!(d.row.is_none());
        assert_eq!(d.ignored, 1);
        let d = draft(
            &p,
            "k",
            None,
            Some("e1"),
            Some(true),
            false,
            vec![cand("event", b"{}"), cand("session", b"{}")],
            5,
        );
        let row = d.row.expect("row");
        let (h, env) = decode_row(&row).expect("framed");
        assert_eq!(h.categories, vec!["error", "session"]);
        assert_eq!(h.event_id.as_deref(), Some("e1"));
        let text = String::from_utf8_lossy(env);
        assert!(
            text.starts_with("{\"event_id\":\"e1\"}\n{\"length\":2,\"type\":\"event\"}\n{}\n"),
            "{text}"
        );
        let only = project(0, vec![ForwardItem::Sessions]);
        let d = draft(
            &only,
            "k",
            None,
            Some("e1"),
            Some(true),
            false,
            vec![cand("event", b"{}")],
            5,
        );
        assert!(d.row.is_none());
        assert_eq!(d.ignored, 0);
    }

    #[test]
    fn sampling_is_by_event_id() {
        let all = project(100, ForwardItem::ALL.to_vec());
        let d = draft(
            &all,
            "k",
            None,
            Some("e1"),
            Some(true),
            false,
            vec![cand("event", b"{}")],
            5,
        );
        assert!(d.row.is_none());
        assert_eq!(d.ignored, 1);
        let dropped = (0..1000)
            .filter(|i| sampled_out(&format!("{i:032x}"), 30))
            .count();
        assert!((200..400).contains(&dropped), "{dropped}");
    }
}
