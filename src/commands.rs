/*!
The log commands that stream: `parse` (the filter tester, no database) and `ingest`
(lines on stdin, decisions as they arrive).
*/

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::path::PathBuf;

use crate::actions::Sentry;
use crate::error::{Error, Result};
use crate::logs::parse::{ParseOptions, Parser, service_of};
use crate::logs::{Event, Service, ServiceGroup, header, journal, source};
use crate::scan::Tally;

/// Which lines `parse` reports: every known service, or one service or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceFilter {
    All,
    One(Service),
    Group(ServiceGroup),
}

impl ServiceFilter {
    /// `sshd`, `dovecot`, ... or a group: `ssh`, `ftp`, `mua`, `smtp`.
    pub fn parse(name: &str) -> Result<ServiceFilter> {
        if let Some(service) = Service::from_name(name) {
            return Ok(ServiceFilter::One(service));
        }
        let Some(group) = ServiceGroup::from_name(name) else {
            let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
            let groups: Vec<&str> = ServiceGroup::ALL.iter().map(|g| g.name()).collect();
            return Err(Error::Input(format!(
                "unknown service {name:?}; known: {}, or a group: {}",
                names.join(", "),
                groups.join(", ")
            )));
        };
        Ok(ServiceFilter::Group(group))
    }

    fn admits(self, service: Service) -> bool {
        match self {
            ServiceFilter::All => true,
            ServiceFilter::One(s) => s == service,
            ServiceFilter::Group(g) => service.group() == g,
        }
    }
}

/// `sentry parse`: one JSON object per recognised line on stdout (or, with `unmatched`, the
/// lines of known programs that no rule recognised), and a summary on stderr. Reads no
/// database and changes nothing.
pub fn parse(
    files: &[PathBuf],
    filter: ServiceFilter,
    unmatched: bool,
    options: ParseOptions,
    now: i64,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut parser = Parser::new(options, now);
    let mut clock = header::Clock::new(now);
    let mut summary: BTreeMap<(&'static str, &'static str), u64> = BTreeMap::new();
    let (mut lines, mut matched) = (0u64, 0u64);
    let stdin_only = [PathBuf::from("-")];
    let files = if files.is_empty() {
        &stdin_only[..]
    } else {
        files
    };
    for path in files {
        let name = path.display().to_string();
        let name_json = serde_json::to_string(&name).map_err(|e| Error::Runtime(e.to_string()))?;
        let reader: Box<dyn Read> = if name == "-" {
            Box::new(std::io::stdin().lock())
        } else if path.extension().is_some_and(|e| e == "gz") {
            let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, &e))?;
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(std::fs::File::open(path).map_err(|e| Error::io("open", path, &e))?)
        };
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        let mut buf = Vec::with_capacity(512);
        let mut number = 0u64;
        loop {
            buf.clear();
            let n = source::read_line_bounded(&mut reader, &mut buf, source::MAX_LINE)
                .map_err(|e| Error::io("read", path, &e))?;
            if n == 0 {
                break;
            }
            number += 1;
            lines += 1;
            if source::overlong(&buf, source::MAX_LINE) {
                continue;
            }
            let text = line_text(buf.strip_suffix(b"\n").unwrap_or(&buf));
            let event = event_of(&mut parser, &mut clock, &text, filter);
            match event {
                Some(event) => {
                    matched += 1;
                    *summary
                        .entry((event.service.name(), event.kind.name()))
                        .or_default() += u64::from(event.count);
                    if !unmatched {
                        write_event(&mut out, &name_json, number, &event)?;
                    }
                }
                None if unmatched && from_known_program(&mut clock, &text, filter) => {
                    writeln!(out, "{}", crate::printable::printable(&text))
                        .map_err(|e| Error::output(&e))?;
                }
                None => {}
            }
        }
    }
    out.flush().map_err(|e| Error::output(&e))?;
    eprintln!("{lines} lines read, {matched} recognised");
    for ((service, kind), count) in summary {
        eprintln!("  {service:<12} {kind:<8} {count}");
    }
    Ok(())
}

/// The line as text: validated in place (the common case), or with invalid bytes replaced.
fn line_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A whole syslog line, or — with one service chosen — a bare message of that service
/// (`sshd -E` writes messages without any header).
fn event_of<'a>(
    parser: &mut Parser,
    clock: &mut header::Clock,
    text: &'a str,
    filter: ServiceFilter,
) -> Option<Event<'a>> {
    if let Some(event) = parser.parse_line(text) {
        return filter.admits(event.service).then_some(event);
    }
    let ServiceFilter::One(service) = filter else {
        return None;
    };
    if header::split(text, clock).is_some() {
        return None;
    }
    let (service, finding) = parser.parse_message(service, None, text)?;
    Some(crate::logs::parse::event(service, finding, None, None))
}

fn from_known_program(clock: &mut header::Clock, text: &str, filter: ServiceFilter) -> bool {
    header::split(text, clock)
        .and_then(|h| service_of(h.program))
        .is_some_and(|s| filter.admits(s))
}

/// Writes one `parse` output line, exactly these keys in this order:
/// `{"file":"auth.log","line":12,"service":"sshd","kind":"naughty","ip":"203.0.113.9","user":"admin","time":"2026-11-24T10:00:00Z"}`
/// (`user` and `time` may be null; a spam verdict adds `"score":17.3`, and a line that stands
/// for several events, `"count":3`, at the end). By hand: serde's
/// derive plus chrono's formatter cost more than the parsing itself. `file_json` is the
/// file name already encoded as a JSON string; the user name is attacker text and goes
/// through serde_json's string escaping.
fn write_event<W: Write>(out: &mut W, file_json: &str, line: u64, event: &Event) -> Result<()> {
    let written = (|| -> std::io::Result<()> {
        write!(
            out,
            "{{\"file\":{file_json},\"line\":{line},\"service\":\"{}\",\"kind\":\"{}\",\"ip\":\"{}\",\"user\":",
            event.service.name(),
            event.kind.name(),
            event.ip
        )?;
        match event.user {
            Some(user) => serde_json::to_writer(&mut *out, user).map_err(std::io::Error::other)?,
            None => out.write_all(b"null")?,
        }
        out.write_all(b",\"time\":")?;
        match event.time {
            Some(t) => {
                out.write_all(b"\"")?;
                out.write_all(&header::format_utc(t))?;
                out.write_all(b"\"")?;
            }
            None => out.write_all(b"null")?,
        }
        // Only spam verdicts carry a score, only repeats a count; other lines keep their keys.
        if let Some(score) = event.score {
            write!(out, ",\"score\":{score}")?;
        }
        if event.count != 1 {
            write!(out, ",\"count\":{}", event.count)?;
        }
        out.write_all(b"}\n")
    })();
    written.map_err(|e| Error::output(&e))
}

/// `sentry ingest`: log lines on stdin (from rsyslog omprog, syslog-ng), or journal entries
/// (`journalctl -f -o json`, judged by their senders' trusted fields as `scan` judges
/// them), evidence recorded and decisions made as they arrive. Lines that arrive together are
/// handled in one batch; while stdin is idle the process sleeps in read() and holds no
/// database lock.
pub fn ingest<R: Read>(
    sentry: &mut Sentry,
    input: &mut BufReader<R>,
    now: &dyn Fn() -> i64,
) -> Result<()> {
    let mut parser = Parser::new(crate::scan::parse_options(&sentry.config), now());
    let trust = journal::Trust::load(&sentry.config.journal_trusted_exe);
    let mut tally = Tally::default();
    let mut buf = Vec::with_capacity(512);
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
                text = line_text(line);
                parser.parse_line(&text)
            };
            if let Some(event) = event
                && sentry.config.counts(&event)
            {
                tally.add(&event);
            }
        }
        // Decide once nothing more is waiting (or at the end): bursts become one batch.
        // `buffer()` looks without reading, so an idle pipe is not waited on here.
        let idle = n == 0 || input.buffer().is_empty();
        if idle && !tally.is_empty() {
            sentry.set_now(now());
            sentry.record_and_decide(&mut tally)?;
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// `report --lines`: the log lines whose event concerns `ip`, from every configured log
/// (rotated and compressed generations first), as the original's report showed them.
pub fn lines_about(
    config: &crate::config::Config,
    ip: crate::ip::ClientIp,
    now: i64,
    visit: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    let mut parser = Parser::new(crate::scan::parse_options(config), now);
    let mut failure = None;
    for path in config.log_files() {
        let mut generations = crate::logs::source::rotated_generations(&path);
        generations.push(path);
        for file in generations {
            crate::logs::source::read_whole(&file, &mut |line| {
                if failure.is_none()
                    && parser.parse_line(line).is_some_and(|e| e.ip == ip)
                    && let Err(e) = visit(line)
                {
                    failure = Some(e);
                }
            })?;
        }
    }
    failure.map_or(Ok(()), Err)
}
