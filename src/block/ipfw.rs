/*!
ipfw backend (being written).
*/

use serde::Deserialize;

use super::{DenyList, Entry};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[ipfw]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

pub struct Ipfw {
    #[allow(dead_code)] // being written
    settings: Settings,
}

impl Ipfw {
    pub fn new(settings: Settings, config: &Config) -> Ipfw {
        let _ = config;
        Ipfw { settings }
    }
}

impl DenyList for Ipfw {
    fn name(&self) -> &'static str {
        "ipfw"
    }
    fn add(&mut self, _entries: &[Entry]) -> Result<()> {
        Err(Error::Runtime("ipfw: not built yet".into()))
    }
    fn remove(&mut self, _ips: &[ClientIp]) -> Result<()> {
        Err(Error::Runtime("ipfw: not built yet".into()))
    }
    fn members(&self) -> Result<Vec<ClientIp>> {
        Err(Error::Runtime("ipfw: not built yet".into()))
    }
}
