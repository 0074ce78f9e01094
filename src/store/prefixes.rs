/*!
What the local database keeps about IPv6 prefixes (`ipv6_prefix`): each prefix's
connections and block (`prefixes`), and which prefix each IPv6 address with a record
belongs to (`prefix_members`), so that a prefix's addresses, evidence and listings are
found through an index. A prefix is written as its network (`2001:db8:1:2::/64`), length
included: after `ipv6_prefix` changes, addresses join their new prefix as they show up.
*/

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sqlite::{ListingLog, db_error};
use super::{EvidenceCount, Listing, SqliteStore};
use crate::error::Result;
use crate::ip::{ClientIp, Network};

/// A prefix's row: connections from all its addresses, since when it is blocked, and how
/// many times it was (`block_counts`, keyed by the prefix's text, which no address can
/// take: a repeated prefix block lasts longer, by the same `policy::block_days` as an
/// address's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixRecord {
    pub seen: i64,
    /// Unix seconds, 0 when the prefix is not blocked whole.
    pub block: i64,
    /// Times blocked whole since the administrator last delisted it (0: never counted).
    pub times: u32,
}

/// One of a prefix's addresses and its listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub ip: ClientIp,
    pub listing: Listing,
}

/// A change of a prefix's block, with its line in the decisions history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixChange {
    pub prefix: Network,
    /// `Blocked` or `Unlisted` (a prefix is never allowed).
    pub listing: Listing,
    pub at: i64,
    pub reason: String,
    pub origin: String,
}

/// A blocked prefix as `report` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlockedPrefix {
    pub prefix: String,
    pub block: i64,
    /// Its addresses sentry has a record of.
    pub members: i64,
    /// Times it was blocked whole since the administrator last delisted it.
    pub count: u32,
}

impl SqliteStore {
    /// Counts a connection from `ip` toward its prefix and notes the membership, in one
    /// transaction; returns the prefix's row as it now stands.
    pub fn count_prefix_connection(
        &mut self,
        ip: ClientIp,
        prefix: Network,
    ) -> Result<PrefixRecord> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "count a connection in", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let net = prefix.to_string();
        tx.prepare_cached("INSERT OR REPLACE INTO prefix_members (ip, prefix) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![ip.to_string(), net]))
            .map_err(err)?;
        let record = tx
            .prepare_cached(
                "INSERT INTO prefixes (prefix, seen, block) VALUES (?1, 1, 0)
                 ON CONFLICT(prefix) DO UPDATE SET seen = seen + 1
                 RETURNING seen, block",
            )
            .and_then(|mut s| {
                s.query_row([&net], |r| {
                    Ok(PrefixRecord {
                        seen: r.get(0)?,
                        block: r.get(1)?,
                        times: 0,
                    })
                })
            })
            .map_err(err)?;
        // Only a blocked prefix's connect needs its count (for the block's length).
        let times = if record.block > 0 {
            tx.prepare_cached("SELECT times FROM block_counts WHERE ip = ?1")
                .and_then(|mut s| s.query_row([&net], |r| r.get(0)).optional())
                .map(super::sqlite::times)
                .map_err(err)?
        } else {
            0
        };
        tx.commit().map_err(err)?;
        Ok(PrefixRecord { times, ..record })
    }

    /// Notes which prefix each address belongs to (addresses with evidence or a listing).
    pub fn note_prefix_members(&mut self, members: &[(ClientIp, Network)]) -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "update", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut write = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO prefix_members (ip, prefix) VALUES (?1, ?2)",
                )
                .map_err(err)?;
            for (ip, prefix) in members {
                write
                    .execute(params![ip.to_string(), prefix.to_string()])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// The prefix's row, if it has one.
    pub fn prefix_record(&mut self, prefix: Network) -> Result<Option<PrefixRecord>> {
        self.conn
            .prepare_cached(
                "SELECT p.seen, p.block, c.times FROM prefixes p
                 LEFT JOIN block_counts c ON c.ip = p.prefix WHERE p.prefix = ?1",
            )
            .and_then(|mut s| {
                s.query_row([prefix.to_string()], |r| {
                    Ok(PrefixRecord {
                        seen: r.get(0)?,
                        block: r.get(1)?,
                        times: super::sqlite::times(r.get(2)?),
                    })
                })
                .optional()
            })
            .map_err(|e| self.error("read", &e))
    }

    /// The prefix's addresses with their listings, and the evidence about them, in one
    /// consistent read.
    pub fn prefix_members(&mut self, prefix: Network) -> Result<(Vec<Member>, Vec<EvidenceCount>)> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "read", &e);
        let net = prefix.to_string();
        let tx = self.conn.transaction().map_err(err)?;
        let mut members = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT m.ip, ifnull(r.allow, 0), ifnull(r.block, 0) FROM prefix_members m
                     LEFT JOIN ip_records r ON r.ip = m.ip WHERE m.prefix = ?1 ORDER BY m.ip",
                )
                .map_err(err)?;
            let rows = stmt
                .query_map([&net], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?))
                })
                .map_err(err)?;
            for row in rows {
                let (text, allow, block) = row.map_err(err)?;
                if let Some(ip) = ClientIp::parse_opt(&text).filter(|ip| prefix.contains(*ip)) {
                    members.push(Member {
                        ip,
                        listing: Listing::from_columns(allow, block),
                    });
                }
            }
        }
        let evidence = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT e.ip, e.service, e.kind, e.count, e.first, e.last FROM evidence e
                     JOIN prefix_members m ON m.ip = e.ip WHERE m.prefix = ?1
                     ORDER BY e.ip, e.service, e.kind",
                )
                .map_err(err)?;
            let rows = stmt
                .query_map([&net], |r| {
                    Ok(EvidenceCount {
                        ip: r.get(0)?,
                        service: r.get(1)?,
                        kind: r.get(2)?,
                        count: r.get(3)?,
                        first: r.get(4)?,
                        last: r.get(5)?,
                    })
                })
                .map_err(err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)?
        };
        tx.commit().map_err(err)?;
        Ok((members, evidence))
    }

    /// Since when the prefix is blocked (0: it is not), and where its latest decision came
    /// from ("" for this host or no history, else a fleet host id).
    pub fn prefix_block_and_origin(&mut self, prefix: Network) -> Result<(i64, String)> {
        let net = prefix.to_string();
        let block = self.prefix_record(prefix)?.map_or(0, |r| r.block);
        let origin: Option<String> = self
            .conn
            .prepare_cached("SELECT origin FROM decisions WHERE ip = ?1 ORDER BY id DESC LIMIT 1")
            .and_then(|mut s| s.query_row([&net], |r| r.get(0)).optional())
            .map_err(|e| self.error("read", &e))?;
        Ok((block, origin.unwrap_or_default()))
    }

    /// Forgets how many times `prefix` was blocked: the administrator delisted it, so its
    /// next block is a first one again.
    pub fn forget_prefix_times_blocked(&mut self, prefix: Network) -> Result<()> {
        self.forget_block_count(&prefix.to_string())
    }

    /// Blocks or unblocks prefixes, with their history lines, in one transaction; a block
    /// counts when it starts (as an address's does in `set_listings`).
    pub fn set_prefix_listings(&mut self, changes: &[PrefixChange]) -> Result<()> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "update", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut write = tx
                .prepare_cached(
                    "INSERT INTO prefixes (prefix, seen, block) VALUES (?1, 0, ?2)
                     ON CONFLICT(prefix) DO UPDATE SET block = excluded.block",
                )
                .map_err(err)?;
            let mut log = ListingLog::prepare(&tx).map_err(err)?;
            let mut was_blocked = tx
                .prepare_cached("SELECT block > 0 FROM prefixes WHERE prefix = ?1")
                .map_err(err)?;
            for change in changes {
                let net = change.prefix.to_string();
                let (_, block) = change.listing.columns();
                let before = was_blocked
                    .query_row([&net], |r| r.get::<_, bool>(0))
                    .optional()
                    .map_err(err)?
                    .unwrap_or(false);
                write.execute(params![net, block]).map_err(err)?;
                log.record(
                    &net,
                    block > 0 && !before,
                    &change.listing,
                    change.at,
                    &change.reason,
                    &change.origin,
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Every prefix blocked whole, with when it was blocked and how many times (rows that
    /// are not prefixes are skipped).
    pub fn blocked_prefixes(&mut self) -> Result<Vec<(Network, i64, u32)>> {
        Ok(self
            .blocked_prefix_report()?
            .into_iter()
            .filter_map(|p| Network::parse_prefix(&p.prefix).map(|net| (net, p.block, p.count)))
            .collect())
    }

    /// The blocked prefixes with how many of their addresses sentry has a record of.
    pub fn blocked_prefix_report(&mut self) -> Result<Vec<BlockedPrefix>> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "read", &e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.prefix, p.block,
                     (SELECT count(*) FROM prefix_members m WHERE m.prefix = p.prefix),
                     c.times
                 FROM prefixes p LEFT JOIN block_counts c ON c.ip = p.prefix
                 WHERE p.block > 0 ORDER BY p.prefix",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(BlockedPrefix {
                    prefix: r.get(0)?,
                    block: r.get(1)?,
                    members: r.get(2)?,
                    count: super::sqlite::times(r.get(3)?),
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ListingChange;

    fn ip(s: &str) -> ClientIp {
        ClientIp::parse(s).expect(s)
    }

    #[test]
    fn a_prefix_counts_its_addresses_connections_and_finds_their_listings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = SqliteStore::open(&dir.path().join("sentry.db"), std::time::Duration::ZERO)
            .expect("open");
        store.migrate().expect("migrate");
        let prefix = Network::parse_prefix("2001:db8:1:2::/64").expect("prefix");
        let a = ip("2001:db8:1:2::a");
        let b = ip("2001:db8:1:2::b");
        assert_eq!(
            store
                .count_prefix_connection(a, prefix)
                .expect("count")
                .seen,
            1
        );
        assert_eq!(
            store
                .count_prefix_connection(b, prefix)
                .expect("count")
                .seen,
            2
        );
        store
            .set_listings(&[ListingChange {
                ip: b,
                listing: Listing::Blocked { since: 7 },
                at: 7,
                reason: "test".into(),
                origin: String::new(),
                trust: Vec::new(),
            }])
            .expect("block");
        let (members, _) = store.prefix_members(prefix).expect("members");
        assert_eq!(
            members,
            [
                Member {
                    ip: a,
                    listing: Listing::Unlisted
                },
                Member {
                    ip: b,
                    listing: Listing::Blocked { since: 7 }
                }
            ]
        );
        store
            .set_prefix_listings(&[PrefixChange {
                prefix,
                listing: Listing::Blocked { since: 9 },
                at: 9,
                reason: "test".into(),
                origin: String::new(),
            }])
            .expect("block the prefix");
        assert_eq!(store.blocked_prefixes().expect("read"), [(prefix, 9, 1)]);
        assert_eq!(
            store.blocked_prefix_report().expect("read")[0].members,
            2,
            "members counted"
        );
        assert_eq!(
            store.prefix_record(prefix).expect("read"),
            Some(PrefixRecord {
                seen: 2,
                block: 9,
                times: 1
            })
        );
        // Blocked again after a lift: counted again, as an address is; not when renewed.
        let change = |listing, at| PrefixChange {
            prefix,
            listing,
            at,
            reason: "test".into(),
            origin: String::new(),
        };
        store
            .set_prefix_listings(&[change(Listing::Blocked { since: 10 }, 10)])
            .expect("renew");
        store
            .set_prefix_listings(&[change(Listing::Unlisted, 11)])
            .expect("lift");
        store
            .set_prefix_listings(&[change(Listing::Blocked { since: 12 }, 12)])
            .expect("block again");
        assert_eq!(store.blocked_prefixes().expect("read"), [(prefix, 12, 2)]);
        store.forget_prefix_times_blocked(prefix).expect("forget");
        assert_eq!(
            store.prefix_record(prefix).expect("read").map(|r| r.times),
            Some(0)
        );
    }
}
