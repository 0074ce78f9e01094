/*!
exim's SMTP AUTH failures and protocol probes (exim 4.x, `smtp_in.c`). See the rules in `parse/mod.rs`.

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

Clients that break the protocol (all probes: no password was checked) are read from
`smtp_in.c`'s rejections, each with `host_and_ident()` as above (`H=` in front where exim
writes it):
- `SMTP protocol error in "CMD" H=CLIENT AUTH command used when not advertised` (with
  `log_selector = +smtp_protocol_error`): a client authenticating where exim offered no
  AUTH (Debian offers it only after STARTTLS), which bots do blindly. CMD is the client's
  command line, quotes unescaped; it must be `AUTH MECH[ BASE64]` exactly, so that its end
  is the first `" H=`. A probe, not a failure: a misconfigured mail client does the same
  on every retry, and no password was tried. So is `... H=CLIENT MECH authentication
  mechanism not supported` (a mechanism exim does not offer), MECH the command's own.
- `SMTP protocol synchronization error (input sent without waiting for greeting):
  rejected connection from H=CLIENT input="INPUT"`: the client comes first.
- `SMTP protocol synchronization error (next input sent too soon: pipelining was[ not]
  advertised): rejected "CMD" H=CLIENT next input="INPUT"`: both CMD (raw) and INPUT
  (150 bytes, non-printables escaped, quotes not) are the client's, on both sides of the
  address. Read only when the line holds exactly exim's four quotes (neither part then
  holds one, so the parts are where they seem) and is under 1 KiB (a command of up to
  16 KiB could otherwise pad the line to exim's log buffer and have it cut right after a
  fake tail; the same cut by busybox syslogd's 256 bytes cannot be told apart).
- `SMTP call from CLIENT dropped: too many nonmail commands (last was "VERB")`, `... too
  many unrecognized commands (last was "CMD")` and `... too many syntax or protocol
  errors (last command was "CMD"[, C=...])`: the client comes first.

Relay and sender-verify rejections (`rejected RCPT`) are not brute force and not read; nor
are a log summariser's `...: N Time(s)` lines.

exim writes the same message to its main log with its own prefix (`2026-11-24 10:00:00
[PID] `, which `header` reads), and to syslog with the timestamp still in front
(`syslog_timestamp` is true by default), which is taken off here. A message too long for
syslog goes out in pieces tagged `[1/2] `, `[2/2] `: none is read (a set_id could otherwise
start a piece with an authenticator line of its own).
*/

use super::lex::Cut;
use super::lex::{failure_kind, is_host_name};
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::Kind;

/// The reply exim logs for a wrong password (`FAIL` from the authenticator).
const WRONG_PASSWORD: &str = "535 Incorrect authentication data";

/// Recognises one exim message.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let message = strip_own_prefix(message);
    if let Some(rest) = message.strip_prefix("SMTP ") {
        return protocol_probe(rest).map(|ip| Finding::new(Kind::Probe, ip, None));
    }
    let (name, rest) = message.cut(" authenticator failed for ")?;
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
    let rest = skip_ident(rest, ": ")?;
    let reply = rest.strip_prefix(": ")?.strip_prefix(WRONG_PASSWORD)?;
    let user = match reply {
        "" => None,
        // `string_printing()` escapes what is not printable; the name runs to the `)`
        // that ends the line.
        _ => Some(reply.strip_prefix(" (set_id=")?.strip_suffix(')')?),
    };
    Some(Finding::new(failure_kind(user, options), ip, user))
}

/// The greeting-sync rejection's fixed text, up to the client.
const EARLY_INPUT: &str = "protocol synchronization error (input sent without waiting for \
                           greeting): rejected connection from H=";
/// The pipelining-sync rejection's fixed text, up to the command (`was` or `was not`).
const SENT_TOO_SOON: [&str; 2] = [
    "protocol synchronization error (next input sent too soon: pipelining was advertised): \
     rejected \"",
    "protocol synchronization error (next input sent too soon: pipelining was not \
     advertised): rejected \"",
];
/// The unadvertised-AUTH protocol error's fixed text, up to the command.
const PROTOCOL_ERROR: &str = "protocol error in \"";
const AUTH_UNADVERTISED: &str = " AUTH command used when not advertised";
const MECHANISM_UNSUPPORTED: &str = " authentication mechanism not supported";
/// A pipelining-sync line this long or longer is not read: its command is the client's,
/// unescaped and up to 16 KiB, so a longer one may have been cut where the client chose.
const SENT_TOO_SOON_CAP: usize = 1024;

/// exim's rejections of clients that broke the protocol (`smtp_in.c`), all after `SMTP `:
/// the address of a probe, or None. Read as the module's header says.
fn protocol_probe(rest: &str) -> Option<ClientIp> {
    if let Some(rest) = rest.strip_prefix(EARLY_INPUT) {
        // `%s input="%s"`: the client first, then its input to the end.
        let (ip, rest) = client(rest, " input=\"")?;
        return (rest.len() > " input=\"".len() && rest.ends_with('"')).then_some(ip);
    }
    if let Some(rest) = SENT_TOO_SOON.iter().find_map(|p| rest.strip_prefix(p)) {
        return sent_too_soon(rest);
    }
    if let Some(rest) = rest.strip_prefix(PROTOCOL_ERROR) {
        // `"%s" %s %s`: the command, the client, the error; only the AUTH error is read,
        // and the command must be AUTH in its exact shape, so that its closing quote is
        // the first one.
        let (command, rest) = rest.cut("\" H=")?;
        if !is_auth_command(command) {
            return None;
        }
        if let Some((ip, rest)) = client(rest, AUTH_UNADVERTISED) {
            return (rest == AUTH_UNADVERTISED).then_some(ip);
        }
        // `%s authentication mechanism not supported`: the command's own mechanism, which
        // exim checked to be letters, digits, `-` and `_` first.
        let mechanism = command.split(' ').nth(1)?;
        let unsupported = format!(" {mechanism}{MECHANISM_UNSUPPORTED}");
        let (ip, rest) = client(rest, &unsupported)?;
        return (rest == unsupported).then_some(ip);
    }
    let rest = rest.strip_prefix("call from ")?;
    // `%s dropped: too many ...`: host_and_ident without `H=`.
    let (ip, rest) = client(rest, " dropped: ")?;
    let reason = rest.strip_prefix(" dropped: too many ")?;
    let complete = if let Some(last) = reason
        .strip_prefix("nonmail commands (last was \"")
        .or_else(|| reason.strip_prefix("unrecognized commands (last was \""))
    {
        last.ends_with("\")")
    } else {
        // `(last command was "%s")`, since 4.8x `(last command was "%s", C=...)`.
        let last = reason.strip_prefix("syntax or protocol errors (last command was \"")?;
        last.ends_with(')')
    };
    complete.then_some(ip)
}

/// `CMD" H=CLIENT next input="INPUT"` after `rejected "`: CMD (raw) and INPUT are the
/// client's and neither has its quotes escaped, so the line is read only when it holds
/// exactly the four quotes exim wrote and is shorter than any cut.
fn sent_too_soon(rest: &str) -> Option<ClientIp> {
    if rest.len() >= SENT_TOO_SOON_CAP || rest.bytes().filter(|&b| b == b'"').count() != 3 {
        return None;
    }
    let (_command, rest) = rest.cut("\" H=")?;
    let (ip, rest) = client(rest, " next input=\"")?;
    let input = rest.strip_prefix(" next input=\"")?.strip_suffix('"')?;
    (!input.is_empty()).then_some(ip)
}

/// `AUTH MECH[ INITIAL]` as a client sends it: a mechanism word and base64.
fn is_auth_command(command: &str) -> bool {
    let mut words = command.split(' ');
    let verb = words.next().unwrap_or("");
    let mechanism = words.next().unwrap_or("");
    let initial = words.next();
    verb.eq_ignore_ascii_case("AUTH")
        && !mechanism.is_empty()
        && mechanism
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && initial.is_none_or(|i| {
            !i.is_empty()
                && i.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        })
        && words.next().is_none()
}

/// exim's `host_and_ident()` after its `H=`: the full host, ` I=[ADDR]:PORT`, ` U=IDENT`,
/// then `end` (which the rest starts with).
fn client<'t>(text: &'t str, end: &str) -> Option<(ClientIp, &'t str)> {
    let (ip, rest) = full_host(text)?;
    let rest = skip_interface(rest)?;
    let rest = skip_ident(rest, end)?;
    rest.starts_with(end).then_some((ip, rest))
}

/// `2026-11-24 10:00:00[.123][ +0100] ` and `[PID] ` before a message exim sent to syslog.
fn strip_own_prefix(message: &str) -> &str {
    let mut rest = message;
    if let Some((date, after)) = rest.cut(" ")
        && is_date(date)
        && let Some((time, after)) = after.cut(" ")
        && is_time(time)
    {
        rest = after;
        if let Some((zone, after)) = rest.cut(" ")
            && zone.len() == 5
            && zone.starts_with(['+', '-'])
            && zone[1..].bytes().all(|b| b.is_ascii_digit())
        {
            rest = after;
        }
    }
    if let Some((pid, after)) = rest.strip_prefix('[').and_then(|r| r.cut("] "))
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
    let (hms, fraction) = text.cut(".").unwrap_or((text, "0"));
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
        && let Some((name, after)) = rest.cut(" ")
    {
        if !is_host_name(name) {
            return None;
        }
        rest = after;
    }
    if let Some(helo) = rest.strip_prefix('(') {
        let (helo, after) = helo.cut(") ")?;
        if !(is_host_name(helo) || is_address_literal(helo)) {
            return None;
        }
        rest = after;
    }
    let (addr, after) = rest.strip_prefix('[')?.cut("]")?;
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
    let (addr, after) = iface.cut("]")?;
    address(addr)?;
    Some(skip_port(after))
}

/// ` U=IDENT`: the client's ident daemon names it, so only one plain word is read past,
/// up to the first `end` (what follows is then the reply, whatever the ident said, and the address is already
/// read: an ident can only misstate the client's own reply).
fn skip_ident<'t>(text: &'t str, end: &str) -> Option<&'t str> {
    let Some(ident) = text.strip_prefix(" U=") else {
        return Some(text);
    };
    let end = ident.find(end)?;
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
    fn a_pipelining_rejection_is_read_only_short_and_with_four_quotes() {
        let o = ParseOptions::default();
        let line = |command: &str| {
            format!(
                "SMTP protocol synchronization error (next input sent too soon: pipelining \
                 was not advertised): rejected \"{command}\" H=[203.0.113.7]:1 next \
                 input=\"QUIT\\r\\n\""
            )
        };
        let short = line(&"a".repeat(900));
        assert_eq!(
            show(parse(&short, &o)),
            some(Kind::Probe, "203.0.113.7", None)
        );
        assert_eq!(show(parse(&line(&"a".repeat(1000)), &o)), None);
        assert_eq!(show(parse(&line("RSET\" x"), &o)), None);
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
