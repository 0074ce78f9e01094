/*!
iptables backend (being written).
*/

use serde::Deserialize;

use super::{DenyList, Entry};
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[iptables]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

pub struct Iptables {
    #[allow(dead_code)] // being written
    settings: Settings,
}

impl Iptables {
    pub fn new(settings: Settings) -> Iptables {
        Iptables { settings }
    }
}

impl DenyList for Iptables {
    fn name(&self) -> &'static str {
        "iptables"
    }
    fn add(&mut self, _entries: &[Entry]) -> Result<()> {
        Err(Error::Runtime("iptables: not built yet".into()))
    }
    fn remove(&mut self, _ips: &[ClientIp]) -> Result<()> {
        Err(Error::Runtime("iptables: not built yet".into()))
    }
    fn members(&self) -> Result<Vec<ClientIp>> {
        Err(Error::Runtime("iptables: not built yet".into()))
    }
}
