/*!
`sentry block` (`--block`, `--blacklist`): block an address on every enabled deny list.
*/

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::Result;
use crate::ip::ClientIp;

/// Block an address and add it to every enabled deny list
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    pub ip: ClientIp,
    /// Block even an address on the never-block list
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    ctx.open(&config, Patience::Admin)?
        .block(args.ip, args.force)?;
    Ok(())
}
