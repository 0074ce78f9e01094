/*!
ipfw (FreeBSD 11 and later): one named lookup table of blocked addresses.

The admin's ruleset uses the table (`ipfw add deny ip from 'table(sentry_blocklist)' to
any`); sentry only changes its members, one `ipfw` call per batch:

- add: `ipfw -q table T add IP1 0 IP2 0 ...`. ipfw reads the arguments of `add` as
  key/value pairs, so every address carries the value 0 explicitly: a bare `add IP1 IP2`
  would store IP2 as IP1's value and never block IP2.
- remove: `ipfw -q table T delete IP...`.
- members (`sync`): `ipfw table T list`, lines like `192.0.2.7/32 0`; only whole-host
  entries (/32, /128) count, networks the admin put there are left alone.
- prepare (`sync`, `setup`): `ipfw -q table T create type addr`.

Idempotence is ipfw's own under `-q`: adding a present address (EEXIST) and deleting an
absent one (ENOENT) are not errors then. What ipfw still complains about is handled
here: `create` of an existing table ("File exists") is fine; deleting from, or listing,
a table that does not exist means there is nothing to delete or list. Adding to a
missing table needs nothing: ipfw creates it (an addr table) on the way.
*/

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::{
    DenyList, Entry, check_list_name, check_program_setting, name_source, program, program_setting,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec;
use crate::ip::ClientIp;

/// ipfw object names are at most 63 characters.
const MAX_TABLE_NAME: usize = 63;

/// `[ipfw]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The table; default `[block] firewall_table`.
    pub table: Option<String>,
    /// The ipfw program (name on the safe PATH, or absolute path).
    #[serde(deserialize_with = "ipfw_setting")]
    pub ipfw: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: None,
            ipfw: "ipfw".into(),
        }
    }
}

fn ipfw_setting<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    program_setting(d, "ipfw")
}

/// The ipfw table.
pub struct Ipfw {
    table: String,
    /// Where the table name came from, for error messages.
    table_key: String,
    ipfw: String,
}

impl Ipfw {
    pub fn new(settings: Settings, config: &Config) -> Ipfw {
        Ipfw {
            table_key: name_source(&settings.table, "ipfw", "table"),
            table: settings
                .table
                .unwrap_or_else(|| config.firewall_table.clone()),
            ipfw: settings.ipfw,
        }
    }

    /// Runs `ipfw ARGS`; a failure whose message contains one of `harmless` is no failure.
    /// Returns the output when the call succeeded, None when it failed harmlessly.
    fn call(&self, args: Vec<String>, doing: &str, harmless: &[&str]) -> Result<Option<Vec<u8>>> {
        check_list_name(&self.table_key, &self.table, MAX_TABLE_NAME)?;
        let ipfw: PathBuf = program(&self.ipfw, "ipfw", "ipfw")?;
        let out = exec::run(&ipfw, &args, None, super::PROGRAM_TIMEOUT)?;
        if out.status.success() {
            return Ok(Some(out.stdout));
        }
        if harmless.iter().any(|h| out.stderr.contains(h)) {
            return Ok(None);
        }
        Err(Error::Runtime(format!(
            "ipfw: {doing} table {} failed (`{} {}`): {}",
            self.table,
            ipfw.display(),
            args.join(" "),
            out.complaint()
        )))
    }

    /// `[-q] table T WORDS...`
    fn args(&self, quiet: bool, words: &[&str]) -> Vec<String> {
        let mut args = Vec::new();
        if quiet {
            args.push("-q".to_string());
        }
        args.push("table".to_string());
        args.push(self.table.clone());
        args.extend(words.iter().map(|w| w.to_string()));
        args
    }
}

impl DenyList for Ipfw {
    fn name(&self) -> &'static str {
        "ipfw"
    }

    fn check(&self) -> Result<()> {
        check_list_name(&self.table_key, &self.table, MAX_TABLE_NAME)?;
        check_program_setting(&self.ipfw, "ipfw", "ipfw")
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut args = self.args(true, &["add"]);
        for entry in entries {
            args.push(entry.ip.to_string());
            args.push("0".to_string());
        }
        self.call(args, "adding to", &[]).map(|_| ())
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        if ips.is_empty() {
            return Ok(());
        }
        let mut args = self.args(true, &["delete"]);
        args.extend(ips.iter().map(|ip| ip.to_string()));
        // A missing table holds nothing to delete.
        self.call(args, "deleting from", &["does not exist"])
            .map(|_| ())
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        // A missing table (ESRCH, "No such process") has no members yet.
        let Some(stdout) = self.call(
            self.args(false, &["list"]),
            "listing",
            &["No such process", "does not exist"],
        )?
        else {
            return Ok(Vec::new());
        };
        let mut members = Vec::new();
        for line in String::from_utf8_lossy(&stdout).lines() {
            let key = line.split_whitespace().next().unwrap_or_default();
            let Some((addr, mask)) = key.split_once('/') else {
                continue; // the `--- table(T), set(0) ---` header
            };
            if let Some(ip) = ClientIp::parse_opt(addr) {
                let host = if ip.is_ipv6() { "128" } else { "32" };
                if mask == host {
                    members.push(ip);
                }
            }
        }
        Ok(members)
    }

    fn prepare(&mut self) -> Result<()> {
        let args = self.args(true, &["create", "type", "addr"]);
        self.call(args, "creating", &["File exists", "already exists"])
            .map(|_| ())
    }
}
