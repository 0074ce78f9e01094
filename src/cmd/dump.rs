/*!
`sentry dump` (`--dbdump`): every record as `ip<TAB>seen<TAB>allow<TAB>block`, the format
`sentry import --dump` reads back. A root without a database dumps nothing.
*/

use std::io::Write;

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::report;

pub fn run(ctx: &Context) -> Result<()> {
    let config = ctx.config()?;
    if !crate::root::has_database(&config)? {
        return Ok(());
    }
    let mut sentry = ctx.open(&config, Patience::Admin)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    report::write_dump(&mut out, &mut sentry.store)?;
    out.flush().map_err(|e| Error::output(&e))
}
