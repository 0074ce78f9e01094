/*!
`sentry delist` (`--delist`): take an address, or an IPv6 prefix blocked whole, off the
allow and block lists.
*/

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::ip::{ClientIp, Network};

/// Take an address (or an IPv6 prefix, 2001:db8:1:2::/64) off the allow and block lists
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    pub ip: Target,
}

/// What `delist` takes: one address, or a prefix as `report` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Ip(ClientIp),
    Prefix(Network),
}

impl std::str::FromStr for Target {
    type Err = Error;
    fn from_str(text: &str) -> Result<Target> {
        if text.contains('/') {
            return Network::parse_prefix(text).map(Target::Prefix).ok_or_else(|| {
                Error::Input(format!(
                    "invalid IPv6 prefix: {} (write it as `sentry report` lists it, e.g. 2001:db8:1:2::/64)",
                    text.escape_debug()
                ))
            });
        }
        ClientIp::parse(text).map(Target::Ip)
    }
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let config = ctx.config()?;
    let mut sentry = ctx.open(&config, Patience::Admin)?;
    match args.ip {
        // Not an error: the address is off every list, as asked.
        Target::Ip(ip) => {
            if sentry.delist(ip)?.is_none() {
                out!("no record of {ip}: it is on no list; nothing to delist")?;
            }
        }
        Target::Prefix(prefix) => match sentry.delist_prefix(prefix)? {
            None => out!("no record of {prefix}: it is on no list; nothing to delist")?,
            Some(0) => {}
            Some(n) => out!(
                "delisted {prefix} and {n} blocked {} in it",
                if n == 1 { "address" } else { "addresses" }
            )?,
        },
    }
    Ok(())
}
