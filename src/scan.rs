/*!
Scanning: every log source's new lines, parsed into evidence in the store.

One scanner at a time (a lock file in the root): two scanners would read the same new
lines and count them twice. A caller that cannot get the lock soon (a `--connect`
during someone else's scan) does not wait: it decides on the evidence already stored.
Evidence and the cursor of each source are written in one transaction per source, so a
crash never counts a line twice or loses one.
*/

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use crate::atomic_file::{FileLock, LockError};
use crate::config::Config;
use crate::error::Result;
use crate::ip::ClientIp;
use crate::logs::parse::{ParseOptions, Parser, ParserState, SAVED_ENTRIES};
use serde::{Deserialize, Serialize};

use crate::logs::{Event, Kind, Report, Service, ServiceGroup, journal, source};
use crate::progress::Progress;
use crate::store::attempts::{self, AttemptReport, Reporter};
use crate::store::{AccountCount, Cursor, EvidenceCount, SqliteStore};

/// journalctl gets this long before it is stopped (a first read of a big journal).
const JOURNAL_TIMEOUT: Duration = Duration::from_secs(120);

/// Lock file in the root that keeps scanners from reading the same lines twice.
const SCAN_LOCK: &str = ".scan.lock";
/// Passes over the files while they keep growing; bounds a scanner's stay under a flood.
const MAX_PASSES: usize = 4;

/// What one `--connect` reads at most, over all log files: a login must not wait while a
/// flood of lines is read, nor a connect hold a million addresses in memory. The rest
/// stays for the next connect, `scan` or `ingest`; `check` warns while a cursor lags.
pub const CONNECT_READ_BUDGET: u64 = 2 << 20;

/// What one scan read and found.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub sources: usize,
    pub lines: u64,
    pub events: u64,
    /// Addresses with new evidence, in address order.
    pub addresses: BTreeSet<ClientIp>,
    /// False when another scanner held the lock and this one did not wait.
    pub scanned: bool,
    /// Sources that could not be read (reported, skipped; the others were read).
    pub errors: Vec<String>,
    /// Configured log files that do not exist and never did (no cursor): a typo in `logs`?
    pub missing: Vec<PathBuf>,
    /// Each source read, with the lines read from it (`-v`).
    pub read: Vec<(String, u64)>,
}

impl ScanOutcome {
    /// Counts `lines` more read from `source`.
    fn read_from(&mut self, source: String, lines: u64) {
        match self.read.iter_mut().find(|(s, _)| *s == source) {
            Some((_, n)) => *n += lines,
            None => self.read.push((source, lines)),
        }
    }
}

/// Evidence gathered in memory before it is written: one entry per address, service and kind.
#[derive(Debug, Default)]
pub struct Tally {
    counts: HashMap<(ClientIp, Service, Kind), Count>,
    attempts: AttemptLedger,
    /// tcpd's refusals, kept aside until the store says whether sentry blocks the address
    /// (see [`Tally::admit_refusals`]).
    refusals: HashMap<(ClientIp, Service), Count>,
    /// Logins and attempts per address and account, for trust (see `store::trust`).
    accounts: HashMap<(ClientIp, String), AccountTally>,
    /// Who reports these attempts, and whether they are joined with the other reporter's
    /// (`store::attempts`); None: not joined (`evidence` without `pam`).
    reporter: Option<Reporter>,
    /// False when logins in log lines make nobody trusted (`evidence` without `logs`).
    ignore_log_logins: bool,
    /// The attempts as this reporter saw them, per address, service and account: stretches
    /// of time, each with its `[failed, naughty, success]`.
    reports: HashMap<(ClientIp, Service, String), Vec<AttemptReport>>,
}

/// Reports kept apart in one batch; past this, attempts are counted without being joined
/// (a batch is written after each source, so this bounds memory).
const TALLY_REPORTS: usize = 50_000;
/// Stretches of time kept apart per address, service and account in one batch.
const STRETCHES_PER_KEY: usize = 16;

/// One account's logins and attempts (count, first time) from one address.
#[derive(Debug, Default, Clone, Copy)]
struct AccountTally {
    successes: i64,
    attempts: i64,
    first_attempt: Option<i64>,
}

/// Accounts told apart in one batch; past this, attempts are counted under "" (a batch is
/// written after each source, so this bounds memory, not what is kept).
const TALLY_ACCOUNTS: usize = 50_000;

/// How many events, and the first and last time seen.
type Count = (i64, Option<i64>, Option<i64>);

impl Tally {
    /// A tally of log lines as `evidence` wants them: joined with `sentry pam`'s reports
    /// when it records, logins left out when logs make nobody trusted.
    pub fn of_logs(config: &Config) -> Tally {
        Tally {
            reporter: config.evidence.pam.then_some(Reporter::Log),
            ignore_log_logins: !config.evidence.logs,
            ..Tally::default()
        }
    }

    /// A tally of `sentry pam`'s reports, joined with the log's.
    pub fn of_hook() -> Tally {
        Tally {
            reporter: Some(Reporter::Hook),
            ..Tally::default()
        }
    }

    /// Counts an event: as many as it stands for, except that an attempt the daemon reported
    /// on two lines (its own result and PAM's) counts once.
    pub fn add(&mut self, event: &Event) {
        if self.ignore_log_logins && event.kind == Kind::Success {
            return;
        }
        let count = i64::from(event.count);
        // sshd's two reports come from one process (the connection's monitor), proftpd's
        // too (the session); dovecot's from two (login and auth), vsftpd's from two (the
        // pre-login and the privileged process), so they are joined per address; so are
        // pure-ftpd's, whose syslog lines may name no pid.
        let process = match event.service {
            Service::Dovecot | Service::Vsftpd | Service::PureFtpd => Some(0),
            _ => event.pid,
        };
        if event.report == Report::Refusal {
            let entry = (self.refusals)
                .entry((event.ip, event.service))
                .or_insert((0, event.time, event.time));
            widen(entry, count, event.time);
            return;
        }
        match (event.report, process, event.kind) {
            (
                Report::AuthResult | Report::Backend | Report::Pam | Report::Summary,
                Some(pid),
                Kind::Failed | Kind::Naughty,
            ) => {
                let key = (event.service, pid, event.ip);
                let time = event.time.unwrap_or(0);
                let (failed, naughty) =
                    (self.attempts).record(key, event.report, event.kind, event.count, time);
                self.count(event, Kind::Failed, failed);
                self.count(event, Kind::Naughty, naughty);
                // The attempt goes to the account of the line that counted it first.
                let account = self.count_account(event, 0, failed.saturating_add(naughty));
                self.report(event, account, [failed, naughty, 0]);
            }
            (_, _, Kind::Success) => {
                self.count(event, Kind::Success, count);
                let account = self.count_account(event, count, 0);
                self.report(event, account, [0, 0, count]);
            }
            (_, _, Kind::Failed | Kind::Naughty) => {
                self.count(event, event.kind, count);
                let account = self.count_account(event, 0, count);
                let naughty = i64::from(event.kind == Kind::Naughty);
                self.report(event, account, [count * (1 - naughty), count * naughty, 0]);
            }
            _ => self.count(event, event.kind, count),
        }
    }

    /// Adds what one event counted to the reports to join with the other reporter's: to
    /// the account's stretch the event's time falls in, or a new one.
    fn report(&mut self, event: &Event, account: Option<String>, counts: [i64; 3]) {
        let (Some(reporter), Some(time)) = (self.reporter, event.time) else {
            return;
        };
        // Nothing counted for an account (a failure turned naughty): the line's own.
        let account = account.unwrap_or_else(|| crate::logs::account_key(event.user).to_string());
        if counts == [0; 3] {
            return;
        }
        let key = (event.ip, event.service, account);
        if !self.reports.contains_key(&key) && self.reports.len() >= TALLY_REPORTS {
            return;
        }
        let stretches = self.reports.entry(key.clone()).or_default();
        // Lines come in time order: the last stretch is the likely one. Past
        // STRETCHES_PER_KEY the last one grows (a wider join, bounded memory and work).
        let full = stretches.len() >= STRETCHES_PER_KEY;
        match (stretches.iter_mut().rev()).enumerate().find(|(i, r)| {
            (full && *i == 0)
                || (time >= r.first - attempts::JOIN_SECONDS
                    && time <= r.last + attempts::JOIN_SECONDS)
        }) {
            Some((_, r)) => {
                r.first = r.first.min(time);
                r.last = r.last.max(time);
                for (total, n) in r.counts.iter_mut().zip(counts) {
                    *total += n;
                }
            }
            None => stretches.push(AttemptReport {
                ip: event.ip,
                service: event.service.name(),
                account: key.2,
                reporter,
                first: time,
                last: time,
                counts,
            }),
        }
    }

    /// The reports to join with the other reporter's.
    pub fn drain_reports(&mut self) -> Vec<AttemptReport> {
        // Taken, not drained: a long-lived follower would keep its largest batch's table.
        std::mem::take(&mut self.reports)
            .into_values()
            .flatten()
            .collect()
    }

    /// Counts what an account did; returns the name it was counted under, if it was.
    fn count_account(&mut self, event: &Event, successes: i64, attempts: i64) -> Option<String> {
        if successes <= 0 && attempts <= 0 {
            return None;
        }
        let mut name = crate::logs::account_key(event.user);
        if !self.accounts.contains_key(&(event.ip, name.to_string()))
            && self.accounts.len() >= TALLY_ACCOUNTS
            && successes <= 0
        {
            name = "";
        }
        let entry = self
            .accounts
            .entry((event.ip, name.to_string()))
            .or_default();
        entry.successes += successes.max(0);
        if attempts > 0 {
            entry.attempts += attempts;
            entry.first_attempt = match (entry.first_attempt, event.time) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Some(name.to_string())
    }

    /// The per-account rows to add to the store.
    pub fn drain_accounts(&mut self) -> Vec<AccountCount> {
        std::mem::take(&mut self.accounts)
            .into_iter()
            .map(|((ip, account), a)| AccountCount {
                ip,
                account,
                successes: a.successes,
                attempts: a.attempts,
                first_attempt: a.first_attempt,
            })
            .collect()
    }

    fn count(&mut self, event: &Event, kind: Kind, count: i64) {
        if count == 0 {
            return;
        }
        let entry = self
            .counts
            .entry((event.ip, event.service, kind))
            .or_insert((0, event.time, event.time));
        widen(entry, count, event.time);
    }

    /// Forgets the attempts no later line can join any more, and the room they took (for
    /// the follower, between its batches; see [`AttemptLedger::forget_stale`]).
    pub fn forget_stale_attempts(&mut self) {
        self.attempts.forget_stale();
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
            && self.refusals.is_empty()
            && self.accounts.is_empty()
            && self.reports.is_empty()
    }

    /// Counts tcpd's refusals as probes, except those of addresses sentry blocks: tcpd
    /// refused them because of sentry's own deny list, and counting that would renew the
    /// block for as long as the address keeps knocking. Asked per address, when the
    /// evidence is written: refusals are rare, and loading every block would cost each
    /// `--connect` that scans.
    pub fn admit_refusals(
        &mut self,
        mut blocked: impl FnMut(ClientIp) -> Result<bool>,
    ) -> Result<()> {
        for ((ip, service), (count, first, last)) in std::mem::take(&mut self.refusals) {
            if blocked(ip)? {
                continue;
            }
            let entry = (self.counts)
                .entry((ip, service, Kind::Probe))
                .or_insert((0, first, last));
            widen(entry, count, first);
            widen(entry, 0, last);
        }
        Ok(())
    }

    /// The rows to add to the store, and the addresses they concern (refusals not yet
    /// admitted are dropped).
    pub fn drain(&mut self, addresses: &mut BTreeSet<ClientIp>) -> Vec<EvidenceCount> {
        // The batch's tables are taken, not cleared or drained, so that their memory goes
        // with them (`ingest` runs for months; its largest burst must not stay resident).
        self.refusals = HashMap::new();
        addresses.extend(self.accounts.keys().map(|(ip, _)| *ip));
        std::mem::take(&mut self.counts)
            .into_iter()
            .map(|((ip, service, kind), (count, first, last))| {
                addresses.insert(ip);
                EvidenceCount {
                    ip: ip.to_string(),
                    service: service.name().to_string(),
                    kind: kind.name().to_string(),
                    count,
                    first,
                    last,
                }
            })
            .collect()
    }
}

/// Adds `count` events seen at `time` to a count and its first/last times.
fn widen(entry: &mut Count, count: i64, time: Option<i64>) {
    entry.0 += count;
    if let Some(t) = time {
        entry.1 = Some(entry.1.map_or(t, |f| f.min(t)));
        entry.2 = Some(entry.2.map_or(t, |l| l.max(t)));
    }
}

/// One process's attempts from one address, as each of the two reports counted them.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Reports {
    /// `[failed, naughty]` by the daemon's own result lines.
    result: [u32; 2],
    /// `[failed, naughty]` by the authentication service's lines (dovecot's auth).
    backend: [u32; 2],
    /// `[failed, naughty]` by PAM's lines.
    #[serde(default)]
    pam: [u32; 2],
    /// `[failed, naughty]` at least, by the connection's summaries (the largest of each).
    #[serde(default)]
    summary: [u32; 2],
    /// Event time of the last line, to forget a process id the system has reused.
    last: i64,
}

impl Reports {
    /// `(failed, naughty)` attempts: as many attempts as the largest report names, and as
    /// many of them naughty as any report calls naughty (an `invalid user` result line
    /// makes PAM's user-less failure of the same attempt naughty).
    fn attempts(&self) -> (u32, u32) {
        let reports = [self.result, self.backend, self.pam, self.summary];
        let total = reports.iter().map(|[f, n]| f + n).max().unwrap_or(0);
        let naughty = reports
            .iter()
            .map(|[_, n]| *n)
            .max()
            .unwrap_or(0)
            .min(total);
        (total - naughty, naughty)
    }
}

/// Which attempts were counted already, per service, process and address (bounded; a
/// process's lines come within minutes, so old entries are dropped first).
#[derive(Debug, Default)]
struct AttemptLedger {
    by_process: HashMap<(Service, u32, ClientIp), Reports>,
    /// The latest event time recorded, and its value when stale entries were last forgotten.
    newest: i64,
    swept: i64,
}

/// Processes remembered at once; the oldest by event time goes first.
const LEDGER_ENTRIES: usize = 4096;
/// A process id seen again after this long is another connection.
const LEDGER_SECONDS: i64 = 3600;

impl AttemptLedger {
    /// Records `count` events of one report and returns how many failed and naughty
    /// attempts that adds (the failed part may be negative: a failure counted from PAM's
    /// line turns out naughty on the daemon's).
    fn record(
        &mut self,
        key: (Service, u32, ClientIp),
        report: Report,
        kind: Kind,
        count: u32,
        time: i64,
    ) -> (i64, i64) {
        self.newest = self.newest.max(time);
        if !self.by_process.contains_key(&key) && self.by_process.len() >= LEDGER_ENTRIES {
            self.forget_oldest();
        }
        let entry = self.by_process.entry(key).or_default();
        if time.saturating_sub(entry.last) > LEDGER_SECONDS {
            *entry = Reports::default();
        }
        entry.last = entry.last.max(time);
        let before = entry.attempts();
        let slot = usize::from(kind == Kind::Naughty);
        match report {
            Report::Backend => entry.backend[slot] = entry.backend[slot].saturating_add(count),
            Report::Pam => entry.pam[slot] = entry.pam[slot].saturating_add(count),
            // One connection may sum itself up twice (`maximum authentication attempts
            // exceeded`, then `Disconnecting ...: Too many authentication failures`).
            Report::Summary => entry.summary[slot] = entry.summary[slot].max(count),
            _ => entry.result[slot] = entry.result[slot].saturating_add(count),
        }
        let after = entry.attempts();
        (
            i64::from(after.0) - i64::from(before.0),
            i64::from(after.1) - i64::from(before.1),
        )
    }

    /// Drops the entries last seen more than [`LEDGER_SECONDS`] before the latest line: a
    /// line of theirs would start afresh anyway. The table also gives back what a burst
    /// made it grow to. For a follower, which reads one stream in time order and runs for
    /// months; a scan's sources are read one after another, each from its own point in
    /// time, and its memory goes when it ends.
    fn forget_stale(&mut self) {
        // At most once a minute of the log's time: a busy follower decides often.
        if self.newest.saturating_sub(self.swept) < 60 {
            return;
        }
        self.swept = self.newest;
        let before = self.newest.saturating_sub(LEDGER_SECONDS);
        // Entries of lines without a time (`last` 0) are bounded by LEDGER_ENTRIES alone.
        self.by_process
            .retain(|_, r| r.last >= before || r.last == 0);
        if self.by_process.capacity() > 4 * self.by_process.len() + 64 {
            self.by_process.shrink_to(2 * self.by_process.len());
        }
    }

    /// Drops the older half, so that eviction costs little per line.
    fn forget_oldest(&mut self) {
        let mut times: Vec<i64> = self.by_process.values().map(|r| r.last).collect();
        let half = times.len() / 2;
        let (_, median, _) = times.select_nth_unstable(half);
        let median = *median;
        self.by_process.retain(|_, r| r.last > median);
    }

    /// The entries a later line can still need, newest first, at most `n`.
    fn recent(&self, n: usize) -> Vec<SavedReports> {
        let mut entries: Vec<_> = (self.by_process.iter())
            .map(|(&(service, pid, ip), &reports)| SavedReports(service, pid, ip, reports))
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.3.last));
        entries.truncate(n);
        entries
    }

    fn restore(saved: Vec<SavedReports>) -> AttemptLedger {
        AttemptLedger {
            by_process: (saved.into_iter())
                .take(LEDGER_ENTRIES)
                .map(|SavedReports(service, pid, ip, reports)| ((service, pid, ip), reports))
                .collect(),
            newest: 0,
            swept: 0,
        }
    }
}

/// One ledger entry as it is kept between scans (JSON maps need string keys).
#[derive(Serialize, Deserialize)]
struct SavedReports(Service, u32, ClientIp, Reports);

/// What one scan hands to the next, kept in the cursor table under [`STATE_SOURCE`] and
/// written in the same transaction as each source's evidence and cursor: the parsers'
/// joins across lines and the attempts already counted.
#[derive(Serialize, Deserialize)]
struct SavedReading {
    parser: ParserState,
    attempts: Vec<SavedReports>,
}

/// The cursor-table name of the state that joins lines across scans.
pub const STATE_SOURCE: &str = "sentry:reading-state";

impl Tally {
    /// The ledger of counted attempts as the next scan needs it.
    fn saved_attempts(&self) -> Vec<SavedReports> {
        self.attempts.recent(SAVED_ENTRIES)
    }
}

/// The parse options the configuration asks for.
pub fn parse_options(config: &Config) -> ParseOptions {
    ParseOptions {
        root_is_naughty: config.root_is_naughty,
    }
}

/// Reads every configured source's new lines into the store. `lock_wait` bounds the wait
/// for another scanner; `budget` the bytes read (None: all there is); `from_start` forgets
/// all evidence and cursors and re-reads every file, rotated and compressed generations
/// included. `journal` false leaves the journal to the next reader that asks for it:
/// `--connect` never runs journalctl (14 ms and 18× `/bin/true` on an empty journal, seconds
/// on a large one), the scan timer or `ingest` reads it (`check` says when none does).
#[allow(clippy::too_many_arguments)] // one call per kind of caller; a struct would only rename them
pub fn scan(
    config: &Config,
    store: &mut SqliteStore,
    now: i64,
    lock_wait: Duration,
    budget: Option<u64>,
    from_start: bool,
    journal: bool,
    progress: &Progress,
) -> Result<ScanOutcome> {
    let mut outcome = ScanOutcome::default();
    let files: Vec<PathBuf> = config.log_files();
    let journal = journal && config.use_journal(&files);
    // Only a lock another scanner holds lets this one go without reading; a lock file that
    // cannot be opened is an error like any other (a scan that never runs must not pass
    // for one that someone else ran).
    let _lock = match FileLock::acquire(&config.root.join(SCAN_LOCK), lock_wait) {
        Ok(lock) => lock,
        Err(LockError::Busy { .. }) if !from_start => return Ok(outcome),
        Err(e) => return Err(e.into()),
    };
    outcome.scanned = true;
    if files.is_empty() && !journal && !from_start {
        // Nothing to read (a journald-only host's `--connect`): not even the parsers'
        // saved state, which after a large first read is thousands of joins to decode.
        return Ok(outcome);
    }
    let mut reading = Reading {
        config,
        parser: Parser::new(parse_options(config), now),
        tally: Tally::of_logs(config),
        outcome,
        progress,
        saved: Vec::new(),
        budget: budget.unwrap_or(u64::MAX),
        only: None,
        now,
    };
    if from_start {
        store.forget_all_evidence()?;
    } else if let Some(state) = store.cursor(STATE_SOURCE)? {
        reading.saved = state.fingerprint;
        reading.rewind_state();
    }
    for path in &files {
        scan_file(&mut reading, store, path, from_start)?;
        reading.outcome.sources += 1;
    }
    // Lines written while this pass read are read too before the lock is released: a
    // `--connect` that gave up waiting for this scanner relies on it to record them (and
    // `Sentry::connect` then decides for that address as well).
    for _ in 1..MAX_PASSES {
        let before = reading.outcome.lines;
        for path in &files {
            scan_file(&mut reading, store, path, false)?;
        }
        if reading.outcome.lines == before {
            break;
        }
    }
    if journal {
        progress.say("the systemd journal");
        scan_journal(&mut reading, store, from_start)?;
    }
    Ok(reading.outcome)
}

/// What one scan carries from line to line and source to source.
struct Reading<'a> {
    config: &'a Config,
    parser: Parser,
    tally: Tally,
    outcome: ScanOutcome,
    progress: &'a Progress,
    /// The state as last written to (or read from) the store, JSON.
    saved: Vec<u8>,
    /// Bytes still to be read in this scan.
    budget: u64,
    /// The only group whose lines count in the source being read (`Config::only_group`).
    only: Option<ServiceGroup>,
    /// The scan's time: lines without one count as read then.
    now: i64,
}

impl Reading<'_> {
    /// The state to write with the next cursor, if it changed since it was last written.
    fn state_change(&mut self) -> Option<Cursor> {
        let state = SavedReading {
            parser: self.parser.saved_state(),
            attempts: self.tally.saved_attempts(),
        };
        let bytes = serde_json::to_vec(&state).ok()?;
        if bytes == self.saved {
            return None;
        }
        self.saved = bytes.clone();
        Some(Cursor {
            source: STATE_SOURCE.to_string(),
            fingerprint: bytes,
            ..Cursor::default()
        })
    }

    /// Goes back to the state last written: the lines read since were not recorded (their
    /// source failed), and will be read again. State that cannot be read (another
    /// version's) is dropped: at worst a join is missed, never a wrong address joined.
    fn rewind_state(&mut self) {
        let state = serde_json::from_slice::<SavedReading>(&self.saved).ok();
        let (parser, attempts) = match state {
            Some(s) => (Some(s.parser), s.attempts),
            None => (None, Vec::new()),
        };
        match parser {
            Some(parser) => self.parser.restore_state(parser),
            None => self.parser.forget_state(),
        }
        self.tally.attempts = AttemptLedger::restore(attempts);
    }

    /// The evidence counted since the last write, the cursor of the source read, and the
    /// state if it changed: one transaction.
    fn record(&mut self, store: &mut SqliteStore, cursor: Cursor, moved: bool) -> Result<()> {
        (self.tally).admit_refusals(|ip| Ok(store.record(ip)?.is_some_and(|r| r.block > 0)))?;
        let counts = self.tally.drain(&mut self.outcome.addresses);
        let accounts = self.tally.drain_accounts();
        let reports = self.tally.drain_reports();
        let mut cursors = vec![cursor];
        if moved || !counts.is_empty() || !accounts.is_empty() || !reports.is_empty() {
            cursors.extend(self.state_change());
            store.record_evidence_and_accounts(
                &counts,
                &accounts,
                &reports,
                i64::from(self.config.trusted_window),
                self.now,
                &cursors,
            )?;
        }
        Ok(())
    }

    fn count_line(&mut self, line: &str) {
        self.outcome.lines += 1;
        if let Some(event) = self.parser.parse_line(line) {
            self.count_event(&event);
        }
        // A line held before this one, confirmed by it (MySQL's, see `parse::Held`).
        if let Some(held) = self.parser.take_released() {
            self.count_event(&held.event());
        }
        self.progress.line(self.outcome.lines);
    }

    fn count_event(&mut self, event: &Event) {
        if self.only.is_none_or(|g| event.service.group() == g) && self.config.counts(event) {
            self.outcome.events += 1;
            self.tally.add(event);
        }
    }
}

/// One log file's new lines (with `from_start`, its rotated generations first). A file
/// that cannot be read is recorded in `outcome.errors` and skipped; a database error is
/// returned (it is not the log's fault, and the other sources would fail the same way).
fn scan_file(
    reading: &mut Reading,
    store: &mut SqliteStore,
    path: &std::path::Path,
    from_start: bool,
) -> Result<()> {
    let cursor = if from_start {
        None
    } else {
        store.cursor(&path.display().to_string())?
    };
    // Missing with a cursor: rotated away, and soon back. Missing without one: never seen.
    if cursor.is_none() && !path.exists() {
        if !reading.outcome.missing.iter().any(|m| m == path) {
            reading.outcome.missing.push(path.to_path_buf());
        }
        return Ok(());
    }
    let lines_before = reading.outcome.lines;
    reading.only = reading.config.only_group(path);
    reading.parser.begin_source(&path.display().to_string());
    let read = (|| {
        if from_start {
            for old in source::rotated_generations(path) {
                reading.progress.say(old.display().to_string());
                source::read_whole(&old, &mut |line| reading.count_line(line))?;
            }
        }
        reading.progress.say(path.display().to_string());
        let mut budget = reading.budget;
        let next = source::read_new_lines(
            path,
            cursor.as_ref(),
            &mut |line| reading.count_line(line),
            &mut budget,
        );
        reading.budget = budget;
        next
    })();
    let next = match read {
        Ok(next) => next,
        Err(e) => {
            reading.tally.drain(&mut std::collections::BTreeSet::new());
            reading.tally.drain_accounts();
            reading.rewind_state();
            reading.outcome.errors.push(e.to_string());
            return Ok(());
        }
    };
    let lines = reading.outcome.lines - lines_before;
    (reading.outcome).read_from(path.display().to_string(), lines);
    let moved = Some(&next) != cursor.as_ref();
    reading.record(store, next, moved)
}

/// The journal's new entries of the enabled services, with its cursor in the database.
fn scan_journal(reading: &mut Reading, store: &mut SqliteStore, from_start: bool) -> Result<()> {
    reading.only = None;
    let config = reading.config;
    let file = config.journal_file.as_deref();
    let name = journal::source_name(file);
    let previous = if from_start {
        None
    } else {
        store.cursor(&name)?
    };
    let after = previous
        .as_ref()
        .map(|c| String::from_utf8_lossy(&c.fingerprint).into_owned());
    let Reading {
        parser,
        tally,
        outcome,
        budget,
        ..
    } = reading;
    let (last, entries) = journal::read_new(
        file,
        after.as_deref(),
        &|group| config.services.enabled(group),
        &journal::Trust::load(&config.journal_trusted_exe),
        parser,
        journal::Bounds {
            timeout: JOURNAL_TIMEOUT,
            budget: *budget,
        },
        &mut |event| {
            if config.counts(&event) {
                outcome.events += 1;
                tally.add(&event);
            }
        },
    )?;
    outcome.lines += entries;
    outcome.sources += 1;
    outcome.read_from(name.clone(), entries);
    let moved = last != after;
    // The journal's cursor string stands where a file's first bytes would.
    let cursor = Cursor {
        source: name,
        fingerprint: last.unwrap_or_default().into_bytes(),
        ..Cursor::default()
    };
    reading.record(store, cursor, moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_608_000;

    /// `(kind, count)` per address after counting `lines` with one parser and tally.
    fn counted(lines: &[&str]) -> Vec<(String, String, i64)> {
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        let mut tally = Tally::default();
        for line in lines {
            if let Some(event) = parser.parse_line(line) {
                tally.add(&event);
            }
        }
        let mut rows: Vec<_> = (tally.drain(&mut BTreeSet::new()).into_iter())
            .filter(|r| r.count != 0)
            .map(|r| (r.ip, r.kind, r.count))
            .collect();
        rows.sort();
        rows
    }

    /// An attempt reported by PAM and by sshd counts once for its account too; a line
    /// naming no account, or an overlong one, counts under "".
    #[test]
    fn accounts_count_each_attempt_once_and_keep_long_names_together() {
        let long = "x".repeat(65);
        let lines = [
            PAM_BOB.to_string(),
            "Nov 24 10:00:01 web1 sshd[4001]: Failed password for bob from 198.51.100.7 port 5 ssh2".into(),
            format!("Nov 24 10:00:02 web1 sshd[4002]: Invalid user {long} from 198.51.100.7 port 6"),
            "Nov 24 10:00:03 web1 sshd[4003]: Accepted password for alice from 198.51.100.7 port 7 ssh2".into(),
        ];
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        let mut tally = Tally::default();
        for line in &lines {
            let event = parser.parse_line(line).expect("recognised");
            tally.add(&event);
        }
        let mut rows: Vec<(String, i64, i64)> = (tally.drain_accounts().into_iter())
            .map(|a| (a.account, a.successes, a.attempts))
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                (String::new(), 0, 1),
                ("alice".to_string(), 1, 0),
                ("bob".to_string(), 0, 1)
            ]
        );
    }

    fn row(ip: &str, kind: &str, count: i64) -> (String, String, i64) {
        (ip.to_string(), kind.to_string(), count)
    }

    /// A scan of no logs in a fresh root, with `lock_wait` for the scan lock.
    fn scan_root(root: &std::path::Path) -> Result<ScanOutcome> {
        let overrides = crate::config::Overrides {
            root: Some(root.to_path_buf()),
            config: None,
        };
        let mut config = Config::load(&overrides, &|_| None).expect("config");
        config.logs = Some(Vec::new());
        config.journal = Some(false);
        let mut store =
            crate::store::SqliteStore::open(&root.join("sentry.db"), Duration::from_secs(1))
                .expect("open");
        store.migrate().expect("migrate");
        let wait = Duration::from_millis(20);
        scan(
            &config,
            &mut store,
            NOW,
            wait,
            None,
            false,
            true,
            &Progress::none(),
        )
    }

    #[test]
    fn only_a_held_lock_means_another_scanner_is_at_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = FileLock::acquire(&dir.path().join(SCAN_LOCK), Duration::ZERO).expect("lock");
        let outcome = scan_root(dir.path()).expect("busy is no error");
        assert!(!outcome.scanned);
        drop(held);
        assert!(scan_root(dir.path()).expect("free").scanned);

        // A lock file that cannot be opened is reported, not taken for a busy scanner.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(SCAN_LOCK)).expect("mkdir");
        let err = scan_root(dir.path()).expect_err("an unopenable lock is an error");
        assert!(err.to_string().contains("lock file"), "{err}");
    }

    #[test]
    fn a_shared_syslog_file_counts_only_its_groups_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let overrides = crate::config::Overrides {
            root: Some(dir.path().to_path_buf()),
            config: None,
        };
        let config = Config::load(&overrides, &|_| None).expect("config");
        let progress = Progress::none();
        let mut reading = Reading {
            config: &config,
            parser: Parser::new(ParseOptions::default(), NOW),
            tally: Tally::default(),
            outcome: ScanOutcome::default(),
            progress: &progress,
            saved: Vec::new(),
            budget: u64::MAX,
            only: config.only_group(std::path::Path::new("/var/log/syslog")),
            now: NOW,
        };
        for line in [
            "Nov 24 10:00:00 web1 pure-ftpd[5]: (?@203.0.113.5) [WARNING] Authentication failed for user [bob]",
            // mail.log has these too, and auth lines do not belong here.
            "Nov 24 10:00:01 web1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<a>, method=PLAIN, rip=203.0.113.6, lip=192.0.2.1, session=<s>",
            "Nov 24 10:00:02 web1 sshd[7]: Invalid user admin from 203.0.113.7 port 22",
        ] {
            reading.count_line(line);
        }
        assert_eq!((reading.outcome.lines, reading.outcome.events), (3, 1));
        let rows = reading.tally.drain(&mut BTreeSet::new());
        let addresses: Vec<&str> = rows.iter().map(|r| r.ip.as_str()).collect();
        assert_eq!(addresses, ["203.0.113.5"]);
    }

    const PAM_BOB: &str = "Nov 24 10:00:00 web1 sshd[4001]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=bob";
    const FAILED_BOB: &str =
        "Nov 24 10:00:01 web1 sshd[4001]: Failed password for bob from 198.51.100.7 port 5 ssh2";
    const MORE_BOB: &str = "Nov 24 10:00:09 web1 sshd[4001]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=bob";

    #[test]
    fn one_wrong_password_is_one_failure() {
        // pam_unix's first failure, sshd's three results, pam_unix's "2 more": 3 attempts.
        let lines = [PAM_BOB, FAILED_BOB, FAILED_BOB, FAILED_BOB, MORE_BOB];
        assert_eq!(counted(&lines), [row("198.51.100.7", "failed", 3)]);
        // Whatever the order the relay delivered them in.
        let lines = [FAILED_BOB, MORE_BOB, FAILED_BOB, PAM_BOB, FAILED_BOB];
        assert_eq!(counted(&lines), [row("198.51.100.7", "failed", 3)]);
        // PAM's lines alone (keyboard-interactive failures below LogLevel VERBOSE) count.
        assert_eq!(
            counted(&[PAM_BOB, MORE_BOB]),
            [row("198.51.100.7", "failed", 3)]
        );
    }

    #[test]
    fn another_process_is_another_attempt() {
        let other = FAILED_BOB.replace("sshd[4001]", "sshd[4002]");
        assert_eq!(
            counted(&[PAM_BOB, FAILED_BOB, &other]),
            [row("198.51.100.7", "failed", 2)]
        );
        // No pid (sshd -E, a bare message): nothing to join on, each line counts.
        let bare =
            "Nov 24 10:00:01 web1 sshd: Failed password for bob from 198.51.100.7 port 5 ssh2";
        assert_eq!(counted(&[bare, bare]), [row("198.51.100.7", "failed", 2)]);
    }

    #[test]
    fn an_invalid_user_makes_pams_failure_naughty() {
        let pam = "Nov 24 10:00:00 web1 sshd[4003]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.8 ";
        let failed = "Nov 24 10:00:01 web1 sshd[4003]: Failed password for invalid user admin from 198.51.100.8 port 5 ssh2";
        assert_eq!(counted(&[pam, failed]), [row("198.51.100.8", "naughty", 1)]);
        let root_pam = PAM_BOB.replace("user=bob", "user=root");
        let root = FAILED_BOB.replace("for bob", "for root");
        assert_eq!(
            counted(&[&root_pam, &root, &root]),
            [row("198.51.100.7", "naughty", 2)]
        );
    }

    #[test]
    fn dovecots_two_reports_count_once() {
        let auth = "Nov 24 10:00:00 mail dovecot: auth: passwd-file(bob,198.51.100.9,<Zq1>): Password mismatch";
        let login = "Nov 24 10:00:05 mail dovecot: imap-login: Disconnected (auth failed, 3 attempts in 5 secs): user=<bob>, method=PLAIN, rip=198.51.100.9, lip=192.0.2.1, TLS, session=<k1>";
        assert_eq!(
            counted(&[auth, auth, auth, login]),
            [row("198.51.100.9", "failed", 3)]
        );
        // Without auth_verbose only the login process speaks.
        assert_eq!(counted(&[login]), [row("198.51.100.9", "failed", 3)]);
        // With passdb pam, pam_unix reports each attempt too: a third report, still 3.
        let pam = "Nov 24 10:00:01 mail dovecot: auth-worker(7): pam(bob,198.51.100.9): pam_authenticate() failed: Authentication failure (password mismatch?)";
        let pam_unix = "Nov 24 10:00:01 mail dovecot: auth-worker(7): pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=bob rhost=198.51.100.9  user=bob";
        assert_eq!(
            counted(&[pam, pam_unix, pam, pam_unix, pam, pam_unix, login]),
            [row("198.51.100.9", "failed", 3)]
        );
    }

    #[test]
    fn pure_ftpds_own_line_and_pams_count_once() {
        let own = "Nov 24 11:02:00 web1 pure-ftpd: (?@203.0.113.141) [WARNING] Authentication failed for user [bob]";
        let pam = "Nov 24 11:02:00 web1 pure-ftpd: pam_unix(pure-ftpd:auth): authentication failure; logname= uid=0 euid=0 tty=pure-ftpd ruser=bob rhost=203.0.113.141  user=bob";
        assert_eq!(
            counted(&[pam, own, pam, own]),
            [row("203.0.113.141", "failed", 2)]
        );
        // Either alone counts each attempt.
        assert_eq!(counted(&[own, own]), [row("203.0.113.141", "failed", 2)]);
        assert_eq!(counted(&[pam, pam]), [row("203.0.113.141", "failed", 2)]);
    }

    #[test]
    fn opensmtpds_two_reports_count_once() {
        let connected = "Nov 24 12:00:00 mx smtpd[2001]: 8f2a3b4c5d6e7f80 smtp connected address=203.0.113.180 host=<unknown>";
        let result = "Nov 24 12:00:01 mx smtpd[2001]: 8f2a3b4c5d6e7f80 smtp authentication user=bob result=permfail";
        let reply = "Nov 24 12:00:01 mx smtpd[2001]: 8f2a3b4c5d6e7f80 smtp failed-command command=\"AUTH PLAIN (...)\" result=\"535 Authentication failed\"";
        assert_eq!(
            counted(&[connected, result, reply, result, reply]),
            [row("203.0.113.180", "failed", 2)]
        );
        assert_eq!(
            counted(&[connected, reply, reply, reply]),
            [row("203.0.113.180", "failed", 3)]
        );
    }

    #[test]
    fn repeats_count_as_the_lines_they_stand_for() {
        let repeated = "Nov 24 10:00:02 web1 sshd[4001]: message repeated 4 times: [ Failed password for bob from 198.51.100.7 port 5 ssh2]";
        assert_eq!(
            counted(&[PAM_BOB, FAILED_BOB, repeated]),
            [row("198.51.100.7", "failed", 5)]
        );
    }

    #[test]
    fn a_reused_pid_an_hour_later_is_a_new_connection() {
        let later = FAILED_BOB.replace("10:00:01", "11:30:00");
        assert_eq!(
            counted(&[PAM_BOB, FAILED_BOB, &later]),
            [row("198.51.100.7", "failed", 2)]
        );
    }

    #[test]
    fn a_summary_adds_only_what_no_other_line_counted() {
        // dropbear: three `Bad password` lines, then the exit line's `3 fails`: 3.
        let bad =
            "Nov 24 10:00:01 gw dropbear[501]: Bad password attempt for 'bob' from 198.51.100.7:5";
        let exit = "Nov 24 10:00:09 gw dropbear[501]: Exit before auth from <198.51.100.7:5>: (user 'bob', 3 fails): Exited normally";
        assert_eq!(
            counted(&[bad, bad, bad, exit]),
            [row("198.51.100.7", "failed", 3)]
        );
        // The summary first, the lines after it: still 3.
        assert_eq!(
            counted(&[exit, bad, bad, bad]),
            [row("198.51.100.7", "failed", 3)]
        );
        // A summary alone counts its N; one above the lines adds the difference.
        assert_eq!(counted(&[exit]), [row("198.51.100.7", "failed", 3)]);
        assert_eq!(counted(&[bad, exit]), [row("198.51.100.7", "failed", 3)]);
        // Another process is another connection.
        let other = exit.replace("[501]", "[502]");
        assert_eq!(
            counted(&[bad, bad, bad, exit, &other]),
            [row("198.51.100.7", "failed", 6)]
        );
    }

    #[test]
    fn sendmails_attack_counter_is_a_floor() {
        // LogLevel 9: each AUTH failure, then checksmtpattack()'s count of AUTH commands.
        let bad = "Nov 24 16:00:00 mail sm-mta[27429]: 5AOG00hX027429: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=bob, relay=[198.51.100.7]";
        let attack = "Nov 24 16:00:09 mail sm-mta[27429]: 5AOG00hX027429: [198.51.100.7]: possible SMTP attack: command=AUTH, count=5";
        assert_eq!(
            counted(&[bad, bad, bad, bad, attack]),
            [row("198.51.100.7", "failed", 5)]
        );
        assert_eq!(
            counted(&[bad, bad, bad, bad, bad, bad, attack]),
            [row("198.51.100.7", "failed", 6)]
        );
        // Below LogLevel 9 the counter is the only line.
        assert_eq!(counted(&[attack]), [row("198.51.100.7", "failed", 5)]);
    }

    #[test]
    fn sshds_summaries_are_floors() {
        let max = "Nov 24 10:00:05 web1 sshd[4001]: error: maximum authentication attempts exceeded for bob from 198.51.100.7 port 5 ssh2 [preauth]";
        let disconnecting = "Nov 24 10:00:05 web1 sshd[4001]: Disconnecting authenticating user bob 198.51.100.7 port 5: Too many authentication failures [preauth]";
        // Three failures and both summaries of MaxAuthTries: three attempts, one of them
        // naughty (the account was guessed at until sshd cut the connection).
        assert_eq!(
            counted(&[FAILED_BOB, FAILED_BOB, FAILED_BOB, max, disconnecting]),
            [
                row("198.51.100.7", "failed", 2),
                row("198.51.100.7", "naughty", 1)
            ]
        );
        // A client's own `Auth fail` disconnect adds nothing to counted failures...
        let gave_up = "Nov 24 10:00:06 web1 sshd[4001]: error: Received disconnect from 198.51.100.7 port 5:3: com.jcraft.jsch.JSchException: Auth fail [preauth]";
        assert_eq!(
            counted(&[PAM_BOB, FAILED_BOB, gave_up]),
            [row("198.51.100.7", "failed", 1)]
        );
        // ...and is one failure where nothing else was logged (keyboard-interactive
        // below LogLevel VERBOSE without PAM's line).
        assert_eq!(counted(&[gave_up]), [row("198.51.100.7", "failed", 1)]);
    }

    #[test]
    fn a_line_without_an_address_joins_its_process() {
        let from = "Nov 24 10:00:00 web1 sshd[4005]: Connection from 198.51.100.9 port 5 on 192.0.2.1 port 22 rdomain \"\"";
        let too_many = "Nov 24 10:00:09 web1 sshd[4005]: Disconnecting: Too many authentication failures [preauth]";
        assert_eq!(
            counted(&[from, too_many]),
            [row("198.51.100.9", "naughty", 1)]
        );
        // Another process's line blames nobody.
        let other = too_many.replace("[4005]", "[4006]");
        assert_eq!(counted(&[from, &other]), []);
        // After the failures of its connection it adds no attempt, it marks one naughty.
        let failed = "Nov 24 10:00:01 web1 sshd[4005]: Failed password for bob from 198.51.100.9 port 5 ssh2";
        assert_eq!(
            counted(&[failed, failed, too_many]),
            [
                row("198.51.100.9", "failed", 1),
                row("198.51.100.9", "naughty", 1)
            ]
        );
        // The join survives from one scan to the next.
        let mut first = Parser::new(ParseOptions::default(), NOW);
        assert!(first.parse_line(from).is_none());
        let saved = serde_json::to_vec(&first.saved_state()).expect("save");
        let mut next = Parser::new(ParseOptions::default(), NOW);
        next.restore_state(serde_json::from_slice(&saved).expect("restore"));
        let joined = next
            .parse_line(too_many)
            .map(|e| (e.kind, e.ip.to_string()));
        assert_eq!(joined, Some((Kind::Naughty, "198.51.100.9".to_string())));
    }

    #[test]
    fn tcpd_refusing_what_sentry_blocks_is_no_evidence() {
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        let refused =
            |ip: &str| format!("Nov 24 10:00:00 web1 sshd[4010]: refused connect from {ip} ({ip})");
        let mut tally = Tally::default();
        for line in [refused("198.51.100.5"), refused("198.51.100.6")] {
            let event = parser.parse_line(&line).expect("a refusal");
            assert_eq!((event.kind, event.report), (Kind::Probe, Report::Refusal));
            tally.add(&event);
        }
        // Any other line about a blocked address still counts.
        let failed = "Nov 24 10:00:01 web1 sshd[4011]: Failed password for bob from 198.51.100.5 port 5 ssh2";
        tally.add(&parser.parse_line(failed).expect("a failure"));
        let blocked = ClientIp::parse("198.51.100.5").expect("ip");
        let mut asked = Vec::new();
        (tally.admit_refusals(|ip| {
            asked.push(ip.to_string());
            Ok(ip == blocked)
        }))
        .expect("admit");
        asked.sort();
        assert_eq!(asked, ["198.51.100.5", "198.51.100.6"]);
        let mut rows: Vec<_> = (tally.drain(&mut BTreeSet::new()).into_iter())
            .map(|r| (r.ip, r.kind, r.count))
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                ("198.51.100.5".to_string(), "failed".to_string(), 1),
                ("198.51.100.6".to_string(), "probe".to_string(), 1),
            ]
        );
        // Refusals never admitted are not written.
        tally.add(
            &parser
                .parse_line(&refused("198.51.100.7"))
                .expect("refusal"),
        );
        assert!(!tally.is_empty());
        assert!(tally.drain(&mut BTreeSet::new()).is_empty());
    }

    #[test]
    fn the_ledger_stays_bounded() {
        let mut ledger = AttemptLedger::default();
        let ip = ClientIp::parse("198.51.100.9").expect("ip");
        for pid in 0..(3 * LEDGER_ENTRIES as u32) {
            ledger.record(
                (Service::Sshd, pid, ip),
                Report::Backend,
                Kind::Failed,
                1,
                i64::from(pid),
            );
        }
        assert!(ledger.by_process.len() <= LEDGER_ENTRIES);
        assert!(ledger.recent(SAVED_ENTRIES).len() <= SAVED_ENTRIES);
    }

    /// The follower forgets processes not heard of for LEDGER_SECONDS, and the room they
    /// took; what is still joinable stays joined.
    #[test]
    fn the_follower_forgets_stale_attempts() {
        let mut ledger = AttemptLedger::default();
        let ip = ClientIp::parse("198.51.100.9").expect("ip");
        let record = |ledger: &mut AttemptLedger, pid: u32, report: Report, time: i64| {
            ledger.record((Service::Sshd, pid, ip), report, Kind::Failed, 1, time)
        };
        for pid in 1..3000 {
            record(&mut ledger, pid, Report::Pam, i64::from(pid));
        }
        // A line without a time: bounded by LEDGER_ENTRIES alone.
        record(&mut ledger, 9999, Report::Pam, 0);
        record(&mut ledger, 1, Report::Pam, 0);
        let newest = 2999 + LEDGER_SECONDS - 100;
        record(&mut ledger, 5000, Report::Pam, newest);
        let room = ledger.by_process.capacity();
        ledger.forget_stale();
        // pids 2899 to 2999 were heard of within the hour before the newest line (5000),
        // 9999 at no known time.
        assert_eq!(ledger.by_process.len(), 101 + 1 + 1);
        assert!(
            ledger.by_process.capacity() < room,
            "the room is given back"
        );
        // The other report of a recent attempt still joins it; a forgotten pid's counts anew.
        assert_eq!(
            record(&mut ledger, 2990, Report::AuthResult, newest),
            (0, 0)
        );
        assert_eq!(record(&mut ledger, 10, Report::AuthResult, newest), (1, 0));
    }

    /// sentry pam and the log report the same attempts: each counts once, whoever comes
    /// first, and a login once too (and for the account that logged in).
    #[test]
    fn the_hooks_and_the_logs_report_of_one_attempt_count_once() {
        use crate::store::attempts::Reporter;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store =
            SqliteStore::open(&dir.path().join("sentry.db"), Duration::from_secs(1)).expect("open");
        store.migrate().expect("migrate");
        let ip = ClientIp::parse("198.51.100.7").expect("ip");
        let at = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .expect("time")
                .with_timezone(&chrono::Local)
                .format("%b %e %H:%M:%S")
                .to_string()
        };
        let hook = |store: &mut SqliteStore, kind: Kind, user: &str, t: i64| {
            let mut tally = Tally::of_hook();
            tally.add(&Event {
                service: Service::Sshd,
                kind,
                ip,
                user: Some(user),
                time: Some(t),
                score: None,
                count: 1,
                report: Report::Sole,
                pid: None,
            });
            write(store, &mut tally, t);
        };
        let log = |store: &mut SqliteStore, lines: &[String], now: i64| {
            let mut parser = Parser::new(ParseOptions::default(), now);
            let mut tally = Tally {
                reporter: Some(Reporter::Log),
                ..Tally::default()
            };
            for line in lines {
                tally.add(&parser.parse_line(line).expect(line));
            }
            write(store, &mut tally, now);
        };
        fn write(store: &mut SqliteStore, tally: &mut Tally, now: i64) {
            let counts = tally.drain(&mut BTreeSet::new());
            let accounts = tally.drain_accounts();
            let reports = tally.drain_reports();
            store
                .record_evidence_and_accounts(&counts, &accounts, &reports, 86_400, now, &[])
                .expect("record");
        }
        let counts = |store: &mut SqliteStore| -> Vec<(String, i64)> {
            (store.evidence(ip).expect("evidence").into_iter())
                .filter(|r| r.count > 0)
                .map(|r| (r.kind, r.count))
                .collect()
        };
        let now = 1_790_000_000;
        let failed = |pid: u32, t: i64| {
            vec![
                format!(
                    "{} web1 sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=alice",
                    at(t)
                ),
                format!(
                    "{} web1 sshd[{pid}]: Failed password for alice from 198.51.100.7 port 5 ssh2",
                    at(t + 2)
                ),
            ]
        };
        // The hook first, then a scan minutes later.
        hook(&mut store, Kind::Failed, "alice", now);
        hook(&mut store, Kind::Failed, "alice", now + 3);
        assert_eq!(counts(&mut store), [("failed".to_string(), 2)]);
        let mut lines = failed(100, now);
        lines.extend(failed(100, now + 3));
        log(&mut store, &lines, now + 600);
        assert_eq!(counts(&mut store), [("failed".to_string(), 2)]);
        // The log first (read as it is written), then the hook: still one each.
        log(&mut store, &failed(101, now + 20), now + 22);
        hook(&mut store, Kind::Failed, "alice", now + 21);
        assert_eq!(counts(&mut store), [("failed".to_string(), 3)]);
        // A login: the log's line, then the session's hook.
        let accepted = format!(
            "{} web1 sshd[102]: Accepted password for alice from 198.51.100.7 port 6 ssh2",
            at(now + 30)
        );
        log(&mut store, &[accepted], now + 30);
        hook(&mut store, Kind::Success, "alice", now + 31);
        assert_eq!(
            counts(&mut store),
            [("failed".to_string(), 3), ("success".to_string(), 1)]
        );
        let accounts = store.account_evidence(ip).expect("accounts");
        assert_eq!(
            (accounts.iter())
                .map(|a| (a.account.as_str(), a.successes))
                .collect::<Vec<_>>(),
            [("alice", 1)]
        );
        // A day later, more attempts the hook alone saw (no log line): they count.
        hook(&mut store, Kind::Failed, "alice", now + 86_400);
        assert_eq!(
            counts(&mut store),
            [("failed".to_string(), 4), ("success".to_string(), 1)]
        );
    }
}
