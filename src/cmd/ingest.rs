/*!
`sentry ingest`: log lines on stdin (rsyslog omprog, syslog-ng) or journal entries
(`journalctl -f -o json`), evidence recorded and decisions made as they arrive; with a
fleet, an exchange thread beside the stream.
*/

use std::io::{BufReader, Read};

use crate::actions::{Patience, Sentry};
use crate::cmd::{Context, now};
use crate::error::{Error, Result};
use crate::logs::parse::Parser;
use crate::logs::{journal, source};
use crate::scan::Tally;

pub fn run(ctx: &Context) -> Result<()> {
    let config = ctx.config()?;
    let mut sentry = ctx.open(&config, Patience::Admin)?;
    sentry.store.limit_cache(INGEST_CACHE_KIB)?;
    // With a fleet, exchange beside the log stream, on a connection of its own.
    if let Some(fleet) = &config.fleet {
        let config = config.clone();
        let interval = std::time::Duration::from_secs(fleet.interval_secs);
        std::thread::spawn(move || crate::fleet::keep_exchanging(config, interval, &now));
    }
    let mut input = BufReader::new(std::io::stdin().lock());
    ingest(&mut sentry, &mut input, &now)
}

/// SQLite's page cache for the follower: enough for a batch's index pages, so that its
/// memory stays flat through a day of traffic (`benches/idle.rs`).
const INGEST_CACHE_KIB: u32 = 256;

/// Lines of a burst decided together: one transaction and one decision per address for
/// the lot, while the batch's tables stay small (they are built anew for each batch, and a
/// whole burst's would set the follower's memory for good).
const BATCH_LINES: usize = 1024;

/// `sentry ingest`: log lines on stdin (from rsyslog omprog, syslog-ng), or journal entries
/// (`journalctl -f -o json`, judged by their senders' trusted fields as `scan` judges
/// them), evidence recorded and decisions made as they arrive. Lines that arrive together are
/// handled in one batch; while stdin is idle the process sleeps in read() and holds no
/// database lock.
fn ingest<R: Read>(
    sentry: &mut Sentry,
    input: &mut BufReader<R>,
    now: &dyn Fn() -> i64,
) -> Result<()> {
    let mut parser = Parser::new(crate::scan::parse_options(&sentry.config), now());
    let trust = journal::Trust::load(&sentry.config.journal_trusted_exe);
    let mut tally = Tally::of_logs(&sentry.config);
    let mut buf = Vec::with_capacity(512);
    let mut batch_lines = 0usize;
    loop {
        buf.clear();
        let n = source::read_line_bounded(input, &mut buf, journal::MAX_ENTRY)
            .map_err(|e| Error::Runtime(format!("could not read stdin: {e}")))?;
        let limit = match buf.first() {
            Some(b'{') => journal::MAX_ENTRY,
            _ => source::MAX_LINE,
        };
        if n > 0 && !source::overlong(&buf, limit) {
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            // `journalctl -o json` (an object per line) carries the sender's trusted
            // fields; anything else is a syslog line, as a syslog daemon passes it on.
            let (entry, text);
            let mut decoded = None;
            let event = if line.first() == Some(&b'{') {
                entry = journal::Entry::parse(line);
                entry
                    .as_ref()
                    .and_then(|e| journal::event_of(e, &trust, &mut parser, &mut decoded))
            } else {
                text = source::line_text(line);
                parser.parse_line(&text)
            };
            if let Some(event) = event
                && sentry.config.counts(&event)
            {
                tally.add(&event);
            }
            // A held line (MySQL's own log piped in) that this line confirmed.
            if let Some(held) = parser.take_released()
                && sentry.config.counts(&held.event())
            {
                tally.add(&held.event());
            }
        }
        // Decide once nothing more is waiting (or at the end): bursts become batches of
        // at most BATCH_LINES. `buffer()` looks without reading, so an idle pipe is not
        // waited on here.
        batch_lines += 1;
        let idle = n == 0 || input.buffer().is_empty();
        if idle || batch_lines >= BATCH_LINES {
            if !tally.is_empty() {
                sentry.set_now(now());
                sentry.record_and_decide(&mut tally)?;
                tally.forget_stale_attempts();
                parser.forget_stale_joins();
            }
            batch_lines = 0;
        }
        if n == 0 {
            return Ok(());
        }
    }
}
