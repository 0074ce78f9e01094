/*!
`sentry metrics`: Prometheus text for node_exporter's textfile collector (the text itself is
made in `monitor`).
*/

use std::io::Write;

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::{Error, Result};

pub fn run(ctx: &Context) -> Result<()> {
    let config = ctx.config()?;
    if !crate::root::has_database(&config)? {
        return Err(Error::Input(format!(
            "no database at {}: run sentry setup",
            config.database_path().display()
        )));
    }
    let mut sentry = ctx.open(&config, Patience::Admin)?;
    let text = crate::monitor::metrics(&mut sentry)?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Error::output(&e))
}
