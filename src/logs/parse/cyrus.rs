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
*/

use super::lex::Cut;
use super::lex::is_host_name;
use super::{Finding, address};
use crate::logs::Kind;

/// Recognises one Cyrus `imapd` / `pop3d` message.
pub fn parse(message: &str) -> Option<Finding<'_>> {
    let rest = message.strip_prefix("badlogin: ")?;
    // The name runs to the first `[` (host-name characters hold none), then ` ` or not.
    let (name, bracketed) = rest.cut("[")?;
    let named = match name.strip_suffix(' ') {
        Some(name) => is_host_name(name),
        None => name.is_empty() || is_host_name(name),
    };
    if !named {
        return None;
    }
    let (addr, rest) = bracketed.cut("] ")?;
    if rest.is_empty() {
        return None;
    }
    Some(Finding::new(Kind::Failed, address(addr)?, None))
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
