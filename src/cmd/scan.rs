/*!
`sentry scan`: read every log source's new lines and decide (for cron or a systemd timer);
`--dry-run` prints the decisions it would make and stores nothing.
*/

use std::io::Write;

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::{Error, Result};

/// Read new lines from every log source and decide (for cron or a systemd timer)
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// Print the decisions without making them; stores nothing (the next scan reads
    /// the same lines)
    #[arg(long)]
    pub dry_run: bool,
    /// Forget the stored evidence and re-read every log, rotated and compressed ones too
    #[arg(long)]
    pub from_start: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    let mut sentry = ctx.open(&config, Patience::Admin)?;
    let (outcome, decisions) = sentry.scan(args.dry_run, args.from_start)?;
    if !outcome.scanned {
        eprintln!("sentry: another sentry is scanning the logs; try again later");
    }
    let unreadable = outcome.errors.len();
    // Applied decisions are already told by -v (and syslog); a dry run's are not.
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        for d in &decisions {
            writeln!(out, "would be {d}").map_err(|e| Error::output(&e))?;
        }
    }
    if unreadable > 0 {
        return Err(Error::Runtime(format!(
            "{unreadable} log source(s) could not be read (see above); the others were"
        )));
    }
    Ok(())
}
