//! Gatus conditions: the parser (config load) and the evaluator (every check result) must never
//! panic, whatever the condition text and whatever the target answered.
//!
//! Input: condition lines, a NUL byte, then the observation: a 16-byte header (flags, status,
//! response time, certificate expiry, DNS rcode; zero-padded when short), then, when flagged,
//! the IP on its own line, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes::probe::condition::{BodyCache, Condition, Observation};

const HAS_STATUS: u8 = 1;
const CONNECTED: u8 = 2;
const HAS_CERT: u8 = 4;
const HAS_RCODE: u8 = 8;
const HAS_IP: u8 = 16;
const HAS_BODY: u8 = 32;
const RCODES: [&str; 4] = ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"];

fn observation(bytes: &[u8]) -> Observation {
    let mut h = [0u8; 16];
    let n = bytes.len().min(16);
    h[..n].copy_from_slice(&bytes[..n]);
    let flags = h[0];
    let mut text = String::from_utf8_lossy(&bytes[n..]).into_owned();
    let ip = (flags & HAS_IP != 0).then(|| {
        let line = text.split('\n').next().unwrap_or("").to_string();
        text = text.get(line.len() + 1..).unwrap_or("").to_string();
        line
    });
    Observation {
        status: (flags & HAS_STATUS != 0).then(|| u16::from_be_bytes([h[1], h[2]])),
        response_time_ms: u64::from(u32::from_be_bytes([h[3], h[4], h[5], h[6]])),
        body: (flags & HAS_BODY != 0).then_some(text),
        certificate_expiration_ms: (flags & HAS_CERT != 0)
            .then(|| i64::from_be_bytes([h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14]])),
        certificate_not_after_ms: None,
        connected: flags & CONNECTED != 0,
        dns_rcode: (flags & HAS_RCODE != 0).then(|| RCODES[usize::from(h[15] % 4)].to_string()),
        ip,
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..split]);
    let obs = observation(data.get(split + 1..).unwrap_or(&[]));
    let mut shared = BodyCache::default();
    for line in text.lines() {
        let Ok(c) = Condition::parse(line) else {
            continue;
        };
        assert!(
            !c.placeholders().is_empty(),
            "{line:?} parsed without a placeholder"
        );
        // The config is shown and reloaded from a condition's text: it must parse to itself.
        let again = Condition::parse(&c.to_string()).expect("a condition's own text parses");
        assert_eq!(again, c);
        let r = c.evaluate(&obs, &mut shared);
        // The body cache only saves work: a fresh one gives the same answer.
        let fresh = c.evaluate(&obs, &mut BodyCache::default());
        assert_eq!(r, fresh, "{line:?}");
    }
});
