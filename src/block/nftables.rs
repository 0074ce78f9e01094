/*!
nftables: two named sets, one per address family (nft sets are typed), in a table of
sentry's own (default `inet sentry`, sets `blocklist4` and `blocklist6`).

sentry creates the table and sets if they are missing, and never a rule: the admin's
own ruleset references them, e.g. `ip saddr @blocklist4 drop` in a chain of theirs.
Every change is one `nft -f -` transaction (atomic, and one program start for any
number of addresses). Deleting an absent element is an error in nft, so removal first
reads the set and deletes only what is there. With `timeout = true` the sets carry
the `timeout` flag and each element the remaining life of its block, so the kernel
drops it on time even if `sentry expire` does not run.
*/

use serde::Deserialize;

use super::{DenyList, Entry, by_family, program, run};
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[nftables]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Table family: `inet` (both families in one table), `ip`, `ip6`, `bridge` or `netdev`.
    pub family: String,
    pub table: String,
    pub set4: String,
    pub set6: String,
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
        for (key, value) in [("table", &s.table), ("set4", &s.set4), ("set6", &s.set6)] {
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
        let mut members = Vec::new();
        for item in json["nftables"].as_array().into_iter().flatten() {
            for elem in item["set"]["elem"].as_array().into_iter().flatten() {
                // Plain sets list addresses; sets with timeouts list {"elem": {"val": ...}}.
                let text = elem.as_str().or_else(|| elem["elem"]["val"].as_str());
                if let Some(ip) = text.and_then(ClientIp::parse_opt) {
                    members.push(ip);
                }
            }
        }
        Ok(members)
    }
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
        let script = self.preamble()?;
        self.apply(script)
    }
}
