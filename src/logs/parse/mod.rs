/*!
One parser per service, chosen by the program name in the syslog header.

Every parser is a function from the message text to a [`Finding`]. The rules, which
every parser file follows:
- match the message from its start, with fixed literal text (no searching for a keyword
  anywhere in the line: user names may contain `Accepted`, `from 1.2.3.4` or `[preauth]`);
- take the address from the message's fixed *trailing* structure (`... from ADDR port N`,
  `rhost=ADDR` before the attacker-chosen `user=`, `host[ADDR]:`), never from a field the
  client chose; when in doubt, return None;
- an address that is not a valid IP (a host name under `UseDNS yes`) is not evidence;
- user names are returned for display only.
*/

pub mod asterisk;
pub mod cockpit;
pub mod courier;
pub mod cyrus;
pub mod dovecot;
pub mod dropbear;
pub mod exim;
pub mod ftp;
pub mod http;
pub mod lex;
pub mod mail;
pub mod mailfilter;
pub mod mysql;
pub mod opensmtpd;
pub mod openvpn;
pub mod sendmail;
pub mod sshd;
pub mod uwimap;

use lex::Cut;
use serde::{Deserialize, Serialize};

use super::app_logs::MYSQL_ERROR_LOG;
use super::header::{self, Clock, LogLine};
use super::services::service_of_line;
use super::{Event, Kind, Report, Score, Service};
use crate::ip::ClientIp;

/// What one message says, before the header's time and the service are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding<'a> {
    pub kind: Kind,
    pub ip: ClientIp,
    pub user: Option<&'a str>,
    pub score: Option<Score>,
    /// How many events the message stands for (`PAM 3 more authentication failures`).
    pub count: u32,
    /// Which report of a login attempt the message is.
    pub report: Report,
}

impl<'a> Finding<'a> {
    pub fn new(kind: Kind, ip: ClientIp, user: Option<&'a str>) -> Finding<'a> {
        Finding {
            kind,
            ip,
            user,
            score: None,
            count: 1,
            report: Report::Sole,
        }
    }

    /// Spam with the filter's score, if it gave one.
    pub fn spam(ip: ClientIp, score: Option<Score>) -> Finding<'a> {
        Finding {
            score,
            ..Finding::new(Kind::Spam, ip, None)
        }
    }

    /// The same finding as one report among several of the same attempts.
    pub fn reported_as(self, report: Report, count: u32) -> Finding<'a> {
        Finding {
            report,
            count,
            ..self
        }
    }
}

/// A syslog daemon's reduction of repeats stands for this many lines at most: the number
/// is the relay's, but a local program can write the same words.
const MAX_REPEATS: u32 = 10_000;

/// rsyslog's (and sysklogd's) `message repeated N times: [ MESSAGE]`: the wrapper is the
/// syslog daemon's text, the inside is the program's, and stands for N lines.
fn unwrap_repeats(message: &str) -> (&str, u32) {
    let Some(rest) = message.strip_prefix("message repeated ") else {
        return (message, 1);
    };
    let Some((count, inner)) = rest.cut(" times: [ ") else {
        return (message, 1);
    };
    match (count.parse::<u32>(), inner.strip_suffix(']')) {
        (Ok(n), Some(inner)) if n > 0 && count.bytes().all(|b| b.is_ascii_digit()) => {
            (inner, n.min(MAX_REPEATS))
        }
        _ => (message, 1),
    }
}

/// Choices that change what a line means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// A login attempt as `root` is account guessing (naughty), not a mere failure.
    pub root_is_naughty: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            root_is_naughty: true,
        }
    }
}

pub use super::services::service_of;

/// Linux-PAM 0.7x's pam_unix logged under its own ident, `SERVICE(pam_unix)[pid]:`.
const PAM_UNIX_IDENT: &str = "(pam_unix)";

/// The service whose parser reads a line with this header: by its program (and for shared
/// idents its message), or the service named before pam_unix's own ident.
pub fn service_of_header(header: &LogLine) -> Option<Service> {
    match header.program.strip_suffix(PAM_UNIX_IDENT) {
        Some(name) => service_of(name),
        None => service_of_line(header.program, header.message),
    }
}

/// A service's parser: a message, with the header's pid, to a finding; `Joins` holds what
/// some services join across lines.
pub type ParseFn =
    for<'a> fn(&mut Joins, Option<u32>, &'a str, &ParseOptions) -> Option<Finding<'a>>;

/// What joins lines across messages: BSD ftpd names the address on one line and the
/// verdict on a later line of the same pid, and so do a few sshd lines; spam filters name
/// the message, postfix the client.
#[derive(Debug, Default)]
pub struct Joins {
    pub(crate) ftpd: ftp::FtpdSessions,
    pub(crate) sshd: sshd::SshdSessions,
    pub(crate) mail: mailfilter::MailTrail,
    pub(crate) smtpd: opensmtpd::SmtpdSessions,
}

/// Parses lines one after another. Holds the little state some services need (BSD ftpd
/// names the address on one line and the verdict on a later line of the same pid).
#[derive(Debug)]
pub struct Parser {
    options: ParseOptions,
    clock: Clock,
    joins: Joins,
    /// The log the lines come from ([`Parser::begin_source`]).
    source: String,
    /// A line whose event waits for its log's next line ([`Held`]).
    held: Option<Held>,
    /// A held event that the next line confirmed, for [`Parser::take_released`].
    released: Option<Held>,
}

/// A line that counts only once the daemon's next line is seen: MySQL's `Access denied`,
/// whose client-chosen user name may hold a line break and so end a genuine-looking line
/// (see `mysql`). The next line of the same log decides: one that starts with MySQL's own
/// header confirms it; anything else (the rest of a broken line, whatever it looks like)
/// drops it. Kept with the cursors, since that next line may come in a later run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The log it was read from: only that log's next line decides.
    source: String,
    service: Service,
    naughty: bool,
    ip: ClientIp,
    user: Option<String>,
    time: Option<i64>,
}

impl Held {
    /// The event, as the held line reported it.
    pub fn event(&self) -> Event<'_> {
        Event {
            service: self.service,
            kind: if self.naughty {
                Kind::Naughty
            } else {
                Kind::Failed
            },
            ip: self.ip,
            user: self.user.as_deref(),
            time: self.time,
            score: None,
            count: 1,
            report: Report::Sole,
            pid: None,
        }
    }
}

impl Parser {
    /// `now` (unix seconds) places BSD timestamps, which have no year, in the right year.
    pub fn new(options: ParseOptions, now: i64) -> Parser {
        Parser {
            options,
            clock: Clock::new(now),
            joins: Joins::default(),
            source: String::new(),
            held: None,
            released: None,
        }
    }

    /// The lines that follow come from this log (a file's path): a held line is decided
    /// only by the next line of its own log.
    pub fn begin_source(&mut self, source: &str) {
        if self.source != source {
            self.source.clear();
            self.source.push_str(source);
        }
    }

    /// The event a whole log line reports, if any. A line whose event must wait for the
    /// next line ([`Held`]) reports none now; check [`Parser::take_released`] after each line.
    pub fn parse_line<'a>(&mut self, line: &'a str) -> Option<Event<'a>> {
        let header = header::split(line, &mut self.clock);
        self.parse_split(header)
    }

    /// [`Parser::parse_line`] of a line whose header is already split (by
    /// [`crate::logs::read_ahead`]); None for a line that is no log line.
    pub fn parse_split<'a>(&mut self, header: Option<LogLine<'a>>) -> Option<Event<'a>> {
        self.parse_split_as(header, header.as_ref().and_then(service_of_header))
    }

    /// [`Parser::parse_split`] with the line's [`service_of_header`] already known (the
    /// reading thread of `parse` finds it).
    pub fn parse_split_as<'a>(
        &mut self,
        header: Option<LogLine<'a>>,
        service: Option<Service>,
    ) -> Option<Event<'a>> {
        if self.held.as_ref().is_some_and(|h| h.source == self.source) {
            let held = self.held.take();
            if header.is_some_and(|h| h.program == MYSQL_ERROR_LOG) {
                self.released = held;
            }
        }
        let header = header?;
        let service = service?;
        if header.program.ends_with(PAM_UNIX_IDENT) {
            let finding = lex::pam_unix_own_ident(header.message, &self.options)?;
            return Some(event(service, finding, header.time, header.pid));
        }
        let (service, finding) =
            self.parse_message(service, header.pid, header.time, header.message)?;
        let event = event(service, finding, header.time, header.pid);
        if service == Service::Mysql {
            self.held = Some(Held {
                source: self.source.clone(),
                service,
                naughty: event.kind == Kind::Naughty,
                ip: event.ip,
                user: event.user.map(str::to_owned),
                time: event.time,
            });
            return None;
        }
        Some(event)
    }

    /// The event of a held line that the line just parsed confirmed (it belongs to the
    /// line before that one).
    pub fn take_released(&mut self) -> Option<Held> {
        self.released.take()
    }

    /// Whether the line just parsed is held, waiting for the next one of its log.
    pub fn is_holding(&self) -> bool {
        self.held.as_ref().is_some_and(|h| h.source == self.source)
    }

    /// The finding of one message of a known service (for `parse --service` on bare
    /// messages), written at `time` (unix seconds, if known).
    pub fn parse_message<'a>(
        &mut self,
        service: Service,
        pid: Option<u32>,
        time: Option<i64>,
        message: &'a str,
    ) -> Option<(Service, Finding<'a>)> {
        if service == Service::Sshd {
            self.joins.sshd.set_time(time);
        }
        let (message, repeats) = unwrap_repeats(message);
        // Nested wrappers are not a syslog daemon's: one level only.
        if repeats > 1 && message.starts_with("message repeated ") {
            return None;
        }
        let finding = service.parse(&mut self.joins, pid, message, &self.options)?;
        let count = finding.count.saturating_mul(repeats);
        Some((service, Finding { count, ..finding }))
    }

    /// What joins lines across scans (BSD ftpd's address per pid, the mail joins), trimmed
    /// to the most recent entries, to keep with the log cursors.
    pub fn saved_state(&self) -> ParserState {
        ParserState {
            ftpd: self.joins.ftpd.recent(SAVED_ENTRIES),
            sshd: self.joins.sshd.recent(SAVED_ENTRIES),
            mail: self.joins.mail.recent(SAVED_ENTRIES),
            smtpd: self.joins.smtpd.recent(SAVED_ENTRIES),
            held: self.held.clone(),
        }
    }

    /// Takes up the state an earlier scan saved.
    pub fn restore_state(&mut self, state: ParserState) {
        self.joins = Joins {
            ftpd: state.ftpd,
            sshd: state.sshd,
            mail: state.mail,
            smtpd: state.smtpd,
        };
        self.held = state.held;
        self.released = None;
    }

    /// Forgets the joins no later line can need any more, and the room they took (for the
    /// follower, which runs for months; see [`sshd::SshdSessions::forget_stale`]).
    pub fn forget_stale_joins(&mut self) {
        self.joins.sshd.forget_stale();
    }

    /// Forgets every join across lines.
    pub fn forget_state(&mut self) {
        self.joins = Joins::default();
        self.held = None;
        self.released = None;
    }
}

/// How many entries of each join a scan hands to the next: enough for the sessions that
/// are open at once, small enough that a `--connect` reads it in well under a millisecond.
pub const SAVED_ENTRIES: usize = 1024;

/// The parsers' joins across lines, as one scan hands them to the next.
#[derive(Debug, Serialize, Deserialize)]
pub struct ParserState {
    ftpd: ftp::FtpdSessions,
    /// Absent in the state of a version before it.
    #[serde(default)]
    sshd: sshd::SshdSessions,
    mail: mailfilter::MailTrail,
    /// OpenSMTPD's sessions; absent in the state of a version before it.
    #[serde(default)]
    smtpd: opensmtpd::SmtpdSessions,
    /// A line waiting for its log's next one; absent in the state of a version before it.
    #[serde(default)]
    held: Option<Held>,
}

/// The event of a finding, with what the header said.
pub fn event<'a>(
    service: Service,
    f: Finding<'a>,
    time: Option<i64>,
    pid: Option<u32>,
) -> Event<'a> {
    Event {
        service,
        kind: f.kind,
        ip: f.ip,
        user: f.user,
        time,
        score: f.score,
        count: f.count,
        report: f.report,
        pid,
    }
}

/// Validates one candidate address token taken from a message's fixed structure (a host
/// name, under `UseDNS yes`, is not an address and gives None).
pub fn address(token: &str) -> Option<ClientIp> {
    ClientIp::parse_opt(token)
}

#[cfg(test)]
mod corpus;

/// Helpers for the parsers' unit tests: findings as comparable owned values.
#[cfg(test)]
pub mod testing {
    use super::Finding;
    use crate::logs::Kind;

    /// `(kind, address, user)` of a finding, owned so that tests can compare it.
    pub type Parsed = Option<(Kind, String, Option<String>)>;

    pub fn show(f: Option<Finding<'_>>) -> Parsed {
        f.map(|f| (f.kind, f.ip.to_string(), f.user.map(str::to_owned)))
    }

    pub fn some(kind: Kind, ip: &str, user: Option<&str>) -> Parsed {
        Some((kind, ip.to_string(), user.map(str::to_owned)))
    }
}
