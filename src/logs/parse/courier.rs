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
use crate::logs::Kind;

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

/// Recognises courieresmtpd's refused SMTP AUTH (courier 0.60 and later,
/// `courier/module.esmtp/courieresmtpd.c`, `iov_logerror`):
/// `error,relay=ADDR[,ident="IDENT"],msg="535 Authentication failed.",cmd: COMMAND`.
///
/// ADDR is `TCPREMOTEIP`, courier's own, and comes first; IDENT (an RFC 1413 answer, when
/// couriertcpd asks for one) and COMMAND (`AUTH MECH` with the client's first 20 bytes and
/// the user id it sent, at most 80 bytes) are the client's. So the address is read from
/// the left and the verdict must follow it (or IDENT) at once: a verdict inside COMMAND,
/// the end of another error line, is not this one. No user name: COMMAND does not say
/// which of its words is one.
pub fn parse_esmtpd(message: &str) -> Option<Finding<'static>> {
    const VERDICT: &str = ",msg=\"535 Authentication failed.\",cmd: ";
    let rest = message.strip_prefix("error,relay=")?;
    let (addr, rest) = rest.split_at(rest.find(',')?);
    let rest = match rest.strip_prefix(",ident=\"") {
        // IDENT may hold the verdict's text itself: then the first one is still after the
        // relay's own address, and blames the client that chose IDENT.
        Some(ident) => &ident[ident.find("\"")? + 1..],
        None => rest,
    };
    if !rest.starts_with(VERDICT) {
        return None;
    }
    Some(Finding::new(Kind::Failed, address(addr)?, None))
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn esmtpd_reads_the_relay_and_the_verdict_after_it() {
        let p = |m| show(parse_esmtpd(m));
        assert_eq!(
            p(
                "error,relay=::ffff:198.51.100.7,msg=\"535 Authentication failed.\",cmd: AUTH LOGIN bob"
            ),
            some(Kind::Failed, "198.51.100.7", None)
        );
        assert_eq!(
            p(
                "error,relay=2001:db8::7,ident=\"x\",msg=\"535 Authentication failed.\",cmd: YWRvYmVhZG9iZQ=="
            ),
            some(Kind::Failed, "2001:db8::7", None)
        );
        // Another error, whose command (the client's) ends in the verdict.
        assert_eq!(
            p(
                "error,relay=::ffff:198.51.100.7,msg=\"502 ESMTP command error\",cmd: X,msg=\"535 Authentication failed.\",cmd: "
            ),
            None
        );
        // Other refusals of AUTH: not a password that failed.
        assert_eq!(
            p(
                "error,relay=::ffff:198.51.100.7,msg=\"535 Authentication rejected\",cmd: AUTH LOGIN"
            ),
            None
        );
        assert_eq!(
            p(
                "error,relay=::ffff:198.51.100.7,msg=\"535 Authentication required.\",cmd: MAIL FROM:<a@b>"
            ),
            None
        );
        // A relay that is no address, a line cut before the verdict.
        assert_eq!(
            p("error,relay=host.example,msg=\"535 Authentication failed.\",cmd: AUTH LOGIN"),
            None
        );
        assert_eq!(p("error,relay=::ffff:198.51.100.7,msg=\"535 Authent"), None);
    }
}
