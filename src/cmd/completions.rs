/*!
`sentry completions SHELL`: shell completions from the clap definition.
*/

use std::io::Write;

use clap::CommandFactory;

use crate::error::{Error, Result};

/// Print shell completions: sentry completions bash|zsh|fish > FILE
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    /// The shell
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<()> {
    // Into memory first: clap_complete panics when it cannot write.
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut crate::cli::Args::command(),
        "sentry",
        &mut script,
    );
    std::io::stdout()
        .lock()
        .write_all(&script)
        .map_err(|e| Error::output(&e))
}
