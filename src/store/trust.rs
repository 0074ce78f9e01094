/*!
Trust after a login: the accounts each trusted address logged in as (`trust`), and per
account the logins and the attempts counted against a trusted address
(`account_evidence`).

Account names are the client's text. They are stored as data and only compared for
equality; an address keeps at most [`ACCOUNTS_PER_ADDRESS`] of them apart (the rest, and
names longer than [`crate::policy::ACCOUNT_NAME_MAX`], are counted together under ""),
and attempts are kept only for addresses that are trusted or logged in within the same
batch, so that an attacker's guessing cannot grow the database and an untrusted address
costs what it did before.
*/

use rusqlite::params;

use super::{AccountCount, AccountEvidence, SqliteStore, TrustedAccount};
use crate::error::Result;
use crate::ip::ClientIp;

/// Accounts kept apart per address (a login always is: it needs the account's password).
pub const ACCOUNTS_PER_ADDRESS: i64 = 32;

/// Adds a batch of per-account counts, in the caller's transaction. Attempts start a new
/// window when the stored one began more than `window` seconds before them (by the lines'
/// times: when they happened). A login counts from `now`, when sentry read it: sentry reads
/// the logs as they are written, and a backlog read late grants no more than `trust_days`.
pub(super) fn record_accounts(
    tx: &rusqlite::Transaction<'_>,
    accounts: &[AccountCount],
    window: i64,
    now: i64,
) -> rusqlite::Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let logged_in: std::collections::BTreeSet<ClientIp> = accounts
        .iter()
        .filter(|a| a.successes > 0)
        .map(|a| a.ip)
        .collect();
    let mut add = tx.prepare_cached(
        "INSERT INTO account_evidence (ip, account, successes, last_success, attempts, window_start)
         SELECT ?1,
                CASE WHEN ?3 > 0
                       OR EXISTS (SELECT 1 FROM account_evidence WHERE ip = ?1 AND account = ?2)
                       OR (SELECT count(*) FROM account_evidence WHERE ip = ?1) < ?8
                     THEN ?2 ELSE '' END,
                ?3, ?4, ?5, CASE WHEN ?5 > 0 THEN ?6 END
         WHERE ?3 > 0 OR ?7 OR EXISTS (SELECT 1 FROM trust WHERE ip = ?1)
         ON CONFLICT(ip, account) DO UPDATE SET
             successes = successes + excluded.successes,
             last_success = CASE WHEN last_success IS NULL THEN excluded.last_success
                                 WHEN excluded.last_success IS NULL THEN last_success
                                 ELSE max(last_success, excluded.last_success) END,
             attempts = CASE WHEN excluded.attempts <= 0 THEN attempts
                             WHEN window_start IS NULL OR excluded.window_start - window_start > ?9
                             THEN excluded.attempts
                             ELSE attempts + excluded.attempts END,
             window_start = CASE WHEN excluded.attempts <= 0 THEN window_start
                                 WHEN window_start IS NULL OR excluded.window_start - window_start > ?9
                                 THEN excluded.window_start
                                 ELSE window_start END",
    )?;
    for a in accounts {
        // A line without a time (or from a clock ahead of ours) is taken as read now.
        let first_attempt = a.first_attempt.map_or(now, |t| t.min(now));
        add.execute(params![
            a.ip.to_string(),
            a.account,
            a.successes.max(0),
            (a.successes > 0).then_some(now),
            a.attempts.max(0),
            first_attempt,
            logged_in.contains(&a.ip),
            ACCOUNTS_PER_ADDRESS,
            window,
        ])?;
    }
    Ok(())
}

/// Replaces an address's trust with `accounts` (none: it has none), in the caller's
/// transaction. Any listing but an automatic allow ends trust, and a block or delisting
/// also forgets what the accounts did.
pub(super) fn replace_trust(
    tx: &rusqlite::Transaction<'_>,
    ip: &str,
    accounts: &[TrustedAccount],
    forget_accounts: bool,
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM trust WHERE ip = ?1")?
        .execute([ip])?;
    if forget_accounts {
        tx.prepare_cached("DELETE FROM account_evidence WHERE ip = ?1")?
            .execute([ip])?;
    }
    let mut add = tx.prepare_cached(
        "INSERT OR REPLACE INTO trust (ip, account, since, last_success) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for a in accounts {
        add.execute(params![ip, a.account, a.since, a.last_success])?;
    }
    Ok(())
}

impl SqliteStore {
    /// The accounts `ip` is trusted for, expired ones too (oldest login first); empty when
    /// it has no automatic trust (unlisted, blocked, or allowed by hand).
    pub fn trust(&self, ip: ClientIp) -> Result<Vec<TrustedAccount>> {
        let err = |e: rusqlite::Error| self.error("read trust from", &e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account, since, last_success FROM trust WHERE ip = ?1
                 ORDER BY since, account",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([ip.to_string()], |r| {
                Ok(TrustedAccount {
                    account: r.get(0)?,
                    since: r.get(1)?,
                    last_success: r.get(2)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// What each account did from `ip` (logins, and attempts while trusted).
    pub fn account_evidence(&self, ip: ClientIp) -> Result<Vec<AccountEvidence>> {
        let err = |e: rusqlite::Error| self.error("read evidence from", &e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account, successes, last_success, attempts, window_start
                 FROM account_evidence WHERE ip = ?1 ORDER BY account",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([ip.to_string()], |r| {
                Ok(AccountEvidence {
                    account: r.get(0)?,
                    successes: r.get(1)?,
                    last_success: r.get(2)?,
                    attempts: r.get(3)?,
                    window_start: r.get(4)?,
                })
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(err)
    }

    /// Renews an allowed address's trust with newer logins (`accounts`: added, or their
    /// last login moved), and records it in the history (`trust`, from `origin`: "" for
    /// this host's logins, else the fleet host whose renewal it is), in one transaction.
    /// Nothing changes if the address lost its trust meanwhile (another sentry blocked it).
    pub fn renew_trust(
        &mut self,
        ip: ClientIp,
        accounts: &[TrustedAccount],
        at: i64,
        reason: &str,
        origin: &str,
    ) -> Result<bool> {
        let (path, busy) = (self.path.clone(), self.busy);
        let err = |e: rusqlite::Error| super::sqlite::db_error(&path, busy, "update", &e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let text = ip.to_string();
        let trusted: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM trust WHERE ip = ?1)
                    AND EXISTS (SELECT 1 FROM ip_records WHERE ip = ?1 AND allow > 0)",
                [&text],
                |r| r.get(0),
            )
            .map_err(err)?;
        if !trusted {
            return Ok(false);
        }
        {
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO trust (ip, account, since, last_success) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(ip, account) DO UPDATE SET
                         last_success = max(last_success, excluded.last_success)",
                )
                .map_err(err)?;
            for a in accounts {
                add.execute(params![text, a.account, a.since, a.last_success])
                    .map_err(err)?;
            }
        }
        tx.execute(
            "INSERT INTO decisions (ip, action, at, reason, origin) VALUES (?1, 'trust', ?2, ?3, ?4)",
            params![text, at, reason, origin],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    /// Every address with automatic trust, with its last login (for `expire`).
    pub fn trusted(&self) -> Result<Vec<(ClientIp, i64)>> {
        let err = |e: rusqlite::Error| self.error("read trust from", &e);
        let mut stmt = self
            .conn
            .prepare("SELECT ip, max(last_success) FROM trust GROUP BY ip ORDER BY ip")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (text, last) = row.map_err(err)?;
            if let Some(ip) = ClientIp::parse_opt(&text) {
                out.push((ip, last));
            }
        }
        Ok(out)
    }
}
