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

use crate::atomic_file::FileLock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::ClientIp;
use crate::logs::parse::{ParseOptions, Parser};
use crate::logs::{Event, Kind, Service, journal, source};
use crate::progress::Progress;
use crate::store::{Cursor, EvidenceCount, Store};

/// journalctl gets this long before it is stopped (a first read of a big journal).
const JOURNAL_TIMEOUT: Duration = Duration::from_secs(120);

/// Lock file in the root that keeps scanners from reading the same lines twice.
const SCAN_LOCK: &str = ".scan.lock";
/// Passes over the files while they keep growing; bounds a scanner's stay under a flood.
const MAX_PASSES: usize = 4;

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
}

/// Evidence gathered in memory before it is written: one entry per address, service and kind.
#[derive(Debug, Default)]
pub struct Tally {
    counts: HashMap<(ClientIp, Service, Kind), Count>,
}

/// How many events, and the first and last time seen.
type Count = (i64, Option<i64>, Option<i64>);

impl Tally {
    pub fn add(&mut self, event: &Event) {
        let entry = self
            .counts
            .entry((event.ip, event.service, event.kind))
            .or_insert((0, event.time, event.time));
        entry.0 += 1;
        if let Some(t) = event.time {
            entry.1 = Some(entry.1.map_or(t, |f| f.min(t)));
            entry.2 = Some(entry.2.map_or(t, |l| l.max(t)));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The rows to add to the store, and the addresses they concern.
    pub fn drain(&mut self, addresses: &mut BTreeSet<ClientIp>) -> Vec<EvidenceCount> {
        self.counts
            .drain()
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

/// The parse options the configuration asks for.
pub fn parse_options(config: &Config) -> ParseOptions {
    ParseOptions {
        root_is_naughty: config.root_is_naughty,
    }
}

/// Reads every configured source's new lines into the store. `lock_wait` bounds the wait
/// for another scanner; `from_start` forgets all evidence and cursors and re-reads every
/// file, rotated and compressed generations included.
pub fn scan(
    config: &Config,
    store: &mut dyn Store,
    now: i64,
    lock_wait: Duration,
    from_start: bool,
    progress: &Progress,
) -> Result<ScanOutcome> {
    let mut outcome = ScanOutcome::default();
    let _lock = match FileLock::acquire(&config.root.join(SCAN_LOCK), lock_wait) {
        Ok(lock) => lock,
        Err(Error::Runtime(_)) if !from_start => return Ok(outcome),
        Err(e) => return Err(e),
    };
    outcome.scanned = true;
    let mut reading = Reading {
        config,
        parser: Parser::new(parse_options(config), now),
        tally: Tally::default(),
        outcome,
        progress,
    };
    let files: Vec<PathBuf> = config.log_files();
    if from_start {
        store.forget_all_evidence()?;
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
    if config.use_journal(&files) {
        let Reading {
            parser,
            tally,
            outcome,
            ..
        } = &mut reading;
        progress.say("the systemd journal");
        scan_journal(config, store, parser, tally, outcome, from_start)?;
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
}

impl Reading<'_> {
    fn count_line(&mut self, line: &str) {
        self.outcome.lines += 1;
        if let Some(event) = self.parser.parse_line(line)
            && self.config.counts(&event)
        {
            self.outcome.events += 1;
            self.tally.add(&event);
        }
        self.progress.line(self.outcome.lines);
    }
}

/// One log file's new lines (with `from_start`, its rotated generations first). A file
/// that cannot be read is recorded in `outcome.errors` and skipped; a database error is
/// returned (it is not the log's fault, and the other sources would fail the same way).
fn scan_file(
    reading: &mut Reading,
    store: &mut dyn Store,
    path: &std::path::Path,
    from_start: bool,
) -> Result<()> {
    let cursor = if from_start {
        None
    } else {
        store.cursor(&path.display().to_string())?
    };
    let read = (|| {
        if from_start {
            for old in source::rotated_generations(path) {
                reading.progress.say(old.display().to_string());
                source::read_whole(&old, &mut |line| reading.count_line(line))?;
            }
        }
        reading.progress.say(path.display().to_string());
        source::read_new_lines(path, cursor.as_ref(), &mut |line| reading.count_line(line))
    })();
    let next = match read {
        Ok(next) => next,
        Err(e) => {
            reading.tally.drain(&mut std::collections::BTreeSet::new());
            reading.outcome.errors.push(e.to_string());
            return Ok(());
        }
    };
    let counts = reading.tally.drain(&mut reading.outcome.addresses);
    if Some(&next) != cursor.as_ref() || !counts.is_empty() {
        store.record_evidence(&counts, &[next])?;
    }
    Ok(())
}

/// The journal's new entries of the enabled services, with its cursor in the database.
fn scan_journal(
    config: &Config,
    store: &mut dyn Store,
    parser: &mut Parser,
    tally: &mut Tally,
    outcome: &mut ScanOutcome,
    from_start: bool,
) -> Result<()> {
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
    let (last, entries) = journal::read_new(
        file,
        after.as_deref(),
        &|group| config.services.enabled(group),
        &journal::Trust::load(&config.journal_trusted_exe),
        parser,
        JOURNAL_TIMEOUT,
        &mut |event| {
            if config.counts(&event) {
                outcome.events += 1;
                tally.add(&event);
            }
        },
    )?;
    outcome.lines += entries;
    outcome.sources += 1;
    let counts = tally.drain(&mut outcome.addresses);
    if last != after || !counts.is_empty() {
        // The journal's cursor string stands where a file's first bytes would.
        let cursor = Cursor {
            source: name,
            fingerprint: last.unwrap_or_default().into_bytes(),
            ..Cursor::default()
        };
        store.record_evidence(&counts, &[cursor])?;
    }
    Ok(())
}
