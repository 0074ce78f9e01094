/*!
`sentry setup`: the root, database and deny lists made, the existing logs read once, the
scan timer enabled where the journal holds the evidence, and the hosts.allow lines shown (or, with `--write-hosts-allow`, put in place; the edit itself is
`crate::setup`'s).
*/

use std::path::PathBuf;

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::Result;
use crate::setup;

/// Create the root directory, database and deny file, and show the hosts.allow lines
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// Insert the two lines near the top of hosts.allow (keeps a backup)
    #[arg(long)]
    pub write_hosts_allow: bool,
    /// The hosts.allow file to edit
    #[arg(long, value_name = "PATH", default_value = "/etc/hosts.allow")]
    pub hosts_allow: PathBuf,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let Args {
        write_hosts_allow,
        hosts_allow,
    } = args;
    let hosts_allow = hosts_allow.as_path();
    let config = ctx.config()?;
    let mut sentry = ctx.open(&config, Patience::Admin)?;
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
    // `--connect` never reads the journal: where it holds the evidence, the timer must.
    let system = crate::monitor::System::from_env(ctx.env);
    match setup::enable_journal_reader(config, &system)? {
        setup::JournalReader::NotNeeded => {}
        setup::JournalReader::Enabled { started } => out!(
            "  journal:   read every minute by sentry-scan.timer, enabled in {}{} \
             (`--connect` only judges what it stored)",
            system.systemd_dir.display(),
            if started { " and started" } else { "" }
        )?,
        setup::JournalReader::NoSystemd => out!(
            "  journal:   {} does not exist: run `{} scan` every minute from cron, or pipe \
             `journalctl -f -o json` into `sentry ingest` (`--connect` does not read the journal)",
            system.systemd_dir.display(),
            config.installed_binary().display()
        )?,
    }
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
