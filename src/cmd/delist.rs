/*!
`sentry delist` (`--delist`): take an address off the allow and block lists.
*/

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::Result;
use crate::ip::ClientIp;

/// Take an address off the allow and block lists
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    pub ip: ClientIp,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    // Not an error: the address is off every list, as asked.
    if ctx
        .open(&config, Patience::Admin)?
        .delist(args.ip)?
        .is_none()
    {
        out!(
            "no record of {}: it is on no list; nothing to delist",
            args.ip
        )?;
    }
    Ok(())
}
