/*!
The small pieces of text more than one parser reads the same way: host names, postfix's
`NAME[ADDR]:PORT` client, and the rule that makes a failed `root` login account guessing.
Each parser file keeps its own message rules; what they share is read here, once.
*/

use super::ParseOptions;
use crate::logs::Kind;

/// A host name as resolvers print it, or postfix's `unknown`: letters, digits, `.-_`.
pub fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// What reverse DNS or the address itself can look like where a daemon prints either
/// (glibc refuses other PTR names): a host name, an IPv6 address and its `%zone`.
pub fn is_host_or_address(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'))
}

/// `NAME[ADDR]` then an optional `:PORT` (postfix's `smtpd_client_port_logging`, and
/// postscreen's `[ADDR]:PORT` when `nameless` allows an empty name): the address text
/// and the rest after it. The name is a host name or nothing is taken.
pub fn bracketed_client(text: &str, nameless: bool) -> Option<(&str, &str)> {
    let (name, rest) = text.split_once('[')?;
    if !(is_host_name(name) || nameless && name.is_empty()) {
        return None;
    }
    let (addr, rest) = rest.split_once(']')?;
    // `]: SASL ...`: a colon without digits belongs to the message, not a port.
    let rest = match rest.strip_prefix(':') {
        Some(port) if port.starts_with(|c: char| c.is_ascii_digit()) => {
            port.trim_start_matches(|c: char| c.is_ascii_digit())
        }
        _ => rest,
    };
    Some((addr, rest))
}

/// A failed login as `root` is account guessing (naughty) when the admin says so
/// (`root_is_naughty`); any other kind or user stays as it is.
pub fn root_rule(kind: Kind, user: Option<&str>, options: &ParseOptions) -> Kind {
    if kind == Kind::Failed && options.root_is_naughty && user == Some("root") {
        Kind::Naughty
    } else {
        kind
    }
}

/// The kind of a failed attempt by an account that exists.
pub fn failure_kind(user: Option<&str>, options: &ParseOptions) -> Kind {
    root_rule(Kind::Failed, user, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_in_brackets() {
        assert_eq!(
            bracketed_client("unknown[203.0.113.9]:4022: SASL", false),
            Some(("203.0.113.9", ": SASL"))
        );
        assert_eq!(
            bracketed_client("mx.example.org[2001:db8::1]: x", false),
            Some(("2001:db8::1", ": x"))
        );
        assert_eq!(bracketed_client("[203.0.113.9]:25", false), None);
        assert_eq!(
            bracketed_client("[203.0.113.9]:25", true),
            Some(("203.0.113.9", ""))
        );
        assert_eq!(bracketed_client("a b[203.0.113.9]", true), None);
    }

    #[test]
    fn root_is_naughty_only_when_failed_and_configured() {
        let on = ParseOptions::default();
        let off = ParseOptions {
            root_is_naughty: false,
        };
        assert_eq!(failure_kind(Some("root"), &on), Kind::Naughty);
        assert_eq!(failure_kind(Some("root"), &off), Kind::Failed);
        assert_eq!(failure_kind(Some("bob"), &on), Kind::Failed);
        assert_eq!(failure_kind(None, &on), Kind::Failed);
        assert_eq!(root_rule(Kind::Success, Some("root"), &on), Kind::Success);
    }
}
