/*!
Asterisk's SIP channels, chan_sip (1.8 to 20) and res_pjsip (13 and later), its manager
(AMI, `manager.c`) and IAX2 (`chan_iax2.c`; see [`manager`] and [`iax2`]), and the
security events of `res_security_log.c` ([`security_event`]), from syslog (logger.conf's
`syslog.local0 => notice,security` channel), where each message starts `NOTICE[THREAD][C-CALL]:
FILE:LINE in FUNC: ` (`FILE: ` alone before Asterisk 13; the file channel's spelling, without
`in `, is read alike).

Never from Asterisk's own `messages` file, nor from its standard output in the journal:
logger.c writes a message as it is, and chan_sip's `Call from ... to extension '%s' rejected
because extension not found` (res_pjsip_session.c's too, in 79 bytes) logs the Request-URI's
user URI-decoded (`ast_uri_decode`: `%0A` is a line break). Any SIP client can so write whole
lines of its own into the file, and journald makes each line of a program's output an entry.
Through syslog(3) the message is one datagram: rsyslog escapes its control bytes (`#012`) and
journald keeps it as one entry, whose start is Asterisk's own.

- chan_sip, `handle_request_register`: `Registration from 'FROM' failed for 'ADDR:PORT' -
  REASON`. FROM is the client's whole From header (a display name with spaces and quotes); the
  address (`ast_sockaddr_stringify`, `[v6]:port`; no port before 1.8.x) and the fixed reason
  follow it and end the line, so they are read from the end. SIP headers cannot hold a line
  break (chan_sip drops CRs and splits headers at LFs, and decodes no `%XX` in this one), and
  Asterisk's logger does not cut lines, but a UDP packet may be 64 KiB and a syslog
  relay cuts at 8 KiB, where a padded From could end the line with a fake tail: messages of
  [`MESSAGE_CAP`] bytes or more are no evidence (a phone's From header is far shorter).
- res_pjsip, `log_failed_request`: `Request 'METHOD' from 'FROM' failed for 'ADDR:PORT'
  (callid: CALLID) - REASON[ after N tries in T ms]` (Asterisk 13.0 to 13.8: `Request from
  'FROM' ...`, no method). FROM (pjsip's print of the From URI,
  display name included) and CALLID (the header's text to the line's end) are both the
  client's, up to 255 bytes each, on either side of the address: the line counts only when
  ` failed for '` occurs once, then that occurrence is Asterisk's own (a client writing it into
  either field hides its own line, and frames no one).

`Wrong password` and pjsip's `Failed to authenticate` (and `Error to authenticate`, the
credentials not checkable) are failed logins; `No matching peer found`, `No matching endpoint
found` and `Username/auth name mismatch` are account guessing; pjsip's `Not match Endpoint ACL`
is a probe (the admin's ACL refuses the address before any password is looked at), and so are
chan_sip's `Device does not match ACL`, `ACL error (permit/deny)` and `Not a local domain`,
and a guest's call to an extension the dial plan does not have ([`call_rejected`]);
chan_sip's `Peer is not supposed to register` (a static peer's name) is naughty.
*/

use super::lex::Cut;
use super::{Finding, address};
use crate::ip::ClientIp;
use crate::logs::Kind;

/// Longer messages may have been cut by a syslog relay after text of the client's.
pub const MESSAGE_CAP: usize = 1024;

/// A message from its level on.
pub fn parse(m: &str) -> Option<Finding<'_>> {
    if m.len() >= MESSAGE_CAP {
        return None;
    }
    if let Some(rest) = m.strip_prefix("SECURITY[") {
        let (file, text) = source_file(rest)?;
        return (file == "res_security_log.c").then(|| security_event(text))?;
    }
    // Some builds' logger formats put a space before the thread: `NOTICE [123] ...`.
    let rest = (m.strip_prefix("NOTICE[")).or_else(|| m.strip_prefix("NOTICE ["))?;
    let (file, text) = source_file(rest)?;
    match file {
        "chan_sip.c" => match text.strip_prefix("Call from '") {
            Some(call) => call_rejected(call, false),
            None => chan_sip(text.strip_prefix("Registration from '")?),
        },
        "res_pjsip_session.c" => call_rejected(text.strip_prefix("Call from '")?, true),
        "res_pjsip/pjsip_distributor.c" => pjsip(text.strip_prefix("Request ")?),
        "manager.c" => manager(text),
        "chan_iax2.c" => iax2(text),
        _ => None,
    }
}

/// After `NOTICE[`: `1234][C-0000001a]: chan_sip.c:28501 handle_request_register: TEXT` (and
/// the older and syslog spellings): the source file and TEXT.
fn source_file(m: &str) -> Option<(&str, &str)> {
    let (thread, rest) = m.cut("]")?;
    if thread.is_empty() || !thread.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = match rest.strip_prefix("[C-") {
        Some(call) => {
            let (call, rest) = call.cut("]")?;
            if !call.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            rest
        }
        None => rest,
    };
    let rest = rest.strip_prefix(':').unwrap_or(rest).strip_prefix(' ')?;
    let (place, rest) = rest.cut(" ")?;
    let (file, line) = place.cut(":")?;
    if line.is_empty() {
        return Some((file, rest));
    }
    if !line.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_prefix("in ").unwrap_or(rest);
    let (function, text) = rest.cut(": ")?;
    if function.is_empty()
        || !function
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    Some((file, text))
}

const CHAN_SIP_REASONS: [(&str, Kind); 7] = [
    ("' - Wrong password", Kind::Failed),
    ("' - No matching peer found", Kind::Naughty),
    ("' - Username/auth name mismatch", Kind::Naughty),
    // A peer with a fixed `host=`: registering as it is using a name not given out.
    ("' - Peer is not supposed to register", Kind::Naughty),
    // The admin's `permit`/`deny` or `domain` settings refuse the address or the domain
    // before any password is looked at.
    ("' - Device does not match ACL", Kind::Probe),
    ("' - ACL error (permit/deny)", Kind::Probe),
    ("' - Not a local domain", Kind::Probe),
];

/// manager.c (AMI) `authenticate`: `ADDR failed to authenticate as 'NAME'` and `ADDR tried to
/// authenticate with nonexistent user 'NAME'` (`ast_sockaddr_stringify_addr`, or
/// `ast_inet_ntoa` before 1.8). The address is the message's first word, before the
/// client's `Username:` header (one line of the AMI protocol). A nonexistent user's attempt
/// writes both lines (the second as the failure of the same attempt).
fn manager(text: &str) -> Option<Finding<'_>> {
    let (addr, rest) = text.cut(" ")?;
    let ip = bare_address(addr)?;
    let (kind, user) = if let Some(user) = rest.strip_prefix("failed to authenticate as '") {
        (Kind::Failed, user)
    } else if let Some(user) = rest.strip_prefix("tried to authenticate with nonexistent user '") {
        (Kind::Naughty, user)
    } else {
        return None;
    };
    Some(Finding::new(kind, ip, Some(user.strip_suffix('\'')?)))
}

/// chan_iax2: `Host ADDR failed to authenticate as NAME` (quoted in later versions), `Host
/// ADDR failed MD5 authentication for 'NAME' (GOT != WANTED)` (failed), and `No registration
/// for peer 'NAME' (from ADDR)` (naughty). NAME is the client's username IE (up to 255
/// bytes, any byte but NUL); in the last message it comes before the address, which is
/// read from the end: the line must end `' (from ADDR)`, which Asterisk always appends after
/// the name, and a message this short is never cut (see [`MESSAGE_CAP`]).
fn iax2(text: &str) -> Option<Finding<'_>> {
    if let Some(rest) = text.strip_prefix("Host ") {
        let (addr, rest) = rest.cut(" ")?;
        let ip = bare_address(addr)?;
        if let Some(user) = rest.strip_prefix("failed to authenticate as ") {
            let user = user
                .strip_prefix('\'')
                .and_then(|u| u.strip_suffix('\''))
                .unwrap_or(user);
            return Some(Finding::new(Kind::Failed, ip, Some(user)));
        }
        let rest = rest.strip_prefix("failed MD5 authentication for '")?;
        let (user, _) = rest.strip_suffix(')')?.cut("' (")?;
        return Some(Finding::new(Kind::Failed, ip, Some(user)));
    }
    let rest = text
        .strip_prefix("No registration for peer '")?
        .strip_suffix(')')?;
    let (user, addr) = rest.rcut("' (from ")?;
    Some(Finding::new(Kind::Naughty, bare_address(addr)?, Some(user)))
}

const SECURITY_EVENTS: [(&str, Kind); 4] = [
    ("InvalidPassword", Kind::Failed),
    ("ChallengeResponseFailed", Kind::Failed),
    ("InvalidAccountID", Kind::Naughty),
    ("FailedACL", Kind::Probe),
];

/// res_security_log.c's `SecurityEvent="NAME",EventTV="...",Severity="...",Service="...",
/// EventVersion="N",AccountID="...",SessionID="...",LocalAddress="IPV4/UDP/A/P",
/// RemoteAddress="IPV4/UDP/A/P"[,...]` (the `SECURITY` level). Each event's fields are
/// written in a fixed order, values unescaped: AccountID and SessionID (a SIP Call-ID) before
/// the address and the optional fields after it (ReceivedHash, Response) are the client's.
/// The address is Asterisk's only when `RemoteAddress="` occurs once in the message: a client
/// writing it into any field hides its own line and frames no one; a message cut by a relay
/// is already refused by its length ([`MESSAGE_CAP`]).
fn security_event(text: &str) -> Option<Finding<'_>> {
    const REMOTE: &str = ",RemoteAddress=\"";
    let rest = text.strip_prefix("SecurityEvent=\"")?;
    let (name, rest) = rest.cut("\",EventTV=\"")?;
    let kind = SECURITY_EVENTS
        .iter()
        .find_map(|(event, kind)| (*event == name).then_some(*kind))?;
    let (before, after) = rest.split_once(REMOTE)?;
    if after.contains("RemoteAddress=\"") || before.contains("RemoteAddress=\"") {
        return None;
    }
    if !before.contains("\",LocalAddress=\"") {
        return None;
    }
    // `IPV4/UDP/203.0.113.9/5060` or `IPV6/TCP/2001:db8::1/5060`.
    let (value, tail) = after.cut("\"")?;
    if !(tail.is_empty() || tail.starts_with(',')) {
        return None;
    }
    let (family, value) = value.cut("/")?;
    if family != "IPV4" && family != "IPV6" {
        return None;
    }
    let (_transport, value) = value.cut("/")?;
    let (addr, port) = value.rcut("/")?;
    if !is_port(port) {
        return None;
    }
    let ip = address(addr)?;
    let user = before
        .cut(",AccountID=\"")
        .and_then(|(_, a)| a.cut("\",SessionID=\""))
        .map(|(a, _)| a);
    Some(Finding::new(kind, ip, user))
}

/// An address without a port: `203.0.113.9`, `2001:db8::1` or `[2001:db8::1]`.
fn bare_address(text: &str) -> Option<ClientIp> {
    match text.strip_prefix('[') {
        Some(v6) => address(v6.strip_suffix(']')?),
        None => address(text),
    }
}

/// After `Registration from '`: `FROM' failed for 'ADDR' - REASON`.
fn chan_sip(rest: &str) -> Option<Finding<'_>> {
    let (kind, rest) = CHAN_SIP_REASONS
        .iter()
        .find_map(|(reason, kind)| rest.strip_suffix(reason).map(|r| (*kind, r)))?;
    let (from, addr) = rest.rcut("' failed for '")?;
    let ip = socket_address(addr)?;
    Some(Finding::new(kind, ip, Some(from)))
}

/// After `Call from '`: chan_sip's `NAME' (ADDR:PORT) to extension 'EXTEN' rejected because
/// extension not found in context 'CONTEXT'.` (res_pjsip_session.c's: `(TRANSPORT:ADDR:PORT)`).
/// NAME is the caller's configured peer or endpoint, CONTEXT the admin's, the address the
/// packet's source; EXTEN is the Request-URI's user, URI-decoded, any text at all (the
/// reason Asterisk's own file is not read; through syslog the message is one line). So the
/// address is read from the left, before EXTEN, and the message must end with the fixed
/// tail. Only a guest's call is read, chan_sip's empty NAME (`allowguest`) or res_pjsip's
/// `anonymous` endpoint: a probe (scanners dial number after number for a route out); an
/// identified phone that misdials is no evidence against its office.
fn call_rejected(rest: &str, transport: bool) -> Option<Finding<'_>> {
    let (name, rest) = rest.cut("' (")?;
    let guest = if transport { "anonymous" } else { "" };
    if name != guest {
        return None;
    }
    let (addr, rest) = rest.cut(") to extension '")?;
    let addr = if transport {
        let (kind, addr) = addr.cut(":")?;
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        addr
    } else {
        addr
    };
    let ip = socket_address(addr)?;
    let (_exten, context) = rest.rcut("' rejected because extension not found in context '")?;
    let context = context.strip_suffix("'.")?;
    if context.is_empty() || context.contains('\'') {
        return None;
    }
    Some(Finding::new(Kind::Probe, ip, None))
}

const PJSIP_REASONS: [(&str, Kind); 5] = [
    (") - Failed to authenticate", Kind::Failed),
    // AST_SIP_AUTHENTICATION_ERROR: the credentials could not be checked (answered 500).
    (") - Error to authenticate", Kind::Failed),
    (") - No matching endpoint found", Kind::Naughty),
    // The endpoint's own `acl`/`deny`: the address may not use it at all.
    (") - Not match Endpoint ACL", Kind::Probe),
    // The endpoint's `contact_acl`: the Contact header's address may not use it.
    (") - Not match Endpoint Contact ACL", Kind::Probe),
];

/// After `Request `: `'METHOD' from 'FROM' failed for 'ADDR' (callid: CALLID) - REASON`, or
/// Asterisk 13.0-13.8's `from 'FROM' failed ...` without the method.
fn pjsip(rest: &str) -> Option<Finding<'_>> {
    const MARK: &str = "' failed for '";
    let (before, after) = rest.split_once(MARK)?;
    if after.contains(MARK) {
        return None;
    }
    let from = match before.strip_prefix("from '") {
        Some(from) => from,
        None => {
            let (method, from) = before.strip_prefix('\'')?.cut("' from '")?;
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return None;
            }
            from
        }
    };
    let (addr, rest) = after.cut("' (callid: ")?;
    let ip = socket_address(addr)?;
    // The reason ends the line; the call id before it is the client's. `after N tries`: the
    // line sums up N requests from the address (`unidentified_request_count`).
    let (rest, count) = match rest.rcut(" after ") {
        Some((head, tail)) => match tries(tail) {
            Some(n) => (head, n),
            None => (rest, 1),
        },
        None => (rest, 1),
    };
    let kind = PJSIP_REASONS
        .iter()
        .find_map(|(reason, kind)| rest.ends_with(reason).then_some(*kind))?;
    Some(Finding {
        count,
        ..Finding::new(kind, ip, Some(from))
    })
}

/// At most this many requests per summing line (Asterisk's threshold is a few dozen).
const MAX_TRIES: u32 = 1000;

/// `5 tries in 2.500 ms`: 5.
fn tries(text: &str) -> Option<u32> {
    let (count, rest) = text.cut(" tries in ")?;
    let ms = rest.strip_suffix(" ms")?;
    if ms.is_empty() || !ms.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    count
        .parse::<u32>()
        .ok()
        .filter(|&n| n > 0)
        .map(|n| n.min(MAX_TRIES))
}

/// `203.0.113.9:5060`, `[2001:db8::1]:5060`, pjsip's older `2001:db8::1:5060` (always with a
/// port), or IPv4 without a port (chan_sip 1.8).
fn socket_address(text: &str) -> Option<ClientIp> {
    if let Some(v6) = text.strip_prefix('[') {
        let (addr, port) = v6.cut("]:")?;
        return is_port(port).then(|| address(addr))?;
    }
    match text.rcut(":") {
        Some((addr, port)) => is_port(port).then(|| address(addr))?,
        None => address(text),
    }
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}
