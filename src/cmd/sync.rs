/*!
`sentry sync`: make every enabled backend's list equal to the database's blocked set and
print what changed; with a `[fleet]` section, then one exchange with the fleet's server.
*/

use std::io::Write;

use crate::actions::Patience;
use crate::cmd::{Context, now};
use crate::error::{Error, Result};

/// Make every enabled backend's list equal to the database's blocked set; with [fleet], exchange with the other hosts
///
/// For boot and after a firewall reload, when kernel sets are empty: adds what is
/// missing, removes what sentry put there and no longer blocks, prints what changed.
///
/// With a [fleet] section, then exchanges decisions and evidence with the fleet's
/// PostgreSQL server (see README "Fleet mode").
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// Print what would change without changing it (no fleet exchange)
    #[arg(long)]
    pub dry_run: bool,
    /// Only the fleet exchange, not the comparison of every backend (for a frequent timer)
    #[arg(long, conflicts_with = "dry_run")]
    pub fleet_only: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let Args {
        dry_run,
        fleet_only,
    } = args;
    let config = ctx.config()?;
    let mut sentry = ctx.open(&config, Patience::Admin)?;
    let changes = if fleet_only {
        Vec::new()
    } else {
        sentry.sync(dry_run)?
    };
    let write_err = |e: std::io::Error| Error::output(&e);
    let mut out = std::io::stdout().lock();
    let verb = if dry_run { "would add" } else { "added" };
    let verb2 = if dry_run { "would remove" } else { "removed" };
    for c in &changes {
        writeln!(
            out,
            "{}: {verb} {}, {verb2} {}",
            c.backend,
            c.missing(),
            c.extra()
        )
        .map_err(write_err)?;
        if ctx.verbose || dry_run {
            for net in &c.added_networks {
                writeln!(out, "  + {net}").map_err(write_err)?;
            }
            for ip in &c.added {
                writeln!(out, "  + {ip}").map_err(write_err)?;
            }
            for ip in &c.removed {
                writeln!(out, "  - {ip}").map_err(write_err)?;
            }
            for net in &c.removed_networks {
                writeln!(out, "  - {net}").map_err(write_err)?;
            }
        }
    }
    if sentry.config.fleet.is_none() || dry_run {
        return Ok(());
    }
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
                x.applied.len() + x.applied_prefixes.len()
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
            if ctx.verbose {
                eprintln!(
                    "sentry: fleet server failed {failures} times in a row; next attempt in {} s",
                    until - now()
                );
            }
        }
    }
    Ok(())
}
