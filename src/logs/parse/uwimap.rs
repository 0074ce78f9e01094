/*!
UW IMAP's login failures (the University of Washington's `imapd` and `ipop3d`, imap-2007f,
still packaged by some distributions). See the rules in `parse/mod.rs`.

Both servers log `Login failed user=USER auth=AUTHUSER host=CLIENT`, each field cut to 80
bytes (`%.80s`). USER and AUTHUSER are the client's; CLIENT is c-client's
`tcp_clienthost()`: the reverse-DNS name, which the resolver only returns as a host name,
then the address in brackets (`name [ADDR]`, or `[ADDR]` alone). The address is read from
the end, and the line must end in its `]`: a name long enough to have the 80-byte cut take
the brackets off leaves no address, and is not read.
*/

use super::lex::{Cut, failure_kind, is_host_or_address};
use super::{Finding, ParseOptions, address};

/// Recognises one UW IMAP / POP3 login failure.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let rest = message.strip_prefix("Login failed user=")?;
    let (head, addr) = rest.strip_suffix(']')?.rcut("[")?;
    let head = head.strip_suffix(' ').unwrap_or(head);
    let (fields, name) = head.rcut(" host=")?;
    if !(name.is_empty() || is_host_or_address(name)) {
        return None;
    }
    let (user, _) = fields.cut(" auth=")?;
    let user = (!user.is_empty()).then_some(user);
    Some(Finding::new(
        failure_kind(user, options),
        address(addr)?,
        user,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Kind;
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
    }
}
