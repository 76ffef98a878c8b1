//! Request bodies: `Content-Encoding` (gzip, deflate, br, none) undone with a hard limit on the
//! decompressed size, and the legacy store format (base64 of zlib of JSON). Every decompressed
//! chunk is charged to the request's share of `ingest.max_inflight_bytes` before it is kept.

use std::io::Read;

use super::IngestError;
use super::budget::Charge;

/// Bytes decompressed per step (and charged per step).
const CHUNK: usize = 64 * 1024;

/// Undoes `content_encoding` (a comma-separated list, applied in order, so undone in reverse),
/// reading at most `limit` decompressed bytes: more is `TooLarge`, never an allocation. Each
/// decompressed chunk is charged to `charge` first (`Busy` when the budget is spent).
pub fn decode(
    content_encoding: Option<&str>,
    body: bytes::Bytes,
    limit: usize,
    charge: &mut Charge,
) -> Result<bytes::Bytes, IngestError> {
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .take(8)
        .collect();
    let mut data = body;
    for coding in codings.iter().rev() {
        data = match coding.as_str() {
            c if is_identity(c) => data,
            "gzip" | "x-gzip" => read_limited(
                flate2::read::MultiGzDecoder::new(&data[..]),
                limit,
                coding,
                charge,
            )?,
            "deflate" => inflate(&data, limit, charge)?,
            "br" => read_limited(
                brotli_decompressor::Decompressor::new(&data[..], 4096),
                limit,
                coding,
                charge,
            )?,
            other => {
                return Err(IngestError::BadEncoding(format!(
                    "unsupported Content-Encoding `{}`",
                    super::auth::truncate(other, 40)
                )));
            }
        };
    }
    if data.len() > limit {
        return Err(IngestError::TooLarge(format!(
            "body is larger than {limit} bytes"
        )));
    }
    Ok(data)
}

/// Whether `coding` (one of a `Content-Encoding` list, trimmed and lower-cased) leaves the body
/// as it is. Seen from real clients: an empty value or a charset where a coding belongs.
pub fn is_identity(coding: &str) -> bool {
    matches!(coding, "" | "identity" | "utf-8" | "utf8")
}

/// Whether a legacy `/store/` body is JSON (blank or starting with `{`) rather than base64.
pub fn is_json_text(data: &[u8]) -> bool {
    data.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| *b == b'{')
}

/// `deflate` is zlib by the HTTP spec, but some clients send a raw deflate stream.
fn inflate(data: &[u8], limit: usize, charge: &mut Charge) -> Result<bytes::Bytes, IngestError> {
    // The zlib attempt's output is given back before the raw attempt charges its own.
    let before = charge.held_kib() * 1024;
    match read_limited(
        flate2::read::ZlibDecoder::new(data),
        limit,
        "deflate",
        charge,
    ) {
        Ok(b) => Ok(b),
        Err(IngestError::BadEncoding(_)) => {
            charge.resize(before)?;
            read_limited(
                flate2::read::DeflateDecoder::new(data),
                limit,
                "deflate",
                charge,
            )
        }
        Err(e) => Err(e),
    }
}

fn read_limited(
    mut r: impl Read,
    limit: usize,
    coding: &str,
    charge: &mut Charge,
) -> Result<bytes::Bytes, IngestError> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(IngestError::BadEncoding(format!(
                    "body is not valid {coding}: {e}"
                )));
            }
        };
        if out.len() + n > limit {
            return Err(IngestError::TooLarge(format!(
                "body decompresses to more than {limit} bytes"
            )));
        }
        charge.add(n)?;
        out.extend_from_slice(&buf[..n]);
    }
    Ok(bytes::Bytes::from(out))
}

/// A legacy `/store/` body: JSON, or base64(zlib(JSON)) when it does not start with `{`.
pub fn legacy_store(
    data: bytes::Bytes,
    limit: usize,
    charge: &mut Charge,
) -> Result<bytes::Bytes, IngestError> {
    if is_json_text(&data) {
        return Ok(data);
    }
    use base64::Engine;
    charge.add(data.len())?;
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&text))
        .map_err(|_| IngestError::InvalidEvent("store body is neither JSON nor base64".into()))?;
    inflate(&raw, limit, charge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;

    /// A budget much larger than anything these tests decode.
    fn budget() -> Charge {
        Charge::new(Arc::new(tokio::sync::Semaphore::new(1 << 20)), 1 << 20)
    }

    fn decode(
        coding: Option<&str>,
        body: bytes::Bytes,
        limit: usize,
    ) -> Result<bytes::Bytes, IngestError> {
        super::decode(coding, body, limit, &mut budget())
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    #[test]
    fn codings_round_trip() {
        let plain = b"{\"message\":\"hello\"}".to_vec();
        let g = decode(Some("gzip"), gzip(&plain).into(), 1000).expect("gzip");
        assert_eq!(&g[..], &plain[..]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&plain).expect("write");
        let z = z.finish().expect("finish");
        assert_eq!(
            &decode(Some("deflate"), z.into(), 1000).expect("zlib")[..],
            &plain[..]
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&plain).expect("write");
        let raw = raw.finish().expect("finish");
        assert_eq!(
            &decode(Some("Deflate"), raw.into(), 1000).expect("raw")[..],
            &plain[..]
        );
        assert_eq!(
            &decode(Some("UTF-8"), plain.clone().into(), 1000).expect("id")[..],
            &plain[..]
        );
        assert_eq!(
            &decode(None, plain.clone().into(), 1000).expect("none")[..],
            &plain[..]
        );
        assert!(matches!(
            decode(Some("zstd"), plain.clone().into(), 1000),
            Err(IngestError::BadEncoding(_))
        ));
        assert!(matches!(
            decode(Some("gzip"), plain.into(), 1000),
            Err(IngestError::BadEncoding(_))
        ));
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 50 * 1024 * 1024]);
        assert!(bomb.len() < 256 * 1024, "bomb is small: {}", bomb.len());
        assert!(matches!(
            decode(Some("gzip"), bomb.into(), 1024 * 1024),
            Err(IngestError::TooLarge(_))
        ));
    }

    fn brotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            // Quality 5, window 22: what the Python SDK's `brotli.compress` defaults to roughly.
            let mut w = ::brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).expect("write");
        }
        out
    }

    #[test]
    fn brotli_round_trips() {
        let plain = b"{}\n{\"type\":\"event\"}\n{\"message\":\"hello from br\"}\n".repeat(20);
        let br = brotli(&plain);
        assert!(br.len() < plain.len(), "compressed: {}", br.len());
        let got = decode(Some("br"), br.clone().into(), 10_000).expect("br");
        assert_eq!(&got[..], &plain[..]);
        // Listed with another coding, undone in reverse order of application.
        let both = gzip(&br);
        let got = decode(Some("br, gzip"), both.into(), 10_000).expect("br, gzip");
        assert_eq!(&got[..], &plain[..]);
        // Exactly at the limit is fine; one byte less is too large.
        assert!(decode(Some("br"), br.clone().into(), plain.len()).is_ok());
        assert!(matches!(
            decode(Some("br"), br.into(), plain.len() - 1),
            Err(IngestError::TooLarge(_))
        ));
    }

    #[test]
    fn a_truncated_or_garbled_brotli_body_is_an_error() {
        // Varied text, so the stream does not end in one long repeat the cut could miss.
        let plain: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{i:x},").into_bytes())
            .collect();
        let br = brotli(&plain);
        for cut in [br.len() - 1, br.len() / 2, 1] {
            let r = decode(Some("br"), br[..cut].to_vec().into(), 1 << 20);
            assert!(
                matches!(r, Err(IngestError::BadEncoding(_))),
                "cut at {cut} of {}: {:?}",
                br.len(),
                r.map(|b| b.len())
            );
        }
        assert!(matches!(
            decode(
                Some("br"),
                b"{\"not\": \"brotli\"}".to_vec().into(),
                1 << 20
            ),
            Err(IngestError::BadEncoding(_))
        ));
    }

    #[test]
    fn a_brotli_bomb_stops_at_the_limit() {
        let bomb = brotli(&vec![b'a'; 50 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024, "bomb is small: {}", bomb.len());
        assert!(matches!(
            decode(Some("br"), bomb.into(), 1024 * 1024),
            Err(IngestError::TooLarge(_))
        ));
    }

    #[test]
    fn legacy_store_bodies() {
        use base64::Engine;
        let json = b"{\"message\":\"legacy\"}";
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(json).expect("write");
        let b64 = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("finish"));
        assert_eq!(
            &legacy_store(b64.into(), 1000, &mut budget()).expect("b64")[..],
            json
        );
        assert_eq!(
            &legacy_store(json.to_vec().into(), 1000, &mut budget()).expect("json")[..],
            json
        );
        assert!(legacy_store(b"%%%".to_vec().into(), 1000, &mut budget()).is_err());
    }

    /// A bomb under the size limit still stops where the inflight budget ends: the decoded
    /// bytes are charged as they are produced, not once the body is whole.
    #[test]
    fn decompression_stops_at_the_inflight_budget() {
        let pool = Arc::new(tokio::sync::Semaphore::new(1024));
        let mut charge = Charge::new(pool.clone(), 1024);
        let bomb = gzip(&vec![b'a'; 8 * 1024 * 1024]);
        let r = super::decode(Some("gzip"), bomb.into(), 100 << 20, &mut charge);
        assert!(
            matches!(r, Err(IngestError::Busy(_))),
            "{:?}",
            r.map(|b| b.len())
        );
        assert!(charge.held_kib() <= 1024);
        drop(charge);
        assert_eq!(pool.available_permits(), 1024, "everything given back");
    }
}
