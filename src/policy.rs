/*!
The allow/block rules, as pure functions of evidence and time.

Nothing here touches the database, the logs or a firewall, so every rule can be
tested with plain values. "Now" is always passed in.
*/

/// What the service logs say about one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Authenticated logins.
    pub success: u32,
    /// Wrong password or key for an existing account.
    pub failed: u32,
    /// Account guessing: invalid users, root logins, and the like.
    pub naughty: u32,
}

/// What to do with an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Block,
    /// Not enough evidence either way: keep counting.
    Undecided,
}

/// More failures than this, with no success, block an address (the originals' rule).
pub const MAX_FAILURES: u32 = 10;

/// The originals' rule: any success allows (a colleague who mistyped is never locked
/// out); otherwise any naughty attempt, or more than [`MAX_FAILURES`] failures, blocks.
pub fn decide(evidence: &Evidence) -> Verdict {
    if evidence.success > 0 {
        Verdict::Allow
    } else if evidence.naughty > 0 || evidence.failed > MAX_FAILURES {
        Verdict::Block
    } else {
        Verdict::Undecided
    }
}

/// True when a block placed at `blocked_at` has outlived `expire_days` (0 = never expires).
pub fn block_expired(blocked_at: i64, now: i64, expire_days: u32) -> bool {
    expire_days > 0
        && blocked_at > 0
        && now.saturating_sub(blocked_at) > i64::from(expire_days) * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_wins_over_everything() {
        let e = Evidence {
            success: 1,
            failed: 50,
            naughty: 3,
        };
        assert_eq!(decide(&e), Verdict::Allow);
    }

    #[test]
    fn naughty_or_many_failures_block() {
        assert_eq!(
            decide(&Evidence {
                naughty: 1,
                ..Default::default()
            }),
            Verdict::Block
        );
        assert_eq!(
            decide(&Evidence {
                failed: 11,
                ..Default::default()
            }),
            Verdict::Block
        );
        assert_eq!(
            decide(&Evidence {
                failed: 10,
                ..Default::default()
            }),
            Verdict::Undecided
        );
        assert_eq!(decide(&Evidence::default()), Verdict::Undecided);
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
}
