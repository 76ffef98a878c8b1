//! How received items are framed in the store: one JSON header line, `\n`, then the payload as
//! received (inbox rows, stored events, attachments).

use serde::{Deserialize, Serialize};

use super::event::Summary;

/// The kind of a row in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An event stored in full (its JSON is in the events table, not in the row).
    Event,
    /// A flood copy: counted, not stored (no payload).
    Sampled,
    Session,
    Sessions,
    ClientReport,
    CheckIn,
}

/// The header line of an inbox row; the payload follows after `\n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxHeader {
    pub kind: Kind,
    pub project: u64,
    pub received_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_type: Option<String>,
}

/// The header line of a stored event (the SDK's JSON follows after `\n`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventHeader {
    pub project: u64,
    pub received_ms: u64,
}

/// The header line of a stored attachment (its bytes follow after `\n`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentHeader {
    pub filename: String,
    pub content_type: Option<String>,
    pub attachment_type: Option<String>,
    pub size: u64,
}

/// A stored record: one JSON header line, `\n`, then the payload as received.
pub fn with_header<T: Serialize>(h: &T, payload: &[u8]) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    let mut out = serde_json::to_vec(h).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(payload);
    out
}

/// Splits a stored record into its header and payload.
pub fn split_record<T: serde::de::DeserializeOwned>(row: &[u8]) -> Option<(T, &[u8])> {
    let nl = row.iter().position(|b| *b == b'\n')?;
    Some((serde_json::from_slice(&row[..nl]).ok()?, &row[nl + 1..]))
}

/// An inbox row.
pub fn encode_row(h: &InboxHeader, payload: &[u8]) -> Vec<u8> {
    with_header(h, payload)
}

pub fn decode_row(row: &[u8]) -> Option<(InboxHeader, &[u8])> {
    split_record(row)
}
