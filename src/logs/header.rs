/*!
The syslog header: when, which host, which program, which pid — and where the
message (the only part an attacker can write into) begins.

The program is taken from its fixed place in the header, never searched for in the
line: a message that merely contains `sshd[123]:` is not an sshd line.

Formats read:
- BSD (RFC 3164): `Nov 24 10:00:00 host prog[pid]: msg` (an optional `<PRI>` first);
- rsyslog high precision (Debian's default): `2026-11-24T10:00:00.123456+00:00 host prog[pid]: msg`;
- `journalctl -o short-iso`: `2026-11-24T10:00:00+0000 host prog[pid]: msg`;
- macOS's `log show --style syslog`: `2020-03-24 08:38:42.344447-0700  host prog[pid]: msg`
  (a space, not a `T`, and two spaces after the zone);
- RFC 5424: `<PRI>1 2026-11-24T10:00:00.000Z host app pid msgid [sd] msg`;
- rspamd's own log file: `2026-11-24 10:00:00 #3001(normal) msg` (program `rspamd`);
- exim's own main log: `2026-11-24 10:00:00[ +0100][ [PID]] msg` (program `exim`);
- BSD without a host name: `Nov 24 10:00:00 prog[pid]: msg` (the token after the time is the
  program when it ends with `:`, which no host name does; the host is then `-`), and
  metalog's `Nov 24 10:00:00 [prog] msg` (also `[prog]: msg`; no host, no pid);
- daemontools/s6 `multilog t`: `@4000000065e2f3a10b1c2d3e prog[pid]: msg` (TAI64N, no host);
- ISO without a zone, `T` or a space, fractions with `.` or `,`: `2026-11-24 10:00:00,512 host
  prog[pid]: msg` (local time);
- the priority before the tag (socklog, BusyBox, FreeBSD `syslogd -v`): `host <auth.info> prog:`
  or `host auth.info prog:`; macOS's level after it: `host sshd[77] <Notice>: msg`; Solaris's
  `[ID 800047 auth.info] ` at the start of the message, removed;
- RFC 5424 without `<PRI>`: `1 2026-11-24T10:00:00Z host app pid msgid sd msg`;
- no time at all, as journal exports print entries: `host prog[pid]: msg` or `prog[pid]: msg`
  (the pid required; the event has no time).
- the services' own log files without a syslog header (Apache, OpenVPN, Asterisk): see `app_logs`.

BSD timestamps carry no year or zone: they are local time, and the year is the one that
puts the line closest before "now" (a December line read in January is last year's).
ISO timestamps without a zone are local time too.
*/

use chrono::{Datelike, Local, LocalResult, NaiveDate, TimeZone};

use super::own_logs;

/// One log line split at its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// Unix seconds (UTC), when the header had a usable timestamp.
    pub time: Option<i64>,
    pub host: &'a str,
    /// The syslog tag without its pid: `sshd`, `postfix/smtpd`, `dovecot`.
    pub program: &'a str,
    pub pid: Option<u32>,
    /// Everything after `prog[pid]: ` — attacker-influenced text.
    pub message: &'a str,
}

/// Turns BSD timestamps into unix time; remembers the last day it converted, since a
/// log holds thousands of lines per day.
#[derive(Debug)]
pub struct Clock {
    now: i64,
    this_year: i32,
    cached_day: Option<((u32, u32), i64)>,
    /// Days since the epoch → local midnight, for zoneless ISO timestamps.
    cached_date: Option<(i64, i64)>,
}

impl Clock {
    /// `now` is unix seconds; BSD lines are placed in the year that makes them not later than
    /// a day after `now`.
    pub fn new(now: i64) -> Clock {
        let this_year = Local
            .timestamp_opt(now, 0)
            .single()
            .map(|t| t.year())
            .unwrap_or(1970);
        Clock {
            now,
            this_year,
            cached_day: None,
            cached_date: None,
        }
    }

    /// A date (days since the epoch) and time of day, at `zone`'s offset or else local time.
    pub(super) fn at(&mut self, days: i64, seconds: i64, zone: Option<i64>) -> Option<i64> {
        match zone {
            Some(offset) => Some(days * 86_400 + seconds - offset),
            None => self.local(days, seconds),
        }
    }

    /// Local time of a date (days since the epoch) and a time of day.
    pub(super) fn local(&mut self, days: i64, seconds: i64) -> Option<i64> {
        if let Some((key, midnight)) = self.cached_date
            && key == days
        {
            return Some(midnight + seconds);
        }
        let (year, month, day) = civil_from_days(days);
        let midnight = local_midnight(i32::try_from(year).ok()?, month, day)?;
        self.cached_date = Some((days, midnight));
        Some(midnight + seconds)
    }

    pub(super) fn bsd_time(&mut self, month: u32, day: u32, seconds_of_day: i64) -> Option<i64> {
        if let Some((key, midnight)) = self.cached_day
            && key == (month, day)
        {
            return Some(midnight + seconds_of_day);
        }
        let mut midnight = local_midnight(self.this_year, month, day)?;
        if midnight > self.now + 86_400 {
            midnight = local_midnight(self.this_year - 1, month, day)?;
        }
        self.cached_day = Some(((month, day), midnight));
        Some(midnight + seconds_of_day)
    }
}

fn local_midnight(year: i32, month: u32, day: u32) -> Option<i64> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let naive = date.and_hms_opt(0, 0, 0)?;
    match Local.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp()),
        LocalResult::None => Some(naive.and_utc().timestamp()),
    }
}

/// Splits a line into header and message, or None when it has no recognisable header.
pub fn split<'a>(line: &'a str, clock: &mut Clock) -> Option<LogLine<'a>> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = strip_socklog(line);
    if let Some(own) = super::app_logs::split(line, clock) {
        return Some(own);
    }
    if let Some(own) = own_logs::split_vsftpd(line, clock) {
        return Some(own);
    }
    if line.starts_with('d')
        && let Some(own) = own_logs::split_dovecot1_prefixed(line, clock)
    {
        return Some(own);
    }
    if let Some(label) = line.strip_prefix('@') {
        return split_tai64n(label);
    }
    let (pri_stripped, had_pri) = match line.strip_prefix('<') {
        Some(rest) => {
            let end = rest.find('>')?;
            if end == 0 || end > 3 || !rest[..end].bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&rest[end + 1..], true)
        }
        None => (line, false),
    };
    if let Some(rest) = pri_stripped.strip_prefix("1 ") {
        return split_rfc5424(rest, had_pri);
    }
    let first = pri_stripped.as_bytes().first()?;
    if !first.is_ascii_digit() {
        let Some((time, rest)) = parse_bsd_stamp(pri_stripped, clock) else {
            if let Some((time, rest)) = parse_weekday_stamp(pri_stripped, clock) {
                return split_after_time(time, rest, false);
            }
            // OpenWrt's `logread`: `Sat Mar  2 09:14:03 2024 authpriv.info dropbear[77]: msg`.
            if let Some((time, rest)) = super::app_logs::split_ctime(pri_stripped, clock) {
                return split_after_time(time, rest, true);
            }
            if let Some(rest) = strip_monotonic_stamp(pri_stripped) {
                return split_after_time(None, rest, false);
            }
            return split_untimed(pri_stripped, had_pri);
        };
        if let Some(own) = own_logs::split_dovecot(time, rest).filter(|_| !had_pri) {
            return Some(own);
        }
        // proftpd's older SystemLog has no colon after its pid: a syslog reading fails.
        return split_after_time(time, rest, true)
            .or_else(|| own_logs::split_proftpd_bsd(time, rest).filter(|_| !had_pri));
    }
    let (stamp, rest) = split_space(pri_stripped)?;
    // An ISO date has its `-` where seconds since the epoch have a fifth digit.
    if stamp.len() > 10
        && stamp.as_bytes()[4].is_ascii_digit()
        && let Some(time) = parse_unix_stamp(stamp)
    {
        return split_after_time(Some(time), rest, false);
    }
    let (time, rest) = if stamp.len() == 10 {
        // `YYYY-MM-DD HH:MM:SS[.frac|,frac][zone]`: ISO with a space, or rspamd's own log.
        let (time_of_day, rest) = split_space(rest)?;
        let (days, seconds, zone) = parse_date_time(stamp, time_of_day)?;
        if rest.starts_with('#') {
            if had_pri || zone.is_some() {
                return None;
            }
            return split_rspamd(clock.local(days, seconds), rest);
        }
        let time = clock.at(days, seconds, zone);
        // macOS's `log show --style syslog` puts two spaces after its zone.
        let rest = match zone {
            Some(_) if !had_pri => rest.strip_prefix(' ').unwrap_or(rest),
            _ => rest,
        };
        if !had_pri && zone.is_none() {
            let own = own_logs::split_dovecot(time, rest)
                .or_else(|| own_logs::split_proftpd(time, time_of_day, rest))
                .or_else(|| split_exim(clock, days, seconds, rest));
            if own.is_some() {
                return own;
            }
        }
        (time, rest)
    } else {
        let (date, time_of_day) = stamp.split_at_checked(10)?;
        let (days, seconds, zone) = parse_date_time(date, time_of_day.strip_prefix('T')?)?;
        let time = clock.at(days, seconds, zone);
        if !had_pri && let Some(own) = super::app_logs::split_mysql(time, rest) {
            return Some(own);
        }
        (time, rest)
    };
    split_after_time(time, rest, false)
}

/// `host prog[pid]: msg` or `prog[pid]: msg` with no time at all, as journal exports and
/// log collectors print entries: the event has no time. The pid is required, so that a bare
/// message (`error: PAM: ...`, read by `parse --service`) is never taken for a header, and
/// a line starting with a month name is a BSD line whose stamp did not read, not this.
fn split_untimed(text: &str, had_pri: bool) -> Option<LogLine<'_>> {
    if had_pri || parse_month_day(text).is_some() {
        return None;
    }
    split_after_time(None, text, true).filter(|l| l.pid.is_some())
}

/// `[host] [priority] prog[pid][ <Level>]: [[ID n facility.level] ]message`, after the time.
///
/// Without a host (BSD only: the token after the time ends with `:`, which no host name
/// does), the host is `-`.
fn split_after_time(time: Option<i64>, text: &str, may_lack_host: bool) -> Option<LogLine<'_>> {
    if may_lack_host && let Some(tag) = text.strip_prefix('[') {
        return split_metalog(time, tag);
    }
    let (first, after) = split_space(text).unwrap_or((text, ""));
    // A priority where the host would be, and the tag right after it: no host name.
    let priority_first = || is_priority_token(first) && !is_priority_token(split_tag_word(after));
    let (host, rest) = if may_lack_host && (first.ends_with(':') || priority_first()) {
        ("-", text)
    } else {
        (first, after)
    };
    if host.is_empty() {
        return None;
    }
    let (program, pid, message) = split_tag(skip_priority(rest))?;
    Some(LogLine {
        time,
        host,
        program,
        pid,
        message: strip_solaris_id(message),
    })
}

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "audit", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
const LEVELS: [&str; 11] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "panic", "error", "warn",
];

/// `auth.info`: a syslog facility and level by name; or AIX syslogd's `auth|security:info`
/// (the facility's names joined by `|`, then `:` and the level).
pub(super) fn is_priority_name(text: &str) -> bool {
    // Asked of every line's host and tag: most are no `facility.level` at all.
    if text.len() > "authpriv|security:warning".len()
        || !text.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return false;
    }
    // Facility names are lower-case letters and digits: a host or tag stops at its first
    // other byte, which must be the `.` or `:` before the level.
    let Some(at) =
        (text.bytes()).position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'|'))
    else {
        return false;
    };
    // Only an ASCII separator is split at (the byte may start a multi-byte character).
    let separator = text.as_bytes()[at];
    if separator != b'.' && separator != b':' {
        return false;
    }
    let (facilities, level) = (&text[..at], &text[at + 1..]);
    if separator == b'.' {
        FACILITIES.contains(&facilities) && LEVELS.contains(&level)
    } else {
        LEVELS.contains(&level) && facilities.split('|').all(|f| FACILITIES.contains(&f))
    }
}

/// socklog, BusyBox and FreeBSD `syslogd -v` write the priority before the tag:
/// `<auth.info> `, `auth.info `, or numerically `<4.6> `.
fn skip_priority(text: &str) -> &str {
    match split_space(text) {
        Some((token, rest)) if is_priority_token(token) => rest,
        _ => text,
    }
}

/// `<auth.info>`, `auth.info` or `<4.6>`.
fn is_priority_token(token: &str) -> bool {
    match token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        Some(inner) => {
            is_priority_name(inner)
                || inner
                    .cut(".")
                    .is_some_and(|(f, l)| digits::<u8>(f).is_some() && digits::<u8>(l).is_some())
        }
        None => is_priority_name(token),
    }
}

/// The first word of `text`.
fn split_tag_word(text: &str) -> &str {
    split_space(text).map_or(text, |(word, _)| word)
}

/// socklog writes `facility.priority: ` before the line a client sent (socklog(8)), and
/// its svlogd may put its own stamp first (`-t` TAI64N, `-tt` `YYYY-MM-DD_HH:MM:SS.xxxxx`,
/// `-ttt` with a `T`): `2024-03-02_09:14:03.12345 auth.info: Mar  2 09:14:03 sshd[77]: msg`.
/// Both are removed; the client's own header (no host name, local time) is then read.
fn strip_socklog(line: &str) -> &str {
    let strip = || {
        let (first, after) = split_space(line)?;
        let (priority, inner) = if first.ends_with(':') {
            (first, after)
        } else {
            // Checked in this order because it runs on every line: a syslog line's second
            // word (a day, a host) does not end with `:`.
            let (second, inner) = split_space(after)?;
            if !second.ends_with(':') || !is_svlogd_stamp(first) {
                return None;
            }
            (second, inner)
        };
        is_priority_name(priority.strip_suffix(':')?).then_some(inner)
    };
    strip().unwrap_or(line)
}

/// svlogd's `@` TAI64N label, or its `YYYY-MM-DD_HH:MM:SS.xxxxx` / `YYYY-MM-DDTHH:MM:SS.xxxxx` (UTC).
fn is_svlogd_stamp(token: &str) -> bool {
    if let Some(label) = token.strip_prefix('@') {
        return label.len() == 24 && label.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let Some((date, time_of_day)) = token.split_at_checked(10) else {
        return false;
    };
    let Some(time_of_day) = time_of_day.strip_prefix(['_', 'T']) else {
        return false;
    };
    parse_date_time(date, time_of_day).is_some_and(|(_, _, zone)| zone.is_none())
}

/// Solaris syslogd starts the message with its id and priority: `[ID 800047 auth.info] msg`.
fn strip_solaris_id(message: &str) -> &str {
    let strip = || {
        let (id, rest) = split_space(message.strip_prefix("[ID ")?)?;
        digits::<u32>(id)?;
        let (priority, rest) = split_space(rest)?;
        is_priority_name(priority.strip_suffix(']')?).then_some(rest)
    };
    strip().unwrap_or(message)
}

/// daemontools/s6 `multilog t`: `@4000000065e2f3a10b1c2d3e prog[pid]: msg`, no host.
///
/// The label is TAI64N: 2^62 + TAI seconds (16 hex digits), then nanoseconds (8). We subtract
/// the fixed 10 s TAI-UTC offset of 1972, as daemontools' own `tai64nlocal` does, and not
/// today's 37 s: multilog writes `2^62 + 10 + time()`, so this gives back the system clock's
/// unix time exactly (leap seconds included in neither).
fn split_tai64n(text: &str) -> Option<LogLine<'_>> {
    let (label, rest) = split_space(text)?;
    if label.len() != 24 || !label.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tai = u64::from_str_radix(&label[..16], 16).ok()?;
    let time = tai
        .checked_sub((1 << 62) + 10)
        .and_then(|s| i64::try_from(s).ok());
    let (program, pid, message) = split_tag(rest)?;
    Some(LogLine {
        time,
        host: "-",
        program,
        pid,
        message,
    })
}

/// rspamd's own log file (`/var/log/rspamd/rspamd.log`, Debian's default), which has no
/// syslog header: `2026-11-24 10:00:00[.123] #PID(PROCESS) message`, local time; `text`
/// starts at `#`.
fn split_rspamd(time: Option<i64>, text: &str) -> Option<LogLine<'_>> {
    let (pid, rest) = text.strip_prefix('#')?.cut("(")?;
    let (process, message) = rest.cut(") ")?;
    if process.is_empty() || !process.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    Some(LogLine {
        time,
        host: "-",
        program: "rspamd",
        pid: Some(digits(pid)?),
        message,
    })
}

/// exim's own main log (`/var/log/exim4/mainlog`, `/var/log/exim/main.log`), which has no
/// host or program: `2026-11-24 10:00:00[.123][ +0100][ [PID]] message` (`log_timezone`,
/// `log_selector = +pid`); `text` starts after the time. Without a pid, a line that reads
/// as syslog's `[host ]prog[pid]: msg` is left to that reading (no exim message starts
/// with a tag, or a word and a tag: they start with fixed text or a message id).
fn split_exim<'a>(
    clock: &mut Clock,
    days: i64,
    seconds: i64,
    text: &'a str,
) -> Option<LogLine<'a>> {
    let (zone, text) = match split_space(text) {
        Some((zone, rest))
            if zone.len() == 5
                && zone.starts_with(['+', '-'])
                && let Some(hhmm) = digits::<i64>(&zone[1..]) =>
        {
            let offset =
                (hhmm / 100 * 3600 + hhmm % 100 * 60) * if zone.starts_with('-') { -1 } else { 1 };
            (Some(offset), rest)
        }
        _ => (None, text),
    };
    let (pid, message) = match text.strip_prefix('[') {
        Some(bracketed) => {
            let (pid, message) = bracketed.cut("] ")?;
            (Some(digits(pid)?), message)
        }
        None if split_tag(text).is_some() || split_after_time(None, text, false).is_some() => {
            return None;
        }
        None => (None, text),
    };
    Some(LogLine {
        time: clock.at(days, seconds, zone),
        host: "-",
        program: "exim",
        pid,
        message,
    })
}

/// Splits at the first space (a byte scan: this runs several times per log line).
pub(super) fn split_space(text: &str) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == b' ')?;
    Some((&text[..at], &text[at + 1..]))
}

/// `Mmm dd ` or `Mmm  d `: the month (1 to 12), the day, and what follows.
pub(super) fn parse_month_day(text: &str) -> Option<(u32, u32, &str)> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| text.starts_with(m))? as u32 + 1;
    let rest = text.get(3..)?.strip_prefix(' ')?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (day, rest) = split_space(rest)?;
    Some((month, digits(day)?, rest))
}

/// `Mmm dd HH:MM:SS ` (day space-padded or not).
pub(super) fn parse_bsd_stamp<'a>(
    text: &'a str,
    clock: &mut Clock,
) -> Option<(Option<i64>, &'a str)> {
    let (month, day, rest) = parse_month_day(text)?;
    let (hms, rest) = split_space(rest)?;
    // syslog-ng's `frac-digits()` and `journalctl -o short-precise` add a fraction.
    let seconds = parse_hms(hms.get(..8)?)?;
    if !is_fraction_or_empty(&hms[8..]) {
        return None;
    }
    Some((clock.bsd_time(month, day, seconds), rest))
}

/// `` or `.` and one to nine digits: the sub-second part of a time of day.
fn is_fraction_or_empty(text: &str) -> bool {
    text.is_empty()
        || text.strip_prefix('.').is_some_and(|digits| {
            (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The days of the week as C's `%a` writes them (ctime, strftime, journalctl).
pub(super) const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// `journalctl -o short-full`: `Sat 2024-03-02 09:14:03 CET host prog[pid]: msg`. The time
/// is the local time of the zone it names by abbreviation (or as `+04` where the zone has
/// none); an abbreviation cannot be turned into an offset, so it is read as this host's
/// local time, except `UTC` and `GMT` (`journalctl --utc`) and numeric zones.
fn parse_weekday_stamp<'a>(text: &'a str, clock: &mut Clock) -> Option<(Option<i64>, &'a str)> {
    let (weekday, rest) = split_space(text)?;
    if !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let (date, rest) = split_space(rest)?;
    let (time_of_day, rest) = split_space(rest)?;
    let (zone, rest) = split_space(rest)?;
    let (days, seconds, None) = parse_date_time(date, time_of_day)? else {
        return None;
    };
    let offset = match zone {
        "UTC" | "GMT" => Some(0),
        _ if (2..=6).contains(&zone.len()) && zone.bytes().all(|b| b.is_ascii_alphabetic()) => None,
        _ => Some(numeric_zone(zone)?),
    };
    Some((clock.at(days, seconds, offset), rest))
}

/// `+04`, `-0330`, `+05:30`: a zone's offset in seconds (ISO stamps' too, see
/// [`parse_date_time`]).
fn numeric_zone(zone: &str) -> Option<i64> {
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zone = &zone[1..];
    // Fixed byte offsets below: only ASCII text has character boundaries there.
    if !zone.is_ascii() {
        return None;
    }
    let (h, m) = match zone.len() {
        2 => (zone, "00"),
        4 => zone.split_at(2),
        5 if zone.as_bytes()[2] == b':' => (&zone[..2], &zone[3..]),
        _ => return None,
    };
    Some(sign * (digits::<i64>(h)? * 3600 + digits::<i64>(m)? * 60))
}

/// `journalctl -o short-unix`: `1709370843.123456`, seconds since the epoch (UTC) and a
/// fraction, which this format always has.
fn parse_unix_stamp(stamp: &str) -> Option<i64> {
    let (seconds, fraction) = stamp.split_at_checked(stamp.find('.')?)?;
    // `fraction` starts at the `.`: never empty, so it must hold digits.
    if !(9..=11).contains(&seconds.len()) || !is_fraction_or_empty(fraction) {
        return None;
    }
    digits(seconds)
}

/// `journalctl -o short-monotonic`: `[  970.699396] host prog[pid]: msg`, seconds since
/// the machine booted, which is no time of day: the rest, and the event has no time.
fn strip_monotonic_stamp(text: &str) -> Option<&str> {
    let (stamp, rest) = text.strip_prefix('[')?.cut("] ")?;
    let stamp = stamp.trim_start_matches(' ');
    let (seconds, fraction) = stamp.split_at_checked(stamp.find('.')?)?;
    (!seconds.is_empty()
        && seconds.bytes().all(|b| b.is_ascii_digit())
        && is_fraction_or_empty(fraction))
    .then_some(rest)
}

pub(super) fn parse_hms(hms: &str) -> Option<i64> {
    let b = hms.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let h: i64 = digits(&hms[0..2])?;
    let m: i64 = digits(&hms[3..5])?;
    let s: i64 = digits(&hms[6..8])?;
    (h < 24 && m < 60 && s < 61).then_some(h * 3600 + m * 60 + s)
}

pub(super) fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM|±HHMM)` → unix seconds.
pub fn parse_iso8601(stamp: &str) -> Option<i64> {
    let (date, time_of_day) = stamp.split_at_checked(10)?;
    let time_of_day = time_of_day
        .strip_prefix('T')
        .or_else(|| time_of_day.strip_prefix(' '))?;
    let (days, seconds, zone) = parse_date_time(date, time_of_day)?;
    Some(days * 86_400 + seconds - zone?)
}

/// `YYYY-MM-DD` and `HH:MM:SS[.frac|,frac][Z|±HH:MM|±HHMM]` → (days since the epoch, seconds
/// of the day, the zone's offset in seconds when there is one).
pub(super) fn parse_date_time(date: &str, time_of_day: &str) -> Option<(i64, i64, Option<i64>)> {
    let d = date.as_bytes();
    // Every slice below is at a fixed byte offset: only ASCII text has char boundaries there.
    if d.len() != 10 || d[4] != b'-' || d[7] != b'-' || !time_of_day.is_ascii() {
        return None;
    }
    let year: i64 = digits(&date[0..4])?;
    let month: u32 = digits(&date[5..7])?;
    let day: u32 = digits(&date[8..10])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let seconds = parse_hms(time_of_day.get(..8)?)?;
    let mut rest = &time_of_day[8..];
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let end = frac
            .bytes()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if end == 0 {
            return None;
        }
        rest = &frac[end..];
    }
    let zone = match rest {
        "" => None,
        "Z" | "z" => Some(0),
        // An ISO stamp's zone has its minutes: `±HH` alone is journalctl's short-full only.
        _ if rest.len() == 3 => return None,
        _ => Some(numeric_zone(rest)?),
    };
    Some((days_from_civil(year, month, day), seconds, zone))
}

/// `split_once` and `rsplit_once` on a literal, with the same results: std's substring
/// search prepares a Two-Way searcher per call, which on a log line's few dozen bytes
/// cost more than the search (a tenth of `parse`'s time); a first-byte scan does not.
pub trait Cut {
    fn cut<'a>(&'a self, needle: &str) -> Option<(&'a str, &'a str)>;
    fn rcut<'a>(&'a self, needle: &str) -> Option<(&'a str, &'a str)>;
}

impl Cut for str {
    fn cut<'a>(&'a self, needle: &str) -> Option<(&'a str, &'a str)> {
        let at = find(self.as_bytes(), needle.as_bytes())?;
        // A match of whole UTF-8 text starts and ends on character boundaries.
        Some((self.get(..at)?, self.get(at + needle.len()..)?))
    }

    fn rcut<'a>(&'a self, needle: &str) -> Option<(&'a str, &'a str)> {
        let at = rfind(self.as_bytes(), needle.as_bytes())?;
        Some((self.get(..at)?, self.get(at + needle.len()..)?))
    }
}

/// The byte of `needle` to scan for: its first that is not a space (log text is a sixth
/// spaces, and the rules' needles, ` from `, ` port `, often start with one), and where.
fn anchor(needle: &[u8]) -> (usize, u8) {
    let at = needle.iter().position(|&b| b != b' ').unwrap_or(0);
    (at, needle[at])
}

/// Whether `needle` is at `at` in `hay`, byte by byte: the needles are a few bytes, and a
/// slice comparison would call `memcmp` for each candidate.
fn matches_at(hay: &[u8], at: usize, needle: &[u8]) -> bool {
    hay[at..at + needle.len()]
        .iter()
        .zip(needle)
        .all(|(a, b)| a == b)
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    let last = hay.len().checked_sub(needle.len())?;
    let (k, byte) = anchor(needle);
    // Candidate starts `at`, with the anchor byte at `at + k`.
    let mut at = 0;
    while at <= last {
        at += hay[at + k..=last + k].iter().position(|&b| b == byte)?;
        if matches_at(hay, at, needle) {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// The last position of `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(hay.len());
    }
    let (k, byte) = anchor(needle);
    // Candidate starts below `end`.
    let mut end = hay.len().checked_sub(needle.len())? + 1;
    while end > 0 {
        let at = hay[k..end + k].iter().rposition(|&b| b == byte)?;
        if matches_at(hay, at, needle) {
            return Some(at);
        }
        end = at;
    }
    None
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, without allocating (used per output line).
pub fn format_utc(secs: i64) -> [u8; 20] {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00Z";
    let put = |out: &mut [u8; 20], at: usize, value: i64, width: usize| {
        let mut v = value.clamp(0, 9999);
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut out, 0, year, 4);
    put(&mut out, 5, i64::from(month), 2);
    put(&mut out, 8, i64::from(day), 2);
    put(&mut out, 11, rem / 3600, 2);
    put(&mut out, 14, rem / 60 % 60, 2);
    put(&mut out, 17, rem % 60, 2);
    out
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// metalog (Gentoo's syslog daemon): `[prog] message`, also `[prog]: message`, after the
/// time; no host, no pid.
fn split_metalog(time: Option<i64>, tag: &str) -> Option<LogLine<'_>> {
    let end = tag
        .bytes()
        .position(|b| matches!(b, b':' | b'[' | b']' | b' '))?;
    let (program, rest) = tag.split_at(end);
    let rest = rest.strip_prefix(']')?;
    let message = (rest.strip_prefix(": ")).or_else(|| rest.strip_prefix(' '))?;
    (!program.is_empty()).then_some(LogLine {
        time,
        host: "-",
        program,
        pid: None,
        message,
    })
}

/// `prog[pid]: message` or `prog: message`.
fn split_tag(text: &str) -> Option<(&str, Option<u32>, &str)> {
    let end = text.bytes().position(|b| matches!(b, b':' | b'[' | b' '))?;
    let program = &text[..end];
    if program.is_empty() {
        return None;
    }
    let rest = &text[end..];
    let (pid, rest) = match rest.strip_prefix('[') {
        Some(after) => {
            let close = after.find(']')?;
            (Some(digits(&after[..close])?), &after[close + 1..])
        }
        None => (None, rest),
    };
    let rest = skip_asl_level(rest);
    let message = rest.strip_prefix(": ").or_else(|| rest.strip_prefix(':'))?;
    Some((program, pid, message))
}

/// macOS adds its ASL level after the tag: `sshd[77] <Notice>: msg`.
fn skip_asl_level(text: &str) -> &str {
    const ASL: [&str; 8] = [
        "Emergency",
        "Alert",
        "Critical",
        "Error",
        "Warning",
        "Notice",
        "Info",
        "Debug",
    ];
    if let Some(inner) = text.strip_prefix(" <")
        && let Some((level, rest)) = inner.cut(">")
        && ASL.contains(&level)
        && rest.starts_with(':')
    {
        return rest;
    }
    text
}

/// `TIMESTAMP HOST APP PID MSGID SD MSG`, nil values written `-`. Without a `<PRI>` (some
/// relays drop it) the timestamp must be a real one.
fn split_rfc5424(text: &str, had_pri: bool) -> Option<LogLine<'_>> {
    let mut fields = text.splitn(6, ' ');
    let stamp = fields.next()?;
    let host = fields.next()?;
    let program = fields.next()?;
    let pid = fields.next()?;
    let _msgid = fields.next()?;
    let rest = fields.next().unwrap_or("");
    let message = skip_structured_data(rest)?;
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    let time = if stamp == "-" {
        None
    } else {
        parse_iso8601(stamp)
    };
    if !had_pri && time.is_none() {
        return None;
    }
    Some(LogLine {
        time,
        host,
        program,
        pid: if pid == "-" { None } else { digits(pid) },
        message,
    })
}

/// Skips `-` or one or more `[id param="value" ...]` elements (values may escape `]`).
fn skip_structured_data(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('-') {
        return Some(rest.strip_prefix(' ').unwrap_or(rest));
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while bytes.get(i) == Some(&b'[') {
        let mut in_quotes = false;
        i += 1;
        loop {
            match bytes.get(i)? {
                b'\\' if in_quotes => i += 1,
                b'"' => in_quotes = !in_quotes,
                b']' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    let rest = &text[i..];
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        // 2026-11-25T12:00:00Z
        Clock::new(1_795_608_000)
    }

    #[test]
    fn iso_formats() {
        let mut c = clock();
        let l = split(
            "2026-11-24T10:00:00.123456+00:00 web1 sshd[123]: Invalid user a from 1.2.3.4",
            &mut c,
        )
        .expect("rsyslog");
        assert_eq!((l.host, l.program, l.pid), ("web1", "sshd", Some(123)));
        assert_eq!(l.message, "Invalid user a from 1.2.3.4");
        assert_eq!(l.time, Some(1_795_514_400));
        let j = split("2026-11-24T11:00:00+0100 web1 sshd-session[9]: x", &mut c).expect("journal");
        assert_eq!(j.time, Some(1_795_514_400));
        assert_eq!(j.program, "sshd-session");
        let z = split(
            "2026-11-24T10:00:00Z web1 postfix/smtpd[77]: warning: x",
            &mut c,
        )
        .expect("zulu");
        assert_eq!((z.program, z.time), ("postfix/smtpd", Some(1_795_514_400)));
    }

    #[test]
    fn journalctl_short_formats_and_fractions() {
        let mut c = clock();
        let local_10h = local_midnight(2026, 11, 24).map(|m| m + 36_000);
        // short-precise / syslog-ng frac-digits: the fraction is dropped, the day kept.
        let p = split("Nov 24 10:00:00.123456 web1 sshd[9]: x", &mut c).expect("precise");
        assert_eq!(
            (p.time, p.host, p.program, p.message),
            (local_10h, "web1", "sshd", "x")
        );
        // short-full: an abbreviation is local time; UTC and numeric zones are offsets.
        let f = split("Tue 2026-11-24 10:00:00 CET web1 sshd[9]: x", &mut c).expect("full");
        assert_eq!((f.time, f.host, f.pid), (local_10h, "web1", Some(9)));
        let u = split("Tue 2026-11-24 10:00:00 UTC web1 sshd[9]: x", &mut c).expect("utc");
        assert_eq!(u.time, Some(1_795_514_400));
        let n = split("Tue 2026-11-24 14:00:00 +04 web1 sshd[9]: x", &mut c).expect("+04");
        assert_eq!(n.time, Some(1_795_514_400));
        let n = split("Tue 2026-11-24 05:30:00 -0430 web1 sshd[9]: x", &mut c).expect("-0430");
        assert_eq!(n.time, Some(1_795_514_400));
        // short-unix: UTC seconds.
        let x = split("1795514400.000001 web1 sshd[9]: x", &mut c).expect("unix");
        assert_eq!(
            (x.time, x.host, x.program),
            (Some(1_795_514_400), "web1", "sshd")
        );
        // short-monotonic: no time of day.
        let m = split("[  970.699396] web1 sshd[9]: x", &mut c).expect("monotonic");
        assert_eq!(
            (m.time, m.host, m.pid, m.message),
            (None, "web1", Some(9), "x")
        );
        // OpenWrt's logread: ctime with the year, local time.
        let o = split(
            "Tue Nov 24 10:00:00 2026 authpriv.warn dropbear[9]: x",
            &mut c,
        )
        .expect("logread");
        assert_eq!(
            (o.time, o.host, o.program, o.pid),
            (local_10h, "-", "dropbear", Some(9))
        );
        // A host or tag whose first byte no facility has starts a multi-byte character.
        assert!(!is_priority_name("xᝀ.info"));
        // AIX: `facility|alias:level` before the program.
        let a = split("Nov 24 10:00:00 x071 auth|security:info sshd[9]: x", &mut c).expect("aix");
        assert_eq!((a.host, a.program, a.message), ("x071", "sshd", "x"));
        for bad in [
            "Nov 24 10:00:00.12x web1 sshd[9]: x",
            "Nov 24 10:00:00. web1 sshd[9]: x",
            "Tue 2026-11-24 10:00:00+01:00 CET web1 sshd[9]: x",
            "Tue 2026-11-24 10:00:00 +4 web1 sshd[9]: x",
            "Tue 2026-11-24 10:00:00 +1é2 web1 sshd[9]: x",
            "Tue 2026-11-24 10:00:00 +1é:2 web1 sshd[9]: x",
            "1795514400 web1 sshd[9]: x",
            "1795514400. web1 sshd[9]: x",
            // An ISO zone needs its minutes.
            "2026-11-24T10:00:00+04 web1 sshd[9]: x",
            "17955144.001 web1 sshd[9]: x",
            "[ 1.2.3] web1 sshd[9]: x",
            "[970.5]web1 sshd[9]: x",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
    }

    #[test]
    fn no_time_at_all() {
        let mut c = clock();
        let l = split(
            "srv sshd[13709]: Invalid user a from 1.2.3.4 port 2",
            &mut c,
        )
        .expect("host");
        assert_eq!(
            (l.time, l.host, l.program, l.pid),
            (None, "srv", "sshd", Some(13709))
        );
        assert_eq!(l.message, "Invalid user a from 1.2.3.4 port 2");
        let bare = split("sshd[7]: x", &mut c).expect("no host");
        assert_eq!((bare.host, bare.program, bare.message), ("-", "sshd", "x"));
        for bad in [
            // Bare messages stay bare (`parse --service` reads them as the service's).
            "error: PAM: Authentication failure for a from 1.2.3.4",
            "pam_unix(sshd:auth): authentication failure; rhost=1.2.3.4",
            "Invalid user admin from 1.2.3.4 port 22",
            "srv sshd: no pid",
            // A BSD line whose stamp does not read is not read as a host name.
            "Nov web1 sshd[1]: x",
            "<13>srv sshd[1]: x",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
    }

    #[test]
    fn rspamds_own_log_file() {
        let mut c = clock();
        let l = split(
            "2026-11-24 10:00:00.123 #3001(normal) <4d5e6f>; task; rspamd_task_write_log: x",
            &mut c,
        )
        .expect("rspamd");
        assert_eq!((l.program, l.pid), ("rspamd", Some(3001)));
        assert_eq!(l.message, "<4d5e6f>; task; rspamd_task_write_log: x");
        let expected = local_midnight(2026, 11, 24).map(|m| m + 36_000);
        assert_eq!(l.time, expected);
        let plain = split("2026-11-24 10:00:00 #7(controller) y", &mut c).expect("no fraction");
        assert_eq!((plain.pid, plain.message), (Some(7), "y"));
        for bad in [
            "2026-11-24 10:00:00 sshd[1]: x",
            "2026-11-24 10:00:00 #x(normal) y",
            "2026-11-24 10:00:00 #1(Normal) y",
            "2026-11-24 10:00:00. #1(normal) y",
            "2026-11-24 25:00:00 #1(normal) y",
            "<13>2026-11-24 10:00:00 #1(normal) y",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
    }

    #[test]
    fn bsd_format_and_year_inference() {
        let mut c = clock();
        let l = split(
            "Nov 24 10:00:00 web1 sshd[123]: Accepted publickey for a from 1.2.3.4 port 2 ssh2",
            &mut c,
        )
        .expect("bsd");
        assert_eq!((l.program, l.pid), ("sshd", Some(123)));
        let t = l.time.expect("time");
        assert!(
            (t - 1_795_514_400).abs() <= 14 * 3600,
            "local time of 2026-11-24 10:00"
        );
        let d = split("Dec 31 23:59:59 web1 dovecot: imap-login: x", &mut c).expect("december");
        assert!(
            d.time.expect("time") < 1_795_608_000,
            "a December line read in November is last year's"
        );
        assert_eq!(
            (d.program, d.pid, d.message),
            ("dovecot", None, "imap-login: x")
        );
        let p = split("Nov  4 01:02:03 web1 kernel: hello", &mut c).expect("padded day");
        assert_eq!(p.message, "hello");
        assert!(
            split("<38>Nov  4 01:02:03 web1 sshd[1]: hi", &mut c).is_some(),
            "with PRI"
        );
    }

    #[test]
    fn utc_formatting_round_trips() {
        for secs in [0, 951_782_400, 1_795_514_400, 4_102_444_799, 1_709_208_000] {
            let text = format_utc(secs);
            let text = std::str::from_utf8(&text).expect("ascii");
            assert_eq!(parse_iso8601(text), Some(secs), "{text}");
        }
        assert_eq!(&format_utc(1_795_514_400), b"2026-11-24T10:00:00Z");
    }

    #[test]
    fn rfc5424() {
        let mut c = clock();
        let l = split(
            "<38>1 2026-11-24T10:00:00.000Z web1 sshd 1234 - [meta x=\"a]b\"] Failed password for root from 1.2.3.4 port 5 ssh2",
            &mut c,
        )
        .expect("5424");
        assert_eq!(
            (l.program, l.pid, l.time),
            ("sshd", Some(1234), Some(1_795_514_400))
        );
        assert_eq!(
            l.message,
            "Failed password for root from 1.2.3.4 port 5 ssh2"
        );
        let n = split("<38>1 2026-11-24T10:00:00Z web1 sshd - - - hello", &mut c).expect("nil");
        assert_eq!((n.pid, n.message), (None, "hello"));
    }

    #[test]
    fn lines_without_a_header_are_refused() {
        let mut c = clock();
        for line in [
            "",
            "Invalid user admin from 1.2.3.4 port 22",
            "Nov 24 25:00:00 web1 sshd[1]: x",
            "2026-13-24T10:00:00Z web1 sshd[1]: x",
            "Nov 24 10:00:00 web1 sshd[abc]: x",
            "Nov 24 10:00:00 web1",
            "2026-11-24T10:00:\u{fffd}\u{fffd}05+0000 web1 sshd[1]: x",
            "2026-11-24T10:00:05+0é web1 sshd[1]: x",
        ] {
            assert_eq!(split(line, &mut c), None, "{line:?}");
        }
    }

    #[test]
    fn the_program_comes_from_the_header_only() {
        let mut c = clock();
        let l = split(
            "Nov 24 10:00:00 web1 myapp[5]: sshd[123]: Accepted password for x from 1.2.3.4",
            &mut c,
        )
        .expect("header");
        assert_eq!(l.program, "myapp");
        assert_eq!(l.message, "sshd[123]: Accepted password for x from 1.2.3.4");
    }

    /// A test line that outlives the statement building it.
    fn leak(line: String) -> &'static str {
        Box::leak(line.into_boxed_str())
    }

    const FAILED: &str = "Failed password for root from 198.51.100.7 port 4242 ssh2";

    #[test]
    fn bsd_without_a_host_name() {
        let mut c = clock();
        let d = split(
            "Mar  2 09:14:03 dropbear[811]: Bad password attempt for 'root' from 198.51.100.7:4242",
            &mut c,
        )
        .expect("dropbear");
        assert_eq!((d.host, d.program, d.pid), ("-", "dropbear", Some(811)));
        assert!(d.time.is_some());
        let s = split(leak(format!("Mar  2 09:14:03 sshd[77]: {FAILED}")), &mut c).expect("sshd");
        assert_eq!((s.host, s.program, s.message), ("-", "sshd", FAILED));
        let n = split("Mar  2 09:14:03 sshd: x", &mut c).expect("no pid");
        assert_eq!((n.host, n.program, n.pid), ("-", "sshd", None));
        let h = split(
            leak(format!("Mar  2 09:14:03 host sshd[77]: {FAILED}")),
            &mut c,
        )
        .expect("host");
        assert_eq!((h.host, h.program), ("host", "sshd"));
        // Header-like text in the message is the message.
        let m = split("Mar  2 09:14:03 myapp: sshd[77]: Failed password", &mut c).expect("myapp");
        assert_eq!(
            (m.program, m.message),
            ("myapp", "sshd[77]: Failed password")
        );
        let m = split("Mar  2 09:14:03 host myapp[1]: x sshd[77]: y", &mut c).expect("x");
        assert_eq!((m.host, m.program), ("host", "myapp"));
    }

    #[test]
    fn multilog_tai64n() {
        let mut c = clock();
        let l = split(
            leak(format!("@4000000065e2f3a10b1c2d3e sshd[77]: {FAILED}")),
            &mut c,
        )
        .expect("tai64n");
        assert_eq!((l.host, l.program, l.pid), ("-", "sshd", Some(77)));
        assert_eq!(l.time, Some(0x65e2_f3a1 - 10));
        assert_eq!(l.message, FAILED);
        let n = split("@4000000065e2f3a10b1c2d3e sshd: x", &mut c).expect("no pid");
        assert_eq!((n.program, n.pid, n.message), ("sshd", None, "x"));
        for bad in [
            "@4000000065e2f3a10b1c2d3 sshd: x",
            "@4000000065e2f3a10b1c2d3g sshd: x",
            "@4000000065e2f3a10b1c2d3e",
            "@4000000065e2f3a10b1c2d3e Invalid user a from 198.51.100.7",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
    }

    #[test]
    fn iso_without_a_zone_is_local_time() {
        let mut c = clock();
        let local = local_midnight(2024, 3, 2).map(|m| m + 9 * 3600 + 14 * 60 + 3);
        for line in [
            "2024-03-02 09:14:03 host sshd[77]: x",
            "2024-03-02T09:14:03 host sshd[77]: x",
            "2024-03-02T09:14:03.123456 host sshd[77]: x",
            "2024-03-02 09:14:03,512 host sshd[77]: x",
            "2024-03-02 09:14:03.5 host sshd[77]: x",
        ] {
            let l = split(line, &mut c).expect(line);
            assert_eq!(
                (l.time, l.host, l.program, l.pid),
                (local, "host", "sshd", Some(77))
            );
        }
        let z = split("2024-03-02 09:14:03+01:00 host sshd[77]: x", &mut c).expect("zone");
        assert_eq!(z.time, parse_iso8601("2024-03-02T08:14:03Z"));
        for bad in [
            "2024-03-02 09:14:03, host sshd[77]: x",
            "2024-03-02 09:14 host sshd[77]: x",
            "2024-03-02T09:14:03 sshd[77]: x",
            "2024-03-02 host sshd[77]: x",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
    }

    #[test]
    fn priority_before_the_program() {
        let mut c = clock();
        for line in [
            "Mar  2 09:14:03 host <auth.info> sshd[77]: x",
            "Mar  2 09:14:03 host auth.info sshd[77]: x",
            "Mar  2 09:14:03 host <4.6> sshd[77]: x",
            "2024-03-02 09:14:03 host <authpriv.notice> sshd[77]: x",
        ] {
            let l = split(line, &mut c).expect(line);
            assert_eq!(
                (l.host, l.program, l.pid, l.message),
                ("host", "sshd", Some(77), "x")
            );
        }
        // Not a priority: no tag follows, or the program is what it is.
        assert_eq!(
            split("Mar  2 09:14:03 host auth.bogus sshd[77]: x", &mut c),
            None
        );
        let l = split(
            "Mar  2 09:14:03 host myapp[1]: auth.info sshd[77]: x",
            &mut c,
        )
        .expect("m");
        assert_eq!((l.program, l.message), ("myapp", "auth.info sshd[77]: x"));
    }

    #[test]
    fn socklog_priority_with_a_colon() {
        let mut c = clock();
        for line in [
            "auth.info: Mar  2 09:14:03 sshd[77]: x",
            "@4000000065e2f3a10b1c2d3e authpriv.notice: Mar  2 09:14:03 sshd[77]: x",
            "2024-03-02_09:14:03.12345 auth.info: Mar  2 09:14:03 sshd[77]: x",
            "2024-03-02T09:14:03.12345 auth.info: Mar  2 09:14:03 sshd[77]: x",
        ] {
            let l = split(line, &mut c).expect(line);
            assert_eq!(
                (l.host, l.program, l.pid, l.message),
                ("-", "sshd", Some(77), "x"),
                "{line}"
            );
            assert!(l.time.is_some());
        }
        // The priority must be one, and comes once.
        for bad in [
            "auth.bogus: Mar  2 09:14:03 sshd[77]: x",
            "auth.info: auth.info: Mar  2 09:14:03 sshd[77]: x",
            "2024-03-02_09:14:03.12345+00:00 auth.info: Mar  2 09:14:03 sshd[77]: x",
        ] {
            assert_eq!(split(bad, &mut c), None, "{bad}");
        }
    }

    #[test]
    fn priority_without_a_host_name() {
        let mut c = clock();
        for line in [
            "Mar  2 09:14:03 auth.info sshd[77]: x",
            "Mar  2 09:14:03 <auth.info> sshd[77]: x",
            "Mar  2 09:14:03 <4.6> sshd[77]: x",
        ] {
            let l = split(line, &mut c).expect(line);
            assert_eq!(
                (l.host, l.program, l.pid),
                ("-", "sshd", Some(77)),
                "{line}"
            );
        }
        // A host that happens to be named like a priority, then the priority.
        let l = split("Mar  2 09:14:03 mail.info auth.info sshd[77]: x", &mut c).expect("h");
        assert_eq!((l.host, l.program), ("mail.info", "sshd"));
    }

    #[test]
    fn macos_level_after_the_tag() {
        let mut c = clock();
        let l = split(
            leak(format!(
                "Mar  2 09:14:03 host.local sshd[77] <Notice>: {FAILED}"
            )),
            &mut c,
        )
        .expect("macos");
        assert_eq!(
            (l.host, l.program, l.pid, l.message),
            ("host.local", "sshd", Some(77), FAILED)
        );
        assert_eq!(
            split("Mar  2 09:14:03 host.local sshd[77] <Loud>: x", &mut c),
            None
        );
        // `log show --style syslog`: a zone, then two spaces before the host.
        let line = leak(format!(
            "2020-03-24 08:38:42.344447-0700  localhost sshd[2519]: {FAILED}"
        ));
        let l = split(line, &mut c).expect("log show");
        assert_eq!(
            (l.time, l.host, l.program, l.pid, l.message),
            (Some(1_585_064_322), "localhost", "sshd", Some(2519), FAILED)
        );
        // Three spaces are no header of anyone's.
        let three = leak(format!(
            "2020-03-24 08:38:42-0700   localhost sshd[2519]: {FAILED}"
        ));
        assert_eq!(split(three, &mut c), None);
    }

    #[test]
    fn solaris_message_id() {
        let mut c = clock();
        let l = split(
            leak(format!(
                "Mar  2 09:14:03 host sshd[77]: [ID 800047 auth.info] {FAILED}"
            )),
            &mut c,
        )
        .expect("solaris");
        assert_eq!((l.program, l.pid, l.message), ("sshd", Some(77), FAILED));
        let kept = "[ID x auth.info] y";
        let k = split(
            leak(format!("Mar  2 09:14:03 host sshd[77]: {kept}")),
            &mut c,
        )
        .expect("kept");
        assert_eq!(k.message, kept);
    }

    #[test]
    fn rfc5424_without_pri() {
        let mut c = clock();
        let l = split(
            leak(format!(
                "1 2024-03-02T09:14:03.000Z host sshd 77 - - {FAILED}"
            )),
            &mut c,
        )
        .expect("5424");
        assert_eq!(
            (l.host, l.program, l.pid, l.message),
            ("host", "sshd", Some(77), FAILED)
        );
        assert_eq!(l.time, parse_iso8601("2024-03-02T09:14:03Z"));
        assert_eq!(split("1 - host sshd 77 - - x", &mut c), None);
        assert_eq!(split("1 Invalid user a from 198.51.100.7", &mut c), None);
    }
}
