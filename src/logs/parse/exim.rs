/*!
exim's SMTP AUTH failures (exim 4.x, `smtp_in.c`). See the rules in `parse/mod.rs`.

`NAME authenticator failed for HOST: 535 Incorrect authentication data[ (set_id=USER)]`,
where HOST is exim's `host_and_ident()`: the sender's "full host" (`host.c`), then
` I=[ADDR]:PORT` with `log_selector = +incoming_interface`, then ` U=IDENT` when an RFC 1413
ident was asked for. The full host is one of `[ADDR]`, `(HELO) [ADDR]`, `NAME [ADDR]` and
`NAME (HELO) [ADDR]`, each `[ADDR]` followed by `:PORT` with `+incoming_port`.

Where the attacker writes: HELO is the client's (exim logs it even when it equals the
address: `([203.0.113.5]) [198.51.100.7]`), and so are IDENT and USER. exim refuses a
HELO that is not a domain name or an address literal unless `helo_accept_junk_hosts`
says otherwise, so the client part is read from the left, each piece in its exact
shape: a HELO that is neither (junk accepted) makes the line unreadable, never misread.
The address is the first bracket after the name and HELO, and everything from the reply
on comes after it, so a long USER cannot push the address out of the line.

Other replies (`435 Unable to authenticate at present`, `501 Authentication cancelled`,
`553 Initial data not expected`, `435 Internal error`) are the server's trouble or the
client giving up, not a wrong password: no evidence.

exim writes the same message to its main log with its own prefix (`2026-11-24 10:00:00
[PID] `, which `header` reads), and to syslog with the timestamp still in front
(`syslog_timestamp` is true by default), which is taken off here. A message too long for
syslog goes out in pieces tagged `[1/2] `, `[2/2] `: none is read (a set_id could otherwise
start a piece with an authenticator line of its own).
*/

use super::lex::{failure_kind, is_host_name};
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;

/// The reply exim logs for a wrong password (`FAIL` from the authenticator).
const WRONG_PASSWORD: &str = "535 Incorrect authentication data";

/// Recognises one exim message.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let message = strip_own_prefix(message);
    let (name, rest) = message.split_once(" authenticator failed for ")?;
    // The authenticator's name from the admin's configuration: letters, digits, `_`.
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    let (ip, rest) = full_host(rest)?;
    let rest = skip_interface(rest)?;
    let rest = skip_ident(rest)?;
    let reply = rest.strip_prefix(": ")?.strip_prefix(WRONG_PASSWORD)?;
    let user = match reply {
        "" => None,
        // `string_printing()` escapes what is not printable; the name runs to the `)`
        // that ends the line.
        _ => Some(reply.strip_prefix(" (set_id=")?.strip_suffix(')')?),
    };
    Some(Finding::new(failure_kind(user, options), ip, user))
}

/// `2026-11-24 10:00:00[.123][ +0100] ` and `[PID] ` before a message exim sent to syslog.
fn strip_own_prefix(message: &str) -> &str {
    let mut rest = message;
    if let Some((date, after)) = rest.split_once(' ')
        && is_date(date)
        && let Some((time, after)) = after.split_once(' ')
        && is_time(time)
    {
        rest = after;
        if let Some((zone, after)) = rest.split_once(' ')
            && zone.len() == 5
            && zone.starts_with(['+', '-'])
            && zone[1..].bytes().all(|b| b.is_ascii_digit())
        {
            rest = after;
        }
    }
    if let Some((pid, after)) = rest.strip_prefix('[').and_then(|r| r.split_once("] "))
        && !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
    {
        rest = after;
    }
    rest
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// `HH:MM:SS` with `log_selector = +millisec`'s `.mmm`.
fn is_time(text: &str) -> bool {
    let (hms, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let b = hms.as_bytes();
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
        && !fraction.is_empty()
        && fraction.bytes().all(|c| c.is_ascii_digit())
}

/// `[NAME ][(HELO) ][ADDR][:PORT]` → the address and what follows.
fn full_host(text: &str) -> Option<(ClientIp, &str)> {
    let mut rest = text;
    // A verified host name (exim looked it up and checked it resolves back).
    if !rest.starts_with(['(', '['])
        && let Some((name, after)) = rest.split_once(' ')
    {
        if !is_host_name(name) {
            return None;
        }
        rest = after;
    }
    if let Some(helo) = rest.strip_prefix('(') {
        let (helo, after) = helo.split_once(") ")?;
        if !(is_host_name(helo) || is_address_literal(helo)) {
            return None;
        }
        rest = after;
    }
    let (addr, after) = rest.strip_prefix('[')?.split_once(']')?;
    let ip = address(addr)?;
    Some((ip, skip_port(after)))
}

/// A HELO address literal exim accepts: `[ADDR]`, `[IPv6:ADDR]`, `[IPv4:ADDR]`.
fn is_address_literal(helo: &str) -> bool {
    helo.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|inner| {
            let inner = inner
                .strip_prefix("IPv6:")
                .or_else(|| inner.strip_prefix("IPv4:"))
                .unwrap_or(inner);
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':'))
        })
}

/// `:PORT` after a bracketed address, if there.
fn skip_port(text: &str) -> &str {
    match text.strip_prefix(':') {
        Some(port) if port.starts_with(|c: char| c.is_ascii_digit()) => {
            port.trim_start_matches(|c: char| c.is_ascii_digit())
        }
        _ => text,
    }
}

/// ` I=[ADDR]:PORT`, the interface the client connected to (exim's own).
fn skip_interface(text: &str) -> Option<&str> {
    let Some(iface) = text.strip_prefix(" I=[") else {
        return Some(text);
    };
    let (addr, after) = iface.split_once(']')?;
    address(addr)?;
    Some(skip_port(after))
}

/// ` U=IDENT`: the client's ident daemon names it, so only one plain word is read past
/// (what follows is then the reply, whatever the ident said, and the address is already
/// read: an ident can only misstate the client's own reply).
fn skip_ident(text: &str) -> Option<&str> {
    let Some(ident) = text.strip_prefix(" U=") else {
        return Some(text);
    };
    let end = ident.find(": ")?;
    let word = &ident[..end];
    (!word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')))
    .then_some(&ident[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Kind;
    use crate::logs::parse::testing::{show, some};

    #[test]
    fn exims_own_log_lines_have_their_zone_and_pid() {
        use crate::logs::header::{Clock, split};
        let mut clock = Clock::new(1_795_608_000);
        let own = split("2026-11-24 10:00:00 +0100 [7] x y", &mut clock).expect("exim");
        assert_eq!(
            (own.program, own.pid, own.message),
            ("exim", Some(7), "x y")
        );
        let utc = split("2026-11-24T09:00:00Z host exim[7]: x y", &mut clock).expect("syslog");
        assert_eq!(own.time, utc.time);
        // A syslog line in the same shape stays a syslog line.
        let syslog = split("2026-11-24 10:00:00 host sshd[1]: x", &mut clock).expect("syslog");
        assert_eq!(syslog.program, "sshd");
    }

    #[test]
    fn the_client_is_read_from_the_left() {
        let o = ParseOptions::default();
        let p = |m| show(parse(m, &o));
        assert_eq!(
            p(
                "plain authenticator failed for ([203.0.113.9]) [198.51.100.7]:4022: \
               535 Incorrect authentication data (set_id=bob)"
            ),
            some(Kind::Failed, "198.51.100.7", Some("bob"))
        );
        // A HELO that is neither a name nor an address literal: not read.
        assert_eq!(
            p(
                "plain authenticator failed for (x) [203.0.113.9]) [198.51.100.7]: \
               535 Incorrect authentication data"
            ),
            None
        );
        assert_eq!(
            p(
                "login authenticator failed for mx.example.org [2001:db8::7] U=joe: \
               535 Incorrect authentication data (set_id=root)"
            ),
            some(Kind::Naughty, "2001:db8::7", Some("root"))
        );
        assert_eq!(
            p(
                "login authenticator failed for [198.51.100.7]: 435 Unable to authenticate \
               at present (set_id=bob): 535 Incorrect authentication data"
            ),
            None
        );
    }
}
