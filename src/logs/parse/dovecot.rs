/*!
dovecot: the login processes' verdicts (`imap-login: Login: ...`, `Disconnected (auth failed, ...)`,
`(no auth attempts ...)`) and the auth processes' `driver(USER,ADDR): unknown user` /
`Password mismatch` lines. See the rules in `parse/mod.rs`.

Where the attacker writes:
- `user=<...>` on a login line is the name the client sent, cut by dovecot to 80 bytes
  (`str_sanitize`, control bytes as `?`; 64 on auth lines), so dovecot itself never cuts a
  line before the address; a longer name is not dovecot's and the line is refused. After
  the address dovecot always writes `, lip=ADDR` and its own fields, `session=<ID>` last: a
  line without that tail (a relay cut it, perhaps inside the address) is refused.
  The name may contain `>, `, `rip=9.9.9.9`,
  even `, lip=`. Dovecot prints its own fields after it in a fixed order (`method=`, `rip=`,
  `lip=`, `mpid=`, `TLS`, `session=<...>`), none of them chosen by the client, so the address is
  the *last* `, rip=` field of the line (we scan from the right). Only when dovecot printed no
  `rip=` at all (a client on a unix socket) could that last one lie inside the user name; then a
  `method=` still follows it, which never happens after the real `rip=`, and the line is refused.
- `driver(USER,ADDR[,<session>]): verdict` on an auth line: USER may contain commas and
  parentheses. The verdict must end the message, and the address is the last comma-separated
  element before it (right to left). With `auth_verbose_passwords=plain` the password is printed
  after the verdict, a second attacker field on the other side of the address: such lines are
  skipped (the login line of the same attempt still counts). Dovecot 2.4 writes the request
  first and the passdb after it, `auth(USER,ADDR,sasl:MECH)<SESSION>: PASSDB: verdict`: read
  the same way, right to left.
*/

use super::lex::Cut;
use super::lex::{is_pam_module_line, pam_auth_failure, root_rule};
use super::{Finding, ParseOptions, address};
use crate::ip::ClientIp;
use crate::logs::{Kind, Report};

/// Recognises one dovecot message.
///
/// The message is either what follows `dovecot: ` (it starts with the process name:
/// `imap-login: `, `auth: `, `auth-worker(123): `) or, for old dovecot that logged under the
/// program name `imap-login`, the verdict itself (`Login: user=<...>, ...`).
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let message = strip_info(message);
    if let Some(pam) = pam(message, options) {
        return Some(pam);
    }
    if let Some(rest) = strip_login_process(message) {
        return login(strip_info(rest), options);
    }
    if let Some(rest) = strip_auth_process(message) {
        return auth(rest, options);
    }
    login(message, options)
}

/// PAM's own line from dovecot's auth process (`pam_unix(dovecot:auth): authentication
/// failure; ... rhost=ADDR  user=USER`), bare or after the auth process's prefix (`auth: `,
/// `auth-worker(N): `, which runs blocking passdbs such as pam, or `dovecot-auth: `): the backend's report of one attempt, like `Password mismatch`.
fn pam<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let rest = strip_auth_process(message)
        .or_else(|| message.strip_prefix("dovecot-auth: ").map(strip_info))
        .unwrap_or(message);
    if !is_pam_module_line(rest) {
        return None;
    }
    pam_auth_failure(rest, &["dovecot"], options)
}

/// Dovecot's own log files (and some versions) put the level first: `imap-login: Info: ...`.
fn strip_info(text: &str) -> &str {
    text.strip_prefix("Info: ").unwrap_or(text)
}

/// `imap-login: `, `pop3-login: `, `submission-login: `, `managesieve-login: ` ...
fn strip_login_process(message: &str) -> Option<&str> {
    let (process, rest) = message.cut(": ")?;
    let protocol = process.strip_suffix("-login")?;
    (!protocol.is_empty()
        && protocol
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    .then_some(rest)
}

/// `auth: `, `auth(default): `, `auth-worker(123): `, then the optional level and the
/// `conn unix:auth-worker (pid=N,uid=N): auth-worker<N>: ` prefix of dovecot 2.3.
fn strip_auth_process(message: &str) -> Option<&str> {
    let rest = if let Some(rest) = message.strip_prefix("auth: ") {
        rest
    } else {
        let rest = message
            .strip_prefix("auth-worker(")
            .or_else(|| message.strip_prefix("auth("))?;
        let (id, rest) = rest.cut("): ")?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        rest
    };
    let rest = strip_info(rest);
    if let Some(conn) = rest.strip_prefix("conn unix:") {
        let (_, after) = conn.cut("): auth-worker<")?;
        let (n, after) = after.cut(">: ")?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(strip_info(after));
    }
    Some(rest)
}

/// A login process line: `REASON: user=<...>, method=..., rip=ADDR, lip=..., ...`.
fn login<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    // The reason is dovecot's text and comes first; the client's user name only follows it,
    // so the first `: user=<` is the real field (when there is no user field, the line holds
    // nothing the client wrote).
    let split = message
        .find(": user=<")
        .or_else(|| message.find(": method="))
        .or_else(|| message.find(": rip="))?;
    let (reason, fields) = (&message[..split], &message[split + 2..]);
    let (kind, attempts) = if reason == "Login" {
        (Kind::Success, 0)
    } else {
        disconnect_kind(reason)?
    };
    let (ip, before_rip) = rip(fields)?;
    let user = user_field(before_rip)?;
    let kind = root_rule(kind, user, options);
    let finding = Finding::new(kind, ip, user);
    Some(match kind {
        // One line for the connection, naming how many attempts it made.
        Kind::Failed | Kind::Naughty => finding.reported_as(Report::AuthResult, attempts),
        _ => finding,
    })
}

/// `Disconnected (auth failed, 1 attempts in 2 secs)`, `Disconnected: Inactivity (no auth
/// attempts)`, `Aborted login (...)`, `Login aborted: Connection closed (...) (auth_failed)`:
/// the kind, and how many attempts the connection made.
fn disconnect_kind(reason: &str) -> Option<(Kind, u32)> {
    let rest = reason
        .strip_prefix("Disconnected")
        .or_else(|| reason.strip_prefix("Aborted login"))
        .or_else(|| reason.strip_prefix("Login aborted"))?;
    let rest = strip_reason_code(rest);
    let (_, last) = rest.rcut("(")?;
    let inner = last.strip_suffix(')')?;
    // A proxy's backend refused the password: `(proxy dest auth failed)`, since 2.3.x
    // with `, N attempts in S secs` or `, S/N successful auths in S secs` (the proxy's
    // own passdb let it through): one failure at least.
    if let Some(rest) = inner.strip_prefix("proxy dest auth failed") {
        let attempts = (rest.strip_prefix(", "))
            .and_then(|r| r.cut(" attempts"))
            .and_then(|(n, _)| n.parse::<u32>().ok())
            .unwrap_or(1)
            .clamp(1, MAX_ATTEMPTS_PER_CONNECTION);
        return (rest.is_empty() || rest.starts_with(", ")).then_some((Kind::Failed, attempts));
    }
    if let Some(count) = inner.strip_prefix("auth failed, ") {
        // `N attempts[ in S secs]`; dovecot's login_max_auth_attempts-like limits keep N
        // small, a bound keeps a forged N harmless.
        let attempts = (count.cut(" attempts"))
            .and_then(|(n, _)| n.parse::<u32>().ok())
            .unwrap_or(1)
            .clamp(1, MAX_ATTEMPTS_PER_CONNECTION);
        Some((Kind::Failed, attempts))
    } else if inner == "no auth attempts" || inner.starts_with("no auth attempts in ") {
        Some((Kind::Probe, 1))
    } else if inner == "tried to use disabled plaintext auth"
        || inner == "tried to use disallowed plaintext auth"
    {
        // A password sent in clear where dovecot refuses it (`disable_plaintext_auth`): no
        // verdict on the password, but a client that throws one at the open port.
        Some((Kind::Probe, 1))
    } else {
        // Client gave up mid-SASL, internal failure: no verdict.
        None
    }
}

/// Newer dovecot appends a machine-readable code: `... (auth failed, 1 attempts) (auth_failed)`.
fn strip_reason_code(text: &str) -> &str {
    if let Some(body) = text.strip_suffix(')')
        && let Some((head, code)) = body.rcut(" (")
        && !code.is_empty()
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return head;
    }
    text
}

/// The address of the last `rip=` field, and the fields before it.
fn rip(fields: &str) -> Option<(ClientIp, &str)> {
    let (before, value) = match fields.rfind(", rip=") {
        Some(at) => (&fields[..at], &fields[at + ", rip=".len()..]),
        None => ("", fields.strip_prefix("rip=")?),
    };
    // `method=` always precedes the real rip: one after it means this `rip=` was inside the
    // user name of a line without a real one.
    if value.contains(", method=") {
        return None;
    }
    let end = value.find(',').unwrap_or(value.len());
    let (addr, tail) = value.split_at(end);
    if !is_login_tail(tail) {
        return None;
    }
    Some((address(addr)?, before))
}

/// What dovecot itself writes after `rip=ADDR`: `, lip=ADDR`, then its own fields
/// (`mpid=N`, `TLS`, `secured`, ...) with `session=<ID>` last if present. A line that stops
/// inside the address (a relay cut it: `rip=2001:db8::12` of `2001:db8::1234` is another
/// valid address) or puts anything else there is not read.
fn is_login_tail(tail: &str) -> bool {
    let Some(rest) = tail.strip_prefix(", lip=") else {
        return false;
    };
    let end = rest.find(',').unwrap_or(rest.len());
    if address(&rest[..end]).is_none() {
        return false;
    }
    match rest.find("session=<") {
        None => true,
        Some(at) => {
            let session = &rest[at + "session=<".len()..];
            rest[..at].ends_with(", ") && session.strip_suffix('>').is_some_and(is_session_id)
        }
    }
}

/// dovecot cuts a user name to 80 bytes (`str_sanitize(user, 80)`) before it logs it on a
/// login line, and to 64 on an auth line: a longer "name" is not one dovecot wrote.
const MAX_LOGIN_USER: usize = 80;
const MAX_AUTH_USER: usize = 64;

/// The user name from `user=<NAME>` or `user=<NAME>, method=MECH` (what precedes `rip=`).
fn user_field(before_rip: &str) -> Option<Option<&str>> {
    let field = match before_rip.rcut(", method=") {
        Some((head, mech)) if is_mechanism(mech) => head,
        _ => before_rip,
    };
    let Some(name) = field
        .strip_prefix("user=<")
        .and_then(|f| f.strip_suffix('>'))
    else {
        return Some(None);
    };
    if name.len() > MAX_LOGIN_USER {
        return None;
    }
    Some((!name.is_empty()).then_some(name))
}

fn is_mechanism(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The passdb drivers whose lookups log `driver(user,addr): ...`.
const DRIVERS: [&str; 14] = [
    "passwd-file",
    "pam",
    "sql",
    "ldap",
    "passwd",
    "shadow",
    "checkpassword",
    "bsdauth",
    "static",
    "lua",
    "vpopmail",
    "imap",
    "oauth2",
    "dict",
];

/// Verdicts an auth line ends with, after `driver(USER,ADDR[,<session>]`.
const AUTH_VERDICTS: [(&str, Kind); 8] = [
    ("): unknown user", Kind::Naughty),
    (
        "): pam_authenticate() failed: User not known to the underlying authentication module",
        Kind::Naughty,
    ),
    ("): Password mismatch", Kind::Failed),
    (
        "): pam_authenticate() failed: Authentication failure (password mismatch?)",
        Kind::Failed,
    ),
    // 2.3.x+ capitalise the hint (`AUTH_LOG_MSG_PASSWORD_MISMATCH`).
    (
        "): pam_authenticate() failed: Authentication failure (Password mismatch?)",
        Kind::Failed,
    ),
    // Any other PAM refusal is a password mismatch to dovecot too.
    (
        "): pam_authenticate() failed: Permission denied",
        Kind::Failed,
    ),
    // passdb ldap with auth_bind: `invalid credentials` up to 2.2, then the bind's own
    // mismatch (2.3, 2.4).
    ("): invalid credentials", Kind::Failed),
    ("): Password mismatch (for LDAP bind)", Kind::Failed),
];

/// An auth process line: `passwd-file(bob,203.0.113.5,<sessid>): unknown user`.
fn auth<'a>(text: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    if let Some(finding) = auth_named_by_process(text, options) {
        return Some(finding);
    }
    let (driver, rest) = text.cut("(")?;
    if !DRIVERS.contains(&driver) {
        return None;
    }
    let rest = strip_password_hash(rest);
    let (inner, kind) = AUTH_VERDICTS
        .iter()
        .find_map(|&(verdict, kind)| rest.strip_suffix(verdict).map(|inner| (inner, kind)))?;
    // A logged password always sits after the verdict, so it can only be in `inner` if the
    // password itself ended with a fake verdict: refuse rather than guess.
    if inner.contains("(given password: ") {
        return None;
    }
    let inner = strip_session(inner);
    let (user, addr) = inner.rcut(",")?;
    if user.len() > MAX_AUTH_USER {
        return None;
    }
    let ip = address(addr)?;
    let kind = root_rule(kind, Some(user), options);
    let finding = Finding::new(kind, ip, (!user.is_empty()).then_some(user));
    // With `auth_verbose`, each attempt is logged here as well as summed up by the login
    // process: the same attempts, reported twice.
    Some(finding.reported_as(Report::Backend, 1))
}

/// Dovecot 2.4 (auth-request.c `get_log_prefix`, `auth_request_get_log_prefix_db`) names
/// the process first and the passdb after the request: `auth(USER,ADDR[,sasl:MECH][,master])
/// [<PID>][<SESSION>][: request [N]]: PASSDB: VERDICT`. Read right to left: the verdict,
/// the passdb's name, dovecot's own request fields, then the address is the last element
/// inside the parentheses, and USER (the client's, cut to 64 bytes) is what is left.
fn auth_named_by_process<'a>(text: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    let rest = (text.strip_prefix("auth(")).or_else(|| text.strip_prefix("auth-worker("))?;
    let rest = strip_password_hash(rest);
    if rest.contains("(given password: ") {
        return None;
    }
    let (head, kind) = AUTH_VERDICTS.iter().find_map(|&(verdict, kind)| {
        let verdict = verdict.strip_prefix("): ")?;
        let head = rest.strip_suffix(verdict)?.strip_suffix(": ")?;
        Some((head, kind))
    })?;
    let (head, passdb) = head.rcut(": ")?;
    if !is_mechanism(passdb) {
        return None;
    }
    let head = match head.strip_suffix(']').and_then(|h| h.rcut(": request [")) {
        Some((h, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => head,
    };
    // `<PID>` of a worker, then `<SESSION>`; both dovecot's, neither holds `<`.
    let mut head = head;
    for _ in 0..2 {
        match head.strip_suffix('>').and_then(|h| h.rcut("<")) {
            Some((h, id)) if is_session_id(id) => head = h,
            _ => break,
        }
    }
    let inner = head.strip_suffix(')')?;
    let inner = inner.strip_suffix(",master").unwrap_or(inner);
    let inner = match inner.rcut(",sasl:") {
        Some((h, mech)) if is_mechanism(mech) => h,
        _ => inner,
    };
    let (user, addr) = inner.rcut(",")?;
    if user.len() > MAX_AUTH_USER {
        return None;
    }
    let ip = address(addr)?;
    let kind = root_rule(kind, Some(user), options);
    let finding = Finding::new(kind, ip, (user != "?" && !user.is_empty()).then_some(user));
    Some(finding.reported_as(Report::Backend, 1))
}

/// A session id as dovecot writes it: base64 (`+/=`), or its URL-safe alphabet (`-_`),
/// which ids handed on by a proxy in front of dovecot can use. Never spaces, commas or `>`.
fn is_session_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
}

/// The most attempts one login-process line stands for.
const MAX_ATTEMPTS_PER_CONNECTION: u32 = 100;

/// `auth_verbose_passwords=sha1` appends ` (SHA1 of given password: 6367c4)`: hex only, so it
/// cannot carry text; the plain-password variant is left in place and the line not recognised.
fn strip_password_hash(text: &str) -> &str {
    if let Some(body) = text.strip_suffix(')')
        && let Some((head, hex)) = body.rcut(" (SHA1 of given password: ")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return head;
    }
    text
}

/// Dovecot 2.2+ adds the session id: `bob,203.0.113.5,<jaOmpreVvO0zW9RP>`.
fn strip_session(inner: &str) -> &str {
    if let Some(body) = inner.strip_suffix('>')
        && let Some((head, session)) = body.rcut(",<")
        && is_session_id(session)
    {
        return head;
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(message: &str) -> Option<(Kind, String, Option<String>)> {
        parse(message, &ParseOptions::default())
            .map(|f| (f.kind, f.ip.to_string(), f.user.map(str::to_owned)))
    }

    fn expect(message: &str, kind: Kind, ip: &str, user: Option<&str>) {
        assert_eq!(
            parsed(message),
            Some((kind, ip.to_string(), user.map(str::to_owned))),
            "{message}"
        );
    }

    #[test]
    fn the_real_rip_is_the_last_one() {
        expect(
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, rip=9.9.9.9, \
             lip=1.1.1.1>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, TLS, session=<abc>",
            Kind::Failed,
            "203.0.113.5",
            Some("x>, rip=9.9.9.9, lip=1.1.1.1"),
        );
        expect(
            "pop3-login: Login: user=<a, rip=9.9.9.9, x>, method=PLAIN, rip=2001:db8::7, \
             lip=192.0.2.1, mpid=12, TLS, session=<abc>",
            Kind::Success,
            "2001:db8::7",
            Some("a, rip=9.9.9.9, x"),
        );
    }

    #[test]
    fn a_rip_inside_the_user_name_of_a_line_without_one_is_refused() {
        // A unix-socket client has no rip: the only `rip=` is the attacker's.
        assert_eq!(
            parsed(
                "imap-login: Login: user=<a, rip=9.9.9.9, lip=x>, method=PLAIN, mpid=3, \
                 session=<abc>"
            ),
            None
        );
    }

    #[test]
    fn a_line_cut_inside_or_before_the_tail_is_refused() {
        // Cut inside the real IPv6 rip: the rest is another valid address.
        assert_eq!(
            parsed(
                "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<a>, \
                 method=PLAIN, rip=2001:db8::12"
            ),
            None
        );
        // A user name longer than dovecot's 80 bytes holding a whole fake tail.
        let long = format!(
            "imap-login: Login: user=<{}>, method=PLAIN, rip=198.51.100.17, lip=192.0.2.1, \
             session=<a>",
            "A".repeat(81)
        );
        assert_eq!(parsed(&long), None);
        // Only dovecot's fields after lip; session last.
        assert_eq!(
            parsed(
                "imap-login: Login: user=<a>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, \
                 session=<a>, rip=198.51.100.17"
            ),
            None
        );
        expect(
            "imap-login: Login: user=<a>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, \
             mpid=7, TLS, session=<Ab+/9=>",
            Kind::Success,
            "203.0.113.5",
            Some("a"),
        );
    }

    #[test]
    fn reasons_map_to_kinds() {
        expect(
            "imap-login: Disconnected: Inactivity (no auth attempts): rip=198.51.100.4, lip=1.1.1.1",
            Kind::Probe,
            "198.51.100.4",
            None,
        );
        expect(
            "imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 9 secs) \
             (auth_failed): user=<root>, method=PLAIN, rip=198.51.100.4, lip=1.1.1.1, session=<a>",
            Kind::Naughty,
            "198.51.100.4",
            Some("root"),
        );
        expect(
            "pop3-login: Aborted login (tried to use disabled plaintext auth): \
             rip=198.51.100.4, lip=1.1.1.1",
            Kind::Probe,
            "198.51.100.4",
            None,
        );
    }

    #[test]
    fn auth_lines_take_the_address_right_to_left() {
        expect(
            "auth: passwd-file(a,9.9.9.9),(b,203.0.113.8,<Zk9+/x>): unknown user",
            Kind::Naughty,
            "203.0.113.8",
            Some("a,9.9.9.9),(b"),
        );
        expect(
            "auth-worker(63712): conn unix:auth-worker (pid=58074,uid=109): auth-worker<4>: \
             sql(contact,220.169.110.101): unknown user",
            Kind::Naughty,
            "220.169.110.101",
            Some("contact"),
        );
        // A logged password is a second attacker field after the address.
        assert_eq!(
            parsed("auth: sql(bob,203.0.113.8): unknown user (given password: x,9.9.9.9)"),
            None
        );
        assert_eq!(
            parsed(
                "auth: sql(bob,203.0.113.8): unknown user (given password: ,9.9.9.9): unknown user)"
            ),
            None
        );
        assert_eq!(
            parsed(
                "auth: sql(bob,203.0.113.8): unknown user (given password: ,9.9.9.9): unknown user"
            ),
            None
        );
    }
}
