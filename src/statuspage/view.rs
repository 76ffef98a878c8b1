//! What one page shows at one instant, gathered once per render: each component's status
//! (monitors, then open incidents), its 90 day bars, uptimes and response times, and the
//! page's incidents. Every renderer (HTML, Statuspage JSON, feeds) reads only this.

use std::collections::BTreeMap;

use super::config::{ComponentConfig, StatusPageConfig};
use super::model::{self, ComponentStatus, Impact, Incident};
use super::{Monitors, Settings};
use crate::probe::rollup::{Resolution, Rollup};

pub const DAY_MS: u64 = 86_400_000;
pub const HOUR_MS: u64 = 3_600_000;
/// Days of bars on the page.
pub const DAYS: usize = 90;

/// One day of a component: availability (none when nothing was checked) and that day's
/// incidents by name.
#[derive(Debug, Clone, PartialEq)]
pub struct DayBar {
    pub start_ms: u64,
    pub availability: Option<f64>,
    pub incidents: Vec<String>,
}

/// A monitor's facts, only for components with `show_details`.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub monitor: String,
    pub state: &'static str,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComponentView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: ComponentStatus,
    /// What its monitors alone give it (before incidents).
    pub derived: ComponentStatus,
    /// 1-based, page order.
    pub position: usize,
    pub group_id: Option<String>,
    pub days: Vec<DayBar>,
    /// 24 h, 7 d, 30 d, 90 d.
    pub uptime: [Option<f64>; 4],
    /// Mean response time per hour over the last 24 h, oldest first.
    pub hourly_ms: Vec<Option<f64>>,
    /// Mean response time per day over the 90 days, oldest first.
    pub daily_ms: Vec<Option<f64>>,
    pub details: Option<Vec<Detail>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub position: usize,
    pub components: Vec<ComponentView>,
}

#[derive(Debug, Clone)]
pub struct PageView {
    pub config: StatusPageConfig,
    /// `{external_url}/status/{slug}`.
    pub url: String,
    pub now_ms: u64,
    /// Latest change of anything shown.
    pub updated_ms: u64,
    pub indicator: Impact,
    pub description: &'static str,
    pub components: Vec<ComponentView>,
    pub groups: Vec<GroupView>,
    /// The page's incidents and maintenance, newest first.
    pub incidents: Vec<Incident>,
    /// Configured maintenance windows over its components, open now or starting within a
    /// week, as scheduled maintenance (not in the feeds or the history).
    pub windows: Vec<Incident>,
}

impl PageView {
    /// The (year, month) of a moment in the page's time zone.
    pub fn month_of(&self, ms: u64) -> (i16, i8) {
        jiff::Timestamp::from_millisecond(ms as i64)
            .map(|t| {
                let z = t.to_zoned(self.config.time_zone.0.clone());
                (z.year(), z.month())
            })
            .unwrap_or((1970, 1))
    }

    /// Every month with an incident, newest first: the history's month list.
    pub fn incident_months(&self) -> Vec<(i16, i8)> {
        let mut months: Vec<(i16, i8)> = self
            .incidents
            .iter()
            .map(|i| self.month_of(i.started_ms))
            .collect();
        months.sort_unstable_by(|a, b| b.cmp(a));
        months.dedup();
        months
    }

    /// The history's default month: the newest with an incident that has begun (maintenance
    /// may be scheduled years ahead), or this month.
    pub fn latest_month(&self) -> (i16, i8) {
        let latest = self
            .incidents
            .iter()
            .map(|i| i.started_ms)
            .filter(|t| *t <= self.now_ms)
            .max()
            .unwrap_or(self.now_ms);
        self.month_of(latest)
    }

    /// Every component, ungrouped first, then by group.
    pub fn all(&self) -> impl Iterator<Item = &ComponentView> {
        self.components
            .iter()
            .chain(self.groups.iter().flat_map(|g| g.components.iter()))
    }

    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.all().find(|c| c.id == id).map(|c| c.name.as_str())
    }
}

/// The published incidents of one page, newest first (drafts are on no public route).
fn page_incidents(all: &BTreeMap<u64, Incident>, slug: &str) -> Vec<Incident> {
    all.values()
        .rev()
        .filter(|i| i.page == slug && !i.draft)
        .cloned()
        .collect()
}

/// Merged roll-ups of a component's monitors, per bucket start.
fn merged(
    monitors: &dyn Monitors,
    names: &[&str],
    res: Resolution,
    from: u64,
    to: u64,
) -> BTreeMap<u64, Rollup> {
    let mut out: BTreeMap<u64, Rollup> = BTreeMap::new();
    for name in names {
        for (start, r) in monitors.rollups(name, res, from, to) {
            out.entry(start).or_default().merge(&r);
        }
    }
    out
}

fn availability_over(buckets: &BTreeMap<u64, Rollup>, from: u64) -> Option<f64> {
    Rollup::total(buckets.range(from..).map(|(_, r)| r)).availability()
}

fn mean_ms(r: Option<&Rollup>) -> Option<f64> {
    r?.mean_ms()
}

/// What every component of one render shares.
struct Cx<'a> {
    page: &'a StatusPageConfig,
    s: &'a Settings,
    monitors: &'a dyn Monitors,
    incidents: &'a [Incident],
    now_ms: u64,
}

fn component(
    cx: &Cx<'_>,
    c: &ComponentConfig,
    position: usize,
    group_id: Option<String>,
) -> ComponentView {
    let Cx {
        page,
        s,
        monitors,
        incidents,
        now_ms,
    } = *cx;
    let id = model::component_id(&page.slug, c);
    let names = c.monitor_names(&s.monitors);
    let states: Vec<_> = names.iter().filter_map(|n| monitors.state(n)).collect();
    let derived = model::derive(&states, c.rule, &page.status_mapping);
    let status = model::with_incidents(&id, derived, incidents.iter());
    let today = now_ms - now_ms % DAY_MS;
    let first_day = today - (DAYS as u64 - 1) * DAY_MS;
    let days_r = merged(monitors, &names, Resolution::Day, first_day, now_ms + 1);
    let hour = now_ms - now_ms % HOUR_MS;
    let first_hour = hour - 23 * HOUR_MS;
    let hours_r = merged(monitors, &names, Resolution::Hour, first_hour, now_ms + 1);
    let days = (0..DAYS as u64)
        .map(|i| {
            let start = first_day + i * DAY_MS;
            let end = start + DAY_MS;
            DayBar {
                start_ms: start,
                availability: days_r.get(&start).and_then(Rollup::availability),
                incidents: incidents
                    .iter()
                    .filter(|inc| !inc.is_maintenance() || inc.status.is_open())
                    .filter(|inc| {
                        inc.components.contains_key(&id)
                            || inc
                                .updates
                                .iter()
                                .any(|u| u.affected.iter().any(|a| a.code == id))
                    })
                    .filter(|inc| {
                        inc.started_ms < end && inc.resolved_ms.unwrap_or(u64::MAX) >= start
                    })
                    .map(|inc| inc.name.clone())
                    .collect(),
            }
        })
        .collect();
    let details = c.show_details.then(|| {
        names
            .iter()
            .map(|n| Detail {
                monitor: n.to_string(),
                state: monitors.state(n).map(|s| s.as_str()).unwrap_or("unknown"),
                error: monitors.last_error(n),
            })
            .collect()
    });
    ComponentView {
        id,
        name: c.name.clone(),
        description: c.description.clone(),
        status,
        derived,
        position,
        group_id,
        uptime: [
            availability_over(&hours_r, first_hour),
            availability_over(&days_r, today - 6 * DAY_MS),
            availability_over(&days_r, today - 29 * DAY_MS),
            availability_over(&days_r, first_day),
        ],
        hourly_ms: (0..24u64)
            .map(|i| mean_ms(hours_r.get(&(first_hour + i * HOUR_MS))))
            .collect(),
        daily_ms: (0..DAYS as u64)
            .map(|i| mean_ms(days_r.get(&(first_day + i * DAY_MS))))
            .collect(),
        days,
        details,
    }
}

/// Gathers everything page `page` shows now. Reads the store (roll-ups): call it off the
/// async workers.
pub fn gather(
    page: &StatusPageConfig,
    s: &Settings,
    base_url: &str,
    monitors: &dyn Monitors,
    all_incidents: &BTreeMap<u64, Incident>,
    now_ms: u64,
) -> PageView {
    let incidents = page_incidents(all_incidents, &page.slug);
    let cx = Cx {
        page,
        s,
        monitors,
        incidents: &incidents,
        now_ms,
    };
    let mut position = 0;
    let mut next = || {
        position += 1;
        position
    };
    let components: Vec<ComponentView> = page
        .components
        .iter()
        .map(|c| component(&cx, c, next(), None))
        .collect();
    let groups: Vec<GroupView> = page
        .groups
        .iter()
        .map(|g| {
            let gid = model::component_id(&page.slug, &group_key(&g.name));
            GroupView {
                id: gid.clone(),
                name: g.name.clone(),
                description: g.description.clone(),
                position: next(),
                components: g
                    .components
                    .iter()
                    .map(|c| component(&cx, c, next(), Some(gid.clone())))
                    .collect(),
            }
        })
        .collect();
    let statuses: Vec<ComponentStatus> = components
        .iter()
        .chain(groups.iter().flat_map(|g| g.components.iter()))
        .map(|c| c.status)
        .collect();
    let open: Vec<Impact> = incidents
        .iter()
        .filter(|i| i.status.is_open())
        .map(|i| i.impact)
        .collect();
    let (indicator, description) = model::indicator(&statuses, &open);
    let updated_ms = incidents
        .iter()
        .map(|i| i.updated_ms)
        .max()
        .unwrap_or(0)
        .max(now_ms - now_ms % 60_000);
    // A window that started is stored as an incident (`engine`): listed once.
    let windows = config_windows(page, s, now_ms)
        .into_iter()
        .filter(|w| !all_incidents.contains_key(&w.id))
        .collect();
    PageView {
        config: page.clone(),
        windows,
        url: format!("{}/status/{}", base_url.trim_end_matches('/'), page.slug),
        now_ms,
        updated_ms,
        indicator,
        description,
        components,
        groups,
        incidents,
    }
}

/// A group's id comes from the same hash as a component's, with a prefix no component name
/// can collide with by accident.
fn group_key(name: &str) -> ComponentConfig {
    ComponentConfig {
        name: format!("\u{0}group\u{0}{name}"),
        description: String::new(),
        monitor: None,
        monitors: Vec::new(),
        group: None,
        rule: super::config::Rule::All,
        show_details: false,
    }
}

/// A monitor some component publishes, for the Gatus-compatible badge paths.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorStat {
    /// Gatus' `<group>_<name>` key.
    pub key: String,
    pub name: String,
    pub state: Option<crate::probe::state::State>,
    /// 1 h, 24 h, 7 d, 30 d.
    pub uptime: [Option<f64>; 4],
    pub mean_ms: [Option<f64>; 4],
}

/// Gatus' badge durations, in the order of [`MonitorStat`]'s arrays.
pub const GATUS_DURATIONS: [&str; 4] = ["1h", "24h", "7d", "30d"];

/// Every monitor a component of any page names, with its uptime and mean response time over
/// Gatus' durations. Reads roll-ups: call it off the async workers.
pub fn public_monitors(s: &Settings, monitors: &dyn Monitors, now_ms: u64) -> Vec<MonitorStat> {
    let mut names: Vec<&str> = s
        .pages
        .iter()
        .flat_map(|p| p.all_components())
        .flat_map(|c| c.monitor_names(&s.monitors))
        .collect();
    names.sort_unstable();
    names.dedup();
    let since = [
        (Resolution::Minute, now_ms.saturating_sub(HOUR_MS)),
        (Resolution::Hour, now_ms.saturating_sub(24 * HOUR_MS)),
        (Resolution::Day, now_ms.saturating_sub(7 * DAY_MS)),
        (Resolution::Day, now_ms.saturating_sub(30 * DAY_MS)),
    ];
    names
        .into_iter()
        .map(|name| {
            let group = s
                .monitors
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| m.group.as_deref());
            let mut uptime = [None; 4];
            let mut mean_ms = [None; 4];
            for (i, (res, from)) in since.iter().enumerate() {
                let mut total = Rollup::default();
                for (_, r) in monitors.rollups(name, *res, *from, now_ms + 1) {
                    total.merge(&r);
                }
                uptime[i] = total.availability();
                mean_ms[i] = mean_ms_of(&total);
            }
            MonitorStat {
                key: super::badge::gatus_key(group, name),
                name: name.to_string(),
                state: monitors.state(name),
                uptime,
                mean_ms,
            }
        })
        .collect()
}

fn mean_ms_of(r: &Rollup) -> Option<f64> {
    mean_ms(Some(r))
}

/// How far ahead configured maintenance is announced.
pub const WINDOW_HORIZON_MS: u64 = 7 * DAY_MS;

/// The `maintenance:` windows that cover a monitor of one of the page's components, each as
/// scheduled maintenance (in progress while open), with the components it covers.
fn config_windows(page: &StatusPageConfig, s: &Settings, now_ms: u64) -> Vec<Incident> {
    use super::model::{IncidentStatus, Update};
    let group_of = |name: &str| {
        s.monitors
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.group.as_deref())
    };
    let mut out = Vec::new();
    for w in &s.maintenance {
        let covered: BTreeMap<String, ComponentStatus> = page
            .all_components()
            .filter(|c| {
                c.monitor_names(&s.monitors)
                    .iter()
                    .any(|m| w.applies_to(m, group_of(m)))
            })
            .map(|c| {
                (
                    model::component_id(&page.slug, c),
                    ComponentStatus::UnderMaintenance,
                )
            })
            .collect();
        if covered.is_empty() {
            continue;
        }
        let Some((start, end)) = w
            .schedule
            .next_window(now_ms as i64, WINDOW_HORIZON_MS as i64)
        else {
            continue;
        };
        let (start, end) = (start.max(0) as u64, end.max(0) as u64);
        let status = if start <= now_ms {
            IncidentStatus::InProgress
        } else {
            IncidentStatus::Scheduled
        };
        // Ids of configured windows have the top bit set: never an API incident's.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in w.name.bytes().chain(start.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push(Incident {
            id: h | (1 << 63),
            page: page.slug.clone(),
            name: w.name.clone(),
            status,
            impact: Impact::Maintenance,
            created_ms: start,
            updated_ms: start,
            started_ms: start,
            monitoring_ms: None,
            resolved_ms: None,
            scheduled_for_ms: Some(start),
            scheduled_until_ms: Some(end),
            components: covered,
            updates: vec![Update {
                id: 0,
                status,
                body: "Scheduled maintenance.".into(),
                created_ms: start,
                affected: Vec::new(),
                by: "config".into(),
            }],
            draft: false,
            alert: None,
        });
    }
    out.sort_by_key(|i| i.started_ms);
    out
}
