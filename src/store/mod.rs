/*!
What sentry remembers about each address, behind one trait.

The record is the original's: how often the address connected (`seen`) and when it
was put on the allow or block list (unix seconds, 0 = not listed). [`Store`] is the
contract a storage engine fulfils; [`sqlite::SqliteStore`] is the local one, and a
shared server database for fleets will implement the same trait.
*/

pub mod legacy_files;
pub mod sqlite;

use crate::error::Result;
use crate::ip::ClientIp;

pub use sqlite::SqliteStore;

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
    /// The `(allow, block)` column values for this listing.
    pub fn columns(self) -> (i64, i64) {
        match self {
            Listing::Allowed { since } => (since, 0),
            Listing::Blocked { since } => (0, since),
            Listing::Unlisted => (0, 0),
        }
    }
}

/// A listing change as committed: what the record was, and what it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingChange {
    pub before: Option<IpRecord>,
    pub after: IpRecord,
}

/// Figures for the report, computed by the database (not by loading records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Summary {
    pub unique_ips: i64,
    pub connections: i64,
    pub allowed: i64,
    pub blocked: i64,
}

/// The storage contract. Every method is one atomic change or one consistent read.
pub trait Store {
    /// Counts one connection (seen + 1, done by the database so that concurrent
    /// callers never lose an update) and returns the record as it now stands.
    fn record_connection(&mut self, ip: ClientIp) -> Result<IpRecord>;

    /// The record of one address, if sentry has one.
    fn record(&mut self, ip: ClientIp) -> Result<Option<IpRecord>>;

    /// Puts the address on a list (or none) in one transaction, returning the record
    /// before and after so that the change can be undone if a deny list cannot follow.
    fn set_listing(&mut self, ip: ClientIp, listing: Listing) -> Result<ListingChange>;

    /// Puts back the listing that `change` replaced (the connection count is left alone,
    /// and a record that `change` created is removed if nothing else touched it).
    fn undo_listing(&mut self, change: &ListingChange) -> Result<()>;

    /// Every address currently blocked (rows that are not valid addresses are skipped).
    fn blocked_addresses(&mut self) -> Result<Vec<ClientIp>>;

    /// Whole-database figures for the report.
    fn summary(&mut self) -> Result<Summary>;

    /// Calls `visit` for every record, in address order, without loading them all.
    fn for_each_record(&mut self, visit: &mut dyn FnMut(&IpRecord) -> Result<()>) -> Result<()>;

    /// Merges records from an older sentry in one transaction: connection counts are
    /// added, and a listing is taken when the existing record has none.
    fn merge_records(&mut self, records: &[IpRecord]) -> Result<()>;
}
