/*!
Monitoring: `sentry check` (a Nagios/NRPE plugin, like the original's `check_sentry`)
and `sentry metrics` (Prometheus text format, for node_exporter's textfile collector).

Both only read: the database, hosts.allow, and each backend's current members.
*/

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::actions::Sentry;
use crate::config::Config;
use crate::error::Result;
use crate::logs::{Service, ServiceGroup};
use crate::{setup, tcpd};

/// Nagios plugin states, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

/// A log scan older than this is worth a warning (the logs are not being read).
const SCAN_STALE_SECS: i64 = 86_400;

/// Unread bytes of a log worth a warning: more than a few `--connect`s read (each reads
/// at most `scan::CONNECT_READ_BUDGET`), so a flood outran them or nothing reads the log.
const CURSOR_LAG_WARNING: u64 = 4 * crate::scan::CONNECT_READ_BUDGET;

/// Logs whose unread part has grown past [`CURSOR_LAG_WARNING`].
fn lagging_logs(sentry: &mut Sentry) -> Vec<(State, String)> {
    use std::os::unix::fs::MetadataExt;
    let mut problems = Vec::new();
    for path in sentry.config.log_files() {
        let Ok(Some(cursor)) = sentry.store.cursor(&path.display().to_string()) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let same_file = meta.dev() == cursor.device && meta.ino() == cursor.inode;
        let unread = meta.len().saturating_sub(cursor.offset);
        if same_file && unread > CURSOR_LAG_WARNING {
            problems.push((
                State::Warning,
                format!(
                    "{} MiB of {} not read yet: run `sentry scan` (or enable sentry-scan.timer)",
                    unread >> 20,
                    path.display()
                ),
            ));
        }
    }
    problems
}

/// A deny file with more lines than this is worth a warning: tcpd reads every line for each
/// connection of an address the file does not list, that is for every legitimate login.
/// `benches/tcpd.rs` measured `tcpdmatch` on the 2-core development machine (2026-12):
/// 1,000 lines add 0.41 ms, 10,000 add 4.2 to 6.8 ms, 100,000 add 42 ms (0.42 µs a line);
/// issue 17 measured 0.87 s for 1,000,000 lines by hand. At 5,000 lines that is 2 to 4 ms
/// per connection: beyond it, a firewall set does the same work in constant time.
pub const DENY_FILE_WARN_LINES: usize = 5_000;

/// The tcpwrappers deny file grown past [`DENY_FILE_WARN_LINES`] rules (the admin's own lines
/// included: tcpd reads them too).
fn deny_file_size(config: &Config) -> Vec<Finding> {
    if !config.backend_enabled("tcpwrappers") {
        return Vec::new();
    }
    // Read whole: a size worth warning about is a few MB.
    let Ok(text) = std::fs::read(&config.deny_file) else {
        return Vec::new();
    };
    let rules = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty() && !l.starts_with(b"#"))
        .count();
    if rules <= DENY_FILE_WARN_LINES {
        return Vec::new();
    }
    vec![Finding {
        state: State::Warning,
        problem: format!(
            "the deny file {} has {rules} lines, and tcpd reads them all on every connection \
             (past {DENY_FILE_WARN_LINES}, milliseconds per login)",
            config.deny_file.display()
        ),
        fix: Some(
            "block in the kernel instead: `backends = [\"nftables\"]` (or ipset) under [block] \
             in sentry.toml with its rule (see Firewalls in README), `sentry sync`, then take \
             the deny-file line out of hosts.allow and keep the spawn line"
                .into(),
        ),
    }]
}

/// One thing `check` found, with what fixes it (for `doctor`).
#[derive(Debug, Clone)]
pub struct Finding {
    pub state: State,
    /// One line, for the Nagios status line.
    pub problem: String,
    /// The command or line that fixes it, in words an administrator acts on.
    pub fix: Option<String>,
}

impl From<(State, String)> for Finding {
    fn from((state, problem): (State, String)) -> Finding {
        Finding {
            state,
            problem,
            fix: None,
        }
    }
}

/// Where the admin's (and `systemctl enable`'s) units are.
pub const SYSTEMD_DIR: &str = "/etc/systemd/system";

/// Where `check` looks on this system; the environment can point elsewhere (tests, odd
/// layouts): `SENTRY_SSHD`, `SENTRY_SYSTEMD_DIR`, `SENTRY_CRONTABS` (colon-separated
/// files or directories), `SENTRY_RSYSLOG_DIR`, `SENTRY_PROC` (where running processes are
/// listed).
#[derive(Debug, Clone)]
pub struct System {
    pub sshd: PathBuf,
    pub systemd_dir: PathBuf,
    pub crontabs: Vec<PathBuf>,
    pub rsyslog_dir: PathBuf,
    pub proc_dir: PathBuf,
    /// Where the PAM stacks are (`SENTRY_PAM_DIR`, else /etc/pam.d).
    pub pam_dir: PathBuf,
}

impl System {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> System {
        let path = |var: &str, default: &str| PathBuf::from(env(var).unwrap_or(default.into()));
        System {
            sshd: path("SENTRY_SSHD", "/usr/sbin/sshd"),
            systemd_dir: path("SENTRY_SYSTEMD_DIR", SYSTEMD_DIR),
            crontabs: env("SENTRY_CRONTABS")
                .unwrap_or("/etc/crontab:/etc/cron.d:/var/spool/cron/crontabs".into())
                .split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect(),
            rsyslog_dir: path("SENTRY_RSYSLOG_DIR", "/etc/rsyslog.d"),
            proc_dir: path("SENTRY_PROC", "/proc"),
            pam_dir: path("SENTRY_PAM_DIR", "/etc/pam.d"),
        }
    }
}

fn where_(verdict: &tcpd::Verdict) -> String {
    match &verdict.rule {
        Some((which, rule)) => format!(
            "{} line {} `{}`",
            match which {
                tcpd::Which::Allow => "hosts.allow",
                tcpd::Which::Deny => "hosts.deny",
            },
            rule.line,
            rule.text.trim()
        ),
        None => "no rule (tcpd's default)".into(),
    }
}

/// hosts.allow judged by tcpd's own rules ([`tcpd`]): for each of sentry's daemons, a
/// blocked address must be refused, and every address let in must run this sentry.
fn hosts_allow_findings(config: &Config, hosts_allow: &Path) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut tables = match tcpd::Tables::read(hosts_allow) {
        Ok(t) => t,
        Err(e) => {
            return vec![Finding {
                state: State::Critical,
                problem: format!("cannot read {}: {e}", hosts_allow.display()),
                fix: None,
            }];
        }
    };
    let setup_fix = Some(format!(
        "run `{} setup --write-hosts-allow --hosts-allow {}` (it moves sentry's lines where \
         tcpd reads them first, keeps a backup, and explains what stands in the way)",
        config.installed_binary().display(),
        hosts_allow.display()
    ));
    let probes = tcpd::probe_addresses(&tables);
    let spawn_lines: Vec<setup::SpawnedSentry> = tables
        .allow
        .rules
        .iter()
        .filter_map(|r| r.options.as_deref())
        .filter_map(|o| tcpd::parse_options(o).ok())
        .flatten()
        .filter(|(name, _)| name == "spawn")
        .filter_map(|(_, v)| v.as_deref().and_then(setup::SpawnedSentry::parse))
        .collect();
    for daemon in setup::tcpd_daemons(config) {
        tables.pretend_listed = Some((config.deny_file.clone(), true));
        if let Some((address, verdict)) = probes.iter().find_map(|a| {
            let v = tables.evaluate(&daemon, &tcpd::Client::address(*a));
            (v.access == tcpd::Access::Granted).then_some((a, v))
        }) {
            found.push(Finding {
                state: State::Critical,
                problem: format!(
                    "{} does not refuse {daemon} from addresses in {}: {} lets them in first \
                     (e.g. {address})",
                    hosts_allow.display(),
                    config.deny_file.display(),
                    where_(&verdict)
                ),
                fix: setup_fix.clone(),
            });
        }
        tables.pretend_listed = Some((config.deny_file.clone(), false));
        let unspawned = probes.iter().find_map(|a| {
            let v = tables.evaluate(&daemon, &tcpd::Client::address(*a));
            let ours = v.spawns.iter().any(|s| {
                setup::SpawnedSentry::parse(s).is_some_and(|s| s.problem(config).is_none())
            });
            (v.access == tcpd::Access::Granted && !ours).then_some((a, v))
        });
        let Some((address, verdict)) = unspawned else {
            continue;
        };
        if spawn_lines.is_empty() {
            found.push(Finding {
                state: State::Warning,
                problem: format!(
                    "{} does not spawn sentry --connect (fine only with `sentry scan` on a timer)",
                    hosts_allow.display()
                ),
                fix: setup_fix.clone(),
            });
            continue;
        }
        let why = verdict
            .spawns
            .iter()
            .filter_map(|s| setup::SpawnedSentry::parse(s))
            .find_map(|s| s.problem(config))
            .unwrap_or_else(|| "it matches before sentry's spawn line".into());
        found.push(Finding {
            state: State::Critical,
            problem: format!(
                "{} never runs this sentry for {daemon} from {address}: {} decides, and {why}",
                hosts_allow.display(),
                where_(&verdict)
            ),
            fix: setup_fix.clone(),
        });
    }
    found
}

/// Whether `binary` is linked with libwrap (None: no such file). `ldd` through
/// [`crate::exec`]; without ldd, the library's name among the binary's bytes.
pub fn links_libwrap(binary: &Path) -> Option<bool> {
    if !binary.is_file() {
        return None;
    }
    if let Some(ldd) = crate::exec::find_program("ldd")
        && let Ok(out) = crate::exec::run(
            &ldd,
            &[binary.display().to_string()],
            None,
            std::time::Duration::from_secs(10),
        )
    {
        return Some(String::from_utf8_lossy(&out.stdout).contains("libwrap.so"));
    }
    let bytes = std::fs::read(binary).ok()?;
    Some(bytes.windows(10).any(|w| w == b"libwrap.so"))
}

/// Whether a file (or any file of a directory) has a line, not commented out, holding
/// every one of `words`.
fn mentions(path: &Path, words: &[&str]) -> bool {
    let files: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => vec![path.to_path_buf()],
    };
    files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|text| {
            text.lines()
                .any(|l| !l.trim_start().starts_with('#') && words.iter().all(|w| l.contains(w)))
        })
    })
}

/// What reads the logs besides `--connect`: the scan timer (systemd or cron), the ingest
/// follower (systemd, or rsyslog's omprog).
#[derive(Debug, Clone, Copy)]
pub struct Readers {
    pub timer: bool,
    pub ingest: bool,
}

impl Readers {
    /// Looks at the enabled units and the crontabs as `system` places them.
    pub fn of(system: &System) -> Readers {
        let enabled = |unit: &str, target: &str| {
            system
                .systemd_dir
                .join(format!("{target}.wants"))
                .join(unit)
                .exists()
        };
        Readers {
            timer: enabled("sentry-scan.timer", "timers.target")
                || system
                    .crontabs
                    .iter()
                    .any(|c| mentions(c, &["sentry", "scan"])),
            ingest: enabled("sentry-ingest.service", "multi-user.target")
                || mentions(&system.rsyslog_dir, &["sentry", "ingest"]),
        }
    }

    pub fn any(self) -> bool {
        self.timer || self.ingest
    }
}

/// `--connect` never reads the journal (journalctl costs a login 14 ms, a large first read
/// seconds): where the evidence is in the journal, the scan timer or `ingest` must read it,
/// or nothing is ever decided.
fn journal_findings(config: &Config, system: &System) -> Vec<Finding> {
    if !config.journal_holds_evidence() || Readers::of(system).any() {
        return Vec::new();
    }
    vec![Finding {
        state: State::Critical,
        problem: "the evidence is in the systemd journal, which `--connect` does not read, and \
                  no scan timer or ingest reads it: nothing is decided"
            .into(),
        fix: Some(
            "run `sentry setup` (it enables sentry-scan.timer where the journal is the log), or \
             `systemctl enable --now sentry-scan.timer` (or sentry-ingest.service) from contrib/"
                .into(),
        ),
    }]
}

/// sshd without libwrap ignores hosts.allow: then something else must run sentry.
fn protection_findings(config: &Config, system: &System) -> Vec<Finding> {
    if !config.services.enabled(ServiceGroup::Ssh) || links_libwrap(&system.sshd) != Some(false) {
        return Vec::new();
    }
    let Readers { timer, ingest } = Readers::of(system);
    let firewall = config.backends.iter().any(|b| b != "tcpwrappers");
    let sshd = system.sshd.display();
    if !timer && !ingest && !firewall {
        vec![Finding {
            state: State::Critical,
            problem: format!(
                "{sshd} is not linked with libwrap (it ignores hosts.allow), and no scan timer, \
                 ingest or firewall backend is set up: sentry protects nothing"
            ),
            fix: Some(
                "read the logs on a timer: `systemctl enable --now sentry-scan.timer` (from \
                 contrib/), and block in the kernel: `backends = [\"nftables\"]` under [block] \
                 in sentry.toml, then `sentry sync`"
                    .into(),
            ),
        }]
    } else if !firewall {
        vec![Finding {
            state: State::Warning,
            problem: format!(
                "{sshd} is not linked with libwrap: blocks in the tcpwrappers deny file do not \
                 stop it"
            ),
            fix: Some(
                "add a firewall backend: `backends = [\"tcpwrappers\", \"nftables\"]` under \
                 [block] in sentry.toml, then `sentry sync`"
                    .into(),
            ),
        }]
    } else {
        Vec::new()
    }
}

/// A daemon sentry protects has said nothing sentry understood for this long while it ran:
/// its log format changed, or its log is not among those read.
const SILENT_DAEMON_SECS: i64 = 7 * 86_400;

/// Enabled services whose daemon is running but from which no event was read for a week
/// (once sentry has been reading for that long).
fn silent_daemons(sentry: &mut Sentry, system: &System, now: i64) -> Vec<Finding> {
    let Ok((last_events, Some(since))) = sentry.store.last_events() else {
        return Vec::new();
    };
    if now - since < SILENT_DAEMON_SECS {
        return Vec::new();
    }
    let running = running_programs(&system.proc_dir);
    let mut found = Vec::new();
    // Login daemons only (the table's `watched_process`): they are always running, and
    // any internet-facing one is tried within days.
    let watched = crate::logs::services::TABLE
        .iter()
        .filter_map(|r| Some((r.service, r.watched_process?)));
    for (service, process) in watched {
        if !sentry.config.services.enabled(service.group()) || !running.contains(process) {
            continue;
        }
        let last = (last_events.iter())
            .find(|(name, _)| name == service.name())
            .map_or(0, |(_, at)| *at);
        if now - last > SILENT_DAEMON_SECS {
            found.push(Finding {
                state: State::Warning,
                problem: format!(
                    "{process} is running but no event from it was read for 7 days (a log \
                     format sentry does not understand, or a log it does not read?)"
                ),
                fix: Some(format!(
                    "find its lines: `sentry parse --service {} --unmatched LOG`, and check \
                     that `logs` (or the journal) holds them",
                    service.name()
                )),
            });
        }
    }
    found
}

/// sshd started with `-e` or `-E FILE` logs to standard error (or that file) instead of
/// syslog, and escapes control bytes there with `VIS_SAFE`, which leaves line breaks as
/// they are (OpenSSH's log.c): a client's user name can write whole lines. sentry reads
/// none of it (the journal's `stdout` entries of sshd are refused, a supervisor's log has no
/// program names), so sshd's failures go uncounted; a syslog daemon that copies the
/// journal into a file (rsyslog's imjournal) would pass the forged lines on.
fn sshd_logging_to_stderr(config: &Config, system: &System) -> Vec<Finding> {
    if !config.services.enabled(Service::Sshd.group()) {
        return Vec::new();
    }
    let Some(flag) = sshd_stderr_flag(&system.proc_dir) else {
        return Vec::new();
    };
    // With the PAM hook in sshd's auth stack, its password failures are still counted.
    let hooked = config.evidence.pam
        && ["common-auth", "sshd"].iter().any(|name| {
            std::fs::read_to_string(system.pam_dir.join(name))
                .is_ok_and(|text| crate::pam_stack::has_hook(&text, "auth"))
        });
    let (state, lost) = if hooked {
        (
            State::Warning,
            "only the PAM hook counts its password failures",
        )
    } else {
        (State::Critical, "sentry reads none of sshd's failures")
    };
    vec![Finding {
        state,
        problem: format!(
            "sshd runs with {flag}: it logs to standard error, not syslog, where a client's \
             user name can write whole lines; {lost}"
        ),
        fix: Some(
            "remove -e / -E from sshd's command line (its unit's ExecStart, SSHD_OPTS in \
             /etc/default/ssh, a supervisor's run script) so that it logs through syslog"
                .into(),
        ),
    }]
}

/// `-e` or `-E` when a running sshd (process name `sshd`) was started with it.
fn sshd_stderr_flag(proc_dir: &Path) -> Option<&'static str> {
    processes(proc_dir)
        .filter(|(_, comm)| comm == "sshd")
        .find_map(|(dir, _)| {
            let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).skip(1).collect();
            sshd_flag_of(&args)
        })
}

/// `-e` or `-E` among sshd's arguments, read as its getopt reads them: flags may be
/// grouped (`-De`), and an option that takes a value (`-f FILE`, `-oLogLevel=...`) ends
/// its group.
fn sshd_flag_of(args: &[&[u8]]) -> Option<&'static str> {
    const WITH_VALUE: &[u8] = b"CcEfghkopu";
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        // The first word that is no option ends them, as `--` does.
        let flags = arg.strip_prefix(b"-")?;
        if flags == b"-" {
            return None;
        }
        for (i, &flag) in flags.iter().enumerate() {
            match flag {
                b'e' => return Some("-e"),
                b'E' => return Some("-E"),
                _ if WITH_VALUE.contains(&flag) => {
                    if i + 1 == flags.len() {
                        args.next();
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    None
}

/// The process names (`comm`) of what runs, from `/proc`.
fn running_programs(proc_dir: &Path) -> std::collections::BTreeSet<String> {
    processes(proc_dir).map(|(_, comm)| comm).collect()
}

/// Each running process's directory under `/proc` and its name (`comm`).
fn processes(proc_dir: &Path) -> impl Iterator<Item = (PathBuf, String)> {
    std::fs::read_dir(proc_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            Some((e.path(), comm.trim_end().to_string()))
        })
}

/// Configured log files that do not exist.
fn missing_logs(config: &Config) -> Vec<Finding> {
    let Some(logs) = &config.logs else {
        return Vec::new();
    };
    logs.iter()
        .filter(|p| !p.exists())
        .map(|p| Finding {
            state: State::Warning,
            problem: format!("log file {} does not exist (see `logs`)", p.display()),
            fix: Some(format!(
                "correct `logs` in {} or start the syslog daemon that writes {}",
                config
                    .source
                    .as_deref()
                    .map(|s| s.display().to_string())
                    .unwrap_or_else(|| "sentry.toml".into()),
                p.display()
            )),
        })
        .collect()
}

/// Runs every check; returns the worst state and the one status line Nagios shows.
pub fn check(
    sentry: &mut Sentry,
    hosts_allow: &Path,
    system: &System,
    now: i64,
) -> (State, String) {
    let findings = findings(sentry, hosts_allow, system, now);
    let summary = sentry.store.summary();
    let perfdata = match &summary {
        Ok(s) => format!(
            " | records={} allowed={} blocked={}",
            s.records, s.allowed, s.blocked
        ),
        Err(_) => String::new(),
    };
    let state = worst(&findings);
    let text = if findings.is_empty() {
        match &summary {
            Ok(s) => format!(
                "{} blocked, {} allowed, lists in sync",
                s.blocked, s.allowed
            ),
            Err(e) => first_line(&e.to_string()),
        }
    } else {
        findings
            .iter()
            .map(|f| f.problem.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    // Reasons and errors may come from the fleet or the database: one line, no escapes.
    (
        state,
        format!(
            "SENTRY {} - {}{perfdata}",
            state.label(),
            crate::printable::printable(&text)
        ),
    )
}

fn worst(findings: &[Finding]) -> State {
    findings.iter().map(|f| f.state).max().unwrap_or(State::Ok)
}

/// `sentry doctor`: every finding on its own, with what fixes it.
pub fn doctor(
    sentry: &mut Sentry,
    hosts_allow: &Path,
    system: &System,
    now: i64,
) -> (State, String) {
    let findings = findings(sentry, hosts_allow, system, now);
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str("Nothing to fix: hosts.allow refuses blocked addresses and runs sentry for the others, the database is sound, the logs are read and every deny list matches the database.\n");
    }
    for f in &findings {
        let _ = writeln!(
            out,
            "{}: {}",
            f.state.label(),
            crate::printable::printable(&f.problem)
        );
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "  fix: {}", crate::printable::printable(fix));
        }
    }
    (worst(&findings), out)
}

/// Every finding, worst kinds first within their area.
pub fn findings(
    sentry: &mut Sentry,
    hosts_allow: &Path,
    system: &System,
    now: i64,
) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    let mut problems: Vec<(State, String)> = Vec::new();
    let config = sentry.config.clone();

    if config.backend_enabled("tcpwrappers") {
        found.extend(hosts_allow_findings(&config, hosts_allow));
    }
    found.extend(protection_findings(&config, system));
    found.extend(journal_findings(&config, system));
    found.extend(missing_logs(&config));
    found.extend(deny_file_size(&config));
    found.extend(pam_findings(&config, system));
    found.extend(silent_daemons(sentry, system, now));
    found.extend(sshd_logging_to_stderr(&config, system));

    let binary = config.installed_binary();
    let executable = std::fs::metadata(&binary).is_ok_and(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.is_file() && m.permissions().mode() & 0o111 != 0
    });
    if !executable {
        problems.push((
            State::Critical,
            format!("{} is missing or not executable", binary.display()),
        ));
    }

    match sentry.store.quick_check() {
        Ok(None) => {}
        Ok(Some(fault)) => {
            problems.push((State::Critical, format!("database check failed: {fault}")))
        }
        Err(e) => problems.push((State::Critical, e.to_string())),
    }

    if sentry.config.fleet.is_some() {
        problems.extend(fleet_problems(sentry, now));
    }

    problems.extend(lagging_logs(sentry));

    match sentry.store.lists_pending() {
        Ok(p) if p.changes > 0 => problems.push((
            State::Warning,
            format!(
                "{} listing change{} not yet on every deny list (an update failed; retried \
                 automatically, `sentry sync` retries now)",
                p.changes,
                if p.changes == 1 { "" } else { "s" }
            ),
        )),
        Ok(_) => {}
        Err(e) => problems.push((State::Critical, e.to_string())),
    }

    match sentry.store.last_scan() {
        Ok(Some(at)) if now - at > SCAN_STALE_SECS => problems.push((
            State::Warning,
            format!("no new log line read for {} h", (now - at) / 3600),
        )),
        Ok(Some(_)) => {}
        Ok(None) => problems.push((State::Warning, "the logs have never been read".into())),
        Err(e) => problems.push((State::Critical, e.to_string())),
    }

    for advice in sentry.unused_network_sets() {
        problems.push((State::Warning, advice));
    }

    match sentry.sync(true) {
        Ok(changes) => {
            for c in changes.iter().filter(|c| c.missing() + c.extra() > 0) {
                problems.push((
                    State::Warning,
                    format!(
                        "{} differs from the database ({} missing, {} extra): run `sentry sync`",
                        c.backend,
                        c.missing(),
                        c.extra()
                    ),
                ));
            }
        }
        Err(e) => problems.push((State::Critical, first_line(&e.to_string()))),
    }

    found.extend(problems.into_iter().map(Finding::from));
    found
}

/// The PAM stacks that run `sentry pam` (the shared `common-*` files and the daemons'
/// own): each in a working order (`pam_stack::judge`), both hooks there, and `evidence`
/// listening to them.
fn pam_findings(config: &Config, system: &System) -> Vec<Finding> {
    let fix = "sentry setup --pam prints the lines for this host (Debian: pam-auth-update --enable sentry)";
    let mut found = Vec::new();
    let (mut auth, mut session) = (false, false);
    let names = ["common-auth", "common-session"]
        .into_iter()
        .chain(crate::pam_stack::daemon_services());
    for name in names {
        let Ok(text) = std::fs::read_to_string(system.pam_dir.join(name)) else {
            continue;
        };
        auth |= crate::pam_stack::has_hook(&text, "auth");
        session |= crate::pam_stack::has_hook(&text, "session");
        for (state, problem) in crate::pam_stack::judge(name, &text) {
            found.push(Finding {
                state,
                problem,
                fix: Some(fix.into()),
            });
        }
    }
    let problem = if !config.evidence.pam && (auth || session) {
        Some(
            "the PAM stack runs sentry pam, but evidence leaves out \"pam\": what it tells is ignored",
        )
    } else if !config.evidence.pam {
        None
    } else if auth && !session {
        Some("sentry pam runs for auth but not for session: logins are not recorded from PAM")
    } else if session && !auth {
        Some(
            "sentry pam runs for session but not for auth: failed logins are not recorded from PAM",
        )
    } else if !auth && !config.evidence.logs {
        Some("evidence = [\"pam\"] but no PAM stack runs sentry pam: no address can become trusted")
    } else {
        None
    };
    found.extend(problem.map(|p| Finding {
        state: State::Warning,
        problem: p.into(),
        fix: Some(fix.into()),
    }));
    found
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// The metrics in Prometheus' text exposition format.
/// A fleet exchange that keeps failing, or has not succeeded for a while, is a warning:
/// this host still protects itself, but learns nothing from the others.
fn fleet_problems(sentry: &Sentry, now: i64) -> Vec<(State, String)> {
    let number = |key| sentry.store.meta_number(key).unwrap_or(0);
    let failures = number(crate::fleet::FAILURES);
    let last_ok = number(crate::fleet::LAST_OK);
    let mut problems = Vec::new();
    if failures > 0 {
        let error = sentry
            .store
            .meta(crate::fleet::LAST_ERROR)
            .ok()
            .flatten()
            .unwrap_or_default();
        problems.push((
            State::Warning,
            format!("fleet exchange failed {failures} times in a row: {error}"),
        ));
    } else if last_ok == 0 {
        problems.push((
            State::Warning,
            "fleet configured but never synced (run `sentry sync`; is the timer on?)".into(),
        ));
    } else if now - last_ok > FLEET_STALE_SECS {
        problems.push((
            State::Warning,
            format!("fleet last synced {} min ago", (now - last_ok) / 60),
        ));
    }
    // A flood from a fleet host (a member taken over?) stays news for a day.
    let flood = sentry.store.meta(crate::fleet::FLOOD).ok().flatten();
    if let Some((at, text)) = flood.as_deref().and_then(|f| f.split_once(' '))
        && at
            .parse::<i64>()
            .is_ok_and(|at| now - at < FLEET_FLOOD_SECS)
    {
        problems.push((State::Warning, text.to_string()));
    }
    problems
}

/// How long `check` reports a fleet host's flood.
const FLEET_FLOOD_SECS: i64 = 24 * 60 * 60;

/// Fleet exchanges run every few seconds to minutes; a quarter of an hour without one is news.
const FLEET_STALE_SECS: i64 = 15 * 60;

/// A label value as Prometheus reads it: escaped for the terminal first (so no control
/// character remains), then `\` and `"` escaped as the text format wants.
fn label(text: &str) -> String {
    crate::printable::printable(text)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

pub fn metrics(sentry: &mut Sentry) -> Result<String> {
    let mut out = String::new();
    let s = sentry.store.summary()?;
    let mut gauge = |name: &str, help: &str, value: i64| {
        let _ = writeln!(
            out,
            "# HELP sentry_{name} {help}\n# TYPE sentry_{name} gauge\nsentry_{name} {value}"
        );
    };
    gauge("records", "Addresses sentry has a record of.", s.records);
    gauge("allowed", "Addresses on the allow list.", s.allowed);
    gauge("blocked", "Addresses on the block list.", s.blocked);
    gauge(
        "connections",
        "Connections counted, all addresses.",
        s.connections,
    );
    gauge(
        "lists_pending",
        "Listing changes not yet on every deny list (an update failed; retried automatically).",
        sentry.store.lists_pending()?.changes,
    );
    if sentry.config.fleet.is_some() {
        gauge(
            "fleet_failures",
            "Fleet exchanges failed in a row (0 = the last one worked).",
            sentry.store.meta_number(crate::fleet::FAILURES)?,
        );
        gauge(
            "fleet_last_sync_timestamp_seconds",
            "When the last fleet exchange succeeded (unix time, 0 = never).",
            sentry.store.meta_number(crate::fleet::LAST_OK)?,
        );
    }
    if let Some(at) = sentry.store.last_scan()? {
        gauge(
            "last_scan_timestamp_seconds",
            "When the logs were last read (unix time).",
            at,
        );
    }
    let _ = writeln!(
        out,
        "# HELP sentry_evidence Log events recorded, by service and kind.\n# TYPE sentry_evidence gauge"
    );
    for (service, kind, count) in sentry.store.evidence_totals()? {
        let _ = writeln!(
            out,
            "sentry_evidence{{service=\"{}\",kind=\"{}\"}} {count}",
            label(&service),
            label(&kind)
        );
    }
    // Each backend compared with the database (what `sentry sync` would change); a backend
    // that cannot even be read counts as an error.
    let _ = writeln!(
        out,
        "# HELP sentry_backend_out_of_sync Addresses a backend lacks or has in excess.\n# TYPE sentry_backend_out_of_sync gauge"
    );
    let mut errors = 0;
    match sentry.sync(true) {
        Ok(changes) => {
            for c in changes {
                let _ = writeln!(
                    out,
                    "sentry_backend_out_of_sync{{backend=\"{}\"}} {}",
                    c.backend,
                    c.missing() + c.extra()
                );
            }
        }
        Err(_) => errors = 1,
    }
    let _ = writeln!(
        out,
        "# HELP sentry_backend_errors Whether reading a backend failed just now.\n# TYPE sentry_backend_errors gauge\nsentry_backend_errors {errors}"
    );
    Ok(out)
}
