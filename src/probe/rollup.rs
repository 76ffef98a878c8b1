//! Roll-ups (per minute, hour, day) updated as results arrive, and the compact encodings of
//! results and roll-ups. Nothing here ever rescans raw results.

use super::state::State;

/// Latency histogram upper bounds in milliseconds; the last bucket is open-ended.
pub const BUCKETS_MS: [u32; 28] = [
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000,
    5000, 7000, 10_000, 15_000, 20_000, 30_000, 60_000,
];
const NB: usize = BUCKETS_MS.len() + 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    Minute = 1,
    Hour = 2,
    Day = 3,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];

    pub fn millis(self) -> u64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }

    pub fn bucket(self, ts_ms: u64) -> u64 {
        ts_ms - ts_ms % self.millis()
    }

    pub fn parse(s: &str) -> Option<Resolution> {
        match s {
            "minute" => Some(Resolution::Minute),
            "hour" => Some(Resolution::Hour),
            "day" => Some(Resolution::Day),
            _ => None,
        }
    }

    /// The resolution as the API carries it.
    pub fn wire(self) -> panoptes_types::Resolution {
        match self {
            Resolution::Minute => panoptes_types::Resolution::Minute,
            Resolution::Hour => panoptes_types::Resolution::Hour,
            Resolution::Day => panoptes_types::Resolution::Day,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }
}

/// Counts for one monitor over one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollup {
    pub up: u32,
    pub degraded: u32,
    pub down: u32,
    pub maintenance: u32,
    pub pending: u32,
    pub satisfied: u32,
    pub tolerating: u32,
    pub frustrated: u32,
    pub latency_sum_ms: u64,
    pub histogram: [u32; NB],
}

impl Rollup {
    /// Adds one result. Maintenance results are counted but left out of availability, latency
    /// and Apdex; failures count as frustrated.
    pub fn add(&mut self, state: State, ok: bool, latency_ms: u64, apdex_t_ms: u64) {
        let one = |n: &mut u32| *n = n.saturating_add(1);
        match state {
            State::Up => one(&mut self.up),
            State::Degraded => one(&mut self.degraded),
            State::Down => one(&mut self.down),
            State::Maintenance => {
                one(&mut self.maintenance);
                return;
            }
            State::Pending => one(&mut self.pending),
            State::Unknown => return,
        }
        self.latency_sum_ms = self.latency_sum_ms.saturating_add(latency_ms);
        let i = BUCKETS_MS
            .iter()
            .position(|b| latency_ms <= u64::from(*b))
            .unwrap_or(NB - 1);
        one(&mut self.histogram[i]);
        if !ok {
            one(&mut self.frustrated);
        } else if latency_ms <= apdex_t_ms {
            one(&mut self.satisfied);
        } else if latency_ms <= apdex_t_ms.saturating_mul(4) {
            one(&mut self.tolerating);
        } else {
            one(&mut self.frustrated);
        }
    }

    /// Adds `o` into this one. Saturating: latencies come from clients (a pushed heartbeat
    /// names its own), and stored rows are merged over long ranges.
    pub fn merge(&mut self, o: &Rollup) {
        let add = |a: &mut u32, b: u32| *a = a.saturating_add(b);
        add(&mut self.up, o.up);
        add(&mut self.degraded, o.degraded);
        add(&mut self.down, o.down);
        add(&mut self.maintenance, o.maintenance);
        add(&mut self.pending, o.pending);
        add(&mut self.satisfied, o.satisfied);
        add(&mut self.tolerating, o.tolerating);
        add(&mut self.frustrated, o.frustrated);
        self.latency_sum_ms = self.latency_sum_ms.saturating_add(o.latency_sum_ms);
        for (a, b) in self.histogram.iter_mut().zip(o.histogram.iter()) {
            add(a, *b);
        }
    }

    /// Checks that count toward availability (maintenance excluded).
    pub fn counted(&self) -> u32 {
        self.up
            .saturating_add(self.degraded)
            .saturating_add(self.down)
            .saturating_add(self.pending)
    }

    /// Share of counted checks that were not DOWN (PENDING is a suspected, not a declared,
    /// failure). `None` when nothing was counted.
    pub fn availability(&self) -> Option<f64> {
        let n = self.counted();
        (n > 0).then(|| f64::from(n.saturating_sub(self.down)) / f64::from(n))
    }

    /// Mean latency of the counted checks in ms. `None` when nothing was counted.
    pub fn mean_ms(&self) -> Option<f64> {
        let n = self.counted();
        (n > 0).then(|| self.latency_sum_ms as f64 / f64::from(n))
    }

    /// Merges every roll-up into one (the totals over a range of buckets).
    pub fn total<'a>(rollups: impl IntoIterator<Item = &'a Rollup>) -> Rollup {
        let mut total = Rollup::default();
        for r in rollups {
            total.merge(r);
        }
        total
    }

    pub fn apdex(&self) -> Option<f64> {
        let n = u64::from(self.satisfied) + u64::from(self.tolerating) + u64::from(self.frustrated);
        (n > 0).then(|| (f64::from(self.satisfied) + f64::from(self.tolerating) / 2.0) / n as f64)
    }

    /// Latency percentile (0..=1) in ms, interpolated linearly inside the bucket.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let n: u64 = self.histogram.iter().map(|c| u64::from(*c)).sum();
        if n == 0 {
            return None;
        }
        let rank = (p.clamp(0.0, 1.0) * n as f64).max(1.0);
        let mut seen = 0u64;
        for (i, c) in self.histogram.iter().enumerate() {
            let c = u64::from(*c);
            if c == 0 {
                continue;
            }
            if (seen + c) as f64 >= rank {
                let lo = if i == 0 {
                    0.0
                } else {
                    f64::from(BUCKETS_MS[i - 1])
                };
                let hi = BUCKETS_MS.get(i).map(|b| f64::from(*b)).unwrap_or(lo * 2.0);
                let within = (rank - seen as f64) / c as f64;
                return Some(lo + (hi - lo) * within);
            }
            seen += c;
        }
        None
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        for v in [
            self.up,
            self.degraded,
            self.down,
            self.maintenance,
            self.pending,
            self.satisfied,
            self.tolerating,
            self.frustrated,
        ] {
            put_varint(&mut out, u64::from(v));
        }
        put_varint(&mut out, self.latency_sum_ms);
        // Sparse histogram: (index, count) pairs.
        let used = self.histogram.iter().filter(|c| **c > 0).count();
        put_varint(&mut out, used as u64);
        for (i, c) in self.histogram.iter().enumerate() {
            if *c > 0 {
                put_varint(&mut out, i as u64);
                put_varint(&mut out, u64::from(*c));
            }
        }
        out
    }

    pub fn decode(mut b: &[u8]) -> Option<Rollup> {
        let mut r = Rollup::default();
        let mut counts = [0u32; 8];
        for c in counts.iter_mut() {
            *c = u32::try_from(get_varint(&mut b)?).ok()?;
        }
        [
            r.up,
            r.degraded,
            r.down,
            r.maintenance,
            r.pending,
            r.satisfied,
            r.tolerating,
            r.frustrated,
        ] = counts;
        r.latency_sum_ms = get_varint(&mut b)?;
        let used = get_varint(&mut b)?;
        for _ in 0..used.min(NB as u64) {
            let i = get_varint(&mut b)? as usize;
            let c = u32::try_from(get_varint(&mut b)?).ok()?;
            *r.histogram.get_mut(i)? = c;
        }
        Some(r)
    }
}

/// One stored check result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRecord {
    pub state: State,
    /// All conditions held (independent of retries and maintenance).
    pub ok: bool,
    pub latency_us: u64,
    pub status: Option<u16>,
    /// Bit i set: condition i failed.
    pub failed_conditions: u64,
    pub error: Option<String>,
}

const F_OK: u8 = 0x08;
const F_STATUS: u8 = 0x10;
const F_FAILED: u8 = 0x20;
const F_ERROR: u8 = 0x40;
const MAX_ERROR: usize = 512;

impl ResultRecord {
    /// A healthy HTTP result is 1 byte of state/flags, the latency (2-3 bytes) and the status
    /// (2 bytes): about 6 bytes of value.
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = self.state.code() & 0x07;
        if self.ok {
            flags |= F_OK;
        }
        if self.status.is_some() {
            flags |= F_STATUS;
        }
        if self.failed_conditions != 0 {
            flags |= F_FAILED;
        }
        if self.error.is_some() {
            flags |= F_ERROR;
        }
        let mut out = Vec::with_capacity(8);
        out.push(flags);
        put_varint(&mut out, self.latency_us);
        if let Some(s) = self.status {
            put_varint(&mut out, u64::from(s));
        }
        if self.failed_conditions != 0 {
            put_varint(&mut out, self.failed_conditions);
        }
        if let Some(e) = &self.error {
            let mut cut = e.len().min(MAX_ERROR);
            while !e.is_char_boundary(cut) {
                cut -= 1;
            }
            put_varint(&mut out, cut as u64);
            out.extend_from_slice(&e.as_bytes()[..cut]);
        }
        out
    }

    pub fn decode(mut b: &[u8]) -> Option<ResultRecord> {
        let (&flags, rest) = b.split_first()?;
        b = rest;
        let state = State::from_code(flags & 0x07)?;
        let latency_us = get_varint(&mut b)?;
        let status = if flags & F_STATUS != 0 {
            Some(u16::try_from(get_varint(&mut b)?).ok()?)
        } else {
            None
        };
        let failed_conditions = if flags & F_FAILED != 0 {
            get_varint(&mut b)?
        } else {
            0
        };
        let error = if flags & F_ERROR != 0 {
            let n = get_varint(&mut b)? as usize;
            let bytes = b.get(..n)?;
            Some(String::from_utf8_lossy(bytes).into_owned())
        } else {
            None
        };
        Some(ResultRecord {
            state,
            ok: flags & F_OK != 0,
            latency_us,
            status,
            failed_conditions,
            error,
        })
    }
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn get_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_and_healthy_ones_are_tiny() {
        let healthy = ResultRecord {
            state: State::Up,
            ok: true,
            latency_us: 12_345,
            status: Some(200),
            failed_conditions: 0,
            error: None,
        };
        let bytes = healthy.encode();
        assert!(bytes.len() <= 6, "{} bytes", bytes.len());
        assert_eq!(ResultRecord::decode(&bytes), Some(healthy));
        let failed = ResultRecord {
            state: State::Down,
            ok: false,
            latency_us: 5_000_000,
            status: None,
            failed_conditions: 0b101,
            error: Some("connection refused".into()),
        };
        assert_eq!(ResultRecord::decode(&failed.encode()), Some(failed));
        assert_eq!(ResultRecord::decode(&[]), None);
        assert_eq!(ResultRecord::decode(&[0x47]), None, "truncated");
    }

    #[test]
    fn rollups_count_availability_apdex_and_percentiles() {
        let mut r = Rollup::default();
        for _ in 0..90 {
            r.add(State::Up, true, 100, 500);
        }
        for _ in 0..5 {
            r.add(State::Degraded, true, 1000, 500);
        }
        for _ in 0..5 {
            r.add(State::Down, false, 5000, 500);
        }
        for _ in 0..50 {
            r.add(State::Maintenance, false, 9000, 500);
        }
        assert_eq!(r.counted(), 100);
        assert_eq!(r.availability(), Some(0.95));
        // 90 satisfied, 5 tolerating, 5 frustrated.
        assert_eq!(r.apdex(), Some((90.0 + 2.5) / 100.0));
        let p50 = r.percentile(0.5).expect("p50");
        assert!((70.0..=100.0).contains(&p50), "{p50}");
        let p99 = r.percentile(0.99).expect("p99");
        assert!((3000.0..=5000.0).contains(&p99), "{p99}");
        assert_eq!(Rollup::decode(&r.encode()), Some(r.clone()));
        let mut m = Rollup::default();
        m.merge(&r);
        m.merge(&r);
        assert_eq!(m.counted(), 200);
        assert_eq!(Rollup::default().availability(), None);
    }

    #[test]
    fn buckets_align() {
        assert_eq!(Resolution::Minute.bucket(61_234), 60_000);
        assert_eq!(Resolution::Hour.bucket(3_600_001), 3_600_000);
        assert_eq!(Resolution::Day.bucket(86_399_999), 0);
    }

    /// Counts and sums come partly from clients (a pushed latency) and are merged over long
    /// ranges: they saturate rather than overflow (a panic in debug builds, a wrap in release).
    #[test]
    fn merging_saturates_instead_of_overflowing() {
        let mut a = Rollup {
            up: u32::MAX,
            satisfied: u32::MAX,
            latency_sum_ms: u64::MAX,
            ..Default::default()
        };
        a.histogram[0] = u32::MAX;
        let b = a.clone();
        a.merge(&b);
        a.add(State::Up, true, u64::MAX, u64::MAX);
        assert_eq!((a.up, a.histogram[0]), (u32::MAX, u32::MAX));
        assert_eq!(a.latency_sum_ms, u64::MAX);
        assert_eq!(a.counted(), u32::MAX);
        assert_eq!(a.availability(), Some(1.0));
        assert!(a.apdex().is_some());
    }
}
