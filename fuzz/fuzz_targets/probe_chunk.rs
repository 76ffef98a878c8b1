//! The stored probe encodings read back from the data file: a results chunk (and storing a result
//! into it), a result record and a roll-up. Damaged bytes must be errors, never panics, and
//! whatever decodes must agree with itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes::probe::rollup::{ResultRecord, Rollup};
use panoptes::store::chunk;

fuzz_target!(|data: &[u8]| {
    let _ = ResultRecord::decode(data);
    let _ = Rollup::decode(data);
    // The first 8 bytes are the chunk's key, the rest its bytes.
    let (start, bytes) = match data.split_first_chunk::<8>() {
        Some((k, rest)) => (u64::from_le_bytes(*k), rest),
        None => (0, data),
    };
    let decoded = chunk::decode(start, bytes);
    let last = chunk::last_ms(start, bytes);
    if let Ok(entries) = &decoded {
        let want = entries.last().map_or(start, |e| e.0);
        assert_eq!(last, Ok(want), "last_ms agrees with decode");
        assert!(entries.windows(2).all(|w| w[0].0 <= w[1].0), "times never go back");
    }
    let at = start.saturating_add(u64::from(bytes.first().copied().unwrap_or(0)));
    if let Ok(put) = chunk::put(Some((start, bytes)), at, b"rec") {
        let stored: Vec<(u64, Vec<u8>)> = match put {
            chunk::Put::Rewrite(b) => owned(start, &b),
            chunk::Put::New(b) => owned(at, &b),
            chunk::Put::Split(a, second, b) => {
                let mut v = owned(start, &a);
                v.extend(owned(second, &b));
                v
            }
        };
        assert!(stored.iter().any(|(ms, r)| *ms == at && r == b"rec"), "the result is stored");
    }
});

fn owned(start: u64, b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    chunk::decode(start, b)
        .expect("what put wrote decodes")
        .into_iter()
        .map(|(ms, r)| (ms, r.to_vec()))
        .collect()
}
