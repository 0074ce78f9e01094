/*!
`sentry manpage`: sentry(8) in roff, from the clap definition (sections in `crate::manpage`).
*/

use std::io::Write;

use clap::CommandFactory;

use crate::error::{Error, Result};

pub fn run() -> Result<()> {
    let mut page = Vec::new();
    let write_err = |e: std::io::Error| Error::output(&e);
    crate::manpage::render(crate::cli::Args::command(), &mut page).map_err(write_err)?;
    std::io::stdout().lock().write_all(&page).map_err(write_err)
}
