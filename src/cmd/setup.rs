/*!
`sentry setup`: the root, database and deny lists made, the existing logs read once, the
scan timer enabled where the journal holds the evidence, and the hosts.allow lines shown (or, with `--write-hosts-allow`, put in place; the edit itself is
`crate::setup`'s).
*/

use std::path::PathBuf;

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::Result;
use crate::{pam_stack, setup};

/// Create the root directory, database and deny file, and show the hosts.allow lines
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// Insert the two lines near the top of hosts.allow (keeps a backup)
    #[arg(long)]
    pub write_hosts_allow: bool,
    /// The hosts.allow file to edit
    #[arg(long, value_name = "PATH", default_value = "/etc/hosts.allow")]
    pub hosts_allow: PathBuf,
    /// Only print the PAM lines that run `sentry pam` on this host, and what each daemon
    /// needs (writing them stays yours: pam-auth-update on Debian)
    #[arg(long, conflicts_with = "write_hosts_allow")]
    pub pam: bool,
}

/// `setup --pam`: the lines, where they go, and how this host's PAM files stand now.
fn print_pam(ctx: &Context) -> Result<()> {
    let config = ctx.config()?;
    let pam_dir = crate::monitor::System::from_env(ctx.env).pam_dir;
    let [auth, session] = pam_stack::hook_lines(&config);
    let read = |name: &str| std::fs::read_to_string(pam_dir.join(name)).ok();
    out!("sentry pam records failed logins and logins as the daemons' PAM stacks tell them,")?;
    out!("with the client address the daemon took from the socket (see README, PAM).")?;
    if !config.evidence.pam {
        out!(
            "note: evidence leaves out \"pam\" in the configuration: add it, or nothing is recorded."
        )?;
    }
    if std::path::Path::new(pam_stack::PROFILE).exists() {
        out!(
            "\nThe package's profile {} holds these lines; let Debian put them",
            pam_stack::PROFILE
        )?;
        out!("in common-auth and common-session (raising the earlier success=N):\n")?;
        out!("  pam-auth-update --enable sentry")?;
        if config.root != std::path::Path::new(crate::config::DEFAULT_ROOT) {
            out!(
                "\n(the profile runs /usr/sbin/sentry with the default root: for this root use the lines below)"
            )?;
        }
    }
    out!(
        "\nIn {}/common-auth, after the last authentication module and just before",
        pam_dir.display()
    )?;
    out!("`auth requisite pam_deny.so`, raising every earlier success=N by one:\n")?;
    out!("  {auth}")?;
    out!("\nIn {}/common-session:\n", pam_dir.display())?;
    out!("  {session}")?;
    out!("\nThe daemons (each sets PAM_RHOST to the client's address):")?;
    for name in pam_stack::daemon_services() {
        let Some(text) = read(name) else {
            continue;
        };
        let includes = |file: &str| {
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["@include", file])
        };
        let stack = match (
            includes("common-auth") || pam_stack::has_hook(&text, "auth"),
            includes("common-session") || pam_stack::has_hook(&text, "session"),
        ) {
            (true, true) => {
                "includes common-auth and common-session (or runs the hook itself)".to_string()
            }
            (a, s) => format!(
                "add {}{}{} to it",
                if a { "" } else { "the auth line" },
                if a || s { "" } else { " and " },
                if s { "" } else { "the session line" }
            ),
        };
        let needs = match name {
            "sshd" => "sshd_config: UsePAM yes, UseDNS no",
            "dovecot" => {
                "passdb { driver = pam; args = session=yes dovecot } (a session only with session=yes)"
            }
            "vsftpd" => {
                "vsftpd.conf: pam_service_name=vsftpd, session_support=YES (a session only then)"
            }
            _ => "proftpd.conf: AuthPAM on, AuthPAMConfig proftpd",
        };
        out!("  {}/{name}: {stack}; {needs}", pam_dir.display())?;
    }
    let mut problems = Vec::new();
    for name in ["common-auth", "common-session"]
        .into_iter()
        .chain(pam_stack::daemon_services())
    {
        if let Some(text) = read(name) {
            problems.extend(pam_stack::judge(name, &text));
        }
    }
    for (state, problem) in problems {
        out!("{}: {problem}", state.label())?;
    }
    out!("\n`sentry check` verifies the lines and their order once they are in place.")?;
    Ok(())
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let Args {
        write_hosts_allow,
        hosts_allow,
        pam,
    } = args;
    if pam {
        return print_pam(ctx);
    }
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
