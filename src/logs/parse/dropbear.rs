/*!
dropbear: password and public-key verdicts, nonexistent users, and the "Max auth tries" exit.
See the rules in `parse/mod.rs`.

Dropbear prints the client as `ADDR:PORT` (`::ffff:a.b.c.d:PORT` for IPv4 on an IPv6 socket,
`2001:db8::1:PORT` or `[2001:db8::1]:PORT` for IPv6): the port is always there, so the address
is what precedes the last `:`.

Where the attacker writes: the quoted user name (`'x from 9.9.9.9:22'` is a valid one for a
nonexistent user; at most 100 bytes, unescaped). The other lines name a real account. Every line read here ends with ` from ADDR:PORT`, printed last by dropbear,
so the address is taken from the end of the message (after the last ` from `), never from
the left. The newer exit lines put the address first, `Exit before auth from <ADDR:PORT>: `,
before any client text, and are read from the left.

Decisions: `Exit before auth ... Max auth tries reached` is naughty (like sshd's "maximum
authentication attempts exceeded"); `Exit before auth from <ADDR>: (user 'x', N fails): ...`
sums up N failures, which count only beyond the `Bad password` lines of the same process
(`Report::Summary`); a plain `Exit before auth from <ADDR>: Exited normally` (no user, no
failure) is no evidence; `Pubkey auth succeeded ... , extra auth required` is not a login.
*/

use super::lex::Cut;
use super::lex::failure_kind;
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::{Kind, Report};

/// Recognises one dropbear message.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let message = strip_own_stamp(message);
    // Old releases start their messages in lower case.
    let (first, rest) = (message.get(..1)?, message.get(1..)?);
    match first {
        "B" | "b" => {
            // svr-authpasswd.c, or svr-authpam.c (`bad PAM password attempt`, also after
            // a failed `pam_acct_mgmt`): one attempt each.
            let rest = (rest.strip_prefix("ad password attempt for '"))
                .or_else(|| rest.strip_prefix("ad PAM password attempt for '"))?;
            let (user, ip) = quoted_user_from(rest)?;
            let kind = failure_kind(Some(user), options);
            Some(Finding::new(kind, ip, Some(user)).reported_as(Report::AuthResult, 1))
        }
        "L" | "l" => {
            let rest = rest.strip_prefix("ogin attempt for nonexistent user")?;
            // The only line here whose client text comes before the address: one longer
            // than dropbear can write it was cut by a relay and may end in the client's text.
            if message.len() > MAX_NONEXISTENT_LINE {
                return None;
            }
            let (user, addr) = rest.rcut(" from ")?;
            // Newer releases name the user: ` 'x'`; older ones do not.
            let user = match user {
                "" => None,
                quoted => Some(quoted.strip_prefix(" '")?.strip_suffix('\'')?),
            };
            Some(Finding::new(Kind::Naughty, host_port(addr)?, user))
        }
        "P" | "p" => {
            let pam = rest.strip_prefix("AM password auth succeeded for '");
            if let Some(rest) = pam.or_else(|| rest.strip_prefix("assword auth succeeded for '")) {
                let (user, ip) = quoted_user_from(rest)?;
                return Some(Finding::new(Kind::Success, ip, Some(user)));
            }
            // `Pubkey auth succeeded for 'bob' with [ssh-ed25519 ]key FINGERPRINT from ADDR:PORT`
            let rest = rest.strip_prefix("ubkey auth succeeded for '")?;
            let (head, addr) = rest.rcut(" from ")?;
            // The user is a real account (no quote); the key text is dropbear's.
            let (user, _) = head.cut("' with ")?;
            Some(Finding::new(Kind::Success, host_port(addr)?, Some(user)))
        }
        "E" => exit_before_auth(rest.strip_prefix("xit before auth")?, options),
        _ => None,
    }
}

/// Some setups log dropbear's own stderr format: `[825] Jul 10 23:53:52 Bad password ...`.
fn strip_own_stamp(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix('[')
        && let Some((pid, rest)) = rest.cut("] ")
        && !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && let Some(stamp) = rest.as_bytes().get(..16)
        && stamp[3] == b' '
        && stamp[6] == b' '
        && stamp[9] == b':'
        && stamp[12] == b':'
        && stamp[15] == b' '
    {
        return &rest[16..];
    }
    message
}

/// `USER' from ADDR:PORT` at the end of the message.
fn quoted_user_from(rest: &str) -> Option<(&str, ClientIp)> {
    let (user, addr) = rest.rcut("' from ")?;
    Some((user, host_port(addr)?))
}

/// `ADDR:PORT`, the address possibly in brackets.
fn host_port(text: &str) -> Option<ClientIp> {
    let (host, port) = text.rcut(":")?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    address(host)
}

const MAX_TRIES: &str = "Max auth tries reached - user '";

/// dropbear formats a message into `printbuf[1024]`, but a user name longer than
/// `MAX_USERNAME_LEN` (100) is refused before anything is logged, so the longest
/// `Login attempt for nonexistent user 'NAME' from ADDR:PORT` is 36 + 100 + 7 + 47
/// (`[IPv6]:65535`) bytes. Longer means a relay (busybox syslogd reads 256-byte datagrams)
/// cut a line the client padded, and what ends it is the client's.
const MAX_NONEXISTENT_LINE: usize = 36 + 100 + 7 + 47;

/// What follows `Exit before auth`: the session's end, a summary of it. "Max auth tries"
/// is naughty (one, at least); `(user 'x', N fails)` says the account failed N times, a
/// floor under the `Bad password` lines of the same process.
fn exit_before_auth<'a>(rest: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if let Some(rest) = rest.strip_prefix(" from <") {
        // 2019+: ` from <ADDR:PORT>: [(user 'x', N fails): ]EXITMSG`, address first.
        let (addr, exit) = rest.cut(">: ")?;
        let ip = host_port(addr)?;
        if let Some(user) = max_tries_user(exit) {
            let f = Finding::new(Kind::Naughty, ip, user);
            return Some(f.reported_as(Report::Summary, 1));
        }
        let (user, fails) = user_fails(exit)?;
        let f = Finding::new(failure_kind(Some(user), options), ip, Some(user));
        return Some(f.reported_as(Report::Summary, fails));
    }
    // Older: `[ (user 'x', N fails)]: Max auth tries reached - user 'x' from ADDR:PORT`.
    let (exit, addr) = rest.rcut(" from ")?;
    let exit = exit.strip_prefix(": ").unwrap_or(exit);
    let user = max_tries_user(exit.strip_prefix(' ').unwrap_or(exit))?;
    Some(Finding::new(Kind::Naughty, host_port(addr)?, user).reported_as(Report::Summary, 1))
}

/// The most failures one exit line stands for (dropbear's `-T` allows up to
/// MAX_AUTH_TRIES, 10 by default).
const MAX_FAILS: u32 = 100;

/// `(user 'x', N fails): EXITMSG` with N > 0: the account and N. dropbear names only an
/// account that exists here (`pw_name`), so the name holds no `', `.
fn user_fails(exit: &str) -> Option<(&str, u32)> {
    let (user, rest) = exit.strip_prefix("(user '")?.cut("', ")?;
    let (n, _) = rest.cut(" fails): ")?;
    if user.is_empty() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = n.parse().ok()?;
    (n > 0).then_some((user, n.min(MAX_FAILS)))
}

/// `[(user 'x', N fails): ]Max auth tries reached - user 'x'`: the user, or None for
/// `'is invalid'`. The two names must agree, so neither can hide the other's end.
fn max_tries_user(exit: &str) -> Option<Option<&str>> {
    let exit = exit.strip_suffix('\'')?;
    let (prefix, user) = exit.rsplit_once(MAX_TRIES)?;
    if !prefix.is_empty() {
        let (who, fails) = prefix.strip_prefix("(user '")?.rcut("', ")?;
        let n = fails.strip_suffix(" fails): ")?;
        if who != user || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    Some((user != "is invalid").then_some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::logs::parse::testing::{Parsed, show, some};

    fn parsed(message: &str) -> Parsed {
        show(parse(message, &ParseOptions::default()))
    }

    #[test]
    fn the_address_is_taken_from_the_end() {
        assert_eq!(
            parsed("Login attempt for nonexistent user 'x' from 9.9.9.9:22' from 203.0.113.5:4242"),
            some(Kind::Naughty, "203.0.113.5", Some("x' from 9.9.9.9:22"))
        );
        assert_eq!(
            parsed("Bad password attempt for 'root' from ::ffff:203.0.113.5:4242"),
            some(Kind::Naughty, "203.0.113.5", Some("root"))
        );
        assert_eq!(
            parsed("Password auth succeeded for 'bob' from 2001:db8::1:22"),
            some(Kind::Success, "2001:db8::1", Some("bob"))
        );
        assert_eq!(
            parsed("Password auth succeeded for 'bob' from [2001:db8::1]:22"),
            some(Kind::Success, "2001:db8::1", Some("bob"))
        );
    }

    #[test]
    fn a_nonexistent_user_line_longer_than_dropbear_writes_is_refused() {
        let fits = format!(
            "Login attempt for nonexistent user '{}' from 203.0.113.5:4242",
            "a".repeat(100)
        );
        assert_eq!(parsed(&fits).map(|p| p.1), Some("203.0.113.5".to_string()));
        // A relay cut the real tail; the padding ends in a fake one.
        let cut = format!(
            "Login attempt for nonexistent user '{}' from 198.51.100.17:22",
            "\\001".repeat(40)
        );
        assert_eq!(parsed(&cut), None);
    }

    #[test]
    fn partial_and_plain_exits_are_no_evidence() {
        assert_eq!(
            parsed(
                "Pubkey auth succeeded for 'bob' with ssh-ed25519 key SHA256:abc from \
                 203.0.113.5:22, extra auth required"
            ),
            None
        );
        assert_eq!(
            parsed("Exit before auth from <203.0.113.5:22>: Exited normally"),
            None
        );
        assert_eq!(
            parsed(
                "Exit before auth from <203.0.113.5:22>: (user 'bob', 10 fails): Max auth tries \
                 reached - user 'bob'"
            ),
            some(Kind::Naughty, "203.0.113.5", Some("bob"))
        );
        assert_eq!(
            parsed(
                "Exit before auth (user 'a', 1 fails): Max auth tries reached - user 'b' from 203.0.113.5:22"
            ),
            None
        );
    }
}
