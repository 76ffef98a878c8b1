//! The list's uptimes without a store scan per request: the last 24 hours from the hour
//! tallies each runtime keeps (`HourTally`, also the 24 h bar), and 7/30/90 days as the totals
//! of the completed days (read once per monitor per day, cached) plus today's roll-up, which the
//! runtime holds. Past days' roll-ups no longer change, so the cache is exact until midnight.

use panoptes_types::HourBar;

use super::query::buckets;
use super::rollup::{Resolution, Rollup};
use crate::store::Store;

const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;
/// Hours in the bar (the current one last).
pub const BAR_HOURS: usize = 24;

/// One hour of a monitor's results, kept in memory for the 24 h uptime and bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HourTally {
    pub start: u64,
    /// Checks that count toward availability (maintenance excluded).
    pub counted: u32,
    pub down: u32,
    pub degraded: u32,
}

impl HourTally {
    pub fn of(start: u64, r: &Rollup) -> Self {
        HourTally {
            start,
            counted: r.counted(),
            down: r.down,
            degraded: r.degraded,
        }
    }

    fn availability(&self) -> Option<f64> {
        (self.counted > 0)
            .then(|| f64::from(self.counted.saturating_sub(self.down)) / f64::from(self.counted))
    }
}

/// Uptime over the last 24 hours from the hour tallies.
pub fn uptime_24h<'a>(hours: impl IntoIterator<Item = &'a HourTally>, now_ms: u64) -> Option<f64> {
    let since = now_ms.saturating_sub(24 * HOUR);
    let (counted, down) = hours
        .into_iter()
        .filter(|h| h.start + HOUR > since)
        .fold((0u64, 0u64), |(c, d), h| {
            (c + u64::from(h.counted), d + u64::from(h.down))
        });
    (counted > 0).then(|| counted.saturating_sub(down) as f64 / counted as f64)
}

/// The 24 h bar: each of the last 24 hours (the current one last) with its availability.
pub fn bar(hours: &[HourTally], now_ms: u64) -> HourBar {
    let current = Resolution::Hour.bucket(now_ms);
    let from = current.saturating_sub((BAR_HOURS as u64 - 1) * HOUR);
    let mut out = HourBar {
        from_ms: from,
        availability: vec![None; BAR_HOURS],
        degraded: 0,
    };
    for h in hours
        .iter()
        .filter(|h| h.start >= from && h.start <= current)
    {
        let i = ((h.start - from) / HOUR) as usize;
        if let Some(slot) = out.availability.get_mut(i) {
            // Four decimals: enough for a tooltip, short in JSON.
            *slot = h
                .availability()
                .map(|a| ((a * 10_000.0).round() / 10_000.0) as f32);
            if h.degraded > 0 {
                out.degraded |= 1 << i;
            }
        }
    }
    out
}

/// (counted, down) summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub counted: u64,
    pub down: u64,
}

impl Tally {
    fn add(self, counted: u32, down: u32) -> Tally {
        Tally {
            counted: self.counted + u64::from(counted),
            down: self.down + u64::from(down),
        }
    }

    fn availability(self) -> Option<f64> {
        (self.counted > 0)
            .then(|| self.counted.saturating_sub(self.down) as f64 / self.counted as f64)
    }
}

/// A monitor's completed days before `today`, totalled over 7, 30 and 90 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayTotals {
    /// The day (bucket start) these were read on; stale from the next midnight.
    pub today: u64,
    pub d7: Tally,
    pub d30: Tally,
    pub d90: Tally,
}

impl DayTotals {
    /// Reads the day roll-ups of the 90 days before `today` (one range read).
    pub fn read(store: &Store, id: u32, today: u64) -> DayTotals {
        let rows = buckets(
            store,
            id,
            Resolution::Day,
            today.saturating_sub(90 * DAY),
            today,
        )
        .unwrap_or_default();
        Self::of(today, &rows)
    }

    pub fn of(today: u64, rows: &[(u64, Rollup)]) -> DayTotals {
        let mut t = DayTotals {
            today,
            ..Default::default()
        };
        for (start, r) in rows.iter().filter(|(s, _)| *s < today) {
            let age = (today - start) / DAY;
            if age <= 7 {
                t.d7 = t.d7.add(r.counted(), r.down);
            }
            if age <= 30 {
                t.d30 = t.d30.add(r.counted(), r.down);
            }
            if age <= 90 {
                t.d90 = t.d90.add(r.counted(), r.down);
            }
        }
        t
    }

    /// 7, 30 and 90-day availability with today's roll-up (counted, down) added.
    pub fn with_today(&self, today: (u32, u32)) -> [Option<f64>; 3] {
        [self.d7, self.d30, self.d90].map(|t| t.add(today.0, today.1).availability())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::state::State;

    fn rollup(up: u32, down: u32) -> Rollup {
        let mut r = Rollup::default();
        for _ in 0..up {
            r.add(State::Up, true, 10, 100);
        }
        for _ in 0..down {
            r.add(State::Down, false, 10, 100);
        }
        r
    }

    #[test]
    fn the_bar_places_each_hour_and_marks_degraded_ones() {
        let now = 100 * HOUR + 1_000;
        let hours = [
            HourTally {
                start: 76 * HOUR,
                counted: 4,
                down: 4,
                degraded: 0,
            }, // outside
            HourTally {
                start: 77 * HOUR,
                counted: 4,
                down: 1,
                degraded: 0,
            },
            HourTally {
                start: 99 * HOUR,
                counted: 3,
                down: 0,
                degraded: 1,
            },
            HourTally {
                start: 100 * HOUR,
                counted: 2,
                down: 0,
                degraded: 0,
            },
        ];
        let b = bar(&hours, now);
        assert_eq!(b.from_ms, 77 * HOUR);
        assert_eq!(b.availability.len(), BAR_HOURS);
        assert_eq!(b.availability[0], Some(0.75));
        assert_eq!(b.availability[1], None);
        assert_eq!(b.availability[22], Some(1.0));
        assert_eq!(b.availability[23], Some(1.0));
        assert_eq!(b.degraded, 1 << 22);
        // The 24 h uptime counts the hour the window starts in (the bar starts an hour later).
        assert_eq!(uptime_24h(&hours, now), Some(8.0 / 13.0));
    }

    #[test]
    fn day_totals_split_by_age_and_take_today_from_memory() {
        let today = 200 * DAY;
        let rows = [
            (today - 91 * DAY, rollup(0, 50)), // beyond 90 days: the caller never reads it
            (today - 60 * DAY, rollup(0, 10)),
            (today - 20 * DAY, rollup(10, 0)),
            (today - DAY, rollup(9, 1)),
            (today, rollup(0, 100)), // today is the runtime's, not the store's
        ];
        let t = DayTotals::of(today, &rows[1..]);
        assert_eq!(
            t.d7,
            Tally {
                counted: 10,
                down: 1
            }
        );
        assert_eq!(
            t.d30,
            Tally {
                counted: 20,
                down: 1
            }
        );
        assert_eq!(
            t.d90,
            Tally {
                counted: 30,
                down: 11
            }
        );
        let [d7, d30, d90] = t.with_today((10, 0));
        assert_eq!(d7, Some(19.0 / 20.0));
        assert_eq!(d30, Some(29.0 / 30.0));
        assert_eq!(d90, Some(29.0 / 40.0));
        assert_eq!(DayTotals::of(today, &[]).with_today((0, 0)), [None; 3]);
    }
}
