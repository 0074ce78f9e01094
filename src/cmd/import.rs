/*!
`sentry import`: records from an older sentry (the per-address tree, `sentry dump`'s output,
sentry.pl's DBM file) and other tools' lists (plain lists, deny files, fail2ban's bans).
*/

use std::path::{Path, PathBuf};

use crate::actions::Patience;
use crate::cmd::{Context, counted, now};
use crate::error::{Error, Result};
use crate::store::foreign;

/// Import records from an older sentry, fail2ban, DenyHosts or a plain list of addresses
///
/// Without options: the one-file-per-address tree ($ROOT/seen, white, black), which is
/// also imported automatically the first time it is found. With --dump: the output of
/// `sentry dump`. '-' reads stdin (--dump, --list, --hosts-deny). Entries that are not
/// one address, or are on the never-block list, are named and skipped.
//
// The options as clap reads them; `Args::source` makes the one `Source` they name.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// A file written by `sentry dump`
    #[arg(long, value_name = "FILE", group = "source")]
    pub dump: Option<PathBuf>,
    /// A plain list of addresses, one per line (`#` comments)
    #[arg(long, value_name = "FILE", group = "source")]
    pub list: Option<PathBuf>,
    /// A tcpwrappers deny file, e.g. DenyHosts' /etc/hosts.deny
    #[arg(long, value_name = "FILE", group = "source")]
    pub hosts_deny: Option<PathBuf>,
    /// fail2ban's database (its `bans` table), e.g. /var/lib/fail2ban/fail2ban.sqlite3
    #[arg(long, value_name = "FILE", group = "source")]
    pub fail2ban: Option<PathBuf>,
    /// sentry.pl's DBM file, as sentry.pl named it (e.g. /var/db/sentry/sentry.dbm); read
    /// through perl
    #[arg(long, value_name = "FILE", group = "source")]
    pub dbm: Option<PathBuf>,
    /// With --list: put the addresses on this list
    #[arg(long = "as", value_name = "LIST", default_value = "block")]
    pub as_list: ListName,
}

/// `--as`: which list a plain list's addresses go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListName {
    Block,
    Allow,
}

/// What `sentry import` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The one-file-per-address tree under the root ($ROOT/seen, white, black).
    Files,
    /// The output of `sentry dump`.
    Dump(PathBuf),
    /// One address per line, imported as blocked (or allowed).
    Plain { path: PathBuf, allow: bool },
    /// A tcpwrappers deny file (DenyHosts, the originals): blocked.
    HostsDeny(PathBuf),
    /// fail2ban's `bans` table: blocked since their time of ban.
    Fail2ban(PathBuf),
    /// sentry.pl's DBM file, read through perl.
    Dbm(PathBuf),
}

impl Args {
    /// The one source the options name (clap allows at most one).
    pub fn source(self) -> Source {
        let allow = self.as_list == ListName::Allow;
        match self {
            Args {
                dbm: Some(path), ..
            } => Source::Dbm(path),
            Args {
                dump: Some(path), ..
            } => Source::Dump(path),
            Args {
                list: Some(path), ..
            } => Source::Plain { path, allow },
            Args {
                hosts_deny: Some(path),
                ..
            } => Source::HostsDeny(path),
            Args {
                fail2ban: Some(path),
                ..
            } => Source::Fail2ban(path),
            _ => Source::Files,
        }
    }
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    match args.source() {
        Source::Files => {
            let mut sentry = ctx.open(&config, Patience::Admin)?;
            if !crate::store::legacy_files::present(&config.root) {
                eprintln!(
                    "sentry: nothing to import: no seen/, white/ or black/ directory under {}",
                    config.root.display()
                );
            } else {
                sentry.import_legacy_files(false)?;
            }
        }
        Source::Dump(path) => {
            let text = read_input(&path)?;
            let mut sentry = ctx.open(&config, Patience::Admin)?;
            let count = sentry.import_dump(&text, &path.display().to_string())?;
            eprintln!(
                "sentry: imported {} from {}",
                counted(count, "record", "records"),
                path.display()
            );
        }
        Source::Dbm(path) => {
            let (records, skipped) = foreign::perl_dbm(&path, now())?;
            let mut sentry = ctx.open(&config, Patience::Admin)?;
            let count = sentry.import_records(&records)?;
            eprintln!(
                "sentry: imported {} from {} ({} skipped)",
                counted(count, "address", "addresses"),
                path.display(),
                counted(skipped, "entry", "entries"),
            );
        }
        Source::Plain { path, allow } => {
            let imported = foreign::plain_list(&read_input(&path)?);
            listings(ctx, &config, imported, allow, &path)?;
        }
        Source::HostsDeny(path) => {
            let imported = foreign::hosts_deny(&read_input(&path)?);
            listings(ctx, &config, imported, false, &path)?;
        }
        Source::Fail2ban(path) => {
            let imported = foreign::fail2ban(&path)?;
            listings(ctx, &config, imported, false, &path)?;
        }
    }
    Ok(())
}

/// Another tool's list: every address allowed or blocked, the entries skipped named (up to
/// a screenful) and counted.
fn listings(
    ctx: &Context,
    config: &crate::config::Config,
    imported: foreign::Imported,
    allow: bool,
    path: &Path,
) -> Result<()> {
    let mut sentry = ctx.open(config, Patience::Admin)?;
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
    let count = sentry.import_listings(&imported.addresses, allow, &path.display().to_string())?;
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
    Ok(())
}

/// A file's text, or stdin's for `-`.
fn read_input(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Error::Runtime(format!("could not read stdin: {e}")))
    } else {
        std::fs::read_to_string(path).map_err(|e| Error::io("read", path, &e))
    }
}
