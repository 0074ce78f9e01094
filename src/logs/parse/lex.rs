/*!
The small pieces of text more than one parser reads the same way: host names, postfix's
`NAME[ADDR]:PORT` client, pam_unix's `authentication failure` fields, and the rule that
makes a failed `root` login account guessing.
Each parser file keeps its own message rules; what they share is read here, once.
*/

use super::{Finding, ParseOptions, address};
use crate::logs::{Kind, Report};

pub use crate::logs::header::Cut;

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
    let (name, rest) = text.cut("[")?;
    if !(is_host_name(name) || nameless && name.is_empty()) {
        return None;
    }
    let (addr, rest) = rest.cut("]")?;
    // `]: SASL ...`: a colon without digits belongs to the message, not a port.
    let rest = match rest.strip_prefix(':') {
        Some(port) if port.starts_with(|c: char| c.is_ascii_digit()) => {
            port.trim_start_matches(|c: char| c.is_ascii_digit())
        }
        _ => rest,
    };
    Some((addr, rest))
}

/// libwrap's own line when it refuses a connection, logged under the daemon's name and
/// pid: `refused connect from CLIENT (ADDR)` (IPv6-capable builds: Debian, FreeBSD) or
/// `refused connect from CLIENT` (tcp_wrappers 7.6), where CLIENT is the host name, the
/// address when there is none, or `user@host` from ident. The name and the ident reply
/// are the client's, so only the address in the last parentheses counts, and only when
/// the client part holds no space (a relay's cut could otherwise end in a fake `(ADDR)`
/// of an ident reply); without parentheses only a client that *is* an address counts.
/// A probe (no login was tried), and a report of its own: sentry's own deny list causes
/// many of them, and `scan` drops those.
pub fn tcpd_refusal(m: &str) -> Option<Finding<'static>> {
    let client = m.strip_prefix("refused connect from ")?;
    let addr = match client.strip_suffix(')') {
        Some(body) => {
            let (name, addr) = body.cut(" (")?;
            if name.is_empty() || name.contains([' ', '(']) {
                return None;
            }
            addr
        }
        None => client,
    };
    let finding = Finding::new(Kind::Probe, address(addr)?, None);
    Some(finding.reported_as(Report::Refusal, 1))
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

/// The PAM modules that report a failed password with pam_unix's fields: pam_unix
/// (modules/pam_unix/support.c: `rhost=%s %s%s`, two spaces before `user=`) and SSSD's
/// pam_sss (src/sss_client/pam_sss.c: `rhost=%s user=%s`, one space, `user=` always
/// written). nss-pam-ldapd's pam_ldap logs `Authentication failure; user=NAME` with no
/// address and is not read; PADL's pam_ldap was not checked.
pub const PAM_FAILURE_MODULES: [&str; 2] = ["pam_unix", "pam_sss"];

/// Whether the message starts with `MODULE(` for one of [`PAM_FAILURE_MODULES`]: libpam's
/// prefix of a module's own line.
pub fn is_pam_module_line(m: &str) -> bool {
    PAM_FAILURE_MODULES
        .iter()
        .any(|name| m.strip_prefix(name).is_some_and(|r| r.starts_with('(')))
}

/// Whether the message is a PAM module's report that [`pam_auth_failure`] reads: a module's
/// own line ([`is_pam_module_line`]) or Linux-PAM 0.7x's `(pam_unix) ...`.
pub fn is_pam_report(m: &str) -> bool {
    is_pam_module_line(m) || m.starts_with("(pam_unix) ")
}

/// `MODULE(SERVICE:auth): authentication failure; logname= uid=0 euid=0 tty=T ruser=R
/// rhost=ADDR[  user=USER]` for one of [`PAM_FAILURE_MODULES`] and one of `services` (the
/// PAM service names the daemon uses), or Linux-PAM 0.7x's `(pam_unix) authentication
/// failure; ...`: the backend's report of one failed attempt.
pub fn pam_auth_failure<'a>(
    m: &'a str,
    services: &[&str],
    o: &ParseOptions,
) -> Option<Finding<'a>> {
    let rest = match m.strip_prefix("(pam_unix) ") {
        // Linux-PAM before 0.99 named no service: the ident says whose line it is.
        Some(rest) => rest,
        None => {
            let (module, rest) = m.cut("(")?;
            if !PAM_FAILURE_MODULES.contains(&module) {
                return None;
            }
            let (service, rest) = rest.cut(":auth): ")?;
            if !services.contains(&service) {
                return None;
            }
            rest
        }
    };
    let finding = pam_fields(rest.strip_prefix("authentication failure; ")?, o)?;
    Some(finding.reported_as(Report::Pam, 1))
}

/// The longest `ruser=` with which a pam_unix line that ends right after its address is
/// read: with it the line stays under 256 bytes, header included (BusyBox syslogd's
/// default buffer, the smallest cap a relay is known to cut lines at); every other field
/// before the address is the daemon's own and short.
const MAX_UNCUT_RUSER: usize = 32;

/// Whether `s` is a number as daemons write one: ASCII digits, at least one.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `N more authentication failure[s]; FIELDS`: pam_unix's sum, when PAM ends, of the
/// attempts after a connection's first (which it logged on its own line), in sshd's `PAM N
/// more ...` or under Linux-PAM 0.7x's own ident. Its retry limit keeps N small; bounded.
pub fn pam_more_failures<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (count, rest) = m.cut(" ")?;
    if !is_digits(count) {
        return None;
    }
    let rest = rest.strip_prefix("more authentication failure")?;
    let rest = rest.strip_prefix('s').unwrap_or(rest);
    let finding = pam_fields(rest.strip_prefix("; ")?, o)?;
    let more: u32 = count.parse().ok()?;
    Some(finding.reported_as(Report::Pam, more.min(MAX_PAM_MORE)))
}

/// The most attempts one `N more authentication failures` line stands for; sshd's
/// MaxAuthTries and pam_unix's retry limit keep real values in single digits.
pub const MAX_PAM_MORE: u32 = 100;

/// Linux-PAM 0.7x's pam_unix under its own ident, `SERVICE(pam_unix)[pid]: MESSAGE`
/// (`openlog` with the service's name): `authentication failure; FIELDS` (one attempt) or
/// `N more authentication failures; FIELDS`.
pub fn pam_unix_own_ident<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    match m.strip_prefix("authentication failure; ") {
        Some(rest) => Some(pam_fields(rest, o)?.reported_as(Report::Pam, 1)),
        None => pam_more_failures(m, o),
    }
}

/// The pam_unix fields, walked left to right as single words: `logname=W uid=N euid=N
/// tty=W ruser=W rhost=W` then nothing or `  user=USER`.
///
/// Why this anchoring: the user name is last and the client's, so it may contain
/// ` rhost=9.9.9.9  user=x`; reading from the end would take that. Before `rhost=` only
/// one-word fields come, written by PAM and the daemon, so the first `rhost=` reached by
/// walking them is the real one. A field with a space in it breaks the walk, since what
/// then follows `rhost=W` is not the expected end: that line is refused rather than
/// guessed at.
///
/// `ruser=` is empty for sshd (OpenSSH does not set PAM_RUSER), but vsftpd sets it to the
/// name the client sent, a second attacker field *before* `rhost=`: a name `a rhost=9.9.9.9
/// user=b` would walk to 9.9.9.9. So when `ruser=` is not empty, `user=` must repeat it
/// exactly: a spaced name then never matches (the walk stops inside its first copy and the
/// user taken runs to the line's end, through the real `rhost=`).
///
/// pam_unix leaves `user=` out when the account is unknown: `ruser=R rhost=ADDR`. Such a
/// line is read when `rhost=ADDR` ends it, which holds only if R has no ` rhost=` and no
/// `  user=` in it: the walk stops at the first space of R, so a ` rhost=` inside R makes
/// the walk's `rhost=` the client's, and the real ` rhost=ADDR` after it is then a tail that
/// is not `  user=U`, refused; an R with `  user=x` gives a user that runs through the real
/// ` rhost=` and so never equals the one-word ruser, refused. `ruser=rhost=1.2.3.4
/// rhost=ADDR` has no space in R: its first word is all of it, and ADDR is pam_unix's.
pub fn pam_fields<'a>(s: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    fn word<'s>(s: &'s str, key: &str) -> Option<(&'s str, &'s str)> {
        s.strip_prefix(key)?.cut(" ")
    }
    let (_logname, s) = word(s, "logname=")?;
    let (uid, s) = word(s, "uid=")?;
    let (euid, s) = word(s, "euid=")?;
    let (_tty, s) = word(s, "tty=")?;
    let (ruser, s) = word(s, "ruser=")?;
    let s = s.strip_prefix("rhost=")?;
    if !is_digits(uid) || !is_digits(euid) {
        return None;
    }
    let (host, user) = match s.cut(" ") {
        // pam_unix writes a space after the address (`rhost=%s %s%s`): a line without it
        // lost its end (or a relay or an editor stripped the space). Only the client's
        // `ruser=` (the name sent, which vsftpd, dovecot and pure-ftpd hand PAM) can make a
        // line long enough for a relay to cut it there, inside the address: read that form
        // only when ruser is short enough to keep the whole line under the smallest cap.
        None if ruser.len() <= MAX_UNCUT_RUSER => (s, None),
        None => return None,
        // pam_unix writes `rhost=ADDR ` (trailing space) without a user, `rhost=ADDR  user=U`
        // with one; some relays squeeze the double space, and pam_sss writes one
        // (`rhost=ADDR user=`, empty for no user).
        Some((host, "")) => (host, None),
        Some((host, tail)) => {
            let tail = tail.strip_prefix(' ').unwrap_or(tail);
            (host, Some(tail.strip_prefix("user=")?))
        }
    };
    if let Some(user) = user
        && !ruser.is_empty()
        && user != ruser
    {
        return None;
    }
    // Only an IP literal: a host name (reverse DNS) is no evidence.
    if !host
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'%'))
    {
        return None;
    }
    let ip = address(host)?;
    Some(match user.filter(|u| !u.is_empty()) {
        Some(user) => Finding::new(failure_kind(Some(user), o), ip, Some(user)),
        None => Finding::new(Kind::Failed, ip, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cut` and `rcut` are std's `split_once` and `rsplit_once`, only faster.
    #[test]
    fn cut_is_split_once() {
        let hays = [
            "",
            "a",
            "aa",
            "aaa",
            "aaaa",
            "abab ab",
            " from  from ",
            "x port 1 port 2",
            "é from ü from ",
            "ssh2: a ssh2: b",
            "  ",
            "from",
            " port port  port ",
            "x]: y] z]:",
        ];
        // Needles that start or end with spaces too: the search anchors on the first byte
        // that is not one.
        let needles = [
            "a", "aa", "ab", " ", "  ", " from ", " port ", "ssh2: ", "ü", " ü ", "é f", "from",
            "zz", "]:", "] ",
        ];
        for hay in hays {
            for needle in needles {
                assert_eq!(
                    hay.cut(needle),
                    hay.split_once(needle),
                    "{hay:?} {needle:?}"
                );
                assert_eq!(
                    hay.rcut(needle),
                    hay.rsplit_once(needle),
                    "{hay:?} {needle:?}"
                );
            }
        }
    }

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
