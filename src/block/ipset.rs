/*!
ipset: two `hash:ip` sets, one per address family (a set holds one family), named after
`[block] firewall_table` (`sentry_blocklist4` and `sentry_blocklist6` by default).

sentry creates the sets if they are missing, and never a rule: the admin's own rules
reference them, e.g. `iptables -I INPUT -m set --match-set sentry_blocklist4 src -j DROP`.
Every change is one `ipset restore -exist` call (one program start for any number of
addresses; `-exist` makes adding a present or deleting an absent address a no-op).

A set the admin created beforehand is used as it is: `ipset create -exist` fails when
the options differ (another `maxelem`, a `timeout`), so sentry first asks which sets
exist and only creates the missing ones. Removal reads the sets first and deletes only
what is there, so a missing set is not an error and is not created just to be emptied.
The sets carry no timeouts: `sentry expire` lifts old blocks.

IPv6 prefixes blocked whole go into a third set, `hash:net` (`sentry_blocklist6net`): a
`hash:ip` set cannot hold them, and cannot be recreated while a rule uses it. Until a rule
uses the network set too (its references count, from `ipset list -t`), the addresses of
a blocked prefix stay in the address set.
*/

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Deserialize;

use super::{DenyList, Entry, NetEntry, program, run};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::{ClientIp, Network};

/// `[ipset]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The IPv4 set; default `[block] firewall_table` + "4".
    pub set4: Option<String>,
    /// The IPv6 set; default `[block] firewall_table` + "6".
    pub set6: Option<String>,
    /// The `hash:net` set of IPv6 prefixes; default `[block] firewall_table` + "6net".
    pub set6net: Option<String>,
    /// Capacity of the sets sentry creates (ipset's own default is 65536; a full set
    /// refuses further additions).
    pub maxelem: u32,
    /// The ipset program (name on the safe PATH, or absolute path).
    pub ipset: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            set4: None,
            set6: None,
            set6net: None,
            maxelem: 65_536,
            ipset: "ipset".into(),
        }
    }
}

/// The two sets in the kernel.
pub struct Ipset {
    settings: Settings,
    set4: String,
    set6: String,
    set6net: String,
}

/// The longest set name the kernel accepts (IPSET_MAXNAMELEN is 32 with the NUL).
const MAX_NAME: usize = 31;

impl Ipset {
    pub fn new(settings: Settings, config: &Config) -> Ipset {
        let set4 = settings
            .set4
            .clone()
            .unwrap_or_else(|| format!("{}4", config.firewall_table));
        let set6 = settings
            .set6
            .clone()
            .unwrap_or_else(|| format!("{}6", config.firewall_table));
        let set6net = settings
            .set6net
            .clone()
            .unwrap_or_else(|| format!("{}6net", config.firewall_table));
        Ipset {
            settings,
            set4,
            set6,
            set6net,
        }
    }

    /// The names go into an ipset script and onto the command line: plain names only,
    /// not starting with `-` (which ipset would read as an option).
    fn checked(&self) -> Result<()> {
        let plain = |v: &str| {
            !v.is_empty()
                && v.len() <= MAX_NAME
                && !v.starts_with('-')
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        for (key, value, given) in [
            ("set4", &self.set4, self.settings.set4.is_some()),
            ("set6", &self.set6, self.settings.set6.is_some()),
            ("set6net", &self.set6net, self.settings.set6net.is_some()),
        ] {
            if !plain(value) {
                let origin = if given {
                    String::new()
                } else {
                    " (made from [block] firewall_table)".to_string()
                };
                return Err(Error::Input(format!(
                    "[ipset] {key} = {value:?}{origin}: use at most {MAX_NAME} letters, digits, _ and -"
                )));
            }
        }
        if self.set4 == self.set6 {
            return Err(Error::Input(format!(
                "[ipset] set4 and set6 are both {:?}: a set holds one address family",
                self.set4
            )));
        }
        if self.set6net == self.set4 || self.set6net == self.set6 {
            return Err(Error::Input(format!(
                "[ipset] set6net is {:?} like an address set: prefixes need a hash:net set of their own",
                self.set6net
            )));
        }
        if self.settings.maxelem == 0 {
            return Err(Error::Input("[ipset] maxelem must be at least 1".into()));
        }
        Ok(())
    }

    fn ipset(&self) -> Result<PathBuf> {
        program(&self.settings.ipset, "ipset", "ipset")
    }

    fn set_for(&self, ip: &ClientIp) -> &str {
        if ip.is_ipv6() { &self.set6 } else { &self.set4 }
    }

    /// `create` lines for whichever of the two sets does not exist yet.
    fn creations(&self) -> Result<String> {
        self.checked()?;
        let out = run("ipset", &self.ipset()?, &["list".into(), "-n".into()], None)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let existing: HashSet<&str> = text.lines().map(str::trim).collect();
        let mut script = String::new();
        for (set, kind, family) in [
            (&self.set4, "hash:ip", "inet"),
            (&self.set6, "hash:ip", "inet6"),
            (&self.set6net, "hash:net", "inet6"),
        ] {
            if !existing.contains(set.as_str()) {
                let _ = writeln!(
                    script,
                    "create {set} {kind} family {family} maxelem {}",
                    self.settings.maxelem
                );
            }
        }
        Ok(script)
    }

    fn restore(&self, script: String) -> Result<()> {
        run(
            "ipset",
            &self.ipset()?,
            &["restore".into(), "-exist".into()],
            Some(script.into_bytes()),
        )
        .map(|_| ())
    }

    /// The addresses in one set, from its `save` form (`add NAME ADDRESS [options]`).
    fn list_set(&self, set: &str) -> Result<Vec<ClientIp>> {
        Ok(parse_members(&self.save(set)?, set))
    }

    /// One set in its `save` form; empty when it does not exist yet.
    fn save(&self, set: &str) -> Result<String> {
        self.checked()?;
        let args: Vec<String> = ["list", set, "-output", "save"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let out = crate::exec::run(&self.ipset()?, &args, None, super::PROGRAM_TIMEOUT)?;
        if !out.status.success() {
            // A set that does not exist yet has no members; `sync` creates it.
            if out.stderr.contains("does not exist") {
                return Ok(String::new());
            }
            return Err(Error::Runtime(format!(
                "ipset: listing set {set} failed: {}",
                out.complaint()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The prefixes of `add SET NET ...` lines.
fn parse_networks(text: &str, set: &str) -> Vec<Network> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("add"), Some(name), Some(net)) if name == set => Network::parse_prefix(net),
                _ => None,
            }
        })
        .collect()
}

/// The `References: N` line of `ipset list -t`.
fn references(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("References:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The addresses of `add SET ADDRESS ...` lines; anything else (the `create` line, entries
/// that are networks in a set the admin made) is not an address sentry put there.
fn parse_members(text: &str, set: &str) -> Vec<ClientIp> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("add"), Some(name), Some(addr)) if name == set => ClientIp::parse_opt(addr),
                _ => None,
            }
        })
        .collect()
}

impl DenyList for Ipset {
    fn check(&self) -> Result<()> {
        self.checked()
    }

    fn name(&self) -> &'static str {
        "ipset"
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        let mut script = self.creations()?;
        for entry in entries {
            let _ = writeln!(script, "add {} {}", self.set_for(&entry.ip), entry.ip);
        }
        if script.is_empty() {
            return Ok(());
        }
        self.restore(script)
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        if ips.is_empty() {
            return Ok(());
        }
        let present: HashSet<ClientIp> = self.members()?.into_iter().collect();
        let mut script = String::new();
        for ip in ips.iter().filter(|ip| present.contains(ip)) {
            let _ = writeln!(script, "del {} {ip}", self.set_for(ip));
        }
        if script.is_empty() {
            return Ok(());
        }
        self.restore(script)
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        let mut all = self.list_set(&self.set4)?;
        all.extend(self.list_set(&self.set6)?);
        Ok(all)
    }

    fn prepare(&mut self) -> Result<()> {
        let script = self.creations()?;
        if script.is_empty() {
            return Ok(());
        }
        self.restore(script)
    }

    fn holds_networks(&self) -> bool {
        true
    }

    fn add_networks(&mut self, nets: &[NetEntry]) -> Result<()> {
        let mut script = self.creations()?;
        for n in nets {
            let _ = writeln!(script, "add {} {}", self.set6net, n.net);
        }
        if script.is_empty() {
            return Ok(());
        }
        self.restore(script)
    }

    fn remove_networks(&mut self, nets: &[Network]) -> Result<()> {
        let present: HashSet<Network> = self.network_members()?.into_iter().collect();
        let mut script = String::new();
        for net in nets.iter().filter(|n| present.contains(n)) {
            let _ = writeln!(script, "del {} {net}", self.set6net);
        }
        if script.is_empty() {
            return Ok(());
        }
        self.restore(script)
    }

    fn network_members(&self) -> Result<Vec<Network>> {
        self.checked()?;
        Ok(parse_networks(&self.save(&self.set6net)?, &self.set6net))
    }

    fn unused_networks(&self) -> Result<Option<String>> {
        self.checked()?;
        let args: Vec<String> = ["list", "-t", &self.set6net]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let out = crate::exec::run(&self.ipset()?, &args, None, super::PROGRAM_TIMEOUT)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && references(&text).is_some_and(|n| n > 0) {
            return Ok(None);
        }
        Ok(Some(format!(
            "ipset: no rule uses set {net} (IPv6 prefixes blocked whole), so the addresses of \
             blocked prefixes stay in {six} one by one; add \
             `ip6tables -I INPUT -m set --match-set {net} src -j DROP` beside your rule for {six} \
             (README, Firewalls)",
            net = self.set6net,
            six = self.set6
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_the_add_lines_of_our_set() {
        let text = "create s4 hash:ip family inet hashsize 1024 maxelem 65536\n\
                    add s4 1.2.3.4\nadd s4 1.2.3.45 timeout 30\nadd other 9.9.9.9\n\
                    add s4 10.0.0.0/24\nadd s4 2001:DB8::9\n";
        let got: Vec<String> = parse_members(text, "s4")
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        assert_eq!(got, ["1.2.3.4", "1.2.3.45", "2001:db8::9"]);
    }

    #[test]
    fn networks_and_references_are_read_from_ipsets_output() {
        let text = "create n6 hash:net family inet6 hashsize 1024 maxelem 65536\n\
                    add n6 2001:db8:1:2::/64\nadd n6 2001:db8:1:3::1/64\nadd x 2001:db8:9::/64\n";
        assert_eq!(
            parse_networks(text, "n6"),
            [Network::parse_prefix("2001:db8:1:2::/64").expect("prefix")]
        );
        let listing = "Name: n6\nType: hash:net\nRevision: 7\nHeader: family inet6\n\
                       Size in memory: 1240\nReferences: 1\nNumber of entries: 0\n";
        assert_eq!(references(listing), Some(1));
        assert_eq!(references(&listing.replace(": 1\nN", ": 0\nN")), Some(0));
    }
}
