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

pub mod dovecot;
pub mod dropbear;
pub mod ftp;
pub mod mail;
pub mod mailfilter;
pub mod sshd;

use super::header::{self, Clock};
use super::{Event, Kind, Score, Service};
use crate::ip::ClientIp;

/// What one message says, before the header's time and the service are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding<'a> {
    pub kind: Kind,
    pub ip: ClientIp,
    pub user: Option<&'a str>,
    pub score: Option<Score>,
}

impl<'a> Finding<'a> {
    pub fn new(kind: Kind, ip: ClientIp, user: Option<&'a str>) -> Finding<'a> {
        Finding {
            kind,
            ip,
            user,
            score: None,
        }
    }

    /// Spam with the filter's score, if it gave one.
    pub fn spam(ip: ClientIp, score: Option<Score>) -> Finding<'a> {
        Finding {
            kind: Kind::Spam,
            ip,
            user: None,
            score,
        }
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

/// The service a syslog program name belongs to, if sentry reads it.
pub fn service_of(program: &str) -> Option<Service> {
    Some(match program {
        "sshd" | "sshd-session" | "sshd-auth" => Service::Sshd,
        "dropbear" => Service::Dropbear,
        "dovecot" | "imap-login" | "pop3-login" | "submission-login" | "managesieve-login" => {
            Service::Dovecot
        }
        "vsftpd" => Service::Vsftpd,
        "proftpd" => Service::Proftpd,
        "pure-ftpd" => Service::PureFtpd,
        "ftpd" => Service::Ftpd,
        "vchkpw-smtp" | "vchkpw-submission" | "vchkpw-smtps" => Service::VchkpwSmtp,
        "vchkpw-pop3" | "vchkpw-imap" | "vchkpw-pop3s" | "vchkpw-imaps" => Service::VchkpwMua,
        "amavis" | "amavisd" | "amavisd-new" => Service::Amavis,
        "rspamd" => Service::Rspamd,
        "spamd" => Service::Spamd,
        p if p.starts_with("postfix")
            && (p.ends_with("/smtpd") || p.ends_with("/cleanup") || p.ends_with("/postscreen")) =>
        {
            Service::Postfix
        }
        _ => return None,
    })
}

/// `vchkpw-smtp: ...` logged under the ident `vpopmail`: which vchkpw service it is.
fn vchkpw_service(message: &str) -> Option<Service> {
    let (program, _) = message.split_once(": ")?;
    service_of(program).filter(|s| matches!(s, Service::VchkpwSmtp | Service::VchkpwMua))
}

/// Parses lines one after another. Holds the little state some services need (BSD ftpd
/// names the address on one line and the verdict on a later line of the same pid).
#[derive(Debug)]
pub struct Parser {
    options: ParseOptions,
    clock: Clock,
    ftpd: ftp::FtpdSessions,
    mail: mailfilter::MailTrail,
}

impl Parser {
    /// `now` (unix seconds) places BSD timestamps, which have no year, in the right year.
    pub fn new(options: ParseOptions, now: i64) -> Parser {
        Parser {
            options,
            clock: Clock::new(now),
            ftpd: ftp::FtpdSessions::default(),
            mail: mailfilter::MailTrail::default(),
        }
    }

    /// The event a whole log line reports, if any.
    pub fn parse_line<'a>(&mut self, line: &'a str) -> Option<Event<'a>> {
        let header = header::split(line, &mut self.clock)?;
        let service = match header.program {
            // vpopmail can log under its own ident; the message then names the service.
            "vpopmail" => vchkpw_service(header.message)?,
            program => service_of(program)?,
        };
        self.parse_message(service, header.pid, header.message)
            .map(|(service, f)| Event {
                service,
                kind: f.kind,
                ip: f.ip,
                user: f.user,
                time: header.time,
                score: f.score,
            })
    }

    /// The finding of one message of a known service (for `parse --service` on bare messages).
    pub fn parse_message<'a>(
        &mut self,
        service: Service,
        pid: Option<u32>,
        message: &'a str,
    ) -> Option<(Service, Finding<'a>)> {
        let o = &self.options;
        let finding = match service {
            Service::Sshd => sshd::parse(message, o),
            Service::Dropbear => dropbear::parse(message, o),
            Service::Dovecot => dovecot::parse(message, o),
            Service::Vsftpd => ftp::parse_vsftpd(message, o),
            Service::Proftpd => ftp::parse_proftpd(message, o),
            Service::PureFtpd => ftp::parse_pure_ftpd(message, o),
            Service::Ftpd => self.ftpd.parse(pid, message, o),
            Service::Postfix => mailfilter::parse_postfix(message, o, &mut self.mail),
            Service::Amavis => mailfilter::parse_amavis(message),
            Service::Rspamd => mailfilter::parse_rspamd(message),
            Service::Spamd => mailfilter::parse_spamd(pid, message, &mut self.mail),
            Service::VchkpwSmtp | Service::VchkpwMua => mail::parse_vchkpw(message, o),
        }?;
        Some((service, finding))
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
