/*!
nftables: two named sets, one per address family (nft sets are typed), in a table of
sentry's own (default `inet sentry`, sets `blocklist4` and `blocklist6`), and a third for
IPv6 prefixes blocked whole (`blocklist6net`, `flags interval`): a set's type and flags
cannot change while the admin's rule uses it, so the networks get a set of their own,
which the admin's ruleset must use too before the prefixes' single addresses leave
`blocklist6`.

sentry creates the table and sets if they are missing, and never a rule: the admin's
own ruleset references them, e.g. `ip saddr @blocklist4 drop` in a chain of theirs.
Every change is one `nft -f -` transaction (atomic, and one program start for any
number of addresses). Deleting an absent element is an error in nft, so removal first
reads the set and deletes only what is there. With `timeout = true` the sets carry
the `timeout` flag and each element the remaining life of its block, so the kernel
drops it on time even if `sentry expire` does not run.
*/

use serde::Deserialize;

use super::{DenyList, Entry, NetEntry, by_family, program, run};
use crate::error::{Error, Result};
use crate::ip::{ClientIp, Network};

/// `[nftables]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Table family: `inet` (both families in one table), `ip`, `ip6`, `bridge` or `netdev`.
    pub family: String,
    pub table: String,
    pub set4: String,
    pub set6: String,
    /// The set of IPv6 prefixes blocked whole (`flags interval`).
    pub set6net: String,
    /// Give elements the remaining life of their block as an nft timeout.
    pub timeout: bool,
    /// The nft program (name on the safe PATH, or absolute path).
    pub nft: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            family: "inet".into(),
            table: "sentry".into(),
            set4: "blocklist4".into(),
            set6: "blocklist6".into(),
            set6net: "blocklist6net".into(),
            timeout: false,
            nft: "nft".into(),
        }
    }
}

/// The two sets in the kernel.
pub struct Nftables {
    settings: Settings,
}

impl Nftables {
    pub fn new(settings: Settings) -> Nftables {
        Nftables { settings }
    }

    /// The names go into an nft script: only plain identifiers are accepted.
    fn checked(&self) -> Result<&Settings> {
        let s = &self.settings;
        let plain = |v: &str| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if !["inet", "ip", "ip6", "bridge", "netdev"].contains(&s.family.as_str()) {
            return Err(Error::Input(format!(
                "[nftables] family {:?} is not an nft table family",
                s.family
            )));
        }
        for (key, value) in [
            ("table", &s.table),
            ("set4", &s.set4),
            ("set6", &s.set6),
            ("set6net", &s.set6net),
        ] {
            if !plain(value) {
                return Err(Error::Input(format!(
                    "[nftables] {key} = {value:?}: use letters, digits and _ only"
                )));
            }
        }
        Ok(s)
    }

    /// `add table` / `add set` are no-ops when they exist: every script starts with them.
    fn preamble(&self) -> Result<String> {
        let s = self.checked()?;
        let flags = if s.timeout { " flags timeout;" } else { "" };
        Ok(format!(
            "add table {f} {t}\nadd set {f} {t} {s4} {{ type ipv4_addr;{flags} }}\nadd set {f} {t} {s6} {{ type ipv6_addr;{flags} }}\n",
            f = s.family,
            t = s.table,
            s4 = s.set4,
            s6 = s.set6
        ))
    }

    /// The preamble and the network set.
    fn net_preamble(&self) -> Result<String> {
        let mut script = self.preamble()?;
        let s = &self.settings;
        let flags = if s.timeout {
            "interval, timeout"
        } else {
            "interval"
        };
        script.push_str(&format!(
            "add set {} {} {} {{ type ipv6_addr; flags {flags}; }}\n",
            s.family, s.table, s.set6net
        ));
        Ok(script)
    }

    /// The elements of a set as nft's JSON lists them.
    fn list_elements(&self, set: &str) -> Result<Vec<serde_json::Value>> {
        let s = self.checked()?;
        let nft = program(&s.nft, "nftables", "nft")?;
        let args: Vec<String> = ["-j", "list", "set", &s.family, &s.table, set]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let out = crate::exec::run(&nft, &args, None, super::PROGRAM_TIMEOUT)?;
        if !out.status.success() {
            // A set that does not exist yet has no members; `sync` creates it.
            if out.stderr.contains("No such file or directory") {
                return Ok(Vec::new());
            }
            return Err(Error::Runtime(format!(
                "nftables: listing set {set} failed: {}",
                out.complaint()
            )));
        }
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::Runtime(format!("nftables: unreadable `nft -j` output: {e}")))?;
        let mut elements = Vec::new();
        for item in json["nftables"].as_array().into_iter().flatten() {
            elements.extend(
                item["set"]["elem"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
        Ok(elements)
    }

    fn apply(&self, script: String) -> Result<()> {
        let nft = program(&self.settings.nft, "nftables", "nft")?;
        run(
            "nftables",
            &nft,
            &["-f".into(), "-".into()],
            Some(script.into_bytes()),
        )
        .map(|_| ())
    }

    fn list_set(&self, set: &str) -> Result<Vec<ClientIp>> {
        let mut members = Vec::new();
        for elem in self.list_elements(set)? {
            // Plain sets list addresses; sets with timeouts list {"elem": {"val": ...}}.
            let text = elem.as_str().or_else(|| elem["elem"]["val"].as_str());
            if let Some(ip) = text.and_then(ClientIp::parse_opt) {
                members.push(ip);
            }
        }
        Ok(members)
    }
}

/// A prefix as `nft -j` lists an interval set's element: `{"prefix": {"addr": A, "len": N}}`,
/// inside `{"elem": {"val": ...}}` with a timeout.
fn json_prefix(elem: &serde_json::Value) -> Option<Network> {
    let prefix = elem
        .get("prefix")
        .or_else(|| elem["elem"]["val"].get("prefix"))?;
    let text = format!("{}/{}", prefix["addr"].as_str()?, prefix["len"].as_u64()?);
    Network::parse_prefix(&text)
}

/// True when a line of `nft list table` output uses `@set` (a rule; the set's own
/// definition reads `set NAME {`).
fn references(listing: &str, set: &str) -> bool {
    let needle = format!("@{set}");
    listing.lines().any(|line| {
        line.match_indices(&needle).any(|(at, _)| {
            let next = line[at + needle.len()..].bytes().next();
            !next.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    })
}

impl DenyList for Nftables {
    fn check(&self) -> Result<()> {
        self.checked().map(|_| ())
    }

    fn name(&self) -> &'static str {
        "nftables"
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        let mut script = self.preamble()?;
        let s = &self.settings;
        for (set, v6) in [(&s.set4, false), (&s.set6, true)] {
            let elements: Vec<String> = entries
                .iter()
                .filter(|e| e.ip.is_ipv6() == v6)
                .map(|e| match (s.timeout, e.expires_in) {
                    (true, Some(secs)) => format!("{} timeout {}s", e.ip, secs.max(1)),
                    _ => e.ip.to_string(),
                })
                .collect();
            if !elements.is_empty() {
                script.push_str(&format!(
                    "add element {} {} {set} {{ {} }}\n",
                    s.family,
                    s.table,
                    elements.join(", ")
                ));
            }
        }
        self.apply(script)
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        if ips.is_empty() {
            return Ok(());
        }
        let present: std::collections::HashSet<ClientIp> = self.members()?.into_iter().collect();
        let (v4, v6) = by_family(ips.iter().filter(|ip| present.contains(ip)));
        if v4.is_empty() && v6.is_empty() {
            return Ok(());
        }
        let mut script = self.preamble()?;
        let s = &self.settings;
        for (set, list) in [(&s.set4, v4), (&s.set6, v6)] {
            if !list.is_empty() {
                let elements: Vec<String> = list.iter().map(|ip| ip.to_string()).collect();
                script.push_str(&format!(
                    "delete element {} {} {set} {{ {} }}\n",
                    s.family,
                    s.table,
                    elements.join(", ")
                ));
            }
        }
        self.apply(script)
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        let mut all = self.list_set(&self.settings.set4)?;
        all.extend(self.list_set(&self.settings.set6)?);
        Ok(all)
    }

    fn prepare(&mut self) -> Result<()> {
        let script = self.net_preamble()?;
        self.apply(script)
    }

    fn holds_networks(&self) -> bool {
        true
    }

    fn add_networks(&mut self, nets: &[NetEntry]) -> Result<()> {
        let mut script = self.net_preamble()?;
        let s = &self.settings;
        let present: std::collections::HashSet<Network> =
            self.network_members()?.into_iter().collect();
        // Adding an element that overlaps a present one is an error in an interval set.
        let elements: Vec<String> = nets
            .iter()
            .filter(|n| !present.contains(&n.net))
            .map(|n| match (s.timeout, n.expires_in) {
                (true, Some(secs)) => format!("{} timeout {}s", n.net, secs.max(1)),
                _ => n.net.to_string(),
            })
            .collect();
        if !elements.is_empty() {
            script.push_str(&format!(
                "add element {} {} {} {{ {} }}\n",
                s.family,
                s.table,
                s.set6net,
                elements.join(", ")
            ));
        }
        self.apply(script)
    }

    fn remove_networks(&mut self, nets: &[Network]) -> Result<()> {
        let present: std::collections::HashSet<Network> =
            self.network_members()?.into_iter().collect();
        let elements: Vec<String> = (nets.iter())
            .filter(|n| present.contains(n))
            .map(|n| n.to_string())
            .collect();
        if elements.is_empty() {
            return Ok(());
        }
        let s = &self.settings;
        let script = format!(
            "{}delete element {} {} {} {{ {} }}\n",
            self.net_preamble()?,
            s.family,
            s.table,
            s.set6net,
            elements.join(", ")
        );
        self.apply(script)
    }

    fn network_members(&self) -> Result<Vec<Network>> {
        Ok(self
            .list_elements(&self.settings.set6net)?
            .iter()
            .filter_map(json_prefix)
            .collect())
    }

    fn unused_networks(&self) -> Result<Option<String>> {
        let s = self.checked()?;
        let nft = program(&s.nft, "nftables", "nft")?;
        let args: Vec<String> = ["list", "table", &s.family, &s.table]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let out = crate::exec::run(&nft, &args, None, super::PROGRAM_TIMEOUT)?;
        let listing = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && references(&listing, &s.set6net) {
            return Ok(None);
        }
        Ok(Some(format!(
            "nftables: no rule uses set {} (IPv6 prefixes blocked whole), so the addresses of \
             blocked prefixes stay in {} one by one; add `nft add rule {} {} input ip6 saddr @{} drop` \
             beside your rule for @{} (README, Firewalls)",
            s.set6net, s.set6, s.family, s.table, s.set6net, s.set6
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_references_are_read_from_nfts_output() {
        let plain: serde_json::Value =
            serde_json::json!({"prefix": {"addr": "2001:db8:1:2::", "len": 64}});
        let timed: serde_json::Value = serde_json::json!(
            {"elem": {"val": {"prefix": {"addr": "2001:db8:1:2::", "len": 64}}, "timeout": 60}}
        );
        let net = Network::parse_prefix("2001:db8:1:2::/64");
        assert_eq!(json_prefix(&plain), net);
        assert_eq!(json_prefix(&timed), net);
        assert_eq!(json_prefix(&serde_json::json!("2001:db8::1")), None);
        let table = "table inet sentry {\n\tset blocklist6net {\n\t\ttype ipv6_addr\n\t}\n\
                     \tchain input {\n\t\tip6 saddr @blocklist6 drop\n\t}\n}\n";
        assert!(references(table, "blocklist6"));
        assert!(!references(table, "blocklist6net"));
        assert!(references(
            &table.replace("@blocklist6 ", "@blocklist6net "),
            "blocklist6net"
        ));
    }
}
