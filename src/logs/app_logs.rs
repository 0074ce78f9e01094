/*!
The services' own log files that have no syslog header: each is recognised by the fixed
shape of its line start, which only the daemon writes (the client's text comes after it),
and handed to that service as a [`LogLine`] with the service's program name, the way
`header` does it for rspamd's own log.

Formats read:
- Apache httpd 2.4's error log (`ErrorLog`, no `ErrorLogFormat`): `[Sat Mar 02 09:14:03.123456
  2024] [auth_basic:error] [pid 1234:tid 5678] [client ADDR:PORT] AH01617: ...` (local time;
  `[pid N]` without threads); program `apache2`, message from `[client`.

A shape is tried only when the line's first bytes can start it, so a syslog line costs one
byte comparison here.
*/

use super::header::{Clock, LogLine, days_from_civil, digits, parse_hms};

/// The line as one of the known own log files writes it, or None.
pub fn split<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    match line.as_bytes().first()? {
        b'[' => split_apache(line, clock),
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// `[Www Mmm dd HH:MM:SS[.ffffff] YYYY] [module:level] [pid N[:tid N]] message`.
fn split_apache<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    let (stamp, rest) = line.strip_prefix('[')?.split_once("] [")?;
    let time = apache_time(stamp, clock)?;
    let (module_level, rest) = rest.split_once("] ")?;
    let (module, level) = module_level.split_once(':')?;
    if !is_word(module) || !is_word(level) {
        return None;
    }
    let rest = rest.strip_prefix("[pid ")?;
    let (pid_tid, message) = rest.split_once("] ")?;
    let pid = match pid_tid.split_once(":tid ") {
        Some((pid, tid)) => {
            digits::<u64>(tid)?;
            pid
        }
        None => pid_tid,
    };
    Some(LogLine {
        time,
        host: "-",
        program: "apache2",
        pid: Some(digits(pid)?),
        message,
    })
}

/// Apache's `%{u}t`: `Sat Mar 02 09:14:03.123456 2024` (apr_ctime with microseconds; the
/// day zero-padded, or space-padded as C's ctime does), local time. None when it is not one.
fn apache_time(stamp: &str, clock: &mut Clock) -> Option<Option<i64>> {
    let (weekday, rest) = stamp.split_once(' ')?;
    if !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let (month, rest) = rest.split_once(' ')?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (day, rest) = rest.split_once(' ')?;
    let (clock_time, year) = rest.split_once(' ')?;
    let day: u32 = digits(day)?;
    let year: i64 = digits(year)?;
    let hms = match clock_time.split_once('.') {
        Some((hms, micros)) => {
            digits::<u32>(micros)?;
            hms
        }
        None => clock_time,
    };
    let seconds = parse_hms(hms)?;
    if year.to_string().len() != 4 || !(1..=31).contains(&day) {
        return None;
    }
    Some(clock.local(days_from_civil(year, month, day), seconds))
}

/// A module or level name: lower-case letters, digits and `_`.
fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        Clock::new(1_795_608_000)
    }

    #[test]
    fn apache_error_log() {
        let line = "[Sat Mar 02 09:14:03.123456 2024] [auth_basic:error] [pid 1234:tid 140] \
                    [client 203.0.113.9:51234] AH01618: user bob not found: /private";
        let l = split(line, &mut clock()).expect("apache");
        assert_eq!(l.program, "apache2");
        assert_eq!(l.pid, Some(1234));
        assert_eq!(
            l.message,
            "[client 203.0.113.9:51234] AH01618: user bob not found: /private"
        );
        let local = chrono::NaiveDate::from_ymd_opt(2024, 3, 2)
            .and_then(|d| d.and_hms_opt(9, 14, 3))
            .map(|t| {
                use chrono::TimeZone;
                chrono::Local
                    .from_local_datetime(&t)
                    .single()
                    .map(|t| t.timestamp())
            });
        assert_eq!(Some(l.time), local);
        let prefork = "[Sat Mar  2 09:14:03 2024] [auth_basic:error] [pid 77] [client ::1:5] x";
        assert_eq!(split(prefork, &mut clock()).map(|l| l.pid), Some(Some(77)));
    }

    #[test]
    fn other_lines_are_not_apaches() {
        for line in [
            "Nov 24 10:00:00 host sshd[1]: x",
            "[Sat Mar 02 09:14:03 2024] [error] [client 1.2.3.4] user x not found: /",
            "[Sat Mar 02 09:14:03 2024] [auth_basic:error] [pid x] [client 1.2.3.4:1] x",
            "[Xyz Mar 02 09:14:03 2024] [auth_basic:error] [pid 1] [client 1.2.3.4:1] x",
            "[Sat Mar 02 09:14 2024] [auth_basic:error] [pid 1] [client 1.2.3.4:1] x",
            "[Mar  2 09:14:03] NOTICE[1234]: chan_sip.c:1 x",
        ] {
            assert_eq!(split(line, &mut clock()), None, "{line}");
        }
    }
}
