//! Maintenance windows: their config (`maintenance:`), and whether a monitor is in maintenance
//! at a given instant.

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use crate::config::Duration;
use crate::config::decode::{Decode, Decoder, join};
use crate::config::yaml::Node;

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Once {
        start_ms: i64,
        end_ms: i64,
    },
    /// Starts at `at` (local time in `tz`) on each of `days`, lasting `duration_ms`.
    Recurring {
        days: Vec<Weekday>,
        at: Time,
        duration_ms: i64,
        tz: TimeZone,
    },
}

pub fn parse_days(s: &str) -> Option<Vec<Weekday>> {
    use Weekday::*;
    Some(match s.to_ascii_lowercase().as_str() {
        "mon" | "monday" => vec![Monday],
        "tue" | "tuesday" => vec![Tuesday],
        "wed" | "wednesday" => vec![Wednesday],
        "thu" | "thursday" => vec![Thursday],
        "fri" | "friday" => vec![Friday],
        "sat" | "saturday" => vec![Saturday],
        "sun" | "sunday" => vec![Sunday],
        "weekdays" => vec![Monday, Tuesday, Wednesday, Thursday, Friday],
        "weekends" => vec![Saturday, Sunday],
        "day" | "daily" | "everyday" => {
            vec![
                Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
            ]
        }
        _ => return None,
    })
}

impl Schedule {
    pub fn contains(&self, at_ms: i64) -> bool {
        match self {
            Schedule::Once { start_ms, end_ms } => *start_ms <= at_ms && at_ms < *end_ms,
            Schedule::Recurring {
                days,
                at,
                duration_ms,
                tz,
            } => {
                let Ok(ts) = jiff::Timestamp::from_millisecond(at_ms) else {
                    return false;
                };
                let today = ts.to_zoned(tz.clone()).date();
                // A window can start up to 7 days earlier and still be open (duration <= 7d).
                (0..=7).any(|back| {
                    let Ok(day) = today.checked_sub(jiff::Span::new().days(back)) else {
                        return false;
                    };
                    if !days.contains(&day.weekday()) {
                        return false;
                    }
                    let Ok(start) = day.to_datetime(*at).to_zoned(tz.clone()) else {
                        return false;
                    };
                    let start_ms = start.timestamp().as_millisecond();
                    start_ms <= at_ms && at_ms < start_ms + duration_ms
                })
            }
        }
    }
}

impl Schedule {
    /// The window open at `at_ms`, else the next one to start within `horizon_ms`: its start
    /// and end (unix ms).
    pub fn next_window(&self, at_ms: i64, horizon_ms: i64) -> Option<(i64, i64)> {
        match self {
            Schedule::Once { start_ms, end_ms } => {
                (*end_ms > at_ms && *start_ms <= at_ms + horizon_ms).then_some((*start_ms, *end_ms))
            }
            Schedule::Recurring {
                days,
                at,
                duration_ms,
                tz,
            } => {
                let today = jiff::Timestamp::from_millisecond(at_ms)
                    .ok()?
                    .to_zoned(tz.clone())
                    .date();
                let horizon_days = horizon_ms / 86_400_000 + 1;
                // From a week back (a window still open) to the horizon, the first that has
                // not ended.
                (-7..=horizon_days).find_map(|offset| {
                    let day = today.checked_add(jiff::Span::new().days(offset)).ok()?;
                    if !days.contains(&day.weekday()) {
                        return None;
                    }
                    let start = day
                        .to_datetime(*at)
                        .to_zoned(tz.clone())
                        .ok()?
                        .timestamp()
                        .as_millisecond();
                    let end = start + duration_ms;
                    (end > at_ms && start <= at_ms + horizon_ms).then_some((start, end))
                })
            }
        }
    }
}

impl MaintenanceConfig {
    pub fn applies_to(&self, monitor: &str, group: Option<&str>) -> bool {
        if self.monitors.is_empty() && self.groups.is_empty() {
            return true;
        }
        self.monitors.iter().any(|m| m == monitor)
            || group.is_some_and(|g| self.groups.iter().any(|x| x == g))
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn the_next_window_is_the_open_one_or_the_next_to_start() {
        let once = Schedule::Once {
            start_ms: 1_000,
            end_ms: 2_000,
        };
        assert_eq!(once.next_window(500, 10_000), Some((1_000, 2_000)));
        assert_eq!(once.next_window(1_500, 0), Some((1_000, 2_000)), "open now");
        assert_eq!(once.next_window(2_000, 10_000), None, "over");
        assert_eq!(once.next_window(0, 500), None, "beyond the horizon");
        // Sundays 02:00 UTC for an hour; 2026-12-05 is a Saturday.
        let weekly = Schedule::Recurring {
            days: vec![Weekday::Sunday],
            at: Time::constant(2, 0, 0, 0),
            duration_ms: 3_600_000,
            tz: TimeZone::UTC,
        };
        let sat_noon: i64 = "2026-12-05T12:00:00Z"
            .parse::<jiff::Timestamp>()
            .expect("ts")
            .as_millisecond();
        let sun_2: i64 = "2026-12-06T02:00:00Z"
            .parse::<jiff::Timestamp>()
            .expect("ts")
            .as_millisecond();
        assert_eq!(
            weekly.next_window(sat_noon, 7 * 86_400_000),
            Some((sun_2, sun_2 + 3_600_000))
        );
        assert_eq!(
            weekly.next_window(sun_2 + 60_000, 0),
            Some((sun_2, sun_2 + 3_600_000)),
            "open now"
        );
        assert_eq!(
            weekly.next_window(sat_noon, 3_600_000),
            None,
            "beyond the horizon"
        );
    }
}

/// The name of the first window covering `monitor` at `at_ms`, if any.
pub fn active<'a>(
    windows: &'a [MaintenanceConfig],
    monitor: &str,
    group: Option<&str>,
    at_ms: i64,
) -> Option<&'a str> {
    windows
        .iter()
        .find(|w| w.applies_to(monitor, group) && w.schedule.contains(at_ms))
        .map(|w| w.name.as_str())
}

/// A maintenance window: one-off (`start`/`end`) or recurring (`every`/`at`/`duration`).
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceConfig {
    pub name: String,
    /// Monitor names in scope; with `groups` empty too, the window is global.
    pub monitors: Vec<String>,
    pub groups: Vec<String>,
    pub schedule: Schedule,
}

crate::config_section! {
    pub struct MaintenanceFields {
        pub name: String,
        pub monitors: Vec<String> = Vec::new(),
        pub groups: Vec<String> = Vec::new(),
        pub start: Option<String> = None,
        pub end: Option<String> = None,
        pub every: Vec<String> = Vec::new(),
        pub at: Option<String> = None,
        pub duration: Option<Duration> = None,
        pub timezone: String = "UTC".to_string(),
    }
}

impl Decode for MaintenanceConfig {
    fn decode(node: &Node, path: &str, d: &mut Decoder) -> Option<Self> {
        let f = MaintenanceFields::decode(node, path, d)?;
        let err = |d: &mut Decoder, field: &str, msg: String| {
            d.error_at(&join(path, field), msg);
            None
        };
        let schedule = match (&f.start, &f.end, &f.at, &f.duration) {
            (Some(s), Some(e), None, None) if f.every.is_empty() => {
                let start = match s.parse::<jiff::Timestamp>() {
                    Ok(t) => t,
                    Err(e) => {
                        return err(
                            d,
                            "start",
                            format!("expected an RFC 3339 time like 2026-11-23T02:00:00Z: {e}"),
                        );
                    }
                };
                let end = match e.parse::<jiff::Timestamp>() {
                    Ok(t) => t,
                    Err(e) => return err(d, "end", format!("expected an RFC 3339 time: {e}")),
                };
                if end <= start {
                    return err(d, "end", "must be after start".into());
                }
                Schedule::Once {
                    start_ms: start.as_millisecond(),
                    end_ms: end.as_millisecond(),
                }
            }
            (None, None, Some(at), Some(duration)) => {
                let tz = match jiff::tz::TimeZone::get(&f.timezone) {
                    Ok(tz) => tz,
                    Err(e) => {
                        return err(
                            d,
                            "timezone",
                            format!("unknown time zone `{}`: {e}", f.timezone),
                        );
                    }
                };
                let time = match at.parse::<jiff::civil::Time>() {
                    Ok(t) => t,
                    Err(_) => {
                        return err(
                            d,
                            "at",
                            format!("expected a time of day like 02:30, found `{at}`"),
                        );
                    }
                };
                let mut days = Vec::new();
                for day in if f.every.is_empty() {
                    vec!["day".to_string()]
                } else {
                    f.every.clone()
                } {
                    match parse_days(&day) {
                        Some(ds) => days.extend(ds),
                        None => {
                            return err(
                                d,
                                "every",
                                format!(
                                    "`{day}` is not a weekday (mon..sun), `weekdays`, `weekends` or `day`"
                                ),
                            );
                        }
                    }
                }
                if duration.get().is_zero()
                    || duration.get() > std::time::Duration::from_secs(7 * 86_400)
                {
                    return err(d, "duration", "must be between 1s and 7d".into());
                }
                Schedule::Recurring {
                    days,
                    at: time,
                    duration_ms: duration.get().as_millis() as i64,
                    tz,
                }
            }
            _ => {
                return err(
                    d,
                    "start",
                    "give either start and end (one-off) or at and duration, with optional every and timezone (recurring)".into(),
                );
            }
        };
        Some(MaintenanceConfig {
            name: f.name,
            monitors: f.monitors,
            groups: f.groups,
            schedule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().expect("ts").as_millisecond()
    }

    #[test]
    fn one_off_windows_are_half_open() {
        let s = Schedule::Once {
            start_ms: ms("2026-11-23T02:00:00Z"),
            end_ms: ms("2026-11-23T03:00:00Z"),
        };
        assert!(!s.contains(ms("2026-11-23T01:59:59Z")));
        assert!(s.contains(ms("2026-11-23T02:00:00Z")));
        assert!(s.contains(ms("2026-11-23T02:59:59Z")));
        assert!(!s.contains(ms("2026-11-23T03:00:00Z")));
    }

    #[test]
    fn recurring_windows_follow_the_time_zone_and_cross_midnight() {
        // Mondays 23:30 Berlin time for 1h: 22:30-23:30 UTC in winter.
        let s = Schedule::Recurring {
            days: vec![Weekday::Monday],
            at: Time::constant(23, 30, 0, 0),
            duration_ms: 3_600_000,
            tz: TimeZone::get("Europe/Berlin").expect("tz"),
        };
        // 2026-11-23 is a Monday.
        assert!(!s.contains(ms("2026-11-23T22:29:00Z")));
        assert!(s.contains(ms("2026-11-23T22:30:00Z")));
        assert!(
            s.contains(ms("2026-11-23T23:15:00Z")),
            "Tuesday 00:15 local"
        );
        assert!(!s.contains(ms("2026-11-23T23:30:00Z")));
        assert!(!s.contains(ms("2026-11-24T22:45:00Z")), "not on Tuesdays");
    }

    #[test]
    fn scope_by_monitor_group_or_global() {
        let w = |monitors: Vec<&str>, groups: Vec<&str>| MaintenanceConfig {
            name: "w".into(),
            monitors: monitors.into_iter().map(String::from).collect(),
            groups: groups.into_iter().map(String::from).collect(),
            schedule: Schedule::Once {
                start_ms: 0,
                end_ms: 10,
            },
        };
        assert!(w(vec![], vec![]).applies_to("x", None));
        assert!(w(vec!["x"], vec![]).applies_to("x", None));
        assert!(!w(vec!["y"], vec![]).applies_to("x", None));
        assert!(w(vec![], vec!["prod"]).applies_to("x", Some("prod")));
        assert!(!w(vec![], vec!["prod"]).applies_to("x", Some("dev")));
        let windows = [w(vec!["x"], vec![])];
        assert_eq!(active(&windows, "x", None, 5), Some("w"));
        assert_eq!(active(&windows, "x", None, 10), None);
    }
}
