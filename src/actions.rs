/*!
The actions an administrator or tcpd asks for: connect, allow, block, delist, import.

This is where the store, the deny lists and the policy meet. A list change is
serialised by a lock file, committed to the database in one short transaction, then
applied to every enabled deny list. If a deny list cannot be updated the decision stays
in the database, the command fails (exit 2), and the change is noted as pending: the next
`--connect`, `scan`, `ingest` or `sync` that can take the lock brings every deny list in
line, and `check` warns until one has.
*/

mod prefixes;

use std::collections::HashMap;
use std::time::Duration;

use crate::atomic_file::FileLock;
use crate::block::{self, DenyList, Entry, NetEntry};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::{ClientIp, Network};
use crate::logs::{Kind, Service};
use crate::policy::{self, Evidence, Verdict};
use crate::progress::Progress;
use crate::scan;
use crate::store::{
    AccountEvidence, EvidenceCount, IpRecord, Listing, ListingChange, Opened, SqliteStore,
    TrustedAccount, legacy_files,
};

pub use prefixes::PrefixDecision;

/// Key in `sentry_meta` marking that the one-file-per-address tree was imported.
const LEGACY_IMPORT_KEY: &str = "legacy_files_imported_at";
/// Lock file in the root that serialises list changes (database row + deny lists).
const LISTS_LOCK: &str = ".lists.lock";
/// A batch of listing changes this big shows progress (an `import`), when on a terminal.
const BIG_BATCH: usize = 1000;
/// Decisions of one batch sent to syslog one line each; the rest are counted in one line
/// (a fleet's first exchange or an import brings thousands, and syslog daemons drop bursts
/// beyond a few hundred lines anyway).
const NOTICES_PER_BATCH: usize = 100;
/// After an automatic retry of a failed deny-list update fails too, the next one waits this
/// long (seconds), so a backend that stays broken does not cost every connect a full sync.
const LISTS_RETRY_PAUSE: i64 = 60;

/// How long a command waits on a lock held by another sentry process.
#[derive(Debug, Clone, Copy)]
pub enum Patience {
    /// `--connect` runs while a user waits for the login prompt: give up after 3 s. Only
    /// an address being judged waits at all (known ones return before any lock); the bound
    /// is generous because on a busy 2-core host, with 60 connects queued, the holder of a
    /// sub-millisecond lock can wait that long for a CPU.
    Login,
    /// Interactive and scheduled commands can wait longer.
    Admin,
}

impl Patience {
    fn wait(self) -> Duration {
        match self {
            Patience::Login => Duration::from_millis(3000),
            Patience::Admin => Duration::from_secs(10),
        }
    }

    /// How long to wait for another scanner: a login does not wait for someone else's scan
    /// (it decides on the evidence already stored); an admin command waits a while.
    /// What a scan may read: a login waits for a bounded read only.
    fn read_budget(self) -> Option<u64> {
        match self {
            Patience::Login => Some(scan::CONNECT_READ_BUDGET),
            Patience::Admin => None,
        }
    }

    /// Whether to run journalctl: never while a user waits for a login (the scan timer or
    /// `ingest` reads the journal; `setup` enables the timer where the journal is the log).
    fn reads_journal(self) -> bool {
        matches!(self, Patience::Admin)
    }

    fn scan_wait(self) -> Duration {
        match self {
            Patience::Login => Duration::from_millis(200),
            Patience::Admin => Duration::from_secs(10),
        }
    }
}

/// An opened sentry: configuration, database and deny lists, at one moment in time.
pub struct Sentry {
    pub config: Config,
    pub store: SqliteStore,
    lists: Vec<Box<dyn DenyList>>,
    patience: Patience,
    now: i64,
    verbose: bool,
    /// Draw progress on long work: an admin command with stderr on a terminal.
    show_progress: bool,
    /// The accounts each automatic allow decided but not yet applied trusts its address for.
    grants: HashMap<ClientIp, Vec<TrustedAccount>>,
}

impl Sentry {
    /// Opens the root (created if needed, its modes narrowed), the database and the deny
    /// lists. Nothing in the database is read or changed: the caller migrates the schema
    /// (`store.migrate()`) and then [`Sentry::catch_up`]s, before anything else.
    pub fn open(config: Config, patience: Patience, now: i64, verbose: bool) -> Result<Sentry> {
        crate::root::ensure(&config, matches!(patience, Patience::Admin))?;
        let store = SqliteStore::open(&config.database_path(), patience.wait())?;
        let lists = block::enabled(&config, patience.wait())?;
        Ok(Sentry {
            config,
            store,
            lists,
            patience,
            now,
            verbose,
            show_progress: matches!(patience, Patience::Admin) && Progress::wanted(),
            grants: HashMap::new(),
        })
    }

    /// What the first command after an upgrade or a migration from an older sentry owes:
    /// after a schema migration (`migrated`), the deny lists made to carry every block (a
    /// database from an older sentry may hold blocks its deny file lost, or the file is
    /// new); the one-file-per-address tree imported the first time one is found.
    pub fn catch_up(&mut self, migrated: Opened) -> Result<()> {
        if migrated.migrated_from.is_some() && !self.store.blocked()?.is_empty() {
            // A backend failure here is already reported (stderr, syslog) and must not
            // stop the command at hand.
            if let Err(e) = self.sync(false) {
                eprintln!("sentry: {e}");
            }
        }
        if legacy_files::present(&self.config.root) {
            self.import_legacy_files(true)?;
        }
        Ok(())
    }

    fn say(&self, message: impl FnOnce() -> String) {
        if self.verbose {
            eprintln!("{}", message());
        }
    }

    /// Counts a connection and decides what it means. Blocked addresses and those allowed by
    /// hand stop at the counter (the cheap path); an expired block or trust is lifted on the
    /// way; an address trusted after a login is judged like an undecided one, by the trust
    /// rule (`decide_trusted`).
    pub fn connect(&mut self, ip: ClientIp) -> Result<IpRecord> {
        let (mut record, pending, times_blocked, last_login) = self.store.count_connection(ip)?;
        if pending.due(self.now) {
            self.retry_pending_lists();
        }
        self.say(|| format!("{:4} connections from {ip}", record.seen));
        let mut trusted = false;
        if record.allow > 0 {
            // Allowed by hand (or imported): no trust to expire or to judge, the cheap path.
            let Some(last_login) = last_login else {
                self.say(|| format!("{ip} is allowed"));
                return Ok(record);
            };
            if policy::trust_expired(last_login, self.now, self.config.trust_days) {
                record = self.expire_trust(ip, last_login)?;
            } else {
                // Trusted after a login: its attempts for other accounts are still judged.
                self.say(|| format!("{ip} is trusted after a login"));
                trusted = true;
            }
        }
        if record.block > 0 {
            let days = policy::block_days(self.config.expire_block_days, times_blocked);
            if !policy::block_expired(record.block, self.now, days) {
                self.say(|| format!("{ip} is blocked"));
                return Ok(record);
            }
            self.say(|| format!("{ip}: block is older than {days} days, lifting it"));
            record = self.apply(&[expired(ip, days)])?.remove(0);
        }
        let Some(prefix_seen) = self.connect_prefix(ip)? else {
            return Ok(record);
        };
        if !policy::inspect(record.seen, prefix_seen, self.config.inspect_after) && !trusted {
            return Ok(record);
        }
        // Read what the logs added since the last look (unless another scanner is at it),
        // then judge this address on everything stored about it.
        let outcome = scan::scan(
            &self.config,
            &mut self.store,
            self.now,
            self.patience.scan_wait(),
            self.patience.read_budget(),
            false,
            self.patience.reads_journal(),
            &Progress::none(),
        )?;
        self.say(|| describe_scan(&outcome));
        self.report_source_errors(&outcome);
        // The scanner that held the lock meanwhile may have decided for this address. The
        // others this scan found evidence for are decided either way: their connects may
        // have given up waiting for this scan, and nobody else reads those lines again.
        let mine = if self.open_to_decision(ip)? {
            self.decide(ip)?
        } else {
            None
        };
        self.decide_for_waiting(&outcome, ip, mine.into_iter().collect())?;
        let mut judged: Vec<ClientIp> = outcome.addresses.iter().copied().collect();
        judged.push(ip);
        self.decide_prefixes(&judged, false)?;
        Ok(self.store.record(ip)?.unwrap_or(record))
    }

    /// Adds to `decisions` those for the other addresses this scan found new evidence for
    /// and that have connected `inspect_after` times — the connects that gave up waiting
    /// for this scanner's lock would have decided on exactly this evidence — and applies
    /// them all in one batch.
    fn decide_for_waiting(
        &mut self,
        outcome: &scan::ScanOutcome,
        ip: ClientIp,
        mut decisions: Vec<Decision>,
    ) -> Result<()> {
        for &other in outcome.addresses.iter().filter(|&&a| a != ip) {
            let waiting = match self.store.record(other)? {
                Some(r) if r.allow == 0 && r.block == 0 => {
                    r.seen >= i64::from(self.config.inspect_after)
                }
                Some(_) => self.open_to_decision(other)?,
                None => false,
            };
            if waiting && let Some(decision) = self.decide(other)? {
                decisions.push(decision);
            }
        }
        self.apply_automatic(decisions)
    }

    /// Brings every deny list in line with the database after an update of one failed
    /// (`ListsPending`). A failure is reported by `sync` (syslog) and waits
    /// `LISTS_RETRY_PAUSE` before the next automatic try; it does not stop the command.
    fn retry_pending_lists(&mut self) {
        self.say(|| "retrying deny-list updates that failed earlier".into());
        if let Err(e) = self.sync(false)
            && (matches!(self.patience, Patience::Admin) || self.verbose)
        {
            eprintln!("sentry: {e}");
        }
    }

    /// Log sources that could not be read: syslog always, stderr unless during a login.
    /// Configured logs that do not exist: stderr, unless during a login.
    fn report_source_errors(&self, outcome: &scan::ScanOutcome) {
        self.say(|| {
            (outcome.read.iter())
                .map(|(source, lines)| {
                    format!(
                        "read {lines} {} from {}",
                        if *lines == 1 { "line" } else { "lines" },
                        crate::printable::printable(source)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        });
        if matches!(self.patience, Patience::Admin) || self.verbose {
            for path in &outcome.missing {
                eprintln!(
                    "sentry: warning: log file {} does not exist; nothing read from it \
                     (check `logs` in the configuration, or SENTRY_LOGS)",
                    path.display()
                );
            }
        }
        for error in &outcome.errors {
            let message = format!("log source skipped: {error}");
            crate::syslog::warn(&message);
            if matches!(self.patience, Patience::Admin) || self.verbose {
                eprintln!("sentry: {message}");
            }
        }
    }

    /// Whether automatic decisions may still change the address's listing: unlisted, or
    /// trusted after a login (its trust can be renewed, expire, or end in a block).
    fn open_to_decision(&mut self, ip: ClientIp) -> Result<bool> {
        Ok(match self.store.record(ip)? {
            None => true,
            Some(r) if r.block > 0 => false,
            Some(r) if r.allow > 0 => !self.store.trust(ip)?.is_empty(),
            Some(_) => true,
        })
    }

    /// The logins stored for `ip` that confer trust now: accounts that are not shared,
    /// whose last login is recent enough (a line's time ahead of ours counts as now).
    fn logins(&self, accounts: &[AccountEvidence]) -> Vec<TrustedAccount> {
        let limits = self.config.trust_limits();
        accounts
            .iter()
            .filter(|a| a.successes > 0 && policy::confers_trust(&a.account, &limits))
            .map(|a| {
                let last = a.last_success.unwrap_or(self.now).min(self.now);
                TrustedAccount {
                    account: a.account.clone(),
                    since: last,
                    last_success: last,
                }
            })
            .filter(|t| !policy::trust_expired(t.last_success, self.now, limits.trust_days))
            .collect()
    }

    /// What the stored evidence means for an address open to decision (see
    /// `open_to_decision`): a listing with its reason, or None (not enough evidence, or
    /// protected by `never_block`). A trusted address is judged by `decide_trusted`.
    fn decide(&mut self, ip: ClientIp) -> Result<Option<Decision>> {
        let accounts = self.store.account_evidence(ip)?;
        let logins = self.logins(&accounts);
        let trust = self.store.trust(ip)?;
        if !trust.is_empty() && (self.store.record(ip)?).is_some_and(|r| r.allow > 0) {
            return self.decide_trusted(ip, trust, logins, &accounts);
        }
        let rows = self.store.evidence(ip)?;
        let mut evidence = Evidence::default();
        for row in &rows {
            add_stored(
                &self.config,
                &mut evidence,
                &row.service,
                &row.kind,
                row.count,
            );
        }
        // A login allows only through an account that confers trust (not `git@`).
        let shared_logins = evidence.success > 0 && logins.is_empty();
        evidence.success = u32::try_from(logins.len()).unwrap_or(u32::MAX);
        let why = || {
            let mut why = reason(&rows);
            if shared_logins {
                why.push_str("; its logins confer no trust (shared accounts, or none named)");
            }
            why
        };
        let listing = match policy::decide(&evidence, self.config.limits()) {
            Verdict::Allow => {
                let names: Vec<&str> = logins.iter().map(|l| l.account.as_str()).collect();
                let until = logins
                    .iter()
                    .map(|l| l.last_success)
                    .max()
                    .unwrap_or(self.now);
                let reason = format!(
                    "{}; trusted for {} until {}",
                    reason(&rows),
                    names.join(", "),
                    crate::report::local_time(policy::trust_until(until, self.config.trust_days))
                );
                self.grants.insert(ip, logins);
                return Ok(Some(Decision {
                    ip,
                    listing: Listing::Allowed { since: self.now },
                    reason,
                    origin: String::new(),
                }));
            }
            Verdict::Block if self.config.is_never_blocked(ip) => {
                self.say(|| format!("{ip}: {}; on the never-block list, not blocking", why()));
                return Ok(None);
            }
            Verdict::Block => Listing::Blocked { since: self.now },
            Verdict::Undecided => {
                self.say(|| format!("{ip}: {}; no decision yet", why()));
                return Ok(None);
            }
        };
        Ok(Some(Decision {
            ip,
            listing,
            reason: why(),
            origin: String::new(),
        }))
    }

    /// An address trusted after a login: newer logins renew its trust (recorded in the
    /// history at once), trust that has run out ends, and attempts for accounts it is
    /// not trusted for block it past `trusted_max_attempts` within `trusted_window`.
    fn decide_trusted(
        &mut self,
        ip: ClientIp,
        mut trust: Vec<TrustedAccount>,
        logins: Vec<TrustedAccount>,
        accounts: &[AccountEvidence],
    ) -> Result<Option<Decision>> {
        let limits = self.config.trust_limits();
        let renewed: Vec<TrustedAccount> = logins
            .into_iter()
            .filter(|l| {
                !(trust.iter()).any(|t| t.account == l.account && t.last_success >= l.last_success)
            })
            .collect();
        if !renewed.is_empty() {
            let until = renewed
                .iter()
                .map(|l| l.last_success)
                .max()
                .unwrap_or(self.now);
            let names: Vec<&str> = renewed.iter().map(|l| l.account.as_str()).collect();
            let reason = format!(
                "login as {}: trusted until {}",
                names.join(", "),
                crate::report::local_time(policy::trust_until(until, limits.trust_days))
            );
            if self
                .store
                .renew_trust(ip, &renewed, self.now, &reason, "")?
            {
                self.say(|| format!("{ip}: {}", crate::printable::printable(&reason)));
                crate::syslog::notice(&format!(
                    "trust renewed for {ip}: {}",
                    crate::printable::printable(&reason)
                ));
            }
            trust = self.store.trust(ip)?;
        }
        let current: Vec<&str> = (trust.iter())
            .filter(|t| !policy::trust_expired(t.last_success, self.now, limits.trust_days))
            .map(|t| t.account.as_str())
            .collect();
        let Some(last) = trust.iter().map(|t| t.last_success).max() else {
            return Ok(None);
        };
        if current.is_empty() {
            return Ok(Some(self.trust_expiry(ip, last)));
        }
        let attempts: Vec<policy::AccountAttempts<'_>> = (accounts.iter())
            .filter_map(|a| {
                Some(policy::AccountAttempts {
                    account: &a.account,
                    attempts: u32::try_from(a.attempts.max(0)).unwrap_or(u32::MAX),
                    window_start: a.window_start?,
                })
            })
            .collect();
        let Some(counted) = policy::trusted_address_blocks(&current, &attempts, self.now, &limits)
        else {
            return Ok(None);
        };
        let reason = format!(
            "{counted} failed or invalid logins within {} s for accounts other than those it \
             is trusted for ({}), more than trusted_max_attempts ({})",
            limits.window_secs,
            current.join(", "),
            limits.max_attempts
        );
        if self.config.is_never_blocked(ip) {
            self.say(|| format!("{ip}: {reason}; on the never-block list, not blocking"));
            return Ok(None);
        }
        Ok(Some(Decision {
            ip,
            listing: Listing::Blocked { since: self.now },
            reason,
            origin: String::new(),
        }))
    }

    /// The delisting that ends trust whose last login was at `last_login`.
    fn trust_expiry(&self, ip: ClientIp, last_login: i64) -> Decision {
        Decision {
            ip,
            listing: Listing::Unlisted,
            reason: format!(
                "trust expired: no login since {} (trust_days = {})",
                crate::report::local_time(last_login),
                self.config.trust_days
            ),
            origin: String::new(),
        }
    }

    /// Ends an address's trust now (a connect found it expired) and returns its record.
    fn expire_trust(&mut self, ip: ClientIp, last_login: i64) -> Result<IpRecord> {
        let decision = self.trust_expiry(ip, last_login);
        self.say(|| decision.to_string());
        self.apply_automatic(vec![decision])?;
        Ok(self
            .store
            .record(ip)?
            .unwrap_or_else(|| IpRecord::unseen(ip)))
    }

    /// Reads every log source's new lines, then decides for every unlisted address that
    /// has new evidence. `dry_run` decides and reports only, and stores nothing: it reads
    /// into a private copy of the database, so the cursors, evidence and reading state stay
    /// where they were, and the next real scan reads the same lines and decides the same.
    pub fn scan(
        &mut self,
        dry_run: bool,
        from_start: bool,
    ) -> Result<(scan::ScanOutcome, Vec<Decision>)> {
        if dry_run {
            let copy = self.store.scratch_copy()?;
            let real = std::mem::replace(&mut self.store, copy);
            let result = self.read_logs_from(from_start).and_then(|outcome| {
                let decisions = self.decide_all(outcome.addresses.iter().copied(), true)?;
                Ok((outcome, decisions))
            });
            self.store = real;
            return result;
        }
        let outcome = self.read_logs_from(from_start)?;
        if self.store.lists_pending()?.due(self.now) {
            self.retry_pending_lists();
        }
        let decisions = self.decide_all(outcome.addresses.iter().copied(), false)?;
        Ok((outcome, decisions))
    }

    /// Reads every log source's new lines into the evidence, deciding nothing (`setup`: so
    /// that the first login after installation does not pay for reading the history).
    pub fn read_logs(&mut self) -> Result<scan::ScanOutcome> {
        self.read_logs_from(false)
    }

    fn read_logs_from(&mut self, from_start: bool) -> Result<scan::ScanOutcome> {
        let outcome = scan::scan(
            &self.config,
            &mut self.store,
            self.now,
            self.patience.scan_wait(),
            self.patience.read_budget(),
            from_start,
            self.patience.reads_journal(),
            &Progress::lines(self.show_progress),
        )?;
        self.say(|| describe_scan(&outcome));
        self.report_source_errors(&outcome);
        Ok(outcome)
    }

    /// Records evidence gathered outside a scan (`ingest`) and decides for every unlisted
    /// address it concerns.
    pub fn record_and_decide(&mut self, tally: &mut scan::Tally) -> Result<Vec<Decision>> {
        let mut addresses = std::collections::BTreeSet::new();
        let store = &mut self.store;
        tally.admit_refusals(|ip| Ok(store.record(ip)?.is_some_and(|r| r.block > 0)))?;
        let counts = tally.drain(&mut addresses);
        let accounts = tally.drain_accounts();
        let reports = tally.drain_reports();
        let window = i64::from(self.config.trusted_window);
        (self.store).record_evidence_and_accounts(
            &counts,
            &accounts,
            &reports,
            window,
            self.now,
            &[],
        )?;
        if self.store.lists_pending()?.due(self.now) {
            self.retry_pending_lists();
        }
        self.decide_all(addresses.iter().copied(), false)
    }

    /// Decides for each unlisted address; applies the decisions unless `dry_run`.
    fn decide_all(
        &mut self,
        addresses: impl Iterator<Item = ClientIp>,
        dry_run: bool,
    ) -> Result<Vec<Decision>> {
        let mut decisions = Vec::new();
        let mut judged = Vec::new();
        for ip in addresses {
            judged.push(ip);
            if self.open_to_decision(ip)?
                && let Some(decision) = self.decide(ip)?
            {
                decisions.push(decision);
            }
        }
        if !dry_run {
            self.apply_automatic(decisions.clone())?;
        }
        for prefix in self.decide_prefixes(&judged, dry_run)? {
            self.say(|| format!("{}{prefix}", if dry_run { "would have " } else { "" }));
        }
        Ok(decisions)
    }

    /// Moves the clock of a long-running command (`ingest`).
    pub fn set_now(&mut self, now: i64) {
        self.now = now;
    }

    /// Allows the address from now on and takes it off every deny list. The administrator
    /// vouches for it: a later block is a first one again.
    pub fn allow(&mut self, ip: ClientIp) -> Result<IpRecord> {
        let record = self.change(ip, Listing::Allowed { since: self.now })?;
        self.store.forget_times_blocked(ip)?;
        Ok(record)
    }

    /// Blocks the address and adds it to every enabled deny list. Addresses on the
    /// never-block list are refused unless `force` is set.
    pub fn block(&mut self, ip: ClientIp, force: bool) -> Result<IpRecord> {
        if self.config.is_never_blocked(ip) && !force {
            return Err(Error::Input(format!(
                "{ip} is on the never-block list (loopback, or `never_block` in the config); \
                 refusing to block it. Use --force if you really mean it."
            )));
        }
        let record = self.change(ip, Listing::Blocked { since: self.now })?;
        // A third blocked address of a prefix blocks the prefix, by hand as by the logs.
        self.decide_prefixes(&[ip], false)?;
        Ok(record)
    }

    /// Takes the address off both lists and every deny list, and forgets its evidence so
    /// that old log lines do not decide about it again, and how many times it was blocked
    /// (the administrator's delisting says the blocks were mistakes: a later block is a
    /// first one again; an expiry keeps the count). An address sentry has no record of is
    /// on no list of its own: None, and nothing is created.
    pub fn delist(&mut self, ip: ClientIp) -> Result<Option<IpRecord>> {
        if self.store.record(ip)?.is_none() {
            return Ok(None);
        }
        let record = self.change(ip, Listing::Unlisted)?;
        self.store.forget_times_blocked(ip)?;
        Ok(Some(record))
    }

    fn change(&mut self, ip: ClientIp, listing: Listing) -> Result<IpRecord> {
        let decision = Decision {
            ip,
            listing,
            reason: "by the administrator".into(),
            origin: String::new(),
        };
        Ok(self.apply(&[decision])?.remove(0))
    }

    /// Listing changes: the database rows first, then every deny list.
    ///
    /// The lists lock serialises list changes end to end, so the deny lists end up in the
    /// order the database saw. The database write is one short transaction (holding
    /// SQLite's write lock across firewall calls would make the `--connect`s queued behind
    /// it miss their budget). Each deny list is then updated in one batch. A
    /// backend that fails never loses the decision: the database keeps it, the failure is
    /// reported on stderr and in syslog, and `sentry sync` repairs the list later; the
    /// command still ends with an error.
    fn apply(&mut self, decisions: &[Decision]) -> Result<Vec<IpRecord>> {
        let _serialised =
            FileLock::acquire(&self.config.root.join(LISTS_LOCK), self.patience.wait())?;
        self.apply_locked(decisions)
    }

    /// Decisions that arrived from the fleet, applied as they are (`fleet::exchange`
    /// checked them against this host's listings); `grants`: the accounts an allow that
    /// named them trusts its address for.
    pub(crate) fn apply_from_fleet(
        &mut self,
        decisions: &[Decision],
        grants: HashMap<ClientIp, Vec<TrustedAccount>>,
    ) -> Result<()> {
        self.grants = grants;
        self.apply(decisions).map(|_| ())
    }

    /// The time this command runs at.
    pub(crate) fn now(&self) -> i64 {
        self.now
    }

    /// Automatic decisions, applied like `apply` except that, checked under the lists
    /// lock, those for addresses another sentry listed meanwhile are dropped: the five
    /// connects of one attacker that race to the same verdict write the deny lists once.
    pub(crate) fn apply_automatic(&mut self, decisions: Vec<Decision>) -> Result<()> {
        if decisions.is_empty() {
            return Ok(());
        }
        let _serialised =
            FileLock::acquire(&self.config.root.join(LISTS_LOCK), self.patience.wait())?;
        let mut still_unlisted = Vec::with_capacity(decisions.len());
        for decision in decisions {
            // A decision about a trusted address (a block, trust's end) still stands while
            // it is trusted; an allow only while the address is on no list.
            let stands = match self.store.record(decision.ip)? {
                Some(r) if r.block > 0 => false,
                Some(r) if r.allow > 0 => {
                    !matches!(decision.listing, Listing::Allowed { .. })
                        && !self.store.trust(decision.ip)?.is_empty()
                }
                _ => true,
            };
            if stands {
                still_unlisted.push(decision);
            }
        }
        if !still_unlisted.is_empty() {
            self.apply_locked(&still_unlisted)?;
        }
        Ok(())
    }

    /// `apply` once the lists lock is held.
    fn apply_locked(&mut self, decisions: &[Decision]) -> Result<Vec<IpRecord>> {
        let progress = Progress::steps(
            self.show_progress && decisions.len() >= BIG_BATCH,
            1 + self.lists.len() as u64,
        );
        progress.say(format!("database: {} addresses", decisions.len()));
        let wanted: Vec<ListingChange> = decisions
            .iter()
            .map(|d| ListingChange {
                ip: d.ip,
                listing: d.listing,
                at: self.now,
                reason: d.reason.clone(),
                origin: d.origin.clone(),
                trust: self.trust_of(d),
            })
            .collect();
        self.grants.clear();
        let records = self.store.set_listings(&wanted)?;
        let members: Vec<(ClientIp, crate::ip::Network)> = decisions
            .iter()
            .filter_map(|d| self.config.prefix_of(d.ip).map(|p| (d.ip, p)))
            .collect();
        self.store.note_prefix_members(&members)?;
        progress.step();
        let mut blocked: Vec<Entry> = Vec::new();
        for d in decisions {
            if let Listing::Blocked { since } = d.listing {
                let times = self.store.times_blocked(d.ip)?;
                blocked.push(self.entry(d.ip, since, times));
            }
        }
        let freed: Vec<ClientIp> = decisions
            .iter()
            .filter(|d| !matches!(d.listing, Listing::Blocked { .. }))
            .map(|d| d.ip)
            .collect();
        // Lists that hold networks already deny these through their prefix.
        let covered = self.covered_by_prefixes(&blocked)?;
        let outside: Vec<Entry> = (blocked.iter())
            .filter(|e| !covered.contains(&e.ip))
            .copied()
            .collect();
        let mut failures = Vec::new();
        for list in self.lists.iter_mut() {
            progress.say(list.name().to_string());
            let result = (|| {
                let covers = outside.len() < blocked.len()
                    && list.holds_networks()
                    && matches!(list.unused_networks(), Ok(None));
                let blocked = if covers { &outside } else { &blocked };
                if !blocked.is_empty() {
                    list.add(blocked)?;
                }
                if !freed.is_empty() {
                    list.remove(&freed)?;
                }
                Ok(())
            })();
            progress.step();
            if let Err(e) = result {
                failures.push(e);
            }
        }
        progress.finish();
        for d in decisions {
            if d.listing == Listing::Unlisted {
                self.store.forget_evidence(d.ip)?;
                self.store.forget_fleet_evidence(d.ip)?;
            }
            self.say(|| d.to_string());
        }
        for line in syslog_notices(decisions) {
            crate::syslog::notice(&line);
        }
        match self.lift_prefixes_of_allowed(decisions) {
            Ok(more) => failures.extend(more),
            Err(e) => failures.push(e),
        }
        if !failures.is_empty()
            && let Err(e) = self
                .store
                .add_lists_pending(i64::try_from(decisions.len()).unwrap_or(i64::MAX))
        {
            failures.push(e);
        }
        self.backend_failures(failures)?;
        Ok(records)
    }

    /// The accounts an allow trusts its address for: those of this host's automatic allow;
    /// for another fleet host's automatic allow (a login there; its reason is that host's,
    /// as the upgrade to scoped trust reads it too) the accounts it named, or any account
    /// from its time when it named none (an older host); none for a manual or imported
    /// allow (it lasts until delisted) or another listing.
    fn trust_of(&self, d: &Decision) -> Vec<TrustedAccount> {
        let by_hand =
            d.reason.ends_with(": by the administrator") || d.reason.contains("imported from ");
        match d.listing {
            Listing::Allowed { since } if !d.origin.is_empty() && !by_hand => {
                self.grants.get(&d.ip).cloned().unwrap_or_else(|| {
                    vec![TrustedAccount {
                        account: policy::ANY_ACCOUNT.to_string(),
                        since,
                        last_success: since,
                    }]
                })
            }
            Listing::Allowed { .. } => self.grants.get(&d.ip).cloned().unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Reports backend failures (stderr and syslog, with what to do) and turns them into
    /// one error; the decisions they concern are already in the database.
    fn backend_failures(&self, failures: Vec<Error>) -> Result<()> {
        if failures.is_empty() {
            return Ok(());
        }
        let mut messages = Vec::new();
        for failure in failures {
            let message = format!(
                "{failure}; the decision is kept in the database and retried by the next sentry run (`sentry sync` retries now)"
            );
            crate::syslog::warn(&message);
            messages.push(message);
        }
        Err(Error::Runtime(messages.join("\n")))
    }

    /// The deny-list entry for an address blocked at `since` for the `times`-th time:
    /// with the block's remaining life, for backends that can expire elements themselves.
    fn entry(&self, ip: ClientIp, since: i64, times: u32) -> Entry {
        Entry {
            ip,
            expires_in: self.expires_in(since, times),
        }
    }

    /// The remaining life of a block placed at `since` for the `times`-th time; None when
    /// blocks never expire.
    fn expires_in(&self, since: i64, times: u32) -> Option<u64> {
        let days = policy::block_days(self.config.expire_block_days, times);
        policy::block_end(since, days)
            .map(|end| u64::try_from(end.saturating_sub(self.now)).unwrap_or(0))
    }

    /// Makes every enabled backend's members equal to the database's blocked set: adds
    /// the missing, removes what sentry put there and no longer blocks. For boot and after
    /// a firewall reload (kernel sets are empty then). `dry_run` only reports.
    pub fn sync(&mut self, dry_run: bool) -> Result<Vec<SyncChange>> {
        let _serialised =
            FileLock::acquire(&self.config.root.join(LISTS_LOCK), self.patience.wait())?;
        let wanted: std::collections::BTreeMap<ClientIp, Entry> = self
            .store
            .blocks()?
            .into_iter()
            .map(|b| (b.ip, self.entry(b.ip, b.since, b.times)))
            .collect();
        let blocked: Vec<ClientIp> = wanted.keys().copied().collect();
        let (wanted_nets, outside) = self.wanted_prefixes(&wanted)?;
        let mut changes = Vec::new();
        let mut failures = Vec::new();
        let progress = Progress::steps(self.show_progress, self.lists.len() as u64);
        for list in self.lists.iter_mut() {
            progress.say(format!(
                "{}: {} blocked addresses",
                list.name(),
                wanted.len()
            ));
            let result = (|| -> Result<SyncChange> {
                if !dry_run {
                    list.prepare()?;
                    list.adopt(&blocked)?;
                }
                // A list that holds networks gets the prefixes first, and drops their
                // addresses only once it took them.
                let mut added_networks = Vec::new();
                let mut removed_networks = Vec::new();
                let wanted = if list.holds_networks() {
                    let present: std::collections::BTreeSet<Network> =
                        list.network_members()?.into_iter().collect();
                    let missing: Vec<NetEntry> = (wanted_nets.iter())
                        .filter(|n| !present.contains(&n.net))
                        .copied()
                        .collect();
                    removed_networks = (present.iter())
                        .filter(|p| !wanted_nets.iter().any(|n| n.net == **p))
                        .copied()
                        .collect();
                    if !dry_run {
                        if !missing.is_empty() {
                            list.add_networks(&missing)?;
                        }
                        if !removed_networks.is_empty() {
                            list.remove_networks(&removed_networks)?;
                        }
                    }
                    added_networks = missing.iter().map(|n| n.net).collect();
                    // A network set no rule uses drops nothing: keep the addresses too.
                    if wanted_nets.is_empty() || matches!(list.unused_networks(), Ok(None)) {
                        &outside
                    } else {
                        &wanted
                    }
                } else {
                    &wanted
                };
                let present: std::collections::BTreeSet<ClientIp> =
                    list.members()?.into_iter().collect();
                let missing: Vec<Entry> = wanted
                    .values()
                    .filter(|e| !present.contains(&e.ip))
                    .copied()
                    .collect();
                let extra: Vec<ClientIp> = present
                    .iter()
                    .filter(|ip| !wanted.contains_key(ip))
                    .copied()
                    .collect();
                if !dry_run {
                    if !missing.is_empty() {
                        list.add(&missing)?;
                    }
                    if !extra.is_empty() {
                        list.remove(&extra)?;
                    }
                }
                Ok(SyncChange {
                    backend: list.name(),
                    added: missing.iter().map(|e| e.ip).collect(),
                    removed: extra,
                    added_networks,
                    removed_networks,
                })
            })();
            progress.step();
            match result {
                Ok(change) => changes.push(change),
                Err(e) => failures.push(e),
            }
        }
        progress.finish();
        if !dry_run {
            // Under the lists lock: no failed update can be noted between this sync's read
            // of the database and this.
            let noted = if failures.is_empty() {
                match self.store.lists_pending() {
                    Ok(p) if p.changes > 0 => self.store.clear_lists_pending(),
                    other => other.map(|_| ()),
                }
            } else {
                self.store.retry_lists_at(self.now + LISTS_RETRY_PAUSE)
            };
            if let Err(e) = noted {
                failures.push(e);
            }
        }
        self.backend_failures(failures)?;
        Ok(changes)
    }

    /// Lifts every block older than its length (`expire_block_days`, longer for a repeated
    /// block) and ends every trust older than
    /// `trust_days`, everywhere (the connect path does
    /// it lazily for the connecting address only).
    pub fn expire(&mut self) -> Result<Vec<Decision>> {
        let expire_days = self.config.expire_block_days;
        let mut decisions: Vec<Decision> = self
            .store
            .blocks()?
            .into_iter()
            .filter_map(|b| {
                let days = policy::block_days(expire_days, b.times);
                policy::block_expired(b.since, self.now, days).then(|| expired(b.ip, days))
            })
            .collect();
        for (ip, last) in self.store.trusted()? {
            let allowed = (self.store.record(ip)?).is_some_and(|r| r.allow > 0);
            if allowed && policy::trust_expired(last, self.now, self.config.trust_days) {
                decisions.push(self.trust_expiry(ip, last));
            }
        }
        if !decisions.is_empty() {
            self.apply(&decisions)?;
        }
        let prefixes = self.expired_prefixes()?;
        self.apply_prefixes(&prefixes)?;
        Ok(decisions)
    }

    /// Imports the one-file-per-address tree under the root. Automatically (`once`) this
    /// happens only the first time; `sentry import` merges whatever is there.
    /// The files are removed only after the records were committed.
    pub fn import_legacy_files(&mut self, once: bool) -> Result<usize> {
        let root = self.config.root.clone();
        let tree = legacy_files::read(&root)?;
        for path in &tree.skipped {
            eprintln!(
                "sentry: import: skipped {} (not an address file)",
                path.display()
            );
        }
        if once {
            if !self
                .store
                .merge_records_once(LEGACY_IMPORT_KEY, &tree.records, self.now)?
            {
                self.say(|| {
                    format!(
                        "old per-address files are present under {} but were imported before; run `sentry import` to merge them again",
                        root.display()
                    )
                });
                return Ok(0);
            }
        } else {
            self.store.merge_records(&tree.records)?;
        }
        legacy_files::remove(&root, &tree.files)?;
        self.sync(false)?;
        eprintln!(
            "sentry: imported {} addresses from the per-address files under {}",
            tree.records.len(),
            root.display()
        );
        Ok(tree.records.len())
    }

    /// Lists other tools kept: each address allowed (`allow`) or blocked since the time the
    /// source gives (else now), in one batch. Never-block addresses are not blocked.
    pub fn import_listings(
        &mut self,
        addresses: &[(ClientIp, Option<i64>)],
        allow: bool,
        source: &str,
    ) -> Result<usize> {
        let reason = format!("imported from {source}");
        let decisions: Vec<Decision> = addresses
            .iter()
            .filter(|(ip, _)| allow || !self.config.is_never_blocked(*ip))
            .map(|&(ip, at)| {
                let since = at.filter(|t| *t > 0).unwrap_or(self.now);
                Decision {
                    ip,
                    listing: if allow {
                        Listing::Allowed { since }
                    } else {
                        Listing::Blocked { since }
                    },
                    reason: reason.clone(),
                    origin: String::new(),
                }
            })
            .collect();
        if !decisions.is_empty() {
            self.apply(&decisions)?;
        }
        Ok(decisions.len())
    }

    /// Merges records from an older sentry (counts added, listings taken where there are
    /// none) and brings every deny list in line.
    pub fn import_records(&mut self, records: &[IpRecord]) -> Result<usize> {
        self.store.merge_records(records)?;
        self.sync(false)?;
        Ok(records.len())
    }

    /// Imports `ip seen allow block` lines (the output of `sentry dump`).
    pub fn import_dump(&mut self, text: &str, source: &str) -> Result<usize> {
        let mut records = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| {
                Error::Input(format!(
                    "{source}:{}: {why}; expected `IP<TAB>seen<TAB>allow<TAB>block`",
                    n + 1
                ))
            };
            let fields: Vec<&str> = line.split('\t').collect();
            let [ip, seen, allow, block] = fields[..] else {
                return Err(bad("wrong number of fields"));
            };
            let ip = ClientIp::parse(ip).map_err(|e| bad(&e.to_string()))?;
            let number = |s: &str| s.trim().parse::<i64>().ok().filter(|n| *n >= 0);
            let (Some(seen), Some(allow), Some(block)) =
                (number(seen), number(allow), number(block))
            else {
                return Err(bad("seen, allow and block must be whole numbers"));
            };
            records.push(IpRecord {
                ip: ip.to_string(),
                seen,
                allow,
                block,
            });
        }
        self.import_records(&records)
    }

    /// Makes sure every enabled deny list exists (the deny file, firewall sets): `setup`.
    pub fn prepare_deny_lists(&mut self) -> Result<()> {
        let blocked: Vec<ClientIp> = self
            .store
            .blocked()?
            .into_iter()
            .map(|(ip, _)| ip)
            .collect();
        let failures: Vec<Error> = self
            .lists
            .iter_mut()
            .filter_map(|l| l.prepare().and_then(|()| l.adopt(&blocked)).err())
            .collect();
        self.backend_failures(failures)
    }
}

/// What `sync` changed (or would change) in one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncChange {
    pub backend: &'static str,
    pub added: Vec<ClientIp>,
    pub removed: Vec<ClientIp>,
    /// IPv6 prefixes blocked whole, on lists that hold networks.
    pub added_networks: Vec<Network>,
    pub removed_networks: Vec<Network>,
}

impl SyncChange {
    /// Entries missing from the list: addresses and prefixes.
    pub fn missing(&self) -> usize {
        self.added.len() + self.added_networks.len()
    }

    /// Entries on the list that the database does not block.
    pub fn extra(&self) -> usize {
        self.removed.len() + self.removed_networks.len()
    }
}

/// One listing change and why it was made (for the syslog line and `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub ip: ClientIp,
    pub listing: Listing,
    pub reason: String,
    /// "" when this host decided; see `ListingChange::origin`.
    pub origin: String,
}

/// Lifting a block that outlived its `days` (the history says so, not "by the
/// administrator": an expiry keeps the count of blocks, a delisting resets it).
fn expired(ip: ClientIp, days: u32) -> Decision {
    Decision {
        ip,
        listing: Listing::Unlisted,
        reason: format!("block expired after {days} days"),
        origin: String::new(),
    }
}

/// Adds a stored evidence row to `evidence` when this host protects its service, and says
/// whether it does. The one place that reads the database's service and kind names: a
/// name this build does not know (an older, newer or damaged database, another host's
/// push) counts for nothing.
pub(crate) fn add_stored(
    config: &crate::config::Config,
    evidence: &mut Evidence,
    service: &str,
    kind: &str,
    count: i64,
) -> bool {
    let protected = Service::from_name(service).is_some_and(|s| config.services.enabled(s.group()));
    if protected && let Some(kind) = Kind::from_name(kind) {
        evidence.add(kind, u32::try_from(count.max(0)).unwrap_or(u32::MAX));
    }
    protected
}

/// `4 naughty, 2 failed (sshd, dovecot)`: the evidence behind a decision.
fn reason(rows: &[EvidenceCount]) -> String {
    let mut parts = Vec::new();
    for kind in Kind::ALL {
        let total: i64 = rows
            .iter()
            .filter(|r| r.kind == kind.name())
            .map(|r| r.count)
            .sum();
        if total > 0 {
            parts.push(format!("{total} {}", kind.name()));
        }
    }
    let mut services: Vec<&str> = rows.iter().map(|r| r.service.as_str()).collect();
    services.dedup();
    if parts.is_empty() {
        return "no evidence in the logs".into();
    }
    // Service names come from the database (an older or damaged one may hold anything).
    let services: Vec<_> = services
        .into_iter()
        .map(crate::printable::printable)
        .collect();
    format!("{} ({})", parts.join(", "), services.join(", "))
}

fn describe_scan(outcome: &scan::ScanOutcome) -> String {
    if !outcome.scanned {
        return "another sentry is scanning the logs; deciding on the evidence stored".into();
    }
    format!(
        "read {} new lines from {} log sources: {} events about {} addresses",
        outcome.lines,
        outcome.sources,
        outcome.events,
        outcome.addresses.len()
    )
}

/// How a decision reads in messages: `blocked 203.0.113.9: 4 naughty (sshd)`.
impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.listing.verb(),
            self.ip,
            crate::printable::printable(&self.reason)
        )
    }
}

/// The syslog lines for a batch of decisions: one per allow or block, up to
/// `NOTICES_PER_BATCH`, then one line counting the rest.
fn syslog_notices(decisions: &[Decision]) -> Vec<String> {
    let listed: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.listing != Listing::Unlisted)
        .collect();
    let mut lines: Vec<String> = listed
        .iter()
        .take(NOTICES_PER_BATCH)
        .map(|d| d.to_string())
        .collect();
    if listed.len() > NOTICES_PER_BATCH {
        lines.push(format!(
            "{} more decisions in the same batch (`sentry report` lists the addresses)",
            listed.len() - NOTICES_PER_BATCH
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(n: u32, listing: Listing) -> Decision {
        Decision {
            ip: ClientIp::parse(&format!("198.51.{}.{}", n / 256, n % 256)).expect("address"),
            listing,
            reason: "fleet: block on web1: 3 naughty".to_string(),
            origin: "web1".to_string(),
        }
    }

    #[test]
    fn a_big_batch_logs_its_first_decisions_and_counts_the_rest() {
        let small: Vec<Decision> = (1..=3)
            .map(|n| decision(n, Listing::Blocked { since: 1 }))
            .collect();
        assert_eq!(
            syslog_notices(&small),
            [
                "blocked 198.51.0.1: fleet: block on web1: 3 naughty",
                "blocked 198.51.0.2: fleet: block on web1: 3 naughty",
                "blocked 198.51.0.3: fleet: block on web1: 3 naughty",
            ]
        );
        // Delistings are not logged and not counted.
        let mut big: Vec<Decision> = (1..=150)
            .map(|n| decision(n, Listing::Blocked { since: 1 }))
            .collect();
        big.insert(0, decision(999, Listing::Unlisted));
        let lines = syslog_notices(&big);
        assert_eq!(lines.len(), NOTICES_PER_BATCH + 1);
        assert_eq!(
            lines[0],
            "blocked 198.51.0.1: fleet: block on web1: 3 naughty"
        );
        assert_eq!(
            lines[NOTICES_PER_BATCH],
            "50 more decisions in the same batch (`sentry report` lists the addresses)"
        );
    }
}
