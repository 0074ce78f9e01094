/*!
`sentry check` (a Nagios plugin: one status line, the state as exit code) and `sentry doctor`
(the same findings, each with its fix); the findings themselves are `crate::monitor`'s.
*/

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::actions::Patience;
use crate::cmd::{Context, now};
use crate::error::{Error, Result};
use crate::monitor::State;

/// Nagios/NRPE plugin: one status line; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
///
/// Judges hosts.allow and hosts.deny by tcpd's rules: CRITICAL when a blocked address
/// would be let in or an address let in would not run this sentry (wrong order, a rule
/// above, a spawn line for another root or a missing binary). CRITICAL too when sshd is
/// not linked with libwrap and no scan timer, ingest or firewall backend is set up, and
/// when the evidence is in the systemd journal and no scan timer or ingest reads it
/// (`--connect` does not), and when sshd runs with -e or -E (its log is then not syslog's,
/// and a user name can write lines into it). Also checks that $ROOT/sentry is executable, that the database passes SQLite's quick
/// check, that the configured logs exist and were read in the last day, and that every
/// backend holds what the database blocks. `sentry doctor` says how to fix each finding.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// The hosts.allow file to inspect (hosts.deny is read beside it)
    #[arg(long, value_name = "PATH", default_value = "/etc/hosts.allow")]
    pub hosts_allow: PathBuf,
}

/// What `check` finds, one finding per paragraph, each with the command or line that fixes it
///
/// For an administrator at a terminal: whether hosts.allow (judged by tcpd's own rules)
/// refuses blocked addresses and runs this sentry for every other one, whether sshd
/// reads hosts.allow at all (libwrap) and what else runs sentry, missing log files, and
/// everything `check` reports. Exit codes as `check`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct DoctorArgs {
    /// The hosts.allow file to inspect (hosts.deny is read beside it)
    #[arg(long, value_name = "PATH", default_value = "/etc/hosts.allow")]
    pub hosts_allow: PathBuf,
}

/// `sentry check`: one status line on stdout and the Nagios state, whatever happens
/// (a configuration or database that cannot even be opened is CRITICAL); whether it was
/// written.
pub fn run(ctx: &Context, args: Args) -> (State, Result<()>) {
    findings(ctx, &args.hosts_allow, false)
}

/// `sentry doctor`: the same findings, each with its fix.
pub fn run_doctor(ctx: &Context, args: DoctorArgs) -> (State, Result<()>) {
    findings(ctx, &args.hosts_allow, true)
}

fn findings(ctx: &Context, hosts_allow: &Path, doctor: bool) -> (State, Result<()>) {
    let env = ctx.env;
    // A root that is not there (a typo in `--root`) exits 1 like the other read-only
    // commands; anything else that keeps sentry from opening is CRITICAL.
    let critical = |e| (State::Critical, e);
    let opened = ctx.config().map_err(critical).and_then(|config| {
        // Only look: a missing database is a finding, not something to create.
        match crate::root::has_database(&config) {
            Err(e) => Err((State::Warning, e)),
            Ok(false) => Err(critical(Error::Runtime(format!(
                "no database at {} (run `sentry setup`)",
                config.database_path().display()
            )))),
            Ok(true) => ctx.open(&config, Patience::Admin).map_err(critical),
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
    (state, written)
}
