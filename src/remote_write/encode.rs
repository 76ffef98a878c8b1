//! What a probe result becomes on the wire: series in Prometheus's naming, encoded as a
//! remote-write 1.0 `WriteRequest` (protobuf, written by hand: three small messages) and
//! compressed with snappy's block format. Pure.
//!
//! Per result, labelled `monitor`, `type` and (when set) `group`, then the endpoint's
//! `external_labels`:
//! - `panoptes_probe_success` 1 when every condition held, else 0;
//! - `panoptes_probe_duration_seconds` the check's latency;
//! - `panoptes_probe_up` 1 when the monitor's state counts as up (up or degraded), else 0;
//! - `panoptes_probe_http_status_code` when the check got an HTTP status.

use std::collections::BTreeMap;

use crate::probe::rollup::ResultRecord;
use crate::probe::state::State;

/// Labels sorted by name (`__name__` first, as Prometheus requires).
pub type Labels = Vec<(String, String)>;

/// One series and its samples (timestamp ms, value), oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// What a result's series are labelled with.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorLabels {
    pub name: String,
    pub kind: String,
    pub group: Option<String>,
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not reserved (`__...`).
pub fn valid_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.starts_with("__")
}

/// The series of some results, each series' samples in time order.
pub fn series_of(
    results: &[(&MonitorLabels, u64, ResultRecord)],
    external: &BTreeMap<String, String>,
) -> Vec<Series> {
    let mut by: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for (m, at_ms, r) in results {
        let ts = *at_ms as i64;
        let up = matches!(r.state, State::Up | State::Degraded);
        let mut values = vec![
            ("panoptes_probe_success", f64::from(u8::from(r.ok))),
            ("panoptes_probe_duration_seconds", r.latency_us as f64 / 1e6),
            ("panoptes_probe_up", f64::from(u8::from(up))),
        ];
        if let Some(s) = r.status {
            values.push(("panoptes_probe_http_status_code", f64::from(s)));
        }
        for (name, v) in values {
            by.entry(labels(name, m, external))
                .or_default()
                .push((ts, v));
        }
    }
    by.into_iter()
        .map(|(labels, mut samples)| {
            samples.sort_by_key(|s| s.0);
            samples.dedup_by_key(|s| s.0);
            Series { labels, samples }
        })
        .collect()
}

fn labels(name: &str, m: &MonitorLabels, external: &BTreeMap<String, String>) -> Labels {
    let mut l: BTreeMap<String, String> = external.clone();
    // Panoptes' own labels win over external ones of the same name.
    l.insert("monitor".into(), m.name.clone());
    l.insert("type".into(), m.kind.clone());
    if let Some(g) = &m.group {
        l.insert("group".into(), g.clone());
    }
    let mut out: Labels = vec![("__name__".into(), name.into())];
    out.extend(l);
    out
}

/// Splits series into requests of at most `max` samples each (a long series continues, in
/// order, in the next request).
pub fn batches(series: Vec<Series>, max: usize) -> Vec<Vec<Series>> {
    let max = max.max(1);
    let mut out: Vec<Vec<Series>> = Vec::new();
    let mut current: Vec<Series> = Vec::new();
    let mut room = max;
    for s in series {
        let mut rest = s.samples.as_slice();
        while !rest.is_empty() {
            let take = rest.len().min(room);
            current.push(Series {
                labels: s.labels.clone(),
                samples: rest[..take].to_vec(),
            });
            rest = &rest[take..];
            room -= take;
            if room == 0 {
                out.push(std::mem::take(&mut current));
                room = max;
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn bytes_field(buf: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(buf, field << 3 | 2);
    varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// `WriteRequest { repeated TimeSeries timeseries = 1; }`, `TimeSeries { repeated Label labels
/// = 1; repeated Sample samples = 2; }`, `Label { string name = 1; string value = 2; }`,
/// `Sample { double value = 1; int64 timestamp = 2; }`.
pub fn write_request(series: &[Series]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ts = Vec::new();
    let mut part = Vec::new();
    for s in series {
        ts.clear();
        for (name, value) in &s.labels {
            part.clear();
            bytes_field(&mut part, 1, name.as_bytes());
            bytes_field(&mut part, 2, value.as_bytes());
            bytes_field(&mut ts, 1, &part);
        }
        for (t, v) in &s.samples {
            part.clear();
            varint(&mut part, 1 << 3 | 1);
            part.extend_from_slice(&v.to_bits().to_le_bytes());
            varint(&mut part, 2 << 3);
            varint(&mut part, *t as u64);
            bytes_field(&mut ts, 2, &part);
        }
        bytes_field(&mut out, 1, &ts);
    }
    out
}

/// The request body: the protobuf, snappy-compressed (block format, not framed).
pub fn body(series: &[Series]) -> Result<Vec<u8>, String> {
    snap::raw::Encoder::new()
        .compress_vec(&write_request(series))
        .map_err(|e| format!("snappy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal protobuf reader for the test: (field, wire type, payload) triples.
    fn fields(mut b: &[u8]) -> Vec<(u64, u8, Vec<u8>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let mut v = 0;
            let mut shift = 0;
            loop {
                let (&c, rest) = b.split_first().expect("varint");
                *b = rest;
                v |= u64::from(c & 0x7f) << shift;
                if c < 0x80 {
                    return v;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            let (field, wt) = (key >> 3, (key & 7) as u8);
            let payload = match wt {
                0 => {
                    let v = varint(&mut b);
                    v.to_le_bytes().to_vec()
                }
                1 => {
                    let (p, rest) = b.split_at(8);
                    b = rest;
                    p.to_vec()
                }
                2 => {
                    let n = varint(&mut b) as usize;
                    let (p, rest) = b.split_at(n);
                    b = rest;
                    p.to_vec()
                }
                w => panic!("wire type {w}"),
            };
            out.push((field, wt, payload));
        }
        out
    }

    fn record(state: State, ok: bool, latency_us: u64, status: Option<u16>) -> ResultRecord {
        ResultRecord {
            state,
            ok,
            latency_us,
            status,
            failed_conditions: 0,
            error: None,
        }
    }

    #[test]
    fn results_become_labelled_series_in_time_order() {
        let api = MonitorLabels {
            name: "api".into(),
            kind: "http".into(),
            group: Some("edge".into()),
        };
        let db = MonitorLabels {
            name: "db".into(),
            kind: "tcp".into(),
            group: None,
        };
        let ext = BTreeMap::from([("region".to_string(), "eu-1".to_string())]);
        let results = [
            (&api, 2_000, record(State::Down, false, 1_500, Some(503))),
            (&api, 1_000, record(State::Up, true, 250_000, Some(200))),
            (&db, 1_000, record(State::Degraded, true, 40, None)),
        ];
        let s = series_of(&results, &ext);
        // api: 4 metrics, db: 3 (no status code).
        assert_eq!(s.len(), 7);
        let find = |name: &str, monitor: &str| {
            s.iter()
                .find(|x| {
                    x.labels.contains(&("__name__".into(), name.into()))
                        && x.labels.contains(&("monitor".into(), monitor.into()))
                })
                .expect("series")
        };
        let success = find("panoptes_probe_success", "api");
        assert_eq!(success.samples, vec![(1_000, 1.0), (2_000, 0.0)]);
        assert_eq!(
            success.labels,
            vec![
                ("__name__".to_string(), "panoptes_probe_success".to_string()),
                ("group".into(), "edge".into()),
                ("monitor".into(), "api".into()),
                ("region".into(), "eu-1".into()),
                ("type".into(), "http".into()),
            ]
        );
        assert_eq!(
            find("panoptes_probe_duration_seconds", "api").samples,
            vec![(1_000, 0.25), (2_000, 0.0015)]
        );
        assert_eq!(
            find("panoptes_probe_http_status_code", "api").samples[1],
            (2_000, 503.0)
        );
        assert_eq!(find("panoptes_probe_up", "db").samples, vec![(1_000, 1.0)]);
        assert!(
            !find("panoptes_probe_up", "db")
                .labels
                .iter()
                .any(|l| l.0 == "group")
        );
    }

    #[test]
    fn the_write_request_decodes_as_prometheus_reads_it() {
        let series = vec![Series {
            labels: vec![
                ("__name__".into(), "panoptes_probe_success".into()),
                ("monitor".into(), "api".into()),
            ],
            samples: vec![(1_700_000_000_000, 1.0), (1_700_000_010_000, 0.5)],
        }];
        let compressed = body(&series).expect("body");
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&compressed)
            .expect("snappy");
        assert_eq!(raw, write_request(&series));
        let top = fields(&raw);
        assert_eq!(top.len(), 1);
        assert_eq!((top[0].0, top[0].1), (1, 2), "timeseries = 1");
        let ts = fields(&top[0].2);
        let labels: Vec<(String, String)> = ts
            .iter()
            .filter(|f| f.0 == 1)
            .map(|f| {
                let l = fields(&f.2);
                (
                    String::from_utf8(l[0].2.clone()).expect("utf8"),
                    String::from_utf8(l[1].2.clone()).expect("utf8"),
                )
            })
            .collect();
        assert_eq!(labels, series[0].labels);
        let samples: Vec<(f64, u64)> = ts
            .iter()
            .filter(|f| f.0 == 2)
            .map(|f| {
                let s = fields(&f.2);
                assert_eq!((s[0].0, s[0].1, s[1].0, s[1].1), (1, 1, 2, 0));
                let v = f64::from_le_bytes(s[0].2.clone().try_into().expect("8 bytes"));
                let t = u64::from_le_bytes(s[1].2.clone().try_into().expect("8 bytes"));
                (v, t)
            })
            .collect();
        assert_eq!(
            samples,
            vec![(1.0, 1_700_000_000_000), (0.5, 1_700_000_010_000)]
        );
    }

    #[test]
    fn batches_hold_at_most_max_samples_and_keep_order() {
        let s = |name: &str, n: i64| Series {
            labels: vec![("__name__".into(), name.into())],
            samples: (0..n).map(|t| (t, 0.0)).collect(),
        };
        let b = batches(vec![s("a", 5), s("b", 2)], 3);
        let sizes: Vec<usize> = b
            .iter()
            .map(|r| r.iter().map(|x| x.samples.len()).sum())
            .collect();
        assert_eq!(sizes, vec![3, 3, 1]);
        assert_eq!(b[1][0].samples, vec![(3, 0.0), (4, 0.0)]);
        assert_eq!(b[1][1].labels[0].1, "b");
        assert!(batches(Vec::new(), 10).is_empty());
    }

    #[test]
    fn label_names_follow_prometheus() {
        assert!(valid_label_name("region"));
        assert!(valid_label_name("_x1"));
        assert!(!valid_label_name("1x"));
        assert!(!valid_label_name("__name__"));
        assert!(!valid_label_name("a-b"));
        assert!(!valid_label_name(""));
    }
}
