//! Maintenance windows: is a monitor in maintenance at a given instant?

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use super::config::MaintenanceConfig;

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

impl MaintenanceConfig {
    pub fn applies_to(&self, monitor: &str, group: Option<&str>) -> bool {
        if self.monitors.is_empty() && self.groups.is_empty() {
            return true;
        }
        self.monitors.iter().any(|m| m == monitor)
            || group.is_some_and(|g| self.groups.iter().any(|x| x == g))
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
