/*!
`sentry expire`: lift every block older than `expire_block_days` and end trust older than
`trust_days` (for a daily timer).
*/

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::Result;

pub fn run(ctx: &Context) -> Result<()> {
    let config = ctx.config()?;
    let lifted = ctx.open(&config, Patience::Admin)?.expire()?;
    if ctx.verbose {
        eprintln!(
            "sentry: {} expired blocks lifted or trusts ended",
            lifted.len()
        );
    }
    Ok(())
}
