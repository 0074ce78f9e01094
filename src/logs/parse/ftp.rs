/*!
FTP servers: vsftpd, proftpd, pure-ftpd and the BSD ftpd. See the rules in `parse/mod.rs`.

Where the attacker writes, per server:
- vsftpd `[USER] FAIL LOGIN: Client "ADDR"`: USER is whatever the client sent and may contain
  `] OK LOGIN: Client "9.9.9.9`. The address is taken from the fixed tail `LOGIN: Client "ADDR"`
  that ends the line (vsftpd may add its own `, "note"`). Anonymous logins add
  `, anon password "..."` after the address, a second attacker field; those are read from the
  left, where the user can only be `ftp`/`anonymous`. A line that reads differently from the two
  ends is refused.
- proftpd `SERVER (NAME[ADDR]) - MESSAGE`: NAME comes from reverse DNS, MESSAGE carries the
  client's `USER` argument. The client part is read from the left, right after the server name,
  and NAME must look like a host name or address, so neither side can shift it.
- pure-ftpd `(USER@ADDR) [LEVEL] MESSAGE`: before login USER is `?`; the failed user name is at
  the end in brackets. The success `USER is now logged in` is logged before the session is
  marked logged in, so its client part is `?@ADDR` too. The address is read from the left.
- BSD ftpd names the address only on `connection from NAME (ADDR)`; the verdict comes on a later
  line of the same pid and names only NAME (reverse DNS, attacker-controlled), so the address is
  the one remembered for the pid, never NAME.

Anonymous logins are not reported as successes: any success allow-lists an address, and anyone
may log in anonymously.
*/

use super::lex::Cut;
use std::collections::{HashMap, VecDeque};

use super::lex::{failure_kind, is_host_or_address, is_pam_report, pam_auth_failure};
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::{Kind, Report};

const VSFTPD_CLIENT: &str = "LOGIN: Client \"";

/// Recognises one vsftpd message: `[pid 123] [bob] FAIL LOGIN: Client "::ffff:1.2.3.4"`.
pub fn parse_vsftpd<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if is_pam_report(message) {
        return pam_auth_failure(message, &["vsftpd", "ftp"], options);
    }
    let message = strip_vsftpd_pid(message);
    if let Some((user, addr)) = vsftpd_userlist_refusal(message) {
        let kind = failure_kind(user, options);
        // `userlist_log` may report the same refusal as a FAIL LOGIN: one attempt.
        return Some(Finding::new(kind, address(addr)?, user).reported_as(Report::Backend, 1));
    }
    let login = match (vsftpd_from_right(message), vsftpd_anonymous(message)) {
        (Some(plain), None) => plain,
        (None, Some(anonymous)) => anonymous,
        (Some(plain), Some(anonymous)) if plain == anonymous => anonymous,
        // The user name and the anonymous password each tell a different story: refuse.
        _ => return None,
    };
    let ip = address(login.addr)?;
    let kind = match (login.ok, login.anonymous) {
        (true, false) => Kind::Success,
        (true, true) => return None,
        (false, _) => failure_kind(login.user, options),
    };
    let finding = Finding::new(kind, ip, login.user);
    // PAM reports the same attempt (`pam_unix(vsftpd:auth)`): the larger of the two counts.
    Some(match kind {
        Kind::Success => finding,
        _ => finding.reported_as(Report::AuthResult, 1),
    })
}

#[derive(Debug, PartialEq, Eq)]
struct VsftpdLogin<'a> {
    ok: bool,
    addr: &'a str,
    user: Option<&'a str>,
    anonymous: bool,
}

/// `[pid 123] ` starts the lines of vsftpd's own log file (not the syslog ones).
fn strip_vsftpd_pid(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix("[pid ")
        && let Some((pid, rest)) = rest.cut("] ")
        && !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
    {
        return rest;
    }
    message
}

/// `[USER] OK|FAIL LOGIN: Client "ADDR"` with an optional `, "vsftpd's note"`, read from the end.
fn vsftpd_from_right(message: &str) -> Option<VsftpdLogin<'_>> {
    let at = message.rfind(VSFTPD_CLIENT)?;
    let (head, tail) = (&message[..at], &message[at + VSFTPD_CLIENT.len()..]);
    let (addr, after) = tail.cut("\"")?;
    let note_ok = after.is_empty()
        || after
            .strip_prefix(", \"")
            .and_then(|n| n.strip_suffix('"'))
            .is_some_and(|n| !n.contains('"'));
    if !note_ok {
        return None;
    }
    let (ok, who) = match head.strip_suffix("OK ") {
        Some(who) => (true, who),
        None => (false, head.strip_suffix("FAIL ")?),
    };
    let user = vsftpd_user(who)?;
    Some(VsftpdLogin {
        ok,
        addr,
        user,
        anonymous: user.is_some_and(is_anonymous),
    })
}

/// The `[USER] ` before vsftpd's `VERB: Client "ADDR"` (None for a line without one).
fn vsftpd_user(who: &str) -> Option<Option<&str>> {
    if who.is_empty() {
        return Some(None);
    }
    let user = who.strip_prefix('[')?.strip_suffix("] ")?;
    // Every vsftpd line puts `VERB: Client "ADDR"` right after the user, and any client
    // text after the address follows `", `. A "user" holding both is the head of another
    // line whose client text ends in a fake login (an `OK MKDIR` path, an FTP command).
    if let Some(at) = user.find(": Client \"")
        && user[at..].contains("\", ")
    {
        return None;
    }
    Some(Some(user))
}

/// `log_ftp_protocol`'s copy of vsftpd's answer to a `USER` that its user list refuses
/// (prelogin.c, `userlist_enable`: RHEL's default lists root and the system accounts):
/// `[USER] FTP response: Client "ADDR", "530 Permission denied."`. Without `userlist_log`
/// (vsftpd 3.0.3+) it is the refusal's only trace. Read from the end, as a login is; the
/// text is vsftpd's own, and a client's command or path that ends in it leaves a "user"
/// holding `: Client "` and `", `, which [`vsftpd_user`] refuses. Returns (user, address).
fn vsftpd_userlist_refusal(message: &str) -> Option<(Option<&str>, &str)> {
    const RESPONSE: &str = "FTP response: Client \"";
    let body = message.strip_suffix("\", \"530 Permission denied.\"")?;
    let at = body.rfind(RESPONSE)?;
    let addr = &body[at + RESPONSE.len()..];
    if addr.contains('"') {
        return None;
    }
    Some((vsftpd_user(&body[..at])?, addr))
}

/// vsftpd's anonymous account names, in any case.
fn is_anonymous(user: &str) -> bool {
    user.eq_ignore_ascii_case("ftp") || user.eq_ignore_ascii_case("anonymous")
}

/// `[ftp] OK LOGIN: Client "ADDR", anon password "..."`, read from the start.
fn vsftpd_anonymous(message: &str) -> Option<VsftpdLogin<'_>> {
    let (user, rest) = message.strip_prefix('[')?.cut("] ")?;
    if !is_anonymous(user) {
        return None;
    }
    let (ok, rest) = match rest.strip_prefix("OK ") {
        Some(rest) => (true, rest),
        None => (false, rest.strip_prefix("FAIL ")?),
    };
    let (addr, after) = rest.strip_prefix(VSFTPD_CLIENT)?.cut("\"")?;
    if !after.starts_with(", anon password \"") || !after.ends_with('"') {
        return None;
    }
    Some(VsftpdLogin {
        ok,
        addr,
        user: Some(user),
        anonymous: true,
    })
}

/// Recognises one proftpd message: `web1 (host.example[203.0.113.5]) - USER bob: Login successful.`
pub fn parse_proftpd<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if is_pam_report(message) {
        return pam_auth_failure(message, &["proftpd", "ftp"], options);
    }
    let (addr, text) = proftpd_client(message)?;
    let text = text.trim_end();
    let mut report = Report::Sole;
    let (kind, user) = if let Some(rest) = text.strip_prefix("USER ") {
        if rest.contains(" (Login failed): ") {
            // PAM reports the same attempt (`pam_unix(ftp:auth)`, same session process).
            report = Report::AuthResult;
        }
        proftpd_user_line(rest, addr, options)?
    } else if let Some(rest) = text.strip_prefix("SECURITY VIOLATION: ") {
        let rest = rest.strip_suffix('.').unwrap_or(rest);
        if !rest.eq_ignore_ascii_case("root login attempted") {
            return None;
        }
        (Kind::Naughty, Some("root"))
    } else if let Some(rest) = text.strip_prefix("Maximum login attempts (") {
        let (n, rest) = rest.cut(")")?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if rest != " exceeded" && rest != " exceeded, connection refused" {
            return None;
        }
        (Kind::Naughty, None)
    } else {
        // `ANON ftp: Login successful.` is anonymous: no evidence (see the module doc).
        return None;
    };
    let finding = Finding::new(kind, address(addr)?, user);
    Some(match kind {
        Kind::Success => finding,
        _ => finding.reported_as(report, 1),
    })
}

/// `SERVER (NAME[ADDR]) - ` (or the older `SERVER (NAME[ADDR]): `): the address and the message.
fn proftpd_client(message: &str) -> Option<(&str, &str)> {
    let (server, rest) = message.cut(" (")?;
    if server.is_empty() || server.contains(' ') {
        return None;
    }
    let (name, rest) = rest.cut("[")?;
    if !is_host_or_address(name) {
        return None;
    }
    let (addr, rest) = rest.cut("]")?;
    let text = rest
        .strip_prefix(") - ")
        .or_else(|| rest.strip_prefix("): "))?;
    Some((addr, text))
}

/// What follows `USER `: the client's name, then proftpd's verdict at the end.
fn proftpd_user_line<'a>(
    rest: &'a str,
    addr: &str,
    options: &ParseOptions,
) -> Option<(Kind, Option<&'a str>)> {
    if let Some(user) = rest.strip_suffix(": Login successful.") {
        return Some((Kind::Success, Some(user)));
    }
    if let Some((user, reason)) = rest.rcut(" (Login failed): ") {
        let reason = reason.strip_suffix('.').unwrap_or(reason);
        let kind = if reason == "Incorrect password" {
            failure_kind(Some(user), options)
        } else if reason.starts_with("User in ")
            || reason.starts_with("Invalid shell")
            || reason == "No such user found"
            || reason == "Limit access denies login"
            || reason == "Limit configuration denies login"
        {
            Kind::Naughty
        } else {
            // Expired password, disabled account: the owner's problem, not an attack.
            return None;
        };
        return Some((kind, Some(user)));
    }
    // `bob: no such user found from NAME [ADDR] to LOCAL:21`: the address is repeated; it must
    // agree with the client part.
    let (user, from) = rest.rcut(": no such user found from ")?;
    let (client, _local) = from.rcut(" to ")?;
    let (_, repeated) = client.strip_suffix(']')?.rcut(" [")?;
    (repeated == addr).then_some((Kind::Naughty, Some(user)))
}

/// Recognises one pure-ftpd message: `(?@203.0.113.5) [WARNING] Authentication failed for user [bob]`.
pub fn parse_pure_ftpd<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if is_pam_report(message) {
        // With PAM authentication (pure-ftpd's `-l pam`, PAM service `pure-ftpd`), which
        // hands PAM the client's address.
        return pam_auth_failure(message, &["pure-ftpd"], options);
    }
    let rest = message.strip_prefix('(')?;
    if let Some(rest) = rest.strip_prefix("?@") {
        // Not logged in yet: the client part holds only the address; the name the client
        // tried is the bracketed tail.
        let (host, text) = rest.cut(") [")?;
        let ip = address(host)?;
        if let Some(user) = text.strip_prefix("WARNING] Authentication failed for user [") {
            let user = user.strip_suffix(']')?;
            let finding = Finding::new(failure_kind(Some(user), options), ip, Some(user));
            // PAM may report the same attempt: the larger of the two counts, per address.
            return Some(finding.reported_as(Report::AuthResult, 1));
        }
        // pure-ftpd logs the success before it marks the session logged in, so the client
        // part still says `?`. The address is pinned from the left; the name is display only.
        let user = text
            .strip_prefix("INFO] ")?
            .strip_suffix(" is now logged in")?;
        if user.is_empty() {
            return None;
        }
        return Some(Finding::new(Kind::Success, ip, Some(user)));
    }
    // `(bob@203.0.113.5) [INFO] bob is now logged in`: the account may contain `@`
    // (virtual users), so the address is after the last one; the message must repeat the
    // account exactly, which pins where the client part ends.
    let (client, text) = rest.cut(") [INFO] ")?;
    let (user, host) = client.rcut("@")?;
    if text.strip_suffix(" is now logged in")? != user || user.is_empty() {
        return None;
    }
    Some(Finding::new(Kind::Success, address(host)?, Some(user)))
}

/// How many BSD ftpd sessions are remembered at once; the oldest is forgotten first.
const MAX_SESSIONS: usize = 4096;

/// BSD ftpd logs the address on `connection from NAME (ADDR)` and the verdict on a later
/// line of the same pid; this remembers the address per pid (bounded).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct FtpdSessions {
    by_pid: HashMap<u32, Session>,
    /// Pids in the order their connection was seen, with the stamp that entry had; stale
    /// entries (pid reconnected or forgotten) are skipped when evicting.
    order: VecDeque<(u32, u64)>,
    next_stamp: u64,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Session {
    ip: ClientIp,
    stamp: u64,
    /// FreeBSD logs each failure twice, `FAILED FROM NAME` then `FAILED FROM NAME, USER`;
    /// set after the first so the second is not counted again.
    counted_failure: bool,
}

impl FtpdSessions {
    /// Recognises one BSD ftpd message of process `pid`.
    pub fn parse<'a>(
        &mut self,
        pid: Option<u32>,
        message: &'a str,
        options: &ParseOptions,
    ) -> Option<Finding<'a>> {
        let pid = pid?;
        if let Some(rest) = message.strip_prefix("connection from ") {
            match connection_address(rest) {
                Some(ip) => self.remember(pid, ip),
                // A new connection on this pid whose address we cannot read: the old
                // address must not be blamed for it.
                None => {
                    self.by_pid.remove(&pid);
                }
            }
            return None;
        }
        let session = self.by_pid.get_mut(&pid)?;
        let already_counted = std::mem::take(&mut session.counted_failure);
        let ip = session.ip;
        let (kind, user) = if let Some(rest) = message.strip_prefix("FTP LOGIN FAILED FROM ") {
            // NAME is a host name (no `, `); what follows the first `, ` is the user.
            match rest.cut(", ") {
                None => {
                    session.counted_failure = true;
                    (Kind::Failed, None)
                }
                Some(_) if already_counted => return None,
                Some((_, user)) => (failure_kind(Some(user), options), Some(user)),
            }
        } else if let Some(rest) = message.strip_prefix("FTP LOGIN REFUSED FROM ") {
            (Kind::Naughty, rest.cut(", ").map(|(_, user)| user))
        } else if let Some(rest) = message.strip_prefix("FTP LOGIN FROM ") {
            // NetBSD adds ` (class: real, type: REAL)`; the account is a real one.
            let rest = match rest.rfind(" (class: ") {
                Some(at) if rest.ends_with(')') => &rest[..at],
                _ => rest,
            };
            let (_, user) = rest.rcut(" as ")?;
            (Kind::Success, Some(user))
        } else if message.starts_with("repeated login failures from ") {
            (Kind::Naughty, None)
        } else {
            // `ANONYMOUS FTP LOGIN FROM ...` is no evidence (see the module doc).
            return None;
        };
        Some(Finding::new(kind, ip, user))
    }

    /// The `n` most recently opened sessions, to hand to the next scan.
    pub fn recent(&self, n: usize) -> FtpdSessions {
        let mut sessions: Vec<(u32, Session)> = self.by_pid.iter().map(|(p, s)| (*p, *s)).collect();
        sessions.sort_by_key(|(_, s)| std::cmp::Reverse(s.stamp));
        sessions.truncate(n);
        sessions.sort_by_key(|(_, s)| s.stamp);
        FtpdSessions {
            order: sessions.iter().map(|(p, s)| (*p, s.stamp)).collect(),
            by_pid: sessions.into_iter().collect(),
            next_stamp: self.next_stamp,
        }
    }

    fn remember(&mut self, pid: u32, ip: ClientIp) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.by_pid.insert(
            pid,
            Session {
                ip,
                stamp,
                counted_failure: false,
            },
        );
        self.order.push_back((pid, stamp));
        while self.by_pid.len() > MAX_SESSIONS {
            let Some((old, old_stamp)) = self.order.pop_front() else {
                break;
            };
            if self.by_pid.get(&old).is_some_and(|s| s.stamp == old_stamp) {
                self.by_pid.remove(&old);
            }
        }
        // Reused pids leave stale entries behind; drop them before the queue grows unbounded.
        if self.order.len() > 2 * MAX_SESSIONS {
            let by_pid = &self.by_pid;
            self.order
                .retain(|(p, s)| by_pid.get(p).is_some_and(|x| x.stamp == *s));
        }
    }
}

/// `NAME (ADDR)`, `NAME [ADDR]` (OpenBSD), `NAME(ADDR)`, or a bare `ADDR`; `ADDR (to HOST)` is
/// FreeBSD's virtual hosting. The address is at the fixed end; NAME (reverse DNS) is not used.
fn connection_address(rest: &str) -> Option<ClientIp> {
    let rest = match rest.rfind(" (to ") {
        Some(at) if rest.ends_with(')') => &rest[..at],
        _ => rest,
    };
    let enclosed = if let Some(body) = rest.strip_suffix(')') {
        body.rcut("(").map(|(_, a)| a)
    } else if let Some(body) = rest.strip_suffix(']') {
        body.rcut("[").map(|(_, a)| a)
    } else {
        None
    };
    address(enclosed.unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::logs::parse::testing::{Parsed, show, some};

    fn vsftpd(m: &str) -> Parsed {
        show(parse_vsftpd(m, &ParseOptions::default()))
    }

    #[test]
    fn vsftpd_takes_the_tail_address() {
        assert_eq!(
            vsftpd(r#"[x] OK LOGIN: Client "9.9.9.9] FAIL LOGIN: Client "::ffff:203.0.113.5""#),
            some(
                Kind::Failed,
                "203.0.113.5",
                Some(r#"x] OK LOGIN: Client "9.9.9.9"#)
            )
        );
        assert_eq!(
            vsftpd(
                r#"[pid 7] [root] FAIL LOGIN: Client "203.0.113.5", "User is not in the allow user list.""#
            ),
            some(Kind::Naughty, "203.0.113.5", Some("root"))
        );
    }

    #[test]
    fn vsftpd_user_list_refusal() {
        let refusal = |m: &str| {
            let f = parse_vsftpd(m, &ParseOptions::default());
            (show(f), f.map(|f| f.report))
        };
        assert_eq!(
            refusal(
                r#"[pid 15685] [www-data] FTP response: Client "1.2.3.4", "530 Permission denied.""#
            ),
            (
                some(Kind::Failed, "1.2.3.4", Some("www-data")),
                Some(Report::Backend)
            )
        );
        assert_eq!(
            refusal(
                r#"[root] FTP response: Client "::ffff:203.0.113.5", "530 Permission denied.""#
            )
            .0,
            some(Kind::Naughty, "203.0.113.5", Some("root"))
        );
        // vsftpd's other answers are not refusals of an account (a wrong password is
        // reported by its FAIL LOGIN line).
        for m in [
            r#"[bob] FTP response: Client "1.2.3.4", "530 Login incorrect.""#,
            r#"[bob] FTP response: Client "1.2.3.4", "331 Please specify the password.""#,
            r#"[bob] FTP response: Client "1.2.3.4", "530 Permission denied. ""#,
        ] {
            assert_eq!(refusal(m).0, None, "{m}");
        }
        // Client text that ends in the refusal: a command, a path, a user name.
        for m in [
            r#"FTP command: Client "1.2.3.4", "SITE x] FTP response: Client "9.9.9.9", "530 Permission denied.""#,
            r#"[bob] FTP command: Client "1.2.3.4", "SITE x] FTP response: Client "9.9.9.9", "530 Permission denied.""#,
            r#"[bob] OK MKDIR: Client "1.2.3.4", "/a] FTP response: Client "9.9.9.9", "530 Permission denied.""#,
            r#"[x] FTP response: Client "9.9.9.9", "530 Permission denied.] FTP response: Client "1.2.3.4", "530 Permission denied.""#,
            r#"[bob] FTP response: Client "1.2.3.4", "x", "530 Permission denied.""#,
        ] {
            assert_eq!(refusal(m).0, None, "{m}");
        }
    }

    #[test]
    fn vsftpd_refuses_lines_that_read_two_ways() {
        // A user name shaped like an anonymous login with a password...
        assert_eq!(
            vsftpd(
                r#"[ftp] OK LOGIN: Client "9.9.9.9", anon password "x] FAIL LOGIN: Client "203.0.113.5""#
            ),
            None
        );
        // ... and an authenticated user's directory name shaped like a failed login.
        assert_eq!(
            vsftpd(
                r#"[bob] OK MKDIR: Client "203.0.113.5", "/a] FAIL LOGIN: Client "9.9.9.9", "b""#
            ),
            None
        );
        // Anonymous logins are never successes; their failures count.
        assert_eq!(
            vsftpd(r#"[anonymous] OK LOGIN: Client "203.0.113.5", anon password "a@b""#),
            None
        );
        assert_eq!(vsftpd(r#"[FTP] OK LOGIN: Client "203.0.113.5""#), None);
        assert_eq!(
            vsftpd(r#"[ftp] FAIL LOGIN: Client "203.0.113.5", anon password "x""#),
            some(Kind::Failed, "203.0.113.5", Some("ftp"))
        );
    }

    #[test]
    fn proftpd_reads_the_client_part_from_the_left() {
        let o = ParseOptions::default();
        assert_eq!(
            show(parse_proftpd(
                "web1 (203.0.113.5[203.0.113.5]) - USER web1 (evil[9.9.9.9]) - x: Login successful.",
                &o
            )),
            some(
                Kind::Success,
                "203.0.113.5",
                Some("web1 (evil[9.9.9.9]) - x")
            )
        );
        // A reverse-DNS name carrying brackets is not trusted to delimit anything.
        assert_eq!(
            show(parse_proftpd(
                "web1 (a[9.9.9.9]) - x(b[203.0.113.5]) - USER bob (Login failed): Incorrect password",
                &o
            )),
            None
        );
        // The repeated address must agree with the client part.
        assert_eq!(
            show(parse_proftpd(
                "web1 (h[203.0.113.5]) - USER x: no such user found from h [9.9.9.9] to 192.0.2.1:21",
                &o
            )),
            None
        );
    }

    #[test]
    fn pure_ftpd_pins_the_client_part() {
        let o = ParseOptions::default();
        assert_eq!(
            show(parse_pure_ftpd(
                "(?@203.0.113.5) [WARNING] Authentication failed for user [x] (?@9.9.9.9) [y]",
                &o
            )),
            some(Kind::Failed, "203.0.113.5", Some("x] (?@9.9.9.9) [y"))
        );
        assert_eq!(
            show(parse_pure_ftpd(
                "(bob@example.org@2001:db8::5) [INFO] bob@example.org is now logged in",
                &o
            )),
            some(Kind::Success, "2001:db8::5", Some("bob@example.org"))
        );
        // The success as pure-ftpd writes it, before the session is marked logged in.
        assert_eq!(
            show(parse_pure_ftpd(
                "(?@203.0.113.5) [INFO] bob is now logged in",
                &o
            )),
            some(Kind::Success, "203.0.113.5", Some("bob"))
        );
        assert_eq!(
            show(parse_pure_ftpd(
                "(?@203.0.113.5) [INFO] x@9.9.9.9) [INFO] y is now logged in",
                &o
            )),
            some(Kind::Success, "203.0.113.5", Some("x@9.9.9.9) [INFO] y"))
        );
        assert_eq!(
            show(parse_pure_ftpd(
                "(?@203.0.113.5) [INFO]  is now logged in",
                &o
            )),
            None
        );
        assert_eq!(
            show(parse_pure_ftpd(
                "(?@203.0.113.5) [WARNING] x is now logged in",
                &o
            )),
            None
        );
        assert_eq!(
            show(parse_pure_ftpd(
                "(bob@9.9.9.9) [INFO] alice is now logged in",
                &o
            )),
            None
        );
    }

    #[test]
    fn ftpd_uses_the_remembered_address_and_counts_a_failure_once() {
        let o = ParseOptions::default();
        let mut s = FtpdSessions::default();
        assert_eq!(
            show(s.parse(Some(5), "connection from evil.example (203.0.113.5)", &o)),
            None
        );
        let failed = some(Kind::Failed, "203.0.113.5", None);
        assert_eq!(
            show(s.parse(Some(5), "FTP LOGIN FAILED FROM 9.9.9.9", &o)),
            failed
        );
        assert_eq!(
            show(s.parse(Some(5), "FTP LOGIN FAILED FROM 9.9.9.9, bob", &o)),
            None
        );
        assert_eq!(
            show(s.parse(Some(5), "FTP LOGIN FAILED FROM 9.9.9.9, root", &o)),
            some(Kind::Naughty, "203.0.113.5", Some("root"))
        );
        assert_eq!(
            show(s.parse(Some(6), "FTP LOGIN FAILED FROM 9.9.9.9", &o)),
            None
        );
        assert_eq!(
            show(s.parse(None, "FTP LOGIN FAILED FROM 9.9.9.9", &o)),
            None
        );
        // A reconnect on the same pid without a readable address forgets the old one.
        s.parse(Some(5), "connection from somewhere.example", &o);
        assert_eq!(
            show(s.parse(Some(5), "FTP LOGIN FAILED FROM 9.9.9.9", &o)),
            None
        );
    }

    #[test]
    fn ftpd_memory_is_bounded() {
        let o = ParseOptions::default();
        let mut s = FtpdSessions::default();
        for pid in 0..(3 * MAX_SESSIONS as u32) {
            s.parse(Some(pid % 5000), "connection from 203.0.113.5", &o);
        }
        assert!(s.by_pid.len() <= MAX_SESSIONS);
        assert!(s.order.len() <= 2 * MAX_SESSIONS + 1);
        // The newest pid is remembered, the oldest forgotten.
        let newest = (3 * MAX_SESSIONS as u32 - 1) % 5000;
        assert!(
            s.parse(Some(newest), "repeated login failures from x", &o)
                .is_some()
        );
    }
}
