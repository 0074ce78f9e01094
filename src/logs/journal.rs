/*!
The systemd journal, read through `journalctl` (a minimal Debian 12 has no auth.log).

Only the syslog identifiers of the enabled services are asked for, in structured
output (`-o json`), so the program name and pid come from the journal's own fields,
not from text. Where reading stopped is the journal's own cursor (`__CURSOR` of the
last entry read); it is kept in the database with the evidence, in one transaction,
rather than in a `--cursor-file` that could run ahead of the database after a crash.

`SYSLOG_IDENTIFIER` is chosen by the client (`logger -t sshd ...` as any user), so it
only says which parser to try. Whether an entry is the daemon's is decided by the
fields journald itself sets from the sender's kernel credentials (`_EXE`, `_UID`,
`_CMDLINE`), against the table's [`Senders`]: see [`Trust`]. `sentry ingest` reads the same
entries from `journalctl -o json` on stdin through [`Entry`] and [`event_of`].
*/

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::parse::Parser;
use super::services::{self, Senders, TABLE, service_of_line};
use super::{Event, Service, ServiceGroup, source};
use crate::error::{Error, Result};
use crate::exec;

/// How long journalctl may run, and how many bytes of its output are read.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub timeout: Duration,
    pub budget: u64,
}

/// The longest `journalctl -o json` entry read. An entry carries its trusted fields
/// (`_CMDLINE` can be long) besides a message that journald itself keeps under 48 KiB per
/// stdout line; larger entries are skipped like overlong log lines.
pub const MAX_ENTRY: usize = 96 * 1024;

/// The journal matches that select the enabled services' entries, for journalctl: each
/// exact identifier of [`TABLE`] (its programs and relay idents), and, for program names
/// given by a rule (postfix instances), the daemons' process names. Either only says which
/// parser to try; [`Trust`] decides whether the entry is the daemon's.
pub fn matches(enabled: &dyn Fn(ServiceGroup) -> bool) -> Vec<String> {
    let rows = || TABLE.iter().filter(|r| enabled(r.group));
    let mut identifiers: Vec<String> = Vec::new();
    for id in rows().flat_map(services::identifiers) {
        let id = format!("SYSLOG_IDENTIFIER={id}");
        if !identifiers.contains(&id) {
            identifiers.push(id);
        }
    }
    let comms: Vec<String> = rows()
        .filter_map(|r| r.instances.as_ref())
        .flat_map(|i| i.daemons.iter().map(|d| format!("_COMM={d}")))
        .collect();
    if identifiers.is_empty() || comms.is_empty() {
        return identifiers.into_iter().chain(comms).collect();
    }
    // Matches on one field are OR-ed, on different fields AND-ed; `+` ORs the groups.
    identifiers
        .into_iter()
        .chain(std::iter::once("+".to_string()))
        .chain(comms)
        .collect()
}

/// The name of the journal source in the cursor table.
pub fn source_name(file: Option<&Path>) -> String {
    match file {
        Some(path) => format!("journal:{}", path.display()),
        None => "journal".to_string(),
    }
}

/// Whether a journal entry is the daemon's, from the fields journald sets itself from
/// the sender's credentials (the kernel's `SCM_CREDENTIALS` and /proc/PID): `_EXE` and
/// `_UID` (and `_CMDLINE` for root scripts). A client cannot set them; it chooses
/// `SYSLOG_IDENTIFIER`, `_COMM` (its own binary's name: a user's `~/sshd` has
/// `_COMM=sshd`) and the message. The rule, for the service the identifier names:
///
/// - `_EXE` is one of the service's executables ([`Senders::exes`], or the admin's
///   `journal_trusted_exe`) and `_UID` is 0 or one of the service's own users; or
/// - `_EXE` is the service's interpreter (amavisd-new and spamd are perl scripts, so
///   `_EXE=/usr/bin/perl`), which says nothing by itself: any user can run perl. It
///   counts with the daemon's own non-root user, which runs nothing else; or with root
///   when `_CMDLINE` names the daemon ([`Senders::scripts`], [`Senders::titles`]). Root
///   runs many perl scripts (cron jobs, admin tools) that may log text handed to them;
///   `_CMDLINE` tells the daemon from those. It is text the process chose, but only a
///   root process is believed on it, and root could write anything to the journal anyway.
///
/// `_SYSTEMD_UNIT` is not required: sshd's per-connection processes move into the
/// user's `session-N.scope` after login. An entry without `_EXE` or `_UID` (journald
/// could not read them) is not trusted.
#[derive(Debug, Default)]
pub struct Trust {
    /// The uids of the users named in the table's [`Senders`] that this host has.
    uids: HashMap<&'static str, u32>,
    /// Executables the admin added, per service (`journal_trusted_exe`).
    extra: Vec<(Service, String)>,
}

impl Trust {
    /// Resolves the table's users through /etc/passwd, now.
    pub fn load(extra: &[(Service, String)]) -> Trust {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        Trust::new(&passwd, extra)
    }

    /// From the text of a passwd file.
    pub fn new(passwd: &str, extra: &[(Service, String)]) -> Trust {
        let mut uids = HashMap::new();
        for line in passwd.lines() {
            let mut fields = line.split(':');
            let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(uid) = uid.parse::<u32>() else {
                continue;
            };
            if let Some(known) = TABLE
                .iter()
                .flat_map(|r| r.senders.users.iter())
                .find(|u| **u == name)
            {
                uids.entry(*known).or_insert(uid);
            }
        }
        Trust {
            uids,
            extra: extra.to_vec(),
        }
    }

    /// Whether `entry` may speak for `service` (see the rule above).
    pub fn admits(&self, service: Service, entry: &Entry) -> bool {
        // journald makes each line of a program's output an entry of its own. Asterisk
        // writes a SIP client's URI-decoded text with its line breaks, and sshd run with
        // `-e` escapes control bytes only for syslog (OpenSSH's log.c: `VIS_SAFE` for
        // stderr leaves `\n` as it is), so a user name can write whole entries there: only
        // what they sent through syslog(3), one entry per message, is theirs.
        if matches!(service, Service::Asterisk | Service::Sshd)
            && entry.transport.as_deref() == Some("stdout")
        {
            return false;
        }
        let (Some(exe), Some(uid)) = (
            entry.exe.as_ref().and_then(|v| v.as_str()),
            entry
                .uid
                .as_ref()
                .and_then(|v| v.as_str())
                .and_then(|u| u.parse::<u32>().ok()),
        ) else {
            return false;
        };
        let senders = &service.row().senders;
        // A binary replaced on disk while it runs reads `/usr/sbin/sshd (deleted)`.
        let exe = exe.strip_suffix(" (deleted)").unwrap_or(exe);
        let own_user = uid != 0
            && senders
                .users
                .iter()
                .any(|name| self.uids.get(name) == Some(&uid));
        let its_binary = senders.exes.iter().any(|p| path_matches(p, exe))
            || self
                .extra
                .iter()
                .any(|(s, p)| *s == service && path_matches(p, exe));
        if its_binary {
            return uid == 0 || own_user;
        }
        if senders.interpreters.iter().any(|p| path_matches(p, exe)) {
            return own_user
                || (uid == 0
                    && entry
                        .cmdline
                        .as_ref()
                        .and_then(|v| v.as_str())
                        .is_some_and(|c| names_daemon(senders, c)));
        }
        false
    }
}

/// `pattern` is a path, or a path ending in `*` that stands for the rest of a file name
/// (anything but a `/`). Process titles are matched the same way.
fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.contains('/')),
        None => pattern == path,
    }
}

/// Whether a root process's command line is the daemon's: its process title, its script
/// as argv\[0\], or the interpreter, its options, then the script.
fn names_daemon(senders: &Senders, cmdline: &str) -> bool {
    if senders.titles.iter().any(|t| path_matches(t, cmdline)) {
        return true;
    }
    let mut words = cmdline.split(' ');
    let Some(first) = words.next() else {
        return false;
    };
    let script = if senders.interpreters.iter().any(|p| path_matches(p, first)) {
        words.find(|w| !w.is_empty() && !w.starts_with('-'))
    } else {
        Some(first)
    };
    script.is_some_and(|s| senders.scripts.contains(&s))
}

/// One entry of `journalctl -o json`: what `scan` reads from journalctl and `ingest` from
/// stdin. MESSAGE is a string, or an array of bytes when it is not valid UTF-8; the
/// trusted fields are taken only when they are plain strings.
#[derive(Debug, Deserialize)]
pub struct Entry {
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
    #[serde(rename = "_EXE")]
    exe: Option<serde_json::Value>,
    #[serde(rename = "_UID")]
    uid: Option<serde_json::Value>,
    #[serde(rename = "_CMDLINE")]
    cmdline: Option<serde_json::Value>,
    /// How journald got it (`syslog`, `journal`, `stdout`, ...): journald sets it.
    #[serde(rename = "_TRANSPORT")]
    transport: Option<String>,
}

impl Entry {
    /// `SYSLOG_IDENTIFIER`: the program name, as a syslog header's tag gives it.
    pub fn identifier(&self) -> Option<&str> {
        self.identifier.as_deref()
    }

    /// One line of `journalctl -o json`; None when it is not a journal entry.
    pub fn parse(line: &[u8]) -> Option<Entry> {
        serde_json::from_slice(line).ok()
    }
}

/// Reads the journal entries after `after_cursor` (all, when None) of the enabled
/// services, calls `visit` for each event, and returns the cursor of the last entry read
/// (or `after_cursor` when there was none). `file` reads a journal file instead of the
/// system journal. Entries `trust` does not admit are read (the cursor moves past them)
/// but give no event.
pub fn read_new(
    file: Option<&Path>,
    after_cursor: Option<&str>,
    enabled: &dyn Fn(ServiceGroup) -> bool,
    trust: &Trust,
    parser: &mut Parser,
    bounds: Bounds,
    visit: &mut dyn FnMut(Event<'_>),
) -> Result<(Option<String>, u64)> {
    let Bounds { timeout, budget } = bounds;
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
    let matches = matches(enabled);
    if matches.is_empty() {
        return Ok((after_cursor.map(str::to_owned), 0));
    }
    args.extend(matches);
    let mut last_cursor = after_cursor.map(str::to_owned);
    let mut entries = 0u64;
    let (status, errors) = exec::run_streaming(&journalctl, &args, timeout, &mut |out| {
        let mut reader = BufReader::with_capacity(64 * 1024, out);
        let mut line = Vec::with_capacity(1024);
        let mut read = 0u64;
        // Past the budget, journalctl is left (its pipe closes); the cursor of the last
        // entry read is where the next reader starts.
        while read < budget {
            line.clear();
            let n = source::read_line_bounded(&mut reader, &mut line, MAX_ENTRY)?;
            if n == 0 {
                return Ok(());
            }
            read += n as u64;
            if source::overlong(&line, MAX_ENTRY) {
                continue;
            }
            let Some(entry) = Entry::parse(&line) else {
                continue;
            };
            entries += 1;
            let mut decoded = None;
            if let Some(event) = event_of(&entry, trust, parser, &mut decoded) {
                visit(event);
            }
            last_cursor = Some(entry.cursor);
        }
        Ok(())
    })?;
    if !status.success() && entries == 0 {
        return Err(Error::Runtime(format!(
            "journalctl failed ({status}): {}",
            errors.trim()
        )));
    }
    Ok((last_cursor, entries))
}

/// The event a journal entry reports, if its identifier names a service, `trust` admits
/// its sender for that service, and the service's parser recognises its message.
/// `holder` keeps a MESSAGE that had to be decoded from bytes.
pub fn event_of<'a>(
    entry: &'a Entry,
    trust: &Trust,
    parser: &mut Parser,
    holder: &'a mut Option<String>,
) -> Option<Event<'a>> {
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
    let service = service_of_line(entry.identifier.as_deref()?, message)?;
    if !trust.admits(service, entry) {
        return None;
    }
    let pid = entry
        .syslog_pid
        .as_deref()
        .or(entry.pid.as_deref())
        .and_then(|p| p.parse().ok());
    let time = entry
        .realtime
        .as_deref()
        .and_then(|us| us.parse::<i64>().ok())
        .map(|us| us / 1_000_000);
    let (service, finding) = parser.parse_message(service, pid, time, message)?;
    Some(super::parse::event(service, finding, time, pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Kind;
    use crate::logs::parse::ParseOptions;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
        sshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n\
        amavis:x:110:117:AMaViS system user,,,:/var/lib/amavis:/bin/sh\n\
        debian-spamd:x:111:118::/var/lib/spamassassin:/usr/sbin/nologin\n\
        postfix:x:107:113::/var/spool/postfix:/usr/sbin/nologin\n\
        eve:x:1000:1000:Eve,,,:/home/eve:/bin/bash\n\
        broken line\n";

    /// An entry as `journalctl -o json` prints it, with these trusted fields.
    fn entry(id: &str, exe: Option<&str>, uid: Option<&str>, cmdline: Option<&str>) -> Entry {
        let mut json = serde_json::json!({
            "__CURSOR": "s=1;i=1",
            "__REALTIME_TIMESTAMP": "1795514400000000",
            "SYSLOG_IDENTIFIER": id,
            "_PID": "4242",
            "_COMM": id,
            "MESSAGE": "Accepted password for alice from 203.0.113.5 port 22 ssh2",
        });
        for (key, value) in [("_EXE", exe), ("_UID", uid), ("_CMDLINE", cmdline)] {
            if let Some(value) = value {
                json[key] = value.into();
            }
        }
        Entry::parse(json.to_string().as_bytes()).expect("an entry")
    }

    fn admits(service: Service, exe: &str, uid: &str) -> bool {
        Trust::new(PASSWD, &[]).admits(service, &entry("x", Some(exe), Some(uid), None))
    }

    /// Asterisk's output on stdout is split by journald at the line breaks a SIP client can
    /// write into it, and so is `sshd -e`'s at a user name's: only their syslog(3) messages
    /// are theirs.
    #[test]
    fn asterisk_and_sshd_speak_through_syslog_only() {
        let trust = Trust::new(PASSWD, &[]);
        let with_transport = |transport: Option<&str>| {
            let mut json = serde_json::json!({
                "__CURSOR": "s=1;i=1",
                "SYSLOG_IDENTIFIER": "asterisk",
                "_EXE": "/usr/sbin/asterisk",
                "_UID": "0",
                "MESSAGE": "x",
            });
            if let Some(t) = transport {
                json["_TRANSPORT"] = t.into();
            }
            Entry::parse(json.to_string().as_bytes()).expect("an entry")
        };
        assert!(trust.admits(Service::Asterisk, &with_transport(Some("syslog"))));
        assert!(trust.admits(Service::Asterisk, &with_transport(None)));
        assert!(!trust.admits(Service::Asterisk, &with_transport(Some("stdout"))));
        let sshd = |transport: Option<&str>| {
            let mut entry = with_transport(transport);
            entry.exe = Some("/usr/sbin/sshd".into());
            entry
        };
        assert!(trust.admits(Service::Sshd, &sshd(Some("syslog"))));
        assert!(trust.admits(Service::Sshd, &sshd(None)));
        assert!(!trust.admits(Service::Sshd, &sshd(Some("stdout"))));
        // Other daemons' output is theirs whichever way it came (they escape what they log,
        // or print no client text: dropbear's `printableuser`).
        let mut dropbear = with_transport(Some("stdout"));
        dropbear.exe = Some("/usr/sbin/dropbear".into());
        assert!(trust.admits(Service::Dropbear, &dropbear));
    }

    #[test]
    fn the_daemons_binary_as_root_or_its_own_user_is_trusted() {
        assert!(admits(Service::Sshd, "/usr/sbin/sshd", "0"));
        assert!(
            admits(Service::Sshd, "/usr/sbin/sshd", "105"),
            "the sshd user"
        );
        assert!(admits(Service::Sshd, "/usr/lib/openssh/sshd-session", "0"));
        assert!(admits(
            Service::Sshd,
            "/usr/libexec/openssh/sshd-auth",
            "105"
        ));
        assert!(admits(Service::Sshd, "/usr/sbin/sshd (deleted)", "0"));
        assert!(admits(Service::Dovecot, "/usr/lib/dovecot/imap-login", "0"));
        assert!(admits(
            Service::Postfix,
            "/usr/lib/postfix/sbin/smtpd",
            "107"
        ));
        assert!(admits(
            Service::Postfix,
            "/usr/libexec/postfix/postscreen",
            "0"
        ));
        assert!(admits(Service::PureFtpd, "/usr/sbin/pure-ftpd-mysql", "0"));
        assert!(admits(Service::PureFtpd, "/usr/sbin/pure-ftpd", "0"));
        assert!(admits(Service::Ftpd, "/usr/sbin/in.ftpd", "0"));
        assert!(admits(Service::Rspamd, "/usr/bin/rspamd", "0"));
    }

    #[test]
    fn a_client_chosen_name_or_a_wrong_user_is_not() {
        // logger -t sshd as nobody; a user's own binary called sshd; the right binary run
        // by a user (a copy cannot be setuid to another account).
        assert!(!admits(Service::Sshd, "/usr/bin/logger", "65534"));
        assert!(!admits(Service::Sshd, "/home/eve/sshd", "1000"));
        assert!(!admits(Service::Sshd, "/home/eve/sshd", "0"));
        assert!(!admits(Service::Sshd, "/usr/sbin/sshd", "1000"));
        assert!(!admits(Service::Sshd, "/usr/sbin/sshd", "65534"));
        // Another service's user, binary or a file below the pattern's directory.
        assert!(!admits(Service::Sshd, "/usr/sbin/sshd", "107"));
        assert!(!admits(Service::Sshd, "/usr/sbin/dropbear", "0"));
        assert!(!admits(
            Service::Dovecot,
            "/usr/lib/dovecot/x/../../../bin/sh",
            "0"
        ));
        assert!(!admits(Service::Postfix, "/usr/lib/postfix/sbin", "0"));
        assert!(!admits(Service::Sshd, "/usr/sbin/sshd2", "0"));
        // Trusted fields missing, or not a number.
        let trust = Trust::new(PASSWD, &[]);
        assert!(!trust.admits(Service::Sshd, &entry("sshd", None, Some("0"), None)));
        assert!(!trust.admits(
            Service::Sshd,
            &entry("sshd", Some("/usr/sbin/sshd"), None, None)
        ));
        assert!(!trust.admits(
            Service::Sshd,
            &entry("sshd", Some("/usr/sbin/sshd"), Some("root"), None)
        ));
    }

    #[test]
    fn a_user_this_host_does_not_have_is_no_one() {
        // dovenull is not in this passwd: its uid means nothing, whatever it is.
        assert!(!admits(
            Service::Dovecot,
            "/usr/lib/dovecot/imap-login",
            "65534"
        ));
        let without_sshd = Trust::new("root:x:0:0::/root:/bin/sh\n", &[]);
        let e = entry("sshd", Some("/usr/sbin/sshd"), Some("105"), None);
        assert!(!without_sshd.admits(Service::Sshd, &e));
    }

    #[test]
    fn an_interpreter_counts_only_with_the_daemons_user_or_root_running_its_script() {
        let trust = Trust::new(PASSWD, &[]);
        let perl = |uid: &str, cmdline: Option<&str>| {
            entry("spamd", Some("/usr/bin/perl"), Some(uid), cmdline)
        };
        assert!(trust.admits(Service::Amavis, &perl("110", None)));
        assert!(trust.admits(Service::Spamd, &perl("111", None)));
        assert!(
            !trust.admits(Service::Spamd, &perl("110", None)),
            "amavis is not spamd"
        );
        assert!(!trust.admits(Service::Spamd, &perl("1000", Some("spamd child"))));
        assert!(!trust.admits(Service::Spamd, &perl("0", None)));
        assert!(!trust.admits(Service::Spamd, &perl("0", Some("/usr/local/bin/report.pl"))));
        assert!(!trust.admits(Service::Spamd, &perl("0", Some("/usr/bin/perl -e spamd"))));
        assert!(!trust.admits(Service::Spamd, &perl("0", Some("spamd childish"))));
        assert!(trust.admits(Service::Spamd, &perl("0", Some("spamd"))));
        assert!(trust.admits(Service::Spamd, &perl("0", Some("spamd child"))));
        assert!(trust.admits(
            Service::Spamd,
            &perl(
                "0",
                Some("/usr/bin/perl -T -w /usr/sbin/spamd --create-prefs -d")
            )
        ));
        assert!(trust.admits(
            Service::Spamd,
            &perl("0", Some("/usr/sbin/spamd --create-prefs"))
        ));
        assert!(trust.admits(Service::Amavis, &perl("0", Some("amavisd (master)"))));
        let versioned = entry("amavis", Some("/usr/bin/perl5.36.0"), Some("110"), None);
        assert!(trust.admits(Service::Amavis, &versioned));
        // The interpreter is not the daemon's binary: not for sshd, not even as root.
        assert!(!trust.admits(Service::Sshd, &perl("0", Some("/usr/sbin/spamd"))));
    }

    #[test]
    fn the_admins_own_executables_count_for_their_service_only() {
        let extra = [(Service::Sshd, "/opt/openssh/sbin/sshd".to_string())];
        let trust = Trust::new(PASSWD, &extra);
        let e = entry("sshd", Some("/opt/openssh/sbin/sshd"), Some("0"), None);
        assert!(trust.admits(Service::Sshd, &e));
        assert!(!trust.admits(Service::Dovecot, &e));
        let user = entry("sshd", Some("/opt/openssh/sbin/sshd"), Some("1000"), None);
        assert!(!trust.admits(Service::Sshd, &user));
    }

    #[test]
    fn the_journal_is_asked_for_every_program_of_the_enabled_services() {
        let all = matches(&|_| true);
        for id in [
            "sshd-auth",
            "vchkpw-pop3s",
            "vchkpw-smtps",
            "vpopmail",
            "postfix/smtpd",
        ] {
            assert!(all.contains(&format!("SYSLOG_IDENTIFIER={id}")), "{id}");
        }
        assert_eq!(
            all.iter()
                .filter(|m| *m == "SYSLOG_IDENTIFIER=vpopmail")
                .count(),
            1
        );
        let plus = all.iter().position(|m| m == "+").expect("a disjunction");
        assert_eq!(
            all[plus + 1..],
            ["_COMM=smtpd", "_COMM=cleanup", "_COMM=postscreen"]
        );
        let ssh = matches(&|g| g == ServiceGroup::Ssh);
        assert_eq!(
            ssh,
            [
                "SYSLOG_IDENTIFIER=sshd",
                "SYSLOG_IDENTIFIER=sshd-session",
                "SYSLOG_IDENTIFIER=sshd-auth",
                "SYSLOG_IDENTIFIER=dropbear"
            ]
        );
        assert!(matches(&|_| false).is_empty());
    }

    #[test]
    fn only_admitted_entries_become_events() {
        let trust = Trust::new(PASSWD, &[]);
        let mut parser = Parser::new(ParseOptions::default(), 1_795_514_400);
        let real = entry("sshd", Some("/usr/sbin/sshd"), Some("0"), None);
        let mut holder = None;
        let event = event_of(&real, &trust, &mut parser, &mut holder).expect("an event");
        assert_eq!(event.kind, Kind::Success);
        assert_eq!(event.ip.to_string(), "203.0.113.5");
        assert_eq!(event.time, Some(1_795_514_400));
        let forged = entry("sshd", Some("/usr/bin/logger"), Some("65534"), None);
        let mut holder = None;
        assert_eq!(event_of(&forged, &trust, &mut parser, &mut holder), None);
    }
}
