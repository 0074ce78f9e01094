/*!
sendmail's SMTP AUTH failures and attack counters (8.14 to 8.18, `sendmail/srvrsmtp.c`, `LOGAUTHFAIL`). See the
rules in `parse/mod.rs`.

`QID: AUTH failure (MECH): REASON (CODE) DETAIL[, user=USER], relay=CLIENT`, logged with
`LogLevel` 9 or more (Debian's and the default `sendmail.cf`'s is 9). QID is the session's
queue id or `NOQUEUE`; REASON is Cyrus SASL's fixed `sasl_errstring()` for CODE; DETAIL
is `sasl_errdetail()`, which names the user (`checkpass failed, user=bob`); CLIENT is the
`$_` macro cut at 100 bytes: `[IDENT@]NAME [ADDR][ (may be forged)]` or `[IDENT@][ADDR]`,
IPv6 as `IPv6:ADDR`.

Where the attacker writes: DETAIL and USER (before the client) and IDENT (inside it). So
the client is the text after the *last* `, relay=`, and it must be exactly one of the
shapes above with a plain-word IDENT. A line that ends exactly 100 bytes after any
`, relay=` may have been cut there by `%.100s`, and end in an IDENT's forgery: not read. `sm_syslog` splits a message longer than its
buffer into pieces tagged `QID[1]: `, `QID[2]: `: those never match the `QID: ` here, so a
piece that ends wherever the user's text put the cut is never read.

Codes: `-13` (SASL_BADAUTH, wrong password) and `-14` (SASL_NOAUTHZ) are failures, `-20`
(SASL_NOUSER) account guessing; the rest (`-1` generic failure when saslauthd is down,
`-4` no mechanism, `-5` a client's cancel, `-8` transient) are no evidence.

Each such line is sendmail's result of one attempt (`Report::AuthResult`). With `LogLevel`
6 or more, `checksmtpattack()` also logs, once per connection, when a command's counter
reaches its limit: `QID: CLIENT: possible SMTP attack: command=CMD, count=N` (`%.100s`
client before 8.14, `%s` after; CMD is sendmail's own name for the counter). For `AUTH` the
limit is the number of mechanisms offered plus one, and every AUTH command counts: N
attempts by this connection, a summary (`Report::Summary`) that adds only what its process's
`AUTH failure` lines did not count (LogLevel 9 logs those too; below 9 it is the only line).
Other commands (`HELO/EHLO`, `VRFY`, `EXPN`, `ETRN`, `NOOP`...) are no password guessing: a
probe. The client comes before the fixed tail; it must be exactly one of the shapes above
(a plain-word IDENT, a host name), so the tail is the real one, and a cut client cannot
end in an address of its own making.
*/

use super::lex::Cut;
use super::lex::{failure_kind, is_host_name};
use super::{Finding, ParseOptions, address};
use crate::logs::{Kind, Report};

/// `%.100s`: the client text's cap.
const RELAY_CAP: usize = 100;

/// Recognises one sendmail message.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let (queue, rest) = message.cut(": ")?;
    if queue.is_empty() || !queue.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let Some(rest) = rest.strip_prefix("AUTH failure (") else {
        return possible_attack(rest);
    };
    let (mechanism, rest) = rest.cut("): ")?;
    if mechanism.is_empty()
        || !mechanism
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    // REASON is the library's text (one of them holds `(e.g., weak key)`): the code is the
    // first parenthesised number.
    let code = rest.split(" (").skip(1).find_map(|part| {
        let (code, _) = part.cut(") ")?;
        let digits = code.strip_prefix('-').unwrap_or(code);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(code)
    })?;
    let (detail, relay) = rest.rcut(", relay=")?;
    // A client text cut by `%.100s` is exactly 100 bytes long, from wherever its real
    // `relay=` was: an IDENT ending in `, relay=[ADDR]` at the cut would otherwise pass.
    if rest
        .match_indices(", relay=")
        .any(|(at, marker)| rest.len() - at - marker.len() == RELAY_CAP)
        || relay.len() >= RELAY_CAP
    {
        return None;
    }
    let ip = address(client_address(relay)?)?;
    let user = detail
        .rcut(", user=")
        .map(|(_, user)| user)
        .filter(|u| !u.is_empty());
    let kind = match code {
        "-13" | "-14" => failure_kind(user, options),
        "-20" => Kind::Naughty,
        _ => return None,
    };
    Some(Finding::new(kind, ip, user).reported_as(Report::AuthResult, 1))
}

/// `CLIENT: possible SMTP attack: command=CMD, count=N` after the queue id.
fn possible_attack(rest: &str) -> Option<Finding<'static>> {
    let (client, tail) = rest.rsplit_once(ATTACK)?;
    let (command, count) = tail.cut(", count=")?;
    // The command is sendmail's own name for its counter (`AUTH`, `HELO/EHLO`, `VRFY`...).
    if command.is_empty() || !command.bytes().all(|b| b.is_ascii_uppercase() || b == b'/') {
        return None;
    }
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count = count.parse::<u32>().ok().filter(|&n| n > 0)?;
    let ip = address(client_address(client)?)?;
    Some(match command {
        "AUTH" => Finding::new(Kind::Failed, ip, None)
            .reported_as(Report::Summary, count.min(MAX_AUTH_COUNT)),
        _ => Finding::new(Kind::Probe, ip, None),
    })
}

/// checksmtpattack()'s message after the client.
const ATTACK: &str = ": possible SMTP attack: command=";
/// The AUTH limit is the number of mechanisms plus one: a count beyond this is no
/// sendmail's.
const MAX_AUTH_COUNT: u32 = 100;

/// The address in `$_`: `[IDENT@]NAME [ADDR][ (may be forged)]` or `[IDENT@][ADDR]`.
fn client_address(relay: &str) -> Option<&str> {
    let relay = relay.strip_suffix(" (may be forged)").unwrap_or(relay);
    let relay = match relay.cut("@") {
        Some((ident, host)) if is_word(ident) => host,
        Some(_) => return None,
        None => relay,
    };
    let bracketed = match relay.cut(" ") {
        Some((name, bracketed)) if is_host_name(name) => bracketed,
        Some(_) => return None,
        None => relay,
    };
    let addr = bracketed.strip_prefix('[')?.strip_suffix(']')?;
    Some(addr.strip_prefix("IPv6:").unwrap_or(addr))
}

fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::parse::testing::{show, some};

    #[test]
    fn the_client_is_the_last_relay_in_its_exact_shape() {
        let o = ParseOptions::default();
        let p = |m| show(parse(m, &o));
        assert_eq!(
            p(
                "5B1AbC0x012345: AUTH failure (LOGIN): authentication failure (-13) \
               SASL(-13): authentication failure: checkpass failed, user=a, relay=[9.9.9.9], \
               user=a, relay=mx.example.org [198.51.100.7] (may be forged)"
            ),
            some(Kind::Failed, "198.51.100.7", Some("a"))
        );
        assert_eq!(
            p(
                "NOQUEUE: AUTH failure (PLAIN): user not found (-20) SASL(-13): user not \
               found: checkpass failed, user=admin, relay=[IPv6:2001:db8::7]"
            ),
            some(Kind::Naughty, "2001:db8::7", Some("admin"))
        );
        assert_eq!(
            p(
                "5B1AbC0x012345: AUTH failure (LOGIN): generic failure (-1) SASL(-1): \
               generic failure: checkpass failed, user=bob, relay=[198.51.100.7]"
            ),
            None
        );
        // An ident of the client's, cut with the client text at 100 bytes.
        let ident = format!("{}, relay=[9.9.9.9]", "a".repeat(83));
        assert_eq!(ident.len(), RELAY_CAP);
        let cut = format!(
            "5B1AbC0x012345: AUTH failure (LOGIN): authentication failure (-13) x, relay={ident}"
        );
        assert_eq!(p(&cut), None);
    }
}
