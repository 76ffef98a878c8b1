//! iCalendar (RFC 5545) feeds of shifts, so people see their turns in their own calendar.

use super::rotation::Shift;

/// `20261207T080000Z`.
fn stamp(ms: u64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms.min(i64::MAX as u64) as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT escaping (RFC 5545 3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds content lines at 75 octets (RFC 5545 3.1), on character boundaries.
fn fold(line: &str, out: &mut String) {
    let mut len = 0;
    for c in line.chars() {
        if len + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// A calendar named `name` with one event per shift; `summary` titles each.
pub fn calendar(
    name: &str,
    shifts: &[(String, Shift)],
    summary: impl Fn(&str, &Shift) -> String,
    now: u64,
) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Panoptes//On-call//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        fold(l, &mut out);
    }
    fold(&format!("X-WR-CALNAME:{}", text(name)), &mut out);
    for (schedule, s) in shifts {
        fold("BEGIN:VEVENT", &mut out);
        fold(
            &format!(
                "UID:{}-{}-{}@panoptes",
                text(schedule),
                s.start_ms,
                text(&s.user)
            ),
            &mut out,
        );
        fold(&format!("DTSTAMP:{}", stamp(now)), &mut out);
        fold(&format!("DTSTART:{}", stamp(s.start_ms)), &mut out);
        fold(&format!("DTEND:{}", stamp(s.end_ms)), &mut out);
        fold(
            &format!("SUMMARY:{}", text(&summary(schedule, s))),
            &mut out,
        );
        fold("TRANSP:TRANSPARENT", &mut out);
        fold("END:VEVENT", &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_escaped_and_folded() {
        let s = Shift {
            user: "ana, the; one".into(),
            start_ms: 1_796_630_400_000,
            end_ms: 1_797_235_200_000,
            override_id: None,
        };
        let cal = calendar(
            "platform",
            &[("platform".into(), s)],
            |sch, s| format!("On call ({sch}): {} {}", s.user, "x".repeat(80)),
            0,
        );
        assert!(cal.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(cal.ends_with("END:VCALENDAR\r\n"));
        assert!(cal.contains("DTSTART:20261207T080000Z\r\n"), "{cal}");
        assert!(cal.contains("ana\\, the\\; one"));
        assert!(cal.lines().all(|l| l.len() <= 75), "{cal}");
        assert!(cal.contains("\r\n x"), "long lines fold");
    }
}
