/*!
Blocking backends: the lists that the administrator's own rules consult.

sentry never writes rules; it only keeps the members of lists that a rule references:
the tcpwrappers deny file, an nftables set, an ipset, a dedicated iptables chain,
blackhole routes, a PF or IPFW table, a firewalld ipset, or the admin's own commands.
Each backend is one file behind the [`DenyList`] trait, knows nothing of logs or of the
database, and is idempotent: adding a present address or removing an absent one is fine.

Settings: `[block] backends = [...]` chooses them; each has its own section (`[nftables]`,
`[ipset]`, ...) whose keys are checked when the configuration loads ([`check_sections`]). Programs are found
on a fixed safe PATH ([`crate::exec::SAFE_PATH`]) or given as absolute paths, and are
looked up when used, so a missing program fails that backend only (the decision stays in
the database, and `sentry sync` repairs the list later).
*/

pub mod command;
pub mod firewalld;
pub mod ipfw;
pub mod ipset;
pub mod iptables;
pub mod nftables;
pub mod pf;
pub mod route;
pub mod tcpwrappers;

use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec;
use crate::ip::{ClientIp, Network};

pub use tcpwrappers::HostsDenyFile;

/// An address to block, and for how long the block still runs (backends that support
/// element timeouts, like nftables, can let the kernel expire it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub ip: ClientIp,
    /// Seconds until the block expires; None when blocks never expire.
    pub expires_in: Option<u64>,
}

/// An IPv6 prefix blocked whole, and for how long the block still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetEntry {
    pub net: Network,
    /// Seconds until the block expires; None when blocks never expire.
    pub expires_in: Option<u64>,
}

/// A list of blocked addresses kept for someone else's rule to use.
pub trait DenyList {
    /// The backend's name as written in `[block] backends`.
    fn name(&self) -> &'static str;
    /// Adds every address, in as few program calls as the backend allows.
    fn add(&mut self, entries: &[Entry]) -> Result<()>;
    /// Removes every address (exact matches only), in as few program calls as possible.
    fn remove(&mut self, ips: &[ClientIp]) -> Result<()>;
    /// The addresses currently listed, for `sync`.
    fn members(&self) -> Result<Vec<ClientIp>>;
    /// Creates what the list lives in (the deny file, a set, a chain) if it is missing.
    fn prepare(&mut self) -> Result<()> {
        Ok(())
    }
    /// Takes over, from an older sentry that did not mark its own entries, those of the
    /// addresses the database blocks (`blocked`); whatever else is listed stays the
    /// admin's (the deny file). Run by `sync` and `setup`, before `members`.
    fn adopt(&mut self, _blocked: &[ClientIp]) -> Result<()> {
        Ok(())
    }
    /// True when the list can hold a prefix as one entry (the deny file, the network sets
    /// beside nftables' and ipset's address sets). Lists that cannot keep the single
    /// addresses of a blocked prefix.
    fn holds_networks(&self) -> bool {
        false
    }
    /// Adds blocked prefixes (only called when [`DenyList::holds_networks`]).
    fn add_networks(&mut self, _nets: &[NetEntry]) -> Result<()> {
        Ok(())
    }
    /// Removes prefixes (exact matches only).
    fn remove_networks(&mut self, _nets: &[Network]) -> Result<()> {
        Ok(())
    }
    /// The prefixes currently listed, for `sync`.
    fn network_members(&self) -> Result<Vec<Network>> {
        Ok(Vec::new())
    }
    /// None when what holds the prefixes is in use; otherwise what the admin must do
    /// (the rule to add). A kernel network set that no rule references drops nothing, so
    /// until one does, the single addresses of a blocked prefix stay on the list too.
    fn unused_networks(&self) -> Result<Option<String>> {
        Ok(None)
    }
    /// Checks the settings' values (names that go into scripts, numbers in range), so that
    /// a bad value is reported when the configuration loads, not at the first block.
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// Program calls get this long before they are killed.
pub const PROGRAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds every enabled backend. `lock_wait` bounds waits on the deny file's lock.
pub fn enabled(config: &Config, lock_wait: Duration) -> Result<Vec<Box<dyn DenyList>>> {
    config
        .backends
        .iter()
        .map(|name| build(name, config, lock_wait))
        .collect()
}

fn build(name: &str, config: &Config, lock_wait: Duration) -> Result<Box<dyn DenyList>> {
    let settings_error = |msg: String| Error::Input(format!("[{name}]: {msg}"));
    Ok(match name {
        "tcpwrappers" => Box::new(HostsDenyFile::new(
            config.deny_file.clone(),
            &config.root,
            lock_wait,
        )),
        "nftables" => Box::new(nftables::Nftables::new(
            settings(config, name).map_err(settings_error)?,
        )),
        "ipset" => Box::new(ipset::Ipset::new(
            settings(config, name).map_err(settings_error)?,
            config,
        )),
        "iptables" => Box::new(iptables::Iptables::new(
            settings(config, name).map_err(settings_error)?,
        )),
        "route" => Box::new(route::Routes::new(
            settings(config, name).map_err(settings_error)?,
        )),
        "pf" => Box::new(pf::Pf::new(
            settings(config, name).map_err(settings_error)?,
            config,
        )),
        "ipfw" => Box::new(ipfw::Ipfw::new(
            settings(config, name).map_err(settings_error)?,
            config,
        )),
        "firewalld" => Box::new(firewalld::Firewalld::new(
            settings(config, name).map_err(settings_error)?,
            config,
        )),
        "command" => Box::new(command::Commands::new(
            settings(config, name).map_err(settings_error)?,
        )?),
        other => return Err(Error::Input(format!("unknown backend {other:?}"))),
    })
}

/// Checks every backend section present in the configuration (enabled or not), so a typo
/// is reported when the file is loaded, with the file, section and key named. `config`
/// keeps the sections raw and the command line calls this right after `Config::load`:
/// `block` depends on `config`, never the reverse.
pub fn check_sections(config: &Config) -> Result<()> {
    check_settings(config).map_err(|msg| match &config.source {
        Some(path) => Error::Input(format!("{}: {msg}", path.display())),
        None => Error::Input(msg),
    })
}

fn check_settings(config: &Config) -> std::result::Result<(), String> {
    fn check<T: DeserializeOwned>(config: &Config, name: &str) -> std::result::Result<(), String> {
        settings::<T>(config, name)
            .map(|_| ())
            .map_err(|msg| format!("[{name}]: {msg}"))
    }
    check::<nftables::Settings>(config, "nftables")?;
    check::<ipset::Settings>(config, "ipset")?;
    check::<iptables::Settings>(config, "iptables")?;
    check::<route::Settings>(config, "route")?;
    check::<pf::Settings>(config, "pf")?;
    check::<ipfw::Settings>(config, "ipfw")?;
    check::<firewalld::Settings>(config, "firewalld")?;
    check::<command::Settings>(config, "command")?;
    for name in &config.backends {
        build(name, config, Duration::ZERO)
            .and_then(|backend| backend.check())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A backend's section deserialised into its settings type (defaults when absent).
fn settings<T: DeserializeOwned>(config: &Config, name: &str) -> std::result::Result<T, String> {
    let table = config
        .backend_sections
        .get(name)
        .cloned()
        .unwrap_or_default();
    T::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string().trim_end().to_string())
}

/// A program named in settings: found on the safe PATH, or an absolute path.
pub fn program(name: &str, backend: &str, key: &str) -> Result<PathBuf> {
    check_program_setting(name, backend, key)?;
    exec::find_program(name).ok_or_else(|| {
        let where_ = if name.starts_with('/') {
            "does not exist".to_string()
        } else {
            format!("was not found in {}", exec::SAFE_PATH.join(":"))
        };
        Error::Runtime(format!(
            "{backend}: program {name:?} {where_}; install it, or set `{key}` in [{backend}] to its absolute path"
        ))
    })
}

/// How to name a list setting in messages: the backend's own key, or
/// `[block] firewall_table` when the name was not set in the backend's section.
pub fn name_source(value: &Option<String>, backend: &str, key: &str) -> String {
    match value {
        Some(_) => format!("[{backend}] {key}"),
        None => format!("[block] firewall_table (the default of [{backend}] {key})"),
    }
}

/// A program setting: a bare name (looked up on the safe PATH when used) or an absolute
/// path. A relative path such as `sbin/pfctl` or `../x` is refused when the configuration
/// loads: joined to the safe PATH's directories it could name a program outside them.
pub fn program_setting<'de, D: Deserializer<'de>>(
    d: D,
    key: &str,
) -> std::result::Result<String, D::Error> {
    let value = String::deserialize(d)?;
    check_program_name(&value, key).map_err(serde::de::Error::custom)?;
    Ok(value)
}

fn check_program_name(value: &str, key: &str) -> std::result::Result<(), String> {
    if value.is_empty() || (value.contains('/') && !value.starts_with('/')) {
        return Err(format!(
            "`{key}` = {value:?}: give a program name (found in {}) or an absolute path",
            exec::SAFE_PATH.join(":")
        ));
    }
    Ok(())
}

/// The program setting checked again (settings can be built in code too).
pub fn check_program_setting(name: &str, backend: &str, key: &str) -> Result<()> {
    check_program_name(name, key).map_err(|msg| Error::Input(format!("[{backend}] {msg}")))
}

/// Table and set names: letters, digits, `_` and `-` (not first, so a name never reads
/// as an option), at most `max` characters. `setting` names where it came from.
pub fn check_list_name(setting: &str, value: &str, max: usize) -> Result<()> {
    let good = !value.is_empty()
        && value.len() <= max
        && !value.starts_with('-')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if good {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "{setting} = {value:?}: use letters, digits, _ and - (not first), at most {max} characters"
        )))
    }
}

/// Runs one backend program call and turns a failure into an error that says what to do.
pub fn run(
    backend: &str,
    program: &std::path::Path,
    args: &[String],
    input: Option<Vec<u8>>,
) -> Result<exec::Captured> {
    let out = exec::run(program, args, input, PROGRAM_TIMEOUT)?;
    if !out.status.success() {
        return Err(Error::Runtime(format!(
            "{backend}: `{} {}` failed: {}",
            program.display(),
            args.join(" "),
            out.complaint()
        )));
    }
    Ok(out)
}

/// Splits addresses by family: firewall sets are typed.
pub fn by_family<'a>(ips: impl Iterator<Item = &'a ClientIp>) -> (Vec<ClientIp>, Vec<ClientIp>) {
    ips.partition(|ip| !ip.is_ipv6())
}
