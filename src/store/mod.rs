/*!
What sentry remembers about each address.

The record is the original's: how often the address connected (`seen`) and when it
was put on the allow or block list (unix seconds, 0 = not listed). [`SqliteStore`] is the
one store, used directly: a trait with one implementation, which its own callers went
around for what it did not offer, only hid where the database is. A fleet's PostgreSQL
server (`crate::fleet`) is an exchange beside it, not a store.
*/

pub mod attempts;
pub mod fleet_state;
pub mod foreign;
pub mod legacy_files;
pub mod prefixes;
pub mod sqlite;
pub mod trust;

use crate::ip::ClientIp;

pub use sqlite::{Opened, SqliteStore};

/// One row of `ip_records`. `ip` is text because a database written by an older
/// sentry may hold rows that are not valid addresses; they are shown, never guessed at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IpRecord {
    pub ip: String,
    pub seen: i64,
    /// When the address was allowed (unix seconds), 0 if it is not.
    pub allow: i64,
    /// When the address was blocked (unix seconds), 0 if it is not.
    pub block: i64,
}

impl IpRecord {
    /// A record for an address sentry has never seen.
    pub fn unseen(ip: ClientIp) -> IpRecord {
        IpRecord {
            ip: ip.to_string(),
            seen: 0,
            allow: 0,
            block: 0,
        }
    }
}

/// Which list an address is on. Allowed and blocked exclude each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Allowed { since: i64 },
    Blocked { since: i64 },
    Unlisted,
}

impl Listing {
    /// What the change is called in messages.
    pub fn verb(self) -> &'static str {
        match self {
            Listing::Allowed { .. } => "allowed",
            Listing::Blocked { .. } => "blocked",
            Listing::Unlisted => "delisted",
        }
    }

    /// The history's name for it: `allow`, `block`, `unlist`.
    pub fn action(self) -> &'static str {
        match self {
            Listing::Allowed { .. } => "allow",
            Listing::Blocked { .. } => "block",
            Listing::Unlisted => "unlist",
        }
    }

    /// Since when the address is listed; None when unlisted.
    pub fn since(self) -> Option<i64> {
        match self {
            Listing::Allowed { since } | Listing::Blocked { since } => Some(since),
            Listing::Unlisted => None,
        }
    }

    /// The `(allow, block)` column values for this listing.
    pub fn columns(self) -> (i64, i64) {
        match self {
            Listing::Allowed { since } => (since, 0),
            Listing::Blocked { since } => (0, since),
            Listing::Unlisted => (0, 0),
        }
    }

    /// The listing that `(allow, block)` column values stand for (the inverse of `columns`;
    /// allow wins where an old database has both).
    pub fn from_columns(allow: i64, block: i64) -> Listing {
        if allow > 0 {
            Listing::Allowed { since: allow }
        } else if block > 0 {
            Listing::Blocked { since: block }
        } else {
            Listing::Unlisted
        }
    }
}

/// One listing change as the store records it: the row in `ip_records` and a line of
/// history in `decisions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingChange {
    pub ip: ClientIp,
    pub listing: Listing,
    /// When it was decided (the history's time for a delisting, which has no `since`).
    pub at: i64,
    pub reason: String,
    /// "" for this host's own decisions; otherwise the fleet host it came from, or
    /// [`FLEET_ORIGIN`] for a block on evidence summed over the fleet.
    pub origin: String,
    /// The accounts an automatic allow trusts the address for; they replace any trust it
    /// had (none: a manual allow, which lasts until delisted, or another listing).
    pub trust: Vec<TrustedAccount>,
}

/// The origin of a block made on the fleet's summed evidence.
pub const FLEET_ORIGIN: &str = "*fleet";

/// How often one address showed up as one kind of event of one service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EvidenceCount {
    pub ip: String,
    pub service: String,
    pub kind: String,
    pub count: i64,
    /// Unix seconds of the first and last such line, when the lines had times.
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// Where reading of one log source stopped: the file's identity and a byte offset, so
/// each line is read once across all runs and rotation is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    /// The configured path (or `journal`).
    pub source: String,
    pub device: u64,
    pub inode: u64,
    pub offset: u64,
    /// The file's first bytes (up to 256), to recognise it after a rename.
    pub fingerprint: Vec<u8>,
}

/// Figures for the report, computed by the database (not by loading records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Summary {
    /// Addresses that connected at least once.
    pub unique_ips: i64,
    /// Addresses with a record, listed without connecting (imports, blocks by hand) too.
    pub records: i64,
    pub connections: i64,
    pub allowed: i64,
    pub blocked: i64,
    /// Of the blocked, those blocked more than once (their block lasts longer).
    pub blocked_again: i64,
}

/// An address's block in force: since when, and how many times the address has been
/// blocked, this block included (what its length depends on, `policy::block_days`; 0 =
/// placed before sentry counted blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub ip: ClientIp,
    pub since: i64,
    pub times: u32,
}

/// One account's logins and attempts from one address, as a scan counted them. The name
/// is the client's text: compared for equality with trusted accounts, never interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCount {
    pub ip: ClientIp,
    /// "" for attempts that name no account (or one too long to keep apart).
    pub account: String,
    pub successes: i64,
    /// Failed and naughty attempts.
    pub attempts: i64,
    /// Unix seconds of the first attempt, when its line had a time.
    pub first_attempt: Option<i64>,
}

/// What the store keeps of one account's logins and attempts from one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEvidence {
    pub account: String,
    pub successes: i64,
    pub last_success: Option<i64>,
    /// Attempts counted since `window_start`.
    pub attempts: i64,
    pub window_start: Option<i64>,
}

/// One account an address is trusted for after a login as it ([`crate::policy::ANY_ACCOUNT`]
/// for an allow made before trust was scoped).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrustedAccount {
    pub account: String,
    /// The first login that conferred it (unix seconds).
    pub since: i64,
    /// The last one; trust ends `trust_days` after it.
    pub last_success: i64,
}
