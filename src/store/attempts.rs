/*!
One attempt, two reports: `sentry pam` (the daemon's PAM stack) and the daemon's log line
describe the same logins and failures, and each must count once.

Both reporters write their attempts per address and service into `attempt_reports`: one
row per stretch of time in which an address kept trying (events within [`JOIN_SECONDS`] of
the row's first and last join it), with each reporter's own count of failures, naughty
attempts and logins. The evidence is the larger of the two reports, as sshd's PAM line and
result line are joined per process in `scan`: whichever reporter comes first counts the
attempt, the other adds only what it saw beyond that. The order does not matter, so a log
read in real time (`ingest`) and a log read days later by a `--connect` count alike.

The rows are per address and service, not per account: pam_unix's log lines often name no
account, and an attempt must not count twice because one report named it and the other did
not. Attempts and logins are attributed to the account of the report that counted them.
Rows are kept [`KEEP_SECONDS`]: a log read later than that counts the hook's attempts again.
*/

use rusqlite::{OptionalExtension, params};

use crate::ip::ClientIp;

/// Reports of one attempt this far apart (seconds) are taken for the same attempt: the log
/// line's time and the hook's clock differ by the daemon's delay, a few seconds at most.
pub const JOIN_SECONDS: i64 = 60;

/// How long the rows are kept (seconds): the log of a host read only by `--connect` may be
/// read a while after its lines were written.
pub const KEEP_SECONDS: i64 = 7 * 86_400;

/// Rows dropped per write once they are older than [`KEEP_SECONDS`] (a bounded cost).
const PRUNE_ROWS: i64 = 256;

/// Who reported an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reporter {
    /// A log line (file, journal or `ingest`).
    Log,
    /// `sentry pam`, from the daemon's PAM stack.
    Hook,
}

/// What one reporter saw of one address's attempts on one service, for one account, over
/// a stretch of time: `[failed, naughty, success]` (failed may be negative: a failure that
/// a later line of the same attempt called naughty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    pub ip: ClientIp,
    pub service: &'static str,
    pub account: String,
    pub reporter: Reporter,
    pub first: i64,
    pub last: i64,
    pub counts: [i64; 3],
}

/// What a report adds beyond what was counted already: to be added to the raw counts
/// (`[failed, naughty, success]`, usually negative) of the report's address, service and
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub ip: ClientIp,
    pub service: &'static str,
    pub account: String,
    pub counts: [i64; 3],
}

/// The attempts two reports of the same stretch stand for: as many attempts as the larger
/// report, as many of them naughty as either calls naughty, as many logins as the larger.
pub fn joined(log: [i64; 3], hook: [i64; 3]) -> [i64; 3] {
    let total = (log[0] + log[1]).max(hook[0] + hook[1]).max(0);
    let naughty = log[1].max(hook[1]).clamp(0, total);
    [total - naughty, naughty, log[2].max(hook[2]).max(0)]
}

fn minus(a: [i64; 3], b: [i64; 3]) -> [i64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn plus(a: [i64; 3], b: [i64; 3]) -> [i64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// Joins `reports` with what the other reporter wrote, in the caller's transaction, and
/// returns the corrections to the raw counts. A log report is written down for a later
/// hook only when it is recent (a hook comes while the attempt happens); reading an old
/// log on a host that never ran the hook costs one look at an empty table.
pub(super) fn join(
    tx: &rusqlite::Transaction<'_>,
    reports: &[AttemptReport],
    now: i64,
) -> rusqlite::Result<Vec<Correction>> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    let any_rows: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM attempt_reports)")?
        .query_row([], |r| r.get(0))?;
    let mut corrections = Vec::new();
    let mut wrote = false;
    for report in reports {
        let keep = report.reporter == Reporter::Hook || report.last >= now - JOIN_SECONDS;
        if !any_rows && !keep {
            continue;
        }
        let ip = report.ip.to_string();
        let found = if any_rows || wrote {
            tx.prepare_cached(
                "SELECT rowid, first, last, log_failed, log_naughty, log_success,
                        hook_failed, hook_naughty, hook_success
                 FROM attempt_reports
                 WHERE ip = ?1 AND service = ?2 AND last >= ?3 AND first <= ?4
                 ORDER BY last DESC LIMIT 1",
            )?
            .query_row(
                params![
                    ip,
                    report.service,
                    report.first - JOIN_SECONDS,
                    report.last + JOIN_SECONDS
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        [r.get(3)?, r.get(4)?, r.get(5)?],
                        [r.get(6)?, r.get(7)?, r.get(8)?],
                    ))
                },
            )
            .optional()?
        } else {
            None
        };
        if found.is_none() && !keep {
            // Nothing to join with, now or later: counted as it is.
            continue;
        }
        let (mut log, mut hook) = ([0; 3], [0; 3]);
        let before = match &found {
            Some((_, _, _, l, h)) => {
                (log, hook) = (*l, *h);
                joined(log, hook)
            }
            None => [0; 3],
        };
        match report.reporter {
            Reporter::Log => log = plus(log, report.counts),
            Reporter::Hook => hook = plus(hook, report.counts),
        }
        let added = minus(joined(log, hook), before);
        let correction = minus(added, report.counts);
        if correction != [0; 3] {
            corrections.push(Correction {
                ip: report.ip,
                service: report.service,
                account: report.account.clone(),
                counts: correction,
            });
        }
        match found {
            Some((rowid, first, last, _, _)) => {
                tx.prepare_cached(
                    "UPDATE attempt_reports SET first = ?2, last = ?3,
                         log_failed = ?4, log_naughty = ?5, log_success = ?6,
                         hook_failed = ?7, hook_naughty = ?8, hook_success = ?9
                     WHERE rowid = ?1",
                )?
                .execute(params![
                    rowid,
                    first.min(report.first),
                    last.max(report.last),
                    log[0],
                    log[1],
                    log[2],
                    hook[0],
                    hook[1],
                    hook[2]
                ])?;
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO attempt_reports (ip, service, first, last,
                         log_failed, log_naughty, log_success, hook_failed, hook_naughty, hook_success)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    ip,
                    report.service,
                    report.first,
                    report.last,
                    log[0],
                    log[1],
                    log[2],
                    hook[0],
                    hook[1],
                    hook[2]
                ])?;
                wrote = true;
            }
        }
    }
    if wrote {
        tx.prepare_cached(
            "DELETE FROM attempt_reports WHERE rowid IN
                 (SELECT rowid FROM attempt_reports WHERE last < ?1 ORDER BY last LIMIT ?2)",
        )?
        .execute(params![now - KEEP_SECONDS, PRUNE_ROWS])?;
    }
    Ok(corrections)
}

/// Schema version 7: the table of reports (see the module's doc).
pub(super) fn create_table(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS attempt_reports (
            ip TEXT NOT NULL,
            service TEXT NOT NULL,
            first INTEGER NOT NULL,
            last INTEGER NOT NULL,
            log_failed INTEGER NOT NULL DEFAULT 0,
            log_naughty INTEGER NOT NULL DEFAULT 0,
            log_success INTEGER NOT NULL DEFAULT 0,
            hook_failed INTEGER NOT NULL DEFAULT 0,
            hook_naughty INTEGER NOT NULL DEFAULT 0,
            hook_success INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS attempt_reports_ip ON attempt_reports (ip, service, last);
        CREATE INDEX IF NOT EXISTS attempt_reports_last ON attempt_reports (last);",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_reports_of_the_same_attempts_count_as_the_larger() {
        assert_eq!(joined([3, 0, 0], [3, 0, 0]), [3, 0, 0]);
        assert_eq!(joined([2, 0, 1], [3, 0, 1]), [3, 0, 1]);
        // The log calls it an invalid user, the hook a failure: one naughty attempt.
        assert_eq!(joined([0, 1, 0], [1, 0, 0]), [0, 1, 0]);
        // A failure the log later called naughty (-1 failed, +1 naughty on its own).
        assert_eq!(joined([-1, 1, 0], [0, 0, 0]), [0, 0, 0]);
        assert_eq!(joined([0, 0, 0], [0, 0, 0]), [0, 0, 0]);
    }
}
