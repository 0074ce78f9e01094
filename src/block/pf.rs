/*!
pf (OpenBSD, FreeBSD, macOS): one table of blocked addresses, kept with `pfctl`.

The admin's `pf.conf` declares and uses the table (`table <sentry_blocklist> persist`,
`block in quick from <sentry_blocklist>`); sentry only changes its members. A batch is
one `pfctl -q -t TABLE -T add IP...` (pfctl creates the table if it is missing, and
adding a present address is not an error), then, with `kill_states` (the default, as the
original sentry did), one `pfctl -q -k IP` per new address: pf keeps passing packets of
connections that were open before the block, so the attacker's live sessions are cut.
Removal is one `-T delete` (absent addresses are not an error; a missing table means
nothing to remove), and `sync` reads the table with `-T show`.

Names reach pfctl as single arguments, never through a shell, but a table name starting
with `-` would still read as an option, so names are limited to letters, digits, `_` and
`-` (not first), at most 31 characters (pf's limit).

The helpers at the end (program settings, list names) are shared with the ipfw and
firewalld backends.
*/

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::{
    DenyList, Entry, check_list_name, check_program_setting, name_source, program, program_setting,
    run,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec;
use crate::ip::ClientIp;

/// pf's table names are at most this long (PF_TABLE_NAME_SIZE - 1).
const MAX_TABLE_NAME: usize = 31;

/// `[pf]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The table; default `[block] firewall_table`.
    pub table: Option<String>,
    /// The pfctl program (name on the safe PATH, or absolute path).
    #[serde(deserialize_with = "pfctl_setting")]
    pub pfctl: String,
    /// Kill the existing states of each newly blocked address (`pfctl -k`).
    pub kill_states: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: None,
            pfctl: "pfctl".into(),
            kill_states: true,
        }
    }
}

fn pfctl_setting<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    program_setting(d, "pfctl")
}

/// The pf table.
pub struct Pf {
    table: String,
    /// Where the table name came from, for error messages.
    table_key: String,
    pfctl: String,
    kill_states: bool,
}

impl Pf {
    pub fn new(settings: Settings, config: &Config) -> Pf {
        Pf {
            table_key: name_source(&settings.table, "pf", "table"),
            table: settings
                .table
                .unwrap_or_else(|| config.firewall_table.clone()),
            pfctl: settings.pfctl,
            kill_states: settings.kill_states,
        }
    }

    /// The table name (checked) and the pfctl program (found).
    fn tools(&self) -> Result<(&str, PathBuf)> {
        check_list_name(&self.table_key, &self.table, MAX_TABLE_NAME)?;
        Ok((&self.table, program(&self.pfctl, "pf", "pfctl")?))
    }

    /// `pfctl -q -t TABLE -T COMMAND IP...`
    fn table_args(&self, command: &str, ips: impl Iterator<Item = ClientIp>) -> Vec<String> {
        let mut args: Vec<String> = ["-q", "-t", &self.table, "-T", command]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(ips.map(|ip| ip.to_string()));
        args
    }
}

impl DenyList for Pf {
    fn name(&self) -> &'static str {
        "pf"
    }

    fn check(&self) -> Result<()> {
        check_list_name(&self.table_key, &self.table, MAX_TABLE_NAME)?;
        check_program_setting(&self.pfctl, "pf", "pfctl")
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (table, pfctl) = self.tools()?;
        run(
            "pf",
            &pfctl,
            &self.table_args("add", entries.iter().map(|e| e.ip)),
            None,
        )?;
        if !self.kill_states {
            return Ok(());
        }
        // The addresses are blocked now; a failed state kill is reported, but does not
        // stop the others from being killed.
        let mut failures = Vec::new();
        for entry in entries {
            let args = vec!["-q".to_string(), "-k".to_string(), entry.ip.to_string()];
            if let Err(e) = run("pf", &pfctl, &args, None) {
                failures.push(e.to_string());
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Runtime(format!(
                "pf: the addresses are in table {table}, but killing their existing states failed: {}",
                failures.join("; ")
            )))
        }
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        if ips.is_empty() {
            return Ok(());
        }
        let (table, pfctl) = self.tools()?;
        let args = self.table_args("delete", ips.iter().copied());
        let out = exec::run(&pfctl, &args, None, super::PROGRAM_TIMEOUT)?;
        if out.status.success() || table_missing(&out) {
            return Ok(());
        }
        Err(Error::Runtime(format!(
            "pf: removing addresses from table {table} failed: {}",
            out.complaint()
        )))
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        let (table, pfctl) = self.tools()?;
        let args = self.table_args("show", std::iter::empty());
        let out = exec::run(&pfctl, &args, None, super::PROGRAM_TIMEOUT)?;
        if !out.status.success() {
            // A table that does not exist yet has no members; the next add creates it.
            if table_missing(&out) {
                return Ok(Vec::new());
            }
            return Err(Error::Runtime(format!(
                "pf: reading table {table} failed: {}",
                out.complaint()
            )));
        }
        // One entry per line, indented. Networks and negated entries are the admin's own
        // and are not addresses: they are left alone.
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| ClientIp::parse_opt(line.trim()))
            .collect())
    }
}

/// pfctl's answer about a table that does not exist.
fn table_missing(out: &exec::Captured) -> bool {
    out.stderr.contains("Table does not exist")
}
