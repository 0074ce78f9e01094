/*!
HTTP authentication failures in a web server's error log: Apache httpd 2.4's
mod_auth_basic (modules/aaa/mod_auth_basic.c: AH01617, AH01618) and mod_auth_digest
(mod_auth_digest.c: AH01792 password mismatch, AH01790 user not found).

Apache writes the client before the message (`[client ADDR:PORT] AH01618: user NAME not
found: URI`), and escapes control characters in what it logs (`\x0a`): the address is the
server's own text at a fixed place before anything the client sent, and a user name cannot
start a line of its own. The message number (`AH01617`) is fixed text right after it, so a
line cut anywhere later (the error log's 8 KiB buffer) is still the same verdict.

mod_auth_digest's protocol errors (a nonce that is none of its, another realm, an algorithm or
qop it did not offer: AH01777, AH01788, AH01789, AH01793 and their 2.2 `Digest: ` forms) are
probes: no browser sends them. Access control (`client denied by server configuration`, a
valid user's `authorization failure`) and `client used wrong authentication scheme` (a
browser's cached Basic credentials sent to a Digest area) are not read: a page linking into a
denied directory makes every visitor log them, and the error log has no login that would
clear a visitor again.

Apache 2.2 wrote no module, message number or port: `[error] [client ADDR] user NAME not
found: URI` (mod_auth_basic), `user NAME: authentication failure for "URI": Password
Mismatch`, and mod_auth_digest's `Digest: user NAME: password mismatch: URI` and `Digest:
user `NAME' in realm `REALM' not found: URI`. The address is still the server's text before
anything the client sent (2.2 escapes control characters too), but the verdict follows the
user name, so the message's own fixed words after the name must be there: a cut line without
them is nothing. Only `[error]` is read, the level these messages have.

nginx is not read: its `user "NAME" was not found in "FILE", client: ADDR, ...` logs the
base64-decoded user name unescaped (`%V`, any byte but `:`), so a name with a newline writes
a whole line of its own, header and fake `client:` tail included, which no rule on that
line can tell from nginx's. `error_log syslog:` is no way out: rsyslog escapes the newline,
but nginx's syslog writer copies the message with `%s` (src/core/ngx_syslog.c), which stops
at a NUL, and a name `root": password mismatch, client: VICTIM, server: s, request: "GET /
HTTP/1.1", host: "h"` followed by a NUL byte leaves nginx's own `client:` out of the
datagram.
*/

use super::lex::Cut;
use super::lex::failure_kind;
use super::{Finding, ParseOptions, address};
use crate::logs::Kind;

/// An Apache error log message from its `[client ADDR:PORT] ` on (its own file, through
/// `app_logs`), or from `[module:level] [pid N:tid N] ` on (`ErrorLog syslog:`).
pub fn parse_apache<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    if let Some(rest) = m.strip_prefix("[error] [client ") {
        return parse_apache22(rest, o);
    }
    let m = match m.strip_prefix("[client ") {
        Some(rest) => rest,
        None => {
            let (module_level, rest) = m.strip_prefix('[')?.cut("] [pid ")?;
            if module_level.contains(' ') {
                return None;
            }
            let (pid, rest) = rest.cut("] ")?;
            if !pid
                .bytes()
                .all(|b| b.is_ascii_digit() || b":tid ".contains(&b))
            {
                return None;
            }
            rest.strip_prefix("[client ")?
        }
    };
    let (client, rest) = m.cut("] ")?;
    // `%a` with its port: `203.0.113.9:51234`, `2001:db8::1:51234` (IPv6 unbracketed, or
    // `[2001:db8::1]:51234` in some builds).
    let (addr, port) = client.rcut(":")?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let addr = match addr.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']')?,
        None => addr,
    };
    let ip = address(addr)?;
    if let Some((number, text)) = rest.cut(": ")
        && is_message_number(number)
        && is_digest_protocol_error(text)
    {
        return Some(Finding::new(Kind::Probe, ip, None));
    }
    let user = if let Some(rest) = rest.strip_prefix("AH01617: user ") {
        // `user NAME: authentication failure for "URI": Password Mismatch`
        rest.cut(": authentication failure for \"").map(|(u, _)| u)
    } else if let Some(rest) = rest.strip_prefix("AH01618: user ") {
        // `user NAME not found: URI`
        rest.cut(" not found: ").map(|(u, _)| u)
    } else if let Some(rest) = rest.strip_prefix("AH01792: user ") {
        // mod_auth_digest: `user NAME: password mismatch: URI`
        rest.cut(": password mismatch: ").map(|(u, _)| u)
    } else if let Some(rest) = rest.strip_prefix("AH01790: user `") {
        // mod_auth_digest: `user `NAME' in realm `REALM' not found: URI`
        rest.cut("' in realm `").map(|(u, _)| u)
    } else {
        return None;
    };
    Some(Finding::new(failure_kind(user, o), ip, user))
}

/// `AH01777`: an Apache 2.4 message number.
fn is_message_number(text: &str) -> bool {
    text.len() == 7 && text.starts_with("AH") && text[2..].bytes().all(|b| b.is_ascii_digit())
}

/// mod_auth_digest's refusals of an `Authorization: Digest` header no browser sends: a nonce
/// that is no nonce of its (`invalid nonce N received - length is not 52`, `- user attempted
/// time travel`), another realm, an algorithm or qop it did not offer. Probes: a client
/// forging or replaying the exchange, no password was checked. Not `- hash is not N`: a
/// restart gives the server a new secret, and every browser's nonce from before it then
/// fails so. (Stale nonces are answered without an error.)
fn is_digest_protocol_error(text: &str) -> bool {
    text.strip_prefix("invalid nonce ")
        .and_then(|rest| rest.split_once(" received - "))
        .is_some_and(|(_, why)| {
            why.starts_with("length is not ") || why == "user attempted time travel"
        })
        || text.starts_with("realm mismatch - got `")
        || text.starts_with("unknown algorithm `")
        || text.starts_with("invalid qop `")
}

/// Apache 2.2's message after `[error] [client `: `ADDR] ` (no port), then one of the
/// authentication messages, the user name between fixed words.
fn parse_apache22<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (addr, rest) = m.cut("] ")?;
    let ip = address(addr)?;
    if rest
        .strip_prefix("Digest: ")
        .is_some_and(is_digest_protocol_error)
    {
        return Some(Finding::new(Kind::Probe, ip, None));
    }
    let user = if let Some(rest) = rest.strip_prefix("user ") {
        // mod_auth_basic: `user NAME not found: URI`, `user NAME: authentication failure
        // for "URI": Password Mismatch`; older modules' `user NAME not found` alone.
        if let Some((user, _)) = rest.cut(" not found: ") {
            user
        } else if let Some((user, tail)) = rest.cut(": authentication failure for \"") {
            if !tail.contains("\": Password Mismatch") {
                return None;
            }
            user
        } else {
            rest.strip_suffix(" not found")?
        }
    } else if let Some(rest) = rest.strip_prefix("Digest: user `") {
        // `Digest: user `NAME' in realm `REALM' not found: URI`
        let (user, tail) = rest.cut("' in realm `")?;
        if !tail.contains("' not found: ") {
            return None;
        }
        user
    } else if let Some(rest) = rest.strip_prefix("Digest: user ") {
        // `Digest: user NAME: password mismatch: URI`
        rest.cut(": password mismatch: ").map(|(u, _)| u)?
    } else {
        return None;
    };
    Some(Finding::new(failure_kind(Some(user), o), ip, Some(user)))
}
