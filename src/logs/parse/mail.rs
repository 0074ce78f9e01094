/*!
Mail authentication: postfix smtpd SASL and vpopmail's vchkpw. See the rules in `parse/mod.rs`.

Where the attacker writes:
- postfix `warning: NAME[ADDR]: SASL LOGIN authentication failed: REASON, sasl_username=USER`:
  NAME comes from reverse DNS, but postfix prints it only after checking it is a valid host name
  that resolves back to ADDR (else `unknown`), so it holds no brackets; USER is the client's and
  comes last. The client part is read from the left, and NAME must look like a host name, so a
  PTR record carrying `[9.9.9.9]` makes the line unreadable, never misread.
- vchkpw `vpopmail user not found USER@DOMAIN:ADDR`: USER and DOMAIN are what the client typed
  (colons allowed) and the address is glued to them with `:`. An IPv4 address (or IPv4-mapped
  IPv6) has no colon, so the text after the last `:` is exactly it. A pure IPv6 address cannot
  be told apart from a typed domain ending in `:2001:db8`, so it is read only where the account
  was found (`password fail`, `login success`): there the domain is a real one, without colons,
  and the address starts at the first `:` after the last `@`.
- vchkpw formats each line into a 500-byte buffer, and a logged password (`password fail
  (pass: 'PASSWORD') ...`, up to 155 bytes) or a long typed login can fill it before the
  address: a line that long is not read.
*/

use super::lex::Cut;
use super::lex::{bracketed_client, failure_kind, root_rule};
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::Kind;

/// Recognises one postfix smtpd message.
pub fn parse_postfix<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if let Some(rest) = message.strip_prefix("warning: ") {
        return sasl_failure(rest, options);
    }
    // `4Xyz1b2Cdf: client=NAME[ADDR], sasl_method=PLAIN, sasl_username=bob`: an authenticated
    // session got a queue id. Without `sasl_method=` it is an ordinary (unauthenticated) client.
    let (queue_id, rest) = message.cut(": client=")?;
    if queue_id.is_empty() || !queue_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (addr, rest) = bracketed_client(rest, false)?;
    let rest = rest.strip_prefix(", sasl_method=")?;
    let user = rest
        .cut(", sasl_username=")
        .map(|(_, user)| match user.rfind(", sasl_sender=") {
            Some(at) => &user[..at],
            None => user,
        });
    Some(Finding::new(Kind::Success, address(addr)?, user))
}

/// `NAME[ADDR]: SASL MECH authentication failed: REASON[, sasl_username=USER]`.
fn sasl_failure<'a>(text: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let (addr, rest) = bracketed_client(text, false)?;
    let rest = rest.strip_prefix(": SASL ")?;
    let (mechanism, rest) = rest.cut(" ")?;
    if mechanism.is_empty()
        || !mechanism
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let rest = rest.strip_prefix("authentication failed")?;
    // An empty reason leaves `failed: `, or `failed:` where a relay trimmed the space.
    let reason = match rest {
        "" | ":" => "",
        _ => rest.strip_prefix(": ")?,
    };
    // The SASL server was down: says nothing about the client.
    if reason.starts_with("Connection lost to authentication server") {
        return None;
    }
    let user = reason
        .rcut(", sasl_username=")
        .map(|(_, user)| user)
        .filter(|user| !user.is_empty());
    Some(Finding::new(
        failure_kind(user, options),
        address(addr)?,
        user,
    ))
}

/// Whether the account named on a vchkpw line exists (its domain is then a real one).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Account {
    /// `USER@DOMAIN` of an existing account.
    Found,
    /// Whatever the client typed.
    Typed,
}

/// The vchkpw messages read, in the order tried: the text after the tag, what it says, and
/// whether the account on it exists.
const VCHKPW: [(&str, Kind, Account); 8] = [
    ("vpopmail user not found ", Kind::Naughty, Account::Typed),
    ("password fail ", Kind::Failed, Account::Found),
    ("null password given ", Kind::Failed, Account::Typed),
    (
        "invalid user/domain characters ",
        Kind::Naughty,
        Account::Typed,
    ),
    ("system user not found ", Kind::Naughty, Account::Typed),
    ("system password fail ", Kind::Failed, Account::Typed),
    (
        "system password login success ",
        Kind::Success,
        Account::Found,
    ),
    ("login success ", Kind::Success, Account::Found),
];

/// vchkpw's `LOG_LINE_SIZE`: the buffer every log line is formatted into.
const VCHKPW_LOG_LINE: usize = 500;
/// `vchkpw-submission: `, the longest tag vchkpw puts before its text.
const VCHKPW_LONGEST_TAG: usize = "vchkpw-submission: ".len();

/// Recognises one vchkpw message: `vchkpw-pop3: password fail bob@example.com:203.0.113.5`
/// (the `vchkpw-pop3: ` part is the syslog tag when vpopmail logs under that name, and part of
/// the message when it logs as `vpopmail[pid]`).
pub fn parse_vchkpw<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let text = strip_vchkpw_tag(message);
    // vchkpw formats its line into `LogLine[500]` (snprintf): a line that reaches that size
    // may have lost the address, and its end is the client's text. The tag counts too; when
    // it is the syslog ident instead, assume the longest one.
    if text.len() + VCHKPW_LONGEST_TAG >= VCHKPW_LOG_LINE - 1 {
        return None;
    }
    // `(PLAIN) login success ...`, `(CRAM-MD5) login success ...`
    let text = match text.strip_prefix('(').and_then(|t| t.cut(") ")) {
        Some((method, rest)) if rest.starts_with("login success ") && is_word(method) => rest,
        _ => text,
    };
    let (rest, kind, account) = VCHKPW.iter().find_map(|&(prefix, kind, account)| {
        text.strip_prefix(prefix).map(|r| (r, kind, account))
    })?;
    let (login, ip) = vchkpw_address(rest, account)?;
    // `password fail (pass: 'PASSWORD') bob@example.com`: the account is the last word.
    let login = if rest.starts_with("(pass: '") {
        login.rcut(" ").map_or(login, |(_, l)| l)
    } else {
        login
    };
    let kind = root_rule(kind, Some(login), options);
    Some(Finding::new(kind, ip, (!login.is_empty()).then_some(login)))
}

fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `vchkpw-pop3: `, `vchkpw-smtp: `, `vchkpw-2110: ` repeated in the message.
fn strip_vchkpw_tag(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix("vchkpw-")
        && let Some((name, rest)) = rest.cut(": ")
        && is_word(name)
    {
        return rest;
    }
    message
}

/// Splits `LOGIN:ADDR` into the login and the address (see the module doc).
fn vchkpw_address(rest: &str, account: Account) -> Option<(&str, ClientIp)> {
    let (login, last) = rest.rcut(":")?;
    if last.contains('.') {
        // Dotted: the whole IPv4 address, or the tail of `::ffff:a.b.c.d`.
        let ip = address(last)?;
        let login = login
            .strip_suffix("::ffff")
            .and_then(|l| l.strip_suffix(':'))
            .unwrap_or(login);
        return Some((login, ip));
    }
    if account == Account::Typed {
        return None;
    }
    // An existing account: its domain (after the last `@`) or system user name has no colon.
    let start = rest.rfind('@').map_or(0, |at| at + 1);
    let colon = start + rest[start..].find(':')?;
    let (login, addr) = (&rest[..colon], &rest[colon + 1..]);
    Some((login, address(addr)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::logs::parse::testing::{show, some};

    #[test]
    fn postfix_reads_the_client_from_the_left() {
        let o = ParseOptions::default();
        assert_eq!(
            show(parse_postfix(
                "warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: x, \
                 sasl_username=a]: SASL LOGIN [9.9.9.9]: SASL",
                &o
            )),
            some(
                Kind::Failed,
                "203.0.113.5",
                Some("a]: SASL LOGIN [9.9.9.9]: SASL")
            )
        );
        // A name that is not a host name is not trusted to end where it seems to.
        assert_eq!(
            show(parse_postfix(
                "warning: x[9.9.9.9]: SASL LOGIN y[203.0.113.5]: SASL LOGIN authentication failed: z",
                &o
            )),
            None
        );
        assert_eq!(
            show(parse_postfix(
                "warning: unknown[203.0.113.5]: SASL PLAIN authentication failed: , sasl_username=root",
                &o
            )),
            some(Kind::Naughty, "203.0.113.5", Some("root"))
        );
        assert_eq!(
            show(parse_postfix(
                "warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: Connection lost \
                 to authentication server",
                &o
            )),
            None
        );
    }

    #[test]
    fn vchkpw_lines_at_its_buffer_size_are_refused() {
        let o = ParseOptions::default();
        // A line that filled vchkpw's buffer ends wherever the cut fell: here in a
        // password shaped like the real tail.
        let head = "vchkpw-pop3: password fail (pass: '";
        let tail = "') bob@example.com:198.51.100.17";
        let cut = format!("{head}{}{tail}", "p".repeat(499 - head.len() - tail.len()));
        assert_eq!(cut.len(), 499);
        assert_eq!(show(parse_vchkpw(&cut, &o)), None);
        let fits = format!("{head}{}{tail}", "p".repeat(100));
        assert_eq!(
            show(parse_vchkpw(&fits, &o)).map(|p| p.1),
            Some("198.51.100.17".to_string())
        );
    }

    #[test]
    fn vchkpw_takes_ipv4_from_the_end_and_ipv6_only_for_real_accounts() {
        let o = ParseOptions::default();
        let p = |m| show(parse_vchkpw(m, &o));
        assert_eq!(
            p("vchkpw-smtp: vpopmail user not found a@9.9.9.9:203.0.113.5"),
            some(Kind::Naughty, "203.0.113.5", Some("a@9.9.9.9"))
        );
        assert_eq!(
            p("vpopmail user not found a@b:::ffff:203.0.113.5"),
            some(Kind::Naughty, "203.0.113.5", Some("a@b"))
        );
        // A typed domain could end in `:2001:db8`: no way to tell where the address starts.
        assert_eq!(p("vpopmail user not found a@b:2001:db8::5"), None);
        assert_eq!(
            p("password fail (pass: 'x@y:1:2') bob@example.com:2001:db8::5"),
            some(Kind::Failed, "2001:db8::5", Some("bob@example.com"))
        );
        assert_eq!(
            p("vchkpw-pop3: (PLAIN) login success bob@example.com:2001:db8::5"),
            some(Kind::Success, "2001:db8::5", Some("bob@example.com"))
        );
    }
}
