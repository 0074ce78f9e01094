/*!
`sentry parse`: the filter tester, like fail2ban-regex. Log files (or stdin) in, one JSON
object per recognised line out; reads no database and changes nothing.
*/

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::cmd::{Context, now};
use crate::error::{Error, Result};
use crate::logs::parse::{ParseOptions, Parser, service_of};
use crate::logs::read_ahead::{Line, read_ahead};
use crate::logs::{Event, Kind, Service, ServiceGroup, header, journal};

/// Test the log parsers on files (or stdin): one JSON object per recognised line
///
/// Like fail2ban-regex: reads no database and changes nothing. A summary per service
/// and kind goes to stderr.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// Only this service (sshd, dovecot, vsftpd, ...) or group (ssh, ftp, mua, smtp);
    /// lines without a syslog header are then read as bare messages of it
    #[arg(long, value_name = "SERVICE", value_parser = ServiceFilter::parse)]
    pub service: Option<ServiceFilter>,
    /// Print the lines of known programs that no rule recognised, instead of events
    #[arg(long)]
    pub unmatched: bool,
    /// Log files ('-' or none: stdin); .gz files are decompressed
    pub files: Vec<PathBuf>,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    parse(
        &args.files,
        args.service.unwrap_or(ServiceFilter::All),
        args.unmatched,
        crate::scan::parse_options(&config),
        &journal::Trust::load(&config.journal_trusted_exe),
        now(),
    )
}

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

/// Output gathered before it is written.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// `sentry parse`: one JSON object per recognised line on stdout (or, with `unmatched`, the
/// lines of known programs that no rule recognised), and a summary on stderr. Reads no
/// database and changes nothing. Lines of `journalctl -o json` are judged by their
/// senders' trusted fields, as `scan` and `ingest` judge them (`trust`).
fn parse(
    files: &[PathBuf],
    filter: ServiceFilter,
    unmatched: bool,
    options: ParseOptions,
    trust: &journal::Trust,
    now: i64,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut sink = stdout.lock();
    // The output is built in place in this buffer and written out when it is full.
    let mut out: Vec<u8> = Vec::with_capacity(OUTPUT_BUFFER + 1024);
    let mut parser = Parser::new(options, now);
    // Keyed by the enums while reading (a string key cost a comparison of names per line);
    // by name for the summary.
    let mut summary: BTreeMap<(Service, Kind), u64> = BTreeMap::new();
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
        let reader: Box<dyn Read + Send> = if name == "-" {
            Box::new(std::io::stdin())
        } else if path.extension().is_some_and(|e| e == "gz") {
            let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, &e))?;
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(std::fs::File::open(path).map_err(|e| Error::io("open", path, &e))?)
        };
        parser.begin_source(&name);
        let mut failed: Option<Error> = None;
        read_ahead(reader, now, &mut |batch| {
            lines += batch.lines_read();
            for line in batch.lines() {
                let number = line.number;
                // A journal entry (`journalctl -o json`) has no syslog header.
                let mut entry = None;
                let mut decoded = None;
                let event = if line.header.is_none() && line.text.starts_with('{') {
                    entry = journal::Entry::parse(line.text.as_bytes());
                    (entry.as_ref())
                        .and_then(|e| journal::event_of(e, trust, &mut parser, &mut decoded))
                        .filter(|event| filter.admits(event.service))
                } else {
                    event_of(&mut parser, &line, filter)
                };
                // A line held before this one (MySQL's) that this line confirmed: it comes first.
                let mut written = Ok(());
                if let Some(held) = parser.take_released()
                    && filter.admits(held.event().service)
                {
                    let event = held.event();
                    matched += 1;
                    *summary.entry((event.service, event.kind)).or_default() +=
                        u64::from(event.count);
                    if !unmatched {
                        written = write_event(&mut out, &name_json, number - 1, &event);
                    }
                }
                let written = written.and_then(|()| match event {
                    Some(event) => {
                        matched += 1;
                        *summary.entry((event.service, event.kind)).or_default() +=
                            u64::from(event.count);
                        if unmatched {
                            Ok(())
                        } else {
                            write_event(&mut out, &name_json, number, &event)
                        }
                    }
                    // A held line is recognised: it waits for the next one.
                    None if unmatched
                        && !parser.is_holding()
                        && from_known_program(&line, entry.as_ref(), trust, filter) =>
                    {
                        writeln!(out, "{}", crate::printable::printable(line.text))
                            .map_err(|e| Error::output(&e))
                    }
                    None => Ok(()),
                });
                let written = written.and_then(|()| {
                    if out.len() >= OUTPUT_BUFFER {
                        sink.write_all(&out).map_err(|e| Error::output(&e))?;
                        out.clear();
                    }
                    Ok(())
                });
                if let Err(e) = written {
                    failed = Some(e);
                    return false;
                }
            }
            true
        })
        .map_err(|e| Error::io("read", path, &e))?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    (sink.write_all(&out))
        .and_then(|()| sink.flush())
        .map_err(|e| Error::output(&e))?;
    eprintln!("{lines} lines read, {matched} recognised");
    let by_name: BTreeMap<(&str, &str), u64> = (summary.into_iter())
        .map(|((service, kind), count)| ((service.name(), kind.name()), count))
        .collect();
    for ((service, kind), count) in by_name {
        eprintln!("  {service:<12} {kind:<8} {count}");
    }
    Ok(())
}

/// A whole syslog line, or — with one service chosen — a bare message of that service
/// (`sshd -E` writes messages without any header).
fn event_of<'a>(parser: &mut Parser, line: &Line<'a>, filter: ServiceFilter) -> Option<Event<'a>> {
    if let Some(event) = parser.parse_split_as(line.header, line.service) {
        return filter.admits(event.service).then_some(event);
    }
    let ServiceFilter::One(service) = filter else {
        return None;
    };
    if line.header.is_some() {
        return None;
    }
    let (service, finding) = parser.parse_message(service, None, None, line.text)?;
    Some(crate::logs::parse::event(service, finding, None, None))
}

/// Whether the line's header names a program of a service `filter` admits, or the journal
/// entry was sent by such a service's own program (a forged entry is no unread line of it).
fn from_known_program(
    line: &Line,
    entry: Option<&journal::Entry>,
    trust: &journal::Trust,
    filter: ServiceFilter,
) -> bool {
    if let Some(header) = line.header {
        return service_of(header.program).is_some_and(|s| filter.admits(s));
    }
    entry.is_some_and(|e| {
        (e.identifier())
            .and_then(service_of)
            .is_some_and(|s| filter.admits(s) && trust.admits(s, e))
    })
}

/// Writes one `parse` output line, exactly these keys in this order:
/// `{"file":"auth.log","line":12,"service":"sshd","kind":"naughty","ip":"203.0.113.9","user":"admin","time":"2026-11-24T10:00:00Z"}`
/// (`user` and `time` may be null; a spam verdict adds `"score":17.3`, and a line that stands
/// for several events, `"count":3`, at the end). By hand: serde's
/// derive plus chrono's formatter cost more than the parsing itself. `file_json` is the
/// file name already encoded as a JSON string; the user name is attacker text and goes
/// through serde_json's string escaping.
fn write_event(text: &mut Vec<u8>, file_json: &str, line: u64, event: &Event) -> Result<()> {
    // Appended to the output buffer, numbers and IPv4 addresses by hand: `write!`'s
    // formatting machinery was a sixth of `parse`'s time.
    text.extend_from_slice(b"{\"file\":");
    text.extend_from_slice(file_json.as_bytes());
    text.extend_from_slice(b",\"line\":");
    push_decimal(text, line);
    text.extend_from_slice(b",\"service\":\"");
    text.extend_from_slice(event.service.name().as_bytes());
    text.extend_from_slice(b"\",\"kind\":\"");
    text.extend_from_slice(event.kind.name().as_bytes());
    text.extend_from_slice(b"\",\"ip\":\"");
    match event.ip.addr() {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push(b'.');
                }
                push_decimal(text, u64::from(octet));
            }
        }
        v6 => {
            let _ = write!(text, "{v6}");
        }
    }
    text.extend_from_slice(b"\",\"user\":");
    match event.user {
        // Attacker text: plain ASCII without quotes, backslashes or controls as it is,
        // anything else through serde_json's escaping.
        Some(user)
            if user
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') =>
        {
            text.push(b'"');
            text.extend_from_slice(user.as_bytes());
            text.push(b'"');
        }
        Some(user) => {
            serde_json::to_writer(&mut *text, user).map_err(|e| Error::Runtime(e.to_string()))?
        }
        None => text.extend_from_slice(b"null"),
    }
    text.extend_from_slice(b",\"time\":");
    match event.time {
        Some(t) => {
            text.push(b'"');
            text.extend_from_slice(&header::format_utc(t));
            text.push(b'"');
        }
        None => text.extend_from_slice(b"null"),
    }
    // Only spam verdicts carry a score, only repeats a count; other lines keep their keys.
    if let Some(score) = event.score {
        let _ = write!(text, ",\"score\":{score}");
    }
    if event.count != 1 {
        text.extend_from_slice(b",\"count\":");
        push_decimal(text, u64::from(event.count));
    }
    text.extend_from_slice(b"}\n");
    Ok(())
}

/// `n` in decimal, appended.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}
