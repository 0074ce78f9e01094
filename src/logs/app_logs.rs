/*!
The services' own log files that have no syslog header: each is recognised by the fixed
shape of its line start, which only the daemon writes (the client's text comes after it),
and handed to that service as a [`LogLine`] with the service's program name, the way
`header` does it for rspamd's own log.

Formats read:
- Apache httpd 2.4's error log (`ErrorLog`, no `ErrorLogFormat`): `[Sat Mar 02 09:14:03.123456
  2024] [auth_basic:error] [pid 1234:tid 5678] [client ADDR:PORT] AH01617: ...` (local time;
  `[pid N]` without threads); program `apache2`, message from `[client`. Apache 2.2's
  `[Thu Jul 11 01:21:43 2013] [error] [client ADDR] ...` (no module, pid or port): message
  from the level on (`[error] [client ...`), as 2.2 writes it to syslog.
- OpenVPN's `log`/`log-append` file: `2024-03-02 09:14:03 ADDR:PORT TLS Error: ...` (2.5+) or
  `Sat Mar  2 09:14:03 2024 ...` (2.4 and older), local time; program `openvpn`. Only its TLS
  verdicts are taken (`[CN/]ADDR:PORT TLS...`, `TLS Error: ...`): the time alone is also the
  start of vsftpd's, xferlog's or an ISO syslog line.
- MySQL's error log (5.7 and later): `2024-03-02T09:14:03.123456Z 113 [Note] [MY-010926]
  [Server] ...` (UTC, or `+01:00` with `log_timestamps = SYSTEM`), the connection id after the
  time; program [`MYSQL_ERROR_LOG`], message from the level on. MariaDB's (`2024-03-02
  9:14:03 113 [Warning] ...`) is not this shape, on purpose (see `parse::mysql`).

A shape is tried only when the line's first bytes can start it, so a syslog line costs one
byte comparison here; MySQL's is told after the time `header` reads anyway (one more word).

Asterisk's own `messages` file is not read, on purpose: its logger writes messages as they
are, and chan_sip logs the URI-decoded extension a client dialled (`%0A` a line break), so
any SIP client can write whole lines of its own into that file (see `parse::asterisk`).
*/

use super::header::Cut;
use super::header::{Clock, LogLine, WEEKDAYS, days_from_civil, digits, parse_hms};

/// The program name of MySQL's own error log lines. It has a space, which no syslog tag can
/// hold: a `mysqld` line in syslog is never read as one of these (see `parse::mysql`).
pub const MYSQL_ERROR_LOG: &str = "mysqld error log";

/// The line as one of the known own log files writes it, or None.
pub fn split<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    match line.as_bytes().first()? {
        b'[' => split_apache(line, clock),
        b'0'..=b'9' => split_openvpn_iso(line, clock),
        b'A'..=b'Z' => split_openvpn_ctime(line, clock),
        _ => None,
    }
}

/// MySQL 5.7+: `YYYY-MM-DDTHH:MM:SS.ffffff[Z|±HH:MM] CONNECTION [Level] message`, after
/// its time, which `header::split` has read as it reads an ISO syslog stamp (whose next
/// word is a host, not a number followed by `[`).
pub(super) fn split_mysql(time: Option<i64>, rest: &str) -> Option<LogLine<'_>> {
    let (connection, message) = rest.cut(" ")?;
    if !message.starts_with('[') {
        return None;
    }
    digits::<u64>(connection)?;
    Some(LogLine {
        time,
        host: "-",
        program: MYSQL_ERROR_LOG,
        pid: None,
        message,
    })
}

/// OpenVPN 2.5+: `YYYY-MM-DD HH:MM:SS message`.
fn split_openvpn_iso<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    let (date, rest) = line.split_at_checked(10)?;
    let (hms, message) = rest.strip_prefix(' ')?.split_at_checked(8)?;
    let message = message.strip_prefix(' ')?;
    let d = date.as_bytes();
    if d[4] != b'-' || d[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        digits::<i64>(&date[..4])?,
        digits::<u32>(&date[5..7])?,
        digits::<u32>(&date[8..])?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let seconds = parse_hms(hms)?;
    openvpn_line(
        clock.local(days_from_civil(year, month, day), seconds),
        message,
    )
}

/// OpenVPN 2.4 and older: ctime's `Sat Mar  2 09:14:03 2024 message`.
fn split_openvpn_ctime<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    let (time, message) = split_ctime(line, clock)?;
    openvpn_line(time, message)
}

/// A line that starts with ctime's `Sat Mar  2 09:14:03 2024 ` (local time): the time and
/// what follows it.
pub(super) fn split_ctime<'a>(line: &'a str, clock: &mut Clock) -> Option<(Option<i64>, &'a str)> {
    // BSD syslog lines start with a month: one look at the weekday turns them away.
    if !WEEKDAYS.iter().any(|d| line.starts_with(d)) {
        return None;
    }
    // Five fields, the day space-padded: split after the year.
    let mut end = 0;
    let mut words = 0;
    for (i, b) in line.bytes().enumerate().take(32) {
        if b == b' ' && i > 0 && line.as_bytes()[i - 1] != b' ' {
            words += 1;
            if words == 5 {
                end = i;
                break;
            }
        }
    }
    if words != 5 {
        return None;
    }
    let time = ctime(&line[..end], clock)?;
    Some((time, &line[end + 1..]))
}

/// The message is OpenVPN's TLS verdict about a client: `TLS` after the client prefix
/// (`[CN/]ADDR:PORT`, or an IPv6 `ADDR` without a port: hex digits, `:`, `.` and brackets
/// after the last `/`), or `TLS Error: ` alone. Only those lines are read, so nothing else is
/// taken from the syslog files' ISO lines.
fn openvpn_line(time: Option<i64>, message: &str) -> Option<LogLine<'_>> {
    let prefixed = message.cut(" ").is_some_and(|(first, rest)| {
        let real = first.rcut("/").map_or(first, |(_, real)| real);
        rest.starts_with("TLS")
            && real.contains(':')
            && real
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'[' | b']'))
    });
    if !prefixed && !message.starts_with("TLS Error: ") {
        return None;
    }
    Some(LogLine {
        time,
        host: "-",
        program: "openvpn",
        pid: None,
        message,
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `[Www Mmm dd HH:MM:SS[.ffffff] YYYY] [module:level] [pid N[:tid N]] message`, or 2.2's
/// `[Www Mmm dd HH:MM:SS YYYY] [level] message` (handed on from `[level]`).
fn split_apache<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    let (stamp, rest) = line.strip_prefix('[')?.cut("] [")?;
    let time = apache_time(stamp, clock)?;
    let (module_level, rest) = rest.cut("] ")?;
    let Some((module, level)) = module_level.cut(":") else {
        if !is_word(module_level) {
            return None;
        }
        return Some(LogLine {
            time,
            host: "-",
            program: "apache2",
            pid: None,
            // `[` + stamp + `] ` comes before `[level] ...`.
            message: &line[stamp.len() + 3..],
        });
    };
    if !is_word(module) || !is_word(level) {
        return None;
    }
    let rest = rest.strip_prefix("[pid ")?;
    let (pid_tid, message) = rest.cut("] ")?;
    let pid = match pid_tid.cut(":tid ") {
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
    ctime(stamp, clock)
}

/// C's ctime without the newline, `Sat Mar  2 09:14:03 2024`, with an optional fraction of
/// the second (`09:14:03.123456`).
fn ctime(stamp: &str, clock: &mut Clock) -> Option<Option<i64>> {
    let (weekday, rest) = stamp.cut(" ")?;
    if !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let (month, rest) = rest.cut(" ")?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (day, rest) = rest.cut(" ")?;
    let (clock_time, year) = rest.cut(" ")?;
    let day: u32 = digits(day)?;
    let year: i64 = digits(year)?;
    let hms = match clock_time.cut(".") {
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
        let old = "[Thu Jul 11 01:21:43 2013] [error] [client 192.0.2.1] user x not found: /";
        let l = split(old, &mut clock()).expect("2.2");
        assert_eq!((l.program, l.pid), ("apache2", None));
        assert_eq!(l.message, "[error] [client 192.0.2.1] user x not found: /");
    }

    #[test]
    fn openvpn_log_file() {
        let l = split(
            "2024-03-02 09:14:03 203.0.113.9:51234 TLS Error: TLS handshake failed",
            &mut clock(),
        )
        .expect("iso");
        assert_eq!(l.program, "openvpn");
        assert_eq!(
            l.message,
            "203.0.113.9:51234 TLS Error: TLS handshake failed"
        );
        let old =
            "Sat Mar  2 09:14:03 2024 alice/203.0.113.9:51234 TLS Error: TLS handshake failed";
        let l = split(old, &mut clock()).expect("ctime");
        assert_eq!(
            l.message,
            "alice/203.0.113.9:51234 TLS Error: TLS handshake failed"
        );
        assert_eq!(
            l.time,
            split("2024-03-02 09:14:03 1.2.3.4:1 TLS x", &mut clock()).and_then(|l| l.time)
        );
        for line in [
            "2024-03-02 09:14:03 2001:db8::a:1 sshd[1]: Failed password for x from 1.2.3.4 port 1 ssh2",
            "2024-03-02 09:14:03 2001:db8::1:22 sshd[1]: Failed password for x from 1.2.3.4 port 1 ssh2",
            "2024-03-02 09:14:03 1.2.3.4:1 MULTI: x",
        ] {
            assert_eq!(split(line, &mut clock()), None, "{line}");
        }
    }

    #[test]
    fn other_lines_are_not_apaches() {
        for line in [
            "Nov 24 10:00:00 host sshd[1]: x",
            "[Sat Mar 02 09:14:03 2024] [Error] [client 1.2.3.4] user x not found: /",
            "[Sat Mar 02 09:14:03 2024] [err or] [client 1.2.3.4] user x not found: /",
            "[Sat Mar 02 09:14:03 2024] [auth_basic:error] [pid x] [client 1.2.3.4:1] x",
            "[Xyz Mar 02 09:14:03 2024] [auth_basic:error] [pid 1] [client 1.2.3.4:1] x",
            "[Sat Mar 02 09:14 2024] [auth_basic:error] [pid 1] [client 1.2.3.4:1] x",
            "2024-03-02 09:14:03 host sshd[1]: Failed password for x from 1.2.3.4 port 1 ssh2",
            "2024-03-02 09:14:03,123 host proftpd[1] host (1.2.3.4[1.2.3.4]): x",
            "2026-11-24 10:00:00 #3001(normal) rspamd",
            "Sat Mar  2 09:14:03 2024 [pid 1234] [x] FAIL LOGIN: Client \"1.2.3.4\"",
            "Sat Mar  2 09:14:03 2024 1 192.0.2.1 5 /x b _ i r x ftp 0 * c",
        ] {
            assert_eq!(split(line, &mut clock()), None, "{line}");
        }
    }
}
