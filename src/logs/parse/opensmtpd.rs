/*!
OpenSMTPD's SMTP AUTH results (`smtpd`, OpenSMTPD 6.6 and later, `smtp_session.c`). See the
rules in `parse/mod.rs`.

Each SMTP session has a 64-bit id that OpenSMTPD draws itself and writes first, as 16 hex
digits. Only the session's first line names the client:
`ID smtp connected address=ADDR host=NAME` (ADDR from the socket, `local` for the local
socket; NAME is reverse DNS, the client's to choose). The verdicts come later and name the
session only: `ID smtp authentication user=USER result=permfail` (or `ok`), with USER the
name the client sent, and `ID smtp failed-command command="AUTH MECH (...)" result="535
Authentication failed"`, the same refusal as the SMTP reply. So the address is the one the
session's own `connected` line gave (bounded, kept between scans), read from the left
before NAME; a result is read from the end, after the client's USER; and a line whose
session was not seen connecting is not read. The 535 reply and the `authentication` line
report one attempt (`Report::Backend` and `Report::AuthResult`: the larger count counts).

OpenSMTPD 6.4 and before wrote the address on the verdict itself: `ID smtp
event=failed-command address=ADDR host=NAME command="..." result="..."`; read from the left
as well, the result from the end.
*/

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::lex::{Cut, failure_kind};
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::{Kind, Report};

/// Sessions remembered at once; the oldest is forgotten first.
const MAX_SESSIONS: usize = 4096;

/// The refusal OpenSMTPD sends and logs when a password fails.
const AUTH_FAILED: &str = "\" result=\"535 Authentication failed\"";

/// The client address of each recent session, by its id, oldest first.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct SmtpdSessions {
    sessions: VecDeque<(u64, ClientIp)>,
}

impl SmtpdSessions {
    /// Recognises one OpenSMTPD message, remembering or forgetting sessions as they start
    /// and end.
    pub fn parse<'a>(&mut self, message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
        let (id, rest) = session_id(message)?;
        let rest = rest.strip_prefix("smtp ")?;
        if let Some(rest) = rest.strip_prefix("connected address=") {
            // Ids are OpenSMTPD's random 64 bits: a new one is a new session.
            let (addr, _) = rest.cut(" host=")?;
            if let Some(ip) = address(addr) {
                self.sessions.push_back((id, ip));
                if self.sessions.len() > MAX_SESSIONS {
                    self.sessions.pop_front();
                }
            }
            return None;
        }
        if rest.starts_with("disconnected ") {
            self.forget(id);
            return None;
        }
        if let Some(user) = rest.strip_prefix("authentication user=") {
            let (user, kind) = if let Some(user) = user.strip_suffix(" result=permfail") {
                (user, failure_kind(Some(user), options))
            } else {
                (user.strip_suffix(" result=ok")?, Kind::Success)
            };
            let finding = Finding::new(kind, self.address_of(id)?, Some(user));
            return Some(match kind {
                Kind::Success => finding,
                _ => finding.reported_as(Report::AuthResult, 1),
            });
        }
        if let Some(command) = rest.strip_prefix("failed-command command=\"") {
            if !is_auth_refusal(command) {
                return None;
            }
            let finding = Finding::new(Kind::Failed, self.address_of(id)?, None);
            return Some(finding.reported_as(Report::Backend, 1));
        }
        // OpenSMTPD 6.4 and before: the address on the line, before the client's words.
        let rest = rest.strip_prefix("event=failed-command address=")?;
        let (addr, rest) = rest.cut(" host=")?;
        let (_, command) = rest.cut(" command=\"")?;
        if !is_auth_refusal(command) {
            return None;
        }
        let finding = Finding::new(Kind::Failed, address(addr)?, None);
        Some(finding.reported_as(Report::Backend, 1))
    }

    /// The `n` most recent sessions, to keep between scans.
    pub fn recent(&self, n: usize) -> SmtpdSessions {
        let skip = self.sessions.len().saturating_sub(n);
        SmtpdSessions {
            sessions: self.sessions.iter().skip(skip).copied().collect(),
        }
    }

    /// Looked up from the newest: a verdict comes soon after its session connected.
    fn address_of(&self, id: u64) -> Option<ClientIp> {
        let (_, ip) = self.sessions.iter().rev().find(|(known, _)| *known == id)?;
        Some(*ip)
    }

    /// Also from the newest, so that a busy server's scan stays linear in its lines.
    fn forget(&mut self, id: u64) {
        if let Some(at) = self.sessions.iter().rposition(|(known, _)| *known == id) {
            self.sessions.remove(at);
        }
    }
}

/// The 16 hex digits OpenSMTPD starts a session's lines with, and the rest.
fn session_id(message: &str) -> Option<(u64, &str)> {
    let (id, rest) = message.cut(" ")?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((u64::from_str_radix(id, 16).ok()?, rest))
}

/// `AUTH MECH ...` and the refusal of a password as the whole rest of the line. The
/// command's text is OpenSMTPD's masked copy (`AUTH LOGIN (password)`, `AUTH PLAIN (...)`):
/// a quote inside it would be client text, and the line is not read.
fn is_auth_refusal(command: &str) -> bool {
    command
        .strip_suffix(AUTH_FAILED)
        .is_some_and(|command| command.starts_with("AUTH ") && !command.contains('"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::parse::testing::{show, some};

    const CONNECTED: &str = "8f2a3b4c5d6e7f80 smtp connected address=198.51.100.7 host=<unknown>";

    #[test]
    fn a_verdict_takes_its_sessions_address() {
        let o = ParseOptions::default();
        let mut s = SmtpdSessions::default();
        assert_eq!(s.parse(CONNECTED, &o), None);
        let failed = "8f2a3b4c5d6e7f80 smtp authentication user=bob result=permfail";
        assert_eq!(
            show(s.parse(failed, &o)),
            some(Kind::Failed, "198.51.100.7", Some("bob"))
        );
        let reply = "8f2a3b4c5d6e7f80 smtp failed-command command=\"AUTH PLAIN (...)\" result=\"535 Authentication failed\"";
        let f = s.parse(reply, &o);
        assert_eq!(f.map(|f| f.report), Some(Report::Backend));
        assert_eq!(show(f), some(Kind::Failed, "198.51.100.7", None));
        let ok = "8f2a3b4c5d6e7f80 smtp authentication user=bob result=ok";
        assert_eq!(
            show(s.parse(ok, &o)),
            some(Kind::Success, "198.51.100.7", Some("bob"))
        );
        // Another session, or one that ended: no address to blame.
        assert_eq!(s.parse(&failed.replace("8f2a", "9f2a"), &o), None);
        s.parse("8f2a3b4c5d6e7f80 smtp disconnected reason=quit", &o);
        assert_eq!(s.parse(failed, &o), None);
    }

    #[test]
    fn client_text_decides_nothing() {
        let o = ParseOptions::default();
        let mut s = SmtpdSessions::default();
        s.parse(CONNECTED, &o);
        // A user name holding the other result: the end of the line decides.
        let user = "8f2a3b4c5d6e7f80 smtp authentication user=x result=ok result=permfail";
        assert_eq!(
            show(s.parse(user, &o)),
            some(Kind::Failed, "198.51.100.7", Some("x result=ok"))
        );
        // Other commands and replies, and client text shaped as the refusal.
        for m in [
            "8f2a3b4c5d6e7f80 smtp failed-command command=\"AUTH LOGIN\" result=\"503 5.5.1 Invalid command: Command not supported\"",
            "8f2a3b4c5d6e7f80 smtp failed-command command=\"RCPT TO:<a> \" result=\"535 Authentication failed\"",
            "8f2a3b4c5d6e7f80 smtp failed-command command=\"AUTH x\" result=\"535 Authentication failed\" result=\"550 Invalid recipient\"",
            "8f2a3b4c5d6e7f80 smtp failed-command command=\"AUTH \"x\" result=\"535 Authentication failed\"",
            "8f2a3b4c5d6e7f80 smtp authentication user=bob result=tempfail",
        ] {
            assert_eq!(s.parse(m, &o), None, "{m}");
        }
        // A host name cannot move the address, nor make a session of another.
        let mut s = SmtpdSessions::default();
        s.parse(
            "1111111111111111 smtp connected address=local host=x address=203.0.113.9 host=y",
            &o,
        );
        assert_eq!(
            s.parse(
                "1111111111111111 smtp authentication user=bob result=permfail",
                &o
            ),
            None
        );
    }

    #[test]
    fn the_old_form_names_the_address_itself() {
        let o = ParseOptions::default();
        let mut s = SmtpdSessions::default();
        let m = "45addba89269aeaa smtp event=failed-command address=128.237.183.69 host=zeta.wv.cc.cmu.edu command=\"AUTH PLAIN (...)\" result=\"535 Authentication failed\"";
        assert_eq!(
            show(s.parse(m, &o)),
            some(Kind::Failed, "128.237.183.69", None)
        );
        let other = "38dd06274cde1fd7 smtp event=failed-command address=185.236.202.133 host=no-mans-land.m247.com command=\"AUTH LOGIN\" result=\"503 5.5.1 Invalid command: Command not supported\"";
        assert_eq!(s.parse(other, &o), None);
    }

    #[test]
    fn memory_is_bounded_and_saved_state_keeps_the_newest() {
        let o = ParseOptions::default();
        let mut s = SmtpdSessions::default();
        for n in 0..(2 * MAX_SESSIONS as u64) {
            s.parse(
                &format!("{n:016x} smtp connected address=198.51.100.7 host=<unknown>"),
                &o,
            );
        }
        assert_eq!(s.sessions.len(), MAX_SESSIONS);
        let kept = s.recent(10);
        assert_eq!(kept.sessions.len(), 10);
        let last = 2 * MAX_SESSIONS as u64 - 1;
        assert!(kept.address_of(last).is_some());
        assert!(kept.address_of(last - 10).is_none());
    }
}
