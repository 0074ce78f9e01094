/*!
`sentry setup`: the root directory, the database, the deny file, and the two lines
`/etc/hosts.allow` needs.

tcpd stops at the first rule that matches, so where the lines go decides everything:
the deny line (blocked addresses) must come before the spawn line (which counts the
connection and allows everyone else), and both before any rule of the admin's that
lets the same daemon in. `setup --write-hosts-allow` therefore takes sentry's own lines
out (this version's, an older one's in the wrong order, sentry.pl's or sentry.sh's spawn
line) and puts the pair just above the first rule that grants one of sentry's daemons.
It then proves with [`crate::tcpd`] that, for every address the two files name (and a
few others), a blocked address is refused and every address the admin's rules let in
still gets in, now through sentry; that nothing they refused is let in; and that no
command of the admin's rules is silenced. When that cannot hold it changes nothing and
says which rule is in the way.
*/

use std::path::Path;

use crate::atomic_file;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::logs::{ServiceGroup, services};
use crate::monitor::{Readers, System};
use crate::tcpd::{self, Access, Client, Rule, Table, Tables, Verdict};

/// The two hosts.allow lines for this configuration and these tcpd daemon names, deny
/// first. tcpd runs the spawn line without sentry's environment, so a root or
/// configuration file other than the defaults is passed on the command line.
pub fn hosts_allow_lines(config: &Config, daemons: &[String]) -> [String; 2] {
    let daemons = daemons.join(", ");
    let mut options = String::new();
    if config.root != Path::new(crate::config::DEFAULT_ROOT) {
        options.push_str(&format!(" --root {}", config.root.display()));
    }
    if let Some(file) = &config.source
        && *file != config.root.join(crate::config::CONFIG_FILE_NAME)
    {
        options.push_str(&format!(" --config {}", file.display()));
    }
    [
        format!("{daemons} : {} : deny", config.deny_file.display()),
        format!(
            "{daemons} : ALL : spawn {}{options} --connect --ip=%a : allow",
            config.installed_binary().display()
        ),
    ]
}

/// The tcpd daemon names of the enabled services, as their programs call libwrap (the
/// table of services' `tcpd`): `sshd`; for ftp each of vsftpd, proftpd and in.ftpd that
/// is installed; for mua dovecot's `imap` and `pop3` when dovecot is installed. smtp
/// daemons do not use libwrap. `sshd` when none is enabled.
pub fn tcpd_daemons(config: &Config) -> Vec<String> {
    let mut daemons = Vec::new();
    for group in ServiceGroup::ALL {
        if !config.services.enabled(group) {
            continue;
        }
        let rows = services::TABLE.iter().filter(|r| r.group == group);
        for tcpd in rows.filter_map(|r| r.tcpd.as_ref()) {
            if tcpd
                .installed
                .is_none_or(|p| crate::exec::find_program(p).is_some())
            {
                daemons.extend(tcpd.daemons.iter().map(|d| d.to_string()));
            }
        }
    }
    if daemons.is_empty() {
        daemons.push("sshd".to_string());
    }
    daemons
}

/// The comment `setup` writes above its lines (and recognises as its own).
const MARKER: &str =
    "# sentry: refuse blocked addresses, count every other connection (added by `sentry setup`)";

/// What `setup` would do to hosts.allow.
#[derive(Debug)]
pub struct Edit {
    /// The new file.
    pub text: String,
    /// A diff-like listing: `- N: line` removed, `+ N: line` added (new line numbers).
    pub listing: Vec<String>,
    /// Things the admin should know (rules now below sentry's lines).
    pub notes: Vec<String>,
}

/// Whether `rule` is one sentry wrote: the deny line for this deny file, or a spawn line
/// running any sentry (this one, another root's, sentry.pl, sentry.sh) with `--connect`.
fn is_sentrys(rule: &Rule, config: &Config) -> bool {
    let options = rule
        .options
        .as_deref()
        .and_then(|o| tcpd::parse_options(o).ok())
        .unwrap_or_default();
    let clients: Vec<&str> = rule
        .clients
        .split([' ', '\t', ',', '\r', '\n'])
        .filter(|t| !t.is_empty())
        .collect();
    let deny_line = clients == [config.deny_file.to_string_lossy()]
        && options.iter().map(|(n, _)| n.as_str()).eq(["deny"]);
    let spawns_a_sentry = options.iter().any(|(name, value)| {
        name == "spawn"
            && value
                .as_deref()
                .is_some_and(|v| SpawnedSentry::parse(v).is_some())
    });
    deny_line || spawns_a_sentry
}

/// A `spawn` command that runs some sentry's `--connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnedSentry {
    pub program: std::path::PathBuf,
    /// `--root DIR` when given.
    pub root: Option<std::path::PathBuf>,
}

impl SpawnedSentry {
    pub fn parse(command: &str) -> Option<SpawnedSentry> {
        let words: Vec<&str> = command.split_whitespace().collect();
        let (program, args) = words.split_first()?;
        let name = Path::new(program)
            .file_name()?
            .to_string_lossy()
            .to_string();
        if !name.starts_with("sentry") {
            return None;
        }
        let connects = args
            .iter()
            .any(|a| matches!(*a, "-c" | "--connect" | "connect"));
        if !connects {
            return None;
        }
        let mut root = None;
        for (i, a) in args.iter().enumerate() {
            if let Some(dir) = a.strip_prefix("--root=") {
                root = Some(dir.into());
            } else if *a == "--root" {
                root = args.get(i + 1).map(|d| d.into());
            }
        }
        Some(SpawnedSentry {
            program: program.into(),
            root,
        })
    }

    /// Why this spawn does not count connections for `config`'s sentry, if it does not.
    pub fn problem(&self, config: &Config) -> Option<String> {
        let binary = config.installed_binary();
        let same = |a: &Path, b: &Path| {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        };
        if !same(&self.program, &binary) {
            return Some(format!(
                "it runs {}, not {}",
                self.program.display(),
                binary.display()
            ));
        }
        let root = self
            .root
            .clone()
            .unwrap_or_else(|| crate::config::DEFAULT_ROOT.into());
        if !same(&root, &config.root) {
            return Some(format!(
                "it counts into the root {}, not {}",
                root.display(),
                config.root.display()
            ));
        }
        let executable = std::fs::metadata(&self.program).is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        });
        if !executable {
            return Some(format!(
                "{} is missing or not executable",
                self.program.display()
            ));
        }
        None
    }
}

/// Plans the edit of hosts.allow (`allow_text`, beside `deny`): sentry's lines out, the
/// pair in above the first rule that grants one of `daemons`. `Ok(None)`: already right.
/// Refuses (Input error, nothing written) when the result would let in an address the
/// admin's rules refuse, lose a command of theirs, or let a blocked address in.
pub fn plan(
    config: &Config,
    daemons: &[String],
    allow_path: &Path,
    allow_text: &str,
    deny: &Table,
) -> Result<Option<Edit>> {
    let lines = hosts_allow_lines(config, daemons);
    let physical: Vec<&str> = allow_text.lines().collect();
    let original = Table::parse(allow_path, allow_text);
    let mut removed = vec![false; physical.len()];
    for rule in original.rules.iter().filter(|r| is_sentrys(r, config)) {
        let end = (rule.line - 1 + rule.lines).min(physical.len());
        removed[rule.line - 1..end].fill(true);
    }
    for (i, line) in physical.iter().enumerate() {
        if line.starts_with("# sentry:") {
            removed[i] = true;
        }
    }
    let kept: Vec<(usize, &str)> = physical
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed[*i])
        .map(|(i, l)| (i, *l))
        .collect();
    let kept_text: String = kept.iter().map(|(_, l)| format!("{l}\n")).collect();
    let admin = Tables::new(Table::parse(allow_path, &kept_text), deny.clone());

    // The first rule of the admin's that lets one of our daemons in, for some client.
    let probes = tcpd::probe_addresses(&Tables::new(original.clone(), deny.clone()));
    let grants = |rule: &Rule| {
        daemons.iter().any(|d| {
            probes.iter().any(|a| {
                let client = Client::address(*a);
                let mut single = Tables::new(
                    Table {
                        path: allow_path.to_path_buf(),
                        rules: vec![rule.clone()],
                    },
                    Table::default(),
                );
                single.pretend_listed = Some((config.deny_file.clone(), false));
                let verdict = single.evaluate(d, &client);
                verdict.rule.is_some() && verdict.access == Access::Granted
            })
        })
    };
    let first_grant = admin.allow.rules.iter().find(|r| grants(r));
    // Where in `kept` the pair goes: above that rule, else after the leading comments
    // of a file with no rule, else at the end.
    let at = match first_grant {
        Some(rule) => rule.line - 1,
        None if admin.allow.rules.is_empty() => kept
            .iter()
            .position(|(_, l)| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
            .unwrap_or(kept.len()),
        None => kept.len(),
    };
    let mut new_lines: Vec<String> = kept[..at].iter().map(|(_, l)| l.to_string()).collect();
    let inserted_at = new_lines.len();
    new_lines.push(MARKER.to_string());
    new_lines.extend(lines.iter().cloned());
    new_lines.extend(kept[at..].iter().map(|(_, l)| l.to_string()));
    let text: String = new_lines.iter().map(|l| format!("{l}\n")).collect();
    if text == allow_text {
        return Ok(None);
    }

    let after = Tables::new(Table::parse(allow_path, &text), deny.clone());
    check_edit(config, daemons, &admin, after, &probes)?;

    let mut listing = Vec::new();
    for (i, line) in physical.iter().enumerate().filter(|(i, _)| removed[*i]) {
        listing.push(format!("- {}: {line}", i + 1));
    }
    for (i, line) in new_lines
        .iter()
        .enumerate()
        .skip(inserted_at)
        .take(1 + lines.len())
    {
        listing.push(format!("+ {}: {line}", i + 1));
    }
    let notes = match first_grant {
        Some(rule) => vec![format!(
            "`{}` now comes after sentry's lines: the clients it lets in are counted too \
             (add them to never_block in sentry.toml if they must never be blocked)",
            rule.text.trim()
        )],
        None => Vec::new(),
    };
    Ok(Some(Edit {
        text,
        listing,
        notes,
    }))
}

/// The proof that the new file does what it should, probe by probe, or the explanation
/// of what is in the way.
fn check_edit(
    config: &Config,
    daemons: &[String],
    admin: &Tables,
    mut after: Tables,
    probes: &[std::net::IpAddr],
) -> Result<()> {
    let mut admin_unlisted = admin.clone();
    admin_unlisted.pretend_listed = Some((config.deny_file.clone(), false));
    let where_ = |v: &Verdict| match &v.rule {
        Some((which, rule)) => format!(
            "{} line {} (`{}`)",
            match which {
                tcpd::Which::Allow => "hosts.allow",
                tcpd::Which::Deny => "hosts.deny",
            },
            rule.line,
            rule.text.trim()
        ),
        None => "no rule".to_string(),
    };
    for daemon in daemons {
        for address in probes {
            let client = Client::address(*address);
            after.pretend_listed = Some((config.deny_file.clone(), true));
            let blocked = after.evaluate(daemon, &client);
            if blocked.access == Access::Granted {
                return Err(Error::Input(format!(
                    "cannot make hosts.allow refuse blocked addresses: {} lets {daemon} from \
                     {address} in before sentry's deny line could refuse it",
                    where_(&blocked)
                )));
            }
            after.pretend_listed = Some((config.deny_file.clone(), false));
            let now = after.evaluate(daemon, &client);
            let before = admin_unlisted.evaluate(daemon, &client);
            let ours = now.spawns.iter().any(|s| {
                SpawnedSentry::parse(s).is_some_and(|s| s.program == config.installed_binary())
            });
            match (before.access, now.access) {
                (Access::Denied, Access::Granted) => {
                    return Err(Error::Input(format!(
                        "{} refuses {daemon} from {address}, and sentry's spawn line would let \
                         it in: setup never lets in what tcpd refused. Refuse those clients in \
                         hosts.allow above where sentry's lines go (a rule ending in `: deny`), \
                         or leave hosts.allow as it is and read the logs with `sentry scan` on \
                         a timer; then run setup again",
                        where_(&before)
                    )));
                }
                (Access::Granted, Access::Granted) if !before.spawns.is_empty() => {
                    return Err(Error::Input(format!(
                        "{} runs its own command for {daemon} clients; tcpd runs only the first \
                         matching rule's, so sentry's spawn line above it would silence it. \
                         Add sentry's command to that rule yourself (`: spawn {} --connect \
                         --ip=%a`) below the deny line, or move the rule's command elsewhere",
                        where_(&before),
                        config.installed_binary().display()
                    )));
                }
                (Access::Granted, Access::Granted) if ours => {}
                (b, n) if b == n && n != Access::Granted => {}
                (b, n) => {
                    return Err(Error::Input(format!(
                        "after the edit, {daemon} from {address} would be {} by {} (before: {} \
                         by {}); hosts.allow left as it is",
                        n.word(),
                        where_(&now),
                        b.word(),
                        where_(&before)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Writes the planned edit, keeping the previous file as `PATH.sentry-backup`. Returns
/// the edit, or `None` when hosts.allow was already right (nothing written).
pub fn write_hosts_allow(path: &Path, config: &Config, daemons: &[String]) -> Result<Option<Edit>> {
    let old = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read", path, &e)),
    };
    let deny_path = path.with_file_name("hosts.deny");
    let deny = Table::read(&deny_path).map_err(|e| Error::io("read", &deny_path, &e))?;
    let Some(edit) = plan(config, daemons, path, &old, &deny)? else {
        return Ok(None);
    };
    let mode = match std::fs::metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            let backup = path.with_file_name(format!(
                "{}.sentry-backup",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            std::fs::copy(path, &backup).map_err(|e| Error::io("back up", path, &e))?;
            meta.permissions().mode() & 0o7777
        }
        Err(_) => 0o644,
    };
    atomic_file::replace(path, edit.text.as_bytes(), mode)?;
    Ok(Some(edit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_toml("", Path::new("/var/db/sentry")).expect("default config")
    }

    fn sshd() -> Vec<String> {
        vec!["sshd".to_string()]
    }

    #[test]
    fn inserts_after_leading_comments_once_and_keeps_a_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts.allow");
        std::fs::write(
            &path,
            "# /etc/hosts.allow\n#\n\nALL : 192.0.2.0/24 : allow\n",
        )
        .expect("seed");
        let lines = hosts_allow_lines(&config(), &sshd());
        assert!(
            write_hosts_allow(&path, &config(), &sshd())
                .expect("first write")
                .is_some()
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let body: Vec<&str> = text.lines().collect();
        assert_eq!(body[0..3], ["# /etc/hosts.allow", "#", ""]);
        assert_eq!(body[4], lines[0]);
        assert_eq!(body[5], lines[1]);
        assert_eq!(body[6], "ALL : 192.0.2.0/24 : allow");
        assert!(dir.path().join("hosts.allow.sentry-backup").exists());
        assert!(
            write_hosts_allow(&path, &config(), &sshd())
                .expect("second write")
                .is_none(),
            "idempotent"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    }

    #[test]
    fn sentrys_own_lines_are_moved_not_added() {
        let lines = hosts_allow_lines(&config(), &sshd());
        for old in [
            format!("{}\n", lines[0]),
            "sshd : ALL : spawn /var/db/sentry/sentry.pl -c %a : allow\n\
             sshd : /var/db/sentry/hosts.deny : deny\n"
                .to_string(),
            format!("{}\n{}\n", lines[1], lines[0]),
        ] {
            let edit = plan(
                &config(),
                &sshd(),
                Path::new("hosts.allow"),
                &old,
                &Table::default(),
            )
            .expect("plan")
            .expect("an edit");
            let rules: Vec<&str> = edit.text.lines().filter(|l| !l.starts_with('#')).collect();
            assert_eq!(rules, lines, "from:\n{old}");
            assert!(edit.listing.iter().any(|l| l.starts_with("- ")), "{old}");
        }
    }

    #[test]
    fn refuses_to_let_in_what_hosts_deny_refused() {
        let deny = Table::parse(Path::new("hosts.deny"), "sshd : ALL\n");
        let err = plan(
            &config(),
            &sshd(),
            Path::new("hosts.allow"),
            "sshd : 192.0.2.0/24 : allow\n",
            &deny,
        )
        .expect_err("refused");
        assert!(err.to_string().contains("hosts.deny line 1"), "{err}");
    }
}

/// The scan timer's two units (contrib's, shipped in the binary), running this root's
/// sentry with the options hosts.allow's spawn line carries.
pub fn scan_units(config: &Config) -> [(&'static str, String); 2] {
    let spawn = &hosts_allow_lines(config, &[])[1];
    // The spawn line's `BINARY [--root R] [--config C] --connect`, as the timer's command.
    let command = spawn
        .split_once("spawn ")
        .and_then(|(_, rest)| rest.split_once(" --connect"))
        .map(|(command, _)| command.to_string())
        .unwrap_or_else(|| config.installed_binary().display().to_string());
    [
        (
            "sentry-scan.service",
            include_str!("../contrib/sentry-scan.service")
                .replace("/var/db/sentry/sentry scan", &format!("{command} scan")),
        ),
        (
            "sentry-scan.timer",
            include_str!("../contrib/sentry-scan.timer").to_string(),
        ),
    ]
}

/// Where a distribution's package installs units (`systemctl enable` links to them).
const PACKAGED_UNITS: [&str; 2] = ["/lib/systemd/system", "/usr/lib/systemd/system"];

/// What [`enable_journal_reader`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum JournalReader {
    /// The evidence is in log files (`--connect` reads them), or something already reads
    /// the journal.
    NotNeeded,
    /// The scan timer was enabled in `systemd_dir` (and started when systemd runs there).
    Enabled { started: bool },
    /// No systemd directory: the admin must schedule `sentry scan` another way.
    NoSystemd,
}

/// On a host whose evidence is in the journal, enables the scan timer: `--connect` never
/// reads the journal (see `scan::scan`), so without it nothing would be decided. The units
/// are linked from where the package put them, else written into `systemd_dir` for this
/// root; systemd is told only when it runs and `systemd_dir` is its own (tests and other
/// layouts point `SENTRY_SYSTEMD_DIR` elsewhere).
pub fn enable_journal_reader(config: &Config, system: &System) -> Result<JournalReader> {
    if !config.journal_holds_evidence() || Readers::of(system).any() {
        return Ok(JournalReader::NotNeeded);
    }
    let dir = &system.systemd_dir;
    if !dir.is_dir() {
        return Ok(JournalReader::NoSystemd);
    }
    let write_error = |path: &Path, e: std::io::Error| {
        Error::Runtime(format!("cannot write {}: {e}", path.display()))
    };
    let mut timer = dir.join("sentry-scan.timer");
    for (name, text) in scan_units(config) {
        let ours = dir.join(name);
        let packaged = (PACKAGED_UNITS.iter())
            .map(|d| Path::new(d).join(name))
            .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t == text));
        let unit = match packaged {
            Some(path) if !ours.exists() => path,
            _ => {
                // An admin's own unit of that name is theirs to keep.
                if !ours.exists() {
                    atomic_file::replace(&ours, text.as_bytes(), 0o644)?;
                }
                ours
            }
        };
        if name.ends_with(".timer") {
            timer = unit;
        }
    }
    let wants = dir.join("timers.target.wants");
    std::fs::create_dir_all(&wants).map_err(|e| write_error(&wants, e))?;
    let link = wants.join("sentry-scan.timer");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(&timer, &link).map_err(|e| write_error(&link, e))?;
    }
    let systemd_runs = Path::new("/run/systemd/system").is_dir()
        && dir.as_path() == Path::new(crate::monitor::SYSTEMD_DIR);
    let started = systemd_runs && start_timer();
    Ok(JournalReader::Enabled { started })
}

/// `systemctl daemon-reload` and start the timer now (enabled, it would wait for a boot).
fn start_timer() -> bool {
    let Some(systemctl) = crate::exec::find_program("systemctl") else {
        return false;
    };
    let timeout = std::time::Duration::from_secs(30);
    [&["daemon-reload"][..], &["start", "sentry-scan.timer"]]
        .iter()
        .all(|args| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            crate::exec::run(&systemctl, &args, None, timeout).is_ok_and(|c| c.status.success())
        })
}
