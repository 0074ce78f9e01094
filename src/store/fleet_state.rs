/*!
What the local database keeps for a fleet exchange: which of this host's decisions and
evidence the fleet server has (change numbers in `sentry_meta`), the evidence other hosts
reported (`fleet_evidence`), and where each listing came from (`decisions.origin`).
*/

use std::collections::{BTreeSet, HashMap};

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Listing, SqliteStore};
use crate::error::Result;
use crate::ip::ClientIp;

/// A line of the decisions history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub id: i64,
    pub ip: String,
    pub action: String,
    pub at: i64,
    pub reason: String,
}

/// This host's evidence for one address, service and kind, with its change number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceChange {
    pub version: i64,
    pub ip: String,
    pub service: String,
    pub kind: String,
    pub count: i64,
}

/// Another host's evidence total for one address, service and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEvidence {
    pub host: String,
    pub ip: String,
    pub service: String,
    pub kind: String,
    pub count: i64,
}

impl SqliteStore {
    /// This host's own decisions after history line `after`, oldest first.
    pub fn own_decisions_after(&self, after: i64, limit: u32) -> Result<Vec<HistoryRow>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, ip, action, at, reason FROM decisions
                 WHERE id > ?1 AND origin = '' ORDER BY id LIMIT ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![after, limit], |r| {
                Ok(HistoryRow {
                    id: r.get(0)?,
                    ip: r.get(1)?,
                    action: r.get(2)?,
                    at: r.get(3)?,
                    reason: r.get(4)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// This host's evidence rows changed after change number `after`, oldest first.
    pub fn evidence_changed_after(&self, after: i64, limit: u32) -> Result<Vec<EvidenceChange>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT version, ip, service, kind, count FROM evidence
                 WHERE version > ?1 ORDER BY version LIMIT ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![after, limit], |r| {
                Ok(EvidenceChange {
                    version: r.get(0)?,
                    ip: r.get(1)?,
                    service: r.get(2)?,
                    kind: r.get(3)?,
                    count: r.get(4)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// Each address's listing in force and where it came from ("" for this host or no
    /// history, else a host id), read in one transaction with two prepared statements: a
    /// new host's first pull checks tens of thousands of addresses.
    pub fn listings_and_origins(
        &self,
        ips: &BTreeSet<ClientIp>,
    ) -> Result<HashMap<ClientIp, (Listing, String)>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let tx = self.conn.unchecked_transaction().map_err(err)?;
        let mut found = HashMap::with_capacity(ips.len());
        {
            let mut listing = tx
                .prepare_cached(
                    "SELECT ifnull(allow, 0), ifnull(block, 0) FROM ip_records WHERE ip = ?1",
                )
                .map_err(err)?;
            let mut origin = tx
                .prepare_cached(
                    "SELECT origin FROM decisions WHERE ip = ?1 ORDER BY id DESC LIMIT 1",
                )
                .map_err(err)?;
            for &ip in ips {
                let text = ip.to_string();
                let (allow, block): (i64, i64) = listing
                    .query_row([&text], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(err)?
                    .unwrap_or((0, 0));
                let from: Option<String> = origin
                    .query_row([&text], |r| r.get(0))
                    .optional()
                    .map_err(err)?;
                found.insert(
                    ip,
                    (
                        Listing::from_columns(allow, block),
                        from.unwrap_or_default(),
                    ),
                );
            }
        }
        tx.finish().map_err(err)?;
        Ok(found)
    }

    /// Replaces other hosts' evidence totals, and forgets `(host, ip)` pairs delisted
    /// there, in one transaction.
    pub fn store_fleet_evidence(
        &mut self,
        rows: &[HostEvidence],
        forget: &[(String, String)],
    ) -> Result<()> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| super::sqlite::db_error(&path, busy, "update", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO fleet_evidence (host, ip, service, kind, count)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(err)?;
            for row in rows {
                put.execute(params![row.host, row.ip, row.service, row.kind, row.count])
                    .map_err(err)?;
            }
            let mut drop = tx
                .prepare_cached("DELETE FROM fleet_evidence WHERE host = ?1 AND ip = ?2")
                .map_err(err)?;
            for (host, ip) in forget {
                drop.execute(params![host, ip]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Forgets every other host's evidence about `ip` (the admin delisted it here).
    pub fn forget_fleet_evidence(&mut self, ip: ClientIp) -> Result<()> {
        self.conn
            .execute("DELETE FROM fleet_evidence WHERE ip = ?1", [ip.to_string()])
            .map(|_| ())
            .map_err(|e| self.error("update", &e))
    }

    /// Other hosts' evidence about `ip`.
    pub fn fleet_evidence(&self, ip: ClientIp) -> Result<Vec<HostEvidence>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT host, ip, service, kind, count FROM fleet_evidence WHERE ip = ?1",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([ip.to_string()], |r| {
                Ok(HostEvidence {
                    host: r.get(0)?,
                    ip: r.get(1)?,
                    service: r.get(2)?,
                    kind: r.get(3)?,
                    count: r.get(4)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// Writes `sentry_meta` values in one transaction.
    pub fn set_meta(&mut self, values: &[(&str, String)]) -> Result<()> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| super::sqlite::db_error(&path, busy, "update", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        for (key, value) in values {
            tx.execute(
                "INSERT OR REPLACE INTO sentry_meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// A `sentry_meta` value read as a number (0 when absent or not a number).
    pub fn meta_number(&self, key: &str) -> Result<i64> {
        Ok(self.meta(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }
}
