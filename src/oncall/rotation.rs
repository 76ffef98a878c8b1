//! Who is on call: rotation layers in a time zone, restrictions, layer precedence and
//! overrides, computed for an instant or as the shifts of a range. Pure: instants in, names
//! out. Calendar rotations step in civil days, so a weekly Monday 09:00 hand-off in
//! Europe/Berlin stays at 09:00 local across both DST changes (that week is 167 or 169 hours).

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::config::{LayerConfig, Restriction, Rotation, ScheduleConfig};

/// Most shifts one range answers with.
pub const MAX_SHIFTS: usize = 10_000;
/// Farthest a range or a "next on call" search reaches.
pub const MAX_RANGE_MS: u64 = 366 * 86_400_000;

/// "Ana covers Ben from Friday 18:00 to Monday 09:00": `user` is on call in `schedule` for
/// `[start_ms, end_ms)`, above every layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    pub id: u64,
    pub schedule: String,
    pub user: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub created_by: String,
    pub created_ms: u64,
}

/// One person's uninterrupted time on call.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub user: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// From an override, not a layer.
    pub override_id: Option<u64>,
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millisecond(ms.min(i64::MAX as u64) as i64).unwrap_or(Timestamp::MAX)
}

fn ms_of(t: Timestamp) -> u64 {
    u64::try_from(t.as_millisecond()).unwrap_or(0)
}

/// The instant of a local date-time (a time in a DST gap moves forward, as clocks do; in a
/// repeated hour, the first).
fn instant(tz: &TimeZone, dt: DateTime) -> u64 {
    tz.to_ambiguous_zoned(dt)
        .compatible()
        .map(|z| ms_of(z.timestamp()))
        .unwrap_or(0)
}

/// A schedule ready to answer.
pub struct Schedule<'a> {
    cfg: &'a ScheduleConfig,
    overrides: Vec<&'a Override>,
}

/// Who a layer says, and whether it applies at all at that instant.
struct Layer<'a> {
    cfg: &'a LayerConfig,
    tz: &'a TimeZone,
    anchor: DateTime,
}

impl<'a> Layer<'a> {
    fn new(cfg: &'a LayerConfig, tz: &'a TimeZone) -> Layer<'a> {
        let mut date = cfg.start.0;
        if let (Rotation::Days(n), Some(day)) = (cfg.rotation, cfg.handoff.day) {
            // Weekly (and multi-week) turns start on the hand-off day.
            if n % 7 == 0 {
                while date.weekday() != day.0 {
                    date = date.tomorrow().unwrap_or(date);
                }
            }
        }
        Layer {
            cfg,
            tz,
            anchor: date.to_datetime(cfg.handoff.time.0),
        }
    }

    /// Start of turn `k` (turn 0 starts at the anchor).
    fn turn_start(&self, k: i64) -> u64 {
        match self.cfg.rotation {
            Rotation::Days(n) => {
                let days = k.saturating_mul(i64::from(n));
                let dt = self.anchor.checked_add(days.days()).unwrap_or(if k < 0 {
                    DateTime::MIN
                } else {
                    DateTime::MAX
                });
                instant(self.tz, dt)
            }
            Rotation::Millis(d) => {
                let a = instant(self.tz, self.anchor) as i128;
                (a + i128::from(k) * i128::from(d)).clamp(0, i128::from(u64::MAX)) as u64
            }
        }
    }

    /// The turn containing `t` (negative before the first).
    fn turn_at(&self, t: u64) -> i64 {
        let anchor = instant(self.tz, self.anchor);
        let mut k = match self.cfg.rotation {
            Rotation::Millis(d) => ((t as i128 - anchor as i128).div_euclid(d as i128)) as i64,
            Rotation::Days(n) => {
                let date = ts(t).to_zoned(self.tz.clone()).date();
                let days = self
                    .anchor
                    .date()
                    .until(date)
                    .map(|s| i64::from(s.get_days()))
                    .unwrap_or(0);
                days.div_euclid(i64::from(n))
            }
        };
        // Civil arithmetic can be a turn off around the hand-off hour: settle on instants.
        while k > i64::MIN / 2 && self.turn_start(k) > t {
            k -= 1;
        }
        while self.turn_start(k + 1) <= t {
            k += 1;
        }
        k
    }

    fn user_at(&self, t: u64) -> Option<&'a str> {
        let k = self.turn_at(t);
        if k < 0 || self.cfg.users.is_empty() || !self.applies(t) {
            return None;
        }
        let i = (k as u64 % self.cfg.users.len() as u64) as usize;
        Some(self.cfg.users[i].as_str())
    }

    fn applies(&self, t: u64) -> bool {
        if self.cfg.restrictions.is_empty() {
            return true;
        }
        let z = ts(t).to_zoned(self.tz.clone());
        let (day, time) = (z.date().weekday(), z.time());
        let yesterday = z.date().yesterday().map_or(day, |d| d.weekday());
        self.cfg.restrictions.iter().any(|r| {
            let on = |d: Weekday| r.days.is_empty() || r.days.iter().any(|x| x.0 == d);
            let (from, to) = (r.from.0, r.to.0);
            if from < to {
                on(day) && time >= from && time < to
            } else {
                // Spans midnight (or the whole day when from == to).
                (on(day) && time >= from) || (on(yesterday) && time < to)
            }
        })
    }

    /// Instants in `[from, to)` where this layer may change hands.
    fn boundaries(&self, from: u64, to: u64, out: &mut Vec<u64>) {
        let first = self.turn_at(from).max(0);
        for k in first..first.saturating_add(MAX_SHIFTS as i64) {
            let s = self.turn_start(k);
            if s >= to {
                break;
            }
            if s >= from {
                out.push(s);
            }
        }
        if self.cfg.restrictions.is_empty() {
            return;
        }
        let tz = self.tz;
        let first = ts(from).to_zoned(tz.clone()).date().yesterday().ok();
        let Some(mut date) = first else { return };
        for _ in 0..(MAX_RANGE_MS / 86_400_000 + 3) {
            let start = instant(tz, date.to_datetime(jiff::civil::Time::midnight()));
            if start >= to {
                break;
            }
            for r in &self.cfg.restrictions {
                push_restriction(tz, date, r, from, to, out);
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
    }
}

fn push_restriction(
    tz: &TimeZone,
    date: Date,
    r: &Restriction,
    from: u64,
    to: u64,
    out: &mut Vec<u64>,
) {
    for time in [r.from.0, r.to.0] {
        for d in [Some(date), date.tomorrow().ok()].into_iter().flatten() {
            let t = instant(tz, d.to_datetime(time));
            if t >= from && t < to {
                out.push(t);
            }
        }
    }
}

impl<'a> Schedule<'a> {
    /// `overrides` may hold other schedules' (they are filtered here).
    pub fn new(cfg: &'a ScheduleConfig, overrides: &'a [Override]) -> Schedule<'a> {
        Schedule {
            cfg,
            overrides: overrides
                .iter()
                .filter(|o| o.schedule == cfg.name)
                .collect(),
        }
    }

    fn layers(&self) -> impl DoubleEndedIterator<Item = Layer<'_>> {
        let tz = &self.cfg.time_zone.0;
        self.cfg.layers.iter().map(move |l| Layer::new(l, tz))
    }

    /// Who is on call at `t` (none when no layer applies), and the override that put them
    /// there.
    pub fn who(&self, t: u64) -> Option<(String, Option<u64>)> {
        // The newest override covering `t` wins.
        if let Some(o) = self
            .overrides
            .iter()
            .filter(|o| o.start_ms <= t && t < o.end_ms)
            .max_by_key(|o| (o.created_ms, o.id))
        {
            return Some((o.user.clone(), Some(o.id)));
        }
        // Later layers sit above earlier ones.
        self.layers()
            .rev()
            .find_map(|l| l.user_at(t))
            .map(|u| (u.to_string(), None))
    }

    pub fn on_call(&self, t: u64) -> Vec<String> {
        self.who(t).map(|(u, _)| vec![u]).unwrap_or_default()
    }

    /// The shifts of `[from, to)`, adjacent turns of the same person merged.
    pub fn shifts(&self, from: u64, to: u64) -> Vec<Shift> {
        let to = to.min(from.saturating_add(MAX_RANGE_MS));
        if to <= from {
            return Vec::new();
        }
        let mut cuts = vec![from];
        for l in self.layers() {
            l.boundaries(from, to, &mut cuts);
        }
        for o in &self.overrides {
            for t in [o.start_ms, o.end_ms] {
                if t > from && t < to {
                    cuts.push(t);
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut out: Vec<Shift> = Vec::new();
        for (i, start) in cuts.iter().enumerate() {
            let end = cuts.get(i + 1).copied().unwrap_or(to);
            let Some((user, override_id)) = self.who(*start) else {
                continue;
            };
            match out.last_mut() {
                Some(last)
                    if last.end_ms == *start
                        && last.user == user
                        && last.override_id == override_id =>
                {
                    last.end_ms = end
                }
                _ => {
                    if out.len() >= MAX_SHIFTS {
                        break;
                    }
                    out.push(Shift {
                        user,
                        start_ms: *start,
                        end_ms: end,
                        override_id,
                    })
                }
            }
        }
        out
    }

    /// The next person on call after the current turn, and from when.
    pub fn next(&self, t: u64) -> Option<(String, u64)> {
        let now = self.who(t).map(|(u, _)| u);
        let mut from = t;
        // Look ahead a week at a time so a daily rotation does not compute a year of shifts.
        while from < t.saturating_add(MAX_RANGE_MS) {
            let to = from.saturating_add(7 * 86_400_000);
            for s in self.shifts(from, to) {
                if s.start_ms > t && Some(&s.user) != now.as_ref() {
                    return Some((s.user, s.start_ms));
                }
            }
            from = to;
        }
        None
    }

    /// Everyone who takes turns in the schedule, in layer order, once each.
    pub fn everyone(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in &self.cfg.layers {
            for u in &l.users {
                if !out.contains(u) {
                    out.push(u.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
