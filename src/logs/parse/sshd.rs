/*!
sshd (`sshd`, `sshd-session`, `sshd-auth`): what one OpenSSH message says about which
address.

sshd writes the client's user name into its lines unescaped, so a user name can hold
spaces, `from 10.0.0.1 port 22`, `Accepted`, `[preauth]`, `user=` or `rhost=`. Every rule
here therefore:
- recognises the message by its fixed literal start (sshd's own words; a client cannot
  make a message *start* differently), dispatched on the first byte;
- takes the address from the fixed structure at the far side of the attacker's text:
  the *end* for `... USER from ADDR port N ssh2` (optional ` [preauth]`, ` ssh2`,
  ` port N` come off the right, then the last ` from `), the *start* where no client text
  comes before the address (`Unable to negotiate with ADDR`, `banner exchange`), and a
  left-to-right walk over single-word fields for pam_unix, whose user name is last;
- returns None when the structure does not fit, or the address is not an IP literal
  (a host name under `UseDNS yes`).

sshd also *cuts* its messages: `log.c` escapes every byte that is not printable into
`\ooo` (four characters; the monitor escapes what it relays from the pre-auth child once
more) and hands syslog `"%.500s"`. A client can therefore choose a user name just long
enough that the cut falls right after text of its own, such as ` 198.51.100.17 port 22
[preauth]`. So a message of [`MESSAGE_CAP`] bytes or more is never evidence against the
address it ends with; only rules that read the address *before* any client text still
apply to it. Rules for pre-auth messages also require sshd's whole tail
(` port N [preauth]`): its absence means the line was not written whole by sshd.

A few lines name no address at all (`Disconnecting: Too many authentication failures`,
`User X not allowed because account is locked`): they are joined to the address that an
earlier line of the same process named, through [`SshdSessions`], or are not evidence.

No keyword is ever searched for across the whole message, nothing allocates, and no
regular expression is used: this runs once per log line.
*/

use super::lex::Cut;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::lex::{failure_kind, is_digits, pam_auth_failure, pam_more_failures, tcpd_refusal};
use super::{Finding, ParseOptions};
use crate::ip::ClientIp;
use crate::logs::{Kind, Report};

/// Recognises one sshd message (the text after `sshd[pid]: `) on its own, without the
/// lines of its process before it.
pub fn parse<'a>(message: &'a str, options: &ParseOptions) -> Option<Finding<'a>> {
    parse_one(message, options)
}

/// The address each sshd connection process (by pid) named last, for its later lines that
/// name none. Only sshd's own fixed structure sets it: `Connection from ADDR port N on ...`
/// (LogLevel VERBOSE) or a recognised line of that pid. Bounded; the oldest go first.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SshdSessions {
    by_pid: HashMap<u32, Session, BuildHasherDefault<PidHasher>>,
    /// Pids in the order they were last set, with the stamp they had; stale ones are
    /// skipped when evicting.
    order: VecDeque<(u32, u64)>,
    next_stamp: u64,
    /// The time of the line being read (unix seconds; 0 unknown), and the latest seen.
    #[serde(skip)]
    now: i64,
    #[serde(skip)]
    newest: i64,
    /// `newest` when stale entries were last forgotten.
    #[serde(skip)]
    swept: i64,
}

/// Every sshd line with an address is looked up by its pid: a multiplication is enough
/// to spread pids (the map holds at most `MAX_SESSIONS`, so even chosen pids that collide
/// cost a bounded walk), where the default keyed hash cost 2% of a parse.
#[derive(Debug, Default)]
struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, pid: u32) {
        self.0 = (self.0 ^ u64::from(pid)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// What one sshd process named.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Session {
    ip: ClientIp,
    stamp: u64,
    /// Set by the connection's own first line (`Connection from`, LogLevel VERBOSE): then
    /// no earlier connection that had the same pid can be meant.
    announced: bool,
    /// An address-less line already counted this connection as a probe (one connection
    /// that fails its key exchange often logs two such lines).
    #[serde(default)]
    probed: bool,
    /// `Failed publickey` lines of a valid account, not counted yet. A client offers each
    /// key of its agent in turn, and sshd logs each refused one (from the third on at
    /// LogLevel INFO): a developer with five keys pushing to a `git` account (whose logins
    /// confer no trust) would pile up failures on every push. So the offers count only
    /// when the connection ends without a login, as a floor under its closing summary
    /// (`Connection closed by authenticating user`, `Received disconnect`, `Too many
    /// authentication failures`), and a login drops them.
    #[serde(default)]
    key_offers: u32,
    /// Time of the process's last line that named this address (unix seconds; 0 unknown).
    #[serde(default)]
    seen: i64,
}

/// sshd connection processes remembered at once.
const MAX_SESSIONS: usize = 4096;

/// A connection process not heard of for this long is over: sshd ends a connection that
/// has not logged in after `LoginGraceTime` (2 minutes by default), and a logged-in
/// session's lines need no join.
const STALE_SECONDS: i64 = 600;

impl SshdSessions {
    /// Recognises one sshd message of process `pid`, joining the lines without an address
    /// to the one the process named before.
    pub fn parse<'a>(
        &mut self,
        pid: Option<u32>,
        m: &'a str,
        o: &ParseOptions,
    ) -> Option<Finding<'a>> {
        let Some(pid) = pid else {
            return parse_one(m, o);
        };
        if let Some(rest) = m.strip_prefix("Connection from ") {
            // A new connection on this pid: the address before it must not be blamed,
            // whether this one is readable or not.
            match leading_address(rest) {
                Some(f) => self.remember(pid, f.ip, true),
                None => {
                    self.by_pid.remove(&pid);
                }
            }
            return None;
        }
        if let Some((ip, first)) = patched_announcement(m) {
            // A patched sshd's per-stage trace (`SSH: Server;Ltype: ...`): `Version` is
            // the connection's first line, like `Connection from`.
            self.remember(pid, ip, first);
            return None;
        }
        if let Some(session) = self.by_pid.get_mut(&pid)
            && let Some(f) = addressless(m, session)
        {
            return Some(with_key_offers(f, session));
        }
        let mut f = parse_one(m, o)?;
        if is_key_offer(m) && f.report == Report::AuthResult {
            // Held until the connection ends (see `Session::key_offers`).
            self.remember(pid, f.ip, false);
            if let Some(session) = self.by_pid.get_mut(&pid) {
                session.key_offers = session.key_offers.saturating_add(f.count);
            }
            return None;
        }
        if let Some(session) = self.by_pid.get_mut(&pid) {
            if f.kind == Kind::Probe && session.probed && session.ip == f.ip {
                // The connection's address-less line counted it already (8.2+'s
                // `Connection closed by ADDR port N` after `kex_exchange_identification`).
                return None;
            }
            f = with_key_offers(f, session);
        }
        if f.kind == Kind::Success {
            // A logged-in session writes no pre-auth lines: a later one is a new connection
            // that reused the pid, and must not be blamed on this user.
            self.by_pid.remove(&pid);
        } else if !m.starts_with("drop connection #") && !m.starts_with(LISTENER_TIMEOUT) {
            // (The listener's penalty and timeout lines name connections not its own.)
            self.remember(pid, f.ip, false);
        }
        Some(f)
    }

    /// The `n` most recently set entries, to keep between scans.
    pub fn recent(&self, n: usize) -> SshdSessions {
        let mut entries: Vec<(u32, Session)> = self.by_pid.iter().map(|(p, e)| (*p, *e)).collect();
        entries.sort_by_key(|(_, e)| std::cmp::Reverse(e.stamp));
        entries.truncate(n);
        entries.sort_by_key(|(_, e)| e.stamp);
        SshdSessions {
            order: entries.iter().map(|(p, e)| (*p, e.stamp)).collect(),
            by_pid: entries.into_iter().collect(),
            next_stamp: self.next_stamp,
            now: 0,
            newest: 0,
            swept: 0,
        }
    }

    /// The lines that follow were written at `time` (unix seconds), if known.
    pub fn set_time(&mut self, time: Option<i64>) {
        self.now = time.unwrap_or(0);
        self.newest = self.newest.max(self.now);
    }

    /// Forgets the processes not heard of for [`STALE_SECONDS`] before the latest line, and
    /// gives back the room a burst made the tables grow to. For a follower, which reads one
    /// stream in time order and runs for months (a scan ends, and keeps the most recent
    /// entries only).
    pub fn forget_stale(&mut self) {
        // At most once a minute of the log's time: a busy follower decides often.
        if self.newest.saturating_sub(self.swept) < 60 {
            return;
        }
        self.swept = self.newest;
        let before = self.newest.saturating_sub(STALE_SECONDS);
        // Entries of lines without a time (`seen` 0) are bounded by MAX_SESSIONS alone.
        self.by_pid.retain(|_, s| s.seen >= before || s.seen == 0);
        let by_pid = &self.by_pid;
        (self.order).retain(|(p, s)| by_pid.get(p).is_some_and(|e| e.stamp == *s));
        let live = self.by_pid.len();
        if self.by_pid.capacity() > 4 * live + 64 {
            self.by_pid.shrink_to(2 * live);
            self.order.shrink_to(2 * live);
        }
    }

    fn remember(&mut self, pid: u32, ip: ClientIp, announced: bool) {
        if !announced
            && let Some(known) = self.by_pid.get_mut(&pid)
            && known.ip == ip
        {
            known.seen = known.seen.max(self.now);
            return;
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let session = Session {
            ip,
            stamp,
            announced,
            probed: false,
            key_offers: 0,
            seen: self.now,
        };
        self.by_pid.insert(pid, session);
        self.order.push_back((pid, stamp));
        while self.by_pid.len() > MAX_SESSIONS {
            let Some((old, old_stamp)) = self.order.pop_front() else {
                break;
            };
            if self.by_pid.get(&old).is_some_and(|e| e.stamp == old_stamp) {
                self.by_pid.remove(&old);
            }
        }
        if self.order.len() > 2 * MAX_SESSIONS {
            let by_pid = &self.by_pid;
            (self.order).retain(|(p, s)| by_pid.get(p).is_some_and(|e| e.stamp == *s));
        }
    }
}

/// `SSH: Server;Ltype: KIND;Remote: ADDR-PORT;...`, a per-stage trace some patched sshd
/// builds log (fail2ban's samples hold it): the address and port come right after sshd's
/// own words, before the client's version string or user name. Returns the address and
/// whether the line starts a connection (`Version`, its first stage).
fn patched_announcement(m: &str) -> Option<(ClientIp, bool)> {
    let rest = m.strip_prefix("SSH: Server;Ltype: ")?;
    let (stage, rest) = rest.cut(";Remote: ")?;
    let first = match stage {
        "Version" => true,
        "Kex" | "Authname" => false,
        _ => return None,
    };
    let (remote, _) = rest.cut(";")?;
    let (addr, port) = remote.rcut("-")?;
    if !is_digits(port) {
        return None;
    }
    Some((ip(addr)?, first))
}

/// A connection's end, with the refused keys its process held (see `Session::key_offers`):
/// a summary counts them as a floor; a scanner's close (`Connection closed by ADDR
/// [preauth]`, all that sshd before 7.x wrote after refused keys) becomes a failure of that
/// many. Other lines, and lines of another address, leave them held.
fn with_key_offers<'a>(f: Finding<'a>, session: &mut Session) -> Finding<'a> {
    if session.ip != f.ip || session.key_offers == 0 {
        return f;
    }
    match (f.kind, f.report) {
        (_, Report::Summary) => {
            let offers = std::mem::take(&mut session.key_offers);
            Finding {
                count: f.count.max(offers),
                ..f
            }
        }
        (Kind::Probe, _) => {
            let offers = std::mem::take(&mut session.key_offers);
            Finding::new(Kind::Failed, f.ip, None).reported_as(Report::Summary, offers)
        }
        _ => f,
    }
}

/// `Failed publickey for USER ...` of a valid account (an invalid user's is naughty on its
/// own line, and counted at once).
fn is_key_offer(m: &str) -> bool {
    (m.strip_prefix("Failed publickey for ")).is_some_and(|user| strip_invalid(user).is_none())
}

/// A connection that ended before it authenticated, in words that name no address: the
/// key exchange failed or the client went away. Written by the connection's own process
/// before any other line of it, so only its own announcement can name the address.
///
/// OpenSSH 8.0+'s `kex_exchange_identification: ...` (the client sent no SSH banner: a
/// port scanner, an HTTP probe) is one of them: 8.0 and 8.1 write nothing after it, and
/// 8.2+ follow it with a line that names the address (`Connection closed by ADDR port N`,
/// `banner exchange: Connection from ADDR ...`), which [`SshdSessions::parse`] then does
/// not count a second time.
fn is_addressless_probe(m: &str) -> bool {
    let unprefixed = m.strip_prefix("error: ").unwrap_or(m);
    if unprefixed.starts_with("kex_exchange_identification: ") {
        return true;
    }
    let Some(rest) = m.strip_prefix("fatal: ") else {
        return false;
    };
    let Some(rest) = required_preauth(rest) else {
        return false;
    };
    // OpenSSH before 7.x: `Read from socket failed: ...`, `Unable to negotiate a key
    // exchange method`, `no matching cipher found: client ... server ...`.
    rest.starts_with("Read from socket failed: ")
        || rest.starts_with("Unable to negotiate a ")
        || (rest.starts_with("no matching ") && rest.contains(" found: client "))
}

/// Messages that name no address, blamed on the one their process named before.
fn addressless<'a>(m: &'a str, session: &mut Session) -> Option<Finding<'a>> {
    let ip = session.ip;
    if is_addressless_probe(m) {
        if !session.announced || session.probed {
            return None;
        }
        session.probed = true;
        return Some(Finding::new(Kind::Probe, ip, None));
    }
    if let Some(rest) = m.strip_prefix("Disconnecting: Too many authentication failures") {
        // OpenSSH 5.9-7.3 (before, the pre-auth child logged it under its own pid, without
        // ` [preauth]`); up to 6.x with ` for USER`, the client's name. MaxAuthTries
        // reached: sshd logged the later half of those failures at LogLevel INFO already,
        // each naming this connection's address, so the entry is this connection's.
        let rest = preauth(rest).0;
        let user = match rest.strip_prefix(" for ") {
            Some(user) => Some(user),
            None if rest.is_empty() => None,
            None => return None,
        };
        let f = Finding::new(Kind::Naughty, ip, user);
        return Some(f.reported_as(Report::Summary, 1));
    }
    // `allowed_user()`'s reasons that name no host: USER is the account's own name. They
    // come before any other line of the connection, so only the connection's own
    // `Connection from` (LogLevel VERBOSE) can name its address; at INFO, the pid's entry
    // may be an older connection's.
    if !session.announced {
        return None;
    }
    let (user, reason) = m.strip_prefix("User ")?.cut(" not allowed because ")?;
    let known = reason == "account is locked"
        || reason.strip_prefix("shell ").is_some_and(|shell| {
            shell.ends_with(" does not exist") || shell.ends_with(" is not executable")
        });
    (known && !user.is_empty() && !user.contains(' ')).then(|| finding(Kind::Naughty, ip, user))
}

/// sshd hands syslog at most this many bytes of a message (`log.c`: `"%.500s"`, after
/// escaping). rsyslog (`maxMessageSize`, 8 KiB) and journald (48 KiB) cut far later, and
/// `sshd -E` (1 KiB) later too, so this is the first cut a message can meet.
pub const MESSAGE_CAP: usize = 500;

/// `m` when sshd cannot have cut it, None when it may have: the end of a cut message is
/// whatever the client's text put there.
fn whole(m: &str) -> Option<&str> {
    (m.len() < MESSAGE_CAP).then_some(m)
}

/// One message. Each arm reads either the address *before* any client text (a cut
/// message still names the right address) or, through [`whole`], from the end.
fn parse_one<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    match *m.as_bytes().first()? {
        b'A' => accepted(whole(m)?.strip_prefix("Accepted ")?),
        b'F' => failed(whole(m)?.strip_prefix("Failed ")?, o),
        b'I' => invalid_user(whole(m)?),
        // rhost= is walked to from the start, before the user name.
        b'p' => pam_unix(m, o),
        // Linux-PAM 0.7x/0.99's `(pam_unix) authentication failure; ...` under sshd's ident.
        b'(' => pam_unix(m, o),
        b'P' if m.starts_with("Postponed ") => postponed(whole(m)?.strip_prefix("Postponed ")?, o),
        b'P' if m.starts_with(PROTOCOL_MISMATCH) => {
            protocol_mismatch(&m[PROTOCOL_MISMATCH.len()..])
        }
        b'P' => pam_more(m, o),
        b'C' => {
            let m = whole(m)?;
            let rest = (m.strip_prefix("Connection closed by "))
                .or_else(|| m.strip_prefix("Connection reset by "))?;
            closed(rest, o)
        }
        b'D' => {
            if let Some(rest) = m.strip_prefix("Did not receive identification string from ") {
                no_identification(rest)
            } else if let Some(rest) = whole(m)?.strip_prefix("Disconnected from ") {
                disconnected(rest, o)
            } else {
                let rest = m.strip_prefix("Disconnecting ")?;
                too_many_failures(rest).or_else(|| changed_user(rest, o))
            }
        }
        b'U' => {
            if let Some(rest) = m.strip_prefix("Unable to negotiate with ") {
                unable_to_negotiate(rest)
            } else {
                not_allowed(whole(m)?.strip_prefix("User ")?)
            }
        }
        b'T' => listener_grace_timeout(m.strip_prefix(LISTENER_TIMEOUT)?),
        b'b' => leading_address(m.strip_prefix("banner exchange: Connection from ")?),
        b's' => leading_address(m.strip_prefix("ssh_dispatch_run_fatal: Connection from ")?),
        b'B' => bad_protocol(whole(m)?.strip_prefix("Bad protocol version identification ")?),
        b'R' => {
            let m = whole(m)?;
            if let Some(rest) = m.strip_prefix("Received disconnect from ") {
                client_gave_up(rest)
            } else {
                root_refused(m.strip_prefix("ROOT LOGIN REFUSED FROM ")?)
            }
        }
        b'r' => tcpd_refusal(m),
        b'e' => {
            let rest = whole(m)?.strip_prefix("error: ")?;
            match *rest.as_bytes().first()? {
                b'm' => max_attempts(rest, true),
                b'P' => pam_error(rest.strip_prefix("PAM: ")?, o),
                // A reason code other than BY_APPLICATION is logged as an error (7.x+).
                b'R' => client_gave_up(rest.strip_prefix("Received disconnect from ")?),
                _ => None,
            }
        }
        // OpenSSH before 7.x logged it without `error: ` (and before 5.9 the child wrote
        // its own lines, without ` [preauth]`).
        b'm' => max_attempts(whole(m)?, false),
        b'd' => penalty(m.strip_prefix("drop connection #")?),
        b'f' => {
            let rest = m.strip_prefix("fatal: ")?;
            match rest.strip_prefix("Unable to negotiate with ") {
                // kex.c's `sshpkt_fatal()` (OpenSSH 7.x+) logs it at FATAL.
                Some(rest) => unable_to_negotiate(rest),
                None => grace_timeout(rest.strip_prefix("Timeout before authentication for ")?),
            }
        }
        _ => None,
    }
}

// ---- the shared tail -------------------------------------------------------------

fn finding(kind: Kind, ip: ClientIp, user: &str) -> Finding<'_> {
    Finding::new(kind, ip, (!user.is_empty()).then_some(user))
}

/// An IP literal, or None. The byte check first keeps host names (`UseDNS yes`) and
/// garbage off the slower, allocating error path of [`ClientIp::parse`].
fn ip(token: &str) -> Option<ClientIp> {
    let literal = match token.as_bytes().iter().position(|&b| b == b'%') {
        Some(zone) => &token[..zone],
        None => token,
    };
    let plausible = !literal.is_empty()
        && literal.len() <= 45
        && (literal.bytes()).all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
    if !plausible {
        return None;
    }
    super::address(token)
}

/// `s` without one trailing ` [preauth]` (sshd appends it to messages of the unprivileged
/// child; only the last one is sshd's), and whether there was one.
fn preauth(s: &str) -> (&str, bool) {
    match s.strip_suffix(" [preauth]") {
        Some(rest) => (rest, true),
        None => (s, false),
    }
}

/// `s` without the ` [preauth]` that the monitor appends to every message it relays from
/// the pre-auth child, or None: without it the line did not end where sshd ended it.
fn required_preauth(s: &str) -> Option<&str> {
    s.strip_suffix(" [preauth]")
}

/// `s` without a trailing ` port N`, or None when it does not end so.
fn port(s: &str) -> Option<&str> {
    let (head, port) = s.rcut(" port ")?;
    (is_digits(port) && port.len() <= 5).then_some(head)
}

/// `s` without a trailing ` port N` if it has one (old sshd versions logged no port).
fn optional_port(s: &str) -> &str {
    port(s).unwrap_or(s)
}

/// `USER from ADDR[ port N][ ssh2]`: the address follows the *last* ` from `, since the
/// user name before it may itself contain ` from 10.0.0.1 port 22`.
fn user_from(s: &str) -> Option<(&str, ClientIp)> {
    let s = s.strip_suffix(" ssh2").unwrap_or(s);
    let (user, addr) = optional_port(s).rcut(" from ")?;
    Some((user, ip(addr)?))
}

/// `s` without its trailing protocol (` ssh2`; ` ssh1` for protocol 1), or None.
fn protocol(s: &str) -> Option<&str> {
    (s.strip_suffix(" ssh2")).or_else(|| s.strip_suffix(" ssh1"))
}

/// Who sshd's connection id (`fmt_connection_id`) names before the address.
enum Who<'a> {
    /// No user yet: the client never reached user authentication.
    Nobody,
    Invalid(&'a str),
    /// A valid account that had not authenticated yet.
    Authenticating(&'a str),
    /// An authenticated session.
    User,
}

/// `[invalid user U |authenticating user U |user U ]ADDR` (port already removed): the
/// address is the last word, the preamble is sshd's text at the start, the user name in
/// between is the client's.
fn who_addr(s: &str) -> Option<(Who<'_>, ClientIp)> {
    let Some((preamble, addr)) = s.rcut(" ") else {
        return Some((Who::Nobody, ip(s)?));
    };
    let who = if let Some(u) = preamble.strip_prefix("invalid user ") {
        Who::Invalid(u)
    } else if let Some(u) = preamble.strip_prefix("authenticating user ") {
        Who::Authenticating(u)
    } else if preamble.starts_with("user ") {
        Who::User
    } else {
        return None;
    };
    Some((who, ip(addr)?))
}

/// sshd's connection id at the end of a message, `[PREAMBLE ]ADDR port N[ [preauth]]`.
/// Only the pre-auth child names a user that has not logged in, and the monitor then
/// appends ` [preauth]`: a line that names one must end in ` port N [preauth]`, all of
/// it, or its end may be the client's. Without a preamble there is no client text.
fn connection_id(s: &str) -> Option<(Who<'_>, ClientIp)> {
    let (s, relayed) = preauth(s);
    let (who, ip) = who_addr(optional_port(s))?;
    match who {
        Who::Invalid(_) | Who::Authenticating(_) if !relayed || port(s).is_none() => None,
        _ => Some((who, ip)),
    }
}

/// The invalid-user marker sshd puts before a user name (`illegal` before OpenSSH 3.9).
fn strip_invalid(user: &str) -> Option<&str> {
    (user.strip_prefix("invalid user ")).or_else(|| user.strip_prefix("illegal user "))
}

// ---- authentication results ------------------------------------------------------

/// Methods whose result line ends in `ssh2: KEYTYPE FINGERPRINT` (certificates add
/// `ID <key id> (serial N) CA KEYTYPE FINGERPRINT`).
fn has_key_info(method: &str) -> bool {
    matches!(method, "publickey" | "hostbased")
}

fn is_method(method: &str) -> bool {
    matches!(
        method,
        "password"
            | "publickey"
            | "hostbased"
            | "keyboard-interactive/pam"
            | "keyboard-interactive/bsdauth"
            | "keyboard-interactive"
            | "gssapi-with-mic"
            | "gssapi-keyex"
            | "none"
    )
}

/// `Accepted METHOD for USER from ADDR port N ssh2[: KEYINFO]`.
fn accepted(rest: &str) -> Option<Finding<'_>> {
    let (method, rest) = rest.cut(" ")?;
    let rest = rest.strip_prefix("for ")?;
    if !is_method(method) {
        return None;
    }
    // A key's info may hold a certificate's key id, chosen by the (trusted) CA; the user
    // of an accepted key is a real account, whose name holds no ` ssh2: `. So the first
    // ` ssh2: ` is sshd's. Other methods have no key info: a ` ssh2: ` is not sshd's
    // tail, and the line says nothing certain.
    let rest = match rest.cut(" ssh2: ") {
        Some((head, _)) if has_key_info(method) => head,
        Some(_) => return None,
        None => rest,
    };
    let (user, ip) = user_from(rest)?;
    Some(finding(Kind::Success, ip, user))
}

/// Protocol 1's methods whose result line had nothing after the port (auth1.c's `info`
/// was empty for them; `rhosts-rsa` put the client's ` ruser NAME` there).
fn is_ssh1_method(method: &str) -> bool {
    matches!(method, "password" | "rsa" | "challenge-response")
}

/// `Failed METHOD for [invalid user ]USER from ADDR port N ssh2[: KEYINFO]`, or protocol 1's
/// `... port N` without ` ssh2`.
///
/// METHOD is the name the client asked for: auth2.c logs the failure of a method it does
/// not know under the client's own name (`Failed XYZ for ...`), so any one word is a
/// failed attempt; only the known methods with key info have a ` ssh2: ` tail.
fn failed<'a>(rest: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (method, rest) = rest.cut(" ")?;
    let rest = rest.strip_prefix("for ")?;
    if method.is_empty() {
        return None;
    }
    if method == "hostbased"
        && let Some(f) = hostbased_from_left(rest, o)
    {
        return Some(f);
    }
    let (rest, _) = preauth(rest);
    // Here the user name is the client's. A plain key's info (`TYPE FINGERPRINT`, both
    // computed by sshd, one space) after the *last* ` ssh2: ` proves that ` ssh2: ` is
    // sshd's. A certificate's info carries a client-chosen key id after the address as
    // well as the user name before it: ambiguous, so not evidence. Other methods have no
    // key info: with a ` ssh2: ` in the line, either the text after it or the text before
    // it is the client's, and neither address can be trusted.
    let head = match rest.rcut(" ssh2: ") {
        Some((head, info)) if has_key_info(method) => {
            let (key_type, fingerprint) = info.cut(" ")?;
            if key_type.is_empty() || fingerprint.is_empty() || fingerprint.contains(' ') {
                return None;
            }
            head
        }
        Some(_) => return None,
        None => match protocol(rest) {
            Some(head) => head,
            // Protocol 1 (OpenSSH before 7.6) wrote no ` ssh2`: then ` port N` is the only
            // tail, and the line must be well under the cap.
            None if is_ssh1_method(method) && tailless_ok(rest) => rest,
            None => return None,
        },
    };
    // `auth_log`'s whole tail, ` port N[ ssh2]`, is required: the client's text comes before it.
    let (user, addr) = port(head)?.rcut(" from ")?;
    let ip = ip(addr)?;
    let finding = match strip_invalid(user) {
        Some(user) => finding(Kind::Naughty, ip, user),
        // Solaris SunSSH names no invalid user: `Failed none for <invalid username> ...`.
        None if user == "<invalid username>" => Finding::new(Kind::Naughty, ip, None),
        None => finding(failure_kind(Some(user), o), ip, user),
    };
    Some(finding.reported_as(Report::AuthResult, 1))
}

/// `Postponed METHOD for invalid user USER from ADDR port N ssh2[ [preauth]]`: auth.c's word
/// for a method still under way (keyboard-interactive before its PAM conversation). For a
/// valid account it is no result (a login or a failure follows); for an invalid user it is
/// the naughty attempt that its `Invalid user` and `Failed` lines also report, so a floor of
/// one: it adds nothing to them, and still counts where only this line was kept.
fn postponed<'a>(rest: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (_method, after) = rest.cut(" ")?;
    // `failed` reads an invalid user's attempt as naughty whatever the options say.
    after.strip_prefix("for invalid user ")?;
    Some(failed(rest, o)?.reported_as(Report::Summary, 1))
}

/// `Failed hostbased for USER from ADDR port N ssh2: [TYPE FP, ]client user "CUSER", client
/// host "CHOST"` (auth2-hostbased.c; OpenSSH 6.x put the key's type and fingerprint
/// first). The client writes on both sides of the address (USER before it, CUSER and CHOST
/// after), so neither end can be trusted; the line is read only when ` from ` occurs in it
/// once: sshd writes that one, so a fake one in either client field makes two, and the
/// line is refused. A cut line still names the right address.
fn hostbased_from_left<'a>(rest: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (user, rest) = rest.cut(" from ")?;
    if rest.contains(" from ") {
        return None;
    }
    let (addr, rest) = rest.cut(" port ")?;
    let (port, info) = rest.cut(" ssh2: ")?;
    let (invalid, user) = match strip_invalid(user) {
        Some(user) => (true, user),
        None => (false, user),
    };
    if !is_digits(port) {
        return None;
    }
    let client = match info.cut(", client user \"") {
        Some((key, client)) => {
            let (key_type, fingerprint) = key.cut(" ")?;
            if key_type.is_empty() || fingerprint.is_empty() || fingerprint.contains(' ') {
                return None;
            }
            client
        }
        None => info.strip_prefix("client user \"")?,
    };
    if !client.contains("\", client host \"") {
        return None;
    }
    let f = attempt(invalid, ip(addr)?, user, o);
    Some(f.reported_as(Report::AuthResult, 1))
}

/// One attempt for USER: naughty for an invalid user, else as the root option says.
fn attempt<'a>(invalid: bool, ip: ClientIp, user: &'a str, o: &ParseOptions) -> Finding<'a> {
    if invalid {
        finding(Kind::Naughty, ip, user)
    } else {
        finding(failure_kind(Some(user), o), ip, user)
    }
}

/// Messages without sshd's closing ` port N` or ` ssh2` (older sshd) are read only this
/// far below [`MESSAGE_CAP`]: nothing in them shows that the line ended where sshd ended
/// it, so the margin keeps every cut of sshd's (and of a build with a smaller buffer) a
/// long way off. Their longest real form, a 100-byte name (`%.100s`) and an IPv6
/// address, is under 200 bytes.
const TAILLESS_CAP: usize = MESSAGE_CAP - 100;

/// Whether a message without sshd's closing tail is short enough to be read from its end.
fn tailless_ok(m: &str) -> bool {
    m.len() < TAILLESS_CAP
}

/// `Invalid user USER from ADDR[ port N]` (and `Illegal user` of old sshd; OpenSSH before
/// 7.5 named no port).
fn invalid_user(m: &str) -> Option<Finding<'_>> {
    let rest = (m.strip_prefix("Invalid user ")).or_else(|| m.strip_prefix("Illegal user "))?;
    let (rest, _) = preauth(rest);
    if port(rest).is_none() && !tailless_ok(m) {
        return None;
    }
    let (user, ip) = user_from(rest)?;
    Some(finding(Kind::Naughty, ip, user))
}

/// `[error: ]maximum authentication attempts exceeded for [invalid user ]USER from ADDR
/// port N ssh2 [preauth]`.
fn max_attempts(m: &str, relayed: bool) -> Option<Finding<'_>> {
    let rest = m.strip_prefix("maximum authentication attempts exceeded for ")?;
    // Written by the pre-auth child: sshd's tail is ` port N ssh2 [preauth]`, all of it.
    let rest = if relayed {
        required_preauth(rest)?
    } else {
        preauth(rest).0
    };
    let (user, addr) = port(protocol(rest)?)?.rcut(" from ")?;
    let ip = ip(addr)?;
    let f = finding(Kind::Naughty, ip, strip_invalid(user).unwrap_or(user));
    // The connection's end: its failures were counted on their own lines.
    Some(f.reported_as(Report::Summary, 1))
}

/// FreeBSD and other non-Linux PAM: `error: PAM: authentication error for [illegal user
/// ]USER from ADDR`. The reason is `pam_strerror`'s fixed text.
fn pam_error<'a>(rest: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (reason, rest) = rest.cut(" for ")?;
    // `pam_strerror`'s texts: OpenPAM's in lower case, Linux-PAM's capitalised.
    let unknown = match reason {
        "authentication error"
        | "Authentication error"
        | "Authentication failure"
        | "authentication failure"
        | "permission denied"
        | "Permission denied"
        | "maximum number of tries exceeded"
        | "Have exhausted maximum number of retries for service." => false,
        "unknown user" | "User not known to the underlying authentication module" => true,
        _ => return None,
    };
    let (rest, _) = preauth(rest.trim_end_matches(' '));
    // macOS adds the server's own address it was reached on: `from ADDR via LOCAL`.
    let rest = match rest.rcut(" via ") {
        Some((head, local)) if ip(local).is_some() => head,
        _ => rest,
    };
    let (user, ip) = user_from(rest)?;
    let finding = match strip_invalid(user) {
        Some(user) => finding(Kind::Naughty, ip, user),
        None if unknown => finding(Kind::Naughty, ip, user),
        None => finding(failure_kind(Some(user), o), ip, user),
    };
    Some(finding.reported_as(Report::Pam, 1))
}

// ---- pam_unix ----------------------------------------------------------------------

/// `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=
/// rhost=ADDR[  user=USER]`.
fn pam_unix<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    // OpenSSH 9.8+ keeps the PAM service name `sshd`; `sshd-session` is accepted in case
    // a build uses its program name.
    pam_auth_failure(m, &["sshd", "sshd-session"], o)
}

/// `PAM N more authentication failure[s]; logname= ... rhost=ADDR  user=USER`.
fn pam_more<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    pam_more_failures(m.strip_prefix("PAM ")?, o)
}

// ---- connection ends -------------------------------------------------------------

/// `Connection closed by|reset by [PREAMBLE ]ADDR port N [preauth]`.
fn closed<'a>(rest: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (who, ip) = connection_id(rest)?;
    match who {
        // Closed without ever naming a user: a scanner. Newer sshd marks it `[preauth]`;
        // OpenSSH 9.2 (Debian 12) logs a close before the banner exchange without it
        // (seen in the end-to-end test). After a session sshd names the user, and an
        // address with a successful login is allowed whatever else it did.
        Who::Nobody => Some(Finding::new(Kind::Probe, ip, None)),
        Who::Invalid(user) => Some(finding(Kind::Naughty, ip, user)),
        Who::Authenticating(user) => Some(gave_up(user, ip, o)),
        Who::User => None,
    }
}

/// A valid account's connection that ended before it authenticated: at least one failed
/// attempt, a floor joined with the connection's own result lines. On a server without
/// password authentication this is the only line a guess at a real account name leaves
/// (sshd logs the refused `none`/`publickey` tries only at VERBOSE).
fn gave_up<'a>(user: &'a str, ip: ClientIp, o: &ParseOptions) -> Finding<'a> {
    finding(failure_kind(Some(user), o), ip, user).reported_as(Report::Summary, 1)
}

/// `Disconnected from [PREAMBLE ]ADDR port N[ [preauth]]`.
fn disconnected<'a>(rest: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let (who, ip) = connection_id(rest)?;
    match who {
        // The client hung up before it named a user. sshd logs the client's own
        // `Received disconnect` first, which counts the same end when its reason says
        // so: a floor of one, joined with it. Without the pre-auth child's mark it may be
        // a session's end.
        Who::Nobody if rest.ends_with(" [preauth]") => {
            Some(Finding::new(Kind::Failed, ip, None).reported_as(Report::Summary, 1))
        }
        Who::Invalid(user) => Some(finding(Kind::Naughty, ip, user)),
        Who::Authenticating(user) => Some(gave_up(user, ip, o)),
        // A normal logout, or a session's end without the pre-auth child's mark.
        _ => None,
    }
}

/// `Disconnecting invalid user|authenticating user USER ADDR port N: Too many
/// authentication failures [preauth]`: MaxAuthTries reached, naughty for any user.
fn too_many_failures(rest: &str) -> Option<Finding<'_>> {
    let rest = required_preauth(rest)?.strip_suffix(": Too many authentication failures")?;
    match who_addr(port(rest)?)? {
        (Who::Invalid(user) | Who::Authenticating(user), ip) => {
            Some(finding(Kind::Naughty, ip, user).reported_as(Report::Summary, 1))
        }
        _ => None,
    }
}

/// `Disconnecting invalid|authenticating user U ADDR port N: Change of username or service
/// not allowed: (U,SERVICE) -> (V,SERVICE) [preauth]` (auth2.c): a client trying another
/// account on the same connection, as bots cycling through names do. U, V and the
/// services are the client's, on both sides of the address, so the line is read only in
/// its one unambiguous shape: U and V single words, U the same in both places, every
/// piece where sshd puts it. A user name with a space shifts the words and is refused.
fn changed_user<'a>(rest: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let rest = whole(required_preauth(rest)?)?;
    let (invalid, rest) = match rest.strip_prefix("invalid user ") {
        Some(rest) => (true, rest),
        None => (false, rest.strip_prefix("authenticating user ")?),
    };
    let (user, rest) = rest.cut(" ")?;
    let (addr, rest) = rest.cut(" port ")?;
    let (port, rest) = rest.cut(": Change of username or service not allowed: (")?;
    let (old, rest) = rest.strip_suffix(')')?.cut(") -> (")?;
    let (old_user, old_service) = old.cut(",")?;
    let (new_user, new_service) = rest.rcut(",")?;
    let word = |w: &str| !w.is_empty() && !w.contains([' ', ',', '(', ')']);
    if old_user != user
        || !word(user)
        || !word(new_user)
        || !word(old_service)
        || !word(new_service)
        || !is_digits(port)
    {
        return None;
    }
    let f = attempt(invalid, ip(addr)?, user, o);
    // The connection's end: its failures were counted on their own lines.
    Some(f.reported_as(Report::Summary, 1))
}

/// `Received disconnect from ADDR port N:CODE: CLIENT TEXT [preauth]` (before OpenSSH 7.3
/// `from ADDR: CODE: CLIENT TEXT`): the client hung up before it authenticated. Everything
/// after the address is the client's, so it can only speak about itself; sshd's
/// ` [preauth]` must end the line, so a session that logged in is never meant.
///
/// Its own reason says it failed for code 14 (NO_MORE_AUTH_METHODS_AVAILABLE: PuTTY's `No
/// supported authentication methods available`) or JSch's `Auth fail` (sent with code 3);
/// code 11 (BY_APPLICATION: libssh's `Bye Bye`, libssh2's `Normal Shutdown, Thank you for
/// playing`) is a client program leaving before it got in, as bots do on a key-only server
/// whose failures sshd logs only at VERBOSE. Each is one failure at least: a floor under
/// the attempts the connection's own lines counted (a bot's three `Failed password` lines
/// and its `Bye Bye` count 3), never added to them.
fn client_gave_up(rest: &str) -> Option<Finding<'_>> {
    // Before OpenSSH 5.9 the pre-auth child wrote its own lines, without ` [preauth]`;
    // then only the reasons that say authentication failed are read (a session's normal
    // end is code 11 too).
    let (rest, relayed) = preauth(rest);
    let (addr, code, reason) = match rest.cut(" port ") {
        // The port came with ` [preauth]` (7.3+): without it, the line is not whole.
        Some(_) if !relayed => return None,
        Some((addr, rest)) => {
            let (port, rest) = rest.cut(":")?;
            let (code, reason) = rest.cut(": ")?;
            if !is_digits(port) {
                return None;
            }
            (addr, code, reason)
        }
        None => {
            let (addr, rest) = rest.cut(": ")?;
            let (code, reason) = rest.cut(": ")?;
            (addr, code, reason)
        }
    };
    if !is_digits(code) {
        return None;
    }
    let failed = match code {
        "11" => relayed,
        "14" => true,
        // JSch's `Auth fail`, sometimes after the client's own words.
        "3" => reason == "Auth fail" || reason.ends_with(": Auth fail"),
        _ => false,
    };
    if !failed {
        return None;
    }
    Some(Finding::new(Kind::Failed, ip(addr)?, None).reported_as(Report::Summary, 1))
}

// ---- refusals --------------------------------------------------------------------

/// `User USER from ADDR not allowed because REASON`. USER is a real account here
/// (`allowed_user()` is called with the passwd entry), so no client text comes before the
/// address, and the reason is sshd's own: any reason, also one a patched or future sshd
/// words differently (the account and shell reasons name no host in OpenSSH's text;
/// `SshdSessions` joins those to their process's address).
fn not_allowed(rest: &str) -> Option<Finding<'_>> {
    let (head, reason) = rest.rcut(" not allowed because ")?;
    if reason.is_empty() {
        return None;
    }
    let (user, addr) = head.rcut(" from ")?;
    Some(finding(Kind::Naughty, ip(addr)?, user))
}

/// `ROOT LOGIN REFUSED FROM ADDR[ port N]` (PermitRootLogin no, old sshd).
fn root_refused(rest: &str) -> Option<Finding<'_>> {
    let (rest, _) = preauth(rest);
    Some(Finding::new(
        Kind::Naughty,
        ip(optional_port(rest))?,
        Some("root"),
    ))
}

/// OpenSSH 9.8+ PerSourcePenalties: `drop connection #N from [ADDR]:PORT on
/// [ADDR]:PORT penalty: REASON`. No client text at all; the reason says what the source
/// was penalised for.
fn penalty(rest: &str) -> Option<Finding<'static>> {
    let (n, rest) = rest.cut(" ")?;
    let (addr, rest) = rest.strip_prefix("from [")?.cut("]:")?;
    let (remote_port, rest) = rest.cut(" ")?;
    let (_local, rest) = rest.strip_prefix("on [")?.cut("]:")?;
    let (local_port, reason) = rest.cut(" ")?;
    if !is_digits(n) || !is_digits(remote_port) || !is_digits(local_port) {
        return None;
    }
    let kind = match reason.strip_prefix("penalty: ")? {
        "failed authentication" => Kind::Failed,
        "attempted authentication by invalid user" | "caused crash" => Kind::Naughty,
        "connections without attempting authentication"
        | "exceeded LoginGraceTime"
        | "connection prohibited by RefuseConnection" => Kind::Probe,
        _ => return None,
    };
    Some(Finding::new(kind, ip(addr)?, None))
}

// ---- scanners --------------------------------------------------------------------

/// `Did not receive identification string from ADDR[ port N]`.
fn no_identification(rest: &str) -> Option<Finding<'_>> {
    let (rest, _) = preauth(rest);
    Some(Finding::new(Kind::Probe, ip(optional_port(rest))?, None))
}

/// `ADDR port N...` right after sshd's fixed words, before any user is known
/// (`banner exchange: Connection from `, `ssh_dispatch_run_fatal: Connection from `).
/// What follows is sshd's error text; a connection id with a user preamble
/// (`authenticating user X ADDR`) does not start with an address and is not a probe.
fn leading_address(rest: &str) -> Option<Finding<'_>> {
    let (addr, tail) = rest.cut(" ")?;
    if !tail.starts_with("port ") {
        return None;
    }
    Some(Finding::new(Kind::Probe, ip(addr)?, None))
}

/// `fatal: Timeout before authentication for ADDR port N` (LoginGraceTime ran out; OpenSSH
/// 7.4 and later), `... for ADDR` (3.x to 7.3) or `... for ADDR.` (2.x): sshd's own text
/// only, the address from the socket and nothing after it but the port.
fn grace_timeout(rest: &str) -> Option<Finding<'_>> {
    let addr = match rest.cut(" port ") {
        Some((addr, port)) if is_digits(port) => addr,
        Some(_) => return None,
        None => rest.strip_suffix('.').unwrap_or(rest),
    };
    Some(Finding::new(Kind::Probe, ip(addr)?, None))
}

/// `Protocol major versions differ for ADDR[ port N]: SERVER vs. CLIENT` (OpenSSH before
/// 7.6, which still spoke SSH-1): a client announcing SSH-1 (scanners such as nmap's
/// `sshv1` check) was turned away. The client's text comes last; the address is read
/// from the start, up to sshd's `: ` (no address holds one).
fn protocol_mismatch(rest: &str) -> Option<Finding<'_>> {
    let (addr, versions) = rest.cut(": ")?;
    if !versions.contains(" vs. ") {
        return None;
    }
    Some(Finding::new(Kind::Probe, ip(without_port(addr)?)?, None))
}

const PROTOCOL_MISMATCH: &str = "Protocol major versions differ for ";

/// The listener's word for a connection that let LoginGraceTime run out (OpenSSH 9.8 and
/// later, and the releases that took its fix for CVE-2024-6387, whose per-connection
/// process now exits without logging from its alarm handler).
const LISTENER_TIMEOUT: &str = "Timeout before authentication for connection from ";

/// `Timeout before authentication for connection from ADDR to LADDR, pid = N` (the
/// listener, about its child N): addresses from the sockets, no client text at all, so the
/// whole line must be that shape (each address may carry ` port N`).
fn listener_grace_timeout(rest: &str) -> Option<Finding<'_>> {
    let (addresses, pid) = rest.rcut(", pid = ")?;
    let (remote, local) = addresses.cut(" to ")?;
    if !is_digits(pid) || ip(without_port(local)?).is_none() {
        return None;
    }
    Some(Finding::new(Kind::Probe, ip(without_port(remote)?)?, None))
}

/// `ADDR` or `ADDR port N`, the address.
fn without_port(a: &str) -> Option<&str> {
    match a.cut(" port ") {
        Some((a, port)) if is_digits(port) => Some(a),
        Some(_) => None,
        None => Some(a),
    }
}

/// `Unable to negotiate with ADDR port N: no matching ... Their offer: CLIENT TEXT`.
/// The client's offer comes after the address, so the address is read from the start.
fn unable_to_negotiate(rest: &str) -> Option<Finding<'_>> {
    let addr = match rest.cut(" ") {
        Some((addr, tail)) if tail.starts_with("port ") => addr,
        // OpenSSH 6.8-7.2 named no port: `Unable to negotiate with ADDR: no matching`.
        _ => rest.cut(": no matching ")?.0,
    };
    Some(Finding::new(Kind::Probe, ip(addr)?, None))
}

/// `Bad protocol version identification 'CLIENT TEXT' from ADDR[ port N]`: the quoted
/// banner is the client's, so the address is read from the end.
fn bad_protocol(rest: &str) -> Option<Finding<'_>> {
    let (rest, _) = preauth(rest);
    if port(rest).is_none() && !tailless_ok(rest) {
        return None;
    }
    let (banner, addr) = optional_port(rest).rcut(" from ")?;
    if banner.len() < 2 || !banner.starts_with('\'') || !banner.ends_with('\'') {
        return None;
    }
    Some(Finding::new(Kind::Probe, ip(addr)?, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(message: &str) -> Option<(Kind, String, Option<&str>)> {
        parse(message, &ParseOptions::default()).map(|f| (f.kind, f.ip.to_string(), f.user))
    }

    fn off(message: &str) -> Option<(Kind, String, Option<&str>)> {
        let o = ParseOptions {
            root_is_naughty: false,
        };
        parse(message, &o).map(|f| (f.kind, f.ip.to_string(), f.user))
    }

    fn is(
        kind: Kind,
        ip: &str,
        user: Option<&'static str>,
    ) -> Option<(Kind, String, Option<&'static str>)> {
        Some((kind, ip.to_string(), user))
    }

    #[test]
    fn user_names_cannot_frame_another_address() {
        assert_eq!(
            on("Invalid user admin from 10.0.0.1 port 22 from 198.51.100.7 port 4242"),
            is(
                Kind::Naughty,
                "198.51.100.7",
                Some("admin from 10.0.0.1 port 22")
            )
        );
        assert_eq!(
            on(
                "Failed password for invalid user x from 10.0.0.1 port 22 ssh2 from 2001:db8::7 port 1 ssh2"
            ),
            is(
                Kind::Naughty,
                "2001:db8::7",
                Some("x from 10.0.0.1 port 22 ssh2")
            )
        );
        assert_eq!(
            on(
                "Connection closed by invalid user a 10.0.0.1 port 22 198.51.100.7 port 5 [preauth]"
            ),
            is(Kind::Naughty, "198.51.100.7", Some("a 10.0.0.1 port 22"))
        );
        assert_eq!(
            on("Invalid user x [preauth] from 198.51.100.7 port 5"),
            is(Kind::Naughty, "198.51.100.7", Some("x [preauth]"))
        );
        // Old form without a port: the address is still the last word.
        assert_eq!(
            on("Invalid user y from 10.0.0.1 port 22 from 198.51.100.7"),
            is(
                Kind::Naughty,
                "198.51.100.7",
                Some("y from 10.0.0.1 port 22")
            )
        );
    }

    #[test]
    fn a_user_name_cannot_fake_a_success() {
        let m = "Invalid user Accepted publickey for root from 10.0.0.1 port 22 ssh2 from 198.51.100.7 port 9";
        assert_eq!(
            on(m).map(|f| (f.0, f.1)),
            Some((Kind::Naughty, "198.51.100.7".to_string()))
        );
        assert_eq!(
            on("sshd[1]: Accepted password for x from 10.0.0.1 port 22 ssh2"),
            None
        );
        assert_eq!(
            on(" Accepted password for x from 10.0.0.1 port 22 ssh2"),
            None
        );
    }

    #[test]
    fn failed_publickey_key_info() {
        assert_eq!(
            on(
                "Failed publickey for invalid user a from 10.0.0.1 port 1 ssh2: RSA SHA256:x from 198.51.100.7 port 5 ssh2: ED25519 SHA256:abc"
            ),
            is(
                Kind::Naughty,
                "198.51.100.7",
                Some("a from 10.0.0.1 port 1 ssh2: RSA SHA256:x")
            )
        );
        // A certificate's key id is the client's too: with a client user name, ambiguous.
        assert_eq!(
            on(
                "Failed publickey for bob from 198.51.100.7 port 5 ssh2: ED25519-CERT SHA256:a ID x from 10.0.0.1 port 1 (serial 1) CA ED25519 SHA256:b"
            ),
            None
        );
        assert_eq!(
            on(
                "Accepted publickey for bob from 198.51.100.7 port 5 ssh2: ED25519-CERT SHA256:a ID x from 10.0.0.1 port 1 ssh2 (serial 1) CA ED25519 SHA256:b"
            ),
            is(Kind::Success, "198.51.100.7", Some("bob"))
        );
    }

    #[test]
    fn pam_rhost_is_the_field_not_the_user_name() {
        assert_eq!(
            on(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=x rhost=10.0.0.1  user=root"
            ),
            is(
                Kind::Failed,
                "198.51.100.7",
                Some("x rhost=10.0.0.1  user=root")
            )
        );
        assert_eq!(
            on(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=root"
            ),
            is(Kind::Naughty, "198.51.100.7", Some("root"))
        );
        assert_eq!(
            off(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=root"
            ),
            is(Kind::Failed, "198.51.100.7", Some("root"))
        );
        // A field with a space before rhost= breaks the walk: refused, not guessed.
        assert_eq!(
            on(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=a rhost=10.0.0.1 rhost=198.51.100.7"
            ),
            None
        );
        assert_eq!(
            on(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7 "
            ),
            is(Kind::Failed, "198.51.100.7", None)
        );
        assert_eq!(
            on(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=evil.example.com  user=bob"
            ),
            None
        );
    }

    #[test]
    fn root_option() {
        let lines = [
            "Failed password for root from 198.51.100.7 port 5 ssh2",
            "Disconnected from authenticating user root 198.51.100.7 port 5 [preauth]",
            "Connection closed by authenticating user root 198.51.100.7 port 5 [preauth]",
            "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=root",
        ];
        for m in lines {
            assert_eq!(on(m).map(|f| f.0), Some(Kind::Naughty), "{m}");
        }
        assert_eq!(off(lines[0]).map(|f| f.0), Some(Kind::Failed));
        assert_eq!(off(lines[1]).map(|f| f.0), Some(Kind::Failed));
        assert_eq!(off(lines[2]).map(|f| f.0), Some(Kind::Failed));
        assert_eq!(off(lines[3]).map(|f| f.0), Some(Kind::Failed));
        // MaxAuthTries reached is naughty for any account, like `maximum authentication
        // attempts exceeded`, whatever the root option says.
        assert_eq!(
            off("Disconnecting authenticating user root 198.51.100.7 port 5: Too many authentication failures [preauth]").map(|f| f.0),
            Some(Kind::Naughty)
        );
        assert_eq!(
            on("Accepted publickey for root from 198.51.100.7 port 5 ssh2: RSA SHA256:x")
                .map(|f| f.0),
            Some(Kind::Success)
        );
        assert_eq!(
            on("Connection closed by authenticating user bob 198.51.100.7 port 5 [preauth]"),
            is(Kind::Failed, "198.51.100.7", Some("bob"))
        );
        // A user *named* like the preamble is an invalid user's name.
        assert_eq!(
            on(
                "Connection closed by invalid user authenticating user root 198.51.100.7 port 5 [preauth]"
            ),
            is(
                Kind::Naughty,
                "198.51.100.7",
                Some("authenticating user root")
            )
        );
    }

    #[test]
    fn client_text_after_the_address() {
        assert_eq!(
            on(
                "Unable to negotiate with 198.51.100.7 port 5: no matching cipher found. Their offer: a from 10.0.0.1 port 1 [preauth]"
            ),
            is(Kind::Probe, "198.51.100.7", None)
        );
        assert_eq!(
            on(
                "Bad protocol version identification 'x' from 10.0.0.1 port 1' from 198.51.100.7 port 5"
            ),
            is(Kind::Probe, "198.51.100.7", None)
        );
        assert_eq!(
            on(
                "Disconnecting invalid user a 198.51.100.7 port 5: Change of username or service not allowed: (a,b) -> (c: Too many authentication failures,d) [preauth]"
            ),
            None
        );
    }

    #[test]
    fn not_evidence() {
        for m in [
            "Received disconnect from 198.51.100.7 port 5:11: Bye Bye",
            "Disconnected from user bob 198.51.100.7 port 5",
            "Connection from 198.51.100.7 port 5 on 192.0.2.1 port 22 rdomain \"\"",
            "input_userauth_request: invalid user x [preauth]",
            "kex_exchange_identification: Connection closed by remote host",
            "drop connection #3 from [198.51.100.7]:5 on [192.0.2.1]:22 past MaxStartups",
            "Invalid user x from host.example.com port 5",
            "Accepted certificate ID \"x from 198.51.100.7 port 5 ssh2\" (serial 1) signed by ED25519 CA SHA256:a via /etc/ssh/ca",
            "Postponed publickey for bob from 198.51.100.7 port 5 ssh2 [preauth]",
            "",
        ] {
            assert_eq!(on(m), None, "{m}");
        }
    }

    #[test]
    fn a_message_at_the_cap_is_not_evidence_against_its_end() {
        let closed = |len: usize| {
            let head = "Connection closed by invalid user ";
            let tail = " 198.51.100.7 port 22 [preauth]";
            format!("{head}{}{tail}", "A".repeat(len - head.len() - tail.len()))
        };
        assert_eq!(on(&closed(MESSAGE_CAP)), None);
        assert_eq!(
            on(&closed(MESSAGE_CAP - 1)).map(|f| (f.0, f.1)),
            Some((Kind::Naughty, "198.51.100.7".to_string()))
        );
        // The address before the client's text is still read from a cut message.
        let negotiate = format!(
            "Unable to negotiate with 198.51.100.7 port 5: no matching cipher found. Their offer: {}",
            "x from 9.9.9.9 port 22,".repeat(30)
        );
        assert!(negotiate.len() > MESSAGE_CAP);
        assert_eq!(on(&negotiate), is(Kind::Probe, "198.51.100.7", None));
    }

    #[test]
    fn pre_auth_messages_need_the_whole_tail() {
        for m in [
            "Connection closed by invalid user x 198.51.100.7 port 22",
            "Connection closed by invalid user x 198.51.100.7 [preauth]",
            "Disconnected from authenticating user root 198.51.100.7 port 22",
            "Disconnecting invalid user x 198.51.100.7 port 22: Too many authentication failures",
            "error: maximum authentication attempts exceeded for invalid user x from 198.51.100.7 port 22 ssh2",
            "error: maximum authentication attempts exceeded for invalid user x from 198.51.100.7",
            "Failed password for invalid user x from 198.51.100.7",
            "Failed hostbased for x from 198.51.100.7 port 22",
            "Failed password for invalid user t from 192.0.2.1 port 5 ssh2: from 198.51.100.7 port 6 ssh2",
            "Accepted password for x from 192.0.2.1 port 5 ssh2: from 198.51.100.7 port 6 ssh2",
        ] {
            assert_eq!(on(m), None, "{m}");
        }
        // A scanner's close names no user: no client text, no tail needed (OpenSSH 9.2).
        assert_eq!(
            on("Connection closed by 198.51.100.7 port 22"),
            is(Kind::Probe, "198.51.100.7", None)
        );
    }

    #[test]
    fn a_connections_end_is_a_summary() {
        let report = |m: &str| parse(m, &ParseOptions::default()).map(|f| (f.kind, f.report));
        for m in [
            "error: maximum authentication attempts exceeded for bob from 198.51.100.7 port 5 ssh2 [preauth]",
            "Disconnecting authenticating user bob 198.51.100.7 port 5: Too many authentication failures [preauth]",
        ] {
            assert_eq!(report(m), Some((Kind::Naughty, Report::Summary)), "{m}");
        }
        assert_eq!(
            report(
                "Received disconnect from 198.51.100.7 port 5:14: No supported authentication methods available [preauth]"
            ),
            Some((Kind::Failed, Report::Summary))
        );
        // An invalid user's postponed method: the same attempt as its Failed line.
        assert_eq!(
            report(
                "Postponed keyboard-interactive for invalid user x from 198.51.100.7 port 5 ssh2 [preauth]"
            ),
            Some((Kind::Naughty, Report::Summary))
        );
        assert_eq!(
            report("Postponed keyboard-interactive for root from 198.51.100.7 port 5 ssh2"),
            None
        );
        assert_eq!(
            report("error: PAM: unknown user for x from 198.51.100.7"),
            Some((Kind::Naughty, Report::Pam))
        );
        assert_eq!(
            report("refused connect from 198.51.100.7 (198.51.100.7)"),
            Some((Kind::Probe, Report::Refusal))
        );
    }

    #[test]
    fn the_join_is_bounded() {
        let mut sessions = SshdSessions::default();
        let ip = ClientIp::parse("198.51.100.9").expect("ip");
        for pid in 0..(3 * MAX_SESSIONS as u32) {
            sessions.remember(pid, ip, pid % 2 == 0);
        }
        assert!(sessions.by_pid.len() <= MAX_SESSIONS);
        assert!(sessions.order.len() <= 2 * MAX_SESSIONS + 1);
        assert_eq!(sessions.recent(10).by_pid.len(), 10);
    }

    #[test]
    fn a_follower_forgets_connections_past_the_login_grace_time() {
        let o = ParseOptions::default();
        let mut sessions = SshdSessions::default();
        let announce = |addr: &str| format!("Connection from {addr} port 5 on 192.0.2.1 port 22");
        let closed = "fatal: Read from socket failed: Connection reset by peer [preauth]";
        sessions.set_time(Some(1_000));
        assert_eq!(sessions.parse(Some(1), &announce("198.51.100.1"), &o), None);
        // A line without a time is kept whatever the clock says.
        sessions.set_time(None);
        assert_eq!(sessions.parse(Some(2), &announce("198.51.100.2"), &o), None);
        for pid in 100..3000 {
            sessions.set_time(Some(1_000 + i64::from(pid) / 10));
            sessions.parse(Some(pid), &announce("198.51.100.9"), &o);
        }
        // The clock moves on: only the last 110 processes were heard of within the time.
        sessions.set_time(Some(1_289 + STALE_SECONDS));
        let before = sessions.by_pid.capacity();
        sessions.forget_stale();
        assert!(
            sessions.by_pid.capacity() < before,
            "the room is given back"
        );
        assert_eq!(sessions.by_pid.len(), 110 + 1);
        assert_eq!(sessions.order.len(), sessions.by_pid.len());
        // pid 1 was last heard of more than STALE_SECONDS ago: its line joins nothing.
        assert!(sessions.parse(Some(1), closed, &o).is_none());
        let probe = |ip: &str| {
            Some(Finding::new(
                Kind::Probe,
                ClientIp::parse(ip).expect("ip"),
                None,
            ))
        };
        assert_eq!(sessions.parse(Some(2), closed, &o), probe("198.51.100.2"));
        assert_eq!(
            sessions.parse(Some(2999), closed, &o),
            probe("198.51.100.9")
        );
    }

    #[test]
    fn a_changed_user_name_is_read_in_one_shape_only() {
        let tail = ": Change of username or service not allowed:";
        assert_eq!(
            on(&format!(
                "Disconnecting invalid user a 198.51.100.7 port 5{tail} (a,ssh-connection) -> (b,ssh-connection) [preauth]"
            )),
            is(Kind::Naughty, "198.51.100.7", Some("a"))
        );
        for m in [
            // A fake whole line inside the second name, which then holds spaces.
            format!(
                "Disconnecting invalid user a 198.51.100.7 port 5{tail} (a,s) -> (b,s) [preauth] 192.0.2.9 port 6{tail} (a 198.51.100.7 port 5{tail} (a,s) -> (b,s) [preauth],s) -> (c,s) [preauth]"
            ),
            format!("Disconnecting invalid user a 198.51.100.7 port 5{tail} (a,s) -> (b,s)"),
            format!(
                "Disconnecting invalid user a 198.51.100.7 port 5{tail} (a,s) -> (b c,s) [preauth]"
            ),
            format!(
                "Disconnecting invalid user a 198.51.100.7 port x{tail} (a,s) -> (b,s) [preauth]"
            ),
            format!("Disconnecting user a 198.51.100.7 port 5{tail} (a,s) -> (b,s) [preauth]"),
        ] {
            assert_eq!(on(&m), None, "{m}");
        }
    }

    #[test]
    fn a_probe_without_an_address_needs_the_connections_announcement() {
        let o = ParseOptions::default();
        let mut sessions = SshdSessions::default();
        let fatal = "fatal: Read from socket failed: Connection reset by peer [preauth]";
        assert!(sessions.parse(Some(7), fatal, &o).is_none());
        let from = "Connection from 198.51.100.7 port 5 on 192.0.2.1 port 22";
        assert!(sessions.parse(Some(7), from, &o).is_none());
        let f = sessions
            .parse(Some(7), fatal, &o)
            .map(|f| (f.kind, f.ip.to_string()));
        assert_eq!(f, Some((Kind::Probe, "198.51.100.7".to_string())));
        // Once per connection; another pid is another connection.
        assert!(sessions.parse(Some(7), fatal, &o).is_none());
        assert!(sessions.parse(Some(8), fatal, &o).is_none());
        // A new connection on the same pid is counted again.
        assert!(sessions.parse(Some(7), from, &o).is_none());
        assert!(sessions.parse(Some(7), fatal, &o).is_some());
    }

    #[test]
    fn refused_keys_count_only_when_the_connection_fails() {
        let o = ParseOptions::default();
        let offer = "Failed publickey for git from 198.51.100.7 port 5 ssh2: RSA SHA256:abc";
        let closed = "Connection closed by authenticating user git 198.51.100.7 port 5 [preauth]";
        let accepted = "Accepted publickey for git from 198.51.100.7 port 5 ssh2: RSA SHA256:def";
        let count = |f: Option<Finding<'_>>| f.map(|f| (f.kind, f.count, f.report));
        let mut sessions = SshdSessions::default();
        for _ in 0..3 {
            assert!(sessions.parse(Some(7), offer, &o).is_none());
        }
        assert_eq!(
            count(sessions.parse(Some(7), closed, &o)),
            Some((Kind::Failed, 3, Report::Summary))
        );
        // A login drops the offers before it; a new connection on the pid starts afresh.
        assert!(sessions.parse(Some(8), offer, &o).is_none());
        assert!(sessions.parse(Some(8), accepted, &o).is_some());
        assert_eq!(
            count(sessions.parse(Some(8), closed, &o)),
            Some((Kind::Failed, 1, Report::Summary))
        );
        assert!(sessions.parse(Some(9), offer, &o).is_none());
        let from = "Connection from 198.51.100.7 port 6 on 192.0.2.1 port 22";
        assert!(sessions.parse(Some(9), from, &o).is_none());
        assert_eq!(
            count(sessions.parse(Some(9), closed, &o)),
            Some((Kind::Failed, 1, Report::Summary))
        );
        // Older sshd: the pre-auth summary without an address, or a bare close.
        assert!(sessions.parse(Some(11), offer, &o).is_none());
        assert!(sessions.parse(Some(11), offer, &o).is_none());
        let too_many = "Disconnecting: Too many authentication failures for git [preauth]";
        assert_eq!(
            count(sessions.parse(Some(11), too_many, &o)),
            Some((Kind::Naughty, 2, Report::Summary))
        );
        assert!(sessions.parse(Some(12), offer, &o).is_none());
        let bare = "Connection closed by 198.51.100.7 [preauth]";
        assert_eq!(
            count(sessions.parse(Some(12), bare, &o)),
            Some((Kind::Failed, 1, Report::Summary))
        );
        // An invalid user's refused key is naughty at once; without a pid, counted at once.
        let invalid =
            "Failed publickey for invalid user x from 198.51.100.7 port 5 ssh2: RSA SHA256:abc";
        assert_eq!(
            sessions.parse(Some(10), invalid, &o).map(|f| f.kind),
            Some(Kind::Naughty)
        );
        assert_eq!(
            sessions.parse(None, offer, &o).map(|f| f.kind),
            Some(Kind::Failed)
        );
    }

    #[test]
    fn saved_sessions_from_before_the_probe_mark_still_load() {
        let saved = r#"{"by_pid":{"7":{"ip":"198.51.100.7","stamp":0,"announced":true}},"order":[[7,0]],"next_stamp":1}"#;
        let mut sessions: SshdSessions = serde_json::from_str(saved).expect("old state");
        let fatal = "fatal: Unable to negotiate a key exchange method [preauth]";
        let f = sessions.parse(Some(7), fatal, &ParseOptions::default());
        assert_eq!(f.map(|f| f.kind), Some(Kind::Probe));
    }

    #[test]
    fn the_listeners_timeout_line_names_its_childs_connection() {
        let mut sessions = SshdSessions::default();
        let o = ParseOptions::default();
        let timeout =
            "Timeout before authentication for connection from 198.51.100.7 to 192.0.2.1, pid = 8";
        let f = sessions.parse(Some(612), timeout, &o);
        assert_eq!(
            f.map(|f| (f.kind, f.ip.to_string())),
            Some((Kind::Probe, "198.51.100.7".into()))
        );
        // The listener's own pid is not that connection: its later lines blame no one.
        let fatal = "fatal: Unable to negotiate a key exchange method [preauth]";
        assert_eq!(sessions.parse(Some(612), fatal, &o), None);
        assert!(sessions.by_pid.is_empty());
    }

    #[test]
    fn penalties_and_repeats() {
        assert_eq!(
            on(
                "drop connection #0 from [2001:db8::7]:5 on [2001:db8::1]:22 penalty: failed authentication"
            ),
            is(Kind::Failed, "2001:db8::7", None)
        );
        assert_eq!(
            on(
                "drop connection #1 from [::ffff:198.51.100.7]:5 on [192.0.2.1]:22 penalty: caused crash"
            ),
            is(Kind::Naughty, "198.51.100.7", None)
        );
        // `PAM N more authentication failures` stands for N attempts.
        let more = parse(
            "PAM 3 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=bob",
            &ParseOptions::default(),
        )
        .map(|f| (f.kind, f.count, f.report));
        assert_eq!(more, Some((Kind::Failed, 3, Report::Pam)));
    }
}
