/*!
`sentry connect` (`--connect`): count a connection and decide, for tcpd, tcpserver or
pam_exec. Quiet unless `-v`; `cli` lets the connection through on any error but a bad address.
*/

use crate::actions::Patience;
use crate::cmd::Context;
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// Count a connection; run by tcpd, tcpserver or pam_exec on every login attempt.
/// Without IP, the address is taken from $TCPREMOTEIP or $PAM_RHOST.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    // Without it, from $TCPREMOTEIP or $PAM_RHOST (the command's help says so).
    pub ip: Option<ClientIp>,
}

/// The address to count: the one given, else tcpserver's `$TCPREMOTEIP`, else pam_exec's
/// `$PAM_RHOST`. `usage` says how to give one when there is none.
pub fn address(
    given: Option<ClientIp>,
    env: &dyn Fn(&str) -> Option<String>,
    usage: &str,
) -> Result<ClientIp> {
    if let Some(ip) = given {
        return Ok(ip);
    }
    let from_environment = env("TCPREMOTEIP")
        .filter(|v| !v.is_empty())
        .or_else(|| env("PAM_RHOST").filter(|v| !v.is_empty()));
    match from_environment {
        Some(text) => ClientIp::parse(&text),
        None => Err(Error::Input(format!(
            "{usage} (or set TCPREMOTEIP / PAM_RHOST)"
        ))),
    }
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let ip = address(
        args.ip,
        ctx.env,
        "connect needs an address: sentry connect IP",
    )?;
    let config = ctx.config()?;
    ctx.open(&config, Patience::Login)?.connect(ip)?;
    Ok(())
}
