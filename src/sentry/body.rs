//! Request bodies: `Content-Encoding` (gzip, deflate, br, none) undone with a hard limit on the
//! decompressed size, and the legacy store format (base64 of zlib of JSON).

use std::io::Read;

use super::IngestError;

/// Undoes `content_encoding` (a comma-separated list, applied in order, so undone in reverse),
/// reading at most `limit` decompressed bytes: more is `TooLarge`, never an allocation.
pub fn decode(
    content_encoding: Option<&str>,
    body: bytes::Bytes,
    limit: usize,
) -> Result<bytes::Bytes, IngestError> {
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    let mut data = body;
    for coding in codings.iter().rev() {
        data = match coding.as_str() {
            // Seen from real clients: an empty value or a charset where a coding belongs.
            "identity" | "utf-8" | "utf8" => data,
            "gzip" | "x-gzip" => {
                read_limited(flate2::read::MultiGzDecoder::new(&data[..]), limit, coding)?
            }
            "deflate" => inflate(&data, limit)?,
            "br" => read_limited(
                brotli_decompressor::Decompressor::new(&data[..], 4096),
                limit,
                coding,
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

/// `deflate` is zlib by the HTTP spec, but some clients send a raw deflate stream.
fn inflate(data: &[u8], limit: usize) -> Result<bytes::Bytes, IngestError> {
    match read_limited(flate2::read::ZlibDecoder::new(data), limit, "deflate") {
        Ok(b) => Ok(b),
        Err(IngestError::BadEncoding(_)) => {
            read_limited(flate2::read::DeflateDecoder::new(data), limit, "deflate")
        }
        Err(e) => Err(e),
    }
}

fn read_limited(r: impl Read, limit: usize, coding: &str) -> Result<bytes::Bytes, IngestError> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let n = r
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::BadEncoding(format!("body is not valid {coding}: {e}")))?;
    if n > limit {
        return Err(IngestError::TooLarge(format!(
            "body decompresses to more than {limit} bytes"
        )));
    }
    Ok(bytes::Bytes::from(out))
}

/// A legacy `/store/` body: JSON, or base64(zlib(JSON)) when it does not start with `{`.
pub fn legacy_store(data: bytes::Bytes, limit: usize) -> Result<bytes::Bytes, IngestError> {
    let first = data.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none_or(|b| *b == b'{') {
        return Ok(data);
    }
    use base64::Engine;
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&text))
        .map_err(|_| IngestError::InvalidEvent("store body is neither JSON nor base64".into()))?;
    inflate(&raw, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
        assert_eq!(&legacy_store(b64.into(), 1000).expect("b64")[..], json);
        assert_eq!(
            &legacy_store(json.to_vec().into(), 1000).expect("json")[..],
            json
        );
        assert!(legacy_store(b"%%%".to_vec().into(), 1000).is_err());
    }
}
