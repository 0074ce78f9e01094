/*!
The command line: the clap definition of both grammars, the one place that maps outcomes
to exit codes, and `--connect`'s fail-open rule.

sentry has two grammars that must both work forever:
- the legacy flags that `/etc/hosts.allow` files and scripts already call
  (`--ip=IP --connect`, `--whitelist`, `--blacklist`, `-r -v`, in any order);
- subcommands (`sentry block IP`, `sentry report --json`).

Both are parsed by the same clap definition ([`Args`]); the legacy flags are mapped onto the
subcommands' own [`Command`] values in one small function ([`LegacyArgs::command`]), so a
legacy alias can never drift from its modern twin. Each command's arguments, typed, and its
work live in [`crate::cmd`]. Help, the man page and completions come from this definition.
*/

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand};

use crate::cmd::{self, Context};
use crate::config::Overrides;
use crate::error::{EXIT_OK, EXIT_USAGE, Error, Result};
use crate::ip::ClientIp;

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

    #[command(flatten)]
    legacy: LegacyArgs,

    #[command(flatten)]
    global: GlobalArgs,
}

/// The legacy grammar: `--ip=IP` and one action flag, in any order.
#[derive(Debug, clap::Args)]
struct LegacyArgs {
    /// The client address, for the legacy actions
    #[arg(long, value_name = "IP", help_heading = LEGACY)]
    ip: Option<ClientIp>,

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

/// The commands, each with its typed arguments from `cmd::<command>::Args`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    Connect(cmd::connect::Args),
    #[command(visible_alias = "whitelist")]
    Allow(cmd::allow::Args),
    #[command(visible_alias = "blacklist")]
    Block(cmd::block::Args),
    Delist(cmd::delist::Args),
    Report(cmd::report::Args),
    Parse(cmd::parse::Args),
    Scan(cmd::scan::Args),
    /// Read log lines on stdin and decide as they arrive (rsyslog omprog, journalctl -f -o json)
    Ingest,
    /// Record a failed login (PAM_TYPE=auth) or a login (open_session) from a daemon's PAM
    /// stack, run by pam_exec with PAM_RHOST, PAM_SERVICE and PAM_USER; always exits 0
    Pam,
    Sync(cmd::sync::Args),
    /// Lift every block older than expire_block_days, and end trust older than trust_days,
    /// everywhere (for a daily timer)
    Expire,
    Check(cmd::check::Args),
    Doctor(cmd::check::DoctorArgs),
    /// Print metrics in Prometheus text format (for node_exporter's textfile collector)
    Metrics,
    Update(cmd::update::Args),
    /// Print the man page (roff) generated from this command line's definition
    Manpage,
    Completions(cmd::completions::Args),
    /// Print every record as `ip<TAB>seen<TAB>allow<TAB>block`
    Dump,
    Import(cmd::import::Args),
    Setup(cmd::setup::Args),
}

/// A command plus the options that shape how it runs.
#[derive(Debug)]
pub struct Invocation {
    pub command: Command,
    pub verbose: bool,
    pub overrides: Overrides,
}

impl Args {
    /// The command, whichever grammar spelled it; `env` supplies $TCPREMOTEIP / $PAM_RHOST
    /// to a connect without an address.
    pub fn into_invocation(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Invocation> {
        let Args {
            command,
            legacy,
            global,
        } = self;
        let command = match command {
            Some(_) if legacy.used() => {
                return Err(Error::Input(
                    "the legacy flags (--ip, --connect, --block, ...) cannot be combined with a subcommand; \
                     write either `sentry --ip=IP --block` or `sentry block IP`"
                        .into(),
                ));
            }
            Some(Command::Connect(cmd::connect::Args { ip })) => {
                let usage = "connect needs an address: sentry connect IP";
                Command::Connect(cmd::connect::Args {
                    ip: Some(cmd::connect::address(ip, env, usage)?),
                })
            }
            Some(command) => command,
            None => legacy.command(env)?,
        };
        Ok(Invocation {
            command,
            verbose: global.verbose,
            overrides: Overrides {
                root: global.root,
                config: global.config,
            },
        })
    }
}

impl LegacyArgs {
    fn used(&self) -> bool {
        self.ip.is_some()
            || self.connect
            || self.allow
            || self.block
            || self.delist
            || self.report
            || self.dbdump
            || self.update
            || self.json
            || self.force
    }

    /// The subcommand a legacy spelling stands for.
    fn command(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Command> {
        let ip = self.ip;
        let needs_ip = |flag: &str| {
            ip.ok_or_else(|| {
                Error::Input(format!("{flag} needs an address: sentry --ip=IP {flag}"))
            })
        };
        Ok(if self.connect {
            let usage = "--connect needs an address: sentry --ip=IP --connect";
            Command::Connect(cmd::connect::Args {
                ip: Some(cmd::connect::address(ip, env, usage)?),
            })
        } else if self.allow {
            Command::Allow(cmd::allow::Args {
                ip: needs_ip("--allow")?,
            })
        } else if self.block {
            Command::Block(cmd::block::Args {
                ip: needs_ip("--block")?,
                force: self.force,
            })
        } else if self.delist {
            Command::Delist(cmd::delist::Args {
                ip: cmd::delist::Target::Ip(needs_ip("--delist")?),
            })
        } else if self.report {
            Command::Report(cmd::report::Args {
                ip,
                json: self.json,
                lines: false,
                top: None,
            })
        } else if self.dbdump {
            Command::Dump
        } else if self.update {
            Command::Update(cmd::update::Args { force: self.force })
        } else {
            return Err(Error::Input(
                "no action given: add --connect, --allow, --block, --delist or --report (see sentry --help)".into(),
            ));
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
    let invocation = match hot_invocation(&args[1..]) {
        Some(invocation) => Ok(invocation),
        None => match Args::try_parse_from(&args) {
            Ok(parsed) => parsed.into_invocation(&env),
            Err(e) => return clap_failure(&e),
        },
    };
    let invocation = match invocation {
        Ok(invocation) => invocation,
        Err(e) => {
            eprintln!("sentry: {e}");
            return e.exit_code();
        }
    };
    let ctx = Context {
        overrides: invocation.overrides,
        verbose: invocation.verbose,
        env: &env,
    };
    let (connecting, outcome) = match invocation.command {
        // `check` speaks the Nagios plugin protocol: its state is the exit code.
        Command::Check(args) => return nagios(cmd::check::run(&ctx, args)),
        Command::Doctor(args) => return nagios(cmd::check::run_doctor(&ctx, args)),
        // A PAM stack never fails because of sentry: errors are said, the exit is 0.
        Command::Pam => return cmd::pam::main(&ctx),
        // The address is valid (clap parsed it): from here on, fail open.
        Command::Connect(args) => (args.ip, cmd::connect::run(&ctx, args)),
        command => (None, run(&ctx, command)),
    };
    match outcome {
        Ok(()) | Err(Error::OutputClosed) => EXIT_OK,
        Err(e) => match connecting {
            // Fail open: an error of ours must never cost a user their login. Only a
            // malformed address (bad input, nothing stored) keeps its non-zero exit, and
            // that was refused before anything ran.
            Some(ip) => {
                let message = format!(
                    "--connect from {ip} failed, connection let through: {}",
                    crate::printable::printable_lines(&e.to_string())
                );
                eprintln!("sentry: {message}");
                crate::syslog::warn(&message);
                EXIT_OK
            }
            None => {
                eprintln!(
                    "sentry: {}",
                    crate::printable::printable_lines(&e.to_string())
                );
                e.exit_code()
            }
        },
    }
}

/// The spawn line's `--connect --ip=ADDR` (and `connect ADDR`), and `ingest`, with the
/// global options `--root`, `--config`, `-v`, read without clap: tcpd runs the first for
/// every connection, and building clap's definition of every command costs that process
/// more of the program's pages than the connect itself (0.5 MiB of resident memory, which
/// the long-lived `ingest` would keep for good). Anything else — another spelling, a repeated or unknown
/// flag, an address that does not parse — is None, and clap reads it (with its messages).
fn hot_invocation(args: &[OsString]) -> Option<Invocation> {
    let (mut connect, mut subcommand, mut ingest, mut verbose) = (false, false, false, false);
    let (mut ip, mut root, mut config): (Option<&str>, Option<&str>, Option<&str>) =
        (None, None, None);
    let mut words = args.iter().map(|a| a.to_str());
    // A flag given twice, an empty or dash-led value: clap's to judge.
    fn set<'a>(slot: &mut Option<&'a str>, value: Option<&'a str>) -> Option<()> {
        let value = value.filter(|v| !v.is_empty() && !v.starts_with('-'))?;
        slot.is_none().then_some(())?;
        *slot = Some(value);
        Some(())
    }
    while let Some(word) = words.next() {
        let word = word?;
        match word.split_once('=') {
            Some(("--ip", value)) if !subcommand => set(&mut ip, Some(value))?,
            Some(("--root", value)) => set(&mut root, Some(value))?,
            Some(("--config", value)) => set(&mut config, Some(value))?,
            Some(_) => return None,
            None => match word {
                "--connect" | "-c" if !connect && !subcommand => connect = true,
                "connect" if !connect && !subcommand && !ingest && ip.is_none() => {
                    subcommand = true
                }
                "ingest" if !connect && !subcommand && !ingest => ingest = true,
                "-v" | "--verbose" if !verbose => verbose = true,
                "--ip" if !subcommand => set(&mut ip, words.next()?)?,
                "--root" => set(&mut root, words.next()?)?,
                "--config" => set(&mut config, words.next()?)?,
                address if subcommand && ip.is_none() && !address.starts_with('-') => {
                    ip = Some(address)
                }
                _ => return None,
            },
        }
    }
    let command = match (connect, subcommand, ingest, ip) {
        (false, false, true, None) => Command::Ingest,
        (true, false, false, Some(ip)) | (false, true, false, Some(ip)) => {
            Command::Connect(cmd::connect::Args {
                ip: Some(crate::ip::ClientIp::parse(ip).ok()?),
            })
        }
        _ => return None,
    };
    Some(Invocation {
        command,
        verbose,
        overrides: Overrides {
            root: root.map(PathBuf::from),
            config: config.map(PathBuf::from),
        },
    })
}

/// Runs one command. Its arguments were validated when parsed, so bad input never creates
/// or changes a file.
pub fn run(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Connect(args) => cmd::connect::run(ctx, args),
        Command::Allow(args) => cmd::allow::run(ctx, args),
        Command::Block(args) => cmd::block::run(ctx, args),
        Command::Delist(args) => cmd::delist::run(ctx, args),
        Command::Report(args) => cmd::report::run(ctx, args),
        Command::Parse(args) => cmd::parse::run(ctx, args),
        Command::Scan(args) => cmd::scan::run(ctx, args),
        Command::Ingest => cmd::ingest::run(ctx),
        Command::Pam => {
            cmd::pam::main(ctx);
            Ok(())
        }
        Command::Sync(args) => cmd::sync::run(ctx, args),
        Command::Expire => cmd::expire::run(ctx),
        Command::Check(args) => cmd::check::run(ctx, args).1,
        Command::Doctor(args) => cmd::check::run_doctor(ctx, args).1,
        Command::Metrics => cmd::metrics::run(ctx),
        Command::Update(args) => cmd::update::run(ctx, args),
        Command::Manpage => cmd::manpage::run(),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Dump => cmd::dump::run(ctx),
        Command::Import(args) => cmd::import::run(ctx, args),
        Command::Setup(args) => cmd::setup::run(ctx, args),
    }
}

/// A check's state is its exit code, unless nobody was left to read it.
fn nagios((state, written): (crate::monitor::State, Result<()>)) -> u8 {
    match written {
        Err(Error::OutputClosed) => EXIT_OK,
        _ => state as u8,
    }
}

fn usage() -> String {
    Args::command().render_usage().to_string() + "\n"
}

/// clap's errors, with the originals' wording for unknown options and sentry's own for
/// values it refused (an address, a service name).
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
        ErrorKind::ValueValidation => {
            match std::error::Error::source(e).and_then(|s| s.downcast_ref::<Error>()) {
                Some(ours) => {
                    eprintln!("sentry: {ours}");
                    ours.exit_code()
                }
                None => {
                    let _ = e.print();
                    EXIT_USAGE
                }
            }
        }
        _ => {
            let _ = e.print();
            EXIT_USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path reads exactly what clap reads, or leaves the line to clap.
    #[test]
    fn the_connect_fast_path_agrees_with_clap() {
        let seen = |i: &Invocation| {
            (
                format!("{:?}", i.command),
                i.verbose,
                i.overrides.root.clone(),
                i.overrides.config.clone(),
            )
        };
        let taken = [
            "--connect --ip=192.0.2.7",
            "--ip=192.0.2.7 --connect",
            "--ip 192.0.2.7 -c",
            "--root /r --config /r/x.toml --connect --ip=::ffff:192.0.2.7",
            "--root=/r -v --connect --ip=2001:db8::1",
            "connect 192.0.2.7",
            "--root /r connect 192.0.2.7 --verbose",
            "connect --config=/c 192.0.2.7",
            "ingest",
            "--root /r ingest -v",
        ];
        let left = [
            "--connect",
            "--connect --ip=010.1.1.1",
            "--connect --ip=",
            "--connect --ip=192.0.2.7 --ip=192.0.2.8",
            "--connect --connect --ip=192.0.2.7",
            "--connect --ip=192.0.2.7 --block",
            "--connect 192.0.2.7",
            "connect --ip=192.0.2.7",
            "--ip=192.0.2.7 connect",
            "connect 192.0.2.7 192.0.2.8",
            "connect -- 192.0.2.7",
            "-vv --connect --ip=192.0.2.7",
            "--root --connect --ip=192.0.2.7",
            "--root= --connect --ip=192.0.2.7",
            "--verbose=true --connect --ip=192.0.2.7",
            "--ip=192.0.2.7 --report",
            "report 192.0.2.7",
            "ingest 192.0.2.7",
            "--ip=192.0.2.7 ingest",
            "--connect ingest",
            "ingest --connect --ip=192.0.2.7",
            "ingest ingest",
            "connect ingest",
        ];
        let argv = |line: &str| -> Vec<OsString> { line.split(' ').map(OsString::from).collect() };
        for line in taken {
            let fast = hot_invocation(&argv(line)).unwrap_or_else(|| panic!("taken: {line}"));
            let mut full = vec![OsString::from("sentry")];
            full.extend(argv(line));
            let clap = Args::try_parse_from(full)
                .expect(line)
                .into_invocation(&|_| None)
                .expect(line);
            assert_eq!(seen(&fast), seen(&clap), "{line}");
        }
        for line in left {
            assert!(
                hot_invocation(&argv(line)).is_none(),
                "left to clap: {line}"
            );
        }
    }

    fn action(args: &[&str], env: &[(&str, &str)]) -> Result<Command> {
        let mut argv = vec!["sentry"];
        argv.extend_from_slice(args);
        let parsed = Args::try_parse_from(argv).map_err(|e| Error::Input(e.to_string()))?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        parsed.into_invocation(&lookup).map(|i| i.command)
    }

    #[test]
    fn legacy_and_modern_spellings_map_to_the_same_command() {
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

    fn connect(ip: &str) -> Command {
        Command::Connect(cmd::connect::Args {
            ip: Some(ClientIp::parse(ip).expect("address")),
        })
    }

    #[test]
    fn connect_takes_the_address_from_tcpserver_or_pam() {
        assert_eq!(
            action(&["--connect"], &[("TCPREMOTEIP", "192.0.2.1")]).expect("tcpserver"),
            connect("192.0.2.1")
        );
        assert_eq!(
            action(&["connect"], &[("PAM_RHOST", "192.0.2.2")]).expect("pam"),
            connect("192.0.2.2")
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
