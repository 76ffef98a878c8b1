//! Which project key a request carries: `X-Sentry-Auth`, `Authorization: Sentry ...`, the
//! `sentry_key` query parameter, or (for envelopes) the envelope header's `dsn`.
//!
//! Relay's rules: the first three are the request's sources and more than one of them is an
//! error; the envelope `dsn` only counts when the request carries none, and must agree with it
//! when it does.

use super::IngestError;

/// The parts of a Sentry auth header or query string that matter to us.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SentryAuth {
    pub key: String,
    pub version: Option<String>,
    pub client: Option<String>,
}

/// Longest accepted key; real keys are 32 hex characters.
const MAX_KEY: usize = 64;

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= MAX_KEY && k.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parses `Sentry sentry_key=<k>, sentry_version=7, ...` (prefix case-insensitive, pairs split on
/// `,` then `=`, trimmed).
pub fn parse_header(value: &str) -> Result<SentryAuth, IngestError> {
    let v = value.trim();
    let rest = match v.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("sentry") => &v[6..],
        _ => {
            return Err(IngestError::BadAuth(
                "auth header must start with `Sentry`".into(),
            ));
        }
    };
    let mut auth = SentryAuth::default();
    for pair in rest.split(',') {
        let Some((k, val)) = pair.split_once('=') else {
            continue;
        };
        let (k, val) = (k.trim(), val.trim());
        match k {
            "sentry_key" => auth.key = val.to_string(),
            "sentry_version" => auth.version = Some(val.to_string()),
            "sentry_client" => auth.client = Some(val.to_string()),
            _ => {}
        }
    }
    finish(auth)
}

/// Parses the query string's `sentry_key`, `sentry_version`, `sentry_client`. `None` when the
/// query has no `sentry_key`.
pub fn parse_query(query: &str) -> Result<Option<SentryAuth>, IngestError> {
    let mut auth = SentryAuth::default();
    let mut found = false;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "sentry_key" => {
                found = true;
                auth.key = v;
            }
            "sentry_version" => auth.version = Some(v),
            "sentry_client" => auth.client = Some(v),
            _ => {}
        }
    }
    if !found {
        return Ok(None);
    }
    finish(auth).map(Some)
}

fn finish(mut auth: SentryAuth) -> Result<SentryAuth, IngestError> {
    auth.key = auth.key.to_ascii_lowercase();
    if auth.key.is_empty() {
        return Err(IngestError::MissingAuth);
    }
    if !valid_key(&auth.key) {
        return Err(IngestError::BadAuth("sentry_key is not a valid key".into()));
    }
    Ok(auth)
}

/// The public key and project id of a DSN: `{scheme}://{key}[:{secret}]@{host}{path}/{project}`.
pub fn parse_dsn(dsn: &str) -> Result<(String, u64), IngestError> {
    let bad = || {
        IngestError::BadAuth(format!(
            "envelope dsn `{}` is not a DSN",
            truncate(dsn, 200)
        ))
    };
    let (_, rest) = dsn.split_once("://").ok_or_else(bad)?;
    let (userinfo, hostpath) = rest.split_once('@').ok_or_else(bad)?;
    let key = userinfo
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if !valid_key(&key) {
        return Err(bad());
    }
    let project = hostpath
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|p| p.parse::<u64>().ok())
        .ok_or_else(bad)?;
    Ok((key, project))
}

/// Picks the one auth source of a request. `header_auth` is `X-Sentry-Auth`, `authorization` is
/// an `Authorization` header that starts with `Sentry` (others are not ours and are ignored).
pub fn from_request(
    header_auth: Option<&str>,
    authorization: Option<&str>,
    query: Option<&str>,
) -> Result<Option<SentryAuth>, IngestError> {
    let mut found: Vec<SentryAuth> = Vec::new();
    if let Some(h) = header_auth {
        found.push(parse_header(h)?);
    }
    if let Some(h) = authorization
        && h.trim_start()
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("sentry"))
    {
        found.push(parse_header(h)?);
    }
    if let Some(q) = query
        && let Some(a) = parse_query(q)?
    {
        found.push(a);
    }
    if found.len() > 1 {
        return Err(IngestError::MultipleAuth);
    }
    Ok(found.pop())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let a = parse_header(
            "Sentry sentry_key=3F9C2A7BE1D04C6F8A5B0E9D7C1F2A43, sentry_version=7, sentry_client=sentry.python/2.75.0",
        )
        .expect("valid");
        assert_eq!(a.key, "3f9c2a7be1d04c6f8a5b0e9d7c1f2a43");
        assert_eq!(a.version.as_deref(), Some("7"));
        assert_eq!(a.client.as_deref(), Some("sentry.python/2.75.0"));
        let a = parse_header("sentry sentry_timestamp=1, sentry_key=abc,sentry_secret=s")
            .expect("valid");
        assert_eq!(a.key, "abc");
        assert!(matches!(
            parse_header("Bearer x"),
            Err(IngestError::BadAuth(_))
        ));
        assert!(matches!(
            parse_header("Sentry sentry_version=7"),
            Err(IngestError::MissingAuth)
        ));
        assert!(matches!(
            parse_header("Sentry sentry_key=no/slashes"),
            Err(IngestError::BadAuth(_))
        ));
    }

    #[test]
    fn query_and_sources() {
        let q = "sentry_version=7&sentry_key=abc&sentry_client=sentry.javascript.node%2F11.12.0";
        let a = parse_query(q).expect("ok").expect("some");
        assert_eq!(a.key, "abc");
        assert_eq!(a.client.as_deref(), Some("sentry.javascript.node/11.12.0"));
        assert_eq!(parse_query("x=1").expect("ok"), None);
        assert_eq!(parse_query("a=%").expect("ok"), None);
        assert!(matches!(
            from_request(Some("Sentry sentry_key=a"), None, Some("sentry_key=b")),
            Err(IngestError::MultipleAuth)
        ));
        // A bearer Authorization header is somebody else's and does not count.
        let a = from_request(None, Some("Bearer pnp_x"), Some("sentry_key=b"))
            .expect("ok")
            .expect("some");
        assert_eq!(a.key, "b");
        assert_eq!(from_request(None, None, None).expect("ok"), None);
    }

    #[test]
    fn dsns() {
        assert_eq!(
            parse_dsn("http://abc@127.0.0.1:9000/7").expect("ok"),
            ("abc".to_string(), 7)
        );
        assert_eq!(
            parse_dsn("https://abc:secret@sentry.example.com/prefix/42/").expect("ok"),
            ("abc".to_string(), 42)
        );
        assert!(parse_dsn("nonsense").is_err());
        assert!(parse_dsn("http://@host/1").is_err());
        assert!(parse_dsn("http://abc@host/x").is_err());
    }
}
