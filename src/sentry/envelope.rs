//! The envelope format: `Headers \n (ItemHeaders \n Payload \n?)*`.
//!
//! Headers are one-line JSON objects. An item header needs `type`; with `length`, the payload is
//! exactly that many bytes followed by `\n` or the end; without it, the payload runs to the next
//! `\n` or the end. The parser borrows from the body and copies nothing.

use serde::Deserialize;

use super::IngestError;

/// Most items in one envelope; real SDKs send a handful.
pub const MAX_ITEMS: usize = 1000;
/// Longest header line (envelope or item).
const MAX_HEADER: usize = 64 * 1024;

#[derive(Debug, Default, Deserialize)]
pub struct EnvelopeHeader {
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub dsn: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ItemHeader {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub length: Option<u64>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub attachment_type: Option<String>,
}

#[derive(Debug)]
pub struct Item<'a> {
    pub header: ItemHeader,
    pub payload: &'a [u8],
}

#[derive(Debug)]
pub struct Envelope<'a> {
    pub header: EnvelopeHeader,
    pub items: Vec<Item<'a>>,
}

fn line(buf: &[u8]) -> (&[u8], &[u8]) {
    match memchr(b'\n', buf) {
        Some(i) => (&buf[..i], &buf[i + 1..]),
        None => (buf, &[]),
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

fn invalid(msg: impl Into<String>) -> IngestError {
    IngestError::InvalidEnvelope(msg.into())
}

pub fn parse(body: &[u8]) -> Result<Envelope<'_>, IngestError> {
    let (head, mut rest) = line(body);
    let head = trim_cr(head);
    if head.len() > MAX_HEADER {
        return Err(invalid("envelope header line is too long"));
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("missing envelope header"));
    }
    let header: EnvelopeHeader = serde_json::from_slice(head)
        .map_err(|e| invalid(format!("envelope header is not a JSON object: {e}")))?;
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (ih, after) = line(rest);
        let ih = trim_cr(ih);
        if ih.iter().all(u8::is_ascii_whitespace) {
            // Blank lines between items (and a trailing newline) carry nothing.
            rest = after;
            continue;
        }
        if items.len() >= MAX_ITEMS {
            return Err(invalid(format!("more than {MAX_ITEMS} items")));
        }
        if ih.len() > MAX_HEADER {
            return Err(invalid(format!(
                "item {} header line is too long",
                items.len()
            )));
        }
        let header: ItemHeader = serde_json::from_slice(ih).map_err(|e| {
            invalid(format!(
                "item {} header is not a JSON object with a `type`: {e}",
                items.len()
            ))
        })?;
        let payload;
        match header.length {
            Some(len) => {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > after.len() {
                    return Err(invalid(format!(
                        "item {} ({}) declares length {len} but only {} bytes follow",
                        items.len(),
                        header.ty,
                        after.len()
                    )));
                }
                payload = &after[..len];
                let tail = &after[len..];
                rest = match tail.first() {
                    None => tail,
                    Some(b'\n') => &tail[1..],
                    Some(b'\r') if tail.get(1) == Some(&b'\n') => &tail[2..],
                    Some(_) => {
                        return Err(invalid(format!(
                            "item {} ({}) is longer than its declared length {len}",
                            items.len(),
                            header.ty
                        )));
                    }
                };
            }
            None => {
                let (p, r) = line(after);
                payload = trim_cr(p);
                rest = r;
            }
        }
        items.push(Item { header, payload });
    }
    Ok(Envelope { header, items })
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// An event id as 32 lower-case hex characters, from 32 hex or a dashed UUID.
pub fn normalize_event_id(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let dashed_ok = s.len() == 32 || (s.len() == 36 && s.matches('-').count() == 4);
    (dashed_ok && hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_lengths() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"attachment\",\"length\":10}\n\xef\xbb\xbfHello\r\n\n{\"type\":\"event\"}\n{\"message\":\"x\"}";
        let e = parse(body).expect("valid");
        assert_eq!(
            e.header.event_id.as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(e.items.len(), 2);
        assert_eq!(e.items[0].payload, b"\xef\xbb\xbfHello\r\n");
        assert_eq!(e.items[1].header.ty, "event");
        assert_eq!(e.items[1].payload, b"{\"message\":\"x\"}");
    }

    #[test]
    fn header_only_and_trailing_newlines() {
        assert!(parse(b"{}").expect("valid").items.is_empty());
        assert!(parse(b"{}\n\n").expect("valid").items.is_empty());
        let e = parse(b"{}\n{\"type\":\"session\",\"length\":2}\n{}\n").expect("valid");
        assert_eq!(e.items[0].payload, b"{}");
    }

    #[test]
    fn malformed_envelopes_say_what_is_wrong() {
        let err = |b: &[u8]| match parse(b) {
            Err(IngestError::InvalidEnvelope(m)) => m,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert!(err(b"").contains("missing envelope header"));
        assert!(err(b"not json\n").contains("envelope header"));
        assert!(err(b"{}\n{\"length\":3}\nabc").contains("item 0 header"));
        assert!(err(b"{}\n{\"type\":\"event\",\"length\":30}\n{}").contains("only 2 bytes follow"));
        assert!(err(b"{}\n{\"type\":\"event\",\"length\":2}\n{}xx").contains("longer than"));
        assert!(err(b"{}\n{\"type\":\"event\",\"length\":-1}\n").contains("item 0 header"));
    }

    #[test]
    fn event_ids() {
        assert_eq!(
            normalize_event_id("9EC79C33-EC99-42AB-8353-589FCB2E04DC").as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert!(normalize_event_id("xyz").is_none());
        assert!(normalize_event_id("9ec79c33ec9942ab8353589fcb2e04dc0").is_none());
        assert!(normalize_event_id("9ec79c33ec9942ab8353589fcb2e04d-").is_none());
    }
}
