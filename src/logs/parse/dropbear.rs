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
authentication attempts exceeded"); a plain `Exit before auth from <ADDR>: Exited normally`
is no evidence (every session that fails or drops before login ends that way, and its
attempts were already counted on their own lines); `Pubkey auth succeeded ... , extra auth
required` is not a login.
*/

use super::lex::failure_kind;
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::Kind;

/// Recognises one dropbear message.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let message = strip_own_stamp(message);
    // Old releases start their messages in lower case.
    let (first, rest) = (message.get(..1)?, message.get(1..)?);
    match first {
        "B" | "b" => {
            let (user, ip) = quoted_user_from(rest.strip_prefix("ad password attempt for '")?)?;
            Some(Finding::new(
                failure_kind(Some(user), options),
                ip,
                Some(user),
            ))
        }
        "L" | "l" => {
            let rest = rest.strip_prefix("ogin attempt for nonexistent user")?;
            // The only line here whose client text comes before the address: one longer
            // than dropbear can write it was cut by a relay and may end in the client's text.
            if message.len() > MAX_NONEXISTENT_LINE {
                return None;
            }
            let (user, addr) = rest.rsplit_once(" from ")?;
            // Newer releases name the user: ` 'x'`; older ones do not.
            let user = match user {
                "" => None,
                quoted => Some(quoted.strip_prefix(" '")?.strip_suffix('\'')?),
            };
            Some(Finding::new(Kind::Naughty, host_port(addr)?, user))
        }
        "P" | "p" => {
            if let Some(rest) = rest.strip_prefix("assword auth succeeded for '") {
                let (user, ip) = quoted_user_from(rest)?;
                return Some(Finding::new(Kind::Success, ip, Some(user)));
            }
            // `Pubkey auth succeeded for 'bob' with [ssh-ed25519 ]key FINGERPRINT from ADDR:PORT`
            let rest = rest.strip_prefix("ubkey auth succeeded for '")?;
            let (head, addr) = rest.rsplit_once(" from ")?;
            // The user is a real account (no quote); the key text is dropbear's.
            let (user, _) = head.split_once("' with ")?;
            Some(Finding::new(Kind::Success, host_port(addr)?, Some(user)))
        }
        "E" => exit_before_auth(rest.strip_prefix("xit before auth")?),
        _ => None,
    }
}

/// Some setups log dropbear's own stderr format: `[825] Jul 10 23:53:52 Bad password ...`.
fn strip_own_stamp(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix('[')
        && let Some((pid, rest)) = rest.split_once("] ")
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
    let (user, addr) = rest.rsplit_once("' from ")?;
    Some((user, host_port(addr)?))
}

/// `ADDR:PORT`, the address possibly in brackets.
fn host_port(text: &str) -> Option<ClientIp> {
    let (host, port) = text.rsplit_once(':')?;
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

/// What follows `Exit before auth`; only the "Max auth tries" exits are evidence.
fn exit_before_auth(rest: &str) -> Option<Finding<'_>> {
    if let Some(rest) = rest.strip_prefix(" from <") {
        // 2019+: ` from <ADDR:PORT>: [(user 'x', N fails): ]EXITMSG`, address first.
        let (addr, exit) = rest.split_once(">: ")?;
        let user = max_tries_user(exit)?;
        return Some(Finding::new(Kind::Naughty, host_port(addr)?, user));
    }
    // Older: `[ (user 'x', N fails)]: Max auth tries reached - user 'x' from ADDR:PORT`.
    let (exit, addr) = rest.rsplit_once(" from ")?;
    let exit = exit.strip_prefix(": ").unwrap_or(exit);
    let user = max_tries_user(exit.strip_prefix(' ').unwrap_or(exit))?;
    Some(Finding::new(Kind::Naughty, host_port(addr)?, user))
}

/// `[(user 'x', N fails): ]Max auth tries reached - user 'x'`: the user, or None for
/// `'is invalid'`. The two names must agree, so neither can hide the other's end.
fn max_tries_user(exit: &str) -> Option<Option<&str>> {
    let exit = exit.strip_suffix('\'')?;
    let (prefix, user) = exit.rsplit_once(MAX_TRIES)?;
    if !prefix.is_empty() {
        let (who, fails) = prefix.strip_prefix("(user '")?.rsplit_once("', ")?;
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
