/*!
The daemons' own log files, which have no syslog header: each line is recognised by its
shape, and handed on as the (program, pid, message) the daemon's syslog line of the same
event has, so the service parsers read both alike.

- vsftpd's `vsftpd_log_file` (`/var/log/vsftpd.log`, written when `syslog_enable=NO`, the
  default): `Sat Mar  2 09:14:03 2024 [pid 2101] [bob] FAIL LOGIN: Client "ADDR"` (vsftpd
  3.0, logging.c and sysutil.c: `%a %b %d %H:%M:%S %Y` in local time, a leading zero of the
  day made a space) → `vsftpd[2101]: [pid 2101] [bob] FAIL LOGIN: ...` (`parse::ftp` reads
  the `[pid N] ` of these lines). The wu-ftpd transfer lines
  (`xferlog_std_format`) have no `[pid N]` and are not read.
- dovecot's `log_path` / `info_log_path`: `log_timestamp` (`%b %d %H:%M:%S ` by default, in
  2.3 and 2.4), the process (`imap-login`, `auth`, `auth-worker(9)`), then always the level
  (`Debug: `, `Info: `, `Warning: `, `Error: `, `Fatal: `, `Panic: `, lib/failures.c) →
  `dovecot: imap-login: Info: Login: ...`, which `parse::dovecot` reads after the process.
  dovecot 1.x's master wrote every line: its prefix `dovecot: `, the time, the level, then
  the child's prefix (`dovecot: Mar 13 15:25:07 Info: auth(default): pam(bob,ADDR): ...`,
  lib/failures.c and master/log.c of 1.0-1.2) → `dovecot: auth(default): pam(...)`, 1.x's
  syslog line. A line without the `dovecot: ` (as some collectors store it) is read too.
- proftpd's `SystemLog` (Debian: `/var/log/proftpd/proftpd.log`): `%Y-%m-%d %H:%M:%S,mmm HOST
  proftpd[PID] SERVER (NAME[ADDR]): MESSAGE` (1.3.x, src/log.c; its syslog form is
  `SERVER (NAME[ADDR]) - MESSAGE`) → `proftpd[PID]: SERVER (NAME[ADDR]): MESSAGE`; older
  releases (1.3.3's src/log.c) wrote the time as `%b %d %H:%M:%S` (`Jun 09 07:30:58 HOST proftpd[PID] SERVER (`...), read
  the same way.

Only the daemon writes these files, and client text comes only after the fixed parts read
here. The processes of dovecot taken are those whose lines `parse::dovecot` reads; any other
line is left to the syslog formats (which find nothing in it).
*/

use super::header::Cut;
use chrono::{Datelike, NaiveDate};

use super::header::{
    Clock, LogLine, WEEKDAYS, days_from_civil, digits, parse_bsd_stamp, parse_date_time, parse_hms,
    parse_month_day, split_space,
};

/// vsftpd's own log line, or None.
pub(super) fn split_vsftpd<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    let (weekday, rest) = split_space(line)?;
    if !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let (month, day, rest) = parse_month_day(rest)?;
    let (hms, rest) = split_space(rest)?;
    let (year, rest) = split_space(rest)?;
    if year.len() != 4 {
        return None;
    }
    // The year dates the line. The weekday is not checked against it: vsftpd's strftime
    // writes both from one date, but lines written by hand for tests often get it wrong,
    // and nothing else writes a line starting with a weekday.
    let date = NaiveDate::from_ymd_opt(digits(year)?, month, day)?;
    let seconds = parse_hms(hms)?;
    // The message keeps its `[pid N] `, which `parse::ftp` removes once: a user named
    // `pid 1] [root` must stay that user.
    let (pid, _) = rest.strip_prefix("[pid ")?.cut("] ")?;
    let days = days_from_civil(i64::from(date.year()), month, day);
    Some(LogLine {
        time: clock.local(days, seconds),
        host: "-",
        program: "vsftpd",
        pid: Some(digits(pid)?),
        message: rest,
    })
}

/// The levels dovecot writes after the process in its own files (lib/failures.c).
const DOVECOT_LEVELS: [&str; 6] = ["Debug", "Info", "Warning", "Error", "Fatal", "Panic"];

/// dovecot's own log line after its timestamp (`text`), or None: 2.x's `PROCESS: LEVEL: ...`
/// or 1.x's `Info: PROCESS: ...` (1.x's master wrote its children's lines, its level first
/// and the child's prefix after it: master/log.c `i_info("%s%s", prefix, line)`). A 1.x line
/// becomes the message of 1.x's syslog line, `PROCESS: ...`.
pub(super) fn split_dovecot(time: Option<i64>, text: &str) -> Option<LogLine<'_>> {
    // Tried on every BSD and ISO syslog line, whose host name ends at a space long before
    // any `: `: neither the process name nor the level has a space, so the first space or
    // colon decides.
    let end = text.bytes().position(|b| b == b' ' || b == b':')?;
    if text.as_bytes()[end] != b':' {
        return None;
    }
    let (first, rest) = text.cut(": ")?;
    let (second, _) = rest.cut(": ")?;
    let message = if is_dovecot_process(first) && DOVECOT_LEVELS.contains(&second) {
        text
    } else if first == "Info" && is_dovecot_process(second) {
        // Verdicts are `Info` (auth_request_log_info, the login processes' i_info); the
        // level is dropped here, and a child's raw stderr became an `Error` line.
        rest
    } else {
        return None;
    };
    Some(LogLine {
        time,
        host: "-",
        program: "dovecot",
        pid: None,
        message,
    })
}

/// dovecot 1.x's `log_path` line: the master's prefix `dovecot: ` comes before the
/// `log_timestamp` (lib/failures.c 1.0-1.2 writes the prefix, then the time), which is
/// `%b %d %H:%M:%S ` by default or an ISO date and time; then [`split_dovecot`]'s 1.x shape.
pub(super) fn split_dovecot1_prefixed<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    let text = line.strip_prefix("dovecot: ")?;
    let (time, rest) = match parse_bsd_stamp(text, clock) {
        Some(stamped) => stamped,
        None => {
            let (date, rest) = split_space(text)?;
            let (time_of_day, rest) = split_space(rest)?;
            let (days, seconds, zone) = parse_date_time(date, time_of_day)?;
            (clock.at(days, seconds, zone), rest)
        }
    };
    let line = split_dovecot(time, rest)?;
    // Only 1.x's shape: 2.x has no such prefix.
    (line.message.len() < rest.len()).then_some(line)
}

/// `imap-login`, `pop3-login`, ...; `auth`, `auth(default)`, `auth-worker(9)`.
fn is_dovecot_process(process: &str) -> bool {
    if let Some(protocol) = process.strip_suffix("-login") {
        return !protocol.is_empty()
            && (protocol.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    }
    if process == "auth" {
        return true;
    }
    let id = process
        .strip_prefix("auth-worker(")
        .or_else(|| process.strip_prefix("auth("))
        .and_then(|rest| rest.strip_suffix(')'));
    id.is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// proftpd's `SystemLog` line with a session's server info, after its timestamp (`text`;
/// `time_of_day` must end in proftpd's `,mmm`), or None. Lines without a session
/// (`HOST proftpd[PID]: msg`) are already syslog's shape.
pub(super) fn split_proftpd<'a>(
    time: Option<i64>,
    time_of_day: &str,
    text: &'a str,
) -> Option<LogLine<'a>> {
    let millis = time_of_day.get(8..)?.strip_prefix(',')?;
    if millis.len() != 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    proftpd_session(time, text)
}

/// proftpd's older `SystemLog` line (1.3.3's src/log.c: `%b %d %H:%M:%S ` then
/// `HOST proftpd[PID] SERVER (NAME[ADDR]): MESSAGE`), after its BSD timestamp (`text`), or
/// None. Only a line with a session's server info, `SERVER (`, is taken: the one without
/// (`HOST proftpd[PID]: msg`) is already syslog's shape, and a line of another shape is
/// left to the syslog formats.
pub(super) fn split_proftpd_bsd(time: Option<i64>, text: &str) -> Option<LogLine<'_>> {
    let line = proftpd_session(time, text)?;
    let (server, _) = line.message.cut(" ")?;
    (!server.is_empty() && line.message[server.len()..].starts_with(" (")).then_some(line)
}

/// `HOST proftpd[PID] MESSAGE`: proftpd's own header, which has no colon after the pid.
fn proftpd_session(time: Option<i64>, text: &str) -> Option<LogLine<'_>> {
    let (host, rest) = split_space(text)?;
    let (pid, message) = rest.strip_prefix("proftpd[")?.cut("] ")?;
    if host.is_empty() {
        return None;
    }
    Some(LogLine {
        time,
        host,
        program: "proftpd",
        pid: Some(digits(pid)?),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::super::header::split;
    use super::*;

    fn clock() -> Clock {
        // 2026-11-25T12:00:00Z
        Clock::new(1_795_608_000)
    }

    fn local(year: i32, month: u32, day: u32, seconds: i64) -> Option<i64> {
        let mut c = clock();
        c.local(days_from_civil(i64::from(year), month, day), seconds)
    }

    #[test]
    fn vsftpd_log_file() {
        let mut c = clock();
        let l = split(
            "Sat Mar  2 09:14:03 2024 [pid 2101] [bob] FAIL LOGIN: Client \"::ffff:203.0.113.8\"",
            &mut c,
        )
        .expect("vsftpd");
        assert_eq!(
            (l.host, l.program, l.pid, l.message),
            (
                "-",
                "vsftpd",
                Some(2101),
                "[pid 2101] [bob] FAIL LOGIN: Client \"::ffff:203.0.113.8\""
            )
        );
        // The year is the line's, not inferred.
        assert_eq!(l.time, local(2024, 3, 2, 9 * 3600 + 14 * 60 + 3));
        let d = split(
            "Tue Dec 31 23:59:59 2024 [pid 7] CONNECT: Client \"1.2.3.4\"",
            &mut c,
        )
        .expect("two-digit day");
        assert_eq!(d.time, local(2024, 12, 31, 86_399));
        // A weekday that does not fit the date (test corpora's hand-made lines): the year and
        // date are what count.
        let w = split(
            "Fri Mar  2 09:14:03 2024 [pid 2101] [bob] FAIL LOGIN: Client \"1.2.3.4\"",
            &mut c,
        )
        .expect("weekday off");
        assert_eq!(w.time, l.time);
        for bad in [
            // No weekday; no `[pid N]` (xferlog); a day that does not exist.
            "Xyz Mar  2 09:14:03 2024 [pid 2101] [bob] FAIL LOGIN: Client \"1.2.3.4\"",
            "Sat Mar  2 09:14:03 2024 1 203.0.113.8 1234 /a.txt b _ o r bob ftp 0 * c",
            "Sat Feb 30 09:14:03 2024 [pid 1] x",
            "Sat Mar  2 09:14:03 24 [pid 1] x",
            "Sat Mar  2 09:14:03 2024 [pid x] y",
            "Sat Mar  2 09:14:03 2024 [pid 1]",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
    }

    #[test]
    fn dovecot_log_path() {
        let mut c = clock();
        let l = split(
            "Mar 02 09:14:03 auth-worker(9): Info: pam(bob,203.0.113.8,<x>): unknown user",
            &mut c,
        )
        .expect("dovecot");
        assert_eq!(
            (l.host, l.program, l.pid, l.message),
            (
                "-",
                "dovecot",
                None,
                "auth-worker(9): Info: pam(bob,203.0.113.8,<x>): unknown user"
            )
        );
        let iso = split("2024-03-02 09:14:03 auth: Info: x: y", &mut c).expect("iso");
        assert_eq!((iso.program, iso.message), ("dovecot", "auth: Info: x: y"));
        assert_eq!(iso.time, local(2024, 3, 2, 9 * 3600 + 14 * 60 + 3));
        // Not dovecot's processes or levels: the syslog formats' reading stands.
        let m = split("Mar 02 09:14:03 master: Info: Dovecot starting", &mut c).expect("m");
        assert_eq!(m.program, "master");
        let n = split("Mar 02 09:14:03 auth: Notice: x", &mut c).expect("n");
        assert_eq!(n.program, "auth");
        let s = split("Mar 02 09:14:03 sshd[7]: Info: x", &mut c).expect("s");
        assert_eq!(s.program, "sshd");
    }

    #[test]
    fn proftpd_system_log() {
        let mut c = clock();
        let l = split(
            "2024-03-02 09:14:03,512 web1 proftpd[88] web1 (203.0.113.8[203.0.113.8]): USER bob (Login failed): Incorrect password",
            &mut c,
        )
        .expect("proftpd");
        assert_eq!((l.host, l.program, l.pid), ("web1", "proftpd", Some(88)));
        assert_eq!(
            l.message,
            "web1 (203.0.113.8[203.0.113.8]): USER bob (Login failed): Incorrect password"
        );
        assert_eq!(l.time, local(2024, 3, 2, 9 * 3600 + 14 * 60 + 3));
        let plain = split("2024-03-02 09:14:03,512 web1 proftpd[88]: x", &mut c).expect("plain");
        assert_eq!(
            (plain.program, plain.pid, plain.message),
            ("proftpd", Some(88), "x")
        );
        // The older file's BSD time; the day may be padded with a space or not.
        for line in [
            "Jun 09 07:30:58 web1 proftpd[88] web1 (a.example[203.0.113.8]): USER bob (Login failed): Incorrect password.",
            "Jun  9 07:30:58 web1 proftpd[88] web1 (a.example[203.0.113.8]): USER bob (Login failed): Incorrect password.",
            "Jun 9 07:30:58 web1 proftpd[88] web1 (a.example[203.0.113.8]): USER bob (Login failed): Incorrect password.",
        ] {
            let l = split(line, &mut c).expect("bsd proftpd");
            assert_eq!((l.host, l.program, l.pid), ("web1", "proftpd", Some(88)));
            assert_eq!(
                l.message,
                "web1 (a.example[203.0.113.8]): USER bob (Login failed): Incorrect password."
            );
        }
        for bad in [
            "Jun 09 07:30:58 web1 proftpd[88] web1: x",
            "Jun 09 07:30:58 web1 proftpd[88]  (a[1.2.3.4]): x",
            "Jun 09 07:30:58 web1 sshd[88] web1 (a[1.2.3.4]): x",
            "Jun 09 07:30:58 web1 proftpd[x] web1 (a[1.2.3.4]): x",
            "<38>Jun 09 07:30:58 web1 proftpd[88] web1 (a[1.2.3.4]): x",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
        for bad in [
            "2024-03-02 09:14:03 web1 proftpd[88] web1 (a[1.2.3.4]): x",
            "2024-03-02 09:14:03,5 web1 proftpd[88] web1 (a[1.2.3.4]): x",
            "2024-03-02 09:14:03,512 web1 sshd[88] web1 (a[1.2.3.4]): x",
            "2024-03-02 09:14:03,512 web1 proftpd[x] web1 (a[1.2.3.4]): x",
        ] {
            // Not proftpd's (exim's own log may still claim a zoneless ISO line: its parser
            // reads nothing there).
            let program = split(bad, &mut c).map(|l| l.program);
            assert!(program.is_none_or(|p| p == "exim"), "{bad}: {program:?}");
        }
    }
}
