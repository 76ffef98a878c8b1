//! `/oncall`: who is on call now and next in each schedule, the next 14 days of shifts,
//! overrides (add, edit, delete), people with their contact methods (the signed-in person sets
//! their own), escalation policies, and pages with Acknowledge / Resolve and their timelines.
//! `?page=ID` (the link in every page message) opens that page's timeline.

mod contacts;
mod overrides;
mod pages;

use leptos::prelude::*;
use panoptes_types::{OnCallNow, PolicyView, ScheduleView, Shifts};

use crate::api::{self, ApiError};
use crate::components::{Empty, RelativeTime, Table, loaded};
use crate::live::Topics;
use crate::poll::{EVERY, use_poll_on};

pub use pages::PageList;

#[component]
pub fn OnCallPage() -> impl IntoView {
    // Nothing the live feed carries changes these: hand-offs come with the clock.
    let rota = use_poll_on(Topics::NONE, EVERY, rota);
    let policies = use_poll_on(Topics::NONE, EVERY, api::policies);
    // Adding or deleting an override changes who is on call: reload the rota at once.
    let changed = Callback::new(move |()| rota.refetch());
    view! {
        <section class="card" id="oncall-now">
            <h1>"On call"</h1>
            {move || loaded(rota.get(), "schedules", |r| {
                if r.schedules.is_empty() {
                    view! { <Empty>"No schedules. Add them under `oncall.schedules` in the config."</Empty> }.into_any()
                } else {
                    view! {
                        <Table headers=&["Schedule", "On call now", "Next", "Layers", "Calendar"] class="schedules">
                            {r.schedules.into_iter().map(|s| view! { <ScheduleRow s=s /> }).collect_view()}
                        </Table>
                    }
                    .into_any()
                }
            })}
        </section>
        <PageList />
        <section class="card" id="shifts">
            <h2>"Next 14 days"</h2>
            {move || loaded(rota.get(), "shifts", |r| {
                r.shifts.into_iter().map(|s| view! { <ShiftTable s=s /> }).collect_view()
            })}
        </section>
        <overrides::Overrides changed=changed />
        <contacts::People />
        <section class="card" id="policies">
            <h2>"Escalation policies"</h2>
            {move || loaded(policies.get(), "policies", |list| {
                if list.is_empty() {
                    view! { <Empty>"No escalation policies. Name one in an alert route's `escalation_policy`."</Empty> }.into_any()
                } else {
                    list.into_iter().map(|p| view! { <Policy p=p /> }).collect_view().into_any()
                }
            })}
        </section>
    }
}

/// The schedules and their next 14 days, fetched together so both tables agree.
#[derive(Clone, PartialEq)]
struct Rota {
    schedules: Vec<ScheduleView>,
    shifts: Vec<Shifts>,
}

async fn rota() -> Result<Rota, ApiError> {
    let schedules = api::schedules().await?;
    let mut shifts = Vec::with_capacity(schedules.len());
    for s in &schedules {
        shifts.push(api::shifts(&s.name).await?);
    }
    Ok(Rota { schedules, shifts })
}

/// `ana` or `ana, ben`; a dash when nobody is.
fn people(users: &[String]) -> String {
    if users.is_empty() {
        "nobody".into()
    } else {
        users.join(", ")
    }
}

#[component]
fn ScheduleRow(s: ScheduleView) -> impl IntoView {
    let layers = s
        .layers
        .iter()
        .map(|l| {
            let mut text = format!("{} {} ({})", l.rotation, l.handoff, l.users.join(" → "));
            if !l.restrictions.is_empty() {
                text.push_str(&format!(", only {}", l.restrictions.join("; ")));
            }
            text
        })
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <tr class="schedule-row" data-schedule=s.name.clone()>
            <td><b>{s.name.clone()}</b><br /><span class="muted">{s.time_zone.clone()}</span></td>
            <td class="on-call"><b>{people(&s.on_call)}</b></td>
            <td class="next">{s.next.map(|n| view! { {n.user} " " <RelativeTime at=n.from /> })}</td>
            <td class="muted">{layers}</td>
            <td><a href=s.ical_url.clone()>"iCalendar"</a></td>
        </tr>
    }
}

/// `Sat 5 Dec 09:00` in the browser's time zone.
pub(crate) fn local_time(rfc3339: &str) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(rfc3339));
    if d.get_time().is_nan() {
        return rfc3339.to_string();
    }
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {} {:02}:{:02}",
        DAYS[d.get_day() as usize % 7],
        d.get_date(),
        MONTHS[d.get_month() as usize % 12],
        d.get_hours(),
        d.get_minutes()
    )
}

#[component]
fn ShiftTable(s: Shifts) -> impl IntoView {
    let name = s.schedule.clone();
    view! {
        <h3>{s.schedule.clone()}</h3>
        {if s.shifts.is_empty() {
            view! { <Empty>"Nobody is on call in the next 14 days."</Empty> }.into_any()
        } else {
            view! {
                <Table headers=&["Who", "From", "Until", ""] class="shifts">
                    {s.shifts.into_iter().map(|sh| view! {
                        <tr class="shift-row" data-schedule=name.clone() data-user=sh.user.clone()>
                            <td><b>{sh.user.clone()}</b></td>
                            <td>{local_time(&sh.start)}</td>
                            <td>{local_time(&sh.end)}</td>
                            <td>{sh.override_id.map(|id| view! { <span class="badge warn">{format!("override #{id}")}</span> })}</td>
                        </tr>
                    }).collect_view()}
                </Table>
            }
            .into_any()
        }}
    }
}

#[component]
fn Policy(p: PolicyView) -> impl IntoView {
    let repeat = match p.repeat {
        0 => "runs once".to_string(),
        n => format!("repeats {n} time(s) while unacknowledged"),
    };
    view! {
        <div class="policy" data-policy=p.name.clone()>
            <h3>{p.name.clone()} " " <span class="muted">{repeat}</span></h3>
            <ol>
                {p.steps.into_iter().map(|st| view! {
                    <li>{format!("after {} min: {}", st.delay_seconds / 60, st.targets.join(", "))}</li>
                }).collect_view()}
            </ol>
        </div>
    }
}

/// For the overview: who is on call now in each schedule (an empty list hides the box).
pub async fn on_call_now() -> Result<Vec<OnCallNow>, ApiError> {
    api::on_call_now().await
}

/// `platform: ana · db: ben`.
pub fn now_text(list: &[OnCallNow]) -> String {
    list.iter()
        .map(|n| format!("{}: {}", n.schedule, people(&n.on_call)))
        .collect::<Vec<_>>()
        .join(" · ")
}
