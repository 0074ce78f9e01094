/*!
Blocking backends: the lists that the administrator's own rules consult.

sentry never writes rules; it only keeps the members of lists that a rule references
(the tcpwrappers deny file, later firewall sets and tables). Each backend is one file
behind the [`DenyList`] trait, and knows nothing of logs or of the database.
*/

pub mod tcpwrappers;

use crate::config::Config;
use crate::error::Result;
use crate::ip::ClientIp;

pub use tcpwrappers::HostsDenyFile;

/// A list of blocked addresses kept for someone else's rule to use.
/// Adding a present address or removing an absent one is not an error.
pub trait DenyList {
    /// The backend's name as written in `[block] backends`.
    fn name(&self) -> &'static str;
    /// Adds every address (one batch).
    fn add(&mut self, ips: &[ClientIp]) -> Result<()>;
    /// Removes every address (one batch), exact matches only.
    fn remove(&mut self, ips: &[ClientIp]) -> Result<()>;
    /// The addresses currently listed, for reconciliation with the database.
    fn members(&self) -> Result<Vec<ClientIp>>;
}

/// The enabled backends that this build provides, plus the names of enabled ones it does not.
pub fn enabled(
    config: &Config,
    lock_wait: std::time::Duration,
) -> (Vec<Box<dyn DenyList>>, Vec<String>) {
    let mut lists: Vec<Box<dyn DenyList>> = Vec::new();
    let mut unavailable = Vec::new();
    for name in &config.backends {
        match name.as_str() {
            "tcpwrappers" => lists.push(Box::new(HostsDenyFile::new(
                config.deny_file.clone(),
                lock_wait,
            ))),
            other => unavailable.push(other.to_string()),
        }
    }
    (lists, unavailable)
}
