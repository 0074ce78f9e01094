/*!
The allow/block rules, as pure functions of evidence and time.

Nothing here touches the database, the logs or a firewall, so every rule can be
tested with plain values. "Now" is always passed in.
*/

use crate::logs::Kind;

/// What the service logs say about one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Authenticated logins.
    pub success: u32,
    /// Wrong password or key for an existing account.
    pub failed: u32,
    /// Account guessing: invalid users, root logins, and the like.
    pub naughty: u32,
    /// Connections that never tried to authenticate.
    pub probe: u32,
    /// Mail carrying a virus.
    pub virus: u32,
    /// Mail scored as spam at or above `smtp_spam_score` (lower scores are not recorded).
    pub spam: u32,
    /// Connections refused because a DNS blocklist lists the address.
    pub rbl: u32,
}

impl Evidence {
    /// Adds `count` events of a kind.
    pub fn add(&mut self, kind: Kind, count: u32) {
        let slot = match kind {
            Kind::Success => &mut self.success,
            Kind::Failed => &mut self.failed,
            Kind::Naughty => &mut self.naughty,
            Kind::Probe => &mut self.probe,
            Kind::Virus => &mut self.virus,
            Kind::Spam => &mut self.spam,
            Kind::Rbl => &mut self.rbl,
        };
        *slot = slot.saturating_add(count);
    }
}

/// What to do with an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Block,
    /// Not enough evidence either way: keep counting.
    Undecided,
}

/// The thresholds of the rules (`max_attempts`, `smtp_spam_messages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// More failed + probe + RBL-rejected events than this block.
    pub max_attempts: u32,
    /// More spam messages than this block.
    pub spam_messages: u32,
}

impl Evidence {
    /// Events that count toward `max_attempts`: failures, probes, DNS blocklist rejects.
    fn attempts(&self) -> u32 {
        self.failed
            .saturating_add(self.probe)
            .saturating_add(self.rbl)
    }

    /// Events that block on their own: account guessing, a virus.
    fn naughty_or_virus(&self) -> u32 {
        self.naughty.saturating_add(self.virus)
    }

    /// Whether the evidence, short of a login, is enough to block.
    fn enough_to_block(&self, limits: Limits) -> bool {
        self.naughty_or_virus() > 0
            || self.spam > limits.spam_messages
            || self.attempts() > limits.max_attempts
    }
}

/// The originals' rule: any success allows (a colleague who mistyped is never locked
/// out); otherwise any naughty attempt or virus, more than `spam_messages` spam messages,
/// or more than `max_attempts` failures, probes and RBL rejects together, blocks. Clean
/// mail is no event at all: it never allows (bots send clean mail too).
pub fn decide(evidence: &Evidence, limits: Limits) -> Verdict {
    if evidence.success > 0 {
        Verdict::Allow
    } else if evidence.enough_to_block(limits) {
        Verdict::Block
    } else {
        Verdict::Undecided
    }
}

/// The fleet's rule, on evidence summed over every host, with the fleet's own
/// `max_attempts`: the same as `decide`, except that a login somewhere only keeps the
/// address from being blocked (that host allows it, and its allow travels as a decision
/// of its own).
pub fn decide_fleet(evidence: &Evidence, limits: Limits) -> Verdict {
    if evidence.success == 0 && evidence.enough_to_block(limits) {
        Verdict::Block
    } else {
        Verdict::Undecided
    }
}

/// What is known about one IPv6 prefix (`ipv6_prefix`), for [`decide_prefix`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixState {
    /// The evidence of its addresses that are on no list, added together.
    pub pooled: Evidence,
    /// How many of those addresses gave any of that evidence.
    pub contributors: u32,
    /// How many of its addresses are blocked.
    pub blocked: u32,
    /// It holds a `never_block` address, an allowed one or one with current trust.
    pub protected: bool,
}

/// Why a prefix is blocked whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixBlock {
    /// `prefix_block_after` (or more) of its addresses are blocked.
    Members(u32),
    /// Its addresses together gave enough evidence to block one address.
    Pooled,
}

/// The prefix rules: a prefix is blocked whole when `block_after` of its addresses are
/// blocked (0 = never by that count), or when the evidence of its other addresses added
/// together would block one address — the bot that rotates through its /64 is stopped
/// after `max_attempts` failures in total, not per address. Evidence from a single
/// address blocks that address alone (`decide`), never its neighbours. A protected prefix
/// (one holding a never-block, allowed or trusted address) is never blocked whole, and
/// neither is one with a login among its unlisted addresses.
pub fn decide_prefix(state: &PrefixState, limits: Limits, block_after: u32) -> Option<PrefixBlock> {
    if state.protected || state.pooled.success > 0 {
        None
    } else if block_after > 0 && state.blocked >= block_after {
        Some(PrefixBlock::Members(state.blocked))
    } else if state.contributors >= 2 && state.pooled.enough_to_block(limits) {
        Some(PrefixBlock::Pooled)
    } else {
        None
    }
}

/// Whether a connect reads the logs: once the address, or its IPv6 prefix as a whole
/// (`prefix_seen`, 0 when prefixes are off), has connected `inspect_after` times.
pub fn inspect(seen: i64, prefix_seen: i64, inspect_after: u32) -> bool {
    seen.max(prefix_seen) >= i64::from(inspect_after)
}

/// True when a block placed at `blocked_at` has outlived `expire_days` (0 = never expires).
pub fn block_expired(blocked_at: i64, now: i64, expire_days: u32) -> bool {
    expire_days > 0
        && blocked_at > 0
        && now.saturating_sub(blocked_at) > i64::from(expire_days) * 86_400
}

/// The most a repeated block is lengthened: 8 × `expire_block_days`.
pub const MAX_REPEAT_FACTOR: u32 = 8;

/// How many days the `times`-th block of one offender lasts (counted since the
/// administrator last delisted or allowed it): `expire_days` the first time, twice as long
/// each time after, at most [`MAX_REPEAT_FACTOR`] times as long (1×, 2×, 4×, 8×, 8×...), so
/// a bot that comes back as soon as its block expires spends ever less of the year
/// guessing. `times` 0 (a block placed before sentry counted them) is a first block; 0
/// days stays "never expires". Keyed by nothing but the count: an address or a network.
pub fn block_days(expire_days: u32, times: u32) -> u32 {
    let doublings = times
        .saturating_sub(1)
        .min(MAX_REPEAT_FACTOR.trailing_zeros());
    expire_days.saturating_mul(1 << doublings)
}

/// When a block placed at `blocked_at` for `days` ends; None when it never does (0 days,
/// or not blocked).
pub fn block_end(blocked_at: i64, days: u32) -> Option<i64> {
    (days > 0 && blocked_at > 0).then(|| blocked_at.saturating_add(i64::from(days) * 86_400))
}

pub use crate::logs::{ACCOUNT_NAME_MAX, ANY_ACCOUNT};

/// How trust after a login is bounded (`trust_days`, `trusted_window`,
/// `trusted_max_attempts`, `untrusted_users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustLimits {
    /// Trust ends this many days after the last login that conferred it.
    pub trust_days: u32,
    /// Attempts for other accounts count within this many seconds.
    pub window_secs: i64,
    /// More attempts than this for other accounts, within the window, block.
    pub max_attempts: u32,
    /// Shared or self-service accounts: a login as one of them confers no trust.
    pub untrusted_users: Vec<String>,
}

/// Whether a login as `account` makes its address trusted. A login that names no account
/// cannot scope trust, and shared or self-service accounts (`git`, anonymous FTP) let
/// anyone in: neither says the address belongs to someone of ours.
pub fn confers_trust(account: &str, limits: &TrustLimits) -> bool {
    !account.is_empty()
        && account != ANY_ACCOUNT
        && !limits.untrusted_users.iter().any(|u| u == account)
}

/// When trust from a login at `last_success` ends.
pub fn trust_until(last_success: i64, trust_days: u32) -> i64 {
    last_success.saturating_add(i64::from(trust_days) * 86_400)
}

/// True when trust from a login at `last_success` has ended at `now`.
pub fn trust_expired(last_success: i64, now: i64, trust_days: u32) -> bool {
    now > trust_until(last_success, trust_days)
}

/// The trust another fleet host's automatic allow may confer here: the accounts it names
/// (`(account, last login)`, the other host's word) that a login here would trust for —
/// the same names (`logs::account_key`: at most [`ACCOUNT_NAME_MAX`] bytes, no control
/// characters, not [`ANY_ACCOUNT`]), none of `untrusted_users` — with each last login no
/// later than the allow (`at`) or `now` and not expired under this host's `trust_days`,
/// at most `max_accounts` of them (the most recent, each name once). Empty: the allow
/// trusts nothing here, and is not taken (an allow without trust would last for ever).
pub fn fleet_trust<'a>(
    accounts: &[(&'a str, i64)],
    at: i64,
    now: i64,
    max_accounts: usize,
    limits: &TrustLimits,
) -> Vec<(&'a str, i64)> {
    let latest = at.clamp(1, now);
    let mut taken: Vec<(&'a str, i64)> = accounts
        .iter()
        .filter(|(name, _)| {
            crate::logs::account_key(Some(name)) == *name && confers_trust(name, limits)
        })
        .map(|&(name, last)| (name, last.clamp(1, latest)))
        .filter(|&(_, last)| !trust_expired(last, now, limits.trust_days))
        .collect();
    taken.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut seen = std::collections::BTreeSet::new();
    taken.retain(|(name, _)| seen.insert(*name));
    taken.truncate(max_accounts);
    taken
}

/// Attempts for one account from a trusted address: how many, and when the window they
/// were counted in began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountAttempts<'a> {
    pub account: &'a str,
    pub attempts: u32,
    pub window_start: i64,
}

/// The rule for an address trusted for `trusted` accounts (those whose trust is current):
/// attempts for the trusted accounts never count (the colleague who mistypes his own
/// password); attempts for any other account (failed, invalid user, root) that began
/// within the window count, and more than `max_attempts` of them block. Returns the
/// attempts that count when they block, None otherwise.
pub fn trusted_address_blocks(
    trusted: &[&str],
    attempts: &[AccountAttempts<'_>],
    now: i64,
    limits: &TrustLimits,
) -> Option<u32> {
    if trusted.contains(&ANY_ACCOUNT) {
        return None;
    }
    let counted = attempts
        .iter()
        .filter(|a| !trusted.contains(&a.account))
        .filter(|a| now.saturating_sub(a.window_start) <= limits.window_secs)
        .fold(0u32, |sum, a| sum.saturating_add(a.attempts));
    (counted > limits.max_attempts).then_some(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(max_attempts: u32) -> Limits {
        Limits {
            max_attempts,
            spam_messages: 3,
        }
    }

    #[test]
    fn mail_rules_virus_heavy_spam_and_blocklists() {
        let mail = |virus, spam, rbl, failed| Evidence {
            virus,
            spam,
            rbl,
            failed,
            ..Evidence::default()
        };
        assert_eq!(decide(&mail(1, 0, 0, 0), lim(10)), Verdict::Block);
        assert_eq!(decide(&mail(0, 4, 0, 0), lim(10)), Verdict::Block);
        assert_eq!(decide(&mail(0, 3, 0, 0), lim(10)), Verdict::Undecided);
        assert_eq!(decide(&mail(0, 0, 6, 5), lim(10)), Verdict::Block);
        assert_eq!(decide(&mail(0, 0, 5, 5), lim(10)), Verdict::Undecided);
        let login = Evidence {
            success: 1,
            ..mail(1, 9, 9, 9)
        };
        assert_eq!(decide(&login, lim(10)), Verdict::Allow);
    }

    #[test]
    fn the_fleet_blocks_on_summed_evidence_but_never_a_login() {
        let sum = |failed, naughty, success| Evidence {
            success,
            failed,
            naughty,
            probe: 0,
            ..Evidence::default()
        };
        assert_eq!(decide_fleet(&sum(30, 0, 0), lim(20)), Verdict::Block);
        assert_eq!(decide_fleet(&sum(20, 0, 0), lim(20)), Verdict::Undecided);
        assert_eq!(decide_fleet(&sum(0, 1, 0), lim(20)), Verdict::Block);
        assert_eq!(decide_fleet(&sum(30, 1, 1), lim(20)), Verdict::Undecided);
    }

    fn evidence(success: u32, failed: u32, naughty: u32, probe: u32) -> Evidence {
        Evidence {
            success,
            failed,
            naughty,
            probe,
            ..Evidence::default()
        }
    }

    #[test]
    fn success_wins_over_everything() {
        assert_eq!(decide(&evidence(1, 50, 3, 9), lim(10)), Verdict::Allow);
    }

    #[test]
    fn naughty_or_too_many_attempts_block() {
        assert_eq!(decide(&evidence(0, 0, 1, 0), lim(10)), Verdict::Block);
        assert_eq!(decide(&evidence(0, 11, 0, 0), lim(10)), Verdict::Block);
        assert_eq!(decide(&evidence(0, 6, 0, 5), lim(10)), Verdict::Block);
        assert_eq!(decide(&evidence(0, 5, 0, 5), lim(10)), Verdict::Undecided);
        assert_eq!(decide(&evidence(0, 11, 0, 0), lim(20)), Verdict::Undecided);
        assert_eq!(decide(&Evidence::default(), lim(10)), Verdict::Undecided);
    }

    #[test]
    fn kinds_are_added_to_their_own_counts() {
        let mut e = Evidence::default();
        e.add(Kind::Failed, 2);
        e.add(Kind::Probe, 3);
        e.add(Kind::Naughty, 1);
        e.add(Kind::Success, 4);
        assert_eq!(e, evidence(4, 2, 1, 3));
    }

    #[test]
    fn a_prefix_is_blocked_after_enough_blocked_members() {
        let state = |blocked| PrefixState {
            blocked,
            ..PrefixState::default()
        };
        assert_eq!(decide_prefix(&state(2), lim(10), 3), None);
        assert_eq!(
            decide_prefix(&state(3), lim(10), 3),
            Some(PrefixBlock::Members(3))
        );
        assert_eq!(decide_prefix(&state(9), lim(10), 0), None, "0 = off");
    }

    #[test]
    fn a_prefix_pools_the_evidence_of_its_addresses() {
        let pooled = |failed, contributors| PrefixState {
            pooled: evidence(0, failed, 0, 0),
            contributors,
            ..PrefixState::default()
        };
        // A bot rotating addresses: one failure each, blocked after max_attempts in total.
        assert_eq!(decide_prefix(&pooled(10, 10), lim(10), 3), None);
        assert_eq!(
            decide_prefix(&pooled(11, 11), lim(10), 3),
            Some(PrefixBlock::Pooled)
        );
        // One address alone is judged alone: its neighbours are not blocked with it.
        assert_eq!(decide_prefix(&pooled(50, 1), lim(10), 3), None);
    }

    #[test]
    fn a_protected_prefix_is_never_blocked_whole() {
        let base = PrefixState {
            pooled: evidence(0, 40, 0, 0),
            contributors: 4,
            blocked: 5,
            protected: false,
        };
        assert!(decide_prefix(&base, lim(10), 3).is_some());
        let protected = PrefixState {
            protected: true,
            ..base
        };
        assert_eq!(decide_prefix(&protected, lim(10), 3), None);
        let login = PrefixState {
            pooled: evidence(1, 40, 0, 0),
            ..base
        };
        assert_eq!(decide_prefix(&login, lim(10), 3), None);
    }

    #[test]
    fn connections_count_per_prefix_toward_inspection() {
        assert!(!inspect(1, 2, 3));
        assert!(inspect(1, 3, 3), "the prefix's third connection");
        assert!(inspect(3, 0, 3), "prefixes off");
    }

    #[test]
    fn blocks_expire_after_the_configured_days_only() {
        let day = 86_400;
        assert!(!block_expired(1_000, 1_000 + 90 * day, 90));
        assert!(block_expired(1_000, 1_000 + 90 * day + 1, 90));
        assert!(
            !block_expired(1_000, 1_000 + 9_000 * day, 0),
            "0 means never"
        );
        assert!(!block_expired(0, 1_000_000_000, 90), "not blocked at all");
    }

    #[test]
    fn repeat_blocks_double_up_to_eight_times() {
        let lengths: Vec<u32> = (1..=6).map(|times| block_days(90, times)).collect();
        assert_eq!(lengths, [90, 180, 360, 720, 720, 720]);
        assert_eq!(block_days(90, 0), 90, "an uncounted block is a first one");
        assert_eq!(block_days(0, 5), 0, "0 still means never");
        assert_eq!(block_days(u32::MAX, 4), u32::MAX, "no overflow");
        assert_eq!(block_days(7, u32::MAX), 56);
    }

    #[test]
    fn a_repeated_block_expires_later_by_the_clock_passed_in() {
        let day = 86_400;
        let blocked_at = 1_000_000;
        let third = block_days(90, 3);
        assert!(!block_expired(blocked_at, blocked_at + 200 * day, third));
        assert!(block_expired(blocked_at, blocked_at + 360 * day + 1, third));
        assert_eq!(block_end(blocked_at, third), Some(blocked_at + 360 * day));
        assert_eq!(block_end(blocked_at, 0), None, "never expires");
        assert_eq!(block_end(0, 90), None, "not blocked");
    }

    fn trust_limits() -> TrustLimits {
        TrustLimits {
            trust_days: 90,
            window_secs: 86_400,
            max_attempts: 30,
            untrusted_users: ["git", "ftp", "anonymous"].map(String::from).to_vec(),
        }
    }

    #[test]
    fn shared_accounts_and_nameless_logins_confer_no_trust() {
        let limits = trust_limits();
        assert!(confers_trust("alice", &limits));
        assert!(confers_trust("root", &limits));
        for account in ["git", "ftp", "anonymous", "", ANY_ACCOUNT] {
            assert!(!confers_trust(account, &limits), "{account:?}");
        }
        assert!(confers_trust("Git", &limits), "names compare exactly");
    }

    #[test]
    fn another_hosts_allow_trusts_only_valid_current_accounts_within_the_limit() {
        let limits = trust_limits();
        let day = 86_400;
        let now = 1_000 * day;
        let long = "x".repeat(ACCOUNT_NAME_MAX + 1);
        let sent = [
            ("alice", now - day),
            ("bob", now - 100 * day),   // expired here (trust_days 90)
            ("git", now - day),         // shared: confers nothing
            (ANY_ACCOUNT, now - day),   // no host may send "any" this way
            ("", now - day),            // nameless
            ("ev\nil", now - day),      // control character
            (long.as_str(), now - day), // too long
            ("carol", now + 50 * day),  // in the future: no later than the allow
            ("alice", now - 5 * day),   // twice: the latest counts
        ];
        assert_eq!(
            fleet_trust(&sent, now - 2 * 3600, now, 32, &limits),
            [("carol", now - 2 * 3600), ("alice", now - day)]
        );
        // At most max_accounts, the most recent.
        let many: Vec<(String, i64)> = (0..40).map(|i| (format!("u{i:02}"), now - i)).collect();
        let many: Vec<(&str, i64)> = many.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let taken = fleet_trust(&many, now, now, 32, &limits);
        assert_eq!(taken.len(), 32);
        assert_eq!(taken[0], ("u00", now));
        assert_eq!(taken[31], ("u31", now - 31));
        // Nothing valid: nothing trusted (the caller drops the allow).
        assert!(fleet_trust(&[("git", now)], now, now, 32, &limits).is_empty());
        assert!(fleet_trust(&[], now, now, 32, &limits).is_empty());
    }

    #[test]
    fn trust_ends_trust_days_after_the_last_login() {
        let day = 86_400;
        assert_eq!(trust_until(1_000, 90), 1_000 + 90 * day);
        assert!(!trust_expired(1_000, 1_000 + 90 * day, 90));
        assert!(trust_expired(1_000, 1_000 + 90 * day + 1, 90));
        // A renewal moves the last login, and with it the end.
        assert!(!trust_expired(1_000 + 50 * day, 1_000 + 100 * day, 90));
    }

    #[test]
    fn a_trusted_address_is_blocked_only_for_other_accounts_within_the_window() {
        let limits = trust_limits();
        let now = 10 * 86_400;
        let at = |account, attempts, window_start| AccountAttempts {
            account,
            attempts,
            window_start,
        };
        // The colleague's own typos never count.
        let typos = [at("alice", 500, now - 10)];
        assert_eq!(
            trusted_address_blocks(&["alice"], &typos, now, &limits),
            None
        );
        // Other accounts: up to the threshold, not more.
        let guesses = [
            at("alice", 9, now),
            at("bob", 20, now - 60),
            at("", 10, now),
        ];
        assert_eq!(
            trusted_address_blocks(&["alice"], &guesses, now, &limits),
            None
        );
        let more = [at("bob", 20, now - 60), at("", 11, now)];
        assert_eq!(
            trusted_address_blocks(&["alice"], &more, now, &limits),
            Some(31)
        );
        // Attempts whose window began more than a window ago count no more.
        let old = [at("bob", 20, now - 86_401), at("", 11, now)];
        assert_eq!(trusted_address_blocks(&["alice"], &old, now, &limits), None);
        // Trust for any account (an allow from before trust was scoped) never blocks.
        assert_eq!(
            trusted_address_blocks(&["alice", ANY_ACCOUNT], &more, now, &limits),
            None
        );
    }
}
