/*!
Reading the services' own logs: what each line says about which address.

A line becomes an [`Event`] in two steps: [`header::split`] finds the program and the
message at their fixed places in the syslog header, then the parser for that program
([`parse`], one file per service) recognises the message with anchored rules and takes
the address from the message's fixed structure, never from text an attacker chose.
*/

pub mod header;
pub mod journal;
pub mod parse;
pub mod source;

use serde::Serialize;

use crate::ip::ClientIp;

/// What a log line says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An authenticated login.
    Success,
    /// A wrong password or key for an account that exists.
    Failed,
    /// Account guessing: invalid user, root login, "not allowed", too many attempts.
    Naughty,
    /// A connection that never tried to authenticate (scanners).
    Probe,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Success, Kind::Failed, Kind::Naughty, Kind::Probe];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Success => "success",
            Kind::Failed => "failed",
            Kind::Naughty => "naughty",
            Kind::Probe => "probe",
        }
    }
}

/// The program whose log line it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Sshd,
    Dropbear,
    Dovecot,
    Vsftpd,
    Proftpd,
    PureFtpd,
    /// The BSD ftpd (`ftpd[pid]`).
    Ftpd,
    /// postfix smtpd SASL authentication.
    Postfix,
    /// vpopmail's `vchkpw-smtp` / `vchkpw-submission`.
    VchkpwSmtp,
    /// vpopmail's `vchkpw-pop3` / `vchkpw-imap`.
    VchkpwMua,
}

/// The groups an admin switches on and off (`services = [...]`, `PROTECT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceGroup {
    Ssh,
    Ftp,
    /// POP3 and IMAP (mail user agents).
    Mua,
    Smtp,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::Sshd,
        Service::Dropbear,
        Service::Dovecot,
        Service::Vsftpd,
        Service::Proftpd,
        Service::PureFtpd,
        Service::Ftpd,
        Service::Postfix,
        Service::VchkpwSmtp,
        Service::VchkpwMua,
    ];

    /// The name used in `parse` output, the database and reports.
    pub fn name(self) -> &'static str {
        match self {
            Service::Sshd => "sshd",
            Service::Dropbear => "dropbear",
            Service::Dovecot => "dovecot",
            Service::Vsftpd => "vsftpd",
            Service::Proftpd => "proftpd",
            Service::PureFtpd => "pure-ftpd",
            Service::Ftpd => "ftpd",
            Service::Postfix => "postfix",
            Service::VchkpwSmtp => "vchkpw-smtp",
            Service::VchkpwMua => "vchkpw-pop3",
        }
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn group(self) -> ServiceGroup {
        match self {
            Service::Sshd | Service::Dropbear => ServiceGroup::Ssh,
            Service::Vsftpd | Service::Proftpd | Service::PureFtpd | Service::Ftpd => {
                ServiceGroup::Ftp
            }
            Service::Dovecot | Service::VchkpwMua => ServiceGroup::Mua,
            Service::Postfix | Service::VchkpwSmtp => ServiceGroup::Smtp,
        }
    }
}

/// One recognised log line. It borrows the user name from the line: scanning a big log
/// allocates nothing per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    pub service: Service,
    pub kind: Kind,
    pub ip: ClientIp,
    /// The account named, if the line names one (attacker-chosen text: display only).
    pub user: Option<&'a str>,
    /// Unix seconds, when the header had a timestamp.
    pub time: Option<i64>,
}
