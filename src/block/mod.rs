/*!
Blocking backends: the lists that the administrator's own rules consult.

sentry never writes rules; it only keeps the members of lists that a rule references:
the tcpwrappers deny file, an nftables set, an ipset, a dedicated iptables chain,
blackhole routes, a PF or IPFW table, a firewalld ipset, or the admin's own commands.
Each backend is one file behind the [`DenyList`] trait, knows nothing of logs or of the
database, and is idempotent: adding a present address or removing an absent one is fine.

Settings: `[block] backends = [...]` chooses them; each has its own section (`[nftables]`,
`[ipset]`, ...) whose keys are checked when the configuration loads. Programs are found
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

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec;
use crate::ip::ClientIp;

pub use tcpwrappers::HostsDenyFile;

/// An address to block, and for how long the block still runs (backends that support
/// element timeouts, like nftables, can let the kernel expire it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub ip: ClientIp,
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
        "tcpwrappers" => Box::new(HostsDenyFile::new(config.deny_file.clone(), lock_wait)),
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
/// is reported when the file is loaded, with the section and key named.
pub fn check_settings(config: &Config) -> std::result::Result<(), String> {
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
    exec::find_program(name).ok_or_else(|| {
        Error::Runtime(format!(
            "{backend}: program {name:?} not found in {}; install it, or set `{key}` in [{backend}] to its absolute path",
            exec::SAFE_PATH.join(":")
        ))
    })
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
