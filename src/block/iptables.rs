/*!
iptables: for hosts without ipset or nftables sets, one `-s ADDRESS -j DROP` rule per
blocked address in a chain of sentry's own (default `SENTRY`) in the filter table, with
`iptables` for IPv4 and `ip6tables` for IPv6.

sentry creates the chain but never links it anywhere: the admin does, once, e.g.
`iptables -I INPUT -j SENTRY` (and the same with ip6tables). The chain belongs to sentry:
every change rewrites it whole, so a rule someone else put in it is dropped.

Each change computes the chain's new contents (its current members, plus the added,
minus the removed) and loads them with ONE `iptables-restore --noflush` call per family,
whose input declares the chain (`:SENTRY - [0:0]`), appends one rule per member, and
commits. With `--noflush`, declaring a chain creates it, or flushes it if it exists,
and leaves every other chain and rule of the table alone (including the jump to it);
tests/backends_linux.rs checks this in a network namespace with both iptables-nft and
iptables-legacy. The load is one transaction, so the chain is never seen half-written.
Adding a present or removing an absent address changes nothing, and then nothing is
loaded.

A chain that does not exist has no members. iptables-nft 1.8.9 reports a missing chain
as "incompatible", so absence is confirmed from the table's listing (no `-N SENTRY`)
rather than from the wording of an error.
*/

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Deserialize;

use super::{DenyList, Entry, program, run};
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[iptables]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The chain of sentry's own, in the filter table of both families.
    pub chain: String,
    /// The programs (names on the safe PATH, or absolute paths), e.g. `iptables-legacy`
    /// and `iptables-legacy-restore` on a host whose own rules use the legacy backend.
    pub iptables: String,
    pub ip6tables: String,
    pub iptables_restore: String,
    pub ip6tables_restore: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            chain: "SENTRY".into(),
            iptables: "iptables".into(),
            ip6tables: "ip6tables".into(),
            iptables_restore: "iptables-restore".into(),
            ip6tables_restore: "ip6tables-restore".into(),
        }
    }
}

/// The chain in both families' filter tables.
pub struct Iptables {
    settings: Settings,
}

/// The longest chain name iptables accepts (XT_EXTENSION_MAXNAMELEN is 29 with the NUL).
const MAX_CHAIN: usize = 28;

/// Names that are not a chain of sentry's own: flushing a built-in chain would remove
/// the admin's rules, and the standard targets cannot be chains.
const RESERVED: [&str; 9] = [
    "INPUT",
    "OUTPUT",
    "FORWARD",
    "PREROUTING",
    "POSTROUTING",
    "ACCEPT",
    "DROP",
    "RETURN",
    "QUEUE",
];

/// One address family's tools.
#[derive(Clone, Copy)]
struct Family {
    v6: bool,
}

impl Family {
    const BOTH: [Family; 2] = [Family { v6: false }, Family { v6: true }];

    fn prefix_len(self) -> &'static str {
        if self.v6 { "/128" } else { "/32" }
    }
}

impl Iptables {
    pub fn new(settings: Settings) -> Iptables {
        Iptables { settings }
    }

    /// The chain name goes into a restore script and onto the command line.
    fn chain(&self) -> Result<&str> {
        let chain = self.settings.chain.as_str();
        let plain = !chain.is_empty()
            && chain.len() <= MAX_CHAIN
            && !chain.starts_with('-')
            && chain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !plain {
            return Err(Error::Input(format!(
                "[iptables] chain = {chain:?}: use at most {MAX_CHAIN} letters, digits, _ and -"
            )));
        }
        if RESERVED.contains(&chain) {
            return Err(Error::Input(format!(
                "[iptables] chain = {chain:?} is built in; sentry needs a chain of its own, which it rewrites"
            )));
        }
        Ok(chain)
    }

    fn lister(&self, family: Family) -> Result<std::path::PathBuf> {
        if family.v6 {
            program(&self.settings.ip6tables, "iptables", "ip6tables")
        } else {
            program(&self.settings.iptables, "iptables", "iptables")
        }
    }

    fn restorer(&self, family: Family) -> Result<std::path::PathBuf> {
        if family.v6 {
            program(
                &self.settings.ip6tables_restore,
                "iptables",
                "ip6tables_restore",
            )
        } else {
            program(
                &self.settings.iptables_restore,
                "iptables",
                "iptables_restore",
            )
        }
    }

    /// The addresses sentry's rules drop in one family, or None when the chain is missing.
    fn chain_members(&self, family: Family) -> Result<Option<BTreeSet<ClientIp>>> {
        let chain = self.chain()?;
        let lister = self.lister(family)?;
        let args = |extra: &[&str]| -> Vec<String> {
            ["-w", "-S"]
                .iter()
                .chain(extra)
                .map(|a| a.to_string())
                .collect()
        };
        let out = crate::exec::run(&lister, &args(&[chain]), None, super::PROGRAM_TIMEOUT)?;
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            return Ok(Some(parse_rules(&text, chain, family.v6)));
        }
        // Is the chain missing, or is something else wrong? The whole table says.
        let table = crate::exec::run(&lister, &args(&[]), None, super::PROGRAM_TIMEOUT)?;
        let declared = format!("-N {chain}");
        if table.status.success()
            && !String::from_utf8_lossy(&table.stdout)
                .lines()
                .any(|l| l.trim_end() == declared)
        {
            return Ok(None);
        }
        Err(Error::Runtime(format!(
            "iptables: listing chain {chain} with {} failed: {}",
            lister.display(),
            out.complaint()
        )))
    }

    /// Makes the chain hold exactly `members`: one `*-restore --noflush` transaction.
    fn load(&self, family: Family, members: &BTreeSet<ClientIp>) -> Result<()> {
        let chain = self.chain()?;
        let mut script = format!("*filter\n:{chain} - [0:0]\n");
        for ip in members {
            let _ = writeln!(script, "-A {chain} -s {ip}{} -j DROP", family.prefix_len());
        }
        script.push_str("COMMIT\n");
        run(
            "iptables",
            &self.restorer(family)?,
            &["-w".into(), "--noflush".into()],
            Some(script.into_bytes()),
        )
        .map(|_| ())
    }
}

/// The addresses of `-A CHAIN -s ADDRESS/32 -j DROP` rules (`/128` for IPv6): the rules
/// sentry writes. Any other rule in the chain is not a member.
fn parse_rules(text: &str, chain: &str, v6: bool) -> BTreeSet<ClientIp> {
    let full = if v6 { "/128" } else { "/32" };
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                ["-A", c, "-s", source, "-j", "DROP"] if c == chain => source
                    .strip_suffix(full)
                    .and_then(ClientIp::parse_opt)
                    .filter(|ip| ip.is_ipv6() == v6),
                _ => None,
            }
        })
        .collect()
}

impl DenyList for Iptables {
    fn check(&self) -> Result<()> {
        self.chain().map(|_| ())
    }

    fn name(&self) -> &'static str {
        "iptables"
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        for family in Family::BOTH {
            let adding: Vec<ClientIp> = entries
                .iter()
                .map(|e| e.ip)
                .filter(|ip| ip.is_ipv6() == family.v6)
                .collect();
            if adding.is_empty() {
                continue;
            }
            let current = self.chain_members(family)?;
            let mut wanted = current.clone().unwrap_or_default();
            wanted.extend(adding);
            if current.as_ref() != Some(&wanted) {
                self.load(family, &wanted)?;
            }
        }
        Ok(())
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        for family in Family::BOTH {
            let removing: BTreeSet<ClientIp> = ips
                .iter()
                .filter(|ip| ip.is_ipv6() == family.v6)
                .copied()
                .collect();
            if removing.is_empty() {
                continue;
            }
            let Some(current) = self.chain_members(family)? else {
                continue;
            };
            let wanted: BTreeSet<ClientIp> = current.difference(&removing).copied().collect();
            if wanted.len() != current.len() {
                self.load(family, &wanted)?;
            }
        }
        Ok(())
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        let mut all = Vec::new();
        for family in Family::BOTH {
            all.extend(self.chain_members(family)?.unwrap_or_default());
        }
        Ok(all)
    }

    fn prepare(&mut self) -> Result<()> {
        for family in Family::BOTH {
            if self.chain_members(family)?.is_none() {
                self.load(family, &BTreeSet::new())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_sentrys_own_drop_rules() {
        let text = "-N SENTRY\n-A SENTRY -s 1.2.3.4/32 -j DROP\n\
                    -A SENTRY -s 1.2.3.45/32 -j DROP\n-A SENTRY -s 10.0.0.0/8 -j DROP\n\
                    -A SENTRY -s 5.5.5.5/32 -j ACCEPT\n-A OTHER -s 9.9.9.9/32 -j DROP\n\
                    -A SENTRY -s 2001:db8::9/128 -j DROP\n";
        let got: Vec<String> = parse_rules(text, "SENTRY", false)
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        assert_eq!(got, ["1.2.3.4", "1.2.3.45"]);
        let v6 = parse_rules(
            "-A SENTRY -s 2001:db8::9/128 -j DROP\n-A SENTRY -s ::ffff:1.2.3.4/128 -j DROP\n",
            "SENTRY",
            true,
        );
        assert_eq!(v6.len(), 1);
    }

    #[test]
    fn built_in_and_odd_chain_names_are_refused() {
        for bad in [
            "INPUT",
            "",
            "-F",
            "a b",
            "x;y",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ123",
        ] {
            let backend = Iptables::new(Settings {
                chain: bad.into(),
                ..Settings::default()
            });
            assert!(backend.chain().is_err(), "{bad:?}");
        }
        assert!(Iptables::new(Settings::default()).chain().is_ok());
    }
}
