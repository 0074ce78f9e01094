/*!
The systemd journal, read through `journalctl` (a minimal Debian 12 has no auth.log).

Only the syslog identifiers of the enabled services are asked for, in structured
output (`-o json`), so the program name and pid come from the journal's own fields,
not from text. Where reading stopped is the journal's own cursor (`__CURSOR` of the
last entry read); it is kept in the database with the evidence, in one transaction,
rather than in a `--cursor-file` that could run ahead of the database after a crash.
*/

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::parse::{Parser, service_of};
use super::{Event, ServiceGroup};
use crate::error::{Error, Result};
use crate::exec;

/// Every syslog identifier sentry has a parser for.
pub const IDENTIFIERS: [&str; 27] = [
    "sshd",
    "sshd-session",
    "sshd-auth",
    "dropbear",
    "vsftpd",
    "proftpd",
    "pure-ftpd",
    "ftpd",
    "dovecot",
    "imap-login",
    "pop3-login",
    "submission-login",
    "vchkpw-pop3",
    "vchkpw-imap",
    "postfix/smtpd",
    "postfix/submission/smtpd",
    "postfix/smtps/smtpd",
    "vchkpw-smtp",
    "vchkpw-submission",
    "managesieve-login",
    "postfix/cleanup",
    "postfix/postscreen",
    "amavis",
    "amavisd",
    "amavisd-new",
    "rspamd",
    "spamd",
];

/// The name of the journal source in the cursor table.
pub fn source_name(file: Option<&Path>) -> String {
    match file {
        Some(path) => format!("journal:{}", path.display()),
        None => "journal".to_string(),
    }
}

/// One entry of `journalctl -o json`. MESSAGE is a string, or an array of bytes when it
/// is not valid UTF-8.
#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "__CURSOR")]
    cursor: String,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<String>,
    #[serde(rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<String>,
    #[serde(rename = "_PID")]
    pid: Option<String>,
    #[serde(rename = "SYSLOG_PID")]
    syslog_pid: Option<String>,
    #[serde(rename = "MESSAGE")]
    message: Option<serde_json::Value>,
}

/// Reads the journal entries after `after_cursor` (all, when None) of the enabled
/// services, calls `visit` for each event, and returns the cursor of the last entry read
/// (or `after_cursor` when there was none). `file` reads a journal file instead of the
/// system journal.
pub fn read_new(
    file: Option<&Path>,
    after_cursor: Option<&str>,
    enabled: &dyn Fn(ServiceGroup) -> bool,
    parser: &mut Parser,
    timeout: Duration,
    visit: &mut dyn FnMut(Event<'_>),
) -> Result<(Option<String>, u64)> {
    let journalctl: PathBuf = exec::find_program("journalctl").ok_or_else(|| {
        Error::Runtime("journal reading is enabled but journalctl was not found; set `journal = false` or configure `logs`".into())
    })?;
    let mut args: Vec<String> = vec!["-o".into(), "json".into(), "--no-pager".into(), "-q".into()];
    if let Some(path) = file {
        args.push(format!("--file={}", path.display()));
    }
    if let Some(cursor) = after_cursor {
        args.push(format!("--after-cursor={cursor}"));
    }
    let mut any = false;
    for id in IDENTIFIERS {
        if service_of(id).is_some_and(|s| enabled(s.group())) {
            args.push(format!("--identifier={id}"));
            any = true;
        }
    }
    if !any {
        return Ok((after_cursor.map(str::to_owned), 0));
    }
    let mut last_cursor = after_cursor.map(str::to_owned);
    let mut entries = 0u64;
    let (status, errors) = exec::run_streaming(&journalctl, &args, timeout, &mut |out| {
        let mut reader = BufReader::with_capacity(64 * 1024, out);
        let mut line = Vec::with_capacity(1024);
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let Ok(entry) = serde_json::from_slice::<Entry>(&line) else {
                continue;
            };
            entries += 1;
            visit_event(&entry, parser, visit);
            last_cursor = Some(entry.cursor);
        }
    })?;
    if !status.success() && entries == 0 {
        return Err(Error::Runtime(format!(
            "journalctl failed ({status}): {}",
            errors.trim()
        )));
    }
    Ok((last_cursor, entries))
}

fn visit_event(entry: &Entry, parser: &mut Parser, visit: &mut dyn FnMut(Event<'_>)) {
    let mut decoded = None;
    if let Some(event) = event_of(entry, parser, &mut decoded) {
        visit(event);
    }
}

fn event_of<'a>(
    entry: &'a Entry,
    parser: &mut Parser,
    holder: &'a mut Option<String>,
) -> Option<Event<'a>> {
    let service = service_of(entry.identifier.as_deref()?)?;
    // MESSAGE is a string, or an array of bytes when it is not valid UTF-8.
    let message: &'a str = match entry.message.as_ref()? {
        serde_json::Value::String(text) => text.as_str(),
        serde_json::Value::Array(bytes) => {
            let bytes: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            holder
                .insert(String::from_utf8_lossy(&bytes).into_owned())
                .as_str()
        }
        _ => return None,
    };
    let pid = entry
        .syslog_pid
        .as_deref()
        .or(entry.pid.as_deref())
        .and_then(|p| p.parse().ok());
    let (service, finding) = parser.parse_message(service, pid, message)?;
    let time = entry
        .realtime
        .as_deref()
        .and_then(|us| us.parse::<i64>().ok())
        .map(|us| us / 1_000_000);
    Some(super::parse::event(service, finding, time, pid))
}
