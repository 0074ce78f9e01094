/*!
Reading the services' own logs: what each line says about which address.

A line becomes an [`Event`] in two steps: [`header::split`] finds the program and the
message at their fixed places in the syslog header, then the parser for that program
([`parse`], one file per service) recognises the message with anchored rules and takes
the address from the message's fixed structure, never from text an attacker chose.
*/

pub mod app_logs;
pub mod header;
pub mod journal;
mod own_logs;
pub mod parse;
pub mod read_ahead;
pub mod services;
pub mod source;

pub use services::{Service, ServiceGroup};

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
    /// Mail carrying a virus (amavis, a virus-scanning milter).
    Virus,
    /// Mail judged spam, with its score when the filter gave one (amavis, rspamd,
    /// SpamAssassin, a spam milter). Counts only at or above `smtp_spam_score`.
    Spam,
    /// A connection refused because a DNS blocklist lists the client (postfix, postscreen).
    Rbl,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Success,
        Kind::Failed,
        Kind::Naughty,
        Kind::Probe,
        Kind::Virus,
        Kind::Spam,
        Kind::Rbl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Success => "success",
            Kind::Failed => "failed",
            Kind::Naughty => "naughty",
            Kind::Probe => "probe",
            Kind::Virus => "virus",
            Kind::Spam => "spam",
            Kind::Rbl => "rbl",
        }
    }

    /// A kind by its name as the database and `parse` output spell it.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Which of a daemon's reports of a login attempt a line is. sshd reports one wrong
/// password twice: pam_unix's `authentication failure` (the first of a connection; the
/// rest summed up as `PAM N more authentication failures`) and its own `Failed password`.
/// dovecot's login process sums a connection up (`auth failed, 3 attempts`), with
/// `auth_verbose` its auth process logs each attempt (`Password mismatch`), and with
/// `passdb pam` pam_unix logs it a third time. The largest report is the number of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Report {
    /// The only line about what it reports: counted as it is.
    Sole,
    /// The daemon's own result of one attempt (`Failed password for ...`).
    AuthResult,
    /// The authentication service's account of the same attempts (dovecot's auth process).
    Backend,
    /// PAM's account of them (`pam_unix(SERVICE:auth): authentication failure`, `PAM N more
    /// authentication failures`, OpenPAM's `error: PAM: ...`).
    Pam,
    /// A connection's end that says it failed at least N times (`Too many authentication
    /// failures`, a client's own `Auth fail` disconnect, dropbear's `N fails`): a floor, so
    /// it adds only the attempts no other line of the connection counted.
    Summary,
    /// tcpd's `refused connect from ADDR`: a probe, unless sentry's own deny list refused
    /// it (then counting it would keep the block alive by itself).
    Refusal,
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
    /// A spam filter's score, when the line gives one.
    pub score: Option<Score>,
    /// How many events the line stands for: `PAM 3 more authentication failures`, or the
    /// syslog daemon's `message repeated N times`.
    pub count: u32,
    /// Which report of an attempt the line is, for counting each attempt once.
    pub report: Report,
    /// The daemon's process id from the header or the journal, when there is one.
    pub pid: Option<u32>,
}

/// The account name that stands for any account: trust from an allow made before trust
/// was scoped to accounts (an upgrade, another fleet host's allow). No log line can name it
/// (see [`account_key`]).
pub const ANY_ACCOUNT: &str = "*";

/// Account names are the client's text: longer ones are not kept apart (they are counted
/// together, and trusted for nothing), so a log cannot grow the database with them.
pub const ACCOUNT_NAME_MAX: usize = 64;

/// The name an event's account is kept under: the client's text as it is, or "" when
/// there is none, or it is too long, holds control characters or is [`ANY_ACCOUNT`]
/// (such attempts are counted together, and trust nothing).
pub fn account_key(user: Option<&str>) -> &str {
    match user {
        Some(u)
            if u.len() <= ACCOUNT_NAME_MAX
                && u != ANY_ACCOUNT
                && !u.chars().any(char::is_control) =>
        {
            u
        }
        _ => "",
    }
}

/// A spam score in tenths (17.3 is 173): exact to compare, and `Event` stays `Eq`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
pub struct Score(pub i32);

impl Score {
    /// `17.3`, `-1.25`, `12` as the filters print them; None for anything else.
    pub fn parse(text: &str) -> Option<Score> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty()
            || whole.len() > 6
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: i32 = whole.parse().ok()?;
        let tenth = fraction.bytes().next().map_or(0, |b| i32::from(b - b'0'));
        let tenths = whole * 10 + tenth;
        Some(Score(if negative { -tenths } else { tenths }))
    }

    /// From a configured number (`smtp_spam_score = 10.0`).
    pub fn from_f64(value: f64) -> Score {
        Score((value * 10.0).round().clamp(-1e9, 1e9) as i32)
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{}", self.0.abs() / 10, self.0.abs() % 10)
    }
}
