/*!
`sentry allow` (`--allow`, `--whitelist`): allow an address from now on.
*/

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::Result;
use crate::ip::ClientIp;

/// Allow an address from now on, and take it off every deny list
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    pub ip: ClientIp,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    ctx.open(&config, Patience::Admin)?.allow(args.ip)?;
    Ok(())
}
