/*!
The local store: one SQLite file, `$ROOT/sentry.db`.

The `ip_records` table is kept exactly as sentry 2.x (the bash original) created it,
so an existing database is used in place and admins' `sqlite3` one-liners keep
working. Our own additions (an index, `sentry_meta`) sit beside it, and the schema
is versioned with `PRAGMA user_version`, migrated forward on open.

Concurrency: WAL mode lets readers run beside the single writer; every change is a
single statement or an IMMEDIATE transaction (which takes the write lock up front,
so it waits in the busy handler instead of failing half-way); the connection
counter is incremented in SQL, never read-modified-written by us.
*/

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::attempts::{AttemptReport, Correction};
use super::{
    AccountCount, Block, Cursor, EvidenceCount, IpRecord, Listing, ListingChange, Summary,
};
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// A WAL file larger than this is checkpointed and truncated when a store is dropped.
const WAL_TRUNCATE_BYTES: u64 = 256 * 1024;

/// The schema version this build writes. 0 is the bash original (or a new file).
pub const SCHEMA_VERSION: i64 = 7;

/// A connection to the local database.
pub struct SqliteStore {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    pub(super) busy: Duration,
}

/// One line of an address's decision history (`report IP`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    pub at: i64,
    /// `allow`, `block`, `unlist`, or `trust` (trust renewed by a newer login).
    pub action: String,
    pub reason: String,
    /// "" for this host; the fleet host it came from, or `*fleet`.
    pub origin: String,
}

/// Keys in `sentry_meta`: listing changes committed but not yet on every deny list, and
/// when the next automatic retry is due (unix seconds).
const LISTS_PENDING: &str = "lists_pending";
const LISTS_RETRY_AT: &str = "lists_retry_at";

/// Listing changes the database holds but some deny list may lack, because updating it
/// failed. Set in the step that saw the failure, cleared by a `sync` that updated every
/// deny list; read with the connection count, so `--connect` learns of it for free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListsPending {
    pub changes: i64,
    pub retry_at: i64,
}

impl ListsPending {
    /// True when an automatic retry is due at `now`.
    pub fn due(self, now: i64) -> bool {
        self.changes > 0 && now >= self.retry_at
    }
}

/// What opening the database found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The schema version found before migrating, when a migration ran in this process.
    pub migrated_from: Option<i64>,
}

/// Keeps the WAL short. A process that opens the database while no other has it open
/// rebuilds the WAL index by reading the whole WAL, and starts that index with nothing
/// checkpointed, so the WAL is never rewound from its start: with one `--connect` at a
/// time, it only grows, and every `--connect` reads all of it (1.9 ms with an empty WAL,
/// 3.8 ms at 5 MiB, more after). A truncating checkpoint once the file passes 256 KiB
/// bounds that. It is tried without waiting: when other processes are reading, the next
/// one to finish does it.
impl Drop for SqliteStore {
    fn drop(&mut self) {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let big = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_TRUNCATE_BYTES);
        if big && self.conn.busy_timeout(Duration::ZERO).is_ok() {
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

/// The newest event time per service `(service, unix seconds)`, and since when the logs
/// are read.
pub type LastEvents = (Vec<(String, i64)>, Option<i64>);

impl SqliteStore {
    /// Opens the database, creating an empty file if there is none; reads and changes
    /// nothing in it (call [`SqliteStore::migrate`] before use). `busy` bounds how long any
    /// statement waits for another process's write lock before giving up.
    pub fn open(path: &Path, busy: Duration) -> Result<SqliteStore> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| db_error(path, busy, "open", &e))?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            busy,
        };
        store
            .conn
            .busy_timeout(busy)
            .map_err(|e| store.error("configure", &e))?;
        // A per-connection program closes the database hundreds of times a minute; by default
        // the last connection to close checkpoints and deletes the WAL, with fsyncs, and the
        // next one recreates it. Leave that to SQLite's automatic checkpoints instead.
        store
            .conn
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )
            .map_err(|e| store.error("configure", &e))?;
        store
            .conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| store.error("configure", &e))?;
        Ok(store)
    }

    /// Caps SQLite's page cache at `kib` (2 MiB by default). For the long-lived `ingest`:
    /// its small batches touch a few index pages each, and a cache that fills up over a
    /// day of traffic would stay resident for good.
    pub fn limit_cache(&self, kib: u32) -> Result<()> {
        self.conn
            .pragma_update(None, "cache_size", -i64::from(kib))
            .map_err(|e| self.error("configure", &e))
    }

    /// A private copy of the database in memory, for a dry run: whatever is written to it
    /// is gone when it is dropped, and nobody else sees it meanwhile.
    pub fn scratch_copy(&self) -> Result<SqliteStore> {
        use rusqlite::backup::{Backup, StepResult};
        let mut conn = Connection::open_in_memory().map_err(|e| self.error("copy", &e))?;
        {
            let backup = Backup::new(&self.conn, &mut conn).map_err(|e| self.error("copy", &e))?;
            let deadline = Instant::now() + self.busy;
            // All pages in one step: one consistent snapshot, however busy the writers.
            loop {
                match backup.step(-1).map_err(|e| self.error("copy", &e))? {
                    StepResult::Done => break,
                    _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                    _ => {
                        return Err(Error::Runtime(format!(
                            "could not copy {} for a dry run: it stayed busy; try again",
                            self.path.display()
                        )));
                    }
                }
            }
        }
        Ok(SqliteStore {
            conn,
            path: self.path.clone(),
            busy: self.busy,
        })
    }

    pub(super) fn error(&self, doing: &str, err: &rusqlite::Error) -> Error {
        db_error(&self.path, self.busy, doing, err)
    }

    /// Brings the schema forward to this build's version (a new database gets the tables,
    /// an older sentry's its additions), once however many processes open it at the same
    /// time; refuses a newer schema. Says from which version it migrated, if it did.
    pub fn migrate(&mut self) -> Result<Opened> {
        let version = self.user_version()?;
        if version > SCHEMA_VERSION {
            return Err(Error::Runtime(format!(
                "the database {} has schema version {version}, newer than this sentry understands ({SCHEMA_VERSION}); install the newer sentry",
                self.path.display()
            )));
        }
        if version == SCHEMA_VERSION {
            return Ok(Opened {
                migrated_from: None,
            });
        }
        self.enable_wal()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        // Another process may have migrated while we waited for the lock.
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        if version >= SCHEMA_VERSION {
            return Ok(Opened {
                migrated_from: None,
            });
        }
        if version < 1 {
            migrate_to_1(&tx).map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        }
        if version < 2 {
            migrate_to_2(&tx).map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        }
        if version < 3 {
            migrate_to_3(&tx).map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        }
        if version < 4 {
            migrate_to_4(&tx).map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        }
        if version < 5 {
            migrate_to_5(&tx).map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        }
        if version < 6 {
            migrate_to_6(&tx).map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        }
        super::attempts::create_table(&tx)
            .map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        tx.commit()
            .map_err(|e| db_error(&self.path, self.busy, "migrate", &e))?;
        Ok(Opened {
            migrated_from: Some(version),
        })
    }

    fn user_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.error("read", &e))
    }

    /// Switching to WAL needs a moment of exclusive access; retry within the busy budget.
    fn enable_wal(&self) -> Result<()> {
        let deadline = Instant::now() + self.busy;
        loop {
            let result: rusqlite::Result<String> =
                self.conn
                    .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0));
            match result {
                Ok(_) => return Ok(()),
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(self.error("switch to WAL mode", &e)),
            }
        }
    }

    /// SQLite's own consistency check: None when the database is sound, else the first fault.
    pub fn quick_check(&self) -> Result<Option<String>> {
        let verdict: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| self.error("check", &e))?;
        Ok((verdict != "ok").then_some(verdict))
    }

    /// The time of the newest event recorded per service (log time, unix seconds), and
    /// since when the logs are read (the first cursor ever recorded), for `check`'s "a
    /// running daemon says nothing sentry understands".
    pub fn last_events(&self) -> Result<LastEvents> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let mut stmt = self
            .conn
            .prepare("SELECT service, max(coalesce(last, 0)) FROM evidence GROUP BY service")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<(String, i64)>>>()
            .map_err(err)?;
        let since: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM sentry_meta WHERE key = 'reading_since'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        Ok((rows, since.and_then(|s| s.parse().ok())))
    }

    /// When a log source was last read (unix seconds), if ever.
    pub fn last_scan(&self) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT max(updated) FROM log_cursors", [], |r| r.get(0))
            .map_err(|e| self.error("read", &e))
    }

    fn pairs(&self, sql: &str, n: u32) -> Result<Vec<(String, i64)>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        let rows = stmt
            .query_map([n], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// Every listing decision about `ip`, oldest first, at most the last 50.
    pub fn history(&self, ip: ClientIp) -> Result<Vec<HistoryEntry>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at, action, reason, origin FROM (
                     SELECT id, at, action, reason, origin FROM decisions
                     WHERE ip = ?1 ORDER BY id DESC LIMIT 50
                 ) ORDER BY id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([ip.to_string()], |r| {
                Ok(HistoryEntry {
                    at: r.get(0)?,
                    action: r.get(1)?,
                    reason: r.get(2)?,
                    origin: r.get(3)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// Counts a connection (`record_connection`) and, in the same statement, reads
    /// whether deny-list updates are pending, how many times the address was blocked (what
    /// a block's expiry depends on) and its last login that conferred trust (None: no
    /// automatic trust), so that a listed address costs one statement.
    #[allow(clippy::type_complexity)]
    pub fn count_connection(
        &mut self,
        ip: ClientIp,
    ) -> Result<(IpRecord, ListsPending, u32, Option<i64>)> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "count a connection in", &e);
        let text = ip.to_string();
        // An explicit transaction, not autocommit: with RETURNING, an autocommit statement
        // commits when it is reset, and a failed commit there (disk full) would go unreported.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let counted = tx
            .query_row(
                "INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, 1, 0, 0)
                 ON CONFLICT(ip) DO UPDATE SET seen = ifnull(seen, 0) + 1
                 RETURNING seen, ifnull(allow, 0), ifnull(block, 0),
                     (SELECT CAST(value AS INTEGER) FROM sentry_meta WHERE key = ?2),
                     (SELECT CAST(value AS INTEGER) FROM sentry_meta WHERE key = ?3),
                     (SELECT times FROM block_counts WHERE ip = ?1),
                     (SELECT max(last_success) FROM trust WHERE ip = ?1)",
                params![text, LISTS_PENDING, LISTS_RETRY_AT],
                |row| {
                    let pending = ListsPending {
                        changes: row.get::<_, Option<i64>>(3)?.unwrap_or(0),
                        retry_at: row.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    };
                    let times = times(row.get::<_, Option<i64>>(5)?);
                    let last_login: Option<i64> = row.get(6)?;
                    Ok((
                        row_to_record(text.clone(), row)?,
                        pending,
                        times,
                        last_login,
                    ))
                },
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(counted)
    }

    /// The deny-list updates pending (see [`ListsPending`]).
    pub fn lists_pending(&self) -> Result<ListsPending> {
        self.conn
            .query_row(
                "SELECT (SELECT CAST(value AS INTEGER) FROM sentry_meta WHERE key = ?1),
                        (SELECT CAST(value AS INTEGER) FROM sentry_meta WHERE key = ?2)",
                [LISTS_PENDING, LISTS_RETRY_AT],
                |r| {
                    Ok(ListsPending {
                        changes: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                        retry_at: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    })
                },
            )
            .map_err(|e| self.error("read", &e))
    }

    /// Notes `changes` more listing changes that some deny list did not take; the next
    /// command that can retry does so at once.
    pub fn add_lists_pending(&mut self, changes: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO sentry_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
                params![LISTS_PENDING, changes],
            )
            .map(|_| ())
            .map_err(|e| self.error("update", &e))
    }

    /// A retry failed: at least one change stays pending, retried again from `at`.
    pub fn retry_lists_at(&mut self, at: i64) -> Result<()> {
        self.conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 INSERT INTO sentry_meta (key, value) VALUES ('{LISTS_PENDING}', 1)
                     ON CONFLICT(key) DO UPDATE SET value = max(CAST(value AS INTEGER), 1);
                 INSERT OR REPLACE INTO sentry_meta (key, value) VALUES ('{LISTS_RETRY_AT}', {at});
                 COMMIT;"
            ))
            .map_err(|e| {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.error("update", &e)
            })
    }

    /// Every deny list matches the database again.
    pub fn clear_lists_pending(&mut self) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM sentry_meta WHERE key IN (?1, ?2)",
                [LISTS_PENDING, LISTS_RETRY_AT],
            )
            .map(|_| ())
            .map_err(|e| self.error("update", &e))
    }

    /// Reads a value from `sentry_meta`.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM sentry_meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.error("read", &e))
    }
}

/// Version 0 → 1: make sure the original table exists, put every address into
/// canonical form (the bash original stored `::ffff:a.b.c.d` and upper-case IPv6
/// as typed, so one host could have several rows), and add our own objects.
fn migrate_to_1(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS ip_records (
            ip TEXT PRIMARY KEY,
            seen INTEGER DEFAULT 0,
            allow INTEGER DEFAULT 0,
            block INTEGER DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS ip_records_blocked ON ip_records(block) WHERE block > 0;
        CREATE TABLE IF NOT EXISTS sentry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )?;
    let rows: Vec<String> = {
        let mut stmt = tx.prepare("SELECT ip FROM ip_records")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for text in rows {
        let Ok(ip) = ClientIp::parse(&text) else {
            continue;
        };
        let canonical = ip.to_string();
        if canonical == text {
            continue;
        }
        tx.execute(
            "INSERT INTO ip_records (ip, seen, allow, block)
                 SELECT ?2, ifnull(seen, 0), ifnull(allow, 0), ifnull(block, 0) FROM ip_records WHERE ip = ?1
             ON CONFLICT(ip) DO UPDATE SET
                 seen = ifnull(seen, 0) + excluded.seen,
                 allow = max(ifnull(allow, 0), excluded.allow),
                 block = max(ifnull(block, 0), excluded.block)",
            params![text, canonical],
        )?;
        tx.execute("DELETE FROM ip_records WHERE ip = ?1", [&text])?;
    }
    // The originals could leave both columns set; the later decision is the one in force.
    tx.execute_batch(
        "UPDATE ip_records SET allow = 0 WHERE allow > 0 AND block >= allow;
         UPDATE ip_records SET block = 0 WHERE block > 0 AND allow > block;",
    )?;
    Ok(())
}

/// Version 1 → 2: evidence from the logs, and where reading of each log stopped.
fn migrate_to_2(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS evidence (
            ip TEXT NOT NULL,
            service TEXT NOT NULL,
            kind TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 0,
            first INTEGER,
            last INTEGER,
            PRIMARY KEY (ip, service, kind)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS log_cursors (
            source TEXT PRIMARY KEY,
            device INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            fingerprint BLOB NOT NULL,
            updated INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
        );",
    )
}

/// Version 2 → 3: the history of listing decisions (which survives delists, and is what a
/// fleet exchange sends), a change number on evidence rows (what a fleet exchange has
/// not sent yet), and the evidence other hosts of the fleet reported.
fn migrate_to_3(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ip TEXT NOT NULL,
            action TEXT NOT NULL,
            at INTEGER NOT NULL,
            reason TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS decisions_ip ON decisions(ip);
        CREATE INDEX IF NOT EXISTS decisions_at ON decisions(at);
        CREATE TABLE IF NOT EXISTS fleet_evidence (
            host TEXT NOT NULL,
            ip TEXT NOT NULL,
            service TEXT NOT NULL,
            kind TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (host, ip, service, kind)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS fleet_evidence_ip ON fleet_evidence(ip);",
    )?;
    let has_version: bool = tx.query_row(
        "SELECT count(*) FROM pragma_table_info('evidence') WHERE name = 'version'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has_version {
        tx.execute_batch(
            "ALTER TABLE evidence ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
             CREATE INDEX IF NOT EXISTS evidence_version ON evidence(version);",
        )?;
    }
    // The listings in force become the start of the history.
    tx.execute_batch(
        "INSERT INTO decisions (ip, action, at, reason)
             SELECT ip, 'allow', allow, 'listed before sentry kept a history' FROM ip_records WHERE allow > 0;
         INSERT INTO decisions (ip, action, at, reason)
             SELECT ip, 'block', block, 'listed before sentry kept a history' FROM ip_records WHERE block > 0;",
    )
}

/// Version 3 → 4: how many times each address was blocked, which lengthens a repeated
/// block (`policy::block_days`). Started from the history: each time an address went from
/// not blocked to blocked (before this version the history cannot tell an administrator's
/// delisting, which resets the count, from a lifted block, so none resets it here).
fn migrate_to_4(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS block_counts (
            ip TEXT PRIMARY KEY,
            times INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO block_counts (ip, times)
            SELECT ip, count(*) FROM (
                SELECT ip, action, lag(action) OVER (PARTITION BY ip ORDER BY id) AS before
                FROM decisions
            )
            WHERE action = 'block' AND (before IS NULL OR before <> 'block')
            GROUP BY ip;",
    )
}

/// A stored block count as the policy takes it (absent: never counted).
pub(super) fn times(stored: Option<i64>) -> u32 {
    stored.map_or(0, |n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

/// Version 4 → 5: IPv6 prefixes (`ipv6_prefix`). `prefixes` holds each prefix's
/// connections and block (a prefix is not an address, so it stays out of `ip_records`);
/// `prefix_members` says which prefix an IPv6 address with a record belongs to, so that a
/// prefix's evidence and members are found by an index, not by parsing every address.
fn migrate_to_5(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS prefixes (
            prefix TEXT PRIMARY KEY,
            seen INTEGER NOT NULL DEFAULT 0,
            block INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS prefix_members (
            ip TEXT PRIMARY KEY,
            prefix TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS prefix_members_prefix ON prefix_members(prefix);",
    )
}

/// Version 5 → 6: trust after a login, scoped to accounts (`store::trust`). An allow in
/// force that sentry made on evidence (here or on another fleet host) becomes trust for any
/// account from its time, so it expires `trust_days` after it unless a login renews it;
/// one made by hand, imported, or older than the history, stays until delisted.
fn migrate_to_6(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS trust (
            ip TEXT NOT NULL,
            account TEXT NOT NULL,
            since INTEGER NOT NULL,
            last_success INTEGER NOT NULL,
            PRIMARY KEY (ip, account)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS account_evidence (
            ip TEXT NOT NULL,
            account TEXT NOT NULL,
            successes INTEGER NOT NULL DEFAULT 0,
            last_success INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            window_start INTEGER,
            PRIMARY KEY (ip, account)
        ) WITHOUT ROWID;",
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO trust (ip, account, since, last_success)
         SELECT r.ip, ?1, r.allow, r.allow FROM ip_records r
         JOIN decisions d ON d.id = (SELECT max(id) FROM decisions
                                     WHERE ip = r.ip AND action = 'allow')
         WHERE r.allow > 0
           AND d.reason <> 'listed before sentry kept a history'
           AND d.reason <> 'by the administrator'
           AND d.reason NOT LIKE '%: by the administrator'
           AND d.reason NOT LIKE 'imported from %'
           AND d.reason NOT LIKE '%: imported from %'",
        [crate::logs::ANY_ACCOUNT],
    )?;
    Ok(())
}

/// `counts` and `accounts` with the corrections of `store::attempts::join` added (counts
/// may go negative: the stored count is lowered, never below 0).
fn corrected(
    counts: &[EvidenceCount],
    accounts: &[AccountCount],
    corrections: &[Correction],
) -> (Vec<EvidenceCount>, Vec<AccountCount>) {
    let (mut counts, mut accounts) = (counts.to_vec(), accounts.to_vec());
    for c in corrections {
        let ip = c.ip.to_string();
        for (kind, &n) in ["failed", "naughty", "success"].iter().zip(&c.counts) {
            if n == 0 {
                continue;
            }
            match (counts.iter_mut())
                .find(|e| e.ip == ip && e.service == c.service && e.kind == *kind)
            {
                Some(e) => e.count += n,
                None => counts.push(EvidenceCount {
                    ip: ip.clone(),
                    service: c.service.to_string(),
                    kind: kind.to_string(),
                    count: n,
                    first: None,
                    last: None,
                }),
            }
        }
        if let Some(a) = (accounts.iter_mut()).find(|a| a.ip == c.ip && a.account == c.account) {
            a.attempts = (a.attempts + c.counts[0] + c.counts[1]).max(0);
            a.successes = (a.successes + c.counts[2]).max(0);
        }
    }
    counts.retain(|e| e.count != 0);
    accounts.retain(|a| a.attempts > 0 || a.successes > 0);
    (counts, accounts)
}

/// What every listing change writes besides the listing itself, for an address or a prefix
/// (`key`, as text) alike: its line in the decision history, and a block counted when it
/// starts, not when it is renewed (`block` typed twice is one block).
pub(super) struct ListingLog<'t> {
    history: rusqlite::CachedStatement<'t>,
    count_block: rusqlite::CachedStatement<'t>,
}

impl<'t> ListingLog<'t> {
    pub(super) fn prepare(tx: &'t rusqlite::Transaction<'_>) -> rusqlite::Result<ListingLog<'t>> {
        Ok(ListingLog {
            history: tx.prepare_cached(
                "INSERT INTO decisions (ip, action, at, reason, origin) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            count_block: tx.prepare_cached(
                "INSERT INTO block_counts (ip, times) VALUES (?1, 1)
                 ON CONFLICT(ip) DO UPDATE SET times = times + 1",
            )?,
        })
    }

    /// `block_starts`: the change blocks what was not blocked before it.
    pub(super) fn record(
        &mut self,
        key: &str,
        block_starts: bool,
        listing: &Listing,
        at: i64,
        reason: &str,
        origin: &str,
    ) -> rusqlite::Result<()> {
        if block_starts {
            self.count_block.execute([key])?;
        }
        self.history.execute(params![
            key,
            listing.action(),
            listing.since().unwrap_or(at),
            reason,
            origin
        ])?;
        Ok(())
    }
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked)
    )
}

/// Turns SQLite's terse codes into what the admin should do about them.
pub(super) fn db_error(path: &Path, busy: Duration, doing: &str, err: &rusqlite::Error) -> Error {
    let path = path.display();
    let dir = Path::new(&path.to_string())
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".".into());
    let msg = match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => format!(
            "the database {path} stayed busy for more than {} ms (another process is writing to it); try again",
            busy.as_millis()
        ),
        Some(ErrorCode::ReadOnly) => format!(
            "the database {path} is read-only: sentry needs write access to it and to {dir} (run as root, or check owner and mode)"
        ),
        Some(ErrorCode::CannotOpen) => format!(
            "cannot open the database {path}: check that {dir} exists and is writable (`sentry setup` creates it)"
        ),
        Some(ErrorCode::DiskFull) => {
            format!("the disk holding {path} is full: free some space; nothing was changed")
        }
        Some(ErrorCode::PermissionDenied) => {
            format!(
                "permission denied on the database {path}: run as root, or check owner and mode"
            )
        }
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => format!(
            "{path} is not a usable SQLite database (damaged, or another kind of file): move it aside and run `sentry setup`"
        ),
        _ => format!("could not {doing} the database {path}: {err}"),
    };
    Error::Runtime(msg)
}

fn row_to_record(ip: String, row: &rusqlite::Row<'_>) -> rusqlite::Result<IpRecord> {
    Ok(IpRecord {
        ip,
        seen: row.get(0)?,
        allow: row.get(1)?,
        block: row.get(2)?,
    })
}

/// What the rest of sentry asks of the database: every method is one atomic change or one
/// consistent read.
impl SqliteStore {
    /// Counts one connection (seen + 1, done by the database so that concurrent
    /// callers never lose an update) and returns the record as it now stands.
    pub fn record_connection(&mut self, ip: ClientIp) -> Result<IpRecord> {
        self.count_connection(ip).map(|(record, ..)| record)
    }

    /// The record of one address, if sentry has one.
    pub fn record(&mut self, ip: ClientIp) -> Result<Option<IpRecord>> {
        let text = ip.to_string();
        let record = self
            .conn
            .prepare_cached("SELECT ifnull(seen, 0), ifnull(allow, 0), ifnull(block, 0) FROM ip_records WHERE ip = ?1")
            .and_then(|mut stmt| stmt.query_row([&text], |row| row_to_record(text.clone(), row)).optional());
        record.map_err(|e| self.error("read", &e))
    }

    /// Puts addresses on a list (or none), all in one transaction, and returns the records
    /// as they now stand.
    pub fn set_listings(&mut self, changes: &[ListingChange]) -> Result<Vec<IpRecord>> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "update", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut done = Vec::with_capacity(changes.len());
        {
            let mut write = tx
                .prepare_cached(
                    "INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, 0, ?2, ?3)
                     ON CONFLICT(ip) DO UPDATE SET allow = excluded.allow, block = excluded.block
                     RETURNING ifnull(seen, 0), allow, block",
                )
                .map_err(err)?;
            let mut log = ListingLog::prepare(&tx).map_err(err)?;
            let mut was_blocked = tx
                .prepare_cached("SELECT ifnull(block, 0) > 0 FROM ip_records WHERE ip = ?1")
                .map_err(err)?;
            for change in changes {
                let text = change.ip.to_string();
                let (allow, block) = change.listing.columns();
                let before = was_blocked
                    .query_row([&text], |r| r.get::<_, bool>(0))
                    .optional()
                    .map_err(err)?
                    .unwrap_or(false);
                let after = write
                    .query_row(params![text, allow, block], |row| {
                        row_to_record(text.clone(), row)
                    })
                    .map_err(err)?;
                // A block or delisting forgets what the accounts did, as it does the evidence.
                let forget_accounts = !matches!(change.listing, Listing::Allowed { .. });
                super::trust::replace_trust(&tx, &text, &change.trust, forget_accounts)
                    .map_err(err)?;
                log.record(
                    &text,
                    block > 0 && !before,
                    &change.listing,
                    change.at,
                    &change.reason,
                    &change.origin,
                )
                .map_err(err)?;
                done.push(after);
            }
        }
        tx.commit().map_err(err)?;
        Ok(done)
    }

    /// Every address currently blocked, with when it was blocked (rows that are not valid
    /// addresses are skipped).
    pub fn blocked(&mut self) -> Result<Vec<(ClientIp, i64)>> {
        Ok(self
            .blocks()?
            .into_iter()
            .map(|b| (b.ip, b.since))
            .collect())
    }

    /// Every address currently blocked, with when and how many times it was blocked
    /// (rows that are not valid addresses are skipped).
    pub fn blocks(&mut self) -> Result<Vec<Block>> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "read", &e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.ip, r.block, c.times FROM ip_records r
                 LEFT JOIN block_counts c ON c.ip = r.ip
                 WHERE r.block > 0 ORDER BY r.ip",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    times(r.get::<_, Option<i64>>(2)?),
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (text, since, times) = row.map_err(err)?;
            if let Some(ip) = ClientIp::parse_opt(&text) {
                out.push(Block { ip, since, times });
            }
        }
        Ok(out)
    }

    /// How many times `ip` was blocked since the administrator last delisted or allowed
    /// it (0: never, or only before sentry counted).
    pub fn times_blocked(&mut self, ip: ClientIp) -> Result<u32> {
        self.conn
            .prepare_cached("SELECT times FROM block_counts WHERE ip = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([ip.to_string()], |r| r.get::<_, i64>(0))
                    .optional()
            })
            .map(times)
            .map_err(|e| self.error("read", &e))
    }

    /// Forgets how many times `ip` was blocked: the administrator delisted or allowed it,
    /// so its next block is a first one again.
    pub fn forget_times_blocked(&mut self, ip: ClientIp) -> Result<()> {
        self.forget_block_count(&ip.to_string())
    }

    /// Forgets the block count kept under `key` (an address or a prefix, as text).
    pub(super) fn forget_block_count(&mut self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM block_counts WHERE ip = ?1", [key])
            .map(|_| ())
            .map_err(|e| self.error("update", &e))
    }

    /// Adds evidence counts and moves log cursors, in one transaction: a crash never
    /// counts a line twice or loses one.
    pub fn record_evidence(&mut self, counts: &[EvidenceCount], cursors: &[Cursor]) -> Result<()> {
        self.record_evidence_and_accounts(counts, &[], &[], 0, 0, cursors)
    }

    /// `record_evidence`, with what each account did (see `store::trust`) in the same
    /// transaction: attempts start a new window when the stored one began more than
    /// `window` seconds before them; lines without a time count as read at `now`. `reports`
    /// are the attempts in `counts` as one reporter saw them, joined with the other
    /// reporter's (`store::attempts`): what the other counted already is taken off.
    pub fn record_evidence_and_accounts(
        &mut self,
        counts: &[EvidenceCount],
        accounts: &[AccountCount],
        reports: &[AttemptReport],
        window: i64,
        now: i64,
        cursors: &[Cursor],
    ) -> Result<()> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "record evidence in", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let corrections = super::attempts::join(&tx, reports, now).map_err(err)?;
            let (counts, accounts) = &corrected(counts, accounts, &corrections);
            // One change number per transaction, so a fleet exchange can send what changed.
            let version: i64 = if counts.is_empty() {
                0
            } else {
                tx.query_row(
                    "INSERT INTO sentry_meta (key, value) VALUES ('evidence_version', '1')
                     ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1
                     RETURNING CAST(value AS INTEGER)",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?
            };
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO evidence (ip, service, kind, count, first, last, version)
                     VALUES (?1, ?2, ?3, max(0, ?4), ?5, ?6, ?7)
                     ON CONFLICT(ip, service, kind) DO UPDATE SET
                         count = max(0, count + ?4),
                         first = coalesce(min(first, excluded.first), first, excluded.first),
                         last = coalesce(max(last, excluded.last), last, excluded.last),
                         version = excluded.version",
                )
                .map_err(err)?;
            for c in counts {
                add.execute(params![
                    c.ip, c.service, c.kind, c.count, c.first, c.last, version
                ])
                .map_err(err)?;
            }
            super::trust::record_accounts(&tx, accounts, window, now).map_err(err)?;
            if !cursors.is_empty() {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO sentry_meta (key, value)
                     VALUES ('reading_since', CAST(strftime('%s', 'now') AS TEXT))",
                )
                .and_then(|mut s| s.execute([]))
                .map_err(err)?;
            }
            let mut cursor = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO log_cursors (source, device, inode, offset, fingerprint, updated)
                     VALUES (?1, ?2, ?3, ?4, ?5, CAST(strftime('%s', 'now') AS INTEGER))",
                )
                .map_err(err)?;
            for c in cursors {
                let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                cursor
                    .execute(params![
                        c.source,
                        as_i64(c.device),
                        as_i64(c.inode),
                        as_i64(c.offset),
                        c.fingerprint
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// The evidence about one address, every service and kind.
    pub fn evidence(&mut self, ip: ClientIp) -> Result<Vec<EvidenceCount>> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "read evidence from", &e);
        let text = ip.to_string();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT service, kind, count, first, last FROM evidence WHERE ip = ?1 ORDER BY service, kind")
            .map_err(err)?;
        let rows = stmt
            .query_map([&text], |r| {
                Ok(EvidenceCount {
                    ip: text.clone(),
                    service: r.get(0)?,
                    kind: r.get(1)?,
                    count: r.get(2)?,
                    first: r.get(3)?,
                    last: r.get(4)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// Forgets the evidence about one address (after a delist or an expired block, so that
    /// old lines do not decide again).
    pub fn forget_evidence(&mut self, ip: ClientIp) -> Result<()> {
        self.conn
            .execute("DELETE FROM evidence WHERE ip = ?1", [ip.to_string()])
            .map(|_| ())
            .map_err(|e| self.error("forget evidence in", &e))
    }

    /// Forgets all evidence and every log cursor (before re-reading all logs from the start).
    pub fn forget_all_evidence(&mut self) -> Result<()> {
        self.conn
            .execute_batch(
                "BEGIN IMMEDIATE; DELETE FROM evidence; DELETE FROM log_cursors; COMMIT;",
            )
            .map_err(|e| {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.error("forget evidence in", &e)
            })
    }

    /// Where reading of `source` stopped last time.
    pub fn cursor(&mut self, source: &str) -> Result<Option<Cursor>> {
        self.conn
            .query_row(
                "SELECT device, inode, offset, fingerprint FROM log_cursors WHERE source = ?1",
                [source],
                |r| {
                    let as_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
                    Ok(Cursor {
                        source: source.to_string(),
                        device: as_u64(r.get(0)?),
                        inode: as_u64(r.get(1)?),
                        offset: as_u64(r.get(2)?),
                        fingerprint: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.error("read a log cursor from", &e))
    }

    /// The `n` addresses with the most connections: `(ip, seen)`.
    pub fn top_connections(&mut self, n: u32) -> Result<Vec<(String, i64)>> {
        self.pairs(
            "SELECT ip, ifnull(seen, 0) FROM ip_records ORDER BY seen DESC, ip LIMIT ?1",
            n,
        )
    }

    /// The `n` addresses with the most naughty events: `(ip, count)`.
    pub fn top_naughty(&mut self, n: u32) -> Result<Vec<(String, i64)>> {
        self.pairs(
            "SELECT ip, sum(count) AS c FROM evidence WHERE kind = 'naughty' GROUP BY ip ORDER BY c DESC, ip LIMIT ?1",
            n,
        )
    }

    /// Evidence summed over addresses: `(service, kind, count)`.
    pub fn evidence_totals(&mut self) -> Result<Vec<(String, String, i64)>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        let mut stmt = self
            .conn
            .prepare("SELECT service, kind, sum(count) FROM evidence GROUP BY service, kind ORDER BY service, kind")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// How many of the listed addresses were listed on each day since `since` (unix
    /// seconds; days in UTC): `(day start, allowed, blocked)`.
    pub fn listings_per_day(&mut self, since: i64) -> Result<Vec<(i64, i64, i64)>> {
        let err = |e: rusqlite::Error| self.error("read", &e);
        // From the history, so an address blocked and delisted since still counts on its day.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at - at % 86400 AS day,
                        count(DISTINCT CASE action WHEN 'allow' THEN ip END),
                        count(DISTINCT CASE action WHEN 'block' THEN ip END)
                 FROM decisions WHERE at >= ?1 AND action IN ('allow', 'block')
                 GROUP BY day ORDER BY day",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// Whole-database figures for the report.
    pub fn summary(&mut self) -> Result<Summary> {
        self.conn
            .query_row(
                "SELECT ifnull(sum(seen > 0), 0), count(*), ifnull(sum(seen), 0),
                        ifnull(sum(allow > 0), 0), ifnull(sum(block > 0), 0),
                        (SELECT count(*) FROM block_counts c JOIN ip_records r ON r.ip = c.ip
                         WHERE c.times > 1 AND r.block > 0)
                 FROM ip_records",
                [],
                |r| {
                    Ok(Summary {
                        unique_ips: r.get(0)?,
                        records: r.get(1)?,
                        connections: r.get(2)?,
                        allowed: r.get(3)?,
                        blocked: r.get(4)?,
                        blocked_again: r.get(5)?,
                    })
                },
            )
            .map_err(|e| self.error("summarise", &e))
    }

    /// Calls `visit` for every record, in address order, without loading them all.
    pub fn for_each_record(
        &mut self,
        visit: &mut dyn FnMut(&IpRecord) -> Result<()>,
    ) -> Result<()> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "read", &e);
        let mut stmt = self
            .conn
            .prepare("SELECT ifnull(seen, 0), ifnull(allow, 0), ifnull(block, 0), ip FROM ip_records ORDER BY ip")
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let ip: String = row.get(3).map_err(err)?;
            let record = row_to_record(ip, row).map_err(err)?;
            visit(&record)?;
        }
        Ok(())
    }

    /// Merges records from an older sentry in one transaction: connection counts are
    /// added, and a listing is taken when the existing record has none.
    pub fn merge_records(&mut self, records: &[IpRecord]) -> Result<()> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "import into", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        merge_into(&tx, records).map_err(err)?;
        tx.commit().map_err(err)
    }
}

/// Adds connection counts; takes an imported listing only where the record has none.
fn merge_into(tx: &rusqlite::Transaction<'_>, records: &[IpRecord]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare(
        "INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(ip) DO UPDATE SET
             seen = ifnull(seen, 0) + excluded.seen,
             allow = CASE WHEN ifnull(allow, 0) > 0 OR ifnull(block, 0) > 0
                          THEN ifnull(allow, 0) ELSE excluded.allow END,
             block = CASE WHEN ifnull(allow, 0) > 0 OR ifnull(block, 0) > 0
                          THEN ifnull(block, 0) ELSE excluded.block END",
    )?;
    for r in records {
        stmt.execute(params![r.ip, r.seen, r.allow, r.block])?;
    }
    Ok(())
}

impl SqliteStore {
    /// Merges `records` unless `key` was already noted in `sentry_meta`; notes it in the
    /// same transaction. Returns false when the key was already there (nothing merged).
    pub fn merge_records_once(
        &mut self,
        key: &str,
        records: &[IpRecord],
        now: i64,
    ) -> Result<bool> {
        if self.meta(key)?.is_some() {
            return Ok(false);
        }
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| db_error(&path, busy, "import into", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        // Checked again under the write lock: another process may have imported meanwhile.
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO sentry_meta (key, value) VALUES (?1, ?2)",
                params![key, now.to_string()],
            )
            .map_err(err)?;
        if inserted == 0 {
            return Ok(false);
        }
        merge_into(&tx, records).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(ip: &str, kind: &str, count: i64) -> EvidenceCount {
        EvidenceCount {
            ip: ip.to_string(),
            service: "sshd".to_string(),
            kind: kind.to_string(),
            count,
            first: None,
            last: None,
        }
    }

    /// A failure later found naughty is taken back (-1); the row it comes off may already
    /// be gone (a delisting forgot it). A count never goes below zero, which would read as
    /// a huge number of failures.
    #[test]
    fn evidence_counts_never_go_below_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store =
            SqliteStore::open(&dir.path().join("sentry.db"), Duration::from_secs(1)).expect("open");
        store.migrate().expect("migrate");
        let ip = ClientIp::parse("198.51.100.7").expect("ip");
        store
            .record_evidence(&[count("198.51.100.7", "failed", -1)], &[])
            .expect("record");
        store
            .record_evidence(&[count("198.51.100.7", "failed", 2)], &[])
            .expect("record");
        store
            .record_evidence(&[count("198.51.100.7", "failed", -5)], &[])
            .expect("record");
        let rows = store.evidence(ip).expect("evidence");
        assert_eq!(rows.iter().map(|r| r.count).collect::<Vec<_>>(), [0]);
    }
}
