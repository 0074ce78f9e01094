/*!
One module per command: its typed arguments (part of the clap definition in [`crate::cli`])
and its `run`, which does the work and prints what the command prints.

`cli` parses either grammar into a [`crate::cli::Command`] holding these arguments, already
validated (addresses are [`ClientIp`](crate::ip::ClientIp)s, the import source is one enum
value), and hands it with a [`Context`] to the command's `run`. Exit codes and the fail-open
rule of `--connect` stay in `cli`.
*/

use std::time::{SystemTime, UNIX_EPOCH};

use crate::actions::{Patience, Sentry};
use crate::config::{Config, Overrides};
use crate::error::Result;

/// `println!` that returns an error instead of panicking: a reader that went away
/// (`sentry setup | head -1`) ends the command quietly, as ripgrep does.
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!("{}\n", format_args!($($arg)*)))
            .map_err(|e| $crate::error::Error::output(&e))
    };
}

pub mod allow;
pub mod block;
pub mod check;
pub mod completions;
pub mod connect;
pub mod delist;
pub mod dump;
pub mod expire;
pub mod import;
pub mod ingest;
pub mod manpage;
pub mod metrics;
pub mod pam;
pub mod parse;
pub mod report;
pub mod scan;
pub mod setup;
pub mod sync;
pub mod update;

/// What every command needs besides its own arguments: where the configuration comes from,
/// the environment it is read with, and how talkative to be.
pub struct Context<'a> {
    /// `--root` and `--config`.
    pub overrides: Overrides,
    /// `-v`: say what sentry is doing, on stderr.
    pub verbose: bool,
    /// The environment (`ROOT_DIR`, the bash original's variables); a function so tests can
    /// pass their own.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Context<'_> {
    /// The configuration: defaults, the file, the environment; then each backend's section
    /// checked by the backend (`config` keeps them raw, so it depends on no backend).
    pub fn config(&self) -> Result<Config> {
        let config = Config::load(&self.overrides, self.env)?;
        crate::block::check_sections(&config)?;
        Ok(config)
    }

    /// Opens the database and deny lists of `config` at this moment, with the schema
    /// migrated and what the first command after an upgrade owes done (every command that
    /// opens the database may be that first one).
    pub fn open(&self, config: &Config, patience: Patience) -> Result<Sentry> {
        let mut sentry = Sentry::open(config.clone(), patience, now(), self.verbose)?;
        let migrated = sentry.store.migrate()?;
        sentry.catch_up(migrated)?;
        Ok(sentry)
    }
}

/// The wall clock, in Unix seconds: "now" for everything a command decides.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `1 address`, `2 addresses`.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
