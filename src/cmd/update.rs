/*!
`sentry update` (`--update`): install this binary, or the signed release `update_url` names,
at `$ROOT/sentry` (the work itself is in `crate::update`).
*/

use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::update::{self, Outcome};

/// Install this binary at $ROOT/sentry (the path hosts.allow runs) if it is newer
///
/// With `update_url` in the configuration, the release manifest there is fetched over
/// HTTPS with its signature (update_url + ".sig", checked against `update_public_key`),
/// and the binary it names is installed once its SHA-256 matches. The old binary is
/// kept as $ROOT/sentry.old; the replacement is atomic.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// Install even if the installed version is the same or newer (never skips the
    /// signature)
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    let me = std::env::current_exe()
        .map_err(|e| Error::Runtime(format!("cannot find this binary: {e}")))?;
    let target = config.installed_binary();
    crate::root::ensure_directory(&config, true)?;
    let outcome = match config.release_source()? {
        Some(source) => update::install_release(&source, &target, args.force)?,
        None => update::install(&me, &target, args.force)?,
    };
    match outcome {
        Outcome::Installed { from, to } => out!(
            "installed sentry {to} at {}{}",
            target.display(),
            from.map(|f| format!(" (was {f}; kept as sentry.old)"))
                .unwrap_or_default()
        ),
        Outcome::AlreadyCurrent { installed } => out!(
            "{} is already sentry {installed}; nothing to do",
            target.display()
        ),
    }
}
