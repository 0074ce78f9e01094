/*!
What the mail filters say about the client that sent a message: viruses and spam
(amavisd-new, rspamd, SpamAssassin's spamd, milters rejecting through postfix) and DNS
blocklist rejects (postfix smtpd, postscreen). See the rules in `parse/mod.rs`.

Where the attacker writes, and how the client is found instead:
- postfix `reject:` / `milter-reject:` lines: `STAGE from NAME[ADDR]: CODE ...; from=<..>
  to=<..> proto=.. helo=<..>`. The client part comes first and is read as for SASL (NAME is
  a verified host name or `unknown`); the envelope addresses and the HELO name, all chosen
  by the client, come after the reason and are never read. An RBL reject must say exactly
  `Service unavailable; Client host [ADDR] blocked using ` with ADDR equal to the client.
- amavis `(ID) Blocked SPAM {FLAGS}, [ADDR]:PORT [ORIG] <FROM> -> <TO>, ..., Message-ID:
  <..>, mail_id: .., Hits: 17.3, ...`: the client is the first bracket after the fixed
  prefix (postfix passed it over XFORWARD), after the policy bank path the administrator
  named; FROM, TO, the Message-ID and, in newer templates, the Subject and From header are
  the sender's and can imitate `, Hits: 99`. Every `Hits:` value is read and the lowest
  counts: a sender relaying through a big provider must not raise that provider's score,
  so forging can only lower the sender's own.
- rspamd `<TASK>; task; rspamd_task_write_log: id: <MSGID>, qid: <QID>, ip: ADDR, from:
  <FROM>, (default: T (reject): [16.50/15.00] ...`: the marker must start the message (one
  inside another line's Message-ID is text). MSGID (before the address) and FROM (after it)
  are the sender's. A line with more than one `, ip: ` or `(default: ` is not read: it cannot
  be told which is real; nor is one near rspamd's (and rsyslog's) 8 KiB cap, where a long
  MSGID may have pushed the real `ip:` off the line.
- milter rejects: only the milter's own reply text at the start of the reason counts
  (`Blocked by SpamAssassin`, `Spam message rejected`, `Virus detected by ClamAV - `,
  `Virus found: NAME`); words like "virus" elsewhere (a From domain) mean nothing.
- spamd names no client at all. Its `identified spam (12.3/5.0)` line gives the score and
  its `result: Y 12 ... mid=<MSGID>` line the Message-ID; postfix's `QID: client=NAME[ADDR]`
  (smtpd) and `QID: message-id=<MSGID>` (cleanup) lines join that to an address. A sender
  chooses its Message-ID and could copy someone else's: a Message-ID seen from two
  addresses is not used. The three kinds of line must be in the logs sentry reads, in that
  order, within the last 20,000 messages; a spamd verdict that cannot be joined is not
  evidence.
*/

use super::lex::Cut;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use super::{Finding, ParseOptions, address, mail};
use crate::ip::ClientIp;
use crate::logs::{Kind, Score};

/// How many queue ids, Message-IDs and pending spamd scores are remembered (FIFO).
const REMEMBERED: usize = 20_000;

/// A map that forgets its oldest entries beyond a fixed size: log lines are attacker
/// driven, memory must not be.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "K: serde::Serialize + Hash + Eq, V: serde::Serialize",
    deserialize = "K: serde::Deserialize<'de> + Hash + Eq, V: serde::Deserialize<'de>"
))]
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            if self.order.len() > REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
            }
        }
    }

    /// The `n` most recently inserted entries still held.
    fn recent(&self, n: usize) -> Bounded<K, V>
    where
        V: Clone,
    {
        let mut recent = Bounded::default();
        let held: Vec<&K> = (self.order.iter().rev())
            .filter(|k| self.map.contains_key(k))
            .take(n)
            .collect();
        for key in held.into_iter().rev() {
            if let Some(value) = self.map.get(key) {
                recent.insert(key.clone(), value.clone());
            }
        }
        recent
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key)
    }
}

/// The joins spamd needs: queue id → client, Message-ID → client (None once seen from two
/// clients), spamd child pid → the score of its last verdict.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct MailTrail {
    queue_client: Bounded<String, ClientIp>,
    message_client: Bounded<String, Option<ClientIp>>,
    spamd_score: Bounded<u32, Score>,
}

impl MailTrail {
    /// The `n` most recent entries of each join, to hand to the next scan.
    pub fn recent(&self, n: usize) -> MailTrail {
        MailTrail {
            queue_client: self.queue_client.recent(n),
            message_client: self.message_client.recent(n),
            spamd_score: self.spamd_score.recent(n),
        }
    }
}

/// postfix: postscreen's verdicts, queue bookkeeping, RBL and milter rejects, then the
/// SASL lines of `mail`.
pub fn parse_postfix<'a>(
    message: &'a str,
    options: &ParseOptions,
    trail: &mut MailTrail,
) -> Option<Finding<'a>> {
    if let Some(finding) = postscreen(message) {
        return finding;
    }
    if let Some((queue_id, rest)) = message.cut(": ") {
        if let Some(rest) = rest.strip_prefix("reject: ") {
            return rbl_reject(queue_id, rest);
        }
        if let Some(rest) = rest.strip_prefix("milter-reject: ") {
            return milter_reject(queue_id, rest);
        }
        if is_queue_id(queue_id) {
            if let Some(rest) = rest.strip_prefix("client=")
                && let Some(ip) = client(rest).map(|(ip, _)| ip)
            {
                trail.queue_client.insert(queue_id.to_string(), ip);
            } else if let Some(rest) = rest.strip_prefix("message-id=<") {
                remember_message(trail, queue_id, rest);
                return None;
            }
        }
    }
    mail::parse_postfix(message, options)
}

/// postscreen's own verdicts (postfix 2.8 to 3.x, `postscreen_early.c`, `postscreen.c`):
/// Some(None) for a postscreen line that is no evidence, None for another line.
///
/// - `PREGREET N after T from [ADDR]:PORT: TEXT`: the client spoke before the greeting,
///   which SMTP forbids and bots do to save time: a probe (counts toward `max_attempts`;
///   an impatient real client can do it once). TEXT (its first 100 bytes, escaped) comes
///   after the address.
/// - `DNSBL rank N for [ADDR]:PORT`: logged only when the combined score reached
///   `postscreen_dnsbl_threshold`, the score at which postscreen rejects (or, with
///   `postscreen_dnsbl_action = ignore`, would reject): a blocklist hit, as smtpd's
///   `blocked using` is. With `enforce`, the `reject: RCPT ... blocked using` lines that
///   follow count as well.
/// - `HANGUP after T from [ADDR]:PORT in tests before SMTP handshake`: gone before the
///   greeting, as port scanners are: a probe. A hangup `in tests after SMTP handshake` is
///   not: postscreen's own source says a session may end at any time (postfix itself does
///   not always send QUIT), so it is no failure.
fn postscreen(message: &str) -> Option<Option<Finding<'_>>> {
    if let Some(rest) = message.strip_prefix("PREGREET ") {
        let (count, rest) = rest.cut(" after ")?;
        let rest = after_delay(rest)?;
        let (ip, rest) = postscreen_client(rest)?;
        return Some(
            (is_number(count) && rest.starts_with(": "))
                .then(|| Finding::new(Kind::Probe, ip, None)),
        );
    }
    if let Some(rest) = message.strip_prefix("DNSBL rank ") {
        let (rank, rest) = rest.cut(" for ")?;
        let (ip, rest) = postscreen_client(rest)?;
        return Some(
            (is_number(rank) && rest.is_empty()).then(|| Finding::new(Kind::Rbl, ip, None)),
        );
    }
    if let Some(rest) = message.strip_prefix("HANGUP after ") {
        let (ip, rest) = postscreen_client(after_delay(rest)?)?;
        return Some(
            (rest == " in tests before SMTP handshake")
                .then(|| Finding::new(Kind::Probe, ip, None)),
        );
    }
    None
}

/// `T from ` (postscreen's delay, `0.1` or `12`) → what follows.
fn after_delay(text: &str) -> Option<&str> {
    let (delay, rest) = text.cut(" from ")?;
    (!delay.is_empty() && delay.bytes().all(|b| b.is_ascii_digit() || b == b'.')).then_some(rest)
}

/// postscreen's `[ADDR]:PORT` → the client and what follows.
fn postscreen_client(text: &str) -> Option<(ClientIp, &str)> {
    let (addr, rest) = text.strip_prefix('[')?.cut("]:")?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    Some((address(addr)?, &rest[end..]))
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_queue_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `NOQUEUE` or a queue id.
fn is_queue_ref(text: &str) -> bool {
    text == "NOQUEUE" || is_queue_id(text)
}

/// cleanup's `QID: message-id=<ID>`: joins the Message-ID to the queue id's client.
fn remember_message(trail: &mut MailTrail, queue_id: &str, rest: &str) {
    let Some(id) = rest.strip_suffix('>') else {
        return;
    };
    let Some(&ip) = trail.queue_client.get(&queue_id.to_string()) else {
        return;
    };
    let id = id.to_string();
    let joined = match trail.message_client.get(&id) {
        Some(Some(known)) if *known != ip => None,
        Some(None) => None,
        _ => Some(ip),
    };
    trail.message_client.insert(id.clone(), joined);
    if joined.is_none()
        && let Some(entry) = trail.message_client.map.get_mut(&id)
    {
        *entry = None;
    }
}

/// `NAME[ADDR]` (smtpd) or `[ADDR]:PORT` (postscreen), then the rest after it.
fn client(text: &str) -> Option<(ClientIp, &str)> {
    let (addr, rest) = super::lex::bracketed_client(text, true)?;
    Some((address(addr)?, rest))
}

/// `STAGE from CLIENT: ` → the client and the reply after it.
fn stage_and_client(text: &str) -> Option<(ClientIp, &str)> {
    let (stage, rest) = text.cut(" from ")?;
    if stage.is_empty() || !stage.bytes().all(|b| b.is_ascii_uppercase() || b == b'-') {
        return None;
    }
    let (ip, rest) = client(rest)?;
    Some((ip, rest.strip_prefix(": ")?))
}

/// `reject: RCPT from NAME[ADDR]: 554 5.7.1 Service unavailable; Client host [ADDR] blocked
/// using zen.spamhaus.org; ...` (postscreen: `client [ADDR]`).
fn rbl_reject<'a>(queue: &str, text: &'a str) -> Option<Finding<'a>> {
    if !is_queue_ref(queue) {
        return None;
    }
    let (ip, reply) = stage_and_client(text)?;
    let (code, reply) = reply.cut(" ")?;
    if code.len() != 3 || !code.starts_with(['4', '5']) || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (status, reply) = reply.cut(" ")?;
    if !status.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let listed = reply
        .strip_prefix("Service unavailable; Client host [")
        .or_else(|| reply.strip_prefix("Service unavailable; client ["))?;
    let (named, rest) = listed.cut("]")?;
    if address(named)? != ip || !rest.starts_with(" blocked using ") {
        return None;
    }
    Some(Finding::new(Kind::Rbl, ip, None))
}

/// The reply texts milters write themselves, read from the start of the reason only (a
/// sender's From domain `virus-news.example` in another milter's reject is not a virus):
/// - spamass-milter: `Blocked by SpamAssassin` (its only reject text);
/// - rspamd's milter proxy: `Spam message rejected` (its default `reject_message`);
/// - clamav-milter before 0.95: `Virus detected by ClamAV - URL`;
/// - clamav-milter 0.95+ has no text of its own (postfix then says `Command rejected`, which
///   any milter may cause); with `RejectMsg` the admin's text is used, and the common
///   `Virus found: %v` is recognised when `%v` (the signature name) is one word.
const MILTER_SPAM: [&str; 2] = ["Blocked by SpamAssassin", "Spam message rejected"];
const MILTER_VIRUS_FIXED: &str = "Virus detected by ClamAV - ";
const MILTER_VIRUS_NAMED: &str = "Virus found: ";

/// `milter-reject: END-OF-MESSAGE from NAME[ADDR]: 5.7.1 REASON; from=<..> ...`: a virus or
/// spam milter's verdict. Only the milter's own reason, before the envelope, is read.
fn milter_reject<'a>(queue: &str, text: &'a str) -> Option<Finding<'a>> {
    if !is_queue_ref(queue) {
        return None;
    }
    let (ip, reply) = stage_and_client(text)?;
    // `[CODE ]X.Y.Z TEXT`: postfix logs the enhanced status, sometimes after the code.
    let reply = match reply.cut(" ") {
        Some((code, rest)) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => reply,
    };
    let (status, reason) = reply.cut(" ")?;
    if !is_enhanced_status(status) {
        return None;
    }
    // The envelope follows the reason; the reason must end there (or the line).
    let reason = reason.cut("; from=<").map_or(reason, |(r, _)| r);
    if MILTER_SPAM.contains(&reason) {
        return Some(Finding::spam(ip, None));
    }
    if let Some(url) = reason.strip_prefix(MILTER_VIRUS_FIXED)
        && is_word(url)
    {
        return Some(Finding::new(Kind::Virus, ip, None));
    }
    if let Some(name) = reason.strip_prefix(MILTER_VIRUS_NAMED)
        && is_word(name)
    {
        return Some(Finding::new(Kind::Virus, ip, None));
    }
    None
}

/// `5.7.1`, `4.7.0`: class, subject, detail.
fn is_enhanced_status(text: &str) -> bool {
    let mut parts = text.split('.');
    matches!(parts.next(), Some("4" | "5"))
        && parts.clone().count() == 2
        && parts.all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// One token without spaces or `;` (a signature name, a URL).
fn is_word(text: &str) -> bool {
    !text.is_empty()
        && !text
            .bytes()
            .any(|b| b == b' ' || b == b';' || b.is_ascii_control())
}

/// amavisd-new: `(ID) ACTION CATEGORY[ (NAMES)][ {FLAGS}], [ADDR]:PORT ...`.
pub fn parse_amavis(message: &str) -> Option<Finding<'_>> {
    let rest = message.strip_prefix('(')?;
    let (log_id, rest) = rest.cut(") ")?;
    if log_id.is_empty()
        || !log_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    let (action, rest) = rest.cut(" ")?;
    if !matches!(
        action,
        "Blocked" | "Passed" | "Bounced" | "Rejected" | "Discarded" | "Not-Delivered"
    ) {
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_uppercase() || c == '-'))
        .unwrap_or(rest.len());
    let (category, mut rest) = rest.split_at(end);
    let kind = match category {
        "INFECTED" => Kind::Virus,
        "SPAM" | "SPAMMY" => Kind::Spam,
        _ => return None,
    };
    // The virus names (from the scanner, not the sender).
    if let Some(names) = rest.strip_prefix(" (") {
        let close = names.find(')')?;
        rest = &names[close + 1..];
    }
    if let Some(flags) = rest.strip_prefix(" {") {
        let (flags, after) = flags.cut("}")?;
        if !flags
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b',')
        {
            return None;
        }
        rest = after;
    }
    let mut rest = rest.strip_prefix(", ")?;
    // amavis's policy bank path and its `LOCAL` flag before the client (`ORIGINATING LOCAL`,
    // `MYNETS/SUBMISSION`): names the administrator chose, never the sender's.
    for _ in 0..4 {
        if rest.starts_with('[') {
            break;
        }
        let (bank, after) = rest.cut(" ")?;
        if bank.is_empty()
            || !bank
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
        {
            return None;
        }
        rest = after;
    }
    if !rest.starts_with('[') {
        return None;
    }
    let (ip, _) = client(rest)?;
    Some(match kind {
        Kind::Virus => Finding::new(Kind::Virus, ip, None),
        _ => Finding::spam(ip, lowest_hits(message)),
    })
}

/// The lowest `, Hits: N` on the line (see the module doc); None when none is a number.
fn lowest_hits(message: &str) -> Option<Score> {
    message
        .split(", Hits: ")
        .skip(1)
        .filter_map(|part| Score::parse(part.split([',', ' ']).next().unwrap_or_default()))
        .min()
}

/// rspamd formats a log line into a fixed buffer (`RSPAMD_LOGBUF_SIZE`, 8 KiB) and rsyslog's
/// default `$MaxMessageSize` is 8 KiB too: a line near that size may have lost its real
/// `ip:` field to the cut, leaving only a copy inside the sender's Message-ID.
const RSPAMD_MAX_LINE: usize = 7 * 1024;

/// rspamd's task log line (see the module doc): `<TASKID>; task; rspamd_task_write_log: `
/// starts the message (the marker anywhere else is text, e.g. another line's Message-ID).
pub fn parse_rspamd(message: &str) -> Option<Finding<'_>> {
    const MARKER: &str = "rspamd_task_write_log: ";
    if message.len() >= RSPAMD_MAX_LINE {
        return None;
    }
    let text = match message.strip_prefix(MARKER) {
        Some(text) => text,
        None => {
            let (task, rest) = message.strip_prefix('<')?.cut(">; task; ")?;
            if task.is_empty() || !task.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            rest.strip_prefix(MARKER)?
        }
    };
    if text.matches(", ip: ").count() != 1 || text.matches(" (default: ").count() != 1 {
        return None;
    }
    let (_, after_ip) = text.cut(", ip: ")?;
    let ip = address(after_ip.split(',').next()?)?;
    let (_, verdict) = text.cut(" (default: ")?;
    let (is_spam, verdict) = verdict.cut(" (")?;
    let (action, verdict) = verdict.cut("): [")?;
    let (score, _) = verdict.cut("/")?;
    let spam = match (is_spam, action) {
        (_, "soft reject" | "greylist" | "no action") => false,
        ("T", _) => true,
        (_, "reject" | "add header" | "rewrite subject") => true,
        _ => false,
    };
    spam.then(|| Finding::spam(ip, Score::parse(score)))
}

/// spamd: the verdict line's score, then the result line's Message-ID joined to a client.
pub fn parse_spamd<'a>(
    pid: Option<u32>,
    message: &'a str,
    trail: &mut MailTrail,
) -> Option<Finding<'a>> {
    let text = message.strip_prefix("spamd: ").unwrap_or(message);
    if let Some(rest) = text.strip_prefix("identified spam (") {
        let score = Score::parse(rest.cut("/")?.0)?;
        trail.spamd_score.insert(pid?, score);
        return None;
    }
    if text.starts_with("clean message (") {
        trail.spamd_score.remove(&pid?);
        return None;
    }
    let rest = text.strip_prefix("result: ")?;
    let (flag, rest) = rest.cut(" ")?;
    let pending = pid.and_then(|p| trail.spamd_score.remove(&p));
    if flag != "Y" {
        return None;
    }
    let (whole, _) = rest.cut(" ")?;
    let score = pending.or_else(|| Score::parse(whole));
    let (_, id) = rest.cut(",mid=<")?;
    let (id, _) = id.cut(">")?;
    let ip = (*trail.message_client.get(&id.to_string())?)?;
    Some(Finding::spam(ip, score))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(f: Option<Finding<'_>>) -> Option<(Kind, String, Option<String>)> {
        f.map(|f| (f.kind, f.ip.to_string(), f.score.map(|s| s.to_string())))
    }

    fn spam(ip: &str, score: Option<&str>) -> Option<(Kind, String, Option<String>)> {
        Some((Kind::Spam, ip.to_string(), score.map(str::to_string)))
    }

    #[test]
    fn amavis_takes_the_client_from_the_fixed_prefix_and_the_lowest_hits() {
        assert_eq!(
            show(parse_amavis(
                "(12345-01) Blocked SPAM {DiscardedInbound,Quarantined}, [203.0.113.5]:41234 \
                 [9.9.9.9] <x@[9.9.9.9]> -> <u@example.org>, Queue-ID: 4AB, Message-ID: \
                 <a>, mail_id: z, Hits: 17.3, size: 1, 10 ms"
            )),
            spam("203.0.113.5", Some("17.3"))
        );
        // A Subject imitating a higher score cannot raise a relay's message to spam level.
        assert_eq!(
            show(parse_amavis(
                "(12345-02) Passed SPAMMY {RelayedTaggedInbound}, [192.0.2.25]:41234 \
                 [192.0.2.25] <x@example.com> -> <u@example.org>, Message-ID: <a>, \
                 mail_id: z, Hits: 7.1, size: 1, Subject: \"x, Hits: 99, size: 1\", 10 ms"
            )),
            spam("192.0.2.25", Some("7.1"))
        );
        // A policy bank of the administrator's before the client.
        assert_eq!(
            show(parse_amavis(
                "(1-05) Blocked SPAM {DiscardedInbound}, MYNETS/SUBMISSION LOCAL [192.0.2.26]:587 \
                 [192.0.2.26] <a@b> -> <c@d>, mail_id: y, Hits: 12.5, size: 1"
            )),
            spam("192.0.2.26", Some("12.5"))
        );
        assert_eq!(
            show(parse_amavis(
                "(1-02) Blocked INFECTED (Eicar-Signature) {DiscardedInbound}, [2001:db8::5]:25 \
                 [2001:db8::5] <a@b> -> <c@d>, Hits: -, size: 1"
            )),
            Some((Kind::Virus, "2001:db8::5".to_string(), None))
        );
        assert_eq!(
            show(parse_amavis(
                "(1-03) Passed CLEAN {RelayedInbound}, [203.0.113.6]:1 [203.0.113.6] <a> -> <b>, Hits: -1.2"
            )),
            None
        );
        // Sender text where the client should be: not read.
        assert_eq!(
            show(parse_amavis(
                "(1-04) Blocked SPAM, <[9.9.9.9]> -> <b>, Hits: 20"
            )),
            None
        );
    }

    #[test]
    fn rspamd_refuses_lines_with_a_second_address_field() {
        assert_eq!(
            show(parse_rspamd(
                "<a1b2c3>; task; rspamd_task_write_log: id: <m@x>, qid: <4AB>, ip: 203.0.113.7, \
                 from: <a@b>, (default: T (reject): [16.50/15.00] [BAYES_SPAM(5.10)]), len: 10"
            )),
            spam("203.0.113.7", Some("16.5"))
        );
        assert_eq!(
            show(parse_rspamd(
                "rspamd_task_write_log: id: <x>, ip: 9.9.9.9, qid: <4AB>, ip: 203.0.113.7, \
                 from: <a>, (default: T (reject): [16.50/15.00] []), len: 1"
            )),
            None
        );
        assert_eq!(
            show(parse_rspamd(
                "rspamd_task_write_log: id: <x>, qid: <4AB>, ip: 203.0.113.7, from: <a>, \
                 (default: F (no action): [1.20/15.00] []), len: 1"
            )),
            None
        );
    }

    #[test]
    fn milter_and_rspamd_verdicts_come_from_their_fixed_places() {
        let o = ParseOptions::default();
        let mut t = MailTrail::default();
        let mut p = |m| show(parse_postfix(m, &o, &mut t)).map(|(k, ip, _)| (k, ip));
        assert_eq!(
            p(
                "4AB: milter-reject: END-OF-MESSAGE from x.example[198.51.100.80]: 5.7.1 \
               rejected by DMARC policy for virus-news.example; from=<a@virus-news.example>"
            ),
            None
        );
        assert_eq!(
            p(
                "4AB: milter-reject: END-OF-MESSAGE from unknown[203.0.113.9]: 550 5.7.1 \
               Blocked by SpamAssassin; from=<a@b>"
            ),
            Some((Kind::Spam, "203.0.113.9".to_string()))
        );
        assert_eq!(
            show(parse_rspamd(
                "<4d5e80>; lua; x: <rspamd_task_write_log: id: <x>, ip: 198.51.100.82, \
                 (default: T (reject): [30.00/15.00] [])>"
            )),
            None
        );
        let cut = format!(
            "<4d5e82>; task; rspamd_task_write_log: id: <x, ip: 198.51.100.84, (default: T \
             (reject): [30.00/15.00] []), len: 1{}",
            "A".repeat(RSPAMD_MAX_LINE)
        );
        assert_eq!(show(parse_rspamd(&cut)), None);
    }

    #[test]
    fn spamd_is_joined_through_postfix_and_refused_when_ambiguous() {
        let o = ParseOptions::default();
        let mut t = MailTrail::default();
        parse_postfix("4AB: client=unknown[203.0.113.8]", &o, &mut t);
        parse_postfix("4AB: message-id=<m1@x>", &o, &mut t);
        parse_spamd(
            Some(7),
            "spamd: identified spam (12.3/5.0) for nobody:1 in 1 s",
            &mut t,
        );
        assert_eq!(
            show(parse_spamd(
                Some(7),
                "spamd: result: Y 12 - A,B scantime=1,size=2,user=nobody,uid=1,required_score=5.0,\
                 rhost=localhost,raddr=127.0.0.1,rport=1,mid=<m1@x>,autolearn=no",
                &mut t
            )),
            spam("203.0.113.8", Some("12.3"))
        );
        // Another client copies the Message-ID: nobody is blamed through it any more.
        parse_postfix("5CD: client=unknown[198.51.100.9]", &o, &mut t);
        parse_postfix("5CD: message-id=<m1@x>", &o, &mut t);
        assert_eq!(
            show(parse_spamd(
                Some(8),
                "spamd: result: Y 15 - A scantime=1,mid=<m1@x>,autolearn=no",
                &mut t
            )),
            None
        );
        // Unknown Message-ID: not evidence.
        assert_eq!(
            show(parse_spamd(
                Some(9),
                "spamd: result: Y 15 - A mid=<zz>,",
                &mut t
            )),
            None
        );
    }

    #[test]
    fn postfix_rbl_and_milter_rejects_read_only_the_client_part() {
        let o = ParseOptions::default();
        let mut t = MailTrail::default();
        let mut p = |m| show(parse_postfix(m, &o, &mut t)).map(|(k, ip, _)| (k, ip));
        assert_eq!(
            p(
                "NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 Service unavailable; \
               Client host [203.0.113.9] blocked using zen.spamhaus.org; from=<a> to=<b> proto=ESMTP helo=<x>"
            ),
            Some((Kind::Rbl, "203.0.113.9".to_string()))
        );
        // The listed address must be the client's.
        assert_eq!(
            p(
                "NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 Service unavailable; \
               Client host [198.51.100.1] blocked using zen.spamhaus.org; from=<a>"
            ),
            None
        );
        // "blocked using" in the HELO of another reject is not an RBL reject.
        assert_eq!(
            p(
                "NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 450 4.7.1 <x>: Helo command \
               rejected; from=<a> to=<b> proto=ESMTP helo=<Service unavailable; Client host [203.0.113.9] blocked using x>"
            ),
            None
        );
        assert_eq!(
            p(
                "4AB: milter-reject: END-OF-MESSAGE from unknown[203.0.113.10]: 5.7.1 Virus found: \
               Eicar; from=<a> to=<b> proto=ESMTP helo=<x>"
            ),
            Some((Kind::Virus, "203.0.113.10".to_string()))
        );
        assert_eq!(
            p(
                "4AB: milter-reject: END-OF-MESSAGE from unknown[203.0.113.11]: 5.7.1 Rejected; \
               from=<virus@spam> to=<b> proto=ESMTP helo=<spam>"
            ),
            None
        );
    }
}
