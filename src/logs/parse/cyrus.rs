/*!
Cyrus IMAP's IMAP and POP3 login failures (cyrus-imapd 2.4 to 3.x, `imap/imapd.c`,
`imap/pop3d.c`). See the rules in `parse/mod.rs`.

Every failed login is `badlogin: CLIENT ...`, where CLIENT is `get_clienthost()`:
`NAME [ADDR]` when reverse DNS named the address, else `[ADDR]` (2.3 and later); before
2.3 (and in timsieved/proxyd of that age) `NAME[ADDR]` without the space, the name cut to
fit the buffer, or `[ADDR]`. What follows differs by
version and command (3.x: `plaintext (USER) [DETAIL]`, `MECH (USER) [DETAIL]`,
`plaintext (USER) invalid user`, `anonymous login refused`, pop3d's `APOP (USER) DETAIL`;
2.x: `plaintext USER DETAIL`, `MECH [DETAIL]`) and is not read: each is one failed attempt.

Where the attacker writes: USER and the SASL detail, both after the address. CLIENT comes
first and is read from the left, the name in host-name characters only; a cut line still
names the right address.

`imaps`/`pop3s`/`STARTTLS negotiation failed: CLIENT` (the client last, nothing of its own
in the line) is a probe: a client that never finished the TLS handshake.
*/

use super::lex::Cut;
use super::lex::is_host_name;
use super::{Finding, address};
use crate::logs::Kind;

/// The TLS handshake failures Cyrus logs with nothing but the client after them
/// (`imapd.c`, `pop3d.c`: `"%s TLS negotiation failed: %s"`, clienthost last).
const TLS_FAILURES: [&str; 3] = [
    "imaps TLS negotiation failed: ",
    "pop3s TLS negotiation failed: ",
    "STARTTLS negotiation failed: ",
];

/// Recognises one Cyrus `imapd` / `pop3d` message.
pub fn parse(message: &str) -> Option<Finding<'_>> {
    if let Some(client) = TLS_FAILURES.iter().find_map(|p| message.strip_prefix(p)) {
        // A client that never finished the handshake (scanners probing TLS): a probe.
        let (addr, rest) = clienthost(client)?;
        return rest
            .is_empty()
            .then(|| Finding::new(Kind::Probe, addr, None));
    }
    let rest = message.strip_prefix("badlogin: ")?;
    let (addr, rest) = clienthost(rest)?;
    let rest = rest.strip_prefix(' ')?;
    if rest.is_empty() {
        return None;
    }
    Some(Finding::new(Kind::Failed, addr, None))
}

/// `get_clienthost()` at the start of `text`: `NAME [ADDR]`, `NAME[ADDR]` or `[ADDR]`; the
/// address and what follows its `]`.
fn clienthost(text: &str) -> Option<(crate::ip::ClientIp, &str)> {
    // The name runs to the first `[` (host-name characters hold none), then ` ` or not.
    let (name, bracketed) = text.cut("[")?;
    let named = match name.strip_suffix(' ') {
        Some(name) => is_host_name(name),
        None => name.is_empty() || is_host_name(name),
    };
    if !named {
        return None;
    }
    let (addr, rest) = bracketed.cut("]")?;
    Some((address(addr)?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::parse::testing::{show, some};

    #[test]
    fn the_client_comes_first() {
        assert_eq!(
            show(parse(
                "badlogin: [198.51.100.7] plaintext (a [9.9.9.9] b) [SASL(-13): x]"
            )),
            some(Kind::Failed, "198.51.100.7", None)
        );
        assert_eq!(
            show(parse("badlogin: x y [9.9.9.9] plaintext (a) [z]")),
            None
        );
        assert_eq!(show(parse("badlogin: [198.51.100.7]")), None);
        // Before 2.3: no space between the name and its bracket.
        assert_eq!(
            show(parse(
                "badlogin: h.example[198.51.100.7] OTP [SASL(-13): x]"
            )),
            some(Kind::Failed, "198.51.100.7", None)
        );
        assert_eq!(show(parse("badlogin: x  [198.51.100.7] OTP [y]")), None);
    }
}
