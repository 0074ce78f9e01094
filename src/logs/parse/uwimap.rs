/*!
UW IMAP's login failures (the University of Washington's `imapd` and `ipop3d`, imap-2007f,
still packaged by some distributions). See the rules in `parse/mod.rs`.

Both servers log `Login failed user=USER auth=AUTHUSER host=CLIENT` for a password
refused, and `AUTHENTICATE MECH failure host=CLIENT` for a SASL exchange that failed (no
user name), each field cut to 80 bytes (`%.80s`). USER and AUTHUSER are the client's; CLIENT is c-client's
`tcp_clienthost()`: the reverse-DNS name, which the resolver only returns as a host name,
then the address in brackets (`name [ADDR]`, or `[ADDR]` alone). The address is read from
the end, and the line must end in its `]`: a name long enough to have the 80-byte cut take
the brackets off leaves no address, and is not read.
*/

use super::lex::{Cut, failure_kind, is_host_or_address};
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::Kind;

/// Recognises one UW IMAP / POP3 login failure.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if let Some(rest) = message.strip_prefix("AUTHENTICATE ") {
        // MECH is the client's word: only the end of the line is read.
        let (_, ip) = client(rest, " failure host=")?;
        return Some(Finding::new(Kind::Failed, ip, None));
    }
    let rest = message.strip_prefix("Login failed user=")?;
    let (fields, ip) = client(rest, " host=")?;
    let (user, _) = fields.cut(" auth=")?;
    let user = (!user.is_empty()).then_some(user);
    Some(Finding::new(failure_kind(user, options), ip, user))
}

/// `... HOST_FIELD NAME [ADDR]` or `... HOST_FIELD[ADDR]` ending `rest`: what comes before
/// the host field, and the address.
fn client<'a>(rest: &'a str, host_field: &str) -> Option<(&'a str, ClientIp)> {
    let (head, addr) = rest.strip_suffix(']')?.rcut("[")?;
    let head = head.strip_suffix(' ').unwrap_or(head);
    let (fields, name) = head.rcut(host_field)?;
    if !(name.is_empty() || is_host_or_address(name)) {
        return None;
    }
    Some((fields, address(addr)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::parse::testing::{show, some};

    #[test]
    fn the_address_ends_the_line() {
        let o = ParseOptions::default();
        let p = |m| show(parse(m, &o));
        assert_eq!(
            p("Login failed user=bob auth=bob host=client.example.net [198.51.100.7]"),
            some(Kind::Failed, "198.51.100.7", Some("bob"))
        );
        assert_eq!(
            p("Login failed user=root auth=root host=[2001:db8::7]"),
            some(Kind::Naughty, "2001:db8::7", Some("root"))
        );
        // A user name holding another client: the end decides.
        assert_eq!(
            p("Login failed user=x host=a [9.9.9.9] auth=x host=b.example [198.51.100.7]"),
            some(Kind::Failed, "198.51.100.7", Some("x host=a [9.9.9.9]"))
        );
        // Cut inside the brackets, text after them, a name no resolver returns.
        for m in [
            "Login failed user=bob auth=bob host=a-very-long-name.example [198.51.10",
            "Login failed user=bob auth=bob host=client [198.51.100.7] x",
            "Login failed user=bob auth=bob host=a b [198.51.100.7]",
            "Login failed user=bob host=client [198.51.100.7]",
        ] {
            assert_eq!(p(m), None, "{m}");
        }
        // A SASL exchange that failed: no user; the mechanism is the client's word.
        assert_eq!(
            p("AUTHENTICATE PLAIN failure host=client.example.net [198.51.100.8]"),
            some(Kind::Failed, "198.51.100.8", None)
        );
        assert_eq!(
            p("AUTHENTICATE X failure host=a [9.9.9.9] failure host=b.example [198.51.100.9]"),
            some(Kind::Failed, "198.51.100.9", None)
        );
        assert_eq!(
            p("AUTHENTICATE PLAIN failure host=a b [198.51.100.9]"),
            None
        );
    }
}
