/*!
The command line: both spellings of every action, and the one place that maps
outcomes to exit codes.

sentry has two grammars that must both work forever:
- the legacy flags that `/etc/hosts.allow` files and scripts already call
  (`--ip=IP --connect`, `--whitelist`, `--blacklist`, `-r -v`, in any order);
- subcommands (`sentry block IP`, `sentry report --json`).

Both are parsed by the same clap definition ([`Args`]) and turned, in one place
([`Args::into_invocation`]), into the same [`Action`], so a legacy alias can never
drift from its modern twin. Help, and later the man page and completions, come
from these same definitions.
*/

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::error::{ContextKind, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand};

use crate::actions::{Patience, Sentry};
use crate::commands::{self, ServiceFilter};
use crate::config::{Config, Overrides};
use crate::error::{EXIT_OK, EXIT_USAGE, Error, Result};
use crate::ip::ClientIp;
use crate::report::{self, Report};
use crate::scan;
use crate::setup;
use crate::store::IpRecord;

const LEGACY: &str = "Legacy form (sentry.pl / sentry.sh)";

/// `sentry --help` and `-h` keep the originals' layout (scripts and their test suites look
/// for the NAME line and the SYNOPSIS and OPTIONS headings); the 7-column indent lines the
/// synopsis up with the continuation lines of `override_usage`. Subcommands keep clap's.
const TOP_HELP: &str = "\
{name} - {about-with-newline}
SYNOPSIS
       {usage}

COMMANDS
{subcommands}

OPTIONS
{options}{after-help}";

/// `println!` that returns an error instead of panicking: a reader that went away
/// (`sentry setup | head -1`) ends the command quietly, as ripgrep does.
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(|e| Error::output(&e))
    };
}

/// safe and effective protection against bruteforce attacks
///
/// Run by tcpwrappers on every connection (`sentry --connect --ip=%a`), sentry counts
/// connections per address in a small SQLite database, and keeps a tcpwrappers deny file
/// of blocked addresses. Exit codes: 0 ok, 1 bad usage or input (nothing changed),
/// 2 runtime failure. `--connect` lets the connection through on runtime failures.
#[derive(Debug, Parser)]
#[command(
    name = "sentry",
    version,
    disable_help_subcommand = true,
    override_usage = "sentry --ip=IP [--connect | --allow | --block | --delist] [-v]\n       \
                      sentry --report [-v] [--ip=IP] [--json]\n       \
                      sentry <COMMAND> [ARGS]",
    help_template = TOP_HELP,
    after_help = "The options --ip, --connect, --allow, --block, --delist, --report, --dbdump and \
                  --update are the legacy form (sentry.pl / sentry.sh) of the commands above.\n\n\
                  EXAMPLES\n  sentry --ip=192.0.2.7 --connect\n  sentry --ip=192.0.2.7 --whitelist\n  \
                  sentry --report --verbose --ip=192.0.2.7"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// The client address, for the legacy actions
    #[arg(long, value_name = "IP", help_heading = LEGACY)]
    ip: Option<String>,

    /// Count a connection from --ip (what hosts.allow runs)
    #[arg(short = 'c', long, group = "legacy_action", help_heading = LEGACY)]
    connect: bool,

    /// Allow --ip from now on
    #[arg(long, visible_alias = "whitelist", group = "legacy_action", help_heading = LEGACY)]
    allow: bool,

    /// Block --ip
    #[arg(long, visible_alias = "blacklist", group = "legacy_action", help_heading = LEGACY)]
    block: bool,

    /// Take --ip off the allow and block lists
    #[arg(long, group = "legacy_action", help_heading = LEGACY)]
    delist: bool,

    /// Print the summary report (with --ip and -v: that address's record too)
    #[arg(short = 'r', long, group = "legacy_action", help_heading = LEGACY)]
    report: bool,

    /// Print every record, tab-separated (same as `sentry dump`)
    #[arg(long = "dbdump", group = "legacy_action", help_heading = LEGACY)]
    dbdump: bool,

    /// Install this binary at $ROOT/sentry if it is newer (same as `sentry update`)
    #[arg(long, group = "legacy_action", help_heading = LEGACY)]
    update: bool,

    /// With --report: print JSON
    #[arg(long, help_heading = LEGACY)]
    json: bool,

    /// With --block: block even an address on the never-block list
    #[arg(long, help_heading = LEGACY)]
    force: bool,

    #[command(flatten)]
    global: GlobalArgs,
}

/// Options every form accepts.
#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Say what sentry is doing (on stderr)
    #[arg(short, long, global = true)]
    verbose: bool,

    /// Root directory holding sentry.db and hosts.deny [default: $ROOT_DIR or /var/db/sentry]
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Configuration file [default: $ROOT/sentry.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Count a connection; run by tcpd, tcpserver or pam_exec on every login attempt.
    /// Without IP, the address is taken from $TCPREMOTEIP or $PAM_RHOST.
    Connect { ip: Option<String> },
    /// Allow an address from now on, and take it off every deny list
    #[command(visible_alias = "whitelist")]
    Allow { ip: String },
    /// Block an address and add it to every enabled deny list
    #[command(visible_alias = "blacklist")]
    Block {
        ip: String,
        /// Block even an address on the never-block list
        #[arg(long)]
        force: bool,
    },
    /// Take an address off the allow and block lists
    Delist { ip: String },
    /// Print the summary report, and one address's record and evidence when IP is given
    Report {
        ip: Option<String>,
        /// Print one JSON object instead of text
        #[arg(long)]
        json: bool,
        /// With IP: also print the log lines about it
        #[arg(long)]
        lines: bool,
        /// Also show the N addresses with most connections and most naughty attempts,
        /// evidence per service, and listings per day for the last 30 days
        #[arg(long, value_name = "N")]
        top: Option<u32>,
    },
    /// Test the log parsers on files (or stdin): one JSON object per recognised line
    ///
    /// Like fail2ban-regex: reads no database and changes nothing. A summary per service
    /// and kind goes to stderr.
    Parse {
        /// Only this service (sshd, dovecot, vsftpd, ...) or group (ssh, ftp, mua, smtp);
        /// lines without a syslog header are then read as bare messages of it
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        /// Print the lines of known programs that no rule recognised, instead of events
        #[arg(long)]
        unmatched: bool,
        /// Log files ('-' or none: stdin); .gz files are decompressed
        files: Vec<PathBuf>,
    },
    /// Read new lines from every log source and decide (for cron or a systemd timer)
    Scan {
        /// Print the decisions without making them; stores nothing (the next scan reads
        /// the same lines)
        #[arg(long)]
        dry_run: bool,
        /// Forget the stored evidence and re-read every log, rotated and compressed ones too
        #[arg(long)]
        from_start: bool,
    },
    /// Read log lines on stdin and decide as they arrive (rsyslog omprog, journalctl -f -o json)
    Ingest,
    /// Make every enabled backend's list equal to the database's blocked set; with [fleet], exchange with the other hosts
    ///
    /// For boot and after a firewall reload, when kernel sets are empty: adds what is
    /// missing, removes what sentry put there and no longer blocks, prints what changed.
    ///
    /// With a [fleet] section, then exchanges decisions and evidence with the fleet's
    /// PostgreSQL server (see README "Fleet mode").
    Sync {
        /// Print what would change without changing it (no fleet exchange)
        #[arg(long)]
        dry_run: bool,
        /// Only the fleet exchange, not the comparison of every backend (for a frequent timer)
        #[arg(long, conflicts_with = "dry_run")]
        fleet_only: bool,
    },
    /// Lift every block older than expire_block_days, everywhere (for a daily timer)
    Expire,
    /// Nagios/NRPE plugin: one status line; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
    ///
    /// Judges hosts.allow and hosts.deny by tcpd's rules: CRITICAL when a blocked address
    /// would be let in or an address let in would not run this sentry (wrong order, a rule
    /// above, a spawn line for another root or a missing binary). CRITICAL too when sshd is
    /// not linked with libwrap and no scan timer, ingest or firewall backend is set up.
    /// Also checks that $ROOT/sentry is executable, that the database passes SQLite's quick
    /// check, that the configured logs exist and were read in the last day, and that every
    /// backend holds what the database blocks. `sentry doctor` says how to fix each finding.
    Check {
        /// The hosts.allow file to inspect (hosts.deny is read beside it)
        #[arg(long, value_name = "PATH", default_value = "/etc/hosts.allow")]
        hosts_allow: PathBuf,
    },
    /// What `check` finds, one finding per paragraph, each with the command or line that fixes it
    ///
    /// For an administrator at a terminal: whether hosts.allow (judged by tcpd's own rules)
    /// refuses blocked addresses and runs this sentry for every other one, whether sshd
    /// reads hosts.allow at all (libwrap) and what else runs sentry, missing log files, and
    /// everything `check` reports. Exit codes as `check`.
    Doctor {
        /// The hosts.allow file to inspect (hosts.deny is read beside it)
        #[arg(long, value_name = "PATH", default_value = "/etc/hosts.allow")]
        hosts_allow: PathBuf,
    },
    /// Print metrics in Prometheus text format (for node_exporter's textfile collector)
    Metrics,
    /// Install this binary at $ROOT/sentry (the path hosts.allow runs) if it is newer
    ///
    /// With `update_url` in the configuration, the release manifest there is fetched over
    /// HTTPS with its signature (update_url + ".sig", checked against `update_public_key`),
    /// and the binary it names is installed once its SHA-256 matches. The old binary is
    /// kept as $ROOT/sentry.old; the replacement is atomic.
    Update {
        /// Install even if the installed version is the same or newer (never skips the
        /// signature)
        #[arg(long)]
        force: bool,
    },
    /// Print the man page (roff) generated from this command line's definition
    Manpage,
    /// Print shell completions: sentry completions bash|zsh|fish > FILE
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print every record as `ip<TAB>seen<TAB>allow<TAB>block`
    Dump,
    /// Import records from an older sentry, fail2ban, DenyHosts or a plain list of addresses
    ///
    /// Without options: the one-file-per-address tree ($ROOT/seen, white, black), which is
    /// also imported automatically the first time it is found. With --dump: the output of
    /// `sentry dump`. '-' reads stdin (--dump, --list, --hosts-deny). Entries that are not
    /// one address, or are on the never-block list, are named and skipped.
    Import {
        /// A file written by `sentry dump`
        #[arg(long, value_name = "FILE", group = "source")]
        dump: Option<PathBuf>,
        /// A plain list of addresses, one per line (`#` comments)
        #[arg(long, value_name = "FILE", group = "source")]
        list: Option<PathBuf>,
        /// A tcpwrappers deny file, e.g. DenyHosts' /etc/hosts.deny
        #[arg(long, value_name = "FILE", group = "source")]
        hosts_deny: Option<PathBuf>,
        /// fail2ban's database (its `bans` table), e.g. /var/lib/fail2ban/fail2ban.sqlite3
        #[arg(long, value_name = "FILE", group = "source")]
        fail2ban: Option<PathBuf>,
        /// sentry.pl's DBM file, as sentry.pl named it (e.g. /var/db/sentry/sentry.dbm); read
        /// through perl
        #[arg(long, value_name = "FILE", group = "source")]
        dbm: Option<PathBuf>,
        /// With --list: put the addresses on this list
        #[arg(long = "as", value_name = "LIST", default_value = "block", value_parser = ["block", "allow"])]
        as_list: String,
    },
    /// Create the root directory, database and deny file, and show the hosts.allow lines
    Setup {
        /// Insert the two lines near the top of hosts.allow (keeps a backup)
        #[arg(long)]
        write_hosts_allow: bool,
        /// The hosts.allow file to edit
        #[arg(long, value_name = "PATH", default_value = "/etc/hosts.allow")]
        hosts_allow: PathBuf,
    },
}

/// One validated request, whichever grammar it was spelled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Connect(String),
    Allow(String),
    Block {
        ip: String,
        force: bool,
    },
    Delist(String),
    Report {
        ip: Option<String>,
        json: bool,
        lines: bool,
        top: Option<u32>,
    },
    Parse {
        service: Option<String>,
        unmatched: bool,
        files: Vec<PathBuf>,
    },
    Scan {
        dry_run: bool,
        from_start: bool,
    },
    Ingest,
    Sync {
        dry_run: bool,
        fleet_only: bool,
    },
    Expire,
    Check {
        hosts_allow: PathBuf,
    },
    Doctor {
        hosts_allow: PathBuf,
    },
    Metrics,
    Manpage,
    Completions {
        shell: clap_complete::Shell,
    },
    Update {
        force: bool,
    },
    Dump,
    ImportFiles,
    ImportDump(PathBuf),
    ImportForeign {
        kind: ForeignList,
        path: PathBuf,
    },
    ImportDbm(PathBuf),
    Setup {
        write_hosts_allow: bool,
        hosts_allow: PathBuf,
    },
}

/// Lists of other tools that `sentry import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignList {
    /// One address per line, imported as blocked (or allowed).
    Plain { allow: bool },
    /// A tcpwrappers deny file (DenyHosts, the originals): blocked.
    HostsDeny,
    /// fail2ban's `bans` table: blocked since their time of ban.
    Fail2ban,
}

/// An action plus the options that shape how it runs.
#[derive(Debug)]
pub struct Invocation {
    pub action: Action,
    pub verbose: bool,
    pub overrides: Overrides,
}

impl Args {
    /// Maps both grammars onto one [`Action`]; `env` supplies $TCPREMOTEIP / $PAM_RHOST.
    pub fn into_invocation(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Invocation> {
        let from_environment = || {
            env("TCPREMOTEIP")
                .filter(|v| !v.is_empty())
                .or_else(|| env("PAM_RHOST").filter(|v| !v.is_empty()))
        };
        let needs_ip = |flag: &str, ip: Option<String>| {
            ip.ok_or_else(|| {
                Error::Input(format!("{flag} needs an address: sentry --ip=IP {flag}"))
            })
        };
        let legacy_used = self.ip.is_some()
            || self.connect
            || self.allow
            || self.block
            || self.delist
            || self.report
            || self.dbdump
            || self.update
            || self.json
            || self.force;
        if self.command.is_some() && legacy_used {
            return Err(Error::Input(
                "the legacy flags (--ip, --connect, --block, ...) cannot be combined with a subcommand; \
                 write either `sentry --ip=IP --block` or `sentry block IP`"
                    .into(),
            ));
        }
        let action = match self.command {
            Some(Command::Connect { ip }) => Action::Connect(ip.or_else(from_environment).ok_or_else(|| {
                Error::Input("connect needs an address: sentry connect IP (or set TCPREMOTEIP / PAM_RHOST)".into())
            })?),
            Some(Command::Allow { ip }) => Action::Allow(ip),
            Some(Command::Block { ip, force }) => Action::Block { ip, force },
            Some(Command::Delist { ip }) => Action::Delist(ip),
            Some(Command::Report {
                ip,
                json,
                lines,
                top,
            }) => Action::Report { ip, json, lines, top },
            Some(Command::Parse {
                service,
                unmatched,
                files,
            }) => Action::Parse {
                service,
                unmatched,
                files,
            },
            Some(Command::Scan { dry_run, from_start }) => Action::Scan { dry_run, from_start },
            Some(Command::Ingest) => Action::Ingest,
            Some(Command::Sync {
                dry_run,
                fleet_only,
            }) => Action::Sync {
                dry_run,
                fleet_only,
            },
            Some(Command::Expire) => Action::Expire,
            Some(Command::Check { hosts_allow }) => Action::Check { hosts_allow },
            Some(Command::Doctor { hosts_allow }) => Action::Doctor { hosts_allow },
            Some(Command::Metrics) => Action::Metrics,
            Some(Command::Manpage) => Action::Manpage,
            Some(Command::Update { force }) => Action::Update { force },
            Some(Command::Completions { shell }) => Action::Completions { shell },
            Some(Command::Dump) => Action::Dump,
            Some(Command::Import {
                dump: _,
                dbm: Some(path),
                ..
            }) => Action::ImportDbm(path),
            Some(Command::Import {
                dump,
                list,
                hosts_deny,
                fail2ban,
                as_list,
                dbm: None,
            }) => match (dump, list, hosts_deny, fail2ban) {
                (Some(path), ..) => Action::ImportDump(path),
                (_, Some(path), ..) => Action::ImportForeign {
                    kind: ForeignList::Plain { allow: as_list == "allow" },
                    path,
                },
                (_, _, Some(path), _) => Action::ImportForeign {
                    kind: ForeignList::HostsDeny,
                    path,
                },
                (_, _, _, Some(path)) => Action::ImportForeign {
                    kind: ForeignList::Fail2ban,
                    path,
                },
                _ => Action::ImportFiles,
            },
            Some(Command::Setup {
                write_hosts_allow,
                hosts_allow,
            }) => Action::Setup {
                write_hosts_allow,
                hosts_allow,
            },
            None if self.connect => Action::Connect(self.ip.or_else(from_environment).ok_or_else(|| {
                Error::Input("--connect needs an address: sentry --ip=IP --connect (or set TCPREMOTEIP / PAM_RHOST)".into())
            })?),
            None if self.allow => Action::Allow(needs_ip("--allow", self.ip)?),
            None if self.block => Action::Block {
                ip: needs_ip("--block", self.ip)?,
                force: self.force,
            },
            None if self.delist => Action::Delist(needs_ip("--delist", self.ip)?),
            None if self.report => Action::Report {
                ip: self.ip,
                json: self.json,
                lines: false,
                top: None,
            },
            None if self.dbdump => Action::Dump,
            None if self.update => Action::Update { force: self.force },
            None => {
                return Err(Error::Input(
                    "no action given: add --connect, --allow, --block, --delist or --report (see sentry --help)".into(),
                ));
            }
        };
        Ok(Invocation {
            action,
            verbose: self.global.verbose,
            overrides: Overrides {
                root: self.global.root,
                config: self.global.config,
            },
        })
    }
}

/// The whole program: parse, run, and map the outcome to an exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> u8 {
    let args: Vec<OsString> = args.into_iter().collect();
    let env = |name: &str| std::env::var(name).ok();
    if args.len() <= 1 {
        eprint!("{}", usage());
        eprintln!("For more information, try '--help'.");
        return EXIT_USAGE;
    }
    let parsed = match Args::try_parse_from(&args) {
        Ok(parsed) => parsed,
        Err(e) => return clap_failure(&e),
    };
    let invocation = match parsed.into_invocation(&env) {
        Ok(invocation) => invocation,
        Err(e) => {
            eprintln!("sentry: {e}");
            return e.exit_code();
        }
    };
    match &invocation.action {
        Action::Check { hosts_allow } => return run_check(&invocation, hosts_allow, &env, false),
        Action::Doctor { hosts_allow } => return run_check(&invocation, hosts_allow, &env, true),
        _ => {}
    }
    let connect_ip = match &invocation.action {
        Action::Connect(ip) => Some(ip.clone()),
        _ => None,
    };
    match run(&invocation, &env) {
        Ok(()) => EXIT_OK,
        Err(Error::OutputClosed) => EXIT_OK,
        Err(e) => match connect_ip {
            // Fail open: an error of ours must never cost a user their login. Only a
            // malformed address (bad input, nothing stored) keeps its non-zero exit.
            Some(ip) if ClientIp::parse(&ip).is_ok() => {
                let message = format!(
                    "--connect from {ip} failed, connection let through: {}",
                    crate::printable::printable_lines(&e.to_string())
                );
                eprintln!("sentry: {message}");
                crate::syslog::warn(&message);
                EXIT_OK
            }
            _ => {
                eprintln!(
                    "sentry: {}",
                    crate::printable::printable_lines(&e.to_string())
                );
                e.exit_code()
            }
        },
    }
}

fn usage() -> String {
    Args::command().render_usage().to_string() + "\n"
}

/// clap's errors, with the originals' wording for unknown options.
fn clap_failure(e: &clap::Error) -> u8 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            EXIT_OK
        }
        ErrorKind::UnknownArgument => {
            let option = e
                .get(ContextKind::InvalidArg)
                .map(|v| v.to_string())
                .unwrap_or_default();
            eprintln!("Unknown option: {option}");
            eprint!("{}", usage());
            eprintln!("For more information, try '--help'.");
            EXIT_USAGE
        }
        _ => {
            let _ = e.print();
            EXIT_USAGE
        }
    }
}

/// The configuration as every command gets it: loaded, then each backend's section checked
/// by the backend (`config` keeps them raw, so it depends on no backend).
fn load_config(overrides: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let config = Config::load(overrides, env)?;
    crate::block::check_sections(&config)?;
    Ok(config)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs one invocation. Addresses are validated before anything is opened, so bad
/// input never creates or changes a file.
pub fn run(invocation: &Invocation, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let verbose = invocation.verbose;
    let parse_optional = |ip: &Option<String>| ip.as_deref().map(ClientIp::parse).transpose();
    // Validate the address first: an invalid one must not even create the root directory.
    match &invocation.action {
        Action::Connect(ip) | Action::Allow(ip) | Action::Delist(ip) | Action::Block { ip, .. } => {
            ClientIp::parse(ip)?;
        }
        Action::Report { ip, .. } => {
            parse_optional(ip)?;
        }
        Action::Parse {
            service: Some(name),
            ..
        } => {
            ServiceFilter::parse(name)?;
        }
        _ => {}
    }
    let config = load_config(&invocation.overrides, env)?;
    let open = |patience| Sentry::open(config.clone(), patience, now(), verbose);
    let stdout = std::io::stdout();
    let write_err = |e: std::io::Error| Error::output(&e);
    match &invocation.action {
        Action::Connect(ip) => {
            open(Patience::Login)?.connect(ClientIp::parse(ip)?)?;
        }
        Action::Allow(ip) => {
            open(Patience::Admin)?.allow(ClientIp::parse(ip)?)?;
        }
        Action::Block { ip, force } => {
            open(Patience::Admin)?.block(ClientIp::parse(ip)?, *force)?;
        }
        Action::Delist(ip) => {
            let ip = ClientIp::parse(ip)?;
            // Not an error: the address is off every list, as asked.
            if open(Patience::Admin)?.delist(ip)?.is_none() {
                out!("no record of {ip}: it is on no list; nothing to delist")?;
            }
        }
        Action::Report {
            ip,
            json,
            lines,
            top,
        } => {
            let ip = parse_optional(ip)?;
            // A root without a database reports nothing, as the original did, and stays so.
            let mut report = match crate::root::has_database(&config)? {
                true => gather_report(&mut open(Patience::Admin)?, ip, *top)?,
                false => Report {
                    summary: Default::default(),
                    record: ip.map(IpRecord::unseen),
                    evidence: Vec::new(),
                    history: Vec::new(),
                    overview: top.map(|_| report::Overview::default()),
                    lines: None,
                },
            };
            let mut out = stdout.lock();
            if *json {
                // The log lines go inside the one object, so that it stays JSON.
                if let (Some(ip), true) = (ip, *lines) {
                    let mut found = Vec::new();
                    commands::lines_about(&config, ip, now(), &mut |line| {
                        found.push(line.to_string());
                        Ok(())
                    })?;
                    report.lines = Some(found);
                }
                report::write_json(&mut out, &report).map_err(write_err)?;
            } else {
                report::write_text(&mut out, &report).map_err(write_err)?;
                if let (Some(ip), true) = (ip, *lines) {
                    writeln!(out).map_err(write_err)?;
                    commands::lines_about(&config, ip, now(), &mut |line| {
                        writeln!(out, "{}", crate::printable::printable(line)).map_err(write_err)
                    })?;
                }
            }
        }
        Action::Parse {
            service,
            unmatched,
            files,
        } => {
            let filter = match service {
                Some(name) => ServiceFilter::parse(name)?,
                None => ServiceFilter::All,
            };
            commands::parse(
                files,
                filter,
                *unmatched,
                scan::parse_options(&config),
                now(),
            )?;
        }
        Action::Scan {
            dry_run,
            from_start,
        } => {
            let mut sentry = open(Patience::Admin)?;
            let (outcome, decisions) = sentry.scan(*dry_run, *from_start)?;
            if !outcome.scanned {
                eprintln!("sentry: another sentry is scanning the logs; try again later");
            }
            let unreadable = outcome.errors.len();
            // Applied decisions are already told by -v (and syslog); a dry run's are not.
            if *dry_run {
                let mut out = stdout.lock();
                for d in &decisions {
                    writeln!(out, "would be {d}").map_err(write_err)?;
                }
            }
            if unreadable > 0 {
                return Err(Error::Runtime(format!(
                    "{unreadable} log source(s) could not be read (see above); the others were"
                )));
            }
        }
        Action::Sync {
            dry_run,
            fleet_only,
        } => {
            let mut sentry = open(Patience::Admin)?;
            let changes = if *fleet_only {
                Vec::new()
            } else {
                sentry.sync(*dry_run)?
            };
            let mut out = stdout.lock();
            let verb = if *dry_run { "would add" } else { "added" };
            let verb2 = if *dry_run { "would remove" } else { "removed" };
            for c in &changes {
                writeln!(
                    out,
                    "{}: {verb} {}, {verb2} {}",
                    c.backend,
                    c.added.len(),
                    c.removed.len()
                )
                .map_err(write_err)?;
                if verbose || *dry_run {
                    for ip in &c.added {
                        writeln!(out, "  + {ip}").map_err(write_err)?;
                    }
                    for ip in &c.removed {
                        writeln!(out, "  - {ip}").map_err(write_err)?;
                    }
                }
            }
            if sentry.config.fleet.is_some() && !*dry_run {
                // Timers respect the wait after a failure; an admin at a terminal tries now.
                let respect_backoff = !crate::progress::Progress::wanted();
                match crate::fleet::exchange(&mut sentry, respect_backoff)? {
                    crate::fleet::Outcome::Exchanged(x) => {
                        writeln!(
                            out,
                            "fleet: sent {} decisions and {} evidence totals, received {} and {}, applied {}",
                            x.pushed_decisions,
                            x.pushed_evidence,
                            x.pulled_decisions,
                            x.pulled_evidence,
                            x.applied.len()
                        )
                        .map_err(write_err)?;
                        for (host, [listings, evidence]) in &x.flooded {
                            writeln!(
                                out,
                                "fleet: {host} sent more than max_rows_per_host: dropped {listings} listings and {evidence} evidence rows"
                            )
                            .map_err(write_err)?;
                        }
                    }
                    crate::fleet::Outcome::Backoff { until, failures } => {
                        if verbose {
                            eprintln!(
                                "sentry: fleet server failed {failures} times in a row; next attempt in {} s",
                                until - now()
                            );
                        }
                    }
                }
            }
        }
        Action::Expire => {
            let mut sentry = open(Patience::Admin)?;
            let lifted = sentry.expire()?;
            if verbose {
                eprintln!("sentry: {} expired blocks lifted", lifted.len());
            }
        }
        // `check` speaks the Nagios plugin protocol, exit codes included: see `run_check`.
        Action::Check { hosts_allow } | Action::Doctor { hosts_allow } => {
            return Err(Error::Input(format!(
                "internal: check {} is run by run_check",
                hosts_allow.display()
            )));
        }
        Action::Metrics => {
            if !crate::root::has_database(&config)? {
                return Err(Error::Input(format!(
                    "no database at {}: run sentry setup",
                    config.database_path().display()
                )));
            }
            let mut sentry = open(Patience::Admin)?;
            let text = crate::monitor::metrics(&mut sentry)?;
            stdout
                .lock()
                .write_all(text.as_bytes())
                .map_err(write_err)?;
        }
        Action::Update { force } => {
            let me = std::env::current_exe()
                .map_err(|e| Error::Runtime(format!("cannot find this binary: {e}")))?;
            let target = config.installed_binary();
            crate::root::ensure_directory(&config, true)?;
            let outcome = match config.release_source()? {
                Some(source) => crate::update::install_release(&source, &target, *force)?,
                None => crate::update::install(&me, &target, *force)?,
            };
            match outcome {
                crate::update::Outcome::Installed { from, to } => out!(
                    "installed sentry {to} at {}{}",
                    target.display(),
                    from.map(|f| format!(" (was {f}; kept as sentry.old)"))
                        .unwrap_or_default()
                )?,
                crate::update::Outcome::AlreadyCurrent { installed } => out!(
                    "{} is already sentry {installed}; nothing to do",
                    target.display()
                )?,
            }
        }
        Action::Manpage => {
            let mut page = Vec::new();
            crate::manpage::render(Args::command(), &mut page).map_err(write_err)?;
            stdout.lock().write_all(&page).map_err(write_err)?;
        }
        Action::Completions { shell } => {
            // Into memory first: clap_complete panics when it cannot write.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Args::command(), "sentry", &mut script);
            stdout.lock().write_all(&script).map_err(write_err)?;
        }
        Action::Ingest => {
            let mut sentry = open(Patience::Admin)?;
            // With a fleet, exchange beside the log stream, on a connection of its own.
            if let Some(fleet) = &config.fleet {
                let config = config.clone();
                let interval = std::time::Duration::from_secs(fleet.interval_secs);
                std::thread::spawn(move || crate::fleet::keep_exchanging(config, interval, &now));
            }
            let mut input = std::io::BufReader::new(std::io::stdin().lock());
            commands::ingest(&mut sentry, &mut input, &now)?;
        }
        Action::Dump => {
            if !crate::root::has_database(&config)? {
                return Ok(());
            }
            let mut sentry = open(Patience::Admin)?;
            let mut out = std::io::BufWriter::new(stdout.lock());
            report::write_dump(&mut out, &mut sentry.store)?;
            out.flush().map_err(write_err)?;
        }
        Action::ImportFiles => {
            let mut sentry = open(Patience::Admin)?;
            if !crate::store::legacy_files::present(&config.root) {
                eprintln!(
                    "sentry: nothing to import: no seen/, white/ or black/ directory under {}",
                    config.root.display()
                );
            } else {
                sentry.import_legacy_files(false)?;
            }
        }
        Action::ImportForeign { kind, path } => {
            use crate::store::foreign;
            let imported = match kind {
                ForeignList::Plain { .. } => foreign::plain_list(&read_input(path)?),
                ForeignList::HostsDeny => foreign::hosts_deny(&read_input(path)?),
                ForeignList::Fail2ban => foreign::fail2ban(path)?,
            };
            let allow = matches!(kind, ForeignList::Plain { allow: true });
            let mut sentry = open(Patience::Admin)?;
            let mut skipped: Vec<(String, &str)> = (imported.skipped.iter())
                .map(|entry| {
                    (
                        crate::printable::printable(entry).into_owned(),
                        "not one address",
                    )
                })
                .collect();
            if !allow {
                skipped.extend(
                    (imported.addresses.iter())
                        .filter(|(ip, _)| sentry.config.is_never_blocked(*ip))
                        .map(|(ip, _)| (ip.to_string(), "on the never-block list")),
                );
            }
            let count =
                sentry.import_listings(&imported.addresses, allow, &path.display().to_string())?;
            const NAMED: usize = 20;
            for (entry, why) in skipped.iter().take(NAMED) {
                eprintln!("sentry: skipped {entry}: {why}");
            }
            if skipped.len() > NAMED {
                eprintln!("sentry: ... and {} more skipped", skipped.len() - NAMED);
            }
            eprintln!(
                "sentry: imported {} from {} ({} skipped)",
                counted(count, "address", "addresses"),
                path.display(),
                counted(skipped.len(), "entry", "entries"),
            );
        }
        Action::ImportDbm(path) => {
            let (records, skipped) = crate::store::foreign::perl_dbm(path, now())?;
            let mut sentry = open(Patience::Admin)?;
            let count = sentry.import_records(&records)?;
            eprintln!(
                "sentry: imported {} from {} ({} skipped)",
                counted(count, "address", "addresses"),
                path.display(),
                counted(skipped, "entry", "entries"),
            );
        }
        Action::ImportDump(path) => {
            let text = read_input(path)?;
            let mut sentry = open(Patience::Admin)?;
            let count = sentry.import_dump(&text, &path.display().to_string())?;
            eprintln!(
                "sentry: imported {} from {}",
                counted(count, "record", "records"),
                path.display()
            );
        }
        Action::Setup {
            write_hosts_allow,
            hosts_allow,
        } => run_setup(open(Patience::Admin)?, *write_hosts_allow, hosts_allow)?,
    }
    Ok(())
}

/// A file's text, or stdin's for `-`.
fn read_input(path: &std::path::Path) -> Result<String> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Error::Runtime(format!("could not read stdin: {e}")))
    } else {
        std::fs::read_to_string(path).map_err(|e| Error::io("read", path, &e))
    }
}

/// `1 address`, `2 addresses`.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The report of an opened sentry: the summary, IP's record, evidence and history, and
/// with `top` the overview.
fn gather_report(sentry: &mut Sentry, ip: Option<ClientIp>, top: Option<u32>) -> Result<Report> {
    let summary = sentry.store.summary()?;
    let (record, evidence, history) = match ip {
        Some(ip) => (
            Some(
                sentry
                    .store
                    .record(ip)?
                    .unwrap_or_else(|| IpRecord::unseen(ip)),
            ),
            sentry.store.evidence(ip)?,
            sentry.store.history(ip)?,
        ),
        None => (None, Vec::new(), Vec::new()),
    };
    let overview = match top {
        Some(n) => Some(report::Overview::gather(&mut sentry.store, n, now())?),
        None => None,
    };
    Ok(Report {
        summary,
        record,
        evidence,
        history,
        overview,
        lines: None,
    })
}

/// `sentry check`: one status line on stdout and the Nagios exit code, whatever happens
/// (a configuration or database that cannot even be opened is CRITICAL). `sentry doctor`:
/// the same findings, each with its fix.
fn run_check(
    invocation: &Invocation,
    hosts_allow: &std::path::Path,
    env: &dyn Fn(&str) -> Option<String>,
    doctor: bool,
) -> u8 {
    use crate::monitor::State;
    // A root that is not there (a typo in `--root`) exits 1 like the other read-only
    // commands; anything else that keeps sentry from opening is CRITICAL.
    let critical = |e| (State::Critical, e);
    let opened = load_config(&invocation.overrides, env)
        .map_err(critical)
        .and_then(|config| {
            // Only look: a missing database is a finding, not something to create.
            match crate::root::has_database(&config) {
                Err(e) => Err((State::Warning, e)),
                Ok(false) => Err(critical(Error::Runtime(format!(
                    "no database at {} (run `sentry setup`)",
                    config.database_path().display()
                )))),
                Ok(true) => Sentry::open(config, Patience::Admin, now(), invocation.verbose)
                    .map_err(critical),
            }
        });
    let (state, line) = match opened {
        Ok(mut sentry) => {
            let system = crate::monitor::System::from_env(env);
            if doctor {
                crate::monitor::doctor(&mut sentry, hosts_allow, &system, now())
            } else {
                crate::monitor::check(&mut sentry, hosts_allow, &system, now())
            }
        }
        Err((state, e)) => {
            let text = if doctor {
                format!(
                    "{}: {}\n  fix: run `sentry setup` (or correct the configuration it names)\n",
                    state.label(),
                    crate::printable::printable_lines(&e.to_string())
                )
            } else {
                format!(
                    "SENTRY {} - {}",
                    state.label(),
                    crate::printable::printable(e.to_string().lines().next().unwrap_or_default())
                )
            };
            (state, text)
        }
    };
    let written = if doctor {
        write!(std::io::stdout().lock(), "{line}").map_err(|e| Error::output(&e))
    } else {
        out!("{line}")
    };
    match written {
        Err(Error::OutputClosed) => EXIT_OK,
        _ => state as u8,
    }
}

fn run_setup(
    mut sentry: Sentry,
    write_hosts_allow: bool,
    hosts_allow: &std::path::Path,
) -> Result<()> {
    sentry.prepare_deny_lists()?;
    // Read the existing logs once now (evidence only, no decision), so that the first
    // login after installation does not pay for reading the whole history.
    let outcome = sentry.read_logs()?;
    let config = &sentry.config;
    let daemons = setup::tcpd_daemons(config);
    let lines = setup::hosts_allow_lines(config, &daemons);
    out!("sentry is set up in {}", config.root.display())?;
    out!("  database:  {}", config.database_path().display())?;
    out!("  deny file: {}", config.deny_file.display())?;
    out!(
        "  logs:      {} sources read, {} lines, {} events about {} addresses",
        outcome.sources,
        outcome.lines,
        outcome.events,
        outcome.addresses.len()
    )?;
    if write_hosts_allow {
        match setup::write_hosts_allow(hosts_allow, config, &daemons)? {
            Some(edit) => {
                out!(
                    "changed {} (previous copy kept as {}.sentry-backup):",
                    hosts_allow.display(),
                    hosts_allow.display()
                )?;
                for line in &edit.listing {
                    out!("  {line}")?;
                }
                for note in &edit.notes {
                    out!("note: {note}")?;
                }
            }
            None => out!(
                "{} already has these lines where tcpd reads them first:",
                hosts_allow.display()
            )?,
        }
    } else {
        out!(
            "\nAdd these two lines near the top of {}, in this order, above any rule that lets \
             these daemons in (or run `sentry setup --write-hosts-allow`):",
            hosts_allow.display()
        )?;
    }
    out!("\n{}\n{}", lines[0], lines[1])?;
    let binary = config.installed_binary();
    if !binary.exists() {
        let me = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "sentry".into());
        out!(
            "\nhosts.allow runs {}, which does not exist yet. Install it with:\n  install -m 0750 {me} {}",
            binary.display(),
            binary.display()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(args: &[&str], env: &[(&str, &str)]) -> Result<Action> {
        let mut argv = vec!["sentry"];
        argv.extend_from_slice(args);
        let parsed = Args::try_parse_from(argv).map_err(|e| Error::Input(e.to_string()))?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        parsed.into_invocation(&lookup).map(|i| i.action)
    }

    #[test]
    fn legacy_and_modern_spellings_map_to_the_same_action() {
        let same = [
            (
                vec!["--ip=1.2.3.4", "--connect"],
                vec!["connect", "1.2.3.4"],
            ),
            (vec!["-c", "--ip", "1.2.3.4"], vec!["connect", "1.2.3.4"]),
            (
                vec!["--ip=1.2.3.4", "--whitelist"],
                vec!["allow", "1.2.3.4"],
            ),
            (
                vec!["--allow", "--ip=1.2.3.4"],
                vec!["whitelist", "1.2.3.4"],
            ),
            (
                vec!["--ip=1.2.3.4", "--blacklist"],
                vec!["block", "1.2.3.4"],
            ),
            (
                vec!["--block", "--ip=1.2.3.4"],
                vec!["blacklist", "1.2.3.4"],
            ),
            (vec!["--delist", "--ip=1.2.3.4"], vec!["delist", "1.2.3.4"]),
            (vec!["-r"], vec!["report"]),
            (
                vec!["--report", "-v", "--ip=1.2.3.4"],
                vec!["report", "1.2.3.4", "-v"],
            ),
            (vec!["--dbdump"], vec!["dump"]),
        ];
        for (legacy, modern) in same {
            assert_eq!(
                action(&legacy, &[]).expect("legacy parses"),
                action(&modern, &[]).expect("modern parses"),
                "{legacy:?} vs {modern:?}"
            );
        }
    }

    #[test]
    fn connect_takes_the_address_from_tcpserver_or_pam() {
        assert_eq!(
            action(&["--connect"], &[("TCPREMOTEIP", "192.0.2.1")]).expect("tcpserver"),
            Action::Connect("192.0.2.1".into())
        );
        assert_eq!(
            action(&["connect"], &[("PAM_RHOST", "192.0.2.2")]).expect("pam"),
            Action::Connect("192.0.2.2".into())
        );
        assert!(action(&["--connect"], &[]).is_err());
    }

    #[test]
    fn actions_without_their_address_are_refused() {
        for args in [
            vec!["--block"],
            vec!["--allow"],
            vec!["--delist"],
            vec!["--ip=1.2.3.4"],
            vec!["-v"],
        ] {
            let err = action(&args, &[]).expect_err("refused");
            assert_eq!(err.exit_code(), EXIT_USAGE, "{args:?}");
        }
        assert!(
            action(&["--block", "--allow", "--ip=1.2.3.4"], &[]).is_err(),
            "one action at a time"
        );
    }
}
