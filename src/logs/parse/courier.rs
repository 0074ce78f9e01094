/*!
Courier's IMAP and POP3 login failures (courier-imap 4 and 5, `imap/imaplogin.c`,
`imap/pop3login.c`). See the rules in `parse/mod.rs`.

The login programs print `INFO: LOGIN FAILED, user=USER, ip=[ADDR]` (`LOGIN` / `USER`
and `PASS`) or `INFO: LOGIN FAILED, method=MECH, ip=[ADDR]` (`AUTHENTICATE` / `AUTH`) to
stderr, courier-imap 5 with `, port=[PORT]` after the address; `courierlogger` takes the
`INFO: ` off and hands the rest to syslog under its `-name=` (`imapd`, `pop3d-ssl`, ...).
ADDR is `TCPREMOTEIP`, IPv4 clients as `::ffff:a.b.c.d`.

Where the attacker writes: USER, and MECH (the client's `AUTHENTICATE` argument, up to 31
bytes), both before the address. The address is the last `, ip=[...]` and must end the
line (after the port, when there is one). Two caps cut a line where the client's text
chooses: authlib's `courier_safe_printf` formats into 1,024 bytes (`DEBUG_MESSAGE_SIZE`,
control bytes made `.`), and courierlogger (0.71) reads each line with `fgets` into 512
bytes and throws the rest of a longer line away. A line that reached courierlogger's 511
bytes may have lost its real address and ends in the client's text: it is not read.
*/

use super::lex::Cut;
use super::lex::failure_kind;
use super::{Finding, ParseOptions, address};

/// courierlogger's line buffer (`fgets`), which holds the line with its `INFO: `.
const LOGGER_LINE: usize = 512;

/// Recognises one Courier login message.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if message.len() + "INFO: ".len() >= LOGGER_LINE - 1 {
        return None;
    }
    let rest = message.strip_prefix("LOGIN FAILED, ")?;
    let (field, user) = if let Some(rest) = rest.strip_prefix("user=") {
        (rest, true)
    } else {
        (rest.strip_prefix("method=")?, false)
    };
    // `, port=[PORT]` ends courier-imap 5's lines.
    let field = match field.rcut(", port=[") {
        Some((before, port))
            if port
                .strip_suffix(']')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            before
        }
        _ => field,
    };
    let (named, addr) = field.rcut(", ip=[")?;
    let ip = address(addr.strip_suffix(']')?)?;
    let user = user.then_some(named).filter(|u| !u.is_empty());
    Some(Finding::new(failure_kind(user, options), ip, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Kind;
    use crate::logs::parse::testing::{show, some};

    #[test]
    fn the_address_is_the_last_one_and_ends_the_line() {
        let o = ParseOptions::default();
        let p = |m| show(parse(m, &o));
        assert_eq!(
            p(
                "LOGIN FAILED, user=a, ip=[9.9.9.9], port=[1], ip=[::ffff:198.51.100.7], port=[40022]"
            ),
            some(
                Kind::Failed,
                "198.51.100.7",
                Some("a, ip=[9.9.9.9], port=[1]")
            )
        );
        assert_eq!(p("LOGIN FAILED, user=a, ip=[9.9.9.9] x"), None);
        // Cut by courierlogger at 511 bytes with its `INFO: `.
        let long = format!(
            "LOGIN FAILED, user={}, ip=[9.9.9.9], port=[1]",
            "a".repeat(462)
        );
        assert_eq!(long.len() + "INFO: ".len(), LOGGER_LINE - 1);
        assert_eq!(p(&long), None);
        let fits = long.replacen("aa", "a", 1);
        assert!(p(&fits).is_some());
    }
}
