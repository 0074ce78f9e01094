/*!
ipset backend (being written).
*/

use serde::Deserialize;

use super::{DenyList, Entry};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[ipset]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

pub struct Ipset {
    #[allow(dead_code)] // being written
    settings: Settings,
}

impl Ipset {
    pub fn new(settings: Settings, config: &Config) -> Ipset {
        let _ = config;
        Ipset { settings }
    }
}

impl DenyList for Ipset {
    fn name(&self) -> &'static str {
        "ipset"
    }
    fn add(&mut self, _entries: &[Entry]) -> Result<()> {
        Err(Error::Runtime("ipset: not built yet".into()))
    }
    fn remove(&mut self, _ips: &[ClientIp]) -> Result<()> {
        Err(Error::Runtime("ipset: not built yet".into()))
    }
    fn members(&self) -> Result<Vec<ClientIp>> {
        Err(Error::Runtime("ipset: not built yet".into()))
    }
}
