/*!
route: blackhole routes, for hosts without a firewall. The kernel drops the replies to a
blackholed address, so no connection from it can complete (its packets still arrive).

Each route is `blackhole ADDRESS proto N` in the main table, where the routing protocol
number N (`[route] protocol`, default 250) marks the routes as sentry's: `members()`
lists only those, so `sync` never removes a blackhole (or any other route) the admin
made. Every change is one `ip -force -batch -` call (one program start for any number
of addresses; `-force` carries on past a failing line and reports it at the end).

sentry reads its routes first and only adds what is missing and deletes what is there,
so repeated or redundant requests are no-ops, not errors. It adds with `route add`, not
`route replace`: a host route of someone else's for the same address (a blackhole of
the admin's, or a route to a peer) would otherwise be taken over and then deleted at
the next delist. Such a conflict fails the batch line ("File exists") and is reported
with the address; the other lines of the batch still apply.
*/

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Deserialize;

use super::{DenyList, Entry, program};
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[route]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The ip program of iproute2 (name on the safe PATH, or absolute path).
    pub ip: String,
    /// The routing protocol number that marks sentry's routes (5..=255; 0 to 4 are the
    /// kernel's own: unspec, redirect, kernel, boot, static).
    pub protocol: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ip: "ip".into(),
            protocol: 250,
        }
    }
}

/// Blackhole routes in the main table.
pub struct Routes {
    settings: Settings,
}

impl Routes {
    pub fn new(settings: Settings) -> Routes {
        Routes { settings }
    }

    fn protocol(&self) -> Result<u8> {
        match self.settings.protocol {
            0..=4 => Err(Error::Input(format!(
                "[route] protocol = {}: 0 to 4 are the kernel's own route origins (kernel, boot, static...); use a number of sentry's own, such as 250",
                self.settings.protocol
            ))),
            n => Ok(n),
        }
    }

    fn ip(&self) -> Result<std::path::PathBuf> {
        program(&self.settings.ip, "route", "ip")
    }

    /// sentry's blackhole routes of one family.
    fn list(&self, v6: bool) -> Result<Vec<ClientIp>> {
        let proto = self.protocol()?.to_string();
        let family = if v6 { "-6" } else { "-4" };
        let args: Vec<String> = [
            family,
            "route",
            "show",
            "type",
            "blackhole",
            "proto",
            &proto,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let ip = self.ip()?;
        let out = crate::exec::run(&ip, &args, None, super::PROGRAM_TIMEOUT)?;
        if !out.status.success() {
            return Err(Error::Runtime(format!(
                "route: `{} {}` failed: {}",
                ip.display(),
                args.join(" "),
                out.complaint()
            )));
        }
        Ok(parse_routes(&String::from_utf8_lossy(&out.stdout), v6))
    }

    /// Runs one batch; `lines[i]` is line i + 1 of it, for naming what failed.
    fn batch(&self, lines: &[(ClientIp, String)], verb: &str) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut script = String::new();
        for (_, line) in lines {
            let _ = writeln!(script, "{line}");
        }
        let ip = self.ip()?;
        let args: Vec<String> = ["-force", "-batch", "-"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let out = crate::exec::run(
            &ip,
            &args,
            Some(script.into_bytes()),
            super::PROGRAM_TIMEOUT,
        )?;
        if out.status.success() {
            return Ok(());
        }
        // ip names each failed line as "Command failed -:N" after the kernel's reason.
        let failed: Vec<String> = out
            .stderr
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Command failed -:"))
            .filter_map(|n| n.trim().parse::<usize>().ok())
            .filter_map(|n| lines.get(n.wrapping_sub(1)))
            .map(|(addr, _)| addr.to_string())
            .collect();
        let reasons: Vec<&str> = out
            .stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("Command failed"))
            .collect();
        let mut message = if failed.is_empty() {
            format!(
                "route: `{} -force -batch -` failed: {}",
                ip.display(),
                out.complaint()
            )
        } else {
            format!(
                "route: could not {verb} the blackhole route of {}: {}",
                failed.join(", "),
                reasons.join("; ")
            )
        };
        if reasons.iter().any(|r| r.contains("File exists")) {
            message.push_str(
                " (a route sentry did not make exists for that address; sentry does not replace it)",
            );
        }
        Err(Error::Runtime(message))
    }
}

/// The addresses of `blackhole ADDRESS[/32|/128] ...` lines; a wider prefix is not sentry's.
fn parse_routes(text: &str, v6: bool) -> Vec<ClientIp> {
    let full = if v6 { "/128" } else { "/32" };
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("blackhole") {
                return None;
            }
            let dest = words.next()?;
            let addr = match dest.split_once('/') {
                Some(_) => dest.strip_suffix(full)?,
                None => dest,
            };
            ClientIp::parse_opt(addr).filter(|ip| ip.is_ipv6() == v6)
        })
        .collect()
}

impl DenyList for Routes {
    fn check(&self) -> Result<()> {
        self.protocol().map(|_| ())
    }

    fn name(&self) -> &'static str {
        "route"
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let proto = self.protocol()?;
        let mut present: HashSet<ClientIp> = self.members()?.into_iter().collect();
        let lines: Vec<(ClientIp, String)> = entries
            .iter()
            .filter(|e| present.insert(e.ip))
            .map(|e| (e.ip, format!("route add blackhole {} proto {proto}", e.ip)))
            .collect();
        self.batch(&lines, "add")
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        if ips.is_empty() {
            return Ok(());
        }
        let proto = self.protocol()?;
        let mut present: HashSet<ClientIp> = self.members()?.into_iter().collect();
        let lines: Vec<(ClientIp, String)> = ips
            .iter()
            .filter(|ip| present.remove(ip))
            .map(|ip| (*ip, format!("route del blackhole {ip} proto {proto}")))
            .collect();
        self.batch(&lines, "delete")
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        let mut all = self.list(false)?;
        all.extend(self.list(true)?);
        Ok(all)
    }

    fn prepare(&mut self) -> Result<()> {
        // Nothing to create; check the settings and the program early (for `setup`).
        self.protocol()?;
        self.ip().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_parsed_with_or_without_a_prefix_length() {
        let v4 = parse_routes(
            "blackhole 1.2.3.4 \nblackhole 1.2.3.45/32 proto 250\nblackhole 10.0.0.0/8 \nunreachable 5.5.5.5\n",
            false,
        );
        let v4: Vec<String> = v4.iter().map(|ip| ip.to_string()).collect();
        assert_eq!(v4, ["1.2.3.4", "1.2.3.45"]);
        let v6 = parse_routes(
            "blackhole 2001:db8::9 dev lo proto 250 metric 1024 pref medium\nblackhole 2001:db8::/64 dev lo\n",
            true,
        );
        assert_eq!(v6.len(), 1);
    }

    #[test]
    fn the_kernels_own_protocols_are_refused() {
        for n in 0..=4 {
            let routes = Routes::new(Settings {
                protocol: n,
                ..Settings::default()
            });
            assert!(routes.protocol().is_err(), "{n}");
        }
        assert_eq!(Routes::new(Settings::default()).protocol().ok(), Some(250));
    }
}
