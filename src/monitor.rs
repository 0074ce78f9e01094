/*!
Monitoring: `sentry check` (a Nagios/NRPE plugin, like the original's `check_sentry`)
and `sentry metrics` (Prometheus text format, for node_exporter's textfile collector).

Both only read: the database, hosts.allow, and each backend's current members.
*/

use std::fmt::Write as _;
use std::path::Path;

use crate::actions::Sentry;
use crate::error::Result;
use crate::store::Store;

/// Nagios plugin states, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    fn label(self) -> &'static str {
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
        let cursor = sentry.store.cursor(&path.display().to_string());
        if matches!(cursor, Ok(None)) && !path.exists() {
            problems.push((
                State::Warning,
                format!("log file {} does not exist (check `logs`)", path.display()),
            ));
            continue;
        }
        let Ok(Some(cursor)) = cursor else {
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

/// Runs every check; returns the worst state and the one status line Nagios shows.
pub fn check(sentry: &mut Sentry, hosts_allow: &Path, now: i64) -> (State, String) {
    let mut problems: Vec<(State, String)> = Vec::new();
    let config = sentry.config.clone();

    if config.backend_enabled("tcpwrappers") {
        let deny = format!("{}", config.deny_file.display());
        match std::fs::read_to_string(hosts_allow) {
            Ok(text) => {
                let lines: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.starts_with('#'))
                    .collect();
                if !lines
                    .iter()
                    .any(|l| l.contains(&deny) && l.ends_with("deny"))
                {
                    problems.push((
                        State::Critical,
                        format!(
                            "{} does not refuse the addresses in {deny} (run `sentry setup`)",
                            hosts_allow.display()
                        ),
                    ));
                }
                if !lines
                    .iter()
                    .any(|l| l.contains("--connect") && l.contains("sentry"))
                {
                    problems.push((
                        State::Warning,
                        format!("{} does not spawn sentry --connect (fine only with `sentry scan` on a timer)", hosts_allow.display()),
                    ));
                }
            }
            Err(e) => problems.push((
                State::Critical,
                format!("cannot read {}: {e}", hosts_allow.display()),
            )),
        }
    }

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
            format!("logs last read {} h ago", (now - at) / 3600),
        )),
        Ok(Some(_)) => {}
        Ok(None) => problems.push((State::Warning, "the logs have never been read".into())),
        Err(e) => problems.push((State::Critical, e.to_string())),
    }

    match sentry.sync(true) {
        Ok(changes) => {
            for c in changes
                .iter()
                .filter(|c| !c.added.is_empty() || !c.removed.is_empty())
            {
                problems.push((
                    State::Warning,
                    format!(
                        "{} differs from the database ({} missing, {} extra): run `sentry sync`",
                        c.backend,
                        c.added.len(),
                        c.removed.len()
                    ),
                ));
            }
        }
        Err(e) => problems.push((State::Critical, first_line(&e.to_string()))),
    }

    let summary = sentry.store.summary();
    let perfdata = match &summary {
        Ok(s) => format!(
            " | records={} allowed={} blocked={}",
            s.records, s.allowed, s.blocked
        ),
        Err(_) => String::new(),
    };
    let state = problems.iter().map(|(s, _)| *s).max().unwrap_or(State::Ok);
    let text = if problems.is_empty() {
        match &summary {
            Ok(s) => format!(
                "{} blocked, {} allowed, lists in sync",
                s.blocked, s.allowed
            ),
            Err(e) => first_line(&e.to_string()),
        }
    } else {
        problems
            .iter()
            .map(|(_, p)| p.as_str())
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
                    c.added.len() + c.removed.len()
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
